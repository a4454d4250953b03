// A bounded set of peer ids with cheap membership, removal and uniform random choice: the shape
// of HyParView's active and passive views. Removal swaps the last element into the hole, so
// iteration order depends only on the sequence of operations (deterministic under a seed).
// Views of up to SCAN_CAPACITY peers find a peer by scanning the array instead of keeping an
// index: the index (a Map) was the largest per-node structure of a 3,000-node simulation. A scan
// of 30 ids costs about what a hash lookup does when the ids are internalized strings (as the
// simulation's are: different ones compare unequal at once), and a few percent of a simulated
// node's CPU more when they are not.
import type { Random } from '@foundation/core';

const SCAN_CAPACITY = 32;

export class PeerSet {
  private readonly items: string[] = [];
  /** Positions in `items`, only for capacities above SCAN_CAPACITY. */
  private readonly positions: Map<string, number> | undefined;

  constructor(readonly capacity: number) {
    this.positions = capacity > SCAN_CAPACITY ? new Map() : undefined;
  }

  get size(): number {
    return this.items.length;
  }

  isFull(): boolean {
    return this.items.length >= this.capacity;
  }

  has(peer: string): boolean {
    return this.positions === undefined ? this.items.includes(peer) : this.positions.has(peer);
  }

  /** Adds `peer` if absent; the caller makes room first (the set never grows past `capacity`). */
  add(peer: string): boolean {
    if (this.items.length >= this.capacity || this.has(peer)) return false;
    this.addNew(peer);
    return true;
  }

  /** `add` for a peer the caller just found absent, in a set it made room in: no second scan. */
  addNew(peer: string): void {
    this.positions?.set(peer, this.items.length);
    this.items.push(peer);
  }

  delete(peer: string): boolean {
    const position = this.positions === undefined ? this.items.indexOf(peer) : (this.positions.get(peer) ?? -1);
    if (position < 0) return false;
    const last = this.items.pop()!;
    this.positions?.delete(peer);
    if (position < this.items.length) {
      this.items[position] = last;
      this.positions?.set(last, position);
    }
    return true;
  }

  clear(): void {
    this.items.length = 0;
    this.positions?.clear();
  }

  /** A uniformly chosen member other than those in `exclude`, or undefined when there is none. */
  random(random: Random, exclude?: string, alsoExclude?: string): string | undefined {
    const items = this.items;
    const excluded = (exclude !== undefined && this.has(exclude) ? 1 : 0) + (alsoExclude !== undefined && alsoExclude !== exclude && this.has(alsoExclude) ? 1 : 0);
    const available = items.length - excluded;
    if (available <= 0) return undefined;
    let skip = random.int(0, available);
    for (const item of items) {
      if (item === exclude || item === alsoExclude) continue;
      if (skip === 0) return item;
      skip -= 1;
    }
    return undefined;
  }

  /** Up to `count` distinct members, uniformly chosen, excluding `exclude`. */
  sample(random: Random, count: number, exclude?: string): string[] {
    const items = this.items;
    if (count <= 0 || items.length === 0) return [];
    const excluded = exclude !== undefined && this.has(exclude) ? 1 : 0;
    const available = items.length - excluded;
    if (available <= 0) return [];
    if (count * 2 >= available) {
      const pool = excluded === 0 ? items : items.filter((item) => item !== exclude);
      return random.sample(pool, count);
    }
    // Few out of many: draw positions until enough distinct ones (no copy of the set).
    const result: string[] = [];
    while (result.length < count) {
      const item = items[random.int(0, items.length)]!;
      if (item !== exclude && !result.includes(item)) result.push(item);
    }
    return result;
  }

  toArray(): string[] {
    return this.items.slice();
  }

  values(): readonly string[] {
    return this.items;
  }
}
