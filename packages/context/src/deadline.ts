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
  // Node's timers count whole milliseconds, so one can fire up to a millisecond before the
  // fractional deadline: then it is armed again for what is left, and the signal never aborts
  // while the context is not yet expired.
  const fire = (): void => {
    const overdue = scheduler.monotonic() - deadline;
    if (overdue < 0) timer = scheduler.setTimer(-overdue, fire);
    else controller.abort(new DeadlineExceededError(overdue, context.correlationId));
  };
  let timer = scheduler.setTimer(remaining, fire);
  return { signal: controller.signal, dispose: () => timer.cancel() };
}
