// Cluster-wide config on a node whose cluster state machine restores a Raft snapshot. The node's
// config stream is the real one (`createClusterConsensus(...).log`, declared as startNode
// declares it) over the real state machine; Raft is not started: the test applies commands and
// restores snapshots on the state machine directly, as Raft would (test/config-snapshot-restore
// has a follower install one through Raft). Found in review: the config did not listen for
// restores, so the snapshot's commands were set again one by one (subscribers heard values that
// had not changed, and old values for a moment), and a value the snapshot no longer held stayed.
import { getEventListeners } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import { createConfig } from '@foundation/config';
import type { Config, ConfigCommand, ConfigNotification, StandardSchemaV1 } from '@foundation/config';
import type { FoundationError } from '@foundation/core';
import { createMemoryPersistence } from '@foundation/raft';
import { applyInOrder, createUnstartedConsensus } from '../../test/support/unstarted-consensus';
import { createClusterConsensus } from '../consensus/cluster-consensus';
import { ClusterStateMachine } from '../consensus/cluster-state-machine';
import type { ConsensusLog } from '../consensus/cluster-consensus';
import { attachClusterConfig, olderConfigCommandKey } from '../../test/support/cluster-config-stream';
import { ClusterWriteOutcomeUnknownError } from '../errors/cluster-write-outcome-unknown-error';
import { createClusterConfig } from './cluster-config';
import type { ClusterConfig } from './cluster-config';

const defaults = { limits: { rate: 10, burst: 5 }, feature: { on: false } };
const set = (dotted: string, value: unknown): ConfigCommand => ({ type: 'config-set', path: dotted.split('.'), value });

/** A node's config over its own (unstarted) cluster consensus, and what its subscribers hear. */
function createNode(options: { readonly defaults?: Record<string, unknown>; readonly schema?: StandardSchemaV1<unknown, unknown> } = {}) {
  const consensus = createUnstartedConsensus();
  const updatablePaths = ['limits', 'feature'];
  const nodeDefaults = options.defaults ?? defaults;
  const config: Config<unknown> = options.schema === undefined ? (createConfig({ defaults: nodeDefaults, updatablePaths }) as Config<unknown>) : createConfig({ defaults: nodeDefaults, schema: options.schema, updatablePaths });
  const refused: FoundationError[] = [];
  const clusterConfig = attachClusterConfig(consensus, config, (error) => refused.push(error));
  const heard: string[] = [];
  config.subscribe((change: ConfigNotification<unknown>) => {
    heard.push(change.type === 'config-reset' ? 'reset' : `${change.path.join('.')} ${JSON.stringify(change.previous)} -> ${JSON.stringify(change.value)}`);
  });
  const apply = (commands: readonly ConfigCommand[]): void => applyInOrder(consensus, 'config', commands);
  return { stateMachine: consensus.stateMachine, config, clusterConfig, heard, refused, apply };
}

/**
 * A snapshot of a state machine that applied `commands` on the config stream, as a node of an
 * earlier version wrote it: the newest command per path, whatever the config made of them. Such
 * a snapshot can hold values that no config with this schema holds together.
 */
function snapshotOf(commands: readonly ConfigCommand[]): Uint8Array {
  const leader = new ClusterStateMachine();
  leader.registerStream('config', { retain: olderConfigCommandKey });
  commands.forEach((command, index) => leader.apply({ stream: 'config', command }, index + 1));
  leader.apply({ stream: 'kv', command: { op: 'put', key: 'k', value: 1 } }, commands.length + 1);
  return leader.snapshot();
}

describe('cluster-wide config restored from a snapshot', () => {
  it('tells subscribers only the values that changed, once each, whatever order the snapshot holds them in', () => {
    const node = createNode();
    // `limits` and then `limits.rate`: the snapshot keeps them in that order (newest per path).
    const common = [set('limits', { rate: 1, burst: 2 }), set('limits.rate', 20), set('feature.on', true)];
    node.apply(common);
    node.heard.length = 0;

    node.stateMachine.restore(snapshotOf([...common, set('feature.on', false)]));

    // Set one by one, `limits` would have gone to rate 1 and back to 20.
    expect(node.heard).toEqual(['feature.on true -> false']);
    expect(node.config.get()).toEqual({ limits: { rate: 20, burst: 2 }, feature: { on: false } });
    expect(node.refused).toEqual([]);
  });

  it('changes the values the snapshot changes and drops the ones it no longer holds, as on a node started from it', () => {
    const node = createNode();
    node.apply([set('limits.rate', 20), set('feature.on', true), set('limits.burst', 7)]);
    node.heard.length = 0;
    // The snapshot sets `limits.rate` to another value, `limits.burst` to the same, and holds
    // nothing for `feature.on`.
    const snapshot = snapshotOf([set('limits.rate', 30), set('limits.burst', 7)]);

    node.stateMachine.restore(snapshot);

    const fresh = createNode();
    fresh.stateMachine.restore(snapshot);
    expect(node.config.get()).toEqual({ limits: { rate: 30, burst: 7 }, feature: { on: false } });
    expect(node.config.get()).toEqual(fresh.config.get());
    // `feature.on` goes back to its default on its own; `limits.burst` stays as it was.
    expect(node.heard).toEqual(['feature.on true -> false', 'limits.rate 20 -> 30']);
    expect(node.stateMachine.appliedIndex()).toBe(3);

    // What follows the snapshot applies as usual, and a later restore that changes nothing is silent.
    node.heard.length = 0;
    node.apply([set('feature.on', true)]);
    node.stateMachine.restore(node.stateMachine.snapshot());
    expect(node.heard).toEqual(['feature.on false -> true']);
  });

  it('takes a dropped path back and sets the snapshot\'s values in one change: nobody hears a value on the way', () => {
    const node = createNode();
    node.apply([set('limits', { rate: 1, burst: 2 }), set('limits.rate', 20)]);
    node.heard.length = 0;

    // The snapshot keeps only `limits.rate`: `limits` goes back to the layers (burst 5), and the
    // rate goes to 30 without passing through the default of 10.
    node.stateMachine.restore(snapshotOf([set('limits.rate', 30)]));

    expect(node.config.get()).toEqual({ limits: { rate: 30, burst: 5 }, feature: { on: false } });
    expect(node.heard).toEqual(['limits {"rate":20,"burst":2} -> {"rate":30,"burst":5}', 'limits.rate 20 -> 30']);
    expect(node.refused).toEqual([]);
  });

  it('keeps this node\'s local updates of other paths when the snapshot drops a value the log had set', () => {
    const node = createNode();
    node.apply([set('feature.on', true)]);
    node.config.update('limits.burst', 9); // a local update, never in the log
    node.heard.length = 0;

    node.stateMachine.restore(snapshotOf([set('limits.rate', 30)]));

    expect(node.config.get()).toEqual({ limits: { rate: 30, burst: 9 }, feature: { on: false } });
    expect(node.heard).toEqual(['feature.on true -> false', 'limits.rate 10 -> 30']);
    expect(node.refused).toEqual([]);
  });

  /** A node whose schema needs `feature.level` whenever `feature.on` is true. */
  function createStrictNode() {
    const schema: StandardSchemaV1<unknown, unknown> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) => {
          const feature = (value as { feature?: { on?: boolean; level?: number } }).feature;
          return feature?.on === true && feature.level === undefined ? { issues: [{ message: 'feature.on needs feature.level', path: ['feature', 'level'] }] } : { value };
        },
      },
    };
    const consensus = createUnstartedConsensus();
    const config = createConfig({ defaults, schema, updatablePaths: ['limits', 'feature'] });
    const refused: FoundationError[] = [];
    attachClusterConfig(consensus, config, (error) => refused.push(error));
    const apply = (command: ConfigCommand): void => applyInOrder(consensus, 'config', [command]);
    const kinds: string[] = [];
    config.subscribe((change: ConfigNotification<unknown>) => kinds.push(change.type));
    return { stateMachine: consensus.stateMachine, config, refused, apply, kinds };
  }

  it.each([
    ['the snapshot drops both', [] as ConfigCommand[], { on: false }],
    ['the snapshot turns the feature off and drops its level', [set('feature.on', false)], { on: false }],
  ])('takes back dropped values the schema needs together in any order: %s', (_name, kept, feature) => {
    const node = createStrictNode();
    node.apply(set('feature.level', 3)); // taken back first, it is refused while `on` is still true
    node.apply(set('feature.on', true));
    node.config.update('limits.burst', 9);

    node.stateMachine.restore(snapshotOf(kept));

    expect(node.config.get()).toEqual({ limits: { rate: 10, burst: 9 }, feature });
    expect(node.kinds).not.toContain('config-reset');
    expect(node.refused).toEqual([]);
  });

  it('goes back to the layers whole, and reports why, when the schema needs a value the snapshot dropped', () => {
    const node = createStrictNode();
    node.apply(set('feature.level', 3));
    node.apply(set('feature.on', true));
    node.config.update('limits.burst', 9);
    node.kinds.length = 0;

    // The snapshot keeps `feature.on` but not `feature.level`: the level cannot go back alone,
    // before or after the snapshot's values, so the config is reset, and `feature.on` alone is
    // refused again.
    node.stateMachine.restore(snapshotOf([set('feature.on', true)]));

    expect(node.config.get()).toEqual(defaults);
    expect(node.kinds).toEqual(['config-reset']);
    expect(node.refused.map((error) => error.code)).toEqual([1201, 1201]);
  });

  it('keeps a snapshot value the schema already derived, when the values go in one by one (review finding)', () => {
    // `limits.burst` follows `limits.rate` unless set. Restoring one by one, a value that read
    // the same as what the config held was skipped, not stored: the cluster's burst of 10 then
    // followed a later local change of the rate.
    const schema: StandardSchemaV1<unknown, unknown> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) => {
          const { limits, feature } = value as { limits: { rate: number; burst?: number }; feature: { on?: boolean; level?: number } };
          if (feature.on === true && feature.level === undefined) return { issues: [{ message: 'feature.on needs feature.level', path: ['feature', 'level'] }] };
          return { value: { ...(value as object), limits: { ...limits, burst: limits.burst ?? limits.rate } } };
        },
      },
    };
    const consensus = createUnstartedConsensus();
    const config = createConfig({ defaults: { limits: { rate: 10 }, feature: { on: false } }, schema, updatablePaths: ['limits', 'feature'] });
    attachClusterConfig(consensus, config, () => undefined);
    const apply = (command: ConfigCommand): void => applyInOrder(consensus, 'config', [command]);
    apply(set('feature.level', 3));
    apply(set('feature.on', true));

    // The snapshot keeps `feature.on` without `feature.level`: the values go in one by one.
    consensus.stateMachine.restore(snapshotOf([set('feature.on', true), set('limits.burst', 10)]));
    config.update('limits.rate', 20);

    expect(config.get('limits.burst' as never)).toBe(10);
  });

  it('takes back a value the log put into an array with the whole array', () => {
    const consensus = createUnstartedConsensus();
    const config = createConfig({ defaults: { hosts: ['a', 'b'], limits: { rate: 10 } }, updatablePaths: ['hosts', 'limits'] });
    attachClusterConfig(consensus, config, () => undefined);
    consensus.stateMachine.apply({ stream: 'config', command: set('hosts.2', 'c') }, 1);
    config.update('limits.rate', 20);

    consensus.stateMachine.restore(snapshotOf([]));

    expect(config.get()).toEqual({ hosts: ['a', 'b'], limits: { rate: 20 } });
  });
});

describe('a node restored from a live node\'s snapshot (review findings)', () => {
  // The config stream kept the newest command per path and a restore replayed those: what a
  // dropped command had made possible, or refused, was lost. Each case runs honest commands on
  // a live node, restores its snapshot on a fresh node, and compares the two configs.
  const withNames = { limits: { rate: 10, burst: 5 }, feature: { on: false, names: ['a', 'b'] } };
  /** Rates above 100 are refused. */
  const capped: StandardSchemaV1<unknown, unknown> = {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: (value) => ((value as { limits: { rate: number } }).limits.rate > 100 ? { issues: [{ message: 'rate above 100', path: ['limits', 'rate'] }] } : { value }),
    },
  };

  it.each([
    ['an index set again after the next one was appended', withNames, undefined, [set('feature.names.2', 0), set('feature.names.3', 0), set('feature.names.2', 0)], ['a', 'b', 0, 0]],
    ['an append refused live, then one that made room for it', withNames, undefined, [set('feature', { on: false, names: [] }), set('feature.names.1', 0), set('feature.names.0', 0)], [0]],
    ['a value refused live after an accepted one at the same path', withNames, capped, [set('limits.rate', 20), set('limits.rate', 1_000)], ['a', 'b']],
  ] as const)('holds what the live node holds: %s', (_name, nodeDefaults, schema, commands, names) => {
    const live = createNode({ defaults: nodeDefaults, ...(schema === undefined ? {} : { schema }) });
    live.apply(commands);
    expect((live.config.get() as typeof withNames).feature.names).toEqual(names);

    const restored = createNode({ defaults: nodeDefaults, ...(schema === undefined ? {} : { schema }) });
    restored.stateMachine.restore(live.stateMachine.snapshot());

    expect(restored.config.get()).toEqual(live.config.get());
    expect(restored.refused).toEqual([]);
  });
});

describe('a snapshot from an older version', () => {
  // It holds the newest command per path, which cannot tell every history apart; it restores as
  // those versions restored it (found in review: reading it otherwise broke everyday edits).
  const withNames = (names: string[]) => ({ limits: { rate: 10, burst: 5 }, feature: { on: false, names } });
  it.each([
    ['a list replaced, two appended, the first edited', ['a'], [set('feature.names', []), set('feature.names.0', 'x'), set('feature.names.1', 'y'), set('feature.names.0', 'z')], ['z', 'y']],
    ['an append refused in the log, then the next index set', ['a', 'b'], [set('feature.names.3', 'early'), set('feature.names.2', 'c')], ['a', 'b', 'c']],
  ])('restores as the live node holds it: %s', (_name, names, commands, expected) => {
    const live = createNode({ defaults: withNames(names) });
    live.apply(commands);
    expect((live.config.get() as { feature: { names: unknown } }).feature.names).toEqual(expected);
    const restored = createNode({ defaults: withNames(names) });
    restored.stateMachine.restore(snapshotOf(commands));
    expect(restored.config.get()).toEqual(live.config.get());
  });
});

describe('a restore whose batch the config refuses', () => {
  it('validates the config a few times per refusal, not once per value (review finding)', () => {
    // Refused whole (a local update here makes one value invalid), the values went in one by one,
    // each validating the whole config: 1,000 paths validated about half a million entries, and
    // 20,000 would have held Raft for minutes.
    const count = 1_000;
    let entriesValidated = 0;
    const schema: StandardSchemaV1<unknown, unknown> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) => {
          const { limits, feature } = value as { limits: { rate: number }; feature: { table: Record<string, unknown> } };
          entriesValidated += Object.keys(feature.table).length;
          return limits.rate < 5 && 'k0' in feature.table ? { issues: [{ message: 'no k0 under a low rate', path: ['feature', 'table'] }] } : { value };
        },
      },
    };
    const tableDefaults = { limits: { rate: 10 }, feature: { table: {} } };
    const live = createNode({ defaults: tableDefaults, schema });
    live.apply(Array.from({ length: count }, (_, index) => set(`feature.table.k${index}`, index)));
    const follower = createNode({ defaults: tableDefaults, schema });
    follower.config.update('limits.rate', 1); // local: refuses k0 here
    entriesValidated = 0;

    follower.stateMachine.restore(live.stateMachine.snapshot());

    const table = (follower.config.get() as { feature: { table: Record<string, unknown> } }).feature.table;
    expect(Object.keys(table)).toHaveLength(count - 1);
    expect(table.k0).toBeUndefined();
    expect(follower.refused.map((error) => error.code)).toEqual([1201]);
    expect(entriesValidated).toBeLessThan(40 * count);
  });
});

describe('snapshotCommands', () => {
  it('gives the values in the order that sets them again, and refuses once the log went on without it', () => {
    const node = createNode({ defaults: { limits: { rate: 10, burst: 5 }, feature: { on: false, names: ['a', 'b'] } } });
    // The first is refused (no index 2 yet); the last is set under the one before it.
    node.apply([set('feature.names.3', 'early'), set('feature.names.2', 'c'), set('feature.names.3', 'd'), set('limits', { rate: 1, burst: 2 }), set('limits.rate', 3)]);
    expect(node.clusterConfig.snapshotCommands()).toEqual([
      set('feature.names.2', 'c'),
      set('feature.names.3', 'd'),
      set('limits', { rate: 1, burst: 2 }),
      set('limits.rate', 3),
    ]);

    node.clusterConfig.close();
    expect(node.clusterConfig.snapshotCommands()).toHaveLength(4); // nothing applied since
    node.apply([set('limits.rate', 4)]);
    expect(() => node.clusterConfig.snapshotCommands()).toThrow('the cluster config closed at log index 5 and the log has applied up to 6 since');
    expect(() => node.stateMachine.snapshot()).toThrow('the cluster config closed');
  });
});

describe('setClusterWide', () => {
  it('restores the config the log gave when later commands on the stream share a value\'s path key without setting it (review finding)', () => {
    // The config stream keeps the newest command per path, and any member can propose any
    // command on it. One that is not a config-set, or whose path joined to the same key (a
    // segment holding the separator), took the place of the value set at that path: the live
    // nodes kept the value, and a node restored from a snapshot went back to the default.
    const live = createNode();
    live.apply([
      set('limits.rate', 20),
      set('limits.burst', 7),
      { type: 'not-a-config-set', path: ['limits', 'rate'] } as unknown as ConfigCommand,
      { type: 'config-set', path: ['limits\u0000burst'], value: 99 },
      { type: 'config-set', path: 'limits', value: 1 } as unknown as ConfigCommand,
    ]);
    expect(live.config.get()).toEqual({ ...defaults, limits: { rate: 20, burst: 7 } });
    const restored = createNode();
    restored.stateMachine.restore(live.stateMachine.snapshot());
    expect(restored.config.get()).toEqual(live.config.get());
  });

  it('rejects with the refusal when the committed value is refused where it is applied (review finding)', async () => {
    // Two writers under a rule across fields (a <= b), each checked against a config where it
    // is valid: the second one committed is refused on every replica, and its writer was told
    // it had succeeded.
    const schema: StandardSchemaV1<unknown, unknown> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) => {
          const { a, b } = value as { a: number; b: number };
          return a <= b ? { value } : { issues: [{ message: 'a must not exceed b', path: ['a'] }] };
        },
      },
    };
    const config = createConfig({ defaults: { a: 0, b: 10 }, schema, updatablePaths: ['a', 'b'] });
    const listeners = new Set<(entry: { readonly index: number; readonly command: ConfigCommand }) => void>();
    const pending: ConfigCommand[] = [];
    let applied = 0;
    const log: ConsensusLog<ConfigCommand> = {
      append: (command) => {
        pending.push(command);
        return Promise.resolve(applied + pending.length);
      },
      readIndex: () => Promise.resolve(applied),
      appliedIndex: () => applied,
      onApplied: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      onRestore: () => () => undefined,
      onRestoreEnd: () => () => undefined,
    };
    const refused: FoundationError[] = [];
    const cluster = createClusterConfig(config, log, (error) => refused.push(error));
    const first = cluster.setClusterWide('a', 8);
    const second = cluster.setClusterWide('b', 5);
    await Promise.resolve();
    for (const command of pending.splice(0)) {
      applied += 1;
      for (const listener of listeners) listener({ index: applied, command });
    }
    const outcomes = await Promise.allSettled([first, second]);
    expect(outcomes[0].status).toBe('fulfilled');
    expect(outcomes[1].status).toBe('rejected');
    expect((outcomes[1] as PromiseRejectedResult).reason).toBe(refused[0]);
    expect(config.get()).toEqual({ a: 8, b: 10 });
    cluster.close();
  });

  it('rejects a write still waiting to be applied here when the node closes its cluster config (review finding)', async () => {
    // Only applied entries released writers; close() removed the listener and left a learner's
    // setClusterWide (committed by the leader, not applied here yet) pending for ever.
    const config = createConfig({ defaults: { a: 0 }, updatablePaths: ['a'] });
    const log: ConsensusLog<ConfigCommand> = {
      append: () => Promise.resolve(1),
      readIndex: () => Promise.resolve(0),
      appliedIndex: () => 0,
      onApplied: () => () => undefined,
      onRestore: () => () => undefined,
      onRestoreEnd: () => () => undefined,
    };
    const cluster = createClusterConfig(config, log, () => undefined);
    const writing = cluster.setClusterWide('a', 1).then(
      () => 'resolved',
      (error: unknown) => (error as FoundationError).code,
    );
    await Promise.resolve();
    await Promise.resolve();
    cluster.close();
    expect(await writing).toBe(6013);
    await expect(cluster.setClusterWide('a', 2)).rejects.toMatchObject({ code: 6013 });
  });
});


/**
 * Rules where a burst must not exceed the rate and a tier its cap, and a node of them (its
 * environment given) that records what its subscribers hear.
 */
const TIERED = {
  defaults: { limits: { rate: 10, burst: 5 }, tier: 0, tierMax: 9 },
  schema: {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: (value: unknown) => {
        const { limits, tier, tierMax } = value as { limits: { rate: number; burst: number }; tier: number; tierMax: number };
        if (limits.burst > limits.rate) return { issues: [{ message: 'burst above rate', path: ['limits', 'burst'] }] };
        if (tier > tierMax) return { issues: [{ message: 'tier above its cap', path: ['tier'] }] };
        return { value };
      },
    },
  } as StandardSchemaV1<unknown, unknown>,
  updatablePaths: ['limits', 'tier'],
};
/** An environment that caps the rate at 3 (burst 1) and the tier at 1. */
const TIER_ENVIRONMENT = { NODE_LIMITS__RATE: '3', NODE_LIMITS__BURST: '1', NODE_TIER_MAX: '1' };
function tieredNode(environment?: Record<string, string>) {
  const consensus = createUnstartedConsensus();
  const config: Config<unknown> = createConfig({ ...TIERED, ...(environment === undefined ? {} : { sources: { environment: { prefix: 'NODE', variables: environment } } }) });
  attachClusterConfig(consensus, config, () => undefined, TIERED);
  const heard: string[] = [];
  config.subscribe((change: ConfigNotification<unknown>) => {
    heard.push(change.type === 'config-reset' ? 'reset' : `${change.path.join('.')} ${JSON.stringify(change.previous)} -> ${JSON.stringify(change.value)}`);
  });
  return { stateMachine: consensus.stateMachine, config, heard, apply: (commands: readonly ConfigCommand[]) => applyInOrder(consensus, 'config', commands) };
}

describe('nodes whose own layers differ (review finding)', () => {
  // Each node judged a cluster-wide write against its whole config, local layers included, and
  // kept in its snapshots only what it accepted: a node whose local update, file or environment
  // made it refuse a write left that write out of its snapshots, and a node that installed one
  // lost the value for good. Writes are now judged against the defaults, the schema and the
  // cluster's values alone, the same on every node.
  const rules = {
    defaults: { limits: { rate: 10, burst: 5 }, feature: { on: false, names: ['a', 'b'] } },
    /** The burst, and the number of names, may not exceed the rate. */
    schema: {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value: unknown) => {
          const { limits, feature } = value as { limits: { rate: number; burst: number }; feature: { names: unknown[] } };
          if (limits.burst > limits.rate) return { issues: [{ message: 'burst above rate', path: ['limits', 'burst'] }] };
          if (feature.names.length > limits.rate) return { issues: [{ message: 'more names than the rate', path: ['feature', 'names'] }] };
          return { value };
        },
      },
    } as StandardSchemaV1<unknown, unknown>,
    updatablePaths: ['limits', 'feature'],
  };
  type Layers = { readonly local?: readonly ConfigCommand[]; readonly environment?: Record<string, string> };

  /** A node with the cluster's rules, and layers of its own: local updates, environment variables. */
  function createJudgedNode(layers: Layers = {}, nodeRules: typeof rules | (Omit<typeof rules, 'updatablePaths'> & { updatablePaths: string[][] }) = rules) {
    const consensus = createUnstartedConsensus();
    const config: Config<unknown> = createConfig({ ...nodeRules, ...(layers.environment === undefined ? {} : { sources: { environment: { prefix: 'NODE', variables: layers.environment } } }) });
    for (const { path, value } of layers.local ?? []) config.update(path, value);
    const refused: FoundationError[] = [];
    const clusterConfig = attachClusterConfig(consensus, config, (error) => refused.push(error), nodeRules);
    const apply = (commands: readonly ConfigCommand[]): void => applyInOrder(consensus, 'config', commands);
    return { stateMachine: consensus.stateMachine, config, clusterConfig, refused, apply };
  }

  it('keeps the same cluster-wide values on every node, reports the write a node\'s own layers refuse, and takes it once a later write makes it valid there', () => {
    const plain = createJudgedNode();
    const updated = createJudgedNode({ local: [set('limits', { rate: 2, burst: 1 })] }); // refuses burst 4 and a third name
    const environment = createJudgedNode({ environment: { NODE_LIMITS__RATE: '3', NODE_LIMITS__BURST: '1' } }); // refuses burst 4 and a fourth name
    const log = [set('limits.burst', 4), set('feature.names.2', 'c'), set('feature.names.3', 'd'), set('limits.rate', 6)];
    for (const node of [plain, updated, environment]) node.apply(log);

    const expected = [set('feature.names.2', 'c'), set('feature.names.3', 'd'), set('limits.burst', 4), set('limits.rate', 6)];
    for (const node of [plain, updated, environment]) expect(node.clusterConfig.snapshotCommands()).toEqual(expected);
    expect(plain.refused).toEqual([]);
    expect(updated.refused.map((error) => error.code)).toEqual([1201, 1201, 1301]); // the burst, the third name, then no index 3
    expect(environment.refused.map((error) => error.code)).toEqual([1201, 1201]); // the burst, the fourth name
    // The rate of 6 lifts both nodes' caps: the values they refused are valid now, and a node
    // with the same layers started from the cluster's values holds them, so these take them.
    for (const node of [updated, environment]) expect(node.config.get()).toEqual(plain.config.get());
    expect(plain.config.get()).toEqual({ limits: { rate: 6, burst: 4 }, feature: { on: false, names: ['a', 'b', 'c', 'd'] } });
    const started = createJudgedNode({ environment: { NODE_LIMITS__RATE: '3', NODE_LIMITS__BURST: '1' } });
    started.stateMachine.restore(plain.stateMachine.snapshot());
    expect(started.config.get()).toEqual(environment.config.get());

    // A node that installs any of their snapshots holds what the cluster holds.
    for (const source of [plain, updated, environment]) {
      const fresh = createJudgedNode();
      fresh.stateMachine.restore(source.stateMachine.snapshot());
      expect(fresh.clusterConfig.snapshotCommands()).toEqual(expected);
      expect(fresh.config.get()).toEqual(plain.config.get());
      expect(fresh.refused).toEqual([]);
    }
  });

  it('takes a cluster value its own layers refused as soon as a change of those layers alone lifts the cause, and subscribers hear it once', () => {
    // The node's local update capped its rate at 2, so it refused the cluster's burst of 4. It
    // tried again only after the next cluster write: a local change raising the rate (or taking
    // it back) left it without the cluster's value until some unrelated write, maybe never,
    // where a node with those layers started from the cluster's values holds it.
    const plain = createJudgedNode();
    plain.apply([set('limits.burst', 4)]);
    const changes: { readonly change: (config: Config<unknown>) => unknown; readonly heard: readonly string[] }[] = [
      { change: (config) => config.update('limits.rate', 6), heard: ['limits.rate 2 -> 6', 'limits.burst 1 -> 4'] },
      {
        change: (config) => config.updateMany([{ path: 'limits.rate', value: 6 }, { path: 'feature.on', value: true }]),
        heard: ['limits.rate 2 -> 6', 'feature.on false -> true', 'limits.burst 1 -> 4'],
      },
      { change: (config) => config.revert('limits'), heard: ['limits {"rate":2,"burst":1} -> {"rate":10,"burst":5}', 'limits.burst 5 -> 4'] },
      { change: (config) => config.reset(), heard: ['reset', 'limits.burst 5 -> 4'] },
    ];
    for (const { change, heard } of changes) {
      const node = createJudgedNode({ local: [set('limits', { rate: 2, burst: 1 })] });
      node.apply([set('limits.burst', 4)]);
      expect(node.refused.map((error) => error.code)).toEqual([1201]);
      expect(node.config.get('limits.burst' as never)).toBe(1);
      const subscriber = listen(node.config);

      change(node.config);

      expect(node.config.get('limits.burst' as never)).toBe(4);
      expect(subscriber).toEqual(heard);
      expect(node.refused).toHaveLength(1); // not reported again
      expect(node.clusterConfig.snapshotCommands()).toEqual(plain.clusterConfig.snapshotCommands());
    }
    // As a node with the same layers started from the cluster's values.
    const updated = createJudgedNode({ local: [set('limits', { rate: 2, burst: 1 })] });
    updated.apply([set('limits.burst', 4)]);
    updated.config.update('limits.rate', 6);
    const started = createJudgedNode({ local: [set('limits', { rate: 2, burst: 1 }), set('limits.rate', 6)] });
    started.stateMachine.restore(plain.stateMachine.snapshot());
    expect(updated.config.get()).toEqual(started.config.get());
  });

  it('refuses on every node alike a write the cluster\'s values refuse, though a node\'s own layers would take it', () => {
    const plain = createJudgedNode();
    const generous = createJudgedNode({ local: [set('limits.rate', 50)] }); // would take burst 20
    for (const node of [plain, generous]) node.apply([set('limits.burst', 20), set('limits.rate', 30)]);

    for (const node of [plain, generous]) expect(node.clusterConfig.snapshotCommands()).toEqual([set('limits.rate', 30)]);
    expect(generous.config.get('limits' as never)).toEqual({ rate: 30, burst: 5 });
    expect(generous.refused.map((error) => error.code)).toEqual([1201]);
  });

  it('gives back a cluster value the cluster replaced with one this node refuses, live or restored, as a node started from the cluster\'s values (review finding)', () => {
    // The node's environment caps its rate at 3: it takes the cluster's burst 2, and refuses the
    // burst 8 that replaces it. It went on holding burst 2, which no command or snapshot of the
    // cluster set any more, while a node with the same environment started from a snapshot held
    // its own burst 1: two nodes with the same layers and the same cluster values differed.
    const environment = { NODE_LIMITS__RATE: '3', NODE_LIMITS__BURST: '1' };
    const plain = createJudgedNode();
    const live = createJudgedNode({ environment });
    const restored = createJudgedNode({ environment });
    const log = [set('limits.burst', 2), set('limits.burst', 8)];
    for (const node of [plain, live]) node.apply(log);
    restored.apply([set('limits.burst', 2)]);
    restored.stateMachine.restore(plain.stateMachine.snapshot());
    const started = createJudgedNode({ environment });
    started.stateMachine.restore(plain.stateMachine.snapshot());

    expect(started.config.get('limits' as never)).toEqual({ rate: 3, burst: 1 });
    expect(live.config.get('limits' as never)).toEqual({ rate: 3, burst: 1 });
    expect(restored.config.get('limits' as never)).toEqual({ rate: 3, burst: 1 });
    for (const node of [live, restored, started]) expect(node.clusterConfig.snapshotCommands()).toEqual([set('limits.burst', 8)]);
  });

  it('gives back the cluster value it held above a path whose new value this node refuses, live as restored', () => {
    // The node's environment caps its rate at 3, so it refuses a fourth name. The cluster set
    // `feature` whole, then a third name and a fourth under it: the cluster's `feature` now holds
    // four names. Live, the node refused only the fourth and went on holding the cluster's older
    // `feature` (with the third name), which the cluster no longer holds; a node with the same
    // environment started from the cluster's snapshot refuses `feature` whole and holds its layers'.
    const environment = { NODE_LIMITS__RATE: '3', NODE_LIMITS__BURST: '1' };
    const plain = createJudgedNode();
    const live = createJudgedNode({ environment });
    const log = [set('feature', { on: true, names: ['a', 'b'] }), set('feature.names.2', 'c'), set('feature.names.3', 'd')];
    for (const node of [plain, live]) node.apply(log);
    const started = createJudgedNode({ environment });
    started.stateMachine.restore(plain.stateMachine.snapshot());

    expect(plain.config.get('feature' as never)).toEqual({ on: true, names: ['a', 'b', 'c', 'd'] });
    expect(started.config.get('feature' as never)).toEqual({ on: false, names: ['a', 'b'] });
    expect(live.config.get()).toEqual(started.config.get());
    for (const node of [live, started]) expect(node.clusterConfig.snapshotCommands()).toEqual(plain.clusterConfig.snapshotCommands());
  });

  it('takes a value set under a cluster value it does not hold folded into that value, whole or not at all, live as restored (review finding)', () => {
    // The node's environment caps its rate at 3. Live, a value set under a cluster value it
    // refused (or gave back) went onto its own layers: a third name onto its own two, a list the
    // cluster never held, and `feature.names` onto its own `feature` while the cluster's whole
    // `feature` (on, one name) was one it takes. A node started from the cluster's snapshot
    // folds the two and takes or refuses the whole.
    const environment = { NODE_LIMITS__RATE: '3', NODE_LIMITS__BURST: '1' };
    const logs = [
      [set('feature.names', ['x', 'x', 'x', 'x']), set('feature.names.2', 'y')], // never held: refused whole
      [set('feature.names', ['x', 'x', 'x']), set('feature.names.3', 'z'), set('feature.names.2', 'y')], // given back: refused whole
      [set('feature', { on: true, names: ['x', 'x', 'x', 'x'] }), set('feature.names', ['y'])], // never held: taken whole
    ];
    const expected = [
      { on: false, names: ['a', 'b'] },
      { on: false, names: ['a', 'b'] },
      { on: true, names: ['y'] },
    ];
    logs.forEach((log, position) => {
      const plain = createJudgedNode();
      const live = createJudgedNode({ environment });
      for (const node of [plain, live]) node.apply(log);
      const started = createJudgedNode({ environment });
      started.stateMachine.restore(plain.stateMachine.snapshot());

      expect(started.config.get('feature' as never)).toEqual(expected[position]);
      expect(live.config.get()).toEqual(started.config.get());
      expect(live.clusterConfig.snapshotCommands()).toEqual(plain.clusterConfig.snapshotCommands());
    });
  });

  it('takes a write of the whole config whole, whatever its own layers hold, live or restored, as a node started from the cluster\'s values (review finding: refuted)', () => {
    // A review expected a node's layers to refuse a cluster value at the root path, which could
    // then not be given back (no path is above it, and the root cannot be reverted). A write at
    // the root replaces the whole runtime tree, the file's, the environment's and local values
    // under it included, and the node's schema sees the very tree the judge accepted: no node's
    // own layers can refuse it. The values the environment caps go with it, and come back only
    // under a later write (as on a node started from the cluster's values).
    const wholeRules = { ...rules, updatablePaths: [[]] };
    const environment = { NODE_LIMITS__RATE: '3', NODE_LIMITS__BURST: '1' };
    const layers = { environment, local: [set('feature.on', true)] };
    const whole = { limits: { rate: 10, burst: 8 }, feature: { on: false, names: ['a', 'b', 'c', 'd'] } };
    const log = [set('limits.burst', 2), { type: 'config-set' as const, path: [], value: whole }, set('limits.burst', 9), set('feature.names.4', 'e')];
    const plain = createJudgedNode({}, wholeRules);
    const live = createJudgedNode(layers, wholeRules);
    const restored = createJudgedNode(layers, wholeRules);
    for (const node of [plain, live]) node.apply(log);
    restored.apply(log.slice(0, 1));
    restored.stateMachine.restore(plain.stateMachine.snapshot());
    const started = createJudgedNode(layers, wholeRules);
    started.stateMachine.restore(plain.stateMachine.snapshot());

    expect(plain.config.get()).toEqual({ limits: { rate: 10, burst: 9 }, feature: { on: false, names: ['a', 'b', 'c', 'd', 'e'] } });
    for (const node of [live, restored, started]) {
      expect(node.config.get()).toEqual(plain.config.get());
      expect(node.refused).toEqual([]);
      expect(node.clusterConfig.snapshotCommands()).toEqual(plain.clusterConfig.snapshotCommands());
    }
  });

  it('sets a write of the whole config again, whole, over a local change that took it away', () => {
    const wholeRules = { ...rules, updatablePaths: [[]] };
    const whole = { limits: { rate: 10, burst: 8 }, feature: { on: true, names: ['x'] } };
    const log = [{ type: 'config-set' as const, path: [], value: whole }, set('limits.burst', 9)];
    const plain = createJudgedNode({}, wholeRules);
    plain.apply(log);
    const changes: ((config: Config<unknown>) => unknown)[] = [(config) => config.reset(), (config) => config.update('feature.on', false), (config) => config.revert('limits')];
    for (const change of changes) {
      const node = createJudgedNode({}, wholeRules);
      node.apply(log);
      change(node.config);
      expect(node.config.get()).toEqual({ limits: { rate: 10, burst: 9 }, feature: { on: true, names: ['x'] } });
      expect(node.config.get()).toEqual(plain.config.get());
      expect(node.refused).toEqual([]);
    }
  });

  it('tries again at the end of a restore the values it refused there, as a live node does after a write (review finding)', () => {
    // The environment caps the rate at 3 and the tier at 1. Live, the node refuses the burst
    // of 4, takes it once the rate of 6 comes (tried again after that write), and refuses the
    // tier of 5 for good. A restored node sets the three in one batch, which the tier spoils;
    // the batch is then split in halves: the burst alone (refused, the rate not in yet), then
    // the rate and the tier. The burst was not tried again until the next cluster write, so the
    // restored node held its environment's burst where the live one held the cluster's.
    const log = [set('limits.burst', 4), set('limits.rate', 6), set('tier', 5)];
    const plain = tieredNode();
    const live = tieredNode(TIER_ENVIRONMENT);
    for (const node of [plain, live]) node.apply(log);
    const started = tieredNode(TIER_ENVIRONMENT);
    started.stateMachine.restore(plain.stateMachine.snapshot());
    const restored = tieredNode(TIER_ENVIRONMENT);
    restored.apply(log.slice(0, 1));
    restored.stateMachine.restore(plain.stateMachine.snapshot());

    expect(live.config.get()).toEqual({ limits: { rate: 6, burst: 4 }, tier: 0, tierMax: 1 });
    expect(started.config.get()).toEqual(live.config.get());
    expect(restored.config.get()).toEqual(live.config.get());
  });

  it('tells subscribers a value refused in a restore and taken once the rest is in once, from what the node held to the cluster\'s value (review of 9e2cba7)', () => {
    // The burst of 4 is refused in the restore's runs (the rate of 6 not yet in). It was given
    // back to the layers (2 -> 1) and then taken (1 -> 4): subscribers heard a value this node
    // held neither before the restore nor after it.
    const log = [set('limits.burst', 2), set('limits.burst', 4), set('limits.rate', 6), set('tier', 5)];
    const plain = tieredNode();
    plain.apply(log);
    const restored = tieredNode(TIER_ENVIRONMENT);
    restored.apply(log.slice(0, 1));
    expect(restored.config.get()).toEqual({ limits: { rate: 3, burst: 2 }, tier: 0, tierMax: 1 });
    restored.heard.length = 0;
    restored.stateMachine.restore(plain.stateMachine.snapshot());

    expect(restored.config.get()).toEqual({ limits: { rate: 6, burst: 4 }, tier: 0, tierMax: 1 });
    expect(restored.heard).toEqual(['limits.rate 3 -> 6', 'limits.burst 2 -> 4']);
  });

  it('sets a cluster value it holds again on top of a local reset, revert or update that took it away, as a node started from the cluster\'s values (review finding)', () => {
    // The cluster's values sit above the node's own layers. The node held the cluster's burst
    // of 8 and `feature.on`; a local reset, a revert or an update there set its layers' value,
    // and nothing set the cluster's again (only values the node did not hold were tried): it
    // ran for good with a value that a node started from the cluster's values does not hold.
    const log = [set('limits.burst', 8), set('feature.on', true)];
    const plain = createJudgedNode();
    plain.apply(log);
    const changes: { readonly change: (config: Config<unknown>) => unknown; readonly heard: readonly string[] }[] = [
      { change: (config) => config.reset(), heard: ['reset', 'feature.on false -> true', 'limits.burst 5 -> 8'] },
      { change: (config) => config.revert('limits.burst'), heard: ['limits.burst 8 -> 5', 'limits.burst 5 -> 8'] },
      { change: (config) => config.update('limits.burst', 3), heard: ['limits.burst 8 -> 3', 'limits.burst 3 -> 8'] },
      { change: (config) => config.update('limits', { rate: 9, burst: 2 }), heard: ['limits {"rate":10,"burst":8} -> {"rate":9,"burst":2}', 'limits.burst 2 -> 8'] },
      { change: (config) => config.revert('feature'), heard: ['feature {"on":true,"names":["a","b"]} -> {"on":false,"names":["a","b"]}', 'feature.on false -> true'] },
      {
        // Each path of the batch is heard in turn: both values go back.
        change: (config) => config.updateMany([{ path: 'feature.on', value: false }, { path: 'limits.burst', value: 1 }]),
        heard: ['feature.on true -> false', 'limits.burst 8 -> 1', 'feature.on false -> true', 'limits.burst 1 -> 8'],
      },
    ];
    for (const { change, heard } of changes) {
      const node = createJudgedNode();
      node.apply(log);
      const subscriber = listen(node.config);

      change(node.config);

      expect(subscriber).toEqual(heard);
      expect(node.config.get('limits.burst' as never)).toBe(8);
      expect(node.config.get('feature.on' as never)).toBe(true);
      expect(node.refused).toEqual([]);
      // As a node with those layers started from the cluster's values.
      const started = createJudgedNode();
      change(started.config);
      started.stateMachine.restore(plain.stateMachine.snapshot());
      expect(node.config.get()).toEqual(started.config.get());
      expect(node.clusterConfig.snapshotCommands()).toEqual(plain.clusterConfig.snapshotCommands());
    }
  });

  it('takes a later write under a cluster value a local change took away folded into that value, as a node started from the cluster\'s values (review finding)', () => {
    // The node held the cluster's `feature`; a local reset (or revert under it) set its layers'
    // `feature`, while the node still counted the cluster's as held, so the later
    // `feature.names.1` was set on the layers' names alone: a `feature` the cluster never held.
    const log = [set('feature', { on: true, names: ['x'] }), set('feature.names.1', 'y')];
    const plain = createJudgedNode();
    plain.apply(log);
    expect(plain.config.get('feature' as never)).toEqual({ on: true, names: ['x', 'y'] });
    const changes: ((config: Config<unknown>) => unknown)[] = [(config) => config.reset(), (config) => config.revert('feature.on'), (config) => config.update('feature.names', ['p', 'q', 'r'])];
    for (const change of changes) {
      const node = createJudgedNode();
      node.apply(log.slice(0, 1));
      change(node.config);
      node.apply(log.slice(1));

      const started = createJudgedNode();
      change(started.config);
      started.stateMachine.restore(plain.stateMachine.snapshot());
      expect(node.config.get()).toEqual(started.config.get());
      expect(node.config.get()).toEqual(plain.config.get());
      expect(node.refused).toEqual([]);
    }
  });

  it('reports a cluster value it held that its layers refuse once a local change took it away, and takes it once they allow it', () => {
    // The environment caps the rate at 3: the node takes the cluster's burst of 3. A local
    // update of `limits` lowers the rate to 2: the burst of 3 comes back on top, refused there.
    const node = createJudgedNode({ environment: { NODE_LIMITS__RATE: '3', NODE_LIMITS__BURST: '1' } });
    node.apply([set('limits.burst', 3)]);
    expect(node.config.get('limits' as never)).toEqual({ rate: 3, burst: 3 });

    node.config.update('limits', { rate: 2, burst: 1 });
    expect(node.config.get('limits' as never)).toEqual({ rate: 2, burst: 1 });
    expect(node.refused.map((error) => error.code)).toEqual([1201]);

    node.config.update('limits.rate', 4);
    expect(node.config.get('limits' as never)).toEqual({ rate: 4, burst: 3 });
    node.config.update('limits.rate', 5);
    expect(node.refused).toHaveLength(1); // reported once
  });

  it('lets a subscriber that sets its own value on hearing the cluster\'s have it, after one more try at the turn\'s end, rather than trade it for ever', async () => {
    // With the cluster's values on top, a subscriber that clamps the burst and this node setting
    // the cluster's again answered each other without end.
    const node = createJudgedNode();
    node.config.subscribe((change) => {
      if (change.type === 'config-updated' && change.path.join('.') === 'limits.burst' && (change.value as number) > 6) node.config.update('limits.burst', 6);
    });
    const subscriber = listen(node.config);

    node.apply([set('limits.burst', 8)]);
    // Set, clamped, set again on top of the clamp (a local change), clamped: left so.
    expect(subscriber).toEqual(['limits.burst 5 -> 8', 'limits.burst 8 -> 6', 'limits.burst 6 -> 8', 'limits.burst 8 -> 6']);
    node.config.update('feature.on', true); // in the same turn: not tried
    expect(subscriber).toHaveLength(5);
    await nextTurn();
    // Tried once more at the turn's end, clamped again: left until the next change.
    expect(subscriber.slice(5)).toEqual(['limits.burst 6 -> 8', 'limits.burst 8 -> 6']);

    await nextTurn();
    subscriber.length = 0;
    node.config.update('feature.on', false);
    await nextTurn();
    expect(subscriber).toEqual(['feature.on true -> false', 'limits.burst 6 -> 8', 'limits.burst 8 -> 6', 'limits.burst 6 -> 8', 'limits.burst 8 -> 6']);
    expect(node.config.get('limits.burst' as never)).toBe(6);
    expect(node.refused).toEqual([]);
  });

  it('sets a cluster value a second local change takes away in the same turn again at the turn\'s end', async () => {
    const node = createJudgedNode();
    node.apply([set('limits.burst', 8)]);
    node.config.reset();
    expect(node.config.get('limits.burst' as never)).toBe(8);
    node.config.revert('limits.burst');
    expect(node.config.get('limits.burst' as never)).toBe(5); // until the turn ends
    await nextTurn();
    expect(node.config.get('limits.burst' as never)).toBe(8);
  });

  it('sets a cluster value again on top of a local change that took it away without changing what the node serves (a value the schema derives the same), as a node started from the cluster\'s values (review finding)', () => {
    // `limits.burst` follows `limits.rate` unless set. The cluster sets the burst to 10, which
    // the rate of 10 already derives: stored, and told to nobody. A local revert (or a batch
    // that also changes another value) took it away, and nobody was told either: the burst
    // served stayed 10. The node still counted the cluster's burst as held, so it followed the
    // next local change of the rate (20), where a node started from the cluster's values keeps
    // the cluster's burst of 10.
    const derivedRules = {
      defaults: { limits: { rate: 10 }, mode: 'a' },
      schema: {
        '~standard': {
          version: 1,
          vendor: 'test',
          validate: (value: unknown) => {
            const { limits } = value as { limits: { rate: number; burst?: number } };
            return { value: { ...(value as object), limits: { ...limits, burst: limits.burst ?? limits.rate } } };
          },
        },
      } as StandardSchemaV1<unknown, unknown>,
      updatablePaths: ['limits', 'mode'],
    };
    const changes: ((config: Config<unknown>) => unknown)[] = [
      (config) => config.revert('limits.burst'),
      (config) =>
        config.updateMany([
          { path: 'limits.burst', revert: true },
          { path: 'mode', value: 'b' },
        ]),
    ];
    const plain = createJudgedNode({}, derivedRules as never);
    plain.apply([set('limits.burst', 10)]);
    for (const change of changes) {
      const node = createJudgedNode({}, derivedRules as never);
      node.apply([set('limits.burst', 10)]);
      change(node.config);
      node.config.update('limits.rate', 20);

      const started = createJudgedNode({}, derivedRules as never);
      change(started.config);
      started.config.update('limits.rate', 20);
      started.stateMachine.restore(plain.stateMachine.snapshot());
      expect(node.config.get('limits.burst' as never)).toBe(10);
      expect(node.config.get()).toEqual(started.config.get());
      expect(node.refused).toEqual([]);
    }
  });

  it('judges against the node\'s own config, and says why once, when the defaults do not validate without its environment', () => {
    // Nothing could be judged against defaults the schema refuses: every write would be refused.
    const withKey = {
      defaults: { limits: { rate: 10 } },
      schema: {
        '~standard': { version: 1, vendor: 'test', validate: (value: unknown) => (typeof (value as { key?: unknown }).key === 'string' ? { value } : { issues: [{ message: 'key needed', path: ['key'] }] }) },
      } as StandardSchemaV1<unknown, unknown>,
      updatablePaths: ['limits'],
    };
    const consensus = createUnstartedConsensus();
    const config: Config<unknown> = createConfig({ ...withKey, sources: { environment: { prefix: 'NODE', variables: { NODE_KEY: 'secret' } } } });
    const refused: FoundationError[] = [];
    const clusterConfig = attachClusterConfig(consensus, config, (error) => refused.push(error), withKey);
    expect(refused.map((error) => error.code)).toEqual([1201]);
    expect(clusterConfig.judgeFallback()).toBe(refused[0]);

    consensus.stateMachine.apply({ stream: 'config', command: set('limits.rate', 20) }, 1);

    expect(config.get()).toEqual({ limits: { rate: 20 }, key: 'secret' });
    expect(clusterConfig.snapshotCommands()).toEqual([set('limits.rate', 20)]);
    expect(refused).toHaveLength(1);
  });
});

/** Resolves once the current turn of the event loop, its microtasks included, has ended. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** What `config`'s subscribers hear from now on, one line per notification. */
function listen(config: Config<unknown>): string[] {
  const heard: string[] = [];
  config.subscribe((change: ConfigNotification<unknown>) => {
    heard.push(change.type === 'config-reset' ? 'reset' : `${change.path.join('.')} ${JSON.stringify(change.previous)} -> ${JSON.stringify(change.value)}`);
  });
  return heard;
}

describe('a change of a node\'s own layers that lifts what refused cluster values', () => {
  /**
   * Rules where `a` may not exceed `capA` nor `b` `capB`, and a node of them whose local updates
   * cap both at 1, so it refuses the cluster's a = 5 and b = 5; `validations` counts its schema's
   * runs, and `onReport` (settable) hears each error reported after those two.
   */
  function cappedNode() {
    const counter = { validations: 0 };
    const rules = {
      defaults: { a: 0, b: 0, capA: 9, capB: 9 },
      schema: {
        '~standard': {
          version: 1,
          vendor: 'test',
          validate: (value: unknown) => {
            counter.validations += 1;
            const { a, b, capA, capB } = value as { a: number; b: number; capA: number; capB: number };
            if (a > capA) return { issues: [{ message: 'a above its cap', path: ['a'] }] };
            if (b > capB) return { issues: [{ message: 'b above its cap', path: ['b'] }] };
            return { value };
          },
        },
      } as StandardSchemaV1<unknown, unknown>,
      updatablePaths: ['a', 'b', 'capA', 'capB'],
    };
    const consensus = createUnstartedConsensus();
    const config: Config<unknown> = createConfig(rules);
    config.updateMany([
      { path: 'capA', value: 1 },
      { path: 'capB', value: 1 },
    ]);
    const refused: FoundationError[] = [];
    const hooks: { onReport: (error: FoundationError) => void } = { onReport: () => undefined };
    const clusterConfig = attachClusterConfig(
      consensus,
      config,
      (error) => {
        refused.push(error);
        hooks.onReport(error);
      },
      rules,
    );
    const apply = (commands: readonly ConfigCommand[]): void => applyInOrder(consensus, 'config', commands);
    apply([set('a', 5), set('b', 5)]);
    expect(refused.map((error) => error.code)).toEqual([1201, 1201]);
    return { config, clusterConfig, refused, apply, counter, hooks };
  }

  it('tries again once per change of its layers, at the cost of a few validations per value held back, and not at all when none is', () => {
    const node = cappedNode();
    const heard = listen(node.config);
    node.counter.validations = 0;

    node.config.update('capA', 10);
    // The update (1), then both held-back values together (refused: b), a alone (taken), b alone
    // (refused). Its own value arriving does not set the retry off again (a fifth).
    expect(node.counter.validations).toBe(4);
    expect(node.config.get()).toEqual({ a: 5, b: 0, capA: 10, capB: 1 });
    expect(heard).toEqual(['capA 1 -> 10', 'a 0 -> 5']);

    node.counter.validations = 0;
    node.config.update('capA', 11); // lifts nothing: b alone is tried, and refused
    expect(node.counter.validations).toBe(2);
    node.config.update('capB', 10);
    expect(node.config.get()).toEqual({ a: 5, b: 5, capA: 11, capB: 10 });

    node.counter.validations = 0;
    node.config.update('capA', 12); // nothing held back: the update alone
    expect(node.counter.validations).toBe(1);
    expect(heard).toEqual(['capA 1 -> 10', 'a 0 -> 5', 'capA 10 -> 11', 'capB 1 -> 10', 'b 0 -> 5', 'capA 11 -> 12']);
    expect(node.refused).toHaveLength(2);
  });

  it('takes a value whose cause a subscriber lifts on hearing another cluster value arrive, after a local change or a cluster write', () => {
    // The subscriber raises the cap of a when b arrives, after a was tried (a comes first by
    // path). After a local change, b arrives in the retry that change set off; after a cluster
    // write, in the retry that follows the write, and the subscriber's change then comes while
    // this node sets the cluster's values: it is tried again once that retry is done.
    const lifts: ((node: ReturnType<typeof cappedNode>) => void)[] = [(node) => node.config.update('capB', 10), (node) => node.apply([set('capB', 10)])];
    for (const lift of lifts) {
      const node = cappedNode();
      node.config.subscribe((change) => {
        if (change.type === 'config-updated' && change.path.join('.') === 'b') node.config.update('capA', 10);
      });
      const heard = listen(node.config);

      lift(node);

      expect(node.config.get()).toEqual({ a: 5, b: 5, capA: 10, capB: 10 });
      expect(heard).toEqual(['capB 1 -> 10', 'b 0 -> 5', 'capA 1 -> 10', 'a 0 -> 5']);
      expect(node.refused).toHaveLength(2);
    }
  });

  it('tries again once, at the end of the write, when a handler of the write\'s refusal changes the node\'s layers (review finding)', () => {
    // The node holds back a and b. The cluster writes a = 7, which its cap refuses; the handler
    // of that refusal raises the cap. The retry it set off ran in the middle of the write: it
    // took a = 7, the write then gave a back (refused), and the retry at its end took it again:
    // subscribers heard 0 -> 7, 7 -> 0, 0 -> 7.
    const node = cappedNode();
    node.hooks.onReport = () => node.config.update('capA', 10);
    const heard = listen(node.config);

    node.apply([set('a', 7)]);

    expect(heard).toEqual(['capA 1 -> 10', 'a 0 -> 7']);
    expect(node.config.get()).toEqual({ a: 7, b: 0, capA: 10, capB: 1 });
    expect(node.refused.map((error) => error.code)).toEqual([1201, 1201, 1201]); // a's write, once
  });
});

/**
 * A log shared by several nodes' cluster configs: `append` queues a command, `deliver` commits
 * the queue and applies it on every node in order, as Raft would.
 */
function createSharedLog() {
  const pending: ConfigCommand[] = [];
  let committed = 0;
  const replicas: { applied: number; readonly listeners: Set<(entry: { readonly index: number; readonly command: ConfigCommand }) => void> }[] = [];
  const replica = (): ConsensusLog<ConfigCommand> => {
    const state = { applied: 0, listeners: new Set<(entry: { readonly index: number; readonly command: ConfigCommand }) => void>() };
    replicas.push(state);
    return {
      append: (command) => {
        pending.push(command);
        return Promise.resolve(committed + pending.length);
      },
      readIndex: () => Promise.resolve(committed),
      appliedIndex: () => state.applied,
      onApplied: (listener) => {
        state.listeners.add(listener);
        return () => state.listeners.delete(listener);
      },
      onRestore: () => () => undefined,
      onRestoreEnd: () => () => undefined,
    };
  };
  const deliver = (): void => {
    for (const command of pending.splice(0)) {
      committed += 1;
      for (const state of replicas) {
        state.applied = committed;
        for (const listener of state.listeners) listener({ index: committed, command });
      }
    }
  };
  return { replica, deliver };
}

describe('setClusterWide on nodes whose own layers differ (review finding)', () => {
  // The writer was checked, and told the outcome, against the config of the node it asked:
  // the same write resolved on one node and was refused on another.
  const defaults = { limits: { rate: 10, burst: 5 } };
  const schema: StandardSchemaV1<unknown, unknown> = {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: (value) => {
        const { limits } = value as { limits: { rate: number; burst: number } };
        return limits.burst > limits.rate ? { issues: [{ message: 'burst above rate', path: ['limits', 'burst'] }] } : { value };
      },
    },
  };
  const rules = { defaults, schema, updatablePaths: ['limits'] };

  it.each([
    ['accepts a write the cluster takes, on a node whose own layers refuse it', 8, 'fulfilled'],
    ['refuses a write the cluster refuses, on a node whose own layers take it', 20, 'rejected'],
  ] as const)('%s', async (_name, burst, outcome) => {
    const log = createSharedLog();
    const refused: FoundationError[][] = [];
    const nodes = [[], [set('limits', { rate: 2, burst: 1 })], [set('limits.rate', 50)]].map((local) => {
      const config = createConfig({ ...rules });
      for (const { path, value } of local) config.update(path, value);
      const errors: FoundationError[] = [];
      refused.push(errors);
      return { config, cluster: createClusterConfig(config, log.replica(), (error) => errors.push(error), rules) };
    });

    const writes = nodes.map(({ cluster }) => cluster.setClusterWide('limits.burst', burst));
    await Promise.resolve();
    log.deliver();
    const outcomes = await Promise.allSettled(writes);

    expect(outcomes.map(({ status }) => status)).toEqual([outcome, outcome, outcome]);
    const snapshots = nodes.map(({ cluster }) => cluster.snapshotCommands());
    expect(snapshots).toEqual(outcome === 'fulfilled' ? [0, 1, 2].map(() => [set('limits.burst', burst)]) : [[], [], []]);
    if (outcome === 'fulfilled') {
      // Committed three times: the node whose rate is 2 refuses each of them, and says so.
      expect(refused.map((errors) => errors.length)).toEqual([0, 3, 0]);
      expect(nodes.map(({ config }) => config.get('limits.burst' as never))).toEqual([8, 1, 8]);
    }
    for (const { cluster } of nodes) cluster.close();
  });
});

describe('a write whose entry this node skips by installing a snapshot past it (review finding)', () => {
  // A node that fell far behind the leader while its setClusterWide was in flight installed a
  // snapshot past the write's entry, and the write resolved once the snapshot was in: the caller
  // was told it took effect though the cluster had refused it, and the config kept its default.
  // A snapshot holds the values the cluster accepted, not what it made of each command, so this
  // node cannot tell: the write rejects with an error that says so. A write applied here before
  // the snapshot still tells its outcome.
  const rules = {
    defaults: { limits: { rate: 10, burst: 5 } },
    /** The burst may not exceed the rate. */
    schema: {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value: unknown) => {
          const { limits } = value as { limits: { rate: number; burst: number } };
          return limits.burst > limits.rate ? { issues: [{ message: 'burst above rate', path: ['limits', 'burst'] }] } : { value };
        },
      },
    } as StandardSchemaV1<unknown, unknown>,
    updatablePaths: ['limits'],
  };

  /** A node over the real state machine whose appends commit when the test says, at the index it gives. */
  function createWritingNode() {
    const consensus = createUnstartedConsensus();
    const config: Config<unknown> = createConfig({ ...rules });
    const commits: ((index: number) => void)[] = [];
    const stream = consensus.log<ConfigCommand>('config', { retain: { state: () => clusterConfig.snapshotCommands() } });
    const log: ConsensusLog<ConfigCommand> = { ...stream, append: () => new Promise<number>((resolve) => commits.push(resolve)) };
    const clusterConfig = createClusterConfig(config, log, () => undefined, rules);
    const apply = (commands: readonly ConfigCommand[]): void => applyInOrder(consensus, 'config', commands);
    const commit = (index: number): void => commits.shift()!(index);
    return { stateMachine: consensus.stateMachine, config, clusterConfig, apply, commit };
  }

  /** The snapshot of a leader that applied `commands` from index 1, and a kv entry after them. */
  function leaderSnapshot(commands: readonly ConfigCommand[]): Uint8Array {
    const leader = createWritingNode();
    leader.apply(commands);
    applyInOrder(leader, 'kv', [{ op: 'put', key: 'k', value: 1 }]);
    return leader.stateMachine.snapshot();
  }

  const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  const outcomeOf = (write: Promise<void>): Promise<string | number> =>
    write.then(
      () => 'resolved',
      (error: unknown) => (error as FoundationError).code,
    );

  // Another node's rate 6 commits just before the burst 8 (index 2), which the cluster then refuses.
  const refusedLog = [set('limits.rate', 6), set('limits.burst', 8)];
  const acceptedLog = [set('limits.rate', 30), set('limits.burst', 8)];

  it.each([
    ['refused by the cluster, answered before the snapshot', refusedLog, 'before', { rate: 6, burst: 5 }],
    ['refused by the cluster, answered after the snapshot', refusedLog, 'after', { rate: 6, burst: 5 }],
    ['taken by the cluster, answered before the snapshot', acceptedLog, 'before', { rate: 30, burst: 8 }],
    ['taken by the cluster, answered after the snapshot', acceptedLog, 'after', { rate: 30, burst: 8 }],
  ] as const)('rejects with ClusterWriteOutcomeUnknownError (6110): %s', async (_name, log, answered, limits) => {
    const node = createWritingNode();
    const write = node.clusterConfig.setClusterWide('limits.burst', 8);
    const outcome = outcomeOf(write);
    await settle();
    if (answered === 'before') {
      node.commit(2);
      await settle();
    }
    node.stateMachine.restore(leaderSnapshot(log));
    if (answered === 'after') node.commit(2);

    expect(await outcome).toBe(6110);
    const error = (await write.catch((caught: unknown) => caught)) as FoundationError;
    expect(error.context).toEqual({ path: ['limits', 'burst'], index: 2, snapshotIndex: 3 });
    expect(error.isRetryable()).toBe(false);
    expect(node.config.get('limits' as never)).toEqual(limits);
    node.clusterConfig.close();
  });

  it.each([
    ['refused by the cluster', refusedLog, 1201],
    ['taken by the cluster', acceptedLog, 'resolved'],
  ] as const)('tells the outcome of a write applied here before a snapshot past it: %s', async (_name, log, expected) => {
    const node = createWritingNode();
    const outcome = outcomeOf(node.clusterConfig.setClusterWide('limits.burst', 8));
    await settle();
    node.apply(log);
    node.stateMachine.restore(leaderSnapshot([...log, set('limits.rate', 40)]));
    node.commit(2);

    expect(await outcome).toBe(expected);
    node.clusterConfig.close();
  });

  describe('a write whose entry is applied only after the cluster config closed (review finding)', () => {
    // Closed before its Raft node stopped, the cluster config heard nothing of the entries
    // applied after: a write committed among them resolved once the log had applied it, though
    // nothing here judged it, and the config never held the value.
    it('rejects with StoppedError (6013)', async () => {
      const node = createWritingNode();
      const outcome = outcomeOf(node.clusterConfig.setClusterWide('limits.burst', 8));
      await settle();
      node.clusterConfig.close();
      node.apply(acceptedLog);
      node.commit(2);

      expect(await outcome).toBe(6013);
      expect(node.config.get('limits' as never)).toEqual({ rate: 10, burst: 5 });
    });
  });

  describe('a write refused among more refusals than a bounded record kept (review finding)', () => {
    // Refusals were kept for the last 1,024 indexes only, and a writer looks for its own once it
    // runs again: after the rest of the batch Raft applies in one go (thousands of entries for a
    // follower catching up), or when its leader's answer comes in after this node applied the
    // entry. With more than 1,024 refused entries in between, the writer's refusal was gone and
    // the write resolved as if the cluster had taken it.
    const manyRefused = Array.from({ length: 1_100 }, () => set('limits.burst', 9));

    it('rejects with its refusal when the entries after it are applied in the same batch', async () => {
      const node = createWritingNode();
      const outcome = outcomeOf(node.clusterConfig.setClusterWide('limits.burst', 8));
      await settle();
      node.commit(2);
      await settle();
      node.apply([...refusedLog, ...manyRefused]);

      expect(await outcome).toBe(1201);
      expect(node.config.get('limits' as never)).toEqual({ rate: 6, burst: 5 });
      node.clusterConfig.close();
    });

    it('rejects with its refusal when its commit is confirmed after they were applied', async () => {
      const node = createWritingNode();
      const outcome = outcomeOf(node.clusterConfig.setClusterWide('limits.burst', 8));
      await settle();
      node.apply(refusedLog);
      await settle();
      node.apply(manyRefused);
      node.commit(2);

      expect(await outcome).toBe(1201);
      node.clusterConfig.close();
    });

    it('resolves a write the cluster took among them', async () => {
      const node = createWritingNode();
      const outcome = outcomeOf(node.clusterConfig.setClusterWide('limits.burst', 8));
      await settle();
      node.apply([set('limits.rate', 6), ...manyRefused, set('limits.rate', 30), set('limits.burst', 8)]);
      node.commit(manyRefused.length + 3);

      expect(await outcome).toBe('resolved');
      expect(node.config.get('limits' as never)).toEqual({ rate: 30, burst: 8 });
      node.clusterConfig.close();
    });
  });
});

describe('a write or read whose caller aborts while this node has not applied its entry (review finding)', () => {
  // The signal stopped only the append's retries: once the entry was committed, a node far
  // behind kept the caller waiting for its own apply however long that took. An abort now ends
  // the wait at once; a write that may have reached the log says its outcome is unknown.
  const rules = { defaults: { limits: { rate: 10, burst: 5 } }, updatablePaths: ['limits'] };

  /**
   * A node over the real state machine whose appends commit when the test says, at the index it
   * gives; `heard` also receives what it reports.
   */
  function createBehindNode(heard: (error: FoundationError) => void = () => undefined) {
    const consensus = createUnstartedConsensus();
    const config: Config<unknown> = createConfig({ ...rules }) as Config<unknown>;
    const commits: ((index: number) => void)[] = [];
    let appends = 0;
    const stream = consensus.log<ConfigCommand>('config', { retain: { state: () => clusterConfig.snapshotCommands() } });
    const log: ConsensusLog<ConfigCommand> = {
      ...stream,
      append: () => {
        appends += 1;
        return new Promise<number>((resolve) => commits.push(resolve));
      },
      readIndex: () => Promise.resolve(1),
    };
    const refused: FoundationError[] = [];
    const clusterConfig = createClusterConfig(
      config,
      log,
      (error) => {
        refused.push(error);
        heard(error);
      },
      rules,
    );
    const apply = (commands: readonly ConfigCommand[]): void => applyInOrder(consensus, 'config', commands);
    const commit = (index: number): void => commits.shift()!(index);
    return { stateMachine: consensus.stateMachine, config, clusterConfig, apply, commit, refused, appends: () => appends };
  }
  const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  const abortListeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length;

  it('rejects a committed write with ClusterWriteOutcomeUnknownError (6110), the reason its cause, before this node applies it; the apply later goes on as usual', async () => {
    const node = createBehindNode();
    const controller = new AbortController();
    const reason = new Error('the caller gave up');
    const write = node.clusterConfig.setClusterWide('limits.burst', 8, { signal: controller.signal });
    const outcome = write.catch((error: unknown) => error);
    await settle();
    node.commit(1);
    await settle();

    controller.abort(reason);
    const error = (await outcome) as ClusterWriteOutcomeUnknownError;

    expect(node.stateMachine.appliedIndex()).toBe(0);
    expect(error).toBeInstanceOf(ClusterWriteOutcomeUnknownError);
    expect(error.code).toBe(6110);
    expect(error.cause).toBe(reason);
    expect(error.context).toEqual({ path: ['limits', 'burst'], index: 1, snapshotIndex: null });
    expect(error.isRetryable()).toBe(false);
    expect(abortListeners(controller.signal)).toBe(0);

    // The entry applies here afterwards as any other does.
    expect(() => node.apply([set('limits.burst', 8)])).not.toThrow();
    expect(node.config.get('limits' as never)).toEqual({ rate: 10, burst: 8 });
    expect(node.refused).toEqual([]);
    expect(node.clusterConfig.snapshotCommands()).toEqual([set('limits.burst', 8)]);
    node.clusterConfig.close();
  });

  it('rejects a write whose append has not answered with ClusterWriteOutcomeUnknownError (6110), index unknown', async () => {
    const node = createBehindNode();
    const controller = new AbortController();
    const reason = new Error('the caller gave up');
    const outcome = node.clusterConfig.setClusterWide('limits.burst', 8, { signal: controller.signal }).catch((error: unknown) => error);
    await settle();

    controller.abort(reason);
    const error = (await outcome) as ClusterWriteOutcomeUnknownError;

    expect(error.code).toBe(6110);
    expect(error.cause).toBe(reason);
    expect(error.context).toEqual({ path: ['limits', 'burst'], index: null, snapshotIndex: null });
    // The append answers later, and its entry applies: nothing breaks.
    node.commit(1);
    await settle();
    expect(() => node.apply([set('limits.burst', 8)])).not.toThrow();
    expect(node.config.get('limits' as never)).toEqual({ rate: 10, burst: 8 });
    node.clusterConfig.close();
  });

  it('rejects with the reason as it is, and appends nothing, when the signal aborted before the write began', async () => {
    const node = createBehindNode();
    const reason = new Error('aborted already');
    await expect(node.clusterConfig.setClusterWide('limits.burst', 8, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(node.appends()).toBe(0);
    node.clusterConfig.close();
  });

  it('leaves no listener on the signal once a write resolves', async () => {
    const node = createBehindNode();
    const controller = new AbortController();
    const write = node.clusterConfig.setClusterWide('limits.burst', 8, { signal: controller.signal });
    await settle();
    node.commit(1);
    await settle();
    node.apply([set('limits.burst', 8)]);
    await write;
    expect(abortListeners(controller.signal)).toBe(0);
    node.clusterConfig.close();
  });

  it('rejects a read with consensus with the reason, before this node applies what the read waits for', async () => {
    const node = createBehindNode();
    const controller = new AbortController();
    const reason = new Error('the caller gave up');
    const outcome = node.clusterConfig.getWithConsensus('limits.burst', { signal: controller.signal }).catch((error: unknown) => error);
    await settle();

    controller.abort(reason);

    expect(await outcome).toBe(reason);
    expect(abortListeners(controller.signal)).toBe(0);
    expect(() => node.apply([set('limits.burst', 8)])).not.toThrow();
    node.clusterConfig.close();
  });

  // The abort can come from the apply itself: a subscriber that hears the value, or a handler of
  // the refusal, aborts the signal while this node applies the entry. The outcome is known then,
  // and was told as unknown (6110, "aborted before this node applied it").
  it('tells a write its outcome when the signal aborts while this node applies its entry: taken, it resolves', async () => {
    const node = createBehindNode();
    const controller = new AbortController();
    node.config.subscribe(() => controller.abort(new Error('heard the value')));
    const write = node.clusterConfig.setClusterWide('limits.burst', 8, { signal: controller.signal });
    const outcome = write.then(
      () => 'taken',
      (error: unknown) => error,
    );
    await settle();
    node.commit(1);
    await settle();

    node.apply([set('limits.burst', 8)]);

    expect(controller.signal.aborted).toBe(true);
    expect(await outcome).toBe('taken');
    expect(abortListeners(controller.signal)).toBe(0);
    node.clusterConfig.close();
  });

  it('tells a write its outcome when the signal aborts while this node applies its entry: refused, it rejects with the refusal', async () => {
    const controller = new AbortController();
    const node = createBehindNode(() => controller.abort(new Error('heard the refusal')));
    const outcome = node.clusterConfig.setClusterWide('limits.burst', 8, { signal: controller.signal }).catch((error: unknown) => error);
    await settle();
    node.commit(1);
    await settle();

    // The entry at its index is refused (a path outside the allow-list stands in for a value
    // another write made invalid), and the handler of that refusal aborts.
    node.apply([set('feature.on', true)]);

    expect(controller.signal.aborted).toBe(true);
    expect(node.refused).toHaveLength(1);
    expect(await outcome).toBe(node.refused[0]);
    node.clusterConfig.close();
  });

  // On the node that appended the entry (the leader), the entry applies before the log answers
  // the append: aborted from within that apply, the write cannot tell which entry is its own, so
  // its outcome is unknown here. The message said this node had not applied it, which it had.
  it('rejects a write aborted from within its entry\'s apply before the log answered with 6110, index null, saying the log had not answered', async () => {
    const node = createBehindNode();
    const controller = new AbortController();
    node.config.subscribe(() => controller.abort(new Error('heard the value')));
    const outcome = node.clusterConfig.setClusterWide('limits.burst', 8, { signal: controller.signal }).catch((error: unknown) => error);
    await settle();

    node.apply([set('limits.burst', 8)]);
    node.commit(1);
    const error = (await outcome) as ClusterWriteOutcomeUnknownError;

    expect(error.code).toBe(6110);
    expect(error.context).toEqual({ path: ['limits', 'burst'], index: null, snapshotIndex: null });
    expect(error.message).toContain('before the log answered');
    expect(error.message).not.toContain('before this node applied it');
    node.clusterConfig.close();
  });
});

describe('a write or read aborted while the consensus itself is in the middle of an attempt', () => {
  // Since 13c124c the consensus also ends an aborted append or read at once, with the signal's
  // reason; the cluster config's own wait on the same signal must still be what the caller
  // hears: an append that may have gone out is an outcome unknown (6110), not the bare reason.
  it('rejects the write with ClusterWriteOutcomeUnknownError (6110), the reason its cause, and the read with the reason', async () => {
    const rules = { defaults: { limits: { rate: 10, burst: 5 } }, updatablePaths: ['limits'] };
    const consensus = createClusterConsensus({
      nodeId: 'solo',
      voters: ['solo'],
      transport: { send: () => false, onMessage: () => () => undefined },
      forwarding: { request: () => Promise.reject(new Error('not used: the only voter leads')), onRequest: () => () => undefined },
      persistence: createMemoryPersistence(),
      raft: { tickMs: 5, electionTicks: 4, heartbeatTicks: 1 },
    });
    const config: Config<unknown> = createConfig({ ...rules }) as Config<unknown>;
    const log = consensus.log<ConfigCommand>('config', { retain: { state: () => clusterConfig.snapshotCommands() } });
    const clusterConfig: ClusterConfig = createClusterConfig(config, log, () => undefined, rules);
    await consensus.start();
    try {
      for (let attempt = 0; attempt < 400 && consensus.raft.status().role !== 'leader'; attempt += 1) await new Promise((resolve) => setTimeout(resolve, 5));
      // Raft takes the proposal and the read, and answers neither: the attempts stay in flight.
      const raft = consensus.raft as unknown as { propose: (...args: unknown[]) => Promise<unknown>; read: (...args: unknown[]) => Promise<unknown> };
      const held: ((value: unknown) => void)[] = [];
      raft.propose = () => new Promise((resolve) => held.push(resolve));
      raft.read = () => new Promise((resolve) => held.push(resolve));
      const controller = new AbortController();
      const reason = new Error('the caller gave up');
      const write = clusterConfig.setClusterWide('limits.burst', 8, { signal: controller.signal }).catch((error: unknown) => error);
      const read = clusterConfig.getWithConsensus('limits.burst', { signal: controller.signal }).catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(held).toHaveLength(2);

      controller.abort(reason);

      const error = (await write) as ClusterWriteOutcomeUnknownError;
      expect(error).toBeInstanceOf(ClusterWriteOutcomeUnknownError);
      expect(error.code).toBe(6110);
      expect(error.cause).toBe(reason);
      expect(error.context).toEqual({ path: ['limits', 'burst'], index: null, snapshotIndex: null });
      expect(await read).toBe(reason);
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      for (const resolve of held) resolve({ index: 1, value: null });
    } finally {
      clusterConfig.close();
      await consensus.stop();
    }
  }, 30_000);
});
