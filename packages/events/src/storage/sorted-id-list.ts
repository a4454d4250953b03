// A list of ids kept in ascending order, optimised for what an event store does: append ids
// that are larger than every id so far (creation order) and remove the smallest (eviction and
// pruning, oldest first). Both are O(1) amortised; inserting or removing elsewhere is a binary
// search and a splice.

export class SortedIdList {
  private items: number[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  /** The smallest id, or undefined. */
  first(): number | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  last(): number | undefined {
    return this.head < this.items.length ? this.items[this.items.length - 1] : undefined;
  }

  /** The i-th smallest id (0-based). */
  at(position: number): number {
    return this.items[this.head + position]!;
  }

  insert(id: number): void {
    const items = this.items;
    if (items.length === this.head || id > items[items.length - 1]!) {
      items.push(id);
      return;
    }
    const position = this.lowerBound(id);
    items.splice(position, 0, id);
  }

  remove(id: number): boolean {
    const items = this.items;
    if (this.head < items.length && items[this.head] === id) {
      this.head += 1;
      this.compact();
      return true;
    }
    const position = this.lowerBound(id);
    if (position < items.length && items[position] === id) {
      items.splice(position, 1);
      return true;
    }
    return false;
  }

  /** Position (0-based from the smallest) of the first id ≥ `id`. */
  indexOf(id: number): number {
    return this.lowerBound(id) - this.head;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  /** All ids, ascending (a copy). */
  toArray(): number[] {
    return this.items.slice(this.head);
  }

  private lowerBound(id: number): number {
    let low = this.head;
    let high = this.items.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.items[middle]! < id) low = middle + 1;
      else high = middle;
    }
    return low;
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
