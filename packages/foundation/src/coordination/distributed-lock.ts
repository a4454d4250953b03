// A distributed lock with fencing tokens, on the cluster's Raft group. A grant's token is the log
// index that granted it, so tokens only grow: a resource that remembers the highest token it
// has seen can refuse a holder whose lease ran out while it was paused or cut off, which is
// what makes such a lock safe to build on (Kleppmann, "How to do distributed locking", 2016).
//
// Leases are measured on the clock of the node proposing each command (carried in the command,
// so every replica decides alike). A holder cannot know for sure that its lease is still valid:
// use the token, not the lease, to protect the resource.
import { uuidV4 } from '@foundation/core';
import type { Clock, Random } from '@foundation/core';
import type { LockResult, LockState } from '../consensus/locks';
import { LockNotHeldError } from '../errors/lock-not-held-error';

export interface LockLease {
  readonly name: string;
  /** Fencing token: strictly greater than any token granted for this lock before. */
  readonly token: number;
  /** When the lease ends, on the proposer's clock, unless renewed. */
  readonly expiresAt: number;
  /** Extends the lease; rejects with LockNotHeldError when the lock was lost. */
  renew(leaseMs?: number): Promise<LockLease>;
  /** Gives the lock back; `signal` gives up waiting for that (the lease then ends by itself). */
  release(options?: { readonly signal?: AbortSignal }): Promise<void>;
}

export interface AcquireOptions {
  /** Lease length in ms. Default 10,000. */
  readonly leaseMs?: number;
  /** Keep trying for this long before giving up (resolving null). Default 0: one try. */
  readonly waitMs?: number;
  readonly signal?: AbortSignal;
}

export interface DistributedLocks {
  /** Takes the lock, or resolves null if it is held (after `waitMs` of retries). */
  acquire(name: string, options?: AcquireOptions): Promise<LockLease | null>;
  /** Who holds the lock now (a linearizable read), or null. */
  holder(name: string): Promise<LockState | null>;
}

export interface LockBackend {
  propose(stream: 'locks', command: unknown, signal?: AbortSignal): Promise<{ readonly value: unknown }>;
  read(query: { readonly kind: 'lock'; readonly name: string }, signal?: AbortSignal): Promise<unknown>;
}

export function createDistributedLocks(backend: LockBackend, options: { readonly nodeId: string; readonly clock: Clock; readonly random?: Random; readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void> }): DistributedLocks {
  const lease = (state: LockState, leaseMs: number): LockLease => ({
    name: state.name,
    token: state.token,
    expiresAt: state.expiresAt,
    async renew(renewMs = leaseMs) {
      const { value } = await backend.propose('locks', { op: 'renew', name: state.name, token: state.token, leaseMs: renewMs, now: options.clock.now() });
      const result = value as LockResult | null;
      if (result === null || result.op !== 'renew' || !result.renewed || result.lock === null) throw new LockNotHeldError(state.name, state.token);
      return lease(result.lock, renewMs);
    },
    async release(releaseOptions = {}) {
      await backend.propose('locks', { op: 'release', name: state.name, token: state.token }, releaseOptions.signal);
    },
  });
  return {
    async acquire(name, acquireOptions = {}) {
      const leaseMs = acquireOptions.leaseMs ?? 10_000;
      if (typeof leaseMs !== 'number' || !Number.isFinite(leaseMs) || leaseMs <= 0) {
        throw new TypeError(`lock ${name}: leaseMs must be a positive number of ms (got ${String(leaseMs)})`);
      }
      const owner = `${options.nodeId}/${uuidV4(options.random)}`;
      const giveUpAt = options.clock.monotonic() + (acquireOptions.waitMs ?? 0);
      for (;;) {
        const { value } = await backend.propose('locks', { op: 'acquire', name, owner, leaseMs, now: options.clock.now() }, acquireOptions.signal);
        const result = value as LockResult | null;
        if (result === null) throw new TypeError(`lock ${name}: the lock table refused the request`);
        if (result.op === 'acquire' && result.acquired) return lease(result.lock, leaseMs);
        const remaining = giveUpAt - options.clock.monotonic();
        if (remaining <= 0) return null;
        const holderExpires = result.op === 'acquire' && !result.acquired ? result.holder.expiresAt - options.clock.now() : leaseMs;
        await options.sleep(Math.max(10, Math.min(remaining, holderExpires, leaseMs / 4)), acquireOptions.signal);
      }
    },
    async holder(name) {
      return (await backend.read({ kind: 'lock', name })) as LockState | null;
    },
  };
}
