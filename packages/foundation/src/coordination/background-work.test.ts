import { describe, expect, it } from '@jest/globals';
import { createBackgroundWork } from './background-work';

describe('createBackgroundWork', () => {
  it('stop() aborts the work\'s signal and resolves once all of it has settled, its failures dropped; nothing starts after', async () => {
    const background = createBackgroundWork();
    const settle: (() => void)[] = [];
    const signals: AbortSignal[] = [];
    for (const fails of [false, true]) {
      background.run(
        (signal) =>
          new Promise<void>((resolve, reject) => {
            signals.push(signal);
            settle.push(fails ? () => reject(new Error('refused')) : resolve);
          }),
      );
    }
    expect(signals.map((signal) => signal.aborted)).toEqual([false, false]);

    let stopped = false;
    const stopping = background.stop().then(() => {
      stopped = true;
    });
    expect(signals.map((signal) => signal.aborted)).toEqual([true, true]);
    let started = false;
    background.run(() => {
      started = true;
      return Promise.resolve();
    });
    expect(started).toBe(false);
    settle[0]!();
    // Every promise job runs before the next macrotask: long enough for a stop() that awaited
    // only the first work to resolve (two microtasks were not).
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false); // the second is still in flight
    settle[1]!();
    await stopping;
    expect(stopped).toBe(true);
  });
});
