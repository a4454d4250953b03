// A leader-elected singleton process: exactly one instance in the cluster, restarted on another
// node when its node dies. Every node runs a candidate; the one holding the lock
// `singleton/<name>` runs the process and renews the lease; a node that cannot renew stops its
// instance before its lease could have ended anywhere (measured from when it sent the last
// successful renewal), and the others take over once the lease ends.
//
// "Exactly one" rests on the clocks of the nodes advancing at about the same rate: a node
// paused for longer than the safety margin may briefly overlap with its successor. The lease's
// fencing token (`token()`) lets the process's side effects refuse the older instance.
import type { Scheduler } from '@foundation/core';
import type { Behavior, Pid, Runtime } from '@foundation/process';
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
  /** Stops competing; stops the local instance and releases the lease if held. */
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
  const lockName = `singleton/${options.name}`;
  const listeners = new Map<SingletonEvent, Set<(pid: Pid) => void>>();
  const controller = new AbortController();
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

  const hold = async (lease: LockLease, sentAt: number): Promise<void> => {
    let deadline = sentAt + leaseMs - margin;
    let pid = runtime.spawn(options.behavior, options.args === undefined ? {} : { args: options.args });
    current = { pid, lease };
    emit('started', pid);
    try {
      while (!controller.signal.aborted && clock.monotonic() < deadline) {
        await sleep(Math.min(renewEveryMs, Math.max(1, deadline - clock.monotonic())), controller.signal).catch(() => undefined);
        if (controller.signal.aborted) break;
        const attemptAt = clock.monotonic();
        try {
          lease = await current.lease.renew(leaseMs);
          current = { pid, lease };
          deadline = attemptAt + leaseMs - margin;
        } catch {
          // Lost, or could not reach a quorum: keep running only until the deadline.
        }
        if (!runtime.isAlive(pid) && clock.monotonic() < deadline && !controller.signal.aborted) {
          // The instance crashed while we hold the lease: run it again here.
          pid = runtime.spawn(options.behavior, options.args === undefined ? {} : { args: options.args });
          current = { pid, lease };
          emit('started', pid);
        }
      }
    } finally {
      runtime.exit(pid, 'shutdown');
      current = null;
      emit('stopped', pid);
      await lease.release().catch(() => undefined);
    }
  };

  const compete = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      const sentAt = clock.monotonic();
      let lease: LockLease | null;
      try {
        lease = await locks.acquire(lockName, { leaseMs, signal: controller.signal });
      } catch {
        lease = null;
      }
      if (controller.signal.aborted) {
        await lease?.release().catch(() => undefined);
        return;
      }
      if (lease !== null) await hold(lease, sentAt);
      else await sleep(renewEveryMs, controller.signal).catch(() => undefined);
    }
  };
  const running = compete();

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
    },
  };
}
