// A list of ids kept in ascending order, optimised for what an event store does: append ids
// that are larger than every id so far (creation order) and remove the smallest (eviction and
// pruning, oldest first). Both are O(1) amortised.
//
// An id below the largest (an event from elsewhere, keeping its id) waits in a small sorted side
// list, merged into the main one from the back once it holds about √n ids, or when a position is
// read (a query). Splicing each into place moved every id after it, O(n) per insert, so storing k
// events from elsewhere cost O(k × n); between reads it now costs about O(k × √n). A read after
// each insert still merges each, as a splice did: the ids above it move, once.
//
// Removing elsewhere moves the ids on the shorter side of it: those before it up (and the head
// advances) when it is nearer the front, those after it down otherwise. Evicting by age when
// clocks disagree a little removes ids just behind the front, which then costs as many moves as
// ids before them, not as many as ids stored.

/** Up to this many ids away from the front, removeAll splices each rather than pass over the list. */
const FEW_TO_SPLICE = 8;
/** The side list is merged once it holds this many ids and its size squared reaches the main list's. */
const FEW_TO_HOLD = 16;

export class SortedIdList {
  private items: number[] = [];
  private head = 0;
  // Ids inserted below the largest, ascending, not yet merged into items: no id is in both.
  private pending: number[] = [];

  get size(): number {
    return this.items.length - this.head + this.pending.length;
  }

  /** The smallest id, or undefined. */
  first(): number | undefined {
    const first = this.head < this.items.length ? this.items[this.head] : undefined;
    const waiting = this.pending[0];
    return waiting !== undefined && (first === undefined || waiting < first) ? waiting : first;
  }

  last(): number | undefined {
    const last = this.head < this.items.length ? this.items[this.items.length - 1] : undefined;
    const waiting = this.pending.at(-1);
    return waiting !== undefined && (last === undefined || waiting > last) ? waiting : last;
  }

  /** The i-th smallest id (0-based). */
  at(position: number): number {
    if (this.pending.length > 0) this.merge();
    return this.items[this.head + position]!;
  }

  insert(id: number): void {
    const items = this.items;
    if (items.length === this.head || id > items[items.length - 1]!) {
      items.push(id);
      return;
    }
    const pending = this.pending;
    if (pending.length === 0 || id > pending[pending.length - 1]!) pending.push(id);
    else pending.splice(SortedIdList.lowerBoundIn(pending, 0, id), 0, id);
    // About √n held costs O(√n) per insert here and O(n) per merge, once every √n inserts.
    if (pending.length >= FEW_TO_HOLD && pending.length * pending.length >= items.length - this.head) this.merge();
  }

  remove(id: number): boolean {
    const pending = this.pending;
    if (pending.length > 0) {
      const waiting = SortedIdList.lowerBoundIn(pending, 0, id);
      if (pending[waiting] === id) {
        pending.splice(waiting, 1);
        return true;
      }
    }
    const items = this.items;
    if (this.head < items.length && items[this.head] === id) {
      this.head += 1;
      this.compact();
      return true;
    }
    const position = this.lowerBound(id);
    if (position < items.length && items[position] === id) {
      if (position - this.head < items.length - position) {
        for (let read = position - 1; read >= this.head; read -= 1) items[read + 1] = items[read]!;
        this.head += 1;
        this.compact();
      } else {
        items.splice(position, 1);
      }
      return true;
    }
    return false;
  }

  /**
   * Removes every id of `sorted` (ascending) that the list holds; returns how many. Ids at the
   * front only advance the head; a few others are removed one by one; more are dropped in one
   * pass over the shorter side, the ids up to the last of them or from the first of them on,
   * so removing k ids from n costs O(n + k) at most, not O(n) per id as splicing each would
   * (pruning by wall time removes ids in time order, which is random order here when clocks
   * disagree).
   */
  removeAll(sorted: readonly number[]): number {
    if (this.pending.length > 0) this.merge();
    let next = 0;
    let removed = 0;
    const items = this.items;
    while (next < sorted.length && this.head < items.length && sorted[next]! <= items[this.head]!) {
      if (sorted[next] === items[this.head]) {
        this.head += 1;
        removed += 1;
      }
      next += 1;
    }
    if (sorted.length - next <= FEW_TO_SPLICE) {
      for (; next < sorted.length; next += 1) if (this.remove(sorted[next]!)) removed += 1;
    } else if (this.upperBound(sorted[sorted.length - 1]!) - this.head < items.length - this.lowerBound(sorted[next]!)) {
      // The ids to remove are nearer the front: the ids before the last of them move up, from
      // the back, and the head advances past the gap left.
      let write = this.upperBound(sorted[sorted.length - 1]!);
      let doomed = sorted.length - 1;
      for (let read = write - 1; read >= this.head; read -= 1) {
        const item = items[read]!;
        while (doomed >= next && sorted[doomed]! > item) doomed -= 1;
        if (doomed >= next && sorted[doomed] === item) {
          removed += 1;
          doomed -= 1;
        } else {
          write -= 1;
          items[write] = item;
        }
      }
      this.head = write;
    } else {
      let write = this.lowerBound(sorted[next]!);
      for (let read = write; read < items.length; read += 1) {
        const item = items[read]!;
        while (next < sorted.length && sorted[next]! < item) next += 1;
        if (next < sorted.length && sorted[next] === item) {
          removed += 1;
          next += 1;
        } else {
          items[write] = item;
          write += 1;
        }
      }
      items.length = write;
    }
    this.compact();
    return removed;
  }

  /** Position (0-based from the smallest) of the first id ≥ `id`. */
  indexOf(id: number): number {
    if (this.pending.length > 0) this.merge();
    return this.lowerBound(id) - this.head;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
    this.pending = [];
  }

  /** All ids, ascending (a copy). */
  toArray(): number[] {
    if (this.pending.length > 0) this.merge();
    return this.items.slice(this.head);
  }

  /**
   * Merges the side list into items from the back: the ids above the smallest waiting one move
   * up by as many places as ids wait below them, each once, and those below it stay where they are.
   */
  private merge(): void {
    const items = this.items;
    const pending = this.pending;
    let read = items.length - 1;
    // Grown by pushing, not by setting the length, which would leave the array with holes (slower to read).
    for (let count = 0; count < pending.length; count += 1) items.push(0);
    let write = items.length - 1;
    for (let waiting = pending.length - 1; waiting >= 0; write -= 1) {
      if (read >= this.head && items[read]! > pending[waiting]!) {
        items[write] = items[read]!;
        read -= 1;
      } else {
        items[write] = pending[waiting]!;
        waiting -= 1;
      }
    }
    this.pending = [];
  }

  private static lowerBoundIn(items: readonly number[], low: number, id: number): number {
    let high = items.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (items[middle]! < id) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Position of the first id > `id`. */
  private upperBound(id: number): number {
    let low = this.head;
    let high = this.items.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.items[middle]! <= id) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private lowerBound(id: number): number {
    return SortedIdList.lowerBoundIn(this.items, this.head, id);
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
