import { describe, expect, it } from '@jest/globals';
import { backoffDelay, createBackoff } from './backoff';
import { createSeededRandom } from './random/seeded-random';

describe('backoff', () => {
  it('without jitter grows by the multiplier up to the cap', () => {
    const delays = Array.from({ length: 12 }, (_, attempt) => backoffDelay(attempt, { initialMs: 100, maxMs: 30_000, jitter: 'none' }));
    expect(delays).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000]);
  });

  it('with full jitter stays in [0, ceiling) and spreads over the range', () => {
    const random = createSeededRandom(1);
    const samples = Array.from({ length: 5000 }, () => backoffDelay(3, { initialMs: 100, random }));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(800);
    expect(Math.min(...samples)).toBeLessThan(80);
    expect(Math.max(...samples)).toBeGreaterThan(720);
  });

  it('with equal jitter stays in [ceiling/2, ceiling)', () => {
    const random = createSeededRandom(2);
    for (let index = 0; index < 1000; index += 1) {
      const delay = backoffDelay(2, { initialMs: 100, jitter: 'equal', random });
      expect(delay >= 200 && delay < 400).toBe(true);
    }
  });

  it('counts attempts and resets', () => {
    const backoff = createBackoff({ initialMs: 10, jitter: 'none' });
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([10, 20, 40]);
    expect(backoff.attempts).toBe(3);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBe(10);
  });

  it('stays a number after thousands of attempts, also when retries start at 0 ms', () => {
    for (const initialMs of [0, 100]) {
      const backoff = createBackoff({ initialMs, maxMs: 1000, jitter: 'none' });
      let last = 0;
      for (let attempt = 0; attempt < 5000; attempt += 1) last = backoff.next();
      expect(last).toBe(initialMs === 0 ? 0 : 1000);
    }
  });

  it('gives a number for a NaN, negative or infinite attempt, and a multiplier of 1 (review finding)', () => {
    // Math.max(0, NaN) is NaN, and 1 ** Infinity is NaN in JavaScript.
    expect(backoffDelay(Number.NaN, { jitter: 'none' })).toBe(100);
    expect(backoffDelay(-3, { jitter: 'none' })).toBe(100);
    expect(backoffDelay(Number.POSITIVE_INFINITY, { jitter: 'none', multiplier: 1 })).toBe(100);
    expect(backoffDelay(Number.POSITIVE_INFINITY, { jitter: 'none' })).toBe(30_000);
  });

  it('refuses an infinite or non-numeric delay option, which gave delays of Infinity or NaN (review finding)', () => {
    // maxMs: Infinity passed the check (Infinity ≥ initialMs), and after a thousand attempts the
    // ceiling was Infinity: full jitter gave Infinity, or NaN when the draw was 0 (0 · Infinity),
    // and setTimeout takes either as 1 ms, a busy retry loop.
    const zero = createSeededRandom(1);
    zero.float = () => 0;
    expect(() => createBackoff({ maxMs: Number.POSITIVE_INFINITY, random: zero })).toThrow(RangeError);
    expect(() => backoffDelay(2000, { maxMs: Number.POSITIVE_INFINITY, random: zero })).toThrow(/finite/);
    expect(() => backoffDelay(0, { initialMs: Number.POSITIVE_INFINITY, maxMs: Number.POSITIVE_INFINITY })).toThrow(RangeError);
    expect(() => backoffDelay(0, { initialMs: '100' as unknown as number })).toThrow(RangeError);
    expect(() => backoffDelay(0, { multiplier: '2' as unknown as number })).toThrow(RangeError);
    expect(backoffDelay(2000, { maxMs: Number.MAX_SAFE_INTEGER, jitter: 'none' })).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('refuses nonsensical options', () => {
    expect(() => createBackoff({ initialMs: -1 })).toThrow(RangeError);
    expect(() => createBackoff({ initialMs: 100, maxMs: 10 })).toThrow(RangeError);
    expect(() => createBackoff({ multiplier: 0.5 })).toThrow(RangeError);
  });
});
