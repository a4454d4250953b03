import type { Random } from '@foundation/core';

/**
 * How long a message takes on a link, in virtual milliseconds:
 * - a number: always that long;
 * - `{ min, max }`: uniform in [min, max);
 * - `{ mean, min? }`: exponential with that mean, shifted by `min` (a long tail);
 * - a function of the link and the simulation's randomness.
 */
export type LatencyModel =
  | number
  | { readonly min: number; readonly max: number }
  | { readonly mean: number; readonly min?: number }
  | ((from: string, to: string, random: Random) => number);

export type LatencySampler = (from: string, to: string, random: Random) => number;

function nonNegative(value: number, what: string): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || value === Number.POSITIVE_INFINITY) {
    throw new RangeError(`${what} must be a finite, non-negative number of milliseconds (got ${String(value)})`);
  }
  return value;
}

/** Turns a model into a sampling function, checking its parameters once. */
export function latencySampler(model: LatencyModel): LatencySampler {
  if (typeof model === 'number') {
    const constant = nonNegative(model, 'latency');
    return () => constant;
  }
  if (typeof model === 'function') {
    return (from, to, random) => nonNegative(model(from, to, random), `latency returned for ${from}→${to}`);
  }
  if ('max' in model) {
    const min = nonNegative(model.min, 'latency min');
    const max = nonNegative(model.max, 'latency max');
    if (max < min) throw new RangeError(`latency max (${max}) is below min (${min})`);
    const span = max - min;
    return (_from, _to, random) => min + random.float() * span;
  }
  const mean = nonNegative(model.mean, 'latency mean');
  const shift = nonNegative(model.min ?? 0, 'latency min');
  return (_from, _to, random) => shift - mean * Math.log(1 - random.float());
}
