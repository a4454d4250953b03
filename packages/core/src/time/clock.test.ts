import { describe, expect, it } from '@jest/globals';
import { createSystemClock, sleep, systemClock } from './clock';

describe('systemClock', () => {
  it('reads wall and monotonic time', () => {
    const before = Date.now();
    expect(systemClock.now()).toBeGreaterThanOrEqual(before);
    const first = systemClock.monotonic();
    const second = systemClock.monotonic();
    expect(second).toBeGreaterThanOrEqual(first);
  });

  it('fires a timer once and a repeating timer until cancelled', async () => {
    const clock = createSystemClock({ keepAlive: false });
    const fired: string[] = [];
    await new Promise<void>((resolve) => {
      clock.setTimer(1, () => {
        fired.push('once');
        resolve();
      });
    });
    let ticks = 0;
    await new Promise<void>((resolve) => {
      const timer = clock.setRepeatingTimer(1, () => {
        ticks += 1;
        if (ticks === 3) {
          timer.cancel();
          resolve();
        }
      });
    });
    await sleep(clock, 5);
    expect(fired).toEqual(['once']);
    expect(ticks).toBe(3);
  });

  it('does not fire a cancelled timer', async () => {
    let fired = false;
    const timer = systemClock.setTimer(1, () => {
      fired = true;
    });
    timer.cancel();
    timer.cancel();
    await sleep(systemClock, 10);
    expect(fired).toBe(false);
  });

  it('chains delays longer than Node allows instead of firing at once, and never fires Infinity', async () => {
    const clock = createSystemClock({ keepAlive: false });
    let fired = 0;
    const month = clock.setTimer(30 * 24 * 60 * 60 * 1000, () => {
      fired += 1;
    });
    const never = clock.setTimer(Number.POSITIVE_INFINITY, () => {
      fired += 1;
    });
    const repeating = clock.setRepeatingTimer(2 ** 32, () => {
      fired += 1;
    });
    await sleep(clock, 20);
    expect(fired).toBe(0);
    month.cancel();
    never.cancel();
    repeating.cancel();
  });

  it('refuses negative and NaN delays', () => {
    expect(() => systemClock.setTimer(-1, () => undefined)).toThrow(RangeError);
    expect(() => systemClock.setTimer(Number.NaN, () => undefined)).toThrow(RangeError);
    expect(() => systemClock.setRepeatingTimer(0, () => undefined)).toThrow(RangeError);
  });

  it('sleep rejects with the abort reason', async () => {
    const controller = new AbortController();
    const pending = sleep(systemClock, 10_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
    const aborted = AbortSignal.abort(new Error('already'));
    await expect(sleep(systemClock, 1, aborted)).rejects.toThrow('already');
  });
});
