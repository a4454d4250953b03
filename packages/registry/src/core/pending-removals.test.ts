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

  it('keeps only what retain accepts', () => {
    const removals = new PendingRemovals();
    for (let revision = 10; revision >= 1; revision -= 1) removals.add({ id: `a/${revision}`, revision });
    removals.retain((removal) => removal.revision % 3 === 0);
    expect(removals.size).toBe(3);
    expect(removals.takeThrough(100).map((removal) => removal.id)).toEqual(['a/3', 'a/6', 'a/9']);
  });
});
