// Events ordered by (wallTime, id), for time-range queries and pruning by time. Wall time mostly
// grows with ids, so appends (to the last block) and removals of the oldest (the head of the
// first block) are the common, O(1) case. Clocks of different nodes disagree, though, and an
// event stamped earlier than those stored goes in the middle: the entries are kept in blocks
// of at most `blockSize`, in order, so that such an event is spliced into one block, found by
// binary search over the blocks, at O(log n + blockSize), not into one array of all n.

/** Entries a block holds at most; a fuller one splits in two halves. */
export const DEFAULT_TIME_BLOCK_SIZE = 1024;

interface Block {
  times: number[];
  ids: number[];
}

function after(time: number, id: number, otherTime: number, otherId: number): boolean {
  return time > otherTime || (time === otherTime && id > otherId);
}

export class TimeIndex {
  private blocks: Block[] = [];
  // Entries of the first block before `head` are removed: the oldest go first, and advancing
  // past them costs nothing, where shifting them out would move the rest of the block.
  private head = 0;
  private count = 0;
  private readonly blockSize: number;
  // A block this small after a removal joins a neighbour it fits with, so that removals from
  // the middle (eviction by id when clocks disagree) do not leave many near-empty blocks.
  private readonly smallBlock: number;

  constructor(blockSize = DEFAULT_TIME_BLOCK_SIZE) {
    if (!Number.isSafeInteger(blockSize) || blockSize < 2) throw new RangeError('blockSize must be an integer of at least 2');
    this.blockSize = blockSize;
    this.smallBlock = Math.max(1, Math.floor(blockSize / 8));
  }

  get size(): number {
    return this.count;
  }

  /** Entries the blocks hold, live and removed (the first block's before `head`). */
  get span(): number {
    let entries = 0;
    for (const block of this.blocks) entries += block.ids.length;
    return entries;
  }

  insert(time: number, id: number): void {
    this.count += 1;
    const last = this.blocks[this.blocks.length - 1];
    if (last === undefined) {
      this.blocks.push({ times: [time], ids: [id] });
      return;
    }
    const end = last.ids.length - 1;
    if (after(time, id, last.times[end]!, last.ids[end]!)) {
      // In order: the last block fills up to blockSize and a new one starts, so blocks written
      // in order are full and never split.
      if (last.ids.length < this.blockSize) {
        last.times.push(time);
        last.ids.push(id);
      } else {
        this.blocks.push({ times: [time], ids: [id] });
      }
      return;
    }
    const index = this.findBlock(time, id);
    const block = this.blocks[index]!;
    const position = this.lowerBoundIn(index, time, id);
    block.times.splice(position, 0, time);
    block.ids.splice(position, 0, id);
    if (this.liveLength(index) > this.blockSize) this.split(index);
  }

  remove(time: number, id: number): void {
    const first = this.blocks[0];
    if (first === undefined) return;
    if (first.ids[this.head] === id && first.times[this.head] === time) {
      this.count -= 1;
      this.head += 1;
      if (this.head === first.ids.length) this.dropBlock(0);
      // A block that entries are spliced into while its oldest leave (all of them stamped before
      // one from a clock far ahead, which stays) never empties: past blockSize, and when the
      // removed are the larger part, they are dropped. A block written in order never grows past
      // blockSize, so this costs the common case nothing.
      else if (first.ids.length > this.blockSize && this.head * 2 > first.ids.length) this.trimHead();
      return;
    }
    const index = this.findBlock(time, id);
    const block = this.blocks[index];
    if (block === undefined) return;
    const position = this.lowerBoundIn(index, time, id);
    if (block.ids[position] !== id || block.times[position] !== time) return;
    this.count -= 1;
    block.times.splice(position, 1);
    block.ids.splice(position, 1);
    const live = this.liveLength(index);
    if (live === 0) this.dropBlock(index);
    else if (live <= this.smallBlock) this.joinSmall(index);
  }

  clear(): void {
    this.blocks = [];
    this.head = 0;
    this.count = 0;
  }

  /** The oldest entry's time, or undefined. */
  oldestTime(): number | undefined {
    return this.blocks[0]?.times[this.head];
  }

  /** The newest entry's time, or undefined. */
  newestTime(): number | undefined {
    return this.blocks[this.blocks.length - 1]?.times.at(-1);
  }

  /** Ids whose time is within [from, to], in (time, id) order. */
  idsBetween(from: number, to: number): number[] {
    const result: number[] = [];
    let index = this.findBlock(from, Number.NEGATIVE_INFINITY);
    if (index === this.blocks.length) return result;
    let position = this.lowerBoundIn(index, from, Number.NEGATIVE_INFINITY);
    for (; index < this.blocks.length; index += 1, position = 0) {
      const { times, ids } = this.blocks[index]!;
      for (; position < ids.length; position += 1) {
        if (times[position]! > to) return result;
        result.push(ids[position]!);
      }
    }
    return result;
  }

  /** Ids whose time is before `time`, oldest first. */
  idsBefore(time: number): number[] {
    const result: number[] = [];
    let position = this.head;
    for (const { times, ids } of this.blocks) {
      for (; position < ids.length; position += 1) {
        if (times[position]! >= time) return result;
        result.push(ids[position]!);
      }
      position = 0;
    }
    return result;
  }

  /** Index of the first block whose last entry is at or after (time, id); blocks.length if none. */
  private findBlock(time: number, id: number): number {
    const blocks = this.blocks;
    let low = 0;
    let high = blocks.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const { times, ids } = blocks[middle]!;
      const end = ids.length - 1;
      if (after(time, id, times[end]!, ids[end]!)) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Position in block `index` of the first live entry at or after (time, id). */
  private lowerBoundIn(index: number, time: number, id: number): number {
    const { times, ids } = this.blocks[index]!;
    let low = index === 0 ? this.head : 0;
    let high = ids.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const middleTime = times[middle]!;
      if (middleTime < time || (middleTime === time && ids[middle]! < id)) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private liveLength(index: number): number {
    return this.blocks[index]!.ids.length - (index === 0 ? this.head : 0);
  }

  /** Drops the removed head of the first block, so that it can be split or joined as a whole. */
  private trimHead(): void {
    if (this.head === 0) return;
    const first = this.blocks[0]!;
    first.times = first.times.slice(this.head);
    first.ids = first.ids.slice(this.head);
    this.head = 0;
  }

  private dropBlock(index: number): void {
    this.blocks.splice(index, 1);
    if (index === 0) this.head = 0;
  }

  private split(index: number): void {
    if (index === 0) this.trimHead();
    const block = this.blocks[index]!;
    const half = block.ids.length >>> 1;
    const upper: Block = { times: block.times.slice(half), ids: block.ids.slice(half) };
    block.times.length = half;
    block.ids.length = half;
    this.blocks.splice(index + 1, 0, upper);
  }

  /** Joins the small block `index` with its next or previous neighbour when they fit in one. */
  private joinSmall(index: number): void {
    const live = this.liveLength(index);
    let lower: number;
    if (index + 1 < this.blocks.length && live + this.liveLength(index + 1) <= this.blockSize) lower = index;
    else if (index > 0 && live + this.liveLength(index - 1) <= this.blockSize) lower = index - 1;
    else return;
    if (lower === 0) this.trimHead();
    const into = this.blocks[lower]!;
    const from = this.blocks[lower + 1]!;
    for (let position = 0; position < from.ids.length; position += 1) {
      into.times.push(from.times[position]!);
      into.ids.push(from.ids[position]!);
    }
    this.blocks.splice(lower + 1, 1);
  }
}
