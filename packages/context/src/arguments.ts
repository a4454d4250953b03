// Checks of the objects callers pass to the public entries. TypeScript keeps a typed caller from
// passing null or a number, but JavaScript callers (and decoded data) can: without these checks
// such an argument failed as a bare TypeError, with no code and no name of what was wrong.
import type { Clock, Scheduler } from '@foundation/core';
import { InvalidContextValueError } from './errors/invalid-context-value-error';

/** True for an object (not null, not an array) whose properties can be read. */
export function isObjectArgument(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Throws InvalidContextValueError naming `name` unless `fn` is a function: called later (by
 * `withContext` once its context is set up, by a wrapper from `bindContext` wherever it is
 * called), anything else failed as a bare TypeError, far from the mistake in the latter case.
 */
export function checkFunction(fn: unknown, name = 'fn'): asserts fn is (...args: never[]) => unknown {
  if (typeof fn !== 'function') throw new InvalidContextValueError(name, 'must be a function', fn);
}

/** Throws InvalidContextValueError naming `name` unless `clock` has a `monotonic()` method. */
export function checkClock(clock: unknown, name = 'clock'): asserts clock is Clock {
  if (!isObjectArgument(clock) || typeof (clock as { monotonic?: unknown }).monotonic !== 'function') {
    throw new InvalidContextValueError(name, 'must be a Clock (an object with a monotonic() method)', clock);
  }
}

/** Throws InvalidContextValueError naming `name` unless `scheduler` can read the time and set timers. */
export function checkScheduler(scheduler: unknown, name = 'scheduler'): asserts scheduler is Scheduler {
  checkClock(scheduler, name);
  if (typeof (scheduler as { setTimer?: unknown }).setTimer !== 'function') {
    throw new InvalidContextValueError(name, 'must be a Scheduler (with monotonic() and setTimer())', scheduler);
  }
}
