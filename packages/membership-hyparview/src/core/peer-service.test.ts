// The seed-rejoin schedule HyParView and client-server share: when a rejoin is due, whether a
// node asks, and that its draws are those of the `seed-rejoin` fork, in the order the services
// made them before they shared it (seeded runs replay as they did).
import { describe, expect, it } from '@jest/globals';
import { createSeededRandom } from '@foundation/core';
import { SeedRejoinSchedule } from './peer-service';
import type { SeedRejoinOptions } from './peer-service';

function options(intervalMs: number, size?: number): SeedRejoinOptions {
  return { intervalMs, clusterSize: () => size };
}

describe('SeedRejoinSchedule', () => {
  it('is off without options or with an interval of 0: never due', () => {
    for (const off of [undefined, options(0, 10)]) {
      const schedule = new SeedRejoinSchedule(off, createSeededRandom(1));
      schedule.start(0);
      schedule.seedsChanged(false, true, 5);
      expect([schedule.nextAt, schedule.due(1e9)]).toEqual([Number.POSITIVE_INFINITY, false]);
    }
  });

  it('first rejoin at a random offset of the first interval (the fork drawn), then one per interval', () => {
    const schedule = new SeedRejoinSchedule(options(1_000, 10), createSeededRandom(7));
    expect(schedule.nextAt).toBe(Number.POSITIVE_INFINITY);
    schedule.start(500);
    const first = 500 + createSeededRandom(7).fork('seed-rejoin').float() * 1_000;
    expect(schedule.nextAt).toBe(first);
    expect(schedule.due(first - 1)).toBe(false);
    expect(schedule.due(first + 3)).toBe(true);
    expect(schedule.nextAt).toBe(first + 3 + 1_000);
    expect(schedule.due(first + 4)).toBe(false);
    schedule.stop();
    expect([schedule.nextAt, schedule.due(1e9)]).toEqual([Number.POSITIVE_INFINITY, false]);
  });

  it('first seeds of a started node that never reached one are asked at once, not otherwise', () => {
    const make = (): SeedRejoinSchedule => new SeedRejoinSchedule(options(1_000, 10), createSeededRandom(2));
    const fresh = make();
    fresh.start(0);
    fresh.seedsChanged(false, true, 3);
    expect(fresh.nextAt).toBe(3);

    const notStarted = make();
    notStarted.seedsChanged(false, true, 3);
    const hadSeeds = make();
    hadSeeds.start(0);
    const planned = hadSeeds.nextAt;
    hadSeeds.seedsChanged(true, true, 3);
    const reached = make();
    reached.start(0);
    reached.reached = true;
    reached.seedsChanged(false, true, 3);
    const stopped = make();
    stopped.start(0);
    stopped.stop();
    stopped.seedsChanged(false, true, 3);
    expect([notStarted.nextAt, hadSeeds.nextAt, reached.nextAt, stopped.nextAt]).toEqual([Number.POSITIVE_INFINITY, planned, planned, Number.POSITIVE_INFINITY]);
  });

  it('asks always until a seed is reached, then with probability 1/share(n), never without an estimate', () => {
    const unreached = new SeedRejoinSchedule(options(1_000, undefined), createSeededRandom(3));
    expect(unreached.chance(() => 1e9)).toBe(true);

    const noEstimate = new SeedRejoinSchedule(options(1_000, undefined), createSeededRandom(3));
    noEstimate.reached = true;
    const infinite = new SeedRejoinSchedule(options(1_000, Number.POSITIVE_INFINITY), createSeededRandom(3));
    infinite.reached = true;
    expect([noEstimate.chance(() => 1), infinite.chance(() => 1)]).toEqual([false, false]);

    const schedule = new SeedRejoinSchedule(options(1_000, 50), createSeededRandom(4));
    schedule.reached = true;
    let asked = 0;
    for (let draw = 0; draw < 10_000; draw += 1) if (schedule.chance((size) => size / 5)) asked += 1;
    // Probability 1/10: 1,000 expected, σ = 30.
    expect(asked).toBeGreaterThan(880);
    expect(asked).toBeLessThan(1_120);
  });

  it('draws from the seed-rejoin fork only: start, then one float per chance once reached, then the pick', () => {
    const random = createSeededRandom(9);
    const schedule = new SeedRejoinSchedule(options(1_000, 4), random);
    const reference = createSeededRandom(9).fork('seed-rejoin');
    const untouched = createSeededRandom(9);
    schedule.start(0);
    expect(schedule.nextAt).toBe(reference.float() * 1_000);
    // Not reached: no draw.
    schedule.chance(() => 4);
    schedule.reached = true;
    const ask = reference.float() * 4 < 1;
    expect(schedule.chance((size) => size)).toBe(ask);
    const candidates = ['s1', 's2', 's3', 's4', 's5'];
    expect(schedule.pick(candidates)).toBe(reference.pick(candidates));
    // The service's own stream is left as it was.
    expect(random.uint32()).toBe(untouched.uint32());
  });
});
