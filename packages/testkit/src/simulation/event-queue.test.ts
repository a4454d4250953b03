import { describe, expect, it } from '@jest/globals';
import { createSeededRandom } from '@foundation/core';
import { EventQueue } from './event-queue';

interface Entry {
  readonly time: number;
  readonly seq: number;
}

/** Pops everything due up to `until`, checking each time against peekTime(). */
function drain(queue: EventQueue<Entry>, until = Number.POSITIVE_INFINITY): Entry[] {
  const out: Entry[] = [];
  while (queue.size > 0 && queue.peekTime() <= until) {
    const time = queue.peekTime();
    const entry = queue.pop()!;
    expect(entry.time).toBe(time);
    out.push(entry);
  }
  return out;
}

const byTimeThenSeq = (a: Entry, b: Entry): number => a.time - b.time || a.seq - b.seq;

describe('EventQueue', () => {
  // The order the simulation's determinism rests on: by time, and by insertion among equal times.
  it.each([
    ['equal times keep insertion order', [5, 5, 5, 1, 5, 1]],
    ['times within one bucket', [1.01, 1.002, 1.03, 1.0001, 1.02]],
    ['beyond the ring (far heap) and back', [1e6, 3, 1e6, 2e6, 300, 1e6 + 0.001, 0]],
    ['zero and huge times', [0, 0, 1e12, 0, 2 ** 60, 1e12]],
  ])('%s', (_name, times) => {
    const queue = new EventQueue<Entry>();
    times.forEach((time, seq) => queue.push({ time, seq }, time));
    expect(queue.size).toBe(times.length);
    const expected = times.map((time, seq) => ({ time, seq })).sort(byTimeThenSeq);
    expect(drain(queue)).toEqual(expected);
    expect(queue.size).toBe(0);
    expect(queue.pop()).toBeUndefined();
    expect(queue.peekTime()).toBe(Number.POSITIVE_INFINITY);
  });

  it('matches a sorted reference while events are pushed during the run, as a simulation does', () => {
    for (const seed of [1, 2, 3]) {
      const random = createSeededRandom(seed);
      const queue = new EventQueue<Entry>();
      const reference: Entry[] = [];
      let seq = 0;
      const push = (time: number): void => {
        const entry = { time, seq: seq++ };
        queue.push(entry, time);
        // The reference stays sorted: insert after every entry that comes before this one.
        let low = 0;
        let high = reference.length;
        while (low < high) {
          const middle = (low + high) >> 1;
          if (byTimeThenSeq(reference[middle]!, entry) < 0) low = middle + 1;
          else high = middle;
        }
        reference.splice(low, 0, entry);
      };
      for (let index = 0; index < 500; index += 1) push(random.float() * 10);
      for (let step = 0; step < 10_000; step += 1) {
        const expected = reference.shift()!;
        expect(queue.peekTime()).toBe(expected.time);
        expect(queue.pop()).toBe(expected);
        const now = expected.time;
        // Message latencies, same-time events, integer timers, long timers, and idle gaps.
        const roll = random.float();
        if (roll < 0.6) push(now + 1 + random.float() * 4);
        else if (roll < 0.7) push(now);
        else if (roll < 0.85) push(Math.floor(now) + 10);
        else if (roll < 0.95) push(now + random.float() * 5000);
        else push(now + 1e6 * random.float());
        if (random.float() < 0.4) push(now + random.float() * 3);
      }
      expect(queue.size).toBe(reference.length);
    }
  });

  it('drains up to a time and resumes', () => {
    const queue = new EventQueue<Entry>();
    [30, 10, 20, 400, 10].forEach((time, seq) => queue.push({ time, seq }, time));
    expect(drain(queue, 20).map((entry) => entry.seq)).toEqual([1, 4, 2]);
    queue.push({ time: 25, seq: 5 }, 25);
    expect(drain(queue).map((entry) => entry.seq)).toEqual([5, 0, 3]);
  });
});
