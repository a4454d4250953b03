import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { GlobalNames, compactRegistryCommands } from './global-names';
import type { LoggedCommand } from './global-names';
import { DEFAULT_LIMITS } from './limits';

const NAMESPACE = 'production';
const NODES = ['n0', 'n1', 'n2'] as const;
const NAMES = ['lock', 'leader', 'scheduler'] as const;

function claim(node: string, incarnation: number, name: string, serial: number, metadata: Record<string, unknown> = {}): unknown {
  return {
    type: 'registry-claim',
    namespace: NAMESPACE,
    claim: { id: `${node}/${incarnation}/g${serial}`, name, node, incarnation, target: `${node}-target`, capabilities: [], metadata, weight: 1, registeredAt: serial },
  };
}

/** Holders (id@revision) and release floors after replaying `history`. */
function replay(history: readonly LoggedCommand[], limits = DEFAULT_LIMITS): string {
  const names = new GlobalNames(NAMESPACE, limits);
  for (const { index, command } of history) {
    try {
      names.apply(command, index);
    } catch {
      // refused, as the registry refuses it
    }
  }
  const holders = [...names.all()].map((holder) => `${holder.name}=${holder.id}@${holder.revision}`).sort();
  const floors = NODES.map((node) => `${node}:${names.releasedFloor(node) ?? '-'}`);
  return JSON.stringify({ holders, floors });
}

type Step =
  | { readonly kind: 'claim'; readonly node: number; readonly incarnation: number; readonly name: number; readonly large: boolean }
  | { readonly kind: 'release'; readonly name: number }
  | { readonly kind: 'release-node'; readonly node: number; readonly incarnation: number }
  | { readonly kind: 'garbage' }
  | { readonly kind: 'other-stream' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('claim' as const), node: fc.nat({ max: 2 }), incarnation: fc.integer({ min: 1, max: 4 }), name: fc.nat({ max: 2 }), large: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('release' as const), name: fc.nat({ max: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('release-node' as const), node: fc.nat({ max: 2 }), incarnation: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'garbage' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'other-stream' as const }) },
);

/** A log built from steps; releases name the current holder of a name as the log has it. */
function history(steps: readonly Step[]): LoggedCommand[] {
  const names = new GlobalNames(NAMESPACE, DEFAULT_LIMITS);
  const entries: LoggedCommand[] = [];
  steps.forEach((item, position) => {
    const index = position + 1;
    let command: unknown;
    if (item.kind === 'claim') {
      // A large claim is refused under the default limits (metadata over 4,096 bytes).
      command = claim(NODES[item.node]!, item.incarnation, NAMES[item.name]!, index, item.large && index % 3 === 0 ? { blob: 'x'.repeat(5_000) } : {});
    } else if (item.kind === 'release') {
      const holder = names.holder(NAMES[item.name]!);
      command = { type: 'registry-release', namespace: NAMESPACE, name: NAMES[item.name]!, id: holder?.id ?? 'n0/1/g0' };
    } else if (item.kind === 'release-node') {
      command = { type: 'registry-release-node', namespace: NAMESPACE, node: NODES[item.node]!, incarnation: item.incarnation };
    } else if (item.kind === 'garbage') {
      command = { type: 'registry-claim', namespace: NAMESPACE, claim: { name: 'no good' } };
    } else {
      command = { type: 'registry-claim', namespace: 'staging', claim: {} };
    }
    entries.push({ index, command });
    try {
      names.apply(command, index);
    } catch {
      // as the registry does
    }
  });
  return entries;
}

describe('compactRegistryCommands', () => {
  it('keeps the holders\' claims and the releases that set the floors, in log order', () => {
    const log: LoggedCommand[] = [
      { index: 1, command: claim('n0', 1, 'lock', 1) },
      { index: 2, command: claim('n1', 1, 'lock', 2) }, // lost
      { index: 3, command: { type: 'registry-release-node', namespace: NAMESPACE, node: 'n0', incarnation: 1 } },
      { index: 4, command: claim('n1', 1, 'lock', 4) },
      { index: 5, command: { type: 'registry-claim', namespace: 'staging', claim: {} } },
      { index: 6, command: claim('n2', 1, 'leader', 6) },
      { index: 7, command: { type: 'registry-release', namespace: NAMESPACE, name: 'leader', id: 'n2/1/g6' } },
    ];
    expect(compactRegistryCommands(log, NAMESPACE, DEFAULT_LIMITS).map((entry) => entry.index)).toEqual([3, 4, 5]);
  });

  it('replays to the same holders, revisions and floors as the whole history (property)', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), fc.nat(), (steps, cut) => {
        const log = history(steps);
        // Compacting a compacted prefix and then appending goes on giving the same state.
        const at = log.length === 0 ? 0 : cut % (log.length + 1);
        const twice = compactRegistryCommands([...compactRegistryCommands(log.slice(0, at), NAMESPACE, DEFAULT_LIMITS), ...log.slice(at)], NAMESPACE, DEFAULT_LIMITS);
        const once = compactRegistryCommands(log, NAMESPACE, DEFAULT_LIMITS);
        return replay(once) === replay(log) && replay(twice) === replay(log) && once.length <= log.length;
      }),
      { seed: 7301, numRuns: 400 },
    );
  });

  it('stays bounded by the names held, whatever the length of the history', () => {
    const log = history(Array.from({ length: 5_000 }, (_, position): Step => (position % 2 === 0 ? { kind: 'claim', node: position % 3, incarnation: 1, name: position % 3, large: false } : { kind: 'release', name: (position - 1) % 3 })));
    const compacted = compactRegistryCommands(log, NAMESPACE, DEFAULT_LIMITS);
    expect(compacted.length).toBeLessThanOrEqual(NAMES.length);
    expect(replay(compacted)).toBe(replay(log));
  });
});
