// Deadlines in a binary min-heap, with lazy removal: cancelling an entry only marks it, and
// marked entries are discarded when they reach the top. Call timeouts use one heap and one
// armed timer instead of a timer per call. Equal deadlines leave in insertion order.

export interface DeadlineEntry {
  /** Set when the entry no longer needs to fire (the call got its reply). */
  cancelled: boolean;
}

export class DeadlineQueue<T extends DeadlineEntry> {
  private deadlines: number[] = [];
  private sequence: number[] = [];
  private entries: T[] = [];
  private counter = 0;
  private cancelledCount = 0;

  /** Entries held, cancelled ones included until they are discarded. */
  get size(): number {
    return this.entries.length;
  }

  /** Entries not cancelled. */
  get live(): number {
    return this.entries.length - this.cancelledCount;
  }

  push(deadline: number, entry: T): void {
    this.deadlines.push(deadline);
    this.sequence.push(this.counter++);
    this.entries.push(entry);
    this.up(this.entries.length - 1);
  }

  /**
   * Marks `entry` cancelled. When cancelled entries outnumber live ones the heap is rebuilt
   * without them, so completed calls with long timeouts do not pile up (amortised O(1)).
   */
  cancel(entry: T): void {
    if (entry.cancelled) return;
    entry.cancelled = true;
    this.cancelledCount += 1;
    if (this.cancelledCount > 1024 && this.cancelledCount * 2 > this.entries.length) this.compact();
  }

  private compact(): void {
    const deadlines: number[] = [];
    const sequence: number[] = [];
    const entries: T[] = [];
    for (let index = 0; index < this.entries.length; index += 1) {
      if (this.entries[index]!.cancelled) continue;
      deadlines.push(this.deadlines[index]!);
      sequence.push(this.sequence[index]!);
      entries.push(this.entries[index]!);
    }
    this.deadlines = deadlines;
    this.sequence = sequence;
    this.entries = entries;
    this.cancelledCount = 0;
    for (let index = (entries.length >> 1) - 1; index >= 0; index -= 1) this.down(index);
  }

  /** The earliest deadline of an entry not cancelled, or Infinity. */
  peekDeadline(): number {
    this.discardCancelled();
    return this.entries.length === 0 ? Number.POSITIVE_INFINITY : this.deadlines[0]!;
  }

  /** Removes and returns every live entry whose deadline is at or before `now`, earliest first. */
  popExpired(now: number): T[] {
    const expired: T[] = [];
    for (;;) {
      this.discardCancelled();
      if (this.entries.length === 0 || this.deadlines[0]! > now) return expired;
      expired.push(this.removeTop());
    }
  }

  private discardCancelled(): void {
    while (this.entries.length > 0 && this.entries[0]!.cancelled) {
      this.removeTop();
      if (this.cancelledCount > 0) this.cancelledCount -= 1;
    }
  }

  private removeTop(): T {
    const top = this.entries[0]!;
    const lastDeadline = this.deadlines.pop()!;
    const lastSequence = this.sequence.pop()!;
    const lastEntry = this.entries.pop()!;
    if (this.entries.length > 0) {
      this.deadlines[0] = lastDeadline;
      this.sequence[0] = lastSequence;
      this.entries[0] = lastEntry;
      this.down(0);
    }
    return top;
  }

  private less(a: number, b: number): boolean {
    const da = this.deadlines[a]!;
    const db = this.deadlines[b]!;
    return da < db || (da === db && this.sequence[a]! < this.sequence[b]!);
  }

  private swap(a: number, b: number): void {
    const deadline = this.deadlines[a]!;
    this.deadlines[a] = this.deadlines[b]!;
    this.deadlines[b] = deadline;
    const sequence = this.sequence[a]!;
    this.sequence[a] = this.sequence[b]!;
    this.sequence[b] = sequence;
    const entry = this.entries[a]!;
    this.entries[a] = this.entries[b]!;
    this.entries[b] = entry;
  }

  private up(index: number): void {
    let child = index;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!this.less(child, parent)) return;
      this.swap(child, parent);
      child = parent;
    }
  }

  private down(index: number): void {
    let parent = index;
    const size = this.entries.length;
    for (;;) {
      const left = parent * 2 + 1;
      const right = left + 1;
      let smallest = parent;
      if (left < size && this.less(left, smallest)) smallest = left;
      if (right < size && this.less(right, smallest)) smallest = right;
      if (smallest === parent) return;
      this.swap(parent, smallest);
      parent = smallest;
    }
  }
}
