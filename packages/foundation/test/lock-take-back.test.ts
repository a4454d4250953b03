// An acquire whose answer is lost after the leader appended it: the caller is told it failed,
// and the grant commits all the same. Real Raft and the real cluster state machine on testkit's
// simulated network; the follower's forwarded acquire reaches the leader, whose answer is lost
// on the way back (the request fails, as with a link that broke after delivering it).
import { afterEach, describe, expect, it } from '@jest/globals';
import type { ClusterConsensus } from '../src/consensus/cluster-consensus';
import { locksOf, settle, startPair } from './support/simulated-consensus';

const started: ClusterConsensus[] = [];
afterEach(async () => {
  for (const consensus of started.splice(0)) await consensus.stop();
});

describe('an acquire whose answer is lost', () => {
  it('does not leave the lock taken for the whole lease by a grant nobody holds', async () => {
    const { simulation, handlers, leaderNode, followerNode, leader, follower } = await startPair(11, started);

    // The leader handles the first forwarded acquire, and its answer is lost.
    const handle = handlers.get('leader')!;
    let lost = 0;
    handlers.set('leader', (message) => {
      const answer = handle(message);
      const command = (message.payload as { command?: { op?: unknown } }).command;
      if (lost > 0 || command?.op !== 'acquire') return answer;
      lost += 1;
      return Promise.resolve(answer).then(() => {
        throw new Error('the answer was lost');
      });
    });
    const fromFollower = locksOf(follower, followerNode);
    await expect(settle(simulation, fromFollower.acquire('job', { leaseMs: 60_000 }))).rejects.toThrow('the answer was lost');
    expect(lost).toBe(1);
    // The grant committed: nobody holds its lease. It is taken back, in the background.
    await simulation.runUntilAsync(() => leader.stateMachine.lock('job') === null, { maxTime: 5_000 });
    const fromLeader = locksOf(leader, leaderNode);
    await expect(settle(simulation, fromLeader.acquire('job', { leaseMs: 1_000 }))).resolves.toMatchObject({ name: 'job' });
  });

  it('leaves the lock free when the acquire given up on reaches the log only after the take-back', async () => {
    // The other order: the take-back carries this node's raised floor into the log first, so
    // the acquire arriving late is refused there, not granted for a lease nobody holds.
    const { simulation, handlers, followerNode, leader, follower } = await startPair(13, started);

    // The leader holds back the first forwarded acquire until the test lets it through, and
    // answers the others at once (the take-back's acquire and release), noting their answers.
    const handle = handlers.get('leader')!;
    let letThrough: (() => void) | null = null;
    let late: Promise<unknown> | null = null;
    const answered: unknown[] = [];
    handlers.set('leader', (message) => {
      const command = (message.payload as { command?: { op?: unknown } }).command;
      if (late !== null || command?.op !== 'acquire') return Promise.resolve(handle(message)).then((answer) => (answered.push(answer), answer));
      late = new Promise<void>((resolve) => (letThrough = resolve)).then(() => handle(message));
      return late;
    });
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const gaveUp = locksOf(follower, followerNode).acquire('job', { leaseMs: 60_000, signal: controller.signal });
    await simulation.runUntilAsync(() => letThrough !== null, { maxTime: 1_000 });
    controller.abort(reason);
    await expect(settle(simulation, gaveUp)).rejects.toBe(reason);
    // The take-back's acquire (granted: the lock is free) and release commit meanwhile.
    await simulation.runUntilAsync(() => answered.length === 2, { maxTime: 5_000 });
    expect(answered).toEqual([{ index: expect.any(Number), value: expect.objectContaining({ op: 'acquire', acquired: true }) }, { index: expect.any(Number), value: { op: 'release', released: true } }]);
    expect(leader.stateMachine.lock('job')).toBeNull();

    letThrough!();
    await expect(settle(simulation, late!)).resolves.toMatchObject({ value: null });
    expect(leader.stateMachine.lock('job')).toBeNull();
  });

  it('appends nothing for an acquire whose signal had aborted before it began', async () => {
    // Review finding: nothing was proposed (the consensus refuses an aborted signal before it
    // sends anything), yet the take-back ran all the same: an acquire of 1 ms and a release went
    // into the log for each such call, and the lock was held meanwhile by an owner nobody is,
    // so another node's single-try acquire in that window was told it was held.
    const { simulation, leaderNode, followerNode, leader, follower } = await startPair(12, started);
    await simulation.runUntilAsync(() => follower.stateMachine.appliedIndex() === leader.stateMachine.appliedIndex(), { maxTime: 5_000 });
    const appliedBefore = leader.stateMachine.appliedIndex();

    const reason = new Error('gave up before it began');
    for (const [consensus, node] of [[follower, followerNode], [leader, leaderNode]] as const) {
      await expect(settle(simulation, locksOf(consensus, node).acquire('job', { leaseMs: 60_000, signal: AbortSignal.abort(reason) }))).rejects.toBe(reason);
    }
    // Time for a take-back to reach the log, were one made.
    await simulation.runForAsync(1_000);
    expect(leader.stateMachine.appliedIndex()).toBe(appliedBefore);
    expect(leader.stateMachine.lock('job')).toBeNull();
  });
});
