// Deadlines of the current context: how long is left, and a signal that aborts when it passes,
// so work whose caller has given up stops.
import { systemClock } from '@foundation/core';
import type { Clock, Scheduler } from '@foundation/core';
import { currentContext } from './active-context';
import type { Context } from './context';
import { DeadlineExceededError } from './errors/deadline-exceeded-error';

/** Milliseconds left before the current context's deadline (Infinity without one). */
export function remainingTime(clock: Clock = systemClock): number {
  return currentContext().remainingTime(clock);
}

/** Throws DeadlineExceededError (code 5202) when the current context's deadline has passed. */
export function throwIfDeadlinePassed(clock: Clock = systemClock): void {
  currentContext().throwIfExpired(clock);
}

/**
 * An AbortSignal that aborts, with a DeadlineExceededError as its reason, when the deadline of
 * `context` passes on `scheduler` (immediately if it already has). Without a deadline it never
 * aborts. Pass it to fetch, streams or your own loops. `dispose()` cancels the timer once the
 * work is done, so nothing is left scheduled.
 */
export function deadlineSignal(context: Context = currentContext(), scheduler: Scheduler = systemClock): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const deadline = context.deadline;
  if (deadline === undefined) return { signal: controller.signal, dispose: () => undefined };
  const remaining = deadline - scheduler.monotonic();
  if (remaining <= 0) {
    controller.abort(new DeadlineExceededError(-remaining, context.correlationId));
    return { signal: controller.signal, dispose: () => undefined };
  }
  const timer = scheduler.setTimer(remaining, () => {
    controller.abort(new DeadlineExceededError(scheduler.monotonic() - deadline, context.correlationId));
  });
  return { signal: controller.signal, dispose: () => timer.cancel() };
}
