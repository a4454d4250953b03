// The simulation's event queue: items ordered by (time, seq), where seq counts insertions, so
// items due at the same virtual time come out in the order they went in; the order is total
// and replays identically for a seed.
//
// One binary heap over every pending event costs a sift through ~15 levels per event at
// 20,000 events, each level a branch the CPU cannot predict. Most events are due within a
// few hundred milliseconds (message latencies, protocol timers), so the queue keeps three
// parts, split by bucket = floor(time · BUCKETS_PER_MS):
// - `near`: a heap of the events in the current bucket (a few, more when many fall due at once);
// - a ring of RING buckets after it, each an unsorted list: a push is an append;
// - `far`: a heap of events beyond the ring (long timers), moved into the ring as it turns.
// The ring's entries live in one pool of slots (parallel typed arrays), each bucket a linked
// list of them. A bucket holds a few events when the ring reaches it (about 3 in the membership
// simulation of 3,000 nodes, 6 at 10,000), so lists of their own per bucket were mostly cache
// misses: a push touched a bucket's object, three lists and their storage, all cold. A push now
// takes the slot freed last, which is still in cache, and links it to its bucket's head in a
// small array.
// A bucket is heaped into `near` when the ring reaches it. The bucket index never decreases as
// time grows, so every event in `near` is due before every event in the ring, and those before
// every event in `far`; the (time, seq) order is exactly that of a single heap.

/** Bucket width 1/32 ms: the current bucket's heap stays small. */
const BUCKETS_PER_MS = 32;
/** Ring of 8,192 buckets: 256 ms of virtual time ahead of the current bucket. */
const RING = 8192;
const RING_MASK = RING - 1;

/**
 * A binary min-heap by (time, seq). Times and sequence numbers live in typed arrays beside
 * the items: sifting compares contiguous numbers and never touches an item.
 */
class Heap<T> {
  private times = new Float64Array(256);
  private seqs = new Float64Array(256);
  private items: (T | undefined)[] = [];
  size = 0;

  /** Due time of the next item; Infinity when the heap is empty. */
  peekTime(): number {
    return this.size === 0 ? Number.POSITIVE_INFINITY : this.times[0]!;
  }

  push(item: T, time: number, seq: number): void {
    if (this.size === this.times.length) this.grow();
    const times = this.times;
    const seqs = this.seqs;
    const items = this.items;
    let index = this.size++;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const parentTime = times[parent]!;
      if (parentTime < time || (parentTime === time && seqs[parent]! < seq)) break;
      times[index] = parentTime;
      seqs[index] = seqs[parent]!;
      items[index] = items[parent];
      index = parent;
    }
    times[index] = time;
    seqs[index] = seq;
    items[index] = item;
  }

  /** Removes and returns the next item; the heap must not be empty. Read its time first. */
  pop(): T {
    const times = this.times;
    const seqs = this.seqs;
    const items = this.items;
    const top = items[0]!;
    const length = --this.size;
    const lastTime = times[length]!;
    const lastSeq = seqs[length]!;
    const last = items[length];
    items[length] = undefined;
    if (length === 0) return top;
    let index = 0;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= length) break;
      let childTime = times[child]!;
      const right = child + 1;
      if (right < length) {
        const rightTime = times[right]!;
        if (rightTime < childTime || (rightTime === childTime && seqs[right]! < seqs[child]!)) {
          child = right;
          childTime = rightTime;
        }
      }
      if (lastTime < childTime || (lastTime === childTime && lastSeq < seqs[child]!)) break;
      times[index] = childTime;
      seqs[index] = seqs[child]!;
      items[index] = items[child];
      index = child;
    }
    times[index] = lastTime;
    seqs[index] = lastSeq;
    items[index] = last;
    return top;
  }

  /** Sequence number of the next item (the heap must not be empty). */
  peekSeq(): number {
    return this.seqs[0]!;
  }

  private grow(): void {
    const times = new Float64Array(this.times.length * 2);
    times.set(this.times);
    this.times = times;
    const seqs = new Float64Array(this.seqs.length * 2);
    seqs.set(this.seqs);
    this.seqs = seqs;
  }
}

/** No slot (end of a bucket's list, empty free list). */
const NONE = -1;

export class EventQueue<T> {
  private readonly near = new Heap<T>();
  private readonly far = new Heap<T>();
  /** First slot of each ring bucket's list, by ring position (NONE: empty). */
  private readonly heads = new Int32Array(RING).fill(NONE);
  /** The ring's slots: an entry's time, sequence number and item, and the next slot in its list. */
  private slotTimes = new Float64Array(1024);
  private slotSeqs = new Float64Array(1024);
  private slotNext = new Int32Array(1024);
  private readonly slotItems: (T | undefined)[] = [];
  /** Slots ever used; those freed since are listed from `free` (most recently freed first). */
  private slotsUsed = 0;
  private free = NONE;
  /** Absolute index of the current bucket (the one `near` holds), and its ring position. */
  private base = 0;
  private basePosition = 0;
  private inRing = 0;
  private nextSeq = 0;

  get size(): number {
    return this.near.size + this.inRing + this.far.size;
  }

  /** Due time of the next item; Infinity when the queue is empty. */
  peekTime(): number {
    if (this.near.size === 0) this.advance();
    return this.near.peekTime();
  }

  push(item: T, time: number): void {
    const seq = this.nextSeq++;
    const distance = Math.floor(time * BUCKETS_PER_MS) - this.base;
    if (distance <= 0) this.near.push(item, time, seq);
    else if (distance < RING) this.append((this.basePosition + distance) & RING_MASK, item, time, seq);
    else this.far.push(item, time, seq);
  }

  /** Removes and returns the next item; read its time with peekTime() first. */
  pop(): T | undefined {
    if (this.near.size === 0) {
      this.advance();
      if (this.near.size === 0) return undefined;
    }
    return this.near.pop();
  }

  private append(position: number, item: T, time: number, seq: number): void {
    let slot = this.free;
    if (slot !== NONE) this.free = this.slotNext[slot]!;
    else {
      slot = this.slotsUsed++;
      if (slot === this.slotTimes.length) this.growSlots();
    }
    this.slotTimes[slot] = time;
    this.slotSeqs[slot] = seq;
    this.slotItems[slot] = item;
    // Pushed at the head: order within a bucket does not matter, `near` sorts it by (time, seq).
    this.slotNext[slot] = this.heads[position]!;
    this.heads[position] = slot;
    this.inRing += 1;
  }

  private growSlots(): void {
    const length = this.slotTimes.length * 2;
    const times = new Float64Array(length);
    times.set(this.slotTimes);
    this.slotTimes = times;
    const seqs = new Float64Array(length);
    seqs.set(this.slotSeqs);
    this.slotSeqs = seqs;
    const next = new Int32Array(length);
    next.set(this.slotNext);
    this.slotNext = next;
  }

  /** Moves the next non-empty bucket into `near` (which is empty), turning the ring to it. */
  private advance(): void {
    const heads = this.heads;
    if (this.inRing === 0) {
      if (this.far.size === 0) return;
      // Nothing in the ring: jump straight to the bucket of the earliest far event.
      this.base = Math.floor(this.far.peekTime() * BUCKETS_PER_MS);
      this.basePosition = 0;
    } else {
      let distance = 1;
      while (heads[(this.basePosition + distance) & RING_MASK] === NONE) distance += 1;
      this.base += distance;
      this.basePosition = (this.basePosition + distance) & RING_MASK;
    }
    // Far events that the ring now reaches move into it (or straight into `near`).
    const far = this.far;
    while (far.size > 0) {
      const time = far.peekTime();
      const distance = Math.floor(time * BUCKETS_PER_MS) - this.base;
      if (distance >= RING) break;
      const seq = far.peekSeq();
      const item = far.pop();
      if (distance <= 0) this.near.push(item, time, seq);
      else this.append((this.basePosition + distance) & RING_MASK, item, time, seq);
    }
    const position = this.basePosition;
    const near = this.near;
    const next = this.slotNext;
    const items = this.slotItems;
    let slot = heads[position]!;
    heads[position] = NONE;
    while (slot !== NONE) {
      near.push(items[slot]!, this.slotTimes[slot]!, this.slotSeqs[slot]!);
      items[slot] = undefined;
      const following = next[slot]!;
      next[slot] = this.free;
      this.free = slot;
      slot = following;
      this.inRing -= 1;
    }
  }
}
