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
import type { LockCommand, LockResult, LockState } from '../consensus/locks';
import { InvalidOptionsError } from '../errors/invalid-options-error';
import { LockNotHeldError } from '../errors/lock-not-held-error';
import { createBackgroundWork } from './background-work';

export interface LockLease {
  readonly name: string;
  /** Fencing token: strictly greater than any token granted for this lock before. */
  readonly token: number;
  /** When the lease ends, on the proposer's clock, unless renewed. */
  readonly expiresAt: number;
  /** Extends the lease; rejects with LockNotHeldError when the lock was lost. */
  renew(leaseMs?: number): Promise<LockLease>;
  /**
   * Gives the lock back; `signal` gives up waiting for that (the lease then ends by itself).
   * Resolves true when this lease was given back, false when the lock no longer held it (the
   * lease ended and another node took the lock, or the leader cleared it).
   */
  release(options?: { readonly signal?: AbortSignal }): Promise<boolean>;
}

export interface AcquireOptions {
  /** Lease length in ms. Default 10,000. */
  readonly leaseMs?: number;
  /** Keep trying for this long before giving up (resolving null). Default 0 (or less): one try. */
  readonly waitMs?: number;
  readonly signal?: AbortSignal;
}

export interface DistributedLocks {
  /** Takes the lock, or resolves null if it is held (after `waitMs` of retries). */
  acquire(name: string, options?: AcquireOptions): Promise<LockLease | null>;
  /**
   * Who holds the lock now (a linearizable read), or null: also when the last lease granted has
   * ended on this node's clock, as an acquire() from this node would then find the lock free.
   */
  holder(name: string): Promise<LockState | null>;
}

/**
 * How every singleton's lock is named: `singleton/<name>` (src/coordination/singleton.ts).
 * acquire() refuses such a name: a lock a caller took under it kept the singleton of that name
 * from starting anywhere for as long as it was held. The singletons take it through
 * `reservedAcquire`.
 */
export const SINGLETON_LOCK_PREFIX = 'singleton/';

/**
 * The acquire() of createDistributedLocks without the refusal of the singletons' names, for
 * startSingleton. Registered (Symbol.for), so that a second copy of the package finds it too.
 */
const ACQUIRE_RESERVED: unique symbol = Symbol.for('@foundation/foundation:locks.acquire-reserved');

interface WithReservedAcquire {
  readonly [ACQUIRE_RESERVED]?: DistributedLocks['acquire'];
}

/**
 * The acquire() that takes a singleton's lock from `locks`: their own when createDistributedLocks
 * made them, `locks.acquire` otherwise (locks made elsewhere refuse no names).
 */
export function reservedAcquire(locks: DistributedLocks): DistributedLocks['acquire'] {
  const own = (locks as DistributedLocks & WithReservedAcquire)[ACQUIRE_RESERVED];
  return own ?? ((name, acquireOptions) => locks.acquire(name, acquireOptions));
}

export interface LockBackend {
  propose(stream: 'locks', command: unknown, signal?: AbortSignal): Promise<{ readonly value: unknown }>;
  read(query: { readonly kind: 'lock'; readonly name: string }, signal?: AbortSignal): Promise<unknown>;
}

/** How a value the caller gave is shown in a refusal: a number as it is, anything else by its type. */
function shown(value: unknown): string {
  return typeof value === 'number' ? String(value) : typeof value;
}

/** A lock's name as a refusal shows it: quoted, and cut short (a name may be of any length). */
function shownName(name: string): string {
  return JSON.stringify(name.slice(0, 200));
}

/**
 * Refuses a lease the lock table would refuse: it answers such a command with a null result, which
 * a renewal could not tell from a lock lost. Refused as the package refuses every option it
 * cannot use, with InvalidOptionsError (6101), not a TypeError a caller could not tell by its code.
 */
function checkLeaseMs(name: string, leaseMs: unknown): void {
  if (typeof leaseMs !== 'number' || !Number.isFinite(leaseMs) || leaseMs <= 0) {
    throw new InvalidOptionsError('leaseMs', `of lock ${shownName(name)} must be a positive number of ms (got ${shown(leaseMs)})`);
  }
}

/** Whether the table's answer to a release says it released the lease. */
function released(value: unknown): boolean {
  const result = value as LockResult | null;
  return result !== null && result.op === 'release' && result.released;
}

/**
 * Clears lock `name` if the table lets `owner` take it at `now`: an acquire of a lease of 1 ms
 * dated `now` (granted when the lock is free then, or already `owner`'s), then a release of what
 * it granted. Resolves whether the lock was released. The take-back of an acquire given up on
 * and the leader's sweep of ended leases (lock-sweep.ts) both clear a lock this way.
 */
export async function takeOverAndRelease(propose: (command: LockCommand) => Promise<{ readonly value: unknown }>, name: string, owner: string, now: number): Promise<boolean> {
  const { value } = await propose({ op: 'acquire', name, owner, leaseMs: 1, now });
  const result = value as LockResult | null;
  if (result === null || result.op !== 'acquire' || !result.acquired) return false;
  return released((await propose({ op: 'release', name, token: result.lock.token })).value);
}

export interface DistributedLocksOptions {
  readonly nodeId: string;
  readonly clock: Clock;
  readonly random?: Random;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** A node's locks, with what its stop() needs of them. */
export interface LockClient {
  readonly locks: DistributedLocks;
  /**
   * Stops the take-backs: aborts the proposals of those in flight and resolves once they have
   * settled; an acquire that fails from then on takes nothing back (a grant it may still get ends
   * with its lease). Before, a take-back started as the node stopped (a singleton's acquire aborted
   * by its stop, say) went on proposing into the node's stop, after stop() had returned too.
   */
  stop(): Promise<void>;
}

export function createDistributedLocks(backend: LockBackend, options: DistributedLocksOptions): DistributedLocks {
  return createLockClient(backend, options).locks;
}

export function createLockClient(backend: LockBackend, options: DistributedLocksOptions): LockClient {
  const lease = (state: LockState, leaseMs: number): LockLease => ({
    name: state.name,
    token: state.token,
    expiresAt: state.expiresAt,
    async renew(renewMs = leaseMs) {
      checkLeaseMs(state.name, renewMs);
      const { value } = await backend.propose('locks', { op: 'renew', name: state.name, token: state.token, leaseMs: renewMs, now: options.clock.now() });
      const result = value as LockResult | null;
      if (result === null || result.op !== 'renew' || !result.renewed || result.lock === null) throw new LockNotHeldError(state.name, state.token);
      return lease(result.lock, renewMs);
    },
    async release(releaseOptions = {}) {
      const { value } = await backend.propose('locks', { op: 'release', name: state.name, token: state.token }, releaseOptions.signal);
      return released(value);
    },
  });
  /** The take-backs in flight, which stop() aborts and waits for. */
  const takingBack = createBackgroundWork();
  /**
   * Takes back whatever an acquire by `owner` that its caller gave up on may still be granted:
   * the proposal can be in the log already, or get there, after it failed or was aborted, and
   * nobody would hold its lease. The table grants the lock again to the same owner, so an acquire
   * of a lease of 1 ms either finds it held by another (nothing to take back) or takes it over,
   * ending within 1 ms; the release then clears it. This proposal raises the node's floor past the
   * one given up on (unless an older proposal is still waiting), so that, appended after it, the
   * given-up one is refused. Best effort: if this fails too, the lease ends by itself.
   */
  const takeBack = (name: string, owner: string): void => {
    takingBack.run((signal) => takeOverAndRelease((command) => backend.propose('locks', command, signal), name, owner, options.clock.now()));
  };
  const acquire = async (name: string, acquireOptions: AcquireOptions = {}): Promise<LockLease | null> => {
    // The table refuses a command without a name only once it is in the log, with a null result.
    if (typeof name !== 'string') throw new InvalidOptionsError('name', `of a lock must be a string (got ${typeof name})`);
    const leaseMs = acquireOptions.leaseMs ?? 10_000;
    checkLeaseMs(name, leaseMs);
    const waitMs = acquireOptions.waitMs ?? 0;
    // NaN never compares as used up: acquire() would try again every few ms for good.
    if (typeof waitMs !== 'number' || Number.isNaN(waitMs)) throw new InvalidOptionsError('waitMs', `of lock ${shownName(name)} must be a number of ms (got ${shown(waitMs)})`);
    const owner = `${options.nodeId}/${uuidV4(options.random)}`;
    const giveUpAt = options.clock.monotonic() + waitMs;
    for (;;) {
      // Aborted before this proposal: the consensus refuses it before it sends anything, so there
      // is no grant to take back (the take-back would append an acquire and a release for nothing,
      // and hold the lock meanwhile for an owner nobody is).
      acquireOptions.signal?.throwIfAborted();
      let value: unknown;
      try {
        ({ value } = await backend.propose('locks', { op: 'acquire', name, owner, leaseMs, now: options.clock.now() }, acquireOptions.signal));
      } catch (error) {
        takeBack(name, owner);
        throw error;
      }
      const result = value as LockResult | null;
      // The state machine's refusal, on every replica alike, of a command the table cannot apply:
      // every field is checked above but this node's clock reading (not finite, say).
      if (result === null) throw new TypeError(`lock ${name}: the lock table refused the request`);
      if (result.op === 'acquire' && result.acquired) return lease(result.lock, leaseMs);
      const remaining = giveUpAt - options.clock.monotonic();
      if (remaining <= 0) return null;
      const holderExpires = result.op === 'acquire' && !result.acquired ? result.holder.expiresAt - options.clock.now() : leaseMs;
      await options.sleep(Math.max(10, Math.min(remaining, holderExpires, leaseMs / 4)), acquireOptions.signal);
    }
  };
  const locks: DistributedLocks & WithReservedAcquire = {
    acquire(name, acquireOptions) {
      if (typeof name === 'string' && name.startsWith(SINGLETON_LOCK_PREFIX)) {
        const reason = `of lock ${shownName(name)} starts with "${SINGLETON_LOCK_PREFIX}", which names the locks of singletons (the singleton named x holds "${SINGLETON_LOCK_PREFIX}x"): held by anyone else, it would keep that singleton from starting; choose a name without that prefix`;
        return Promise.reject(new InvalidOptionsError('name', reason));
      }
      return acquire(name, acquireOptions);
    },
    [ACQUIRE_RESERVED]: acquire,
    async holder(name) {
      const state = (await backend.read({ kind: 'lock', name })) as LockState | null;
      // The table keeps a lease that ended until the lock is taken or given back (or the leader
      // clears it, src/coordination/lock-sweep.ts): judged free here as acquire() judges it,
      // with this node's clock.
      return state !== null && options.clock.now() < state.expiresAt ? state : null;
    },
  };
  return {
    locks,
    stop: () => takingBack.stop(),
  };
}
