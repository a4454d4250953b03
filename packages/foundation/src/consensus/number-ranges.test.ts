import { describe, expect, it } from '@jest/globals';
import { addToRanges, dropRangesBelow, isRanges, rangesHold } from './number-ranges';

describe('addToRanges', () => {
  it.each([
    ['to nothing', [], 5, 4, [5, 5]],
    ['just after the last range', [1, 3], 4, 4, [1, 4]],
    ['past the last range', [1, 3], 9, 4, [1, 3, 9, 9]],
    ['just before the first range', [5, 7], 4, 4, [4, 7]],
    ['below the first range', [5, 7], 1, 4, [1, 1, 5, 7]],
    ['into a gap, touching neither side', [1, 3, 10, 12], 6, 4, [1, 3, 6, 6, 10, 12]],
    ['closing a gap of one', [1, 3, 5, 7], 4, 4, [1, 7]],
    ['a number held already', [1, 3, 5, 7], 6, 4, [1, 3, 5, 7]],
    ['the start of a range held already', [1, 3, 5, 7], 5, 4, [1, 3, 5, 7]],
    ['past the bound: the two lowest ranges become one, with the gap between', [1, 1, 3, 3], 5, 2, [1, 3, 5, 5]],
    ['past the bound of one range', [1, 1], 5, 1, [1, 5]],
  ])('%s', (_name, ranges, value, maxRanges, expected) => {
    const kept = [...ranges];
    addToRanges(kept, value, maxRanges);
    expect(kept).toEqual(expected);
  });

  it('never stops holding a number, in any order they come and whatever the bound', () => {
    for (const maxRanges of [1, 2, 3, 64]) {
      const ranges: number[] = [];
      const added: number[] = [];
      // A fixed order that skips around: multiples of 7 modulo 101.
      for (let step = 1; step <= 60; step += 1) {
        const value = (step * 7) % 101;
        addToRanges(ranges, value, maxRanges);
        added.push(value);
        expect(isRanges(ranges, maxRanges)).toBe(true);
        for (const held of added) expect(rangesHold(ranges, held)).toBe(true);
      }
    }
  });
});

describe('rangesHold', () => {
  it.each([
    ['nothing', [], 1, false],
    ['below the first range', [3, 5], 2, false],
    ['the first number of a range', [3, 5], 3, true],
    ['the last number of a range', [3, 5], 5, true],
    ['in a gap', [3, 5, 8, 9], 6, false],
    ['past the last range', [3, 5, 8, 9], 10, false],
  ])('%s', (_name, ranges, value, expected) => {
    expect(rangesHold(ranges, value)).toBe(expected);
  });
});

describe('dropRangesBelow', () => {
  it.each([
    ['nothing', [], 5, []],
    ['whole ranges below', [1, 2, 4, 5, 8, 9], 6, [8, 9]],
    ['part of a range', [1, 2, 4, 7], 5, [5, 7]],
    ['all of them', [1, 2, 4, 7], 8, []],
    ['none of them', [4, 7], 4, [4, 7]],
  ])('%s', (_name, ranges, floor, expected) => {
    const kept = [...ranges];
    dropRangesBelow(kept, floor);
    expect(kept).toEqual(expected);
  });
});

describe('isRanges', () => {
  it.each([
    ['an empty list', [], 1, true],
    ['ascending ranges with gaps', [0, 2, 4, 4], 2, true],
    ['more ranges than the bound', [0, 2, 4, 4], 1, false],
    ['not a list', 'ranges', 1, false],
    ['an odd length', [1, 2, 3], 2, false],
    ['a range that ends before it starts', [3, 2], 1, false],
    ['ranges that touch (no gap between)', [1, 2, 3, 4], 2, false],
    ['ranges out of order', [5, 6, 1, 2], 2, false],
    ['a negative number', [-1, 2], 1, false],
    ['a fraction', [1, 2.5], 1, false],
    ['a number as text', ['1', 2], 1, false],
  ])('%s', (_name, value, maxRanges, expected) => {
    expect(isRanges(value, maxRanges)).toBe(expected);
  });
});
