import { describe, expect, it } from '@jest/globals';
import { createSeededRandom } from '@foundation/core';
import type { Random } from '@foundation/core';
import fc from 'fast-check';
import { TELEMETRY_ERROR_CODES } from '../errors/codes';
import { MIN_INDEXABLE, createSketch, mergeSketches, sketchFromSnapshot } from './ddsketch';
import type { Sketch } from './ddsketch';

const SEED = 20_191_128;
const SAMPLES = 1_000_000;
const ALPHA = 0.01;
const QUANTILES = [0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1];

/** Exact lower quantile of sorted data, as DDSketch defines it: the element of rank ⌊q(n − 1)⌋. */
function exactQuantile(sorted: Float64Array, q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

/** Relative error allowed: α, plus a hair for floating point at bucket boundaries. */
function expectWithinBound(estimate: number, exact: number, alpha: number, label: string): void {
  const error = Math.abs(estimate - exact);
  const bound = alpha * Math.abs(exact) * (1 + 1e-9) + 1e-12;
  if (error > bound) throw new Error(`${label}: estimate ${estimate} vs exact ${exact}, relative error ${error / Math.abs(exact)} > ${alpha}`);
}

const distributions: Record<string, (random: Random) => number> = {
  // Latency-like: lognormal with a heavy right tail, spanning several decades.
  lognormal: (random) => Math.exp(1 + 1.5 * Math.sqrt(-2 * Math.log(1 - random.float())) * Math.cos(2 * Math.PI * random.float())),
  // Pareto (shape 1.2, scale 0.5): very heavy tail, the hard case for bucket-based sketches.
  pareto: (random) => 0.5 / Math.pow(1 - random.float(), 1 / 1.2),
  // Uniform over [-1000, 1000]: negative values, values near zero, and both stores in use.
  uniform: (random) => (random.float() * 2 - 1) * 1000,
};

describe(`DDSketch on ${SAMPLES.toLocaleString('en-US')} samples (seed=${SEED})`, () => {
  for (const [name, draw] of Object.entries(distributions)) {
    it(`answers every quantile of a ${name} distribution within ${ALPHA * 100}%, and merged sketches equal the sketch of the union`, () => {
      const random = createSeededRandom(`${SEED}-${name}`);
      const values = new Float64Array(SAMPLES);
      const whole = createSketch({ relativeAccuracy: ALPHA });
      const parts = [createSketch({ relativeAccuracy: ALPHA }), createSketch({ relativeAccuracy: ALPHA }), createSketch({ relativeAccuracy: ALPHA })];
      let sum = 0;
      for (let index = 0; index < SAMPLES; index += 1) {
        const value = draw(random);
        values[index] = value;
        sum += value;
        whole.add(value);
        parts[random.int(0, parts.length)]!.add(value); // each node sees a random share
      }
      const sorted = values.slice().sort();
      const merged = mergeSketches(parts);
      for (const q of QUANTILES) {
        const exact = exactQuantile(sorted, q);
        expectWithinBound(whole.quantile(q), exact, ALPHA, `${name} q=${q} whole seed=${SEED}`);
        expectWithinBound(merged.quantile(q), exact, ALPHA, `${name} q=${q} merged seed=${SEED}`);
        // Bucket counts add up: the merged sketch is the sketch of the union, not an approximation of it.
        expect(merged.quantile(q)).toBe(whole.quantile(q));
      }
      expect(merged.count).toBe(SAMPLES);
      expect(merged.min).toBe(sorted[0]);
      expect(merged.max).toBe(sorted[SAMPLES - 1]);
      expect(merged.sum).toBeCloseTo(sum, 3);
      const { sum: _wholeSum, ...wholeBuckets } = whole.toJSON();
      const { sum: _mergedSum, ...mergedBuckets } = merged.toJSON();
      expect(mergedBuckets).toEqual(wholeBuckets);
    });
  }
});

describe('DDSketch', () => {
  it('keeps the bound for any data and any accuracy when no bucket is collapsed (property test)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e12, max: 1e12, noNaN: true }), { minLength: 1, maxLength: 300 }),
        fc.constantFrom(0.001, 0.01, 0.05, 0.2),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (data, alpha, q) => {
          // Enough buckets for magnitudes from 1e-9 to 1e12 at every accuracy tried.
          const sketch = createSketch({ relativeAccuracy: alpha, maxBuckets: 65_536 });
          for (const value of data) sketch.add(value);
          const sorted = Float64Array.from(data).sort();
          const exact = exactQuantile(sorted, q);
          if (Math.abs(exact) <= MIN_INDEXABLE) expect(Math.abs(sketch.quantile(q))).toBeLessThanOrEqual(MIN_INDEXABLE);
          else expectWithinBound(sketch.quantile(q), exact, alpha, `q=${q} alpha=${alpha}`);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('merges in any order and grouping to the same sketch (property test)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { maxLength: 50 }), { minLength: 1, maxLength: 6 }), (groups) => {
        const sketches = groups.map((group) => {
          const sketch = createSketch();
          for (const value of group) sketch.add(value);
          return sketch;
        });
        const forward = mergeSketches(sketches).toJSON();
        const backward = mergeSketches([...sketches].reverse()).toJSON();
        expect({ ...backward, sum: 0 }).toEqual({ ...forward, sum: 0 });
        expect(backward.sum).toBeCloseTo(forward.sum, 3);
      }),
    );
  });

  it('collapses the lowest buckets past maxBuckets, keeping the bound for the values above them', () => {
    const sketch = createSketch({ relativeAccuracy: 0.01, maxBuckets: 100 });
    // 1,000 values spread over 1e-6..1e6: far more than 100 buckets of 2%.
    const values = Array.from({ length: 1000 }, (_, index) => 10 ** (-6 + (12 * index) / 999));
    for (const value of values) sketch.add(value);
    expect(sketch.toJSON().positive.counts.length).toBeLessThanOrEqual(100);
    expect(sketch.count).toBe(1000);
    // 100 buckets of 2% span a ratio of e^2: values above 1e6 / 7.4 keep the bound (q ≥ 0.93).
    for (const q of [0.95, 0.99, 1]) expectWithinBound(sketch.quantile(q), exactQuantile(Float64Array.from(values), q), 0.01, `q=${q}`);
    // The lowest quantiles lost their guarantee (they answer the lowest bucket kept) but stay in order.
    expect(sketch.quantile(0)).toBeGreaterThanOrEqual(1e-6);
    expect(sketch.quantile(0)).toBeLessThanOrEqual(sketch.quantile(0.95));
  });

  it('answers NaN when empty and rejects what it cannot hold', () => {
    const sketch = createSketch();
    expect(sketch.quantile(0.5)).toBeNaN();
    expect(sketch.min).toBeNaN();
    expect(() => sketch.add(Number.NaN)).toThrow(expect.objectContaining({ code: TELEMETRY_ERROR_CODES.invalidMeasurement }));
    expect(() => sketch.add(Number.POSITIVE_INFINITY)).toThrow(expect.objectContaining({ code: TELEMETRY_ERROR_CODES.invalidMeasurement }));
    expect(() => sketch.quantile(1.5)).toThrow(expect.objectContaining({ code: TELEMETRY_ERROR_CODES.invalidOptions }));
    expect(() => createSketch({ relativeAccuracy: 0 })).toThrow(expect.objectContaining({ code: TELEMETRY_ERROR_CODES.invalidOptions }));
    expect(() => createSketch({ maxBuckets: 4 })).toThrow(expect.objectContaining({ code: TELEMETRY_ERROR_CODES.invalidOptions }));
    expect(() => sketch.merge(createSketch({ relativeAccuracy: 0.02 }))).toThrow(expect.objectContaining({ code: TELEMETRY_ERROR_CODES.incompatibleSketch }));
  });

  it('refuses a count that is not a whole number of samples, which the rank ⌊q(n − 1)⌋ counts (InvalidMeasurementError, 5302)', () => {
    // Half a sample of 1 and half of 100 made n = 1 and rank 0 for every q: quantile(1) was 1,
    // though 100 was the largest value added.
    const sketch = createSketch();
    for (const count of [0.5, 1.5, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '2' as unknown as number]) {
      expect(() => sketch.add(100, count)).toThrow(expect.objectContaining({ code: TELEMETRY_ERROR_CODES.invalidMeasurement }));
    }
    expect(sketch.count).toBe(0);
    sketch.add(1, 3);
    sketch.add(100, 2);
    expect([sketch.count, sketch.quantile(0)]).toEqual([5, 1]);
    expect(sketch.quantile(1)).toBeGreaterThanOrEqual(100 * (1 - ALPHA));
  });

  it('refuses a snapshot whose counts are not whole numbers (InvalidSnapshotError, 5305)', () => {
    const sketch = createSketch();
    sketch.add(1);
    sketch.add(100);
    const good = JSON.parse(JSON.stringify(sketch.toJSON())) as { positive: { offset: number; counts: number[] } };
    const halves = { ...good, count: 1, sum: 50.5, positive: { ...good.positive, counts: good.positive.counts.map((count) => count / 2) } };
    expect(() => sketchFromSnapshot(halves)).toThrow(expect.objectContaining({ code: TELEMETRY_ERROR_CODES.invalidSnapshot }));
    expect(() => sketchFromSnapshot({ ...good, count: 2.5, zeroCount: 0.5 })).toThrow(expect.objectContaining({ code: TELEMETRY_ERROR_CODES.invalidSnapshot }));
  });

  it('puts a value just below 1 in bucket 0, not -0, so merge order cannot change the snapshot (found by fast-check)', () => {
    const sketch = createSketch();
    sketch.add(0.999);
    expect(Object.is(sketch.toJSON().positive.offset, 0)).toBe(true);
    const a = createSketch();
    a.add(1.0000000000000002);
    const b = createSketch();
    b.add(0.9801980198019803);
    expect(mergeSketches([a, b]).toJSON()).toEqual(mergeSketches([b, a]).toJSON());
  });

  it('keeps the bound for magnitudes near Number.MAX_VALUE, where 2γ^i would overflow', () => {
    // Bucket i's representative is 2γ^i / (γ + 1); γ^i itself is finite up there, but 2γ^i is not.
    for (const alpha of [0.01, 0.05]) {
      for (const low of [1.2e308, 9e307, 1.5e308]) {
        const sketch = createSketch({ relativeAccuracy: alpha });
        for (const value of [low, Number.MAX_VALUE, -low, -Number.MAX_VALUE]) sketch.add(value);
        const sorted = Float64Array.from([low, Number.MAX_VALUE, -low, -Number.MAX_VALUE]).sort();
        for (const q of [0, 1 / 3, 2 / 3, 1]) expectWithinBound(sketch.quantile(q), exactQuantile(sorted, q), alpha, `alpha=${alpha} low=${low} q=${q}`);
      }
    }
  });

  it('ignores a sample added zero times: min, max and quantiles are those of the samples it holds', () => {
    const sketch = createSketch();
    sketch.add(5);
    sketch.add(1000, 0);
    sketch.add(-1000, 0);
    expect([sketch.count, sketch.min, sketch.max]).toEqual([1, 5, 5]);
    expect(sketch.quantile(1)).toBe(5);
    expect(sketch.toJSON()).toEqual(sketchFromSnapshot(sketch.toJSON()).toJSON());
    const empty = createSketch();
    empty.add(7, 0);
    empty.add(3);
    expect([empty.min, empty.max]).toEqual([3, 3]);
  });

  it('round-trips through its snapshot (JSON) exactly', () => {
    const sketch: Sketch = createSketch();
    const random = createSeededRandom(5);
    for (let index = 0; index < 10_000; index += 1) sketch.add((random.float() - 0.3) * 1e4);
    sketch.add(0, 5);
    const restored = sketchFromSnapshot(JSON.parse(JSON.stringify(sketch.toJSON())));
    expect(restored.toJSON()).toEqual(sketch.toJSON());
    for (const q of QUANTILES) expect(restored.quantile(q)).toBe(sketch.quantile(q));
    expect(sketchFromSnapshot(createSketch().toJSON()).count).toBe(0);
  });

  it('rejects hostile snapshots with InvalidSnapshotError (5305)', () => {
    const good = (() => {
      const sketch = createSketch();
      sketch.add(1);
      sketch.add(-2);
      return JSON.parse(JSON.stringify(sketch.toJSON())) as Record<string, unknown>;
    })();
    const hostile: unknown[] = [
      null,
      [],
      'sketch',
      { ...good, relativeAccuracy: 0 },
      { ...good, relativeAccuracy: 1e-9 },
      { ...good, maxBuckets: 1e9 },
      { ...good, count: -1 },
      { ...good, count: 99 },
      { ...good, sum: 'NaN' },
      { ...good, min: null },
      { ...good, min: 5, max: 1 },
      { ...good, positive: { offset: 0.5, counts: [1] } },
      { ...good, positive: { offset: 1e12, counts: [1] } },
      { ...good, positive: { offset: 0, counts: Array(3000).fill(0) } },
      { ...good, positive: { offset: 0, counts: [-1] } },
      { ...good, negative: null },
      // Review finding: an empty sketch's extremes were kept, and stood as min and max once values arrived.
      { ...createSketch().toJSON(), min: -100, max: 100 },
    ];
    for (const data of hostile) expect(() => sketchFromSnapshot(data)).toThrow(expect.objectContaining({ code: TELEMETRY_ERROR_CODES.invalidSnapshot }));
  });
});
