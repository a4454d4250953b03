// Events ordered by (wallTime, id), for time-range queries and pruning by time. Wall time mostly
// grows with ids, so appends and removals of the oldest are the common, O(1) case; a clock that
// stepped back costs a binary search and a splice.

export class TimeIndex {
  private times: number[] = [];
  private ids: number[] = [];
  private head = 0;

  get size(): number {
    return this.ids.length - this.head;
  }

  insert(time: number, id: number): void {
    const last = this.ids.length - 1;
    if (last < this.head || time > this.times[last]! || (time === this.times[last]! && id > this.ids[last]!)) {
      this.times.push(time);
      this.ids.push(id);
      return;
    }
    const position = this.lowerBound(time, id);
    this.times.splice(position, 0, time);
    this.ids.splice(position, 0, id);
  }

  remove(time: number, id: number): void {
    if (this.head < this.ids.length && this.ids[this.head] === id) {
      this.head += 1;
      this.compact();
      return;
    }
    const position = this.lowerBound(time, id);
    if (position < this.ids.length && this.ids[position] === id) {
      this.times.splice(position, 1);
      this.ids.splice(position, 1);
    }
  }

  clear(): void {
    this.times = [];
    this.ids = [];
    this.head = 0;
  }

  /** The oldest entry's time, or undefined. */
  oldestTime(): number | undefined {
    return this.head < this.times.length ? this.times[this.head] : undefined;
  }

  /** The newest entry's time, or undefined. */
  newestTime(): number | undefined {
    return this.head < this.times.length ? this.times[this.times.length - 1] : undefined;
  }

  /** Ids whose time is within [from, to], in (time, id) order. */
  idsBetween(from: number, to: number): number[] {
    const start = this.lowerBound(from, Number.NEGATIVE_INFINITY);
    const result: number[] = [];
    for (let position = start; position < this.ids.length && this.times[position]! <= to; position += 1) result.push(this.ids[position]!);
    return result;
  }

  /** Ids whose time is before `time`, oldest first. */
  idsBefore(time: number): number[] {
    const end = this.lowerBound(time, Number.NEGATIVE_INFINITY);
    return this.ids.slice(this.head, end);
  }

  private lowerBound(time: number, id: number): number {
    let low = this.head;
    let high = this.ids.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const middleTime = this.times[middle]!;
      if (middleTime < time || (middleTime === time && this.ids[middle]! < id)) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private compact(): void {
    if (this.head === this.ids.length) {
      this.times = [];
      this.ids = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.ids.length) {
      this.times = this.times.slice(this.head);
      this.ids = this.ids.slice(this.head);
      this.head = 0;
    }
  }
}
