// A FIFO queue over a power-of-two ring: O(1) push and shift with no per-item allocation and
// no array shifting. Used for the run queue and for senders parked by a full mailbox.

const MIN_CAPACITY = 8;

export class RingQueue<T> {
  private items: (T | undefined)[];
  private head = 0;
  private mask: number;
  length = 0;

  constructor(capacity = MIN_CAPACITY) {
    let size = MIN_CAPACITY;
    while (size < capacity) size *= 2;
    this.items = new Array<T | undefined>(size);
    this.mask = size - 1;
  }

  push(item: T): void {
    if (this.length > this.mask) this.grow();
    this.items[(this.head + this.length) & this.mask] = item;
    this.length += 1;
  }

  /** The oldest item, removed; undefined when empty. */
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.length -= 1;
    return item;
  }

  peek(): T | undefined {
    return this.length === 0 ? undefined : this.items[this.head];
  }

  /** The item at `index` from the oldest (0), without removing it. */
  at(index: number): T | undefined {
    return index < 0 || index >= this.length ? undefined : this.items[(this.head + index) & this.mask];
  }

  /** Removes every item, returning them oldest first. */
  drain(): T[] {
    const out: T[] = [];
    while (this.length > 0) out.push(this.shift() as T);
    return out;
  }

  private grow(): void {
    const size = this.items.length * 2;
    const next = new Array<T | undefined>(size);
    for (let index = 0; index < this.length; index += 1) next[index] = this.items[(this.head + index) & this.mask];
    this.items = next;
    this.head = 0;
    this.mask = size - 1;
  }
}
