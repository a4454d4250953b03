import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { deserialize, serialize } from 'node:v8';
import { CONTEXT_ERROR_CODES } from './errors/codes';
import { createFlightRecorder } from './flight-recorder';
import type { HopRecord } from './flight-recorder';
import { parseHopRecords, reconstructPath } from './hop-path';

function hop(correlationId: string, sequence: number, overrides: Partial<HopRecord> = {}): HopRecord {
  return { correlationId, node: 'n', process: 'p', direction: 'in', hops: 0, time: sequence, ...overrides };
}

describe('the flight recorder', () => {
  it('answers queries by correlation id, oldest first', () => {
    const recorder = createFlightRecorder({ capacity: 100 });
    recorder.record(hop('a', 1));
    recorder.record(hop('b', 2));
    recorder.record(hop('a', 3));
    expect(recorder.query('a').map((record) => record.time)).toEqual([1, 3]);
    expect(recorder.query('b').map((record) => record.time)).toEqual([2]);
    expect(recorder.query('missing')).toEqual([]);
    expect(recorder.recent(2).map((record) => record.time)).toEqual([2, 3]);
    expect(recorder.stats()).toEqual({ size: 3, capacity: 100, recorded: 3, evicted: 0, correlations: 2 });
  });

  it('keeps at most `capacity` records, evicting the oldest and forgetting correlations with none left', () => {
    const recorder = createFlightRecorder({ capacity: 3 });
    for (let time = 1; time <= 5; time += 1) recorder.record(hop(time <= 2 ? 'old' : 'new', time));
    expect(recorder.query('old')).toEqual([]);
    expect(recorder.query('new').map((record) => record.time)).toEqual([3, 4, 5]);
    expect(recorder.stats()).toMatchObject({ size: 3, recorded: 5, evicted: 2, correlations: 1 });
    expect(recorder.recent(10).map((record) => record.time)).toEqual([3, 4, 5]);
    recorder.clear();
    expect(recorder.stats()).toMatchObject({ size: 0, correlations: 0 });
    expect(recorder.recent()).toEqual([]);
  });

  it('matches a model of "the last capacity records" under any sequence of records (property test)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 300 }), (capacity, ids) => {
        const recorder = createFlightRecorder({ capacity });
        const all: HopRecord[] = [];
        ids.forEach((id, sequence) => {
          const record = hop(id, sequence);
          recorder.record(record);
          all.push(record);
        });
        const kept = all.slice(-capacity);
        for (const id of ['a', 'b', 'c', 'd']) expect(recorder.query(id)).toEqual(kept.filter((record) => record.correlationId === id));
        expect(recorder.recent(capacity)).toEqual(kept);
        expect(recorder.stats().correlations).toBe(new Set(kept.map((record) => record.correlationId)).size);
      }),
      { numRuns: 200 },
    );
  });

  it('stays fast when one correlation id fills the whole recorder (compaction)', () => {
    const recorder = createFlightRecorder({ capacity: 1000 });
    for (let time = 0; time < 50_000; time += 1) recorder.record(hop('hot', time));
    const kept = recorder.query('hot');
    expect(kept).toHaveLength(1000);
    expect(kept[0]!.time).toBe(49_000);
  });

  it('rejects a capacity that is not a positive integer', () => {
    for (const capacity of [0, -1, 1.5, Number.NaN]) {
      expect(() => createFlightRecorder({ capacity })).toThrow(expect.objectContaining({ code: CONTEXT_ERROR_CODES.invalidOptions }));
    }
  });
});

describe('reconstructing a path across nodes', () => {
  it('orders records by hop count, not by the disagreeing clocks of the nodes', () => {
    // Node c's clock is far behind; node b's far ahead.
    const records: HopRecord[] = [
      hop('r', 500, { node: 'c', direction: 'in', hops: 2 }),
      hop('r', 9_000, { node: 'b', direction: 'out', hops: 1 }),
      hop('r', 1_000, { node: 'a', direction: 'in', hops: 0 }),
      hop('r', 1_001, { node: 'a', direction: 'out', hops: 0 }),
      hop('r', 8_999, { node: 'b', direction: 'in', hops: 1 }),
    ];
    expect(reconstructPath(records).map((record) => `${record.node}:${record.direction}`)).toEqual(['a:in', 'a:out', 'b:in', 'b:out', 'c:in']);
  });

  it('decodes records from the wire and rejects hostile ones with InvalidHopRecordsError (5204)', () => {
    const good = { correlationId: 'c', node: 'n', process: 'p', direction: 'out', hops: 3, time: 5, peer: 'm', traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), extra: 'ignored' };
    expect(parseHopRecords(JSON.parse(JSON.stringify([good])))).toEqual([
      { correlationId: 'c', node: 'n', process: 'p', direction: 'out', hops: 3, time: 5, peer: 'm', traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) },
    ]);
    const hostile: unknown[] = [
      'not an array',
      [null],
      [{ ...good, direction: 'sideways' }],
      [{ ...good, hops: -1 }],
      [{ ...good, time: Number.POSITIVE_INFINITY }],
      [{ ...good, correlationId: 'x'.repeat(300) }],
      [{ ...good, traceId: 'nope' }],
      [Object.assign(Object.create({ correlationId: 'c' }) as object, { node: 'n' })],
      JSON.parse('[{"__proto__": {"polluted": true}, "correlationId": "c"}]'),
      Array(11).fill(good),
    ];
    for (const data of hostile) {
      expect(() => parseHopRecords(data, 10)).toThrow(expect.objectContaining({ code: CONTEXT_ERROR_CODES.invalidHopRecords }));
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses a maxRecords that is not a non-negative integer instead of reading without a bound (review finding)', () => {
    // NaN compared false with every length, so parseHopRecords(data, NaN) (a bound read from a
    // missing setting through Number(), say) decoded arrays of any length.
    const good = { correlationId: 'c', node: 'n', process: 'p', direction: 'in', hops: 0, time: 1 };
    const many = Array.from({ length: 20_000 }, () => good);
    for (const maxRecords of [Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY, '100' as unknown as number, Object.create(null) as number]) {
      expect(() => parseHopRecords(many, maxRecords)).toThrow(expect.objectContaining({ code: CONTEXT_ERROR_CODES.invalidOptions }));
    }
    expect(() => createFlightRecorder({ capacity: Object.create(null) as number })).toThrow(expect.objectContaining({ code: CONTEXT_ERROR_CODES.invalidOptions }));
    expect(parseHopRecords(many.slice(0, 5), 5)).toHaveLength(5);
    expect(parseHopRecords([], 0)).toEqual([]);
    expect(() => parseHopRecords([good], 0)).toThrow(expect.objectContaining({ code: CONTEXT_ERROR_CODES.invalidHopRecords }));
  });

  it('rejects an array with holes, as structured clone and v8.deserialize deliver them (review finding)', () => {
    // Array.prototype.map skips holes: a record missing from the middle of the array came back as
    // a hole in the result instead of an error, and code reading the records met undefined.
    const good = { correlationId: 'c', node: 'n', process: 'p', direction: 'in', hops: 0, time: 1 };
    const sparse: unknown[] = [good];
    sparse.length = 3;
    for (const data of [structuredClone(sparse), deserialize(serialize(sparse)) as unknown[]]) {
      expect(data).toHaveLength(3);
      expect(1 in data).toBe(false);
      data[0] = good; // the clone's objects come from the realm outside jest's sandbox
      expect(() => parseHopRecords(data)).toThrow(expect.objectContaining({ code: CONTEXT_ERROR_CODES.invalidHopRecords, message: 'hop record 1: expected an object' }));
    }
    expect(() => parseHopRecords(new Array(2))).toThrow(expect.objectContaining({ code: CONTEXT_ERROR_CODES.invalidHopRecords }));
  });
});
