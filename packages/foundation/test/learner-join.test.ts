// A node that joins the cluster's Raft group as a learner. Found in CI (cli.test's status showed
// the node just started as a follower, not a learner): join resolved once the leader had
// committed the addition, before the joining node had heard of it, so startNode resolved while
// the node's own Raft view was still the empty one it starts with (no term, no leader, not a
// member), and its status said so. Two cluster consensus nodes on testkit's simulated network.
import { afterEach, describe, expect, it } from '@jest/globals';
import { createSimulation } from '@foundation/testkit';
import type { ClusterConsensus } from '../src/consensus/cluster-consensus';
import { createSnapshottingConsensus, startLeaderThenFollower } from './support/simulated-consensus';
import type { ForwardHandler } from './support/simulated-consensus';

const started: ClusterConsensus[] = [];
afterEach(async () => {
  for (const consensus of started.splice(0)) await consensus.stop();
});

describe('a joining learner', () => {
  it('is started only once its own Raft configuration lists it as a learner', async () => {
    const simulation = createSimulation({ seed: 5, network: { latency: { min: 1, max: 3 } } });
    const handlers = new Map<string, ForwardHandler>();
    const leader = createSnapshottingConsensus(simulation.addNode('leader'), handlers);
    const joiner = createSnapshottingConsensus(simulation.addNode('joiner'), handlers);
    started.push(joiner, leader);
    await startLeaderThenFollower(simulation, leader, joiner);

    expect(joiner.raft.status().membership).toEqual({ voters: ['leader'], learners: ['joiner'] });
    expect(joiner.raft.status().leader).toBe('leader');
  });
});
