// A Scheduler that counts the timers set on it and not yet fired or cancelled, so that a test
// can check what a component leaves behind when it stops, closes or answers its last call. Over
// any Scheduler: a simulation's clock, or the real one for tests over real sockets.
import type { Scheduler, Timer } from '@foundation/core';

export interface TimerCount {
  /** The scheduler to hand the component under test. */
  readonly clock: Scheduler;
  /**
   * Timers set and neither fired nor cancelled: one-shot timers until they fire, repeating ones
   * until they are cancelled. `kind` counts one of the two only.
   */
  pending(kind?: 'one-shot' | 'repeating'): number;
}

export function countTimers(inner: Scheduler): TimerCount {
  const live = new Map<object, 'one-shot' | 'repeating'>();
  const counted = (token: object, timer: Timer): Timer => ({
    cancel: () => {
      live.delete(token);
      timer.cancel();
    },
  });
  const clock: Scheduler = {
    now: () => inner.now(),
    monotonic: () => inner.monotonic(),
    setTimer(delayMs, callback) {
      const token = {};
      live.set(token, 'one-shot');
      return counted(
        token,
        inner.setTimer(delayMs, () => {
          live.delete(token);
          callback();
        }),
      );
    },
    setRepeatingTimer(intervalMs, callback) {
      const token = {};
      live.set(token, 'repeating');
      return counted(token, inner.setRepeatingTimer(intervalMs, callback));
    },
  };
  return {
    clock,
    pending(kind) {
      if (kind === undefined) return live.size;
      let count = 0;
      for (const each of live.values()) if (each === kind) count += 1;
      return count;
    },
  };
}
