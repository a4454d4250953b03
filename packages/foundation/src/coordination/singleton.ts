// A leader-elected singleton process: exactly one instance in the cluster, restarted on another
// node when its node dies. Every node runs a candidate; the one holding the lock
// `singleton/<name>` runs the process and renews the lease; a node that cannot renew stops its
// instance before its lease could have ended anywhere (measured from when it sent the last
// successful renewal), also while a renewal is still waiting for a quorum, and the others take
// over once the lease ends.
//
// "Exactly one" rests on the nodes' clocks: the lease's expiry is written with the wall clock of
// the node that proposed it and compared with the wall clock of the next one, so clocks that
// are offset from each other by more than the safety margin, or a node paused for longer than
// it, may briefly overlap with the successor. The lease's fencing token (`token()`) lets the
// process's side effects refuse the older instance.
import type { Scheduler } from '@foundation/core';
import type { Behavior, Pid, Runtime } from '@foundation/process';
import { InvalidOptionsError } from '../errors/invalid-options-error';
import { LockNotHeldError } from '../errors/lock-not-held-error';
import type { StepRunner } from '../wiring/step-runner';
import { createBackgroundWork } from './background-work';
import { SINGLETON_LOCK_PREFIX, reservedAcquire } from './distributed-lock';
import type { DistributedLocks, LockLease } from './distributed-lock';

export interface SingletonOptions {
  readonly name: string;
  readonly behavior: Behavior;
  readonly args?: unknown;
  /** Lease length. Default 3,000 ms. */
  readonly leaseMs?: number;
  /** How often the holder renews. Default a third of the lease. */
  readonly renewEveryMs?: number;
  /** The holder stops its instance this long before the lease could end. Default a fifth of the lease. */
  readonly safetyMarginMs?: number;
}

export type SingletonEvent = 'started' | 'stopped';

export interface Singleton {
  readonly name: string;
  /** Whether the instance runs on this node now. */
  isHere(): boolean;
  pid(): Pid | null;
  /** The fencing token of this node's current lease, or null. */
  token(): number | null;
  on(event: SingletonEvent, listener: (pid: Pid) => void): () => void;
  /**
   * Stops competing; stops the local instance and releases the lease if held, waiting for the
   * release at most a renewal period (without a quorum the lease then ends by itself).
   */
  stop(): Promise<void>;
}

export function startSingleton(
  locks: DistributedLocks,
  runtime: Runtime,
  clock: Scheduler,
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>,
  options: SingletonOptions,
): Singleton {
  const leaseMs = options.leaseMs ?? 3000;
  const renewEveryMs = options.renewEveryMs ?? leaseMs / 3;
  const margin = options.safetyMarginMs ?? leaseMs / 5;
  // A lease with no usable time in it (the margin eats it all, or it is not positive) was
  // acquired, found unusable, released and acquired again at once: thousands of log entries a
  // second and no instance. Refused here instead.
  if (!(leaseMs > 0) || !(margin >= 0) || !(margin < leaseMs) || !(renewEveryMs > 0) || !(renewEveryMs < leaseMs - margin)) {
    throw new InvalidOptionsError('singleton', `needs 0 < renewEveryMs < leaseMs - safetyMarginMs and 0 ≤ safetyMarginMs < leaseMs (got leaseMs ${String(leaseMs)}, renewEveryMs ${String(renewEveryMs)}, safetyMarginMs ${String(margin)})`);
  }
  // Names under this prefix are refused to locks.acquire(): only singletons take them.
  const lockName = `${SINGLETON_LOCK_PREFIX}${options.name}`;
  const acquire = reservedAcquire(locks);
  const listeners = new Map<SingletonEvent, Set<(pid: Pid) => void>>();
  const controller = new AbortController();
  /**
   * Releases of renewals that answered after they were given up on; stopped once stop() is done:
   * a renewal answering later is not given back (see hold).
   */
  const lateReleases = createBackgroundWork();
  let current: { pid: Pid; lease: LockLease } | null = null;

  const emit = (event: SingletonEvent, pid: Pid): void => {
    for (const listener of listeners.get(event) ?? []) {
      try {
        listener(pid);
      } catch {
        // A listener's failure is its own.
      }
    }
  };

  const spawn = (): Pid | null => {
    try {
      return runtime.spawn(options.behavior, options.args === undefined ? {} : { args: options.args });
    } catch {
      // A behavior the runtime refuses, or a runtime that stopped: nothing runs here. The lease
      // is given back (below), so that this does not end the node, nor each node that takes
      // the lock after it.
      return null;
    }
  };

  /**
   * Gives `lease` back as the singleton stops, waiting for that at most a renewal period (the time
   * a renewal gets to commit) and never past the lease's end. Cut off from the quorum, the release
   * waited the whole consensus timeout and held up the node's stop() for seconds; given up, the
   * lease simply ends by itself, and another node takes the lock then.
   */
  const giveBack = async (lease: LockLease): Promise<void> => {
    const giveUp = new AbortController();
    const released = new AbortController();
    const waitMs = Math.max(0, Math.min(renewEveryMs, lease.expiresAt - clock.now()));
    await Promise.race([
      lease.release({ signal: giveUp.signal }).catch(() => undefined),
      sleep(waitMs, released.signal).then(
        () => giveUp.abort(),
        () => undefined,
      ),
    ]);
    // The release answered first: its timer goes.
    released.abort();
  };

  /**
   * Gives `lease` back once this node is done with it: as giveBack does once the singleton is
   * stopping; otherwise waiting for the release until it answers or the singleton is stopped,
   * whichever comes first (cut off from the quorum, a release hangs for the consensus timeout,
   * and stop() waited all of it).
   */
  const letGo = async (lease: LockLease): Promise<void> => {
    if (controller.signal.aborted) {
      await giveBack(lease);
      return;
    }
    let onStop = (): void => undefined;
    const stopped = new Promise<void>((resolve) => {
      onStop = resolve;
      controller.signal.addEventListener('abort', onStop, { once: true });
    });
    await Promise.race([lease.release().catch(() => undefined), stopped]);
    controller.signal.removeEventListener('abort', onStop);
  };

  /**
   * Runs the instance for as long as `lease` lasts; resolves false when none could be started
   * (the runtime refused the behavior, or the lease came too late to use), true otherwise.
   */
  const hold = async (lease: LockLease, sentAt: number): Promise<boolean> => {
    let deadline = sentAt + leaseMs - margin;
    // A slow acquisition can hand over a lease that is already past its safe part.
    let pid = clock.monotonic() < deadline ? spawn() : null;
    if (pid === null) {
      await letGo(lease);
      return false;
    }
    current = { pid, lease };
    emit('started', pid);
    try {
      while (!controller.signal.aborted && clock.monotonic() < deadline) {
        await sleep(Math.min(renewEveryMs, Math.max(1, deadline - clock.monotonic())), controller.signal).catch(() => undefined);
        if (controller.signal.aborted) break;
        const attemptAt = clock.monotonic();
        // The renewal races the deadline: a renewal stuck without a quorum must not keep the
        // instance running past the point where another node may take the lock.
        const renewal = current.lease.renew(leaseMs);
        const outcome = await Promise.race([
          renewal.then(
            (renewed) => ({ renewed }),
            (error: unknown) => ({ error }),
          ),
          sleep(Math.max(0, deadline - clock.monotonic()), controller.signal).then(
            () => null,
            () => null,
          ),
        ]);
        if (outcome === null) {
          // Deadline (or stop) first: give back whatever the renewal still brings, until stop()
          // is done. One that answers after that is left to end with its lease: stop() waited
          // for its own release as long as it does (giveBack), and nothing proposes after it.
          void renewal.then(
            (late) => lateReleases.run((signal) => late.release({ signal })),
            () => undefined,
          );
          break;
        }
        if ('renewed' in outcome) {
          lease = outcome.renewed;
          current = { pid, lease };
          deadline = attemptAt + leaseMs - margin;
        } else if (outcome.error instanceof LockNotHeldError) {
          break; // lost for certain: another node may hold it already
        }
        // Otherwise no quorum: keep running only until the deadline.
        if (!runtime.isAlive(pid) && clock.monotonic() < deadline && !controller.signal.aborted) {
          // The instance crashed while we hold the lease: run it again here.
          const again = spawn();
          if (again === null) break;
          pid = again;
          current = { pid, lease };
          emit('started', pid);
        }
      }
    } finally {
      runtime.exit(pid, 'shutdown');
      current = null;
      emit('stopped', pid);
      await letGo(lease);
    }
    return true;
  };

  const compete = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      const sentAt = clock.monotonic();
      let lease: LockLease | null;
      try {
        lease = await acquire(lockName, { leaseMs, signal: controller.signal });
      } catch {
        lease = null;
      }
      if (controller.signal.aborted) {
        if (lease !== null) await giveBack(lease);
        return;
      }
      // Nothing started (a behavior the runtime refuses, say): the lock was given back, and taking
      // it again at once would append an acquire and a release to the log as fast as the quorum
      // answers. Tried again a renewal period later, as a lock held elsewhere is.
      if (lease === null || !(await hold(lease, sentAt))) await sleep(renewEveryMs, controller.signal).catch(() => undefined);
    }
  };
  // Nothing in compete() is meant to throw; should it, the singleton stops here rather than
  // leave an unhandled rejection (which ends a Node process).
  const running = compete().catch(() => undefined);

  return {
    name: options.name,
    isHere: () => current !== null,
    pid: () => current?.pid ?? null,
    token: () => current?.lease.token ?? null,
    on(event, listener) {
      let set = listeners.get(event);
      if (set === undefined) {
        set = new Set();
        listeners.set(event, set);
      }
      set.add(listener);
      return () => set.delete(listener);
    },
    async stop() {
      controller.abort();
      await running;
      // A late renewal's release still waiting is given up on (its lease ends by itself).
      await lateReleases.stop();
    },
  };
}

/**
 * Stops a node's `singletons` together, each as its own step of `steps`. Their stops are
 * independent, and each may wait up to a renewal period for its release when there is no quorum:
 * one after another, a node holding N singletons took N renewal periods to stop.
 */
export function stopSingletons(singletons: Iterable<Singleton>, steps: StepRunner): Promise<void> {
  return steps.runTogether([...singletons].map((singleton) => [`singleton ${singleton.name}`, () => singleton.stop()] as const));
}
