// The send path's lookup from (sender index, peer id) to the peer's index and the link's id.
// Without it a send resolves the id in a Map of every node (the id's string, a bucket and an
// entry: three cache misses at 10,000 nodes) and then probes the link table (a fourth). Here
// one probe of a 16-byte entry, keyed by the sender and a hash of the id's characters (which
// sit next to the string's header, so reading them costs what reading V8's cached hash would),
// yields both. An entry is confirmed by comparing the id with the node's own: equal hashes of
// different ids cost another probe, never a wrong answer.
import { mix32 } from '@foundation/core';

/** Entry fields: sender index + 1 (0: empty), hash of the peer id, peer index, link id. */
const FIELDS = 4;
/** Characters hashed from each end of a long id; ids up to twice this are hashed whole. */
const ENDS = 16;

function hashId(id: string): number {
  const length = id.length;
  let h = length | 0;
  if (length <= 2 * ENDS) {
    for (let index = 0; index < length; index += 1) h = Math.imul(h ^ id.charCodeAt(index), 0x0100_0193);
  } else {
    for (let index = 0; index < ENDS; index += 1) h = Math.imul(h ^ id.charCodeAt(index), 0x0100_0193);
    for (let index = length - ENDS; index < length; index += 1) h = Math.imul(h ^ id.charCodeAt(index), 0x0100_0193);
  }
  return h;
}

export class RouteCache {
  private entries = new Int32Array(FIELDS * 4096);
  private mask = 4096 - 1;
  private count = 0;
  /** After lookup() returned true: the peer's index and the link's id. */
  to = 0;
  link = 0;

  /**
   * Finds the route from `from` to the node whose id is `peer` (`ids` lists ids by node index).
   * False when it was never added; `peer` must be a string.
   */
  lookup(from: number, peer: string, ids: readonly string[]): boolean {
    const hash = hashId(peer);
    const entries = this.entries;
    const mask = this.mask;
    const key = from + 1;
    let slot = mix32(hash ^ Math.imul(key, 0x9e37_79b1)) & mask;
    for (;;) {
      const base = FIELDS * slot;
      const stored = entries[base]!;
      if (stored === 0) return false;
      if (stored === key && entries[base + 1] === hash) {
        const to = entries[base + 2]!;
        if (ids[to] === peer) {
          this.to = to;
          this.link = entries[base + 3]!;
          return true;
        }
      }
      slot = (slot + 1) & mask;
    }
  }

  /** Adds the route from `from` to `to` (whose id is `peer`); lookup() must have missed it. */
  add(from: number, peer: string, to: number, link: number): void {
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    this.place(this.entries, this.mask, from + 1, hashId(peer), to, link);
    this.count += 1;
  }

  private place(entries: Int32Array, mask: number, key: number, hash: number, to: number, link: number): void {
    let slot = mix32(hash ^ Math.imul(key, 0x9e37_79b1)) & mask;
    while (entries[FIELDS * slot] !== 0) slot = (slot + 1) & mask;
    const base = FIELDS * slot;
    entries[base] = key;
    entries[base + 1] = hash;
    entries[base + 2] = to;
    entries[base + 3] = link;
  }

  private grow(): void {
    const old = this.entries;
    const capacity = (this.mask + 1) * 2;
    const entries = new Int32Array(FIELDS * capacity);
    const mask = capacity - 1;
    for (let base = 0; base < old.length; base += FIELDS) {
      if (old[base] === 0) continue;
      this.place(entries, mask, old[base]!, old[base + 1]!, old[base + 2]!, old[base + 3]!);
    }
    this.entries = entries;
    this.mask = mask;
  }
}
