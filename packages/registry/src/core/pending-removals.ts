// The removals an origin holds ahead of its history (their revision not yet covered by the
// context's prefix), lowest revision first.
//
// Such a removal becomes stable (collectable after a while) once the prefix reaches it. Looked
// for by scanning every tombstone of the origin after each delta, as it was, a message of many
// deltas naming one origin cost that origin's tombstones once per delta: 32,769 of them against
// 10,000 tombstones took a minute and a half. Taken from a heap, each delta costs what it makes
// stable.

/** A removal of `id` at `revision`, held ahead of the history. */
export interface PendingRemoval {
  readonly id: string;
  readonly revision: number;
}

/**
 * A min-heap of removals by revision, one per id: a later removal of an id replaces the one held.
 * Kept to exactly the removals that wait (stale ones left in it, as they were, made counting the
 * ones at or below a revision cost them too), so that `countThrough` costs what it counts.
 */
export class PendingRemovals {
  private readonly heap: PendingRemoval[] = [];
  /** id → its place in the heap. */
  private readonly places = new Map<string, number>();

  get size(): number {
    return this.heap.length;
  }

  /** Holds `removal`, in place of any removal of the same id. */
  add(removal: PendingRemoval): void {
    const place = this.places.get(removal.id);
    if (place !== undefined) {
      this.heap[place] = removal;
      this.siftDown(this.siftUp(place));
      return;
    }
    this.heap.push(removal);
    this.siftUp(this.heap.length - 1);
  }

  /** Takes out every removal at or below `revision`, lowest first. */
  takeThrough(revision: number): PendingRemoval[] {
    const taken: PendingRemoval[] = [];
    while (this.heap.length > 0 && this.heap[0]!.revision <= revision) taken.push(this.takeLowest());
    return taken;
  }

  /**
   * How many removals are at or below `revision`, counting no further than `enough`. It looks at
   * the ones it counts and their children only, so it costs about twice `enough` at most.
   */
  countThrough(revision: number, enough: number): number {
    let count = 0;
    const stack = this.heap.length > 0 ? [0] : [];
    while (stack.length > 0 && count < enough) {
      const place = stack.pop()!;
      if (this.heap[place]!.revision > revision) continue;
      count += 1;
      const left = place * 2 + 1;
      if (left < this.heap.length) stack.push(left);
      if (left + 1 < this.heap.length) stack.push(left + 1);
    }
    return count;
  }

  private takeLowest(): PendingRemoval {
    const heap = this.heap;
    const lowest = heap[0]!;
    this.places.delete(lowest.id);
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      this.siftDown(0);
    }
    return lowest;
  }

  /** Moves the removal at `place` up to where it belongs; returns where it ended. */
  private siftUp(place: number): number {
    const heap = this.heap;
    const removal = heap[place]!;
    let index = place;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (heap[parent]!.revision <= removal.revision) break;
      this.put(index, heap[parent]!);
      index = parent;
    }
    this.put(index, removal);
    return index;
  }

  /** Moves the removal at `place` down to where it belongs. */
  private siftDown(place: number): void {
    const heap = this.heap;
    const removal = heap[place]!;
    let index = place;
    for (;;) {
      const left = index * 2 + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]!.revision < heap[left]!.revision ? right : left;
      if (heap[child]!.revision >= removal.revision) break;
      this.put(index, heap[child]!);
      index = child;
    }
    this.put(index, removal);
  }

  private put(place: number, removal: PendingRemoval): void {
    this.heap[place] = removal;
    this.places.set(removal.id, place);
  }
}
