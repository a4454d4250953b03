// Random runs of cluster-wide config sets on nodes whose environment refuses some of them: a
// live node holds what a node with the same environment started from the cluster's snapshot
// holds. Found in review: a value set under a cluster value this node did not hold (it refused
// it, or gave it back) was set on the node's own layers, making a value the cluster never held,
// where a started node folds the two and takes or refuses the whole. And a value this node's
// environment refused (a burst above its rate) stayed refused after a later cluster write lifted
// the cap (a higher rate), where a started node took both.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createConfig } from '@foundation/config';
import type { Config, ConfigCommand, StandardSchemaV1 } from '@foundation/config';
import type { FoundationError } from '@foundation/core';
import { attachClusterConfig } from '../../test/support/cluster-config-stream';
import { applyInOrder, createUnstartedConsensus } from '../../test/support/unstarted-consensus';

const defaults = { limits: { rate: 10, burst: 5 }, feature: { on: false, names: ['a', 'b'] } };

/** The burst, and the number of names, may not exceed the rate. */
const schema: StandardSchemaV1<unknown, unknown> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: (value) => {
      const { limits, feature } = value as { limits?: { rate?: unknown; burst?: unknown }; feature?: { names?: unknown } };
      const rate = typeof limits?.rate === 'number' ? limits.rate : 0;
      if (typeof limits?.burst === 'number' && limits.burst > rate) return { issues: [{ message: 'burst above rate', path: ['limits', 'burst'] }] };
      if (Array.isArray(feature?.names) && feature.names.length > rate) return { issues: [{ message: 'more names than the rate', path: ['feature', 'names'] }] };
      return { value };
    },
  },
};
const rules = { defaults, schema, updatablePaths: ['limits', 'feature'] };

function createNode(environment: Record<string, string> | undefined) {
  const consensus = createUnstartedConsensus();
  const config: Config<unknown> = createConfig({ ...rules, ...(environment === undefined ? {} : { sources: { environment: { prefix: 'NODE', variables: environment } } }) });
  const refused: FoundationError[] = [];
  const clusterConfig = attachClusterConfig(consensus, config, (error) => refused.push(error), rules);
  const apply = (commands: readonly ConfigCommand[]): void => applyInOrder(consensus, 'config', commands);
  return { stateMachine: consensus.stateMachine, config, clusterConfig, refused, apply };
}

const paths = fc.constantFrom(
  ['limits'],
  ['limits', 'rate'],
  ['limits', 'burst'],
  ['feature'],
  ['feature', 'on'],
  ['feature', 'names'],
  ['feature', 'names', '0'],
  ['feature', 'names', '1'],
  ['feature', 'names', '2'],
  ['feature', 'names', '3'],
  ['feature', 'names', '4'],
);
const values = fc.oneof(
  // Numbers most often: a rate set by the cluster lifts what an environment capped.
  { arbitrary: fc.integer({ min: 0, max: 9 }), weight: 4 },
  fc.boolean(),
  fc.array(fc.constantFrom('x', 'y'), { maxLength: 5 }),
  fc.record({ rate: fc.integer({ min: 0, max: 9 }), burst: fc.integer({ min: 0, max: 9 }) }),
  fc.record({ on: fc.boolean(), names: fc.array(fc.constantFrom('x', 'y'), { maxLength: 5 }) }),
);
const commands = fc.array(
  fc.record({ path: paths, value: values }).map(({ path, value }): ConfigCommand => ({ type: 'config-set', path, value })),
  { maxLength: 20 },
);
const environments = fc.constantFrom<Record<string, string> | undefined>(
  undefined,
  { NODE_LIMITS__RATE: '3', NODE_LIMITS__BURST: '1' },
  { NODE_LIMITS__RATE: '2', NODE_LIMITS__BURST: '2' },
  { NODE_LIMITS__BURST: '0' },
);

describe('a live node whose own layers refuse cluster-wide values', () => {
  it('holds the config of a node with the same layers started from the cluster\'s snapshot, and of a follower that restored it', () => {
    fc.assert(
      fc.property(commands, environments, fc.nat(), (log, environment, cut) => {
        const plain = createNode(undefined);
        const live = createNode(environment);
        const twin = createNode(environment);
        plain.apply(log);
        live.apply(log);
        twin.apply(log);
        const started = createNode(environment);
        started.stateMachine.restore(plain.stateMachine.snapshot());
        const follower = createNode(environment);
        follower.apply(log.slice(0, cut % (log.length + 1)));
        follower.stateMachine.restore(plain.stateMachine.snapshot());
        expect(live.clusterConfig.snapshotCommands()).toEqual(plain.clusterConfig.snapshotCommands());
        expect(twin.config.get()).toEqual(live.config.get());
        expect(live.config.get()).toEqual(started.config.get());
        expect(follower.config.get()).toEqual(started.config.get());
      }),
      { numRuns: 300 },
    );
  });
});

