// Values by integer key: events by id, and the memory storage's sequence numbers by id and ids by
// sequence number. Ids made by one store are dense and increasing (sequence numbers always are),
// so they live in an array indexed by `key - base`, which is several times faster than a Map and
// allocates nothing per entry; keys that do not fit (foreign events, ids far ahead or behind) go
// to a Map. Removing
// the oldest advances a head index; the array is compacted when the head passes half of it.
// The array holds a slot for every id from its oldest event to its newest, so it is kept at
// least a quarter full: one old event that outlives the rest (pruning by wall time spares an
// event whose clock ran ahead) would otherwise keep a slot for every id made after it.
/** An id further than this past the end of the dense array goes to the Map instead. */
const MAX_GAP = 1024;
/** The array may be sparser than a quarter full while it spans at most this many ids. */
const MIN_SPAN = 1024;

export class IdTable<Value> {
  private slots: (Value | undefined)[] = [];
  /** The id stored (or that would be) in slots[0]. */
  private base = 0;
  /** slots[0..head) are empty and waiting to be compacted away. */
  private head = 0;
  private readonly sparse = new Map<number, Value>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Slots the dense array spans, events and holes: at most four per event beyond MIN_SPAN. */
  get span(): number {
    return this.slots.length - this.head;
  }

  /** Whether a dense array spanning `span` ids with `events` events in it is full enough. */
  private static fullEnough(events: number, span: number): boolean {
    return span <= MIN_SPAN || events * 4 >= span;
  }

  get(id: number): Value | undefined {
    const position = id - this.base;
    if (position >= this.head && position < this.slots.length) {
      const event = this.slots[position];
      // An id stored in the Map before the dense range grew over it is still in the Map.
      if (event !== undefined || this.sparse.size === 0) return event;
    }
    return this.sparse.size === 0 ? undefined : this.sparse.get(id);
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** Adds `value` under `id`, which holds nothing yet. */
  add(id: number, value: Value): void {
    this.count += 1;
    if (this.slots.length === this.head) {
      // Empty dense part: start it here (anything left in slots is empty).
      this.slots = [value];
      this.base = id;
      this.head = 0;
      return;
    }
    const position = id - this.base;
    if (position === this.slots.length) {
      this.slots.push(value);
    } else if (position >= this.head && position < this.slots.length && this.slots[position] === undefined) {
      this.slots[position] = value;
    } else if (
      position > this.slots.length &&
      position - this.slots.length <= MAX_GAP &&
      IdTable.fullEnough(this.count - this.sparse.size, position + 1 - this.head)
    ) {
      for (let fill = this.slots.length; fill < position; fill += 1) this.slots.push(undefined);
      this.slots.push(value);
    } else {
      this.sparse.set(id, value);
    }
  }

  delete(id: number): boolean {
    const position = id - this.base;
    if (position >= this.head && position < this.slots.length && this.slots[position] !== undefined) {
      this.slots[position] = undefined;
      this.count -= 1;
      while (this.head < this.slots.length && this.slots[this.head] === undefined) this.head += 1;
      while (this.slots.length > this.head && this.slots[this.slots.length - 1] === undefined) this.slots.pop();
      if (this.head > 1024 && this.head * 2 > this.slots.length) {
        this.slots = this.slots.slice(this.head);
        this.base += this.head;
        this.head = 0;
      }
      if (!IdTable.fullEnough(this.count - this.sparse.size, this.slots.length - this.head)) this.spill();
      return true;
    }
    if (this.sparse.delete(id)) {
      this.count -= 1;
      return true;
    }
    return false;
  }

  /** Moves the events of a dense array gone sparse to the Map; the next add starts a new array. */
  private spill(): void {
    for (let position = this.head; position < this.slots.length; position += 1) {
      const value = this.slots[position];
      if (value !== undefined) this.sparse.set(this.base + position, value);
    }
    this.slots = [];
    this.head = 0;
  }

  clear(): void {
    this.slots = [];
    this.head = 0;
    this.sparse.clear();
    this.count = 0;
  }
}
