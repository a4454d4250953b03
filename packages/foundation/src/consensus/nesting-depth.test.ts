import { describe, expect, it } from '@jest/globals';
import { nestsDeeperThan } from './nesting-depth';

const objects = (depth: number): unknown => {
  let value: unknown = 'leaf';
  for (let level = 0; level < depth; level += 1) value = { next: value };
  return value;
};

describe('nestsDeeperThan', () => {
  it.each([
    ['a primitive', 7, 0, false],
    ['null', null, 0, false],
    ['a byte array, which is a leaf', new Uint8Array(64), 0, false],
    ['an empty object at its own level', {}, 1, false],
    ['an empty object past the bound', {}, 0, true],
    ['arrays three deep, bound three', [[[1]]], 3, false],
    ['arrays three deep, bound two', [[[1]]], 2, true],
    ['a map holding a deep value', new Map([['key', [[1]]]]), 2, true],
    ['a map keyed by a deep value', new Map([[[[1]], 'value']]), 2, true],
    ['a set of arrays', new Set([[1]]), 2, false],
    ['one deep branch among shallow ones', [1, [2], [[3, [4]]]], 3, true],
    ['objects nested 100,000 deep', objects(100_000), 256, true],
  ])('%s', (_name, value, max, expected) => {
    expect(nestsDeeperThan(value, max)).toBe(expected);
  });
});
