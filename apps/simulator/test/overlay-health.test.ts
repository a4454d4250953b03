import { describe, expect, it } from '@jest/globals';
import { overlayHealth } from '../src/overlay-health';

const views = (entries: Record<string, string[]>): Map<string, string[]> => new Map(Object.entries(entries));

describe('overlayHealth', () => {
  it('sees one symmetric component in a ring', () => {
    expect(overlayHealth(views({ a: ['b', 'd'], b: ['a', 'c'], c: ['b', 'd'], d: ['c', 'a'] }))).toEqual({
      liveNodes: 4,
      components: 1,
      largestComponentShare: 1,
      isolatedNodes: 0,
      symmetry: 1,
      deadEntries: 0,
      meanActiveView: 2,
    });
  });

  it('counts components, isolated nodes, one-sided links and entries naming crashed nodes', () => {
    // a—b symmetric, c → a one-sided, d only knows the crashed x, e knows nobody.
    const health = overlayHealth(views({ a: ['b'], b: ['a'], c: ['a'], d: ['x'], e: [] }));
    expect(health.components).toBe(3);
    expect(health.largestComponentShare).toBeCloseTo(3 / 5);
    expect(health.isolatedNodes).toBe(2);
    expect(health.symmetry).toBeCloseTo(2 / 3);
    expect(health.deadEntries).toBe(1);
    expect(health.meanActiveView).toBeCloseTo(3 / 5);
  });

  it('treats an empty overlay as healthy and empty', () => {
    expect(overlayHealth(new Map())).toMatchObject({ liveNodes: 0, components: 0, largestComponentShare: 1, isolatedNodes: 0, symmetry: 1 });
  });
});
