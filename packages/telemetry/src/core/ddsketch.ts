// DDSketch (Masson, Rim and Lee, "DDSketch: A Fast and Fully-Mergeable Quantile Sketch with
// Relative-Error Guarantees", VLDB 2019), written from the paper's description.
//
// A value x > 0 goes to bucket i = ceil(log_γ(x)) with γ = (1 + α) / (1 − α); bucket i covers
// (γ^(i−1), γ^i] and is represented by 2γ^i / (γ + 1), which is within a relative error α of
// every value in the bucket (§2.1, Lemma 3). Negative values use a second store on |x|; values
// with |x| below MIN_INDEXABLE count as zero. A quantile is the representative of the bucket
// holding the element of rank ⌊q(n − 1)⌋ (0-based), so for every q the answer x̃ satisfies
// |x̃ − x_q| ≤ α·|x_q| (Theorem 4) as long as no bucket below that element was collapsed.
//
// Merging adds bucket counts: the merged sketch is exactly the sketch of the union (§2.3), which
// is what lets every node keep its own and the cluster combine them without losing accuracy.
import { IncompatibleSketchError } from '../errors/incompatible-sketch-error';
import { InvalidMeasurementError } from '../errors/invalid-measurement-error';
import { InvalidOptionsError } from '../errors/invalid-options-error';
import { InvalidSnapshotError } from '../errors/invalid-snapshot-error';
import { DenseStore } from './dense-store';

/** Default relative accuracy: quantiles within 1% of the true value. */
export const DEFAULT_RELATIVE_ACCURACY = 0.01;
/** Default bound on buckets per sign: at α = 1%, 2,048 buckets span a ratio of about 10^17. */
export const DEFAULT_MAX_BUCKETS = 2048;
/** Magnitudes below this are counted as zero (and answered as 0). */
export const MIN_INDEXABLE = 1e-9;

const MIN_RELATIVE_ACCURACY = 1e-4;
const MAX_BUCKETS_LIMIT = 65_536;
const MAX_INDEX = 1e8;

export interface SketchOptions {
  /** α in (0.0001, 1): every quantile is within α·|x_q| of the true one. Default 0.01. */
  readonly relativeAccuracy?: number;
  /** Bound on buckets per sign; the lowest are collapsed past it. Default 2,048. */
  readonly maxBuckets?: number;
}

/** A sketch as plain data (JSON- and CBOR-safe), to send to other nodes and merge there. */
export interface SketchSnapshot {
  readonly relativeAccuracy: number;
  readonly maxBuckets: number;
  readonly count: number;
  readonly sum: number;
  /** null when the sketch is empty. */
  readonly min: number | null;
  readonly max: number | null;
  readonly zeroCount: number;
  /** Buckets of positive values: counts of the buckets `offset`, `offset + 1`... */
  readonly positive: { readonly offset: number; readonly counts: readonly number[] };
  /** Buckets of negative values, by magnitude. */
  readonly negative: { readonly offset: number; readonly counts: readonly number[] };
}

/** A mergeable quantile sketch with a relative-error guarantee. */
export interface Sketch {
  readonly relativeAccuracy: number;
  readonly maxBuckets: number;
  readonly count: number;
  readonly sum: number;
  /** Smallest value added (exact); NaN when empty. */
  readonly min: number;
  /** Largest value added (exact); NaN when empty. */
  readonly max: number;
  /** Adds `value` (a finite number) `count` (a safe integer ≥ 0) times; a count of 0 changes nothing. */
  add(value: number, count?: number): void;
  /** The q-quantile (q in [0, 1]) within the relative accuracy; NaN when empty. */
  quantile(q: number): number;
  /** Adds everything in `other` (same relative accuracy) to this sketch. */
  merge(other: Sketch): void;
  copy(): Sketch;
  toJSON(): SketchSnapshot;
}

class DDSketch implements Sketch {
  readonly relativeAccuracy: number;
  readonly maxBuckets: number;
  readonly #gamma: number;
  readonly #multiplier: number;
  /** ln(2 / (γ + 1)): the representative's factor, in log space. */
  readonly #logScale: number;
  readonly #positive: DenseStore;
  readonly #negative: DenseStore;
  #zeroCount = 0;
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;

  constructor(relativeAccuracy: number, maxBuckets: number) {
    this.relativeAccuracy = relativeAccuracy;
    this.maxBuckets = maxBuckets;
    this.#gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
    this.#multiplier = 1 / Math.log(this.#gamma);
    this.#logScale = Math.log(2 / (this.#gamma + 1));
    this.#positive = new DenseStore(maxBuckets);
    this.#negative = new DenseStore(maxBuckets);
  }

  get count(): number {
    return this.#count;
  }

  get sum(): number {
    return this.#sum;
  }

  get min(): number {
    return this.#count === 0 ? Number.NaN : this.#min;
  }

  get max(): number {
    return this.#count === 0 ? Number.NaN : this.#max;
  }

  /** The bucket of a magnitude; `+ 0` turns the -0 that Math.ceil gives just below 1 into 0. */
  #bucket(magnitude: number): number {
    return Math.ceil(Math.log(magnitude) * this.#multiplier) + 0;
  }

  add(value: number, count = 1): void {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new InvalidMeasurementError(`a sketch takes finite numbers (got ${String(value)})`, { value: String(value) });
    }
    // Whole samples only: the rank ⌊q(n − 1)⌋ counts elements, and with half of one the ranks
    // were off (half a 1 and half a 100 made n = 1, and quantile(1) answered 1).
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
      throw new InvalidMeasurementError(`a sample count must be a safe integer ≥ 0 (got ${String(count)})`, { count: String(count) });
    }
    // Zero occurrences add nothing: they must not move min and max (nor open a bucket).
    if (count === 0) return;
    if (value > MIN_INDEXABLE) this.#positive.add(this.#bucket(value), count);
    else if (value < -MIN_INDEXABLE) this.#negative.add(this.#bucket(-value), count);
    else this.#zeroCount += count;
    this.#count += count;
    this.#sum += value * count;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
  }

  quantile(q: number): number {
    if (typeof q !== 'number' || !(q >= 0 && q <= 1)) throw new InvalidOptionsError(`a quantile must be in [0, 1] (got ${String(q)})`, { q: String(q) });
    if (this.#count === 0) return Number.NaN;
    const rank = q * (this.#count - 1);
    let estimate: number;
    const negative = this.#negative;
    if (rank < negative.total) {
      // Negative values: the largest magnitude is the smallest value.
      let cumulative = 0;
      let index = negative.maxIndex;
      for (; index > negative.minIndex; index -= 1) {
        cumulative += negative.counts[index - negative.offset]!;
        if (cumulative > rank) break;
      }
      estimate = -this.#representative(index);
    } else if (rank < negative.total + this.#zeroCount) {
      estimate = 0;
    } else {
      const positive = this.#positive;
      let cumulative = negative.total + this.#zeroCount;
      let index = positive.minIndex;
      for (; index < positive.maxIndex; index += 1) {
        cumulative += positive.counts[index - positive.offset]!;
        if (cumulative > rank) break;
      }
      estimate = this.#representative(index);
    }
    // The exact extremes bound every quantile; clamping never moves the estimate away from it.
    return Math.min(Math.max(estimate, this.#min), this.#max);
  }

  merge(other: Sketch): void {
    if (!(other instanceof DDSketch)) {
      this.merge(sketchFromSnapshot(other.toJSON()));
      return;
    }
    if (other.relativeAccuracy !== this.relativeAccuracy) {
      throw new IncompatibleSketchError(
        `cannot merge sketches of relative accuracy ${this.relativeAccuracy} and ${other.relativeAccuracy}: their buckets differ`,
        { left: this.relativeAccuracy, right: other.relativeAccuracy },
      );
    }
    if (other.#count === 0) return;
    this.#positive.merge(other.#positive);
    this.#negative.merge(other.#negative);
    this.#zeroCount += other.#zeroCount;
    this.#count += other.#count;
    this.#sum += other.#sum;
    if (other.#min < this.#min) this.#min = other.#min;
    if (other.#max > this.#max) this.#max = other.#max;
  }

  copy(): Sketch {
    const copy = new DDSketch(this.relativeAccuracy, this.maxBuckets);
    copy.#positive.copyFrom(this.#positive);
    copy.#negative.copyFrom(this.#negative);
    copy.#zeroCount = this.#zeroCount;
    copy.#count = this.#count;
    copy.#sum = this.#sum;
    copy.#min = this.#min;
    copy.#max = this.#max;
    return copy;
  }

  toJSON(): SketchSnapshot {
    return {
      relativeAccuracy: this.relativeAccuracy,
      maxBuckets: this.maxBuckets,
      count: this.#count,
      sum: this.#sum,
      min: this.#count === 0 ? null : this.#min,
      max: this.#count === 0 ? null : this.#max,
      zeroCount: this.#zeroCount,
      positive: this.#positive.toJSON(),
      negative: this.#negative.toJSON(),
    };
  }

  /** Builds a sketch from checked snapshot data. */
  static restore(snapshot: SketchSnapshot): DDSketch {
    const sketch = new DDSketch(snapshot.relativeAccuracy, snapshot.maxBuckets);
    const { positive, negative } = snapshot;
    for (let index = positive.counts.length - 1; index >= 0; index -= 1) {
      if (positive.counts[index] !== 0) sketch.#positive.add(positive.offset + index, positive.counts[index]!);
    }
    for (let index = negative.counts.length - 1; index >= 0; index -= 1) {
      if (negative.counts[index] !== 0) sketch.#negative.add(negative.offset + index, negative.counts[index]!);
    }
    sketch.#zeroCount = snapshot.zeroCount;
    sketch.#count = snapshot.count;
    sketch.#sum = snapshot.sum;
    sketch.#min = snapshot.min ?? Number.POSITIVE_INFINITY;
    sketch.#max = snapshot.max ?? Number.NEGATIVE_INFINITY;
    return sketch;
  }

  /**
   * The value that represents bucket `index`: 2γ^i / (γ + 1), computed as one exponential so
   * that it stays finite wherever the result is (2γ^i overflows for values above about 9e307).
   */
  #representative(index: number): number {
    return Math.exp(index / this.#multiplier + this.#logScale);
  }
}

function checkOptions(relativeAccuracy: unknown, maxBuckets: unknown, fail: (message: string) => Error): { relativeAccuracy: number; maxBuckets: number } {
  if (typeof relativeAccuracy !== 'number' || !(relativeAccuracy >= MIN_RELATIVE_ACCURACY && relativeAccuracy < 1)) {
    throw fail(`relativeAccuracy must be in [${MIN_RELATIVE_ACCURACY}, 1) (got ${String(relativeAccuracy)})`);
  }
  if (typeof maxBuckets !== 'number' || !Number.isInteger(maxBuckets) || maxBuckets < 16 || maxBuckets > MAX_BUCKETS_LIMIT) {
    throw fail(`maxBuckets must be an integer in 16..${MAX_BUCKETS_LIMIT} (got ${String(maxBuckets)})`);
  }
  return { relativeAccuracy, maxBuckets };
}

/** A new, empty sketch. */
export function createSketch(options: SketchOptions = {}): Sketch {
  const { relativeAccuracy, maxBuckets } = checkOptions(
    options.relativeAccuracy ?? DEFAULT_RELATIVE_ACCURACY,
    options.maxBuckets ?? DEFAULT_MAX_BUCKETS,
    (message) => new InvalidOptionsError(message),
  );
  return new DDSketch(relativeAccuracy, maxBuckets);
}

/** A new sketch holding everything in `sketches` (all of the same relative accuracy). */
export function mergeSketches(sketches: readonly Sketch[]): Sketch {
  const first = sketches[0];
  if (first === undefined) throw new InvalidOptionsError('mergeSketches needs at least one sketch');
  const merged = first.copy();
  for (let index = 1; index < sketches.length; index += 1) merged.merge(sketches[index]!);
  return merged;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Rebuilds a sketch from its snapshot, treating the data as hostile: every field is checked for
 * type and range, bucket arrays are bounded by `maxBuckets`, and the counts must add up. Throws
 * InvalidSnapshotError (code 5305).
 */
export function sketchFromSnapshot(data: unknown): Sketch {
  const fail = (message: string): Error => new InvalidSnapshotError(`sketch: ${message}`);
  if (!isRecord(data)) throw fail('expected an object');
  const { relativeAccuracy, maxBuckets } = checkOptions(data.relativeAccuracy, data.maxBuckets, fail);
  const finite = (key: string, nonNegative: boolean): number => {
    const value = data[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || (nonNegative && value < 0)) throw fail(`"${key}" must be a finite${nonNegative ? ' non-negative' : ''} number`);
    return value;
  };
  // Counts are of whole samples, as `add` takes them: the rank ⌊q(n − 1)⌋ counts elements.
  const whole = (key: string): number => {
    const value = finite(key, true);
    if (!Number.isInteger(value)) throw fail(`"${key}" must be a whole number`);
    return value;
  };
  const count = whole('count');
  const sum = finite('sum', false);
  const zeroCount = whole('zeroCount');
  const extreme = (key: string): number | null => {
    const value = data[key];
    if (count === 0) {
      // An empty sketch has no extremes: kept, they would stand as min and max once values arrive.
      if (value !== null) throw fail(`"${key}" must be null when "count" is 0`);
      return null;
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) throw fail(`"${key}" must be a finite number (null only when empty)`);
    return value;
  };
  const min = extreme('min');
  const max = extreme('max');
  if (min !== null && max !== null && min > max) throw fail('"min" is above "max"');
  const store = (key: string): { offset: number; counts: number[] } => {
    const value = data[key];
    if (!isRecord(value)) throw fail(`"${key}" must be an object`);
    const { offset, counts } = value;
    if (typeof offset !== 'number' || !Number.isInteger(offset) || Math.abs(offset) > MAX_INDEX) throw fail(`"${key}.offset" must be an integer within ±${MAX_INDEX}`);
    if (!Array.isArray(counts) || counts.length > maxBuckets) throw fail(`"${key}.counts" must be an array of at most ${maxBuckets} counts`);
    for (const bucket of counts as unknown[]) {
      if (typeof bucket !== 'number' || !Number.isInteger(bucket) || bucket < 0) throw fail(`"${key}.counts" must hold whole non-negative numbers`);
    }
    return { offset, counts: counts as number[] };
  };
  const positive = store('positive');
  const negative = store('negative');
  const total = zeroCount + positive.counts.reduce((a, b) => a + b, 0) + negative.counts.reduce((a, b) => a + b, 0);
  if (Math.abs(total - count) > 1e-9 * Math.max(1, count)) throw fail(`"count" is ${count} but the buckets hold ${total}`);
  return DDSketch.restore({ relativeAccuracy, maxBuckets, count, sum, min, max, zeroCount, positive, negative });
}
