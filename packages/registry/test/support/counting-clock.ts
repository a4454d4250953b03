// A Scheduler over a simulation's clock that counts its pending timers, so that a test can
// check that a registry leaves none behind (after close, after unregister).
import type { Scheduler, Timer } from '@foundation/core';
import type { Simulation } from '@foundation/testkit';

export interface CountingClock {
  readonly clock: Scheduler;
  /** Timers set and neither cancelled nor fired (repeating ones until cancelled). */
  pending(): number;
}

export function createCountingClock(simulation: Simulation): CountingClock {
  let live = 0;
  const counted = (timer: Timer): Timer => {
    live += 1;
    let done = false;
    return {
      cancel: () => {
        if (!done) live -= 1;
        done = true;
        timer.cancel();
      },
    };
  };
  const clock: Scheduler = {
    now: () => simulation.clock.now(),
    monotonic: () => simulation.clock.monotonic(),
    setTimer: (delayMs, callback) => {
      let handle: Timer | undefined = undefined;
      const timer = simulation.clock.setTimer(delayMs, () => {
        handle?.cancel();
        callback();
      });
      handle = counted(timer);
      return handle;
    },
    setRepeatingTimer: (intervalMs, callback) => counted(simulation.clock.setRepeatingTimer(intervalMs, callback)),
  };
  return { clock, pending: () => live };
}
