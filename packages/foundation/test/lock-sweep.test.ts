// The sweep of ended leases on real Raft and the real cluster state machine, on testkit's
// simulated network: run on every node as startNode runs it, it clears through the leader what
// ended a grace ago, on every replica alike, and leaves a live lease and its holder alone.
import { afterEach, describe, expect, it } from '@jest/globals';
import type { ClusterConsensus } from '../src/consensus/cluster-consensus';
import { sweepEndedLocks } from '../src/coordination/lock-sweep';
import { LockNotHeldError } from '../src/errors/lock-not-held-error';
import { locksOf, settle, startPair } from './support/simulated-consensus';

const started: ClusterConsensus[] = [];
const sweeps: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of sweeps.splice(0)) await stop();
  for (const consensus of started.splice(0)) await consensus.stop();
});


const names = (consensus: ClusterConsensus): string[] => [...consensus.stateMachine.lockStates()].map((lock) => lock.name).sort();

describe('the sweep of ended leases, on real Raft', () => {
  it('clears the leases ended a grace ago from every replica through the leader, and keeps a live one', async () => {
    const { simulation, leaderNode, followerNode, leader, follower } = await startPair(21, started);
    for (const [consensus, node] of [
      [leader, leaderNode],
      [follower, followerNode],
    ] as const) {
      sweeps.push(
        sweepEndedLocks({ raft: consensus.raft, locks: () => consensus.stateMachine.lockStates(), propose: (command, signal) => consensus.propose('locks', command, signal), clock: node.clock, graceMs: 1_000, intervalMs: 200, maxPerSweep: 4 }),
      );
    }

    // Locks of names used once, taken from the follower: ten more than one look clears.
    const fromFollower = locksOf(follower, followerNode);
    const once = [];
    for (let n = 0; n < 10; n += 1) once.push(await settle(simulation, fromFollower.acquire(`job-${n}`, { leaseMs: 50 })));
    const live = (await settle(simulation, fromFollower.acquire('live', { leaseMs: 600_000 })))!;
    expect(names(leader)).toHaveLength(11);

    await simulation.runUntilAsync(() => names(leader).length === 1 && names(follower).length === 1, { maxTime: 10_000 });
    expect(names(leader)).toEqual(['live']);
    expect(names(follower)).toEqual(['live']);
    // The replicas agree on what is left, token and end included.
    expect([...follower.stateMachine.lockStates()]).toEqual([...leader.stateMachine.lockStates()]);
    await expect(settle(simulation, live.renew())).resolves.toMatchObject({ token: live.token });
    // Caught as it happens: a rejection left unhandled while the simulation runs fails the test.
    expect(await settle(simulation, once[0]!.renew().catch((error: unknown) => error))).toBeInstanceOf(LockNotHeldError);
  });
});
