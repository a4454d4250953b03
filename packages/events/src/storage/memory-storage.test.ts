import { describe, expect, it } from '@jest/globals';
import { createSeededRandom } from '@foundation/core';
import type { FoundationEvent } from '../event';
import { normalizeQuery } from '../query';
import { createMemoryStorage } from './memory-storage';

// Clocks of different nodes disagree, so a cluster's events arrive with wall times out of order.
// The memory storage's indexes are checked here against a plain array at sizes past the time
// index's blocks (1,024 entries), through both evictions, pruning and time-range queries.
describe('memory storage with wall times out of order', () => {
  const types = ['a', 'b', 'c'];
  const correlations = ['k1', 'k2', 'k3', 'k4', 'k5'];
  const event = (id: number, wallTime: number): FoundationEvent =>
    Object.freeze({ id, type: types[id % 3]!, data: null, correlationId: correlations[id % 5]!, parentId: null, timestamp: id, wallTime, node: 'n' });

  for (const [maxEvents, maxAgeMs, seed] of [[2500, undefined, 41], [1_000_000, 4000, 42], [1800, 2500, 43]] as const) {
    it(`answers like a plain array through appends, evictions (maxEvents ${maxEvents}, maxAgeMs ${maxAgeMs ?? 'none'}), prunes and time-range queries (seed=${seed})`, () => {
      const random = createSeededRandom(seed);
      const storage = createMemoryStorage({ maxEvents, maxAgeMs });
      let model: FoundationEvent[] = [];
      let nextId = 1;
      for (let step = 0; step < 400; step += 1) {
        const action = random.int(0, 20);
        if (action < 15) {
          const batch = Array.from({ length: random.int(1, 40) }, () => {
            const id = nextId++;
            return event(id, 1_000_000 + id + random.int(0, 3000));
          });
          const evicted = storage.append(batch);
          model.push(...batch);
          const before = model.length;
          model = model.slice(Math.max(0, model.length - maxEvents));
          if (maxAgeMs !== undefined) {
            const newest = Math.max(...model.map((each) => each.wallTime));
            model = model.filter((each) => each.wallTime >= newest - maxAgeMs);
          }
          expect({ step, evicted }).toEqual({ step, evicted: before - model.length });
        } else if (action < 16 && model.length > 0) {
          // Mostly a few of the oldest, sometimes many.
          const cutoff = random.bool(0.8) ? model.reduce((oldest, each) => Math.min(oldest, each.wallTime), Number.POSITIVE_INFINITY) + random.int(0, 300) : random.pick(model).wallTime;
          const kept = model.filter((each) => each.wallTime >= cutoff);
          expect({ step, pruned: storage.pruneBefore(cutoff) }).toEqual({ step, pruned: model.length - kept.length });
          model = kept;
        } else if (model.length > 0) {
          const from = random.pick(model).wallTime - random.int(0, 500);
          const to = from + random.int(0, 1500);
          const type = random.bool() ? random.pick(types) : undefined;
          const found = storage.query(normalizeQuery({ timeRange: [from, to], ...(type === undefined ? {} : { type }), limit: Number.POSITIVE_INFINITY }));
          const expected = model.filter((each) => each.wallTime >= from && each.wallTime <= to && (type === undefined || each.type === type));
          expect({ step, ids: found.map((each) => each.id) }).toEqual({ step, ids: expected.map((each) => each.id) });
        }
        expect({ step, count: storage.count() }).toEqual({ step, count: model.length });
      }
      const correlation = random.pick(correlations);
      expect(storage.byCorrelation(correlation).map((each) => each.id)).toEqual(model.filter((each) => each.correlationId === correlation).map((each) => each.id));
      expect(storage.recent(5).map((each) => each.id)).toEqual(model.slice(-5).reverse().map((each) => each.id));
      const all = storage.query(normalizeQuery({ orderBy: 'timestamp', limit: Number.POSITIVE_INFINITY }));
      expect(all.map((each) => each.id)).toEqual(model.map((each) => each.id));
    });
  }
});

describe('memory storage in the order of storage', () => {
  const event = (id: number, wallTime: number): FoundationEvent =>
    Object.freeze({ id, type: 't', data: null, correlationId: 'c', parentId: null, timestamp: id, wallTime, node: 'n' });
  const stored = (storage: ReturnType<typeof createMemoryStorage>): [id: number, sequence: number][] =>
    storage.queryStored!(normalizeQuery({ orderBy: 'stored', limit: Number.POSITIVE_INFINITY })).map(({ event: each, sequence }) => [each.id, sequence]);

  it('keeps numbering above every number given when events are evicted by count and by age', () => {
    const storage = createMemoryStorage({ maxEvents: 3, maxAgeMs: 100 });
    storage.append([event(10, 1000), event(5, 1001)]);
    storage.append([event(20, 1002), event(1, 1003)]); // four: the lowest id (1, stored last) is evicted
    expect(stored(storage)).toEqual([
      [10, 1],
      [5, 2],
      [20, 3],
    ]);
    storage.append([event(30, 1200)]); // four again (5 is evicted), and the others are now older than 100 ms
    expect(stored(storage)).toEqual([[30, 5]]);
    expect(storage.pruneBefore(Number.POSITIVE_INFINITY)).toBe(1);
    storage.append([event(3, 1300)]);
    expect(stored(storage)).toEqual([[3, 6]]);
  });
});
