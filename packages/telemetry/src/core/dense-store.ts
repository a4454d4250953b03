// Bucket counts of a DDSketch for one sign: a dense array over the range of bucket indexes in
// use, bounded to `maxBuckets`. When the range would exceed the bound, the lowest buckets are
// collapsed into one (DDSketch §2.2, "collapsing the lowest buckets"): quantiles whose values
// fall in the collapsed range lose their guarantee; all others keep it.

const GROWTH = 64;

export class DenseStore {
  /** counts[i] is the count of bucket `offset + i`. */
  counts: Float64Array = new Float64Array(0);
  offset = 0;
  /** Lowest and highest bucket index with a count; minIndex > maxIndex when empty. */
  minIndex = Number.POSITIVE_INFINITY;
  maxIndex = Number.NEGATIVE_INFINITY;
  total = 0;
  /** True once buckets were collapsed: the lowest bucket then holds values from below its range. */
  collapsed = false;

  constructor(readonly maxBuckets: number) {}

  add(index: number, count: number): void {
    if (index < this.minIndex || index > this.maxIndex) index = this.#extendTo(index);
    this.counts[index - this.offset]! += count;
    this.total += count;
  }

  /** Adds every bucket of `other` (same mapping) to this store. */
  merge(other: DenseStore): void {
    if (other.total === 0) return;
    if (other.collapsed) this.collapsed = true;
    for (let index = other.maxIndex; index >= other.minIndex; index -= 1) {
      const count = other.counts[index - other.offset]!;
      if (count !== 0) this.add(index, count);
    }
  }

  /** Widens the range to take `index`, collapsing the lowest buckets past `maxBuckets`. Returns the bucket to count in. */
  #extendTo(index: number): number {
    const empty = this.total === 0;
    let low = empty ? index : Math.min(this.minIndex, index);
    const high = empty ? index : Math.max(this.maxIndex, index);
    if (high - low + 1 > this.maxBuckets) {
      low = high - this.maxBuckets + 1;
      this.collapsed = true;
    }
    if (this.counts.length === 0 || low < this.offset || high >= this.offset + this.counts.length) {
      const length = Math.min(this.maxBuckets, high - low + 1 + GROWTH);
      // Room on the side that is growing (values usually spread from where they began), or on
      // both sides for the first value.
      const room = length - (high - low + 1);
      const offset = empty ? low - Math.floor(room / 2) : index <= low ? low - room : low;
      const counts = new Float64Array(length);
      for (let bucket = Math.max(this.minIndex, offset); bucket <= this.maxIndex; bucket += 1) {
        counts[bucket - offset] = this.counts[bucket - this.offset]!;
      }
      // Buckets that fell below the new range are folded into its lowest bucket.
      let folded = 0;
      for (let bucket = this.minIndex; bucket < Math.min(offset, this.maxIndex + 1); bucket += 1) folded += this.counts[bucket - this.offset]!;
      if (folded !== 0) counts[low - offset]! += folded;
      this.counts = counts;
      this.offset = offset;
    } else if (!empty && low > this.minIndex) {
      let folded = 0;
      for (let bucket = this.minIndex; bucket < low; bucket += 1) {
        folded += this.counts[bucket - this.offset]!;
        this.counts[bucket - this.offset] = 0;
      }
      this.counts[low - this.offset]! += folded;
    }
    this.minIndex = low;
    this.maxIndex = high;
    return Math.max(index, low);
  }

  /** The non-empty part as [first index, counts...] for snapshots. */
  toJSON(): { offset: number; counts: number[] } {
    if (this.total === 0) return { offset: 0, counts: [] };
    let low = this.minIndex;
    let high = this.maxIndex;
    while (low < high && this.counts[low - this.offset] === 0) low += 1;
    while (high > low && this.counts[high - this.offset] === 0) high -= 1;
    return { offset: low, counts: Array.from(this.counts.subarray(low - this.offset, high - this.offset + 1)) };
  }

  copyFrom(other: DenseStore): void {
    this.counts = other.counts.slice();
    this.offset = other.offset;
    this.minIndex = other.minIndex;
    this.maxIndex = other.maxIndex;
    this.total = other.total;
    this.collapsed = other.collapsed;
  }
}
