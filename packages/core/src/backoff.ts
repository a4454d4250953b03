// Exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog,
// 2015): the delay before retry n is uniform in [0, min(max, initial · multiplier^n)), which
// spreads reconnecting clients out instead of having them retry in lockstep.
import type { Random } from './random/random';
import { createCryptoRandom } from './random/crypto-random';

export type Jitter = 'full' | 'equal' | 'none';

export interface BackoffOptions {
  /** Delay ceiling for the first retry, in ms. Default 100. */
  readonly initialMs?: number;
  /** Largest delay, in ms. Default 30,000 (1.x's cap). */
  readonly maxMs?: number;
  /** Growth per attempt. Default 2. */
  readonly multiplier?: number;
  /** `full`: uniform in [0, d); `equal`: d/2 + uniform in [0, d/2); `none`: d. Default `full`. */
  readonly jitter?: Jitter;
  /** Source of jitter; seeded in simulations. Default crypto-backed. */
  readonly random?: Random;
}

export interface Backoff {
  /** The delay before the next attempt, in ms; each call counts one attempt. */
  next(): number;
  /** Back to the first attempt, after a success. */
  reset(): void;
  /** Attempts counted since the last reset. */
  readonly attempts: number;
}

interface ResolvedBackoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
  readonly jitter: Jitter;
  readonly random: Random;
}

function resolve(options: BackoffOptions): ResolvedBackoff {
  const initialMs = options.initialMs ?? 100;
  const maxMs = options.maxMs ?? 30_000;
  const multiplier = options.multiplier ?? 2;
  // Numbers, not text that compares like one; and a finite maxMs: with an infinite one the
  // ceiling grows to Infinity, and full jitter gives Infinity or NaN (a draw of 0 · Infinity),
  // which setTimeout takes as 1 ms.
  if (typeof initialMs !== 'number' || typeof maxMs !== 'number' || typeof multiplier !== 'number') {
    throw new RangeError('backoff needs initialMs, maxMs and multiplier to be numbers');
  }
  if (!(initialMs >= 0) || !(maxMs >= initialMs) || !Number.isFinite(maxMs) || !(multiplier >= 1)) {
    throw new RangeError('backoff needs 0 ≤ initialMs ≤ maxMs, maxMs finite, and multiplier ≥ 1');
  }
  return { initialMs, maxMs, multiplier, jitter: options.jitter ?? 'full', random: options.random ?? createCryptoRandom() };
}

function delayFor(attempt: number, options: ResolvedBackoff): number {
  // A NaN or negative attempt counts as the first (Math.max(0, NaN) is NaN), and a multiplier of
  // 1 is not raised to the power (1 ** Infinity is NaN in JavaScript). The growth overflows to
  // Infinity after about a thousand attempts: 0 · Infinity would be NaN, hence the 0 case.
  const n = attempt > 0 ? attempt : 0;
  const growth = options.multiplier === 1 ? 1 : options.multiplier ** n;
  const ceiling = options.initialMs === 0 ? 0 : Math.min(options.maxMs, options.initialMs * growth);
  switch (options.jitter) {
    case 'none':
      return ceiling;
    case 'equal':
      return ceiling / 2 + options.random.float() * (ceiling / 2);
    default:
      // 'full', and anything else a caller without types passed.
      return options.random.float() * ceiling;
  }
}

/** The delay before retry number `attempt` (0-based). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  return delayFor(attempt, resolve(options));
}

/** A stateful backoff: `next()` after each failure, `reset()` after a success. */
export function createBackoff(options: BackoffOptions = {}): Backoff {
  const resolved = resolve(options);
  let attempts = 0;
  return {
    next: () => delayFor(attempts++, resolved),
    reset: () => {
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}
