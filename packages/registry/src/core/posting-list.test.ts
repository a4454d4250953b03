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
    expect(ids([...postings.values()])).toEqual(['s1', 's3', 's5', 's7', 's9']);
    expect(postings.has(7)).toBe(true);
    expect(postings.delete(7)).toBe(true);
    expect(postings.delete(7)).toBe(false);
    expect(postings.has(7)).toBe(false);
    expect(ids([...postings.values()])).toEqual(['s1', 's3', 's5', 's9']);
    expect(postings.size).toBe(4);
  });

  it('deletes without moving the later entries: emptying a list one by one is linear (review finding)', () => {
    // Each delete spliced both arrays, moving every later entry: removing the services of a
    // popular capability one by one (a mass unregistration, a departed node's purge) cost the
    // square of their number, seconds at the 100,000 services a node may hold.
    const count = 20_000;
    const postings = list(Array.from({ length: count }, (_, index) => index + 1));
    const splice = Array.prototype.splice;
    let moved = 0;
    Array.prototype.splice = function (this: unknown[], start: number, ...rest: unknown[]): unknown[] {
      moved += Math.max(0, this.length - start);
      return splice.apply(this, [start, ...rest] as Parameters<typeof splice>);
    };
    let removed = 0;
    try {
      for (let ordinal = 1; ordinal <= count; ordinal += 1) if (postings.delete(ordinal)) removed += 1;
    } finally {
      Array.prototype.splice = splice;
    }
    expect(removed).toBe(count);
    expect(postings.size).toBe(0);
    expect(moved).toBeLessThan(4 * count);
  });

  it('agrees with a set under adds and deletes, for has, size, values and intersections (property)', () => {
    const operation = fc.oneof(
      fc.record({ add: fc.constant(true), ordinal: fc.integer({ min: 1, max: 200 }) }),
      fc.record({ add: fc.constant(false), ordinal: fc.integer({ min: 1, max: 200 }) }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 400 }), fc.uniqueArray(fc.integer({ min: 1, max: 200 }), { maxLength: 80 }), (operations, other) => {
        const postings = new PostingList();
        const model = new Set<number>();
        for (const { add, ordinal } of operations) {
          if (add) {
            postings.add(ordinal, slot(ordinal));
            model.add(ordinal);
          } else expect(postings.delete(ordinal)).toBe(model.delete(ordinal));
        }
        const expected = [...model].sort((a, b) => a - b);
        expect(postings.size).toBe(model.size);
        expect(ids([...postings.values()])).toEqual(expected.map((value) => `s${value}`));
        for (let ordinal = 1; ordinal <= 200; ordinal += 20) expect(postings.has(ordinal)).toBe(model.has(ordinal));
        const both = expected.filter((value) => other.includes(value)).map((value) => `s${value}`);
        expect(ids(intersect([postings, list(other)]))).toEqual(both);
        expect(ids(intersect([postings, list(other), list(Array.from({ length: 200 }, (_, index) => index + 1))]))).toEqual(both);
      }),
      { seed: 5651, numRuns: 300 },
    );
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
