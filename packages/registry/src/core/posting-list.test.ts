import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { PostingList, intersect } from './posting-list';
import { newSlot } from './replica';
import type { Slot } from './replica';
import type { ServiceInstance } from './types';

const slots = new Map<number, Slot>();
function slot(ordinal: number): Slot {
  let existing = slots.get(ordinal);
  if (existing === undefined) {
    existing = newSlot({ id: `s${ordinal}` } as ServiceInstance);
    slots.set(ordinal, existing);
  }
  return existing;
}

function list(ordinals: readonly number[]): PostingList {
  const result = new PostingList();
  for (const ordinal of ordinals) result.add(ordinal, slot(ordinal));
  return result;
}

const ids = (found: readonly Slot[]) => found.map((item) => item.instance.id);

describe('PostingList', () => {
  it('keeps ordinals sorted whatever the order they arrive in, without duplicates, and deletes', () => {
    const postings = list([5, 1, 9, 3, 9, 7]);
    expect(postings.ordinals).toEqual([1, 3, 5, 7, 9]);
    expect(ids(postings.slots)).toEqual(['s1', 's3', 's5', 's7', 's9']);
    expect(postings.has(7)).toBe(true);
    expect(postings.delete(7)).toBe(true);
    expect(postings.delete(7)).toBe(false);
    expect(postings.has(7)).toBe(false);
    expect(postings.ordinals).toEqual([1, 3, 5, 9]);
  });

  it.each<[string, number[][], string[]]>([
    ['two lists', [[1, 2, 3, 4, 5], [2, 4, 6]], ['s2', 's4']],
    ['three lists', [[1, 2, 3, 4, 5, 6, 7, 8], [2, 4, 6, 8], [4, 8, 9]], ['s4', 's8']],
    ['a short list against a long one (galloping)', [[500, 900], Array.from({ length: 1000 }, (_, index) => index)], ['s500', 's900']],
    ['disjoint lists', [[1, 3], [2, 4]], []],
    ['an empty list', [[], [1, 2]], []],
    ['one list', [[3, 4]], ['s3', 's4']],
  ])('intersects %s', (_, lists, expected) => {
    expect(ids(intersect(lists.map(list)))).toEqual(expected);
  });

  it('agrees with set intersection (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uniqueArray(fc.nat({ max: 300 }), { maxLength: 120 }), { minLength: 1, maxLength: 4 }), (lists) => {
        const expected = lists.slice(1).reduce((acc, next) => acc.filter((value) => next.includes(value)), [...lists[0]!]).sort((a, b) => a - b);
        return JSON.stringify(ids(intersect(lists.map(list)))) === JSON.stringify(expected.map((value) => `s${value}`));
      }),
      { seed: 5650, numRuns: 300 },
    );
  });
});
