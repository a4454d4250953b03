// Cluster consensus nodes (real Raft, the real cluster state machine) on testkit's simulated
// network and clock, for tests of what a follower does when it catches up by a snapshot.
// Forwarded proposals go straight to the leader's handler, so a cut on the network stops only
// Raft's own messages.
import { sleep } from '@foundation/core';
import { createMemoryPersistence } from '@foundation/raft';
import { createSimulation } from '@foundation/testkit';
import type { SimNode, Simulation } from '@foundation/testkit';
import { createClusterConsensus } from '../../src/consensus/cluster-consensus';
import { createDistributedLocks } from '../../src/coordination/distributed-lock';
import type { ClusterConsensus, ForwardingTransport } from '../../src/consensus/cluster-consensus';

export type ForwardHandler = (message: { readonly from: string; readonly payload: unknown }) => unknown;

/** A consensus member of a cluster whose only voter is `leader`, snapshotting every 50 entries. */
export function createSnapshottingConsensus(node: SimNode, handlers: Map<string, ForwardHandler>): ClusterConsensus {
  const forwarding: ForwardingTransport = {
    async request(peer, _channel, payload) {
      const handler = handlers.get(peer);
      if (handler === undefined) throw new Error(`${peer} does not answer`);
      return handler({ from: node.id, payload });
    },
    onRequest(_channel, handler) {
      handlers.set(node.id, handler);
      return () => handlers.delete(node.id);
    },
  };
  return createClusterConsensus({
    nodeId: node.id,
    voters: ['leader'],
    contacts: ['leader'],
    transport: node.transport,
    forwarding,
    persistence: createMemoryPersistence(),
    clock: node.clock,
    random: node.random,
    // Snapshots often, so that a follower cut off for a while is sent one.
    raft: { tickMs: 10, electionTicks: 10, heartbeatTicks: 2, snapshotEvery: 50 },
    timeoutMs: 2_000,
  });
}

/** Settles `promise` while the simulation runs; fails if it does not settle in `maxTime`. */
export async function settle<T>(simulation: Simulation, promise: Promise<T>, maxTime = 10_000): Promise<T> {
  let done = false;
  const observed = promise.finally(() => (done = true));
  await simulation.runUntilAsync(() => done, { maxTime });
  return observed;
}

/** Starts `leader`, waits for it to lead, then starts `follower` (which joins it as a learner). */
export async function startLeaderThenFollower(simulation: Simulation, leader: ClusterConsensus, follower: ClusterConsensus): Promise<void> {
  await settle(simulation, leader.start());
  await simulation.runUntilAsync(() => leader.raft.status().role === 'leader');
  await settle(simulation, follower.start());
}

/**
 * A leader and a follower joined to it (`startLeaderThenFollower`) on a simulated network of 1–3
 * ms latency, both pushed onto `started` for the test to stop.
 */
export async function startPair(seed: number, started: ClusterConsensus[]) {
  const simulation = createSimulation({ seed, network: { latency: { min: 1, max: 3 } } });
  const handlers = new Map<string, ForwardHandler>();
  const leaderNode = simulation.addNode('leader');
  const followerNode = simulation.addNode('follower');
  const leader = createSnapshottingConsensus(leaderNode, handlers);
  const follower = createSnapshottingConsensus(followerNode, handlers);
  started.push(follower, leader);
  await startLeaderThenFollower(simulation, leader, follower);
  return { simulation, handlers, leaderNode, followerNode, leader, follower };
}

/** The distributed locks of `consensus`, on `node`'s clock and randomness. */
export const locksOf = (consensus: ClusterConsensus, node: SimNode) =>
  createDistributedLocks(consensus, { nodeId: node.id, clock: node.clock, random: node.random, sleep: (ms, signal) => sleep(node.clock, ms, signal) });
