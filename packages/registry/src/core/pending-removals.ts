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
 * A min-heap of removals by revision. It can hold removals that are no longer pending (a later
 * removal of the same id replaced them): whoever takes one checks it against what is held, and
 * `retain` drops them.
 */
export class PendingRemovals {
  private heap: PendingRemoval[] = [];

  get size(): number {
    return this.heap.length;
  }

  add(removal: PendingRemoval): void {
    const heap = this.heap;
    heap.push(removal);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (heap[parent]!.revision <= removal.revision) break;
      heap[index] = heap[parent]!;
      index = parent;
    }
    heap[index] = removal;
  }

  /** Takes out every removal at or below `revision`, lowest first. */
  takeThrough(revision: number): PendingRemoval[] {
    const taken: PendingRemoval[] = [];
    while (this.heap.length > 0 && this.heap[0]!.revision <= revision) taken.push(this.takeLowest());
    return taken;
  }

  /** Keeps only the removals `keep` accepts. */
  retain(keep: (removal: PendingRemoval) => boolean): void {
    const kept = this.heap.filter(keep);
    this.heap = [];
    for (const removal of kept) this.add(removal);
  }

  private takeLowest(): PendingRemoval {
    const heap = this.heap;
    const lowest = heap[0]!;
    const last = heap.pop()!;
    if (heap.length === 0) return lowest;
    let index = 0;
    for (;;) {
      const left = index * 2 + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]!.revision < heap[left]!.revision ? right : left;
      if (heap[child]!.revision >= last.revision) break;
      heap[index] = heap[child]!;
      index = child;
    }
    heap[index] = last;
    return lowest;
  }
}
