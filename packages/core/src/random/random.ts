// Randomness as an input. Protocol cores draw from an injected Random: seeded in simulations
// and tests (the same seed replays the same run), crypto-backed in production.

export interface Random {
  /** A uniformly distributed unsigned 32-bit integer. */
  uint32(): number;
  /** A float in [0, 1). */
  float(): number;
  /** An integer n with min ≤ n < max (both integers, max > min). */
  int(min: number, max: number): number;
  /** True with probability `probability` (default 0.5). */
  bool(probability?: number): boolean;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** A shuffled copy of `items` (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[];
  /** Up to `count` distinct elements of `items`, in random order. */
  sample<T>(items: readonly T[], count: number): T[];
  /**
   * An independent generator. With a label, a seeded generator derives it from its seed and the
   * label alone, so forks for "node-1", "node-2"... do not depend on how much was drawn before.
   */
  fork(label?: string): Random;
}

const TWO_POW_32 = 4_294_967_296;
const TWO_POW_53 = 2 ** 53;

/** The methods every generator shares, on top of its own `uint32`. */
export abstract class BaseRandom implements Random {
  abstract uint32(): number;
  abstract fork(label?: string): Random;

  float(): number {
    return this.uint32() / TWO_POW_32;
  }

  int(min: number, max: number): number {
    // Safe integers: beyond 2^53, min + offset rounds, and a result could reach max or beyond.
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max <= min) {
      throw new RangeError(`int(min, max) needs safe integers with max > min (got ${min}, ${max})`);
    }
    const range = max - min;
    if (range <= TWO_POW_32) {
      // Rejection sampling keeps the result unbiased when range does not divide 2^32.
      const limit = TWO_POW_32 - (TWO_POW_32 % range);
      let value = this.uint32();
      while (value >= limit) value = this.uint32();
      return min + (value % range);
    }
    if (range > Number.MAX_SAFE_INTEGER) throw new RangeError('int(min, max) range exceeds 2^53');
    // Rejection sampling on 53 bits too: scaling them (floor(value / 2^53 · range)) favours some
    // results when range does not divide 2^53. Every quantity here is an exact integer double.
    const limit = TWO_POW_53 - (TWO_POW_53 % range);
    let value: number;
    do {
      const high = this.uint32() >>> 11; // 21 bits
      value = high * TWO_POW_32 + this.uint32(); // 53 bits
    } while (value >= limit);
    return min + (value % range);
  }

  bool(probability = 0.5): boolean {
    if (probability <= 0) return false;
    if (probability >= 1) return true;
    return this.float() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick() needs a non-empty array');
    return items[this.int(0, items.length)] as T;
  }

  shuffle<T>(items: readonly T[]): T[] {
    const result = items.slice();
    for (let index = result.length - 1; index > 0; index -= 1) {
      const other = this.int(0, index + 1);
      const swap = result[index] as T;
      result[index] = result[other] as T;
      result[other] = swap;
    }
    return result;
  }

  sample<T>(items: readonly T[], count: number): T[] {
    // NaN would pass through Math.min and Math.max and fail as "Invalid array length" below.
    if (typeof count !== 'number' || Number.isNaN(count)) throw new RangeError(`sample() needs a count that is a number (got ${String(count)})`);
    const wanted = Math.max(0, Math.min(Math.floor(count), items.length));
    if (wanted === 0) return [];
    // Partial Fisher–Yates: only the first `wanted` positions are drawn.
    const pool = items.slice();
    for (let index = 0; index < wanted; index += 1) {
      const other = this.int(index, pool.length);
      const swap = pool[index] as T;
      pool[index] = pool[other] as T;
      pool[other] = swap;
    }
    pool.length = wanted;
    return pool;
  }
}
