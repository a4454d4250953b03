import type { Random } from '@foundation/core';
import { SimulationError } from '../errors/simulation-error';

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

/** Makes the error for a bad parameter or sample; the simulation's names its seed and time. */
export type LatencyMisuse = (message: string) => Error;

const misuse: LatencyMisuse = (message) => new SimulationError({ kind: 'misuse', message });

function nonNegative(value: number, what: string, fail: LatencyMisuse): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || value === Number.POSITIVE_INFINITY) {
    throw fail(`${what} must be a finite, non-negative number of milliseconds (got ${String(value)})`);
  }
  return value;
}

/**
 * Turns a model into a sampling function, checking its parameters once (and a function's every
 * sample). A bad one is a SimulationError (misuse, 5101), made by `fail` when given.
 */
export function latencySampler(model: LatencyModel, fail: LatencyMisuse = misuse): LatencySampler {
  if (typeof model === 'number') {
    const constant = nonNegative(model, 'latency', fail);
    return () => constant;
  }
  if (typeof model === 'function') {
    return (from, to, random) => nonNegative(model(from, to, random), `latency returned for ${from}→${to}`, fail);
  }
  if ('max' in model) {
    const min = nonNegative(model.min, 'latency min', fail);
    const max = nonNegative(model.max, 'latency max', fail);
    if (max < min) throw fail(`latency max (${max}) is below min (${min})`);
    const span = max - min;
    return (_from, _to, random) => min + random.float() * span;
  }
  const mean = nonNegative(model.mean, 'latency mean', fail);
  const shift = nonNegative(model.min ?? 0, 'latency min', fail);
  return (_from, _to, random) => shift - mean * Math.log(1 - random.float());
}
