import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { PendingRemovals } from './pending-removals';

describe('PendingRemovals', () => {
  const cases: { name: string; revisions: number[]; through: number; taken: number[]; left: number }[] = [
    { name: 'nothing held', revisions: [], through: 10, taken: [], left: 0 },
    { name: 'nothing reached', revisions: [7, 5, 9], through: 4, taken: [], left: 3 },
    { name: 'some reached, lowest first', revisions: [9, 3, 7, 1, 5], through: 5, taken: [1, 3, 5], left: 2 },
    { name: 'all reached', revisions: [2, 2, 1], through: 2, taken: [1, 2, 2], left: 0 },
  ];
  for (const { name, revisions, through, taken, left } of cases) {
    it(name, () => {
      const removals = new PendingRemovals();
      for (const [index, revision] of revisions.entries()) removals.add({ id: `a/${index}`, revision });
      expect(removals.takeThrough(through).map((removal) => removal.revision)).toEqual(taken);
      expect(removals.size).toBe(left);
    });
  }

  it('takes every removal once, in order of revision, however they were added and taken', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 50 })), fc.array(fc.integer({ min: 0, max: 60 })), (revisions, steps) => {
        const removals = new PendingRemovals();
        for (const [index, revision] of revisions.entries()) removals.add({ id: `a/${index}`, revision });
        const taken = [...steps, 60].flatMap((through) => removals.takeThrough(through).map((removal) => removal.revision));
        expect(taken).toEqual([...revisions].sort((left, right) => left - right));
      }),
    );
  });

  it('holds one removal per id, a later one in place of the earlier', () => {
    const removals = new PendingRemovals();
    removals.add({ id: 'a/1', revision: 3 });
    removals.add({ id: 'a/2', revision: 5 });
    removals.add({ id: 'a/1', revision: 9 });
    expect(removals.size).toBe(2);
    expect(removals.takeThrough(100)).toEqual([
      { id: 'a/2', revision: 5 },
      { id: 'a/1', revision: 9 },
    ]);
  });

  it('counts the removals at or below a revision, no further than asked', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 50 })), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 60 }), (revisions, through, enough) => {
        const removals = new PendingRemovals();
        for (const [index, revision] of revisions.entries()) removals.add({ id: `a/${index}`, revision });
        const reached = revisions.filter((revision) => revision <= through).length;
        expect(removals.countThrough(through, enough)).toBe(Math.min(reached, enough));
      }),
    );
  });

  it('takes every removal once, lowest first, when ids are removed again at later revisions', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: 8 }), fc.integer({ min: 1, max: 50 }))), (steps) => {
        const removals = new PendingRemovals();
        const held = new Map<string, number>();
        for (const [slot, revision] of steps) {
          const id = `a/${slot}`;
          removals.add({ id, revision });
          held.set(id, revision);
        }
        const taken = removals.takeThrough(60);
        expect(taken.map((removal) => removal.revision)).toEqual([...held.values()].sort((left, right) => left - right));
        expect(new Map(taken.map((removal) => [removal.id, removal.revision]))).toEqual(held);
      }),
    );
  });
});
