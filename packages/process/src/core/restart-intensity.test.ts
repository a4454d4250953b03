import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { RestartIntensity } from './restart-intensity';

describe('RestartIntensity', () => {
  // OTP: "If more than MaxR restarts occur within MaxT seconds, the supervisor terminates all
  // the child processes and then itself."
  it.each([
    { maxRestarts: 3, periodMs: 5000, times: [0, 1, 2], allowed: [true, true, true] },
    { maxRestarts: 3, periodMs: 5000, times: [0, 1, 2, 3], allowed: [true, true, true, false] },
    { maxRestarts: 3, periodMs: 5000, times: [0, 1, 2, 5000], allowed: [true, true, true, true] },
    { maxRestarts: 3, periodMs: 5000, times: [0, 1, 2, 4999], allowed: [true, true, true, false] },
    { maxRestarts: 0, periodMs: 1000, times: [10], allowed: [false] },
    { maxRestarts: 1, periodMs: 100, times: [0, 100, 200, 250], allowed: [true, true, true, false] },
  ])('max $maxRestarts in $periodMs ms: restarts at $times → $allowed', ({ maxRestarts, periodMs, times, allowed }) => {
    const intensity = new RestartIntensity({ maxRestarts, periodMs });
    expect(times.map((time) => intensity.record(time))).toEqual(allowed);
  });

  it('agrees with counting restarts in the sliding window (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 60 }),
        (maxRestarts, periodMs, gaps) => {
          const intensity = new RestartIntensity({ maxRestarts, periodMs });
          const history: number[] = [];
          let now = 0;
          for (const gap of gaps) {
            now += gap;
            history.push(now);
            const inWindow = history.filter((time) => time > now - periodMs).length;
            expect(intensity.record(now)).toBe(inWindow <= maxRestarts);
            expect(intensity.recent).toBe(inWindow);
          }
        },
      ),
    );
  });
});
