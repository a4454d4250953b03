// The leader's sweep of ended leases, over the real lock table with the consensus log taken out
// (each proposal applies to one table, in order, as the log would) and a stand-in Raft status,
// on testkit's virtual clock.
import { describe, expect, it } from '@jest/globals';
import { createSimulation } from '@foundation/testkit';
import { LockTable } from '../consensus/locks';
import type { LockCommand, LockState } from '../consensus/locks';
import { unlessAborted } from '../consensus/unless-aborted';
import { LockNotHeldError } from '../errors/lock-not-held-error';
import { createDistributedLocks } from './distributed-lock';
import { LOCK_SWEEP_OWNER, endedLeases, sweepEndedLocks } from './lock-sweep';

function world(seed = 3) {
  const simulation = createSimulation({ seed });
  const clock = simulation.clock;
  const table = new LockTable();
  const log: LockCommand[] = [];
  let index = 0;
  let role = 'leader';
  /** Runs before each proposal is applied; may apply others first, hold it back, or fail it. */
  let intercept: ((command: LockCommand) => Promise<void> | void) | undefined;
  const apply = (command: LockCommand) => {
    index += 1;
    log.push(command);
    return { value: table.apply(command, index) };
  };
  // As the consensus does: an aborted signal refuses a proposal before it is sent, and one that
  // aborts later ends the wait at once while the proposal goes on (and may still reach the log).
  const propose = (command: LockCommand, signal?: AbortSignal) => {
    signal?.throwIfAborted();
    const sent = (async () => {
      await intercept?.(command);
      return apply(command);
    })();
    return unlessAborted(sent, signal);
  };
  const locks = createDistributedLocks(
    { propose: (_stream, command) => propose(command as LockCommand), read: (query) => Promise.resolve(table.get(query.name)) },
    { nodeId: 'holder', clock, sleep: () => Promise.resolve() },
  );
  const start = (options: { graceMs: number; intervalMs: number; maxPerSweep?: number }) =>
    sweepEndedLocks({ raft: { status: () => ({ role }) as never }, locks: () => table.values(), propose, clock, maxPerSweep: options.maxPerSweep ?? 128, ...options });
  return {
    simulation,
    clock,
    table,
    log,
    apply,
    locks,
    start,
    names: () => table.entries().map((lock) => lock.name).sort(),
    setRole: (next: string) => void (role = next),
    intercept: (hook: typeof intercept) => void (intercept = hook),
    runFor: (ms: number) => simulation.runForAsync(ms),
  };
}

describe('the sweep of ended leases', () => {
  it('clears a lease once it has ended graceMs ago on the leader’s clock, with an acquire at its end and a release, and keeps the others', async () => {
    const w = world();
    const t0 = w.clock.now();
    await w.locks.acquire('short', { leaseMs: 1_000 });
    await w.locks.acquire('long', { leaseMs: 60_000 });
    const stop = w.start({ graceMs: 10_000, intervalMs: 1_000 });
    await w.runFor(5_000);
    await w.locks.acquire('later', { leaseMs: 1_000 });
    const short = w.table.get('short')!;
    expect(short.expiresAt).toBe(t0 + 1_000);

    // 'short' ended at t0 + 1 s: within the grace until t0 + 11 s.
    await w.runFor(5_500);
    expect(w.names()).toEqual(['later', 'long', 'short']);
    await w.runFor(1_000);
    expect(w.names()).toEqual(['later', 'long']);
    expect(w.log.slice(-2)).toEqual([
      { op: 'acquire', name: 'short', owner: LOCK_SWEEP_OWNER, leaseMs: 1, now: short.expiresAt },
      { op: 'release', name: 'short', token: w.log.length - 1 },
    ]);

    // 'later' ended at t0 + 6 s; 'long' is live for another minute and stays.
    await w.runFor(5_000);
    expect(w.names()).toEqual(['long']);
    await w.runFor(30_000);
    expect(w.names()).toEqual(['long']);
    await stop();
  });

  it('leaves a lease renewed after the leader looked: the sweep’s acquire at the old end is refused and nothing is released', async () => {
    const w = world();
    const lease = (await w.locks.acquire('job', { leaseMs: 1_000 }))!;
    // The holder's renewal reaches the log just before the sweep's acquire (a holder that was
    // paused, or whose renewal was slow to commit).
    let renewed: unknown;
    w.intercept((command) => {
      if (command.op !== 'acquire' || command.owner !== LOCK_SWEEP_OWNER || renewed !== undefined) return;
      renewed = w.apply({ op: 'renew', name: 'job', token: lease.token, leaseMs: 30_000, now: w.clock.now() }).value;
    });
    const stop = w.start({ graceMs: 2_000, intervalMs: 500 });
    await w.runFor(3_500);
    expect(renewed).toMatchObject({ renewed: true });
    expect(w.log.map((command) => command.op)).toEqual(['acquire', 'renew', 'acquire']);
    const kept = w.table.get('job')!;
    expect(kept.token).toBe(lease.token);
    expect(kept.owner).not.toBe(LOCK_SWEEP_OWNER);
    expect(kept.expiresAt).toBeGreaterThan(lease.expiresAt);
    // The renewed lease is live: the sweep does not touch it again until it has ended too.
    await w.runFor(20_000);
    expect(w.log.map((command) => command.op)).toEqual(['acquire', 'renew', 'acquire']);
    await stop();
  });

  it('clears at a later look the grant of a sweep that stopped between its two commands', async () => {
    const w = world();
    await w.locks.acquire('job', { leaseMs: 1_000 });
    let failed = 0;
    w.intercept((command) => {
      if (command.op === 'release' && failed === 0) {
        failed += 1;
        throw new Error('no quorum');
      }
    });
    const stop = w.start({ graceMs: 2_000, intervalMs: 500 });
    await w.runFor(3_000);
    expect(failed).toBe(1);
    // The sweep's own grant is left, ended a millisecond after the lease it replaced.
    const left = w.table.get('job')!;
    expect(left.owner).toBe(LOCK_SWEEP_OWNER);
    await w.runFor(500);
    expect(w.table.get('job')).toBeNull();
    // The failed release never reached the log.
    expect(w.log.map((command) => command.op)).toEqual(['acquire', 'acquire', 'acquire', 'release']);
    await stop();
  });

  it('acts only while this node leads, clears at most maxPerSweep at a time, and starts no look while one is in flight', async () => {
    const w = world();
    for (let n = 0; n < 5; n += 1) await w.locks.acquire(`job-${n}`, { leaseMs: 100 });
    w.setRole('follower');
    const stop = w.start({ graceMs: 1_000, intervalMs: 500, maxPerSweep: 2 });
    await w.runFor(5_000);
    expect(w.names()).toHaveLength(5);

    // Leading, with the log slow to answer: one look's two acquires wait, and no other look begins.
    let letThrough: (() => void) | undefined;
    const held = new Promise<void>((resolve) => (letThrough = resolve));
    let waiting = 0;
    w.intercept((command) => {
      if (command.op !== 'acquire') return undefined;
      waiting += 1;
      return held;
    });
    w.setRole('leader');
    await w.runFor(2_000);
    expect(waiting).toBe(2);
    expect(w.log).toHaveLength(5);
    w.intercept(undefined);
    letThrough!();
    await w.runFor(1_000);
    expect(w.names()).toEqual([]);
    await stop();
    // Stopped: nothing more is proposed.
    await w.locks.acquire('after', { leaseMs: 100 });
    await w.runFor(5_000);
    expect(w.names()).toEqual(['after']);
  });

  it('keeps up with leases that end faster than maxPerSweep a look: a look that cleared a full batch looks again at once', async () => {
    const w = world();
    for (let n = 0; n < 7; n += 1) await w.locks.acquire(`job-${n}`, { leaseMs: 100 });
    const stop = w.start({ graceMs: 1_000, intervalMs: 10_000, maxPerSweep: 2 });
    // The first look, at 10 s, and the ones it leads to: not one batch per 10 s, which falls
    // behind for good once more leases end than that.
    await w.runFor(10_500);
    expect(w.names()).toEqual([]);
    await stop();
  });

  it('does not look again at once after a batch that cleared nothing', async () => {
    const w = world();
    for (let n = 0; n < 5; n += 1) await w.locks.acquire(`job-${n}`, { leaseMs: 100 });
    let proposed = 0;
    w.intercept(() => {
      proposed += 1;
      throw new Error('refused');
    });
    const stop = w.start({ graceMs: 1_000, intervalMs: 10_000, maxPerSweep: 2 });
    await w.runFor(10_500);
    expect(proposed).toBe(2);
    await w.runFor(10_000);
    expect(proposed).toBe(4);
    await stop();
  });

  it('stops a batch in flight: stop() aborts its proposals and resolves, and the sweep proposes nothing after it', async () => {
    // Review finding: stop() only cancelled the timers. A batch in flight went on into the node's
    // stop, sending its releases while the node closed around it, until Raft stopped under them.
    const w = world();
    for (let n = 0; n < 3; n += 1) await w.locks.acquire(`job-${n}`, { leaseMs: 100 });
    let letThrough: (() => void) | undefined;
    const held = new Promise<void>((resolve) => (letThrough = resolve));
    let waiting = 0;
    w.intercept((command) => {
      if (command.op !== 'acquire' || command.owner !== LOCK_SWEEP_OWNER) return undefined;
      waiting += 1;
      return held;
    });
    const stop = w.start({ graceMs: 1_000, intervalMs: 2_000 });
    await w.runFor(2_500);
    expect(waiting).toBe(3);
    await stop();
    const logged = w.log.length;

    // The acquires sent before the stop still reach the log (a real one may take them), and
    // nothing follows them: no release, and no other look at the ended grants they leave.
    w.intercept(undefined);
    letThrough!();
    await w.runFor(30_000);
    expect(w.log.slice(logged).map((command) => [command.op, command.op === 'acquire' ? command.owner : null])).toEqual([
      ['acquire', LOCK_SWEEP_OWNER],
      ['acquire', LOCK_SWEEP_OWNER],
      ['acquire', LOCK_SWEEP_OWNER],
    ]);
    expect(w.table.entries().map((lock) => lock.owner)).toEqual([LOCK_SWEEP_OWNER, LOCK_SWEEP_OWNER, LOCK_SWEEP_OWNER]);
  });

  it('makes a renewal after the clearing reject with LockNotHeldError, and leaves the name free to take', async () => {
    const w = world();
    const lease = (await w.locks.acquire('job', { leaseMs: 1_000 }))!;
    const stop = w.start({ graceMs: 2_000, intervalMs: 500 });
    await w.runFor(3_500);
    expect(w.table.get('job')).toBeNull();
    await expect(lease.renew()).rejects.toThrow(LockNotHeldError);
    // Its release says nothing was given back.
    await expect(lease.release()).resolves.toBe(false);
    const next = (await w.locks.acquire('job', { leaseMs: 1_000 }))!;
    expect(next.token).toBeGreaterThan(lease.token);
    await expect(next.release()).resolves.toBe(true);
    expect(w.table.get('job')).toBeNull();
    await stop();
  });
});

describe('endedLeases', () => {
  const lock = (name: string, expiresAt: number): LockState => ({ name, owner: 'o', token: 1, expiresAt });
  it('takes the leases ended at least graceMs before now, up to the limit, in table order', () => {
    const table = [lock('a', 100), lock('b', 500), lock('c', 0), lock('d', 90)];
    expect(endedLeases(table, 1_100, 1_000, 10).map((entry) => entry.name)).toEqual(['a', 'c', 'd']);
    expect(endedLeases(table, 1_100, 1_000, 2).map((entry) => entry.name)).toEqual(['a', 'c']);
    expect(endedLeases(table, 1_099, 1_000, 10).map((entry) => entry.name)).toEqual(['c', 'd']);
    expect(endedLeases(table, 1_100, 1_000, 0)).toEqual([]);
    // An infinite expiry never ends, and a minus infinite one cannot date the sweep's acquire.
    expect(endedLeases([lock('e', Number.NEGATIVE_INFINITY), lock('f', Number.POSITIVE_INFINITY)], 1e15, 1_000, 10)).toEqual([]);
  });
});
