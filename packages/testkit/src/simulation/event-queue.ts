// A binary min-heap of items ordered by (time, seq), where seq counts insertions: items due at
// the same virtual time come out in the order they went in, so the order is total and replays
// identically for a seed.
//
// Times and sequence numbers live in typed arrays beside the items: sifting compares
// contiguous numbers and never touches an item, which is what bounds a simulation with tens of
// thousands of messages in flight.
export class EventQueue<T> {
  private times = new Float64Array(1024);
  private seqs = new Float64Array(1024);
  private items: (T | undefined)[] = [];
  private length = 0;
  private nextSeq = 0;

  get size(): number {
    return this.length;
  }

  /** Due time of the next item; Infinity when the queue is empty. */
  peekTime(): number {
    return this.length === 0 ? Number.POSITIVE_INFINITY : this.times[0]!;
  }

  push(item: T, time: number): void {
    if (this.length === this.times.length) this.grow();
    const times = this.times;
    const seqs = this.seqs;
    const items = this.items;
    const seq = this.nextSeq++;
    let index = this.length++;
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

  /** Removes and returns the next item; read its time with peekTime() first. */
  pop(): T | undefined {
    if (this.length === 0) return undefined;
    const times = this.times;
    const seqs = this.seqs;
    const items = this.items;
    const top = items[0];
    const length = --this.length;
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

  private grow(): void {
    const times = new Float64Array(this.times.length * 2);
    times.set(this.times);
    this.times = times;
    const seqs = new Float64Array(this.seqs.length * 2);
    seqs.set(this.seqs);
    this.seqs = seqs;
  }
}
