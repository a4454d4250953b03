// How the run queue gets CPU time. The runtime handles messages in slices; between slices it
// must give the event loop a turn so that I/O callbacks and timers never starve behind a busy
// process. That is all a driver does, so the same run queue runs on Node's event loop and on a
// simulated clock.
import type { Scheduler } from '@foundation/core';

export interface RunQueueDriver {
  /** Runs `callback` after the current synchronous code, before I/O (a microtask on the event loop). */
  soon(callback: () => void): void;
  /** Runs `callback` after pending I/O and due timers had their turn (setImmediate on the event loop). */
  yield(callback: () => void): void;
}

/** The driver for Node's event loop: microtasks to start work promptly, setImmediate to yield. */
export function createEventLoopDriver(): RunQueueDriver {
  return {
    soon: (callback) => queueMicrotask(callback),
    yield: (callback) => void setImmediate(callback),
  };
}

/**
 * A driver over a Scheduler (testkit's simulated clock, for instance): both kinds of wake-up
 * become zero-delay timers, so the run queue interleaves with every other timer deterministically.
 */
export function createSchedulerDriver(scheduler: Scheduler): RunQueueDriver {
  return {
    soon: (callback) => void scheduler.setTimer(0, callback),
    yield: (callback) => void scheduler.setTimer(0, callback),
  };
}
