// Requests waiting for their reply, by id, each with its timeout. One manager per link, so a
// peer going down fails exactly its own requests.
import type { Scheduler, Timer } from '@foundation/core';
import { RequestInterruptedError } from '../errors/request-interrupted-error';
import { RequestTimeoutError } from '../errors/request-timeout-error';

/** How a request ended: its reply's value, or the error it failed with. */
export type RequestOutcome = { ok: true; value: unknown } | { ok: false; error: unknown };

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: Timer;
}

export interface RequestManager {
  /**
   * Registers request `id`; the promise settles with the reply, a timeout or the peer going down.
   * At the timeout, `onTimeout` runs first (it takes the request back if it is still queued).
   */
  add(id: number, peer: string, channel: string, timeoutMs: number, onTimeout?: () => void): Promise<unknown>;
  /**
   * Settles request `id` with the outcome `outcome` builds, called only when the request is
   * pending; false when it is unknown (late, duplicate or forged).
   */
  settle(id: number, outcome: () => RequestOutcome): boolean;
  /** Fails every pending request (the peer is gone): their outcome is unknown. */
  failAll(peer: string, reason: string): void;
  readonly size: number;
}

export function createRequestManager(clock: Scheduler): RequestManager {
  const pending = new Map<number, Pending>();
  return {
    add(id, peer, channel, timeoutMs, onTimeout) {
      return new Promise<unknown>((resolve, reject) => {
        const timer = clock.setTimer(timeoutMs, () => {
          pending.delete(id);
          onTimeout?.();
          reject(new RequestTimeoutError(peer, channel, timeoutMs));
        });
        pending.set(id, { resolve, reject, timer });
      });
    },
    settle(id, outcome) {
      const entry = pending.get(id);
      if (entry === undefined) return false;
      pending.delete(id);
      entry.timer.cancel();
      const result = outcome();
      if (result.ok) entry.resolve(result.value);
      else entry.reject(result.error);
      return true;
    },
    failAll(peer, reason) {
      const entries = [...pending.values()];
      pending.clear();
      for (const entry of entries) {
        entry.timer.cancel();
        entry.reject(new RequestInterruptedError(peer, reason));
      }
    },
    get size() {
      return pending.size;
    },
  };
}
