// Deadlines of the current context: how long is left, and a signal that aborts when it passes,
// so work whose caller has given up stops.
import { createSystemClock, systemClock } from '@foundation/core';
import type { Clock, Scheduler } from '@foundation/core';
import { currentContext } from './active-context';
import { checkClock, checkScheduler } from './arguments';
import { isContext } from './context';
import type { Context } from './context';
import { DeadlineExceededError } from './errors/deadline-exceeded-error';
import { InvalidContextValueError } from './errors/invalid-context-value-error';

/** Milliseconds left before the current context's deadline (Infinity without one). */
export function remainingTime(clock: Clock = systemClock): number {
  checkClock(clock);
  return currentContext().remainingTime(clock);
}

/** Throws DeadlineExceededError (code 5202) when the current context's deadline has passed. */
export function throwIfDeadlinePassed(clock: Clock = systemClock): void {
  checkClock(clock);
  currentContext().throwIfExpired(clock);
}

/**
 * The default scheduler of `deadlineSignal`: its timers do not keep the process alive, as
 * `AbortSignal.timeout`'s do not. With the system clock's, a signal never disposed held a
 * process that had nothing else to do open until the deadline.
 */
const unrefScheduler = createSystemClock({ keepAlive: false });

/**
 * An AbortSignal that aborts, with a DeadlineExceededError as its reason, when the deadline of
 * `context` passes on `scheduler` (immediately if it already has). Without a deadline it never
 * aborts. Pass it to fetch, streams or your own loops. `dispose()` cancels the timer once the
 * work is done, so nothing is left scheduled. The default scheduler's timer does not keep the
 * process alive.
 */
export function deadlineSignal(context: Context = currentContext(), scheduler: Scheduler = unrefScheduler): { signal: AbortSignal; dispose(): void } {
  if (!isContext(context)) throw new InvalidContextValueError('context', 'must be a Context', context);
  checkScheduler(scheduler);
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
