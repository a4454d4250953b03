import { describe, expect, it } from '@jest/globals';
import { createFairScheduler } from './fair-scheduler';

/** Serves `frames` frames from always-backlogged queues; returns bytes sent per queue. */
function serve(weights: number[], frameBytes: number[], frames: number): number[] {
  const scheduler = createFairScheduler();
  weights.forEach((weight, queue) => {
    scheduler.add(queue, weight);
    scheduler.activate(queue);
  });
  const sent = weights.map(() => 0);
  for (let index = 0; index < frames; index += 1) {
    const queue = scheduler.pick(() => true);
    sent[queue]! += frameBytes[queue]!;
    scheduler.charge(queue, frameBytes[queue]!);
  }
  return sent;
}

describe('fair scheduler (start-time fair queuing)', () => {
  it.each([
    { name: 'equal weights, equal frames', weights: [1, 1], frames: [1000, 1000], ratio: 1 },
    { name: 'weight 8 against 1', weights: [8, 1], frames: [1000, 1000], ratio: 8 },
    { name: 'weight 4 against 1, different frame sizes', weights: [4, 1], frames: [100, 65_536], ratio: 4 },
    { name: 'weight 1 against 1, small frames against big ones', weights: [1, 1], frames: [64, 65_536], ratio: 1 },
  ])('backlogged queues share bytes by weight: $name', ({ weights, frames, ratio }) => {
    const sent = serve(weights, frames, 20_000);
    // Normalised by weight, the two differ by at most one frame (SFQ's fairness bound).
    const bound = Math.max(frames[0]! / weights[0]!, frames[1]! / weights[1]!);
    expect(Math.abs(sent[0]! / weights[0]! - sent[1]! / weights[1]!)).toBeLessThanOrEqual(bound);
    expect(sent[0]! / sent[1]!).toBeGreaterThan(ratio * 0.8);
    expect(sent[0]! / sent[1]!).toBeLessThan(ratio * 1.25);
  });

  it.each([
    { weights: [1, 1], expected: [0, 1, 0, 1, 0, 1] },
    { weights: [2, 1], expected: [0, 1, 0, 0, 1, 0] },
    { weights: [1, 2], expected: [1, 0, 1, 1, 0, 1] },
    { weights: [3, 1, 1], expected: [0, 1, 2, 0, 0, 0, 1, 2] },
  ])('serves weights $weights with equal frames in the order $expected', ({ weights, expected }) => {
    const scheduler = createFairScheduler();
    weights.forEach((weight, queue) => {
      scheduler.add(queue, weight);
      scheduler.activate(queue);
    });
    const order: number[] = [];
    for (let index = 0; index < expected.length; index += 1) {
      const queue = scheduler.pick(() => true);
      order.push(queue);
      scheduler.charge(queue, 100);
    }
    expect(order).toEqual(expected);
  });

  it('a queue that becomes active behind a backlogged bulk queue goes next (waits behind one frame at most)', () => {
    const scheduler = createFairScheduler();
    scheduler.add(0, 8); // coordination
    scheduler.add(1, 1); // bulk
    scheduler.activate(1);
    for (let index = 0; index < 500; index += 1) scheduler.charge(scheduler.pick(() => true), 65_536);
    scheduler.activate(0);
    expect(scheduler.pick(() => true)).toBe(0);
  });

  it('an idle queue does not bank credit: after idling it gets its share, not a burst', () => {
    const scheduler = createFairScheduler();
    scheduler.add(0, 1);
    scheduler.add(1, 1);
    scheduler.activate(1);
    for (let index = 0; index < 1000; index += 1) scheduler.charge(scheduler.pick(() => true), 1000);
    scheduler.activate(0);
    const order: number[] = [];
    for (let index = 0; index < 6; index += 1) {
      const queue = scheduler.pick(() => true);
      order.push(queue);
      scheduler.charge(queue, 1000);
    }
    expect(order.filter((queue) => queue === 0)).toHaveLength(3);
  });

  it('skips queues that are not ready (no credit, closed connection) and inactive ones', () => {
    const scheduler = createFairScheduler();
    scheduler.add(0, 10);
    scheduler.add(1, 1);
    scheduler.add(2, 1);
    scheduler.activate(0);
    scheduler.activate(1);
    expect(scheduler.pick((queue) => queue !== 0)).toBe(1);
    scheduler.deactivate(1);
    expect(scheduler.pick((queue) => queue !== 0)).toBe(-1);
    expect(scheduler.isActive(2)).toBe(false);
  });

  it('a queue that was active but could not send gets its share once it can, not a burst (review finding)', () => {
    // It kept its old pass while the other queue went on: once ready, it won every pick until
    // it caught up, 16 bulk frames in a row ahead of a data lane backlogged all along.
    const scheduler = createFairScheduler();
    scheduler.add(0, 4); // data
    scheduler.add(1, 1); // bulk, waiting for credit
    scheduler.activate(0);
    scheduler.activate(1);
    let bulkReady = false;
    for (let frame = 0; frame < 64; frame += 1) scheduler.charge(scheduler.pick((queue) => queue === 0 || bulkReady), 65_536);
    bulkReady = true;
    const next = Array.from({ length: 20 }, () => {
      const queue = scheduler.pick(() => true);
      scheduler.charge(queue, 65_536);
      return queue;
    });
    // Weights 4 : 1: about one bulk frame in five, never two in a row.
    expect(next.filter((queue) => queue === 1).length).toBeLessThanOrEqual(5);
    expect(next.join('')).not.toContain('11');
  });

  it('starts every queue level again once none is active, so passes never grow without bound', () => {
    const scheduler = createFairScheduler();
    scheduler.add(0, 8);
    scheduler.add(1, 1);
    scheduler.activate(0);
    for (let frame = 0; frame < 1_000; frame += 1) scheduler.charge(0, 1 << 20);
    scheduler.deactivate(0);
    expect(scheduler.virtualTime).toBe(0);
    scheduler.activate(1);
    scheduler.activate(0);
    // Both level: the tie goes to the higher weight, then they alternate by weight again.
    expect(scheduler.pick(() => true)).toBe(0);
  });

  it('ties go to the higher weight, then to the lower queue number', () => {
    const scheduler = createFairScheduler();
    scheduler.add(0, 1);
    scheduler.add(1, 5);
    scheduler.add(2, 5);
    for (const queue of [0, 1, 2]) scheduler.activate(queue);
    expect(scheduler.pick(() => true)).toBe(1);
  });

  it('rejects bad registrations', () => {
    const scheduler = createFairScheduler();
    expect(() => scheduler.add(-1, 1)).toThrow(RangeError);
    expect(() => scheduler.add(0, 0)).toThrow(RangeError);
    scheduler.add(0, 1);
    expect(() => scheduler.add(0, 1)).toThrow(RangeError);
    expect(() => scheduler.activate(7)).toThrow(RangeError);
  });
});
