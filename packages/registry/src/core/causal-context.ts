// What a replica has seen of one origin's history. Each change an origin makes gets the next
// revision number (1, 2, 3...). A replica has incorporated every change up to `prefix`, plus the
// changes in `cloud` (closed intervals above prefix + 1) that arrived out of order. This is the
// compact causal context of delta-state CRDTs (Almeida, Shoker, Baquero, "Delta State
// Replicated Data Types", 2018, §6: a version vector plus a dot cloud), for one origin.
//
// It is what makes tombstones collectable: a replica that covers revision r has seen change r,
// so an entry carrying revision r that it does not hold was removed or superseded, and is
// refused without any tombstone. Tombstones are only needed for removals whose revision is
// not yet covered, and to tell peers that are behind.

/** A closed interval of revisions, low ≤ high. */
export interface Interval {
  readonly low: number;
  readonly high: number;
}

export class CausalContext {
  /** Every revision 1..prefix has been incorporated. */
  prefix = 0;
  /** Disjoint, sorted intervals, each starting above prefix + 1. */
  cloud: Interval[] = [];

  /** True when change `revision` has been incorporated. */
  covers(revision: number): boolean {
    if (revision <= this.prefix) return true;
    for (const interval of this.cloud) {
      if (revision < interval.low) return false;
      if (revision <= interval.high) return true;
    }
    return false;
  }

  /** Records that every change in [low, high] has been incorporated. */
  add(low: number, high: number): void {
    if (high < low || high <= this.prefix) return;
    const start = Math.max(low, this.prefix + 1);
    const merged: Interval[] = [];
    let current: Interval = { low: start, high };
    for (const interval of this.cloud) {
      if (interval.high + 1 < current.low) merged.push(interval);
      else if (current.high + 1 < interval.low) {
        merged.push(current);
        current = interval;
      } else current = { low: Math.min(interval.low, current.low), high: Math.max(interval.high, current.high) };
    }
    merged.push(current);
    // Absorb what now continues the prefix.
    while (merged.length > 0 && merged[0]!.low <= this.prefix + 1) {
      this.prefix = Math.max(this.prefix, merged.shift()!.high);
    }
    this.cloud = merged;
  }

  /** Adds everything another context covers. */
  join(prefix: number, cloud: readonly Interval[]): void {
    if (prefix > 0) this.add(1, prefix);
    for (const interval of cloud) this.add(interval.low, interval.high);
  }

  /** The highest revision covered (0 when none). */
  highest(): number {
    return this.cloud.length === 0 ? this.prefix : this.cloud[this.cloud.length - 1]!.high;
  }

  /** Text form, for digests: `prefix` or `prefix+low-high,low-high`. */
  describe(): string {
    return this.cloud.length === 0 ? String(this.prefix) : `${this.prefix}+${this.cloud.map((interval) => `${interval.low}-${interval.high}`).join(',')}`;
  }

  clone(): CausalContext {
    const copy = new CausalContext();
    copy.prefix = this.prefix;
    copy.cloud = this.cloud.slice();
    return copy;
  }
}

/** The highest revision in `intervals` (0 for none). */
export function highestCovered(intervals: readonly Interval[]): number {
  let highest = 0;
  for (const interval of intervals) if (interval.high > highest) highest = interval.high;
  return highest;
}

/** The lowest revision in `intervals` (undefined for none). */
export function lowestCovered(intervals: readonly Interval[]): number | undefined {
  let lowest: number | undefined;
  for (const interval of intervals) if (lowest === undefined || interval.low < lowest) lowest = interval.low;
  return lowest;
}
