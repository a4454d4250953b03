// Clears ended leases out of the cluster's lock table. The table keeps a lease until the lock
// is taken again or given back, so a node that dies holding a lock, or an application that locks
// names it never uses again (one per job, say), left an entry in every replica and every
// snapshot for good: the table grew with every name ever locked.
//
// The leader clears them with the commands every version of the table already knows, so that
// replicas of an older version apply the same and none diverges: an acquire whose `now` is the
// moment the lease ended, then a release of what that acquire granted. The acquire is granted
// only if the table still holds that lease, or one that ended no later: a lease renewed or taken
// since the leader looked ends later, and the acquire is refused. What it grants ends 1 ms after
// the lease it replaced, long past on every clock by then; a sweep that stops between the two
// commands leaves that grant, ended, for the next sweep.
//
// Only leases ended `graceMs` ago on the leader's clock are cleared (leases are measured on
// each proposer's clock, and the leader's may run ahead of it). A renewal of a lease that is gone
// fails, as it fails once another node has taken the lock: the holder hears LockNotHeldError.
import type { Scheduler, Timer } from '@foundation/core';
import type { ClusterRaftNode } from '../consensus/cluster-consensus';
import type { LockCommand, LockState } from '../consensus/locks';
import { takeOverAndRelease } from './distributed-lock';

/** The owner the sweep's acquires name, for the millisecond between its two commands. */
export const LOCK_SWEEP_OWNER = '$foundation/lock-sweep';

export interface LockSweepOptions {
  readonly raft: Pick<ClusterRaftNode, 'status'>;
  /** The lock table as this node has applied it. */
  readonly locks: () => Iterable<LockState>;
  /** Proposes `command`; `signal` aborts when the sweep is stopped (the proposal then rejects at once). */
  readonly propose: (command: LockCommand, signal?: AbortSignal) => Promise<{ readonly value: unknown }>;
  readonly clock: Scheduler;
  /** How long after its end (on this node's clock) a lease is cleared. */
  readonly graceMs: number;
  /** How often the leader looks. */
  readonly intervalMs: number;
  /**
   * Most leases cleared at a time; a look that cleared a full batch looks again as soon as it is
   * done, so the sweep keeps up however fast leases end.
   */
  readonly maxPerSweep: number;
}

/** The ended leases a sweep would clear now, at most `limit` of them. */
export function endedLeases(locks: Iterable<LockState>, now: number, graceMs: number, limit: number): LockState[] {
  const ended: LockState[] = [];
  if (limit <= 0) return ended;
  for (const lock of locks) {
    // An infinite expiry (a snapshot may hold one from before such leases were refused) cannot
    // date the sweep's acquire: the table refuses that, and the sweep would propose it at every look.
    if (!Number.isFinite(lock.expiresAt) || lock.expiresAt + graceMs > now) continue;
    ended.push(lock);
    if (ended.length >= limit) break;
  }
  return ended;
}

/**
 * Starts the sweep (it acts only while this node leads); returns the function that stops it. That
 * function aborts the proposals of a batch in flight and resolves once the batch has settled, so
 * that the sweep proposes nothing after it (a clearing cut between its acquire and its release
 * leaves the acquire's grant, ended, for the next leader's sweep). Before, a batch in flight went
 * on into the node's stop (up to two consensus timeouts without a quorum) and sent its releases
 * while the node closed around it, until Raft stopped under them.
 */
export function sweepEndedLocks(options: LockSweepOptions): () => Promise<void> {
  const { clock } = options;
  /** The batch in flight, settled (never rejected) once every clearing in it has. */
  let sweeping: Promise<void> | null = null;
  let stopped = false;
  const stopping = new AbortController();
  /** The look a full batch asked for, to cancel at stop. */
  let again: Timer | null = null;

  /**
   * Resolves whether the lease left the table; never rejects: a clearing that failed (no
   * quorum, leadership lost, the sweep stopped) is tried again at a later look.
   */
  const clear = (lock: LockState): Promise<boolean> =>
    takeOverAndRelease((command) => options.propose(command, stopping.signal), lock.name, LOCK_SWEEP_OWNER, lock.expiresAt).catch(() => false);

  const sweep = (): void => {
    if (stopped || sweeping !== null || options.raft.status().role !== 'leader') return;
    const ended = endedLeases(options.locks(), clock.now(), options.graceMs, options.maxPerSweep);
    if (ended.length === 0) return;
    sweeping = Promise.all(ended.map(clear)).then((cleared) => {
      sweeping = null;
      // A full batch may have left more behind: looked at again at once (on a timer, so that
      // the event loop turns), not an interval later. One batch an interval fell behind for good
      // once leases ended faster than that, and the table grew again. Only after progress: a
      // batch that cleared nothing (no quorum, refused) waits for the interval.
      if (!stopped && ended.length >= options.maxPerSweep && cleared.includes(true)) {
        again = clock.setTimer(0, () => {
          again = null;
          sweep();
        });
      }
    });
  };

  const timer = clock.setRepeatingTimer(options.intervalMs, sweep);
  return async () => {
    stopped = true;
    timer.cancel();
    again?.cancel();
    stopping.abort();
    await sweeping;
  };
}
