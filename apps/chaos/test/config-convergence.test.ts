// The cluster-wide config check's comparison, and the chaos config's rules that make some
// cluster-wide writes refused where they are applied.
import { describe, expect, it } from '@jest/globals';
import { createConfig } from '@foundation/config';
import { createSeededRandom } from '@foundation/core';
import { chaosConfigOptions } from '../src/cluster/chaos-config';
import { compareConfigs, configLeaves, describeConfigComparison } from '../src/checks/config-convergence';
import type { ConfigView } from '../src/checks/config-convergence';
import { countConfigWrites, drawConfigWrite } from '../src/workload/config-writers';

const held = { tuning: { cap: 60, level: 10, mode: 'safe', label: 'x' }, items: [1, 2, 3] };
const views = (entries: Record<string, ConfigView | Error>): Map<string, ConfigView | Error> => new Map(Object.entries(entries));

describe('compareConfigs', () => {
  it('finds one config when every node holds the same values, whatever their key order', () => {
    const reordered = { items: [1, 2, 3], tuning: { label: 'x', mode: 'safe', level: 10, cap: 60 } };
    const comparison = compareConfigs(views({ n1: { config: held, applied: 40 }, n2: { config: reordered, applied: 40 } }));
    expect(comparison).toMatchObject({ equal: true, sameApplied: true, differences: [], errors: [] });
    expect(comparison.groups).toHaveLength(1);
    expect(comparison.groups[0]!.nodes).toEqual(['n1', 'n2']);
  });

  it('reports each differing path with which nodes hold which value', () => {
    const other = { tuning: { ...held.tuning, cap: 70 }, items: [1, 2, 3, 9] };
    const comparison = compareConfigs(views({ n1: { config: held, applied: 40 }, n2: { config: held, applied: 40 }, n3: { config: other, applied: 40 } }));
    expect(comparison.equal).toBe(false);
    expect(comparison.sameApplied).toBe(true);
    expect(comparison.differences).toEqual([
      { path: 'items.3', values: [{ value: '(none)', nodes: ['n1', 'n2'] }, { value: '9', nodes: ['n3'] }] },
      { path: 'tuning.cap', values: [{ value: '60', nodes: ['n1', 'n2'] }, { value: '70', nodes: ['n3'] }] },
    ]);
    expect(comparison.groups.map((group) => group.nodes)).toEqual([['n1', 'n2'], ['n3']]);
    const lines = describeConfigComparison(comparison);
    expect(lines[0]).toBe('items.3: (none) on n1,n2; 9 on n3');
    expect(lines).toContain(`n3 (applied 40) hold ${'{"items":[1,2,3,9],"tuning":{"cap":70,"label":"x","level":10,"mode":"safe"}}'}`);
  });

  it('tells an emptied array from a missing one and from another value', () => {
    const comparison = compareConfigs(views({ n1: { config: { items: [] }, applied: 1 }, n2: { config: { items: [0] }, applied: 1 }, n3: { config: {}, applied: 1 } }));
    expect(comparison.equal).toBe(false);
    expect(comparison.groups).toHaveLength(3);
  });

  it('is not equal when a node did not answer, and names it', () => {
    const comparison = compareConfigs(views({ n1: { config: held, applied: 40 }, n2: new Error('no answer to config within 2000 ms') }));
    expect(comparison.equal).toBe(false);
    expect(comparison.errors).toEqual([{ node: 'n2', message: 'no answer to config within 2000 ms' }]);
    expect(describeConfigComparison(comparison)).toContain('n2: (error: no answer to config within 2000 ms)');
  });

  it('notices equal configs at different applied indices', () => {
    const comparison = compareConfigs(views({ n1: { config: held, applied: 40 }, n2: { config: held, applied: 38 } }));
    expect(comparison).toMatchObject({ equal: true, sameApplied: false });
  });

  it('flattens configs to leaves, empty objects and arrays included', () => {
    expect([...configLeaves({ a: { b: 1, c: [] }, d: [{ e: 'x' }], f: {} })]).toEqual([
      ['a.b', '1'],
      ['a.c', '[]'],
      ['d.0.e', '"x"'],
      ['f', '{}'],
    ]);
    expect([...configLeaves(5)]).toEqual([['(root)', '5']]);
  });
});

describe('the chaos config', () => {
  it('accepts its defaults and refuses what the writers are meant to run into', () => {
    const config = createConfig(chaosConfigOptions());
    expect(config.checkUpdate('tuning.level', 40).ok).toBe(true);
    expect(config.checkUpdate('tuning.level', 51).ok).toBe(false); // above the cap (50)
    expect(config.checkUpdate('tuning.mode', 'turbo').ok).toBe(false);
    expect(config.checkUpdate('items.2', 7).ok).toBe(true); // the next index: an append
    expect(config.checkUpdate('items.3', 7).ok).toBe(false); // a hole
    expect(config.checkUpdate('items.0', 51).ok).toBe(false);
    expect(config.checkUpdate('tuning.label', 'x'.repeat(17)).ok).toBe(false);
    expect(config.checkUpdate('other', 1).ok).toBe(false); // not updatable
  });

  it('refuses, where it is applied, a write that was valid when checked (a cap lowered, an array shortened)', () => {
    const config = createConfig(chaosConfigOptions());
    // Two writers check against the same config; the first's write lands before the second's.
    expect(config.checkUpdate('tuning.level', 45).ok).toBe(true);
    expect(config.checkUpdate('items.2', 3).ok).toBe(true);
    config.update('tuning.cap', 40);
    expect(config.safeUpdate('tuning.level', 45).ok).toBe(false);
    config.update('items', []);
    expect(config.safeUpdate('items.2', 3).ok).toBe(false);
    expect(config.get()).toEqual({ tuning: { cap: 40, level: 10, mode: 'safe', label: 'start' }, items: [] });
  });

  it('the writers draw every kind of write: object keys, the whole object, indices up to the next one, the whole array', () => {
    const random = createSeededRandom(9201);
    const paths = new Set<string>();
    for (let draw = 0; draw < 2_000; draw += 1) paths.add(drawConfigWrite(random, 3).path);
    expect([...paths].sort()).toEqual(['items', 'items.0', 'items.1', 'items.2', 'items.3', 'items.4', 'tuning', 'tuning.cap', 'tuning.label', 'tuning.level', 'tuning.mode']);
  });

  it('counts write outcomes', () => {
    const write = { client: 0, node: 'n1', path: 'items.0', value: 1, invokedMs: 0, completedMs: 1 } as const;
    expect(countConfigWrites([{ ...write, outcome: 'ok' }, { ...write, outcome: 'ok' }, { ...write, outcome: 'refused-where-applied' }, { ...write, outcome: 'unknown' }])).toEqual({
      ok: 2,
      refused: 0,
      'refused-where-applied': 1,
      fail: 0,
      unknown: 1,
    });
  });
});
