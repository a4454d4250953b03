// CPU-heavy work over a large array without blocking the event loop: items are processed in
// chunks bounded by a count and a time budget, and the loop gets a turn between chunks.
import { systemClock } from '@foundation/core';
import type { Clock } from '@foundation/core';
import { positiveInteger, positiveNumber } from './options';
import { createEventLoopDriver } from './driver';
import type { RunQueueDriver } from './driver';

export interface CpuIntensiveBudget {
  /** Items per chunk. Default 2,000 (the Foundation design's "yield every 2,000 reductions"). */
  readonly items?: number;
  /** Milliseconds per chunk. Default 5. */
  readonly ms?: number;
}

export interface CpuIntensiveOptions {
  readonly budget?: CpuIntensiveBudget;
  /** Stops between chunks: the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** How to yield between chunks; default the event loop (setImmediate). */
  readonly driver?: RunQueueDriver;
  /** Clock for the time budget; default the system clock. */
  readonly clock?: Clock;
}

/** How often the time budget is checked inside a chunk, in items. */
const CLOCK_EVERY = 64;

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error('aborted', { cause: reason });
}

/**
 * Maps `items` through `fn`, at most `budget.items` items or `budget.ms` milliseconds at a
 * time, yielding to the event loop between chunks. Resolves with the results in order; a throw
 * from `fn` rejects the promise and stops the work.
 */
export function cpuIntensive<Item, Result>(
  items: readonly Item[],
  fn: (item: Item, index: number) => Result,
  options: CpuIntensiveOptions = {},
): Promise<Result[]> {
  const chunkItems = positiveInteger('budget.items', options.budget?.items, 2_000);
  const chunkMs = positiveNumber('budget.ms', options.budget?.ms, 5);
  const driver = options.driver ?? createEventLoopDriver();
  const clock = options.clock ?? systemClock;
  const { signal } = options;
  const results = new Array<Result>(items.length);
  let next = 0;
  return new Promise<Result[]>((resolve, reject) => {
    const chunk = (): void => {
      if (signal?.aborted === true) {
        reject(abortReason(signal));
        return;
      }
      const start = clock.monotonic();
      const end = Math.min(items.length, next + chunkItems);
      try {
        while (next < end) {
          results[next] = fn(items[next]!, next);
          next += 1;
          if (next % CLOCK_EVERY === 0 && clock.monotonic() - start >= chunkMs) break;
        }
      } catch (error) {
        reject(error instanceof Error ? error : new Error('cpuIntensive: the function threw a non-error', { cause: error }));
        return;
      }
      if (next >= items.length) resolve(results);
      else driver.yield(chunk);
    };
    chunk();
  });
}
