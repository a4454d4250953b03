import { describe, expect, it } from '@jest/globals';
import { planBoundedFaults, planFaults } from '../src/faults/schedule';

const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];

describe('fault schedule', () => {
  it('is a function of the seed', () => {
    expect(planFaults({ seed: 7, nodes, durationMs: 60_000 })).toEqual(planFaults({ seed: 7, nodes, durationMs: 60_000 }));
    expect(planFaults({ seed: 7, nodes, durationMs: 60_000 })).not.toEqual(planFaults({ seed: 8, nodes, durationMs: 60_000 }));
  });

  it.each([1, 2, 3, 42, 1234])('seed %i: faults one at a time, inside the window, on real nodes', (seed) => {
    const faults = planFaults({ seed, nodes, durationMs: 60_000 });
    expect(faults.length).toBeGreaterThan(3);
    faults.forEach((fault, index) => {
      expect(fault.atMs + fault.durationMs).toBeLessThanOrEqual(60_000);
      const next = faults[index + 1];
      if (next !== undefined) expect(next.atMs).toBeGreaterThan(fault.atMs + fault.durationMs);
      if (fault.target.kind === 'node') expect(nodes).toContain(fault.target.node);
      if (fault.target.kind === 'split') {
        const [a, b] = fault.target.sides;
        expect([...a, ...b].sort()).toEqual(nodes);
        expect(a.length).toBeGreaterThan(0);
        expect(b.length).toBeGreaterThan(0);
      }
      if (fault.kind === 'partition-flapping') expect(fault.flapMs).toBeGreaterThan(0);
    });
  });

  it('draws every kind over enough seeds', () => {
    const kinds = new Set(Array.from({ length: 20 }, (_, seed) => planFaults({ seed, nodes, durationMs: 60_000 }).map((fault) => fault.kind)).flat());
    expect([...kinds].sort()).toEqual(['kill', 'partition', 'partition-flapping', 'partition-one-way', 'pause']);
  });

  it.each([1, 2, 3, 99])('bounded, seed %i: one partition, one kill, one pause, within 15 s', (seed) => {
    const faults = planBoundedFaults({ seed, nodes });
    expect(faults).toHaveLength(3);
    const kinds = faults.map((fault) => fault.kind);
    expect(kinds).toEqual(expect.arrayContaining(['kill', 'pause']));
    expect(kinds.filter((kind) => kind.startsWith('partition'))).toHaveLength(1);
    const last = faults[2]!;
    expect(last.atMs + last.durationMs).toBeLessThanOrEqual(15_000);
  });

  it('refuses what it cannot plan', () => {
    expect(() => planFaults({ seed: 1, nodes: ['n1'], durationMs: 10_000 })).toThrow(RangeError);
    expect(() => planFaults({ seed: 1, nodes, durationMs: 10_000, kinds: [] })).toThrow(RangeError);
  });
});
