// A capability's instances as a posting list: the instances' ordinals in ascending order, with
// the records beside them. Ordinals come from one counter per view and only grow, so adding is
// an append; intersecting two lists is a merge of two integer arrays (or, for a small list
// against a large one, binary searches), which touches contiguous memory instead of chasing
// every candidate's record — on a registry of 100,000 services, ten times faster than probing
// hash sets (the inverted-index technique of search engines, Zobel and Moffat 2006).
//
// Deleting marks the entry (its record becomes undefined) instead of splicing it out: a splice
// moves every later entry, so removing the services of a popular capability one by one (a mass
// unregistration, a departed node's purge) cost the square of their number — seconds at the
// 100,000 services a node may hold. The marked entries are compacted away, in one pass, once
// they are as many as the live ones: every operation stays O(log n) amortized, and every reader
// skips the marks.
import type { Slot } from './replica';

/** Marked entries kept at least before a compaction (small lists are not compacted eagerly). */
const MIN_COMPACTION = 16;

export class PostingList {
  /** Ascending. A deleted entry keeps its ordinal until the next compaction. */
  readonly ordinals: number[] = [];
  /** The records beside `ordinals`; undefined for a deleted entry. */
  readonly slots: (Slot | undefined)[] = [];
  private deleted = 0;

  /** Live entries. */
  get size(): number {
    return this.ordinals.length - this.deleted;
  }

  /** Position of `ordinal`, or -(insertion point) - 1 when absent. */
  private find(ordinal: number): number {
    const ordinals = this.ordinals;
    let low = 0;
    let high = ordinals.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const value = ordinals[middle]!;
      if (value < ordinal) low = middle + 1;
      else if (value > ordinal) high = middle - 1;
      else return middle;
    }
    return -low - 1;
  }

  add(ordinal: number, slot: Slot): void {
    const ordinals = this.ordinals;
    if (ordinals.length === 0 || ordinals[ordinals.length - 1]! < ordinal) {
      ordinals.push(ordinal);
      this.slots.push(slot);
      return;
    }
    const position = this.find(ordinal);
    if (position >= 0) {
      if (this.slots[position] === undefined) {
        this.slots[position] = slot;
        this.deleted -= 1;
      }
      return;
    }
    const at = -position - 1;
    ordinals.splice(at, 0, ordinal);
    this.slots.splice(at, 0, slot);
  }

  delete(ordinal: number): boolean {
    const position = this.find(ordinal);
    if (position < 0 || this.slots[position] === undefined) return false;
    this.slots[position] = undefined;
    this.deleted += 1;
    if (this.deleted >= MIN_COMPACTION && this.deleted * 2 >= this.ordinals.length) this.compact();
    return true;
  }

  has(ordinal: number): boolean {
    const position = this.find(ordinal);
    return position >= 0 && this.slots[position] !== undefined;
  }

  /** The live records, in ordinal order. */
  *values(): IterableIterator<Slot> {
    for (const slot of this.slots) if (slot !== undefined) yield slot;
  }

  /** Drops the deleted entries in one pass. */
  private compact(): void {
    const ordinals = this.ordinals;
    const slots = this.slots;
    let kept = 0;
    for (let index = 0; index < ordinals.length; index += 1) {
      const slot = slots[index];
      if (slot === undefined) continue;
      ordinals[kept] = ordinals[index]!;
      slots[kept] = slot;
      kept += 1;
    }
    ordinals.length = kept;
    slots.length = kept;
    this.deleted = 0;
  }
}

/** Whether `ordinal` is in the sorted `ordinals`, searching from `from`; returns the position reached (negative when absent). */
function gallop(ordinals: readonly number[], ordinal: number, from: number): number {
  // Exponential search, then binary search, from the last position: O(log distance).
  let bound = 1;
  while (from + bound < ordinals.length && ordinals[from + bound]! < ordinal) bound *= 2;
  let low = from + (bound >>> 1);
  let high = Math.min(from + bound, ordinals.length - 1);
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const value = ordinals[middle]!;
    if (value < ordinal) low = middle + 1;
    else if (value > ordinal) high = middle - 1;
    else return middle;
  }
  return -low - 1;
}

/** Two lists by a linear merge: both are walked once, in step (the lists are of similar length). */
function merge(first: PostingList, second: PostingList): Slot[] {
  const left = first.ordinals;
  const right = second.ordinals;
  const result: Slot[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length && j < right.length) {
    const a = left[i]!;
    const b = right[j]!;
    if (a < b) i += 1;
    else if (a > b) j += 1;
    else {
      const slot = first.slots[i];
      if (slot !== undefined && second.slots[j] !== undefined) result.push(slot);
      i += 1;
      j += 1;
    }
  }
  return result;
}

/**
 * The records in every list, in ordinal order. Starts from the shortest list: against a list
 * of similar length by a linear merge, against a much longer one by galloping (an exponential
 * then binary search from a cursor that only moves forward).
 */
export function intersect(lists: readonly PostingList[]): Slot[] {
  if (lists.length === 0) return [];
  const sorted = [...lists].sort((left, right) => left.size - right.size);
  const first = sorted[0]!;
  if (sorted.length === 2 && sorted[1]!.size <= first.size * 16) return merge(first, sorted[1]!);
  const others = sorted.slice(1);
  const cursors = others.map(() => 0);
  const result: Slot[] = [];
  const ordinals = first.ordinals;
  outer: for (let index = 0; index < ordinals.length; index += 1) {
    const slot = first.slots[index];
    if (slot === undefined) continue;
    const ordinal = ordinals[index]!;
    for (let other = 0; other < others.length; other += 1) {
      const list = others[other]!;
      const position = gallop(list.ordinals, ordinal, cursors[other]!);
      if (position < 0) {
        cursors[other] = -position - 1;
        if (cursors[other]! >= list.ordinals.length) break outer;
        continue outer;
      }
      cursors[other] = position + 1;
      if (list.slots[position] === undefined) continue outer;
    }
    result.push(slot);
  }
  return result;
}
