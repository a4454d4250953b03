// A follower that falls behind while cluster-wide config changes, and catches up by installing a
// Raft snapshot. Found in review: the config did not listen for restores, so the snapshot's
// commands were set again one by one and the follower's subscribers heard every cluster-wide
// value again, changed or not.
//
// Two cluster consensus nodes (real Raft, the real cluster state machine) on testkit's simulated
// network and clock, each with a real config; the config stream is declared as startNode declares
// it. Forwarded proposals go straight to the leader's handler.
import { afterEach, describe, expect, it } from '@jest/globals';
import { createConfig } from '@foundation/config';
import type { Config } from '@foundation/config';
import type { FoundationError } from '@foundation/core';
import { createSimulation } from '@foundation/testkit';
import type { SimNode } from '@foundation/testkit';
import type { ClusterConfig } from '../src/cluster/cluster-config';
import type { ClusterConsensus } from '../src/consensus/cluster-consensus';
import { extend } from '../src/wiring/extend';
import { attachClusterConfig } from './support/cluster-config-stream';
import { createSnapshottingConsensus, settle, startLeaderThenFollower } from './support/simulated-consensus';
import type { ForwardHandler } from './support/simulated-consensus';

interface Member {
  readonly consensus: ClusterConsensus;
  readonly config: Config<unknown> & ClusterConfig;
  readonly heard: string[];
  readonly refused: FoundationError[];
}

const stoppers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stoppers.splice(0)) await stop();
});

function createMember(node: SimNode, handlers: Map<string, ForwardHandler>): Member {
  const consensus = createSnapshottingConsensus(node, handlers);
  const rules = { defaults: { limits: { rate: 10, burst: 5 }, feature: { on: false } }, updatablePaths: ['limits', 'feature'] };
  const config = createConfig<Record<string, unknown>>({ ...rules, clock: node.clock });
  const refused: FoundationError[] = [];
  const clusterConfig = attachClusterConfig(consensus, config, (error) => refused.push(error), rules);
  const heard: string[] = [];
  config.subscribe((change) => {
    heard.push(change.type === 'config-reset' ? 'reset' : `${change.path.join('.')} ${JSON.stringify(change.previous)} -> ${JSON.stringify(change.value)}`);
  });
  stoppers.push(async () => {
    clusterConfig.close();
    await consensus.stop();
  });
  return { consensus, config: extend(config as Config<unknown>, clusterConfig), heard, refused };
}

describe('a follower that installs a snapshot while cluster-wide config changed', () => {
  const seed = 4_811;
  it(`ends with the leader's config, and its subscribers hear only what changed (seed=${seed})`, async () => {
    const simulation = createSimulation({ seed, network: { latency: { min: 1, max: 3 } } });
    const handlers = new Map<string, ForwardHandler>();
    const leader = createMember(simulation.addNode('leader'), handlers);
    const follower = createMember(simulation.addNode('follower'), handlers);
    await startLeaderThenFollower(simulation, leader.consensus, follower.consensus);

    for (const [path, value] of [['limits.rate', 20], ['limits.burst', 7], ['feature.on', true]] as const) await settle(simulation, leader.config.setClusterWide(path, value));
    await simulation.runUntilAsync(() => follower.config.getWithDefault('feature.on', false) === true);
    follower.heard.length = 0;

    simulation.network.cut('leader', 'follower');
    await settle(simulation, leader.config.setClusterWide('limits.rate', 30));
    await settle(simulation, leader.config.setClusterWide('limits.burst', 7)); // the same value, newer
    await settle(simulation, leader.config.setClusterWide('feature.on', false));
    // Enough other commands that the leader's log no longer holds what the follower misses.
    for (let index = 0; index < 120; index += 1) await settle(simulation, leader.consensus.propose('kv', { op: 'put', key: 'filler', value: index }));

    simulation.network.heal();
    await simulation.runUntilAsync(() => follower.consensus.raft.stats().snapshotsInstalled > 0 && follower.consensus.stateMachine.appliedIndex() === leader.consensus.stateMachine.appliedIndex());

    expect(follower.config.get()).toEqual(leader.config.get());
    expect(follower.config.get()).toEqual({ limits: { rate: 30, burst: 7 }, feature: { on: false } });
    expect(follower.heard).toEqual(['feature.on true -> false', 'limits.rate 20 -> 30']); // in path order
    expect([...leader.refused, ...follower.refused]).toEqual([]);
  });
});
