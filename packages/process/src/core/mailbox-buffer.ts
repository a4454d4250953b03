// A process's mailbox storage: messages in a power-of-two ring with their enqueue times beside
// them in a Float64Array (no boxing, no allocation per message). The buffers are allocated on
// the first message, so an idle process that never received one costs nothing here, and are
// released when a large mailbox drains, so a burst does not pin memory for the process's life.

const INITIAL_CAPACITY = 8;
/** A drained mailbox keeps buffers up to this size for reuse; larger ones are released. */
const RETAINED_CAPACITY = 1024;

export class MailboxBuffer {
  private items: unknown[] | null = null;
  private times: Float64Array | null = null;
  private head = 0;
  private mask = -1;
  length = 0;

  push(item: unknown, time: number): void {
    if (this.length > this.mask) this.grow();
    const index = (this.head + this.length) & this.mask;
    this.items![index] = item;
    this.times![index] = time;
    this.length += 1;
  }

  /** Removes and returns the oldest message. Callers check `length` first. */
  shift(): unknown {
    const items = this.items!;
    const item = items[this.head];
    items[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.length -= 1;
    if (this.length === 0) {
      this.head = 0;
      if (this.mask >= RETAINED_CAPACITY) this.release();
    }
    return item;
  }

  /** The oldest message without removing it. Callers check `length` first. */
  peek(): unknown {
    return this.items![this.head];
  }

  /** Enqueue time of the oldest message, or NaN when empty. */
  oldestTime(): number {
    return this.length === 0 ? Number.NaN : this.times![this.head]!;
  }

  /** The message at `index` from the oldest (0), without removing it. */
  at(index: number): unknown {
    return index < 0 || index >= this.length ? undefined : this.items![(this.head + index) & this.mask];
  }

  /**
   * Removes and returns the message at `index` from the oldest (0), keeping the others in order.
   * Linear in the distance from the oldest; callers check the index against `length`.
   */
  removeAt(index: number): unknown {
    if (index === 0) return this.shift();
    const items = this.items!;
    const times = this.times!;
    const mask = this.mask;
    const removed = items[(this.head + index) & mask];
    // Move the older messages up by one, so the oldest slot becomes the free one.
    for (let at = index; at > 0; at -= 1) {
      const to = (this.head + at) & mask;
      const from = (this.head + at - 1) & mask;
      items[to] = items[from];
      times[to] = times[from]!;
    }
    items[this.head] = undefined;
    this.head = (this.head + 1) & mask;
    this.length -= 1;
    return removed;
  }

  /** Bytes held by the buffers (slots, not the messages they point to). */
  retainedBytes(): number {
    return this.mask < 0 ? 0 : (this.mask + 1) * 16;
  }

  /** Removes every message, oldest first, and releases the buffers. */
  drain(): unknown[] {
    const out: unknown[] = [];
    while (this.length > 0) out.push(this.shift());
    this.release();
    return out;
  }

  private release(): void {
    this.items = null;
    this.times = null;
    this.head = 0;
    this.mask = -1;
  }

  private grow(): void {
    if (this.items === null) {
      this.items = new Array<unknown>(INITIAL_CAPACITY);
      this.times = new Float64Array(INITIAL_CAPACITY);
      this.mask = INITIAL_CAPACITY - 1;
      return;
    }
    // Full: the ring is [head, end) followed by [0, head). Copy both runs in bulk.
    const capacity = this.mask + 1;
    const size = capacity * 2;
    const old = this.items;
    const items = new Array<unknown>(size);
    let to = 0;
    for (let from = this.head; from < capacity; from += 1) items[to++] = old[from];
    for (let from = 0; from < this.head; from += 1) items[to++] = old[from];
    const times = new Float64Array(size);
    times.set(this.times!.subarray(this.head));
    times.set(this.times!.subarray(0, this.head), capacity - this.head);
    this.items = items;
    this.times = times;
    this.head = 0;
    this.mask = size - 1;
  }
}
