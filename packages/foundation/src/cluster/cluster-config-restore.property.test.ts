// Random runs of honest cluster-wide config sets: a node restored from a Raft snapshot holds the
// config the live nodes hold, whatever it held before, and stays with them as the log goes on.
// The config has an array (indices set and appended), a schema that refuses some values on their
// own and some only beside others, and paths the config does not let the cluster update. Found
// in review: the config stream kept the newest command per path, and a restored node differed
// from the live ones after appends and refusals (the two cases in cluster-config.test.ts). Found
// in review too: nodes with local updates of their own accepted other writes than the rest, so
// their snapshots held other cluster-wide values; here some nodes make random local updates.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createConfig } from '@foundation/config';
import type { Config, ConfigCommand, StandardSchemaV1 } from '@foundation/config';
import { attachClusterConfig } from '../../test/support/cluster-config-stream';
import { applyInOrder, createUnstartedConsensus } from '../../test/support/unstarted-consensus';

const defaults = { limits: { rate: 10, burst: 5 }, feature: { on: false, names: ['a', 'b'] }, mode: 'normal' };

/** Rates above 100 are refused, and the feature can only be on with at least one name. */
const schema: StandardSchemaV1<unknown, unknown> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: (value) => {
      const { limits, feature } = value as { limits?: { rate?: unknown }; feature?: { on?: unknown; names?: unknown } };
      if (typeof limits?.rate === 'number' && limits.rate > 100) return { issues: [{ message: 'rate above 100', path: ['limits', 'rate'] }] };
      if (feature?.on === true && !(Array.isArray(feature.names) && feature.names.length > 0)) return { issues: [{ message: 'on needs a name', path: ['feature', 'on'] }] };
      return { value };
    },
  },
};

const rules = { defaults, schema, updatablePaths: ['limits', 'feature'] };

function createNode() {
  const consensus = createUnstartedConsensus();
  const config: Config<unknown> = createConfig(rules);
  const clusterConfig = attachClusterConfig(consensus, config, () => undefined, rules);
  const apply = (commands: readonly ConfigCommand[]): void => applyInOrder(consensus, 'config', commands);
  /** Local updates, never in the log; those the config refuses change nothing. */
  const updateLocally = (updates: readonly ConfigCommand[]): void => {
    for (const { path, value } of updates) config.safeUpdate(path, value);
  };
  return { stateMachine: consensus.stateMachine, config, clusterConfig, apply, updateLocally };
}

const paths = fc.constantFrom(
  ['limits'],
  ['limits', 'rate'],
  ['limits', 'burst'],
  ['limits', 'extra'],
  ['feature'],
  ['feature', 'on'],
  ['feature', 'names'],
  ['feature', 'names', '0'],
  ['feature', 'names', '1'],
  ['feature', 'names', '2'],
  ['feature', 'names', '3'],
  ['feature', 'names', '1', 'deep'],
  ['mode'],
);
const values = fc.oneof(
  fc.integer({ min: 0, max: 150 }),
  fc.boolean(),
  fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
  fc.record({ rate: fc.integer({ min: 0, max: 150 }), burst: fc.integer({ min: 0, max: 9 }) }),
  fc.record({ on: fc.boolean(), names: fc.array(fc.constantFrom('x', 'y'), { maxLength: 2 }) }),
);
const commands = fc.array(
  fc.record({ path: paths, value: values }).map(({ path, value }): ConfigCommand => ({ type: 'config-set', path, value })),
  { maxLength: 24 },
);

describe('a node restored from a snapshot of a live node', () => {
  it('holds the live config, from any earlier point of the same log, and stays with the live node after', () => {
    fc.assert(
      fc.property(commands, commands, fc.nat(), fc.array(commands, { minLength: 4, maxLength: 4 }), fc.nat(), (before, after, cut, local, source) => {
        const live = createNode();
        live.apply(before);
        // Two more nodes of the same log, each with local updates of its own before the log and
        // between its commands: every node keeps the same cluster-wide values all the same.
        const peers = [0, 1].map((peer) => {
          const node = createNode();
          node.updateLocally(local[2 * peer]!);
          const middle = cut % (before.length + 1);
          node.apply(before.slice(0, middle));
          node.updateLocally(local[2 * peer + 1]!);
          node.apply(before.slice(middle));
          return node;
        });
        for (const peer of peers) expect(peer.clusterConfig.snapshotCommands()).toEqual(live.clusterConfig.snapshotCommands());
        // A follower that applied part of the same log, then fell behind.
        const follower = createNode();
        follower.apply(before.slice(0, cut % (before.length + 1)));
        const fresh = createNode();

        // The snapshot of any of them restores the same, on a peer with local updates too.
        const [updated, restoredPeer] = peers as [ReturnType<typeof createNode>, ReturnType<typeof createNode>];
        const snapshot = [live, updated, restoredPeer][source % 3]!.stateMachine.snapshot();
        follower.stateMachine.restore(snapshot);
        fresh.stateMachine.restore(snapshot);
        restoredPeer.stateMachine.restore(snapshot);
        expect(follower.config.get()).toEqual(live.config.get());
        expect(fresh.config.get()).toEqual(live.config.get());
        for (const node of [follower, fresh, restoredPeer]) expect(node.clusterConfig.snapshotCommands()).toEqual(live.clusterConfig.snapshotCommands());

        for (const node of [live, follower, fresh, updated, restoredPeer]) node.apply(after);
        expect(follower.config.get()).toEqual(live.config.get());
        expect(fresh.config.get()).toEqual(live.config.get());
        for (const node of [follower, fresh, updated, restoredPeer]) expect(node.clusterConfig.snapshotCommands()).toEqual(live.clusterConfig.snapshotCommands());
        // A snapshot taken by a restored node, local updates and all, is as good as the live node's.
        const second = createNode();
        second.stateMachine.restore(restoredPeer.stateMachine.snapshot());
        expect(second.config.get()).toEqual(live.config.get());
      }),
      { numRuns: 300 },
    );
  });
});
