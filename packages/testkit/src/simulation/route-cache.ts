// The send path's lookup from (sender index, peer id) to the peer's index and the link's id.
// Without it a send resolves the id in a Map of every node (the id's string, a bucket and an
// entry: up to three cache misses at 10,000 nodes) and then probes the link table (another).
// Here one probe of a 32-byte entry, keyed by the sender and a hash of the id's characters (which
// sit next to the string's header, so reading them costs what reading V8's cached hash would),
// yields both. An entry is confirmed by comparing the id with the node's own: equal hashes of
// different ids cost another probe, never a wrong answer. The entry also holds the link's latest
// arrival time (the FIFO bound), the one field of the link a send must read, so a send need not
// touch the link's record at all.
import { mix32 } from '@foundation/core';

/**
 * Entry fields: the key, (sender index + 1) · 2^32 + the peer id's hash as unsigned (0: empty);
 * the peer's index; the link's id; the latest arrival on the link. 32 bytes an entry.
 */
const FIELDS = 4;
const TO = 1;
const LINK = 2;
const LAST_ARRIVAL = 3;
const KEY_SHIFT = 2 ** 32;
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
  return h >>> 0;
}

/** Start of the probe for a key (Math.imul truncates key / 2^32 to the sender index + 1). */
function home(key: number, hash: number, mask: number): number {
  return mix32(hash ^ Math.imul(key / KEY_SHIFT, 0x9e37_79b1)) & mask;
}

export class RouteCache {
  private entries = new Float64Array(FIELDS * 4096);
  private mask = 4096 - 1;
  private count = 0;
  /** Changes whenever entries move, which invalidates entry numbers held across a call. */
  generation = 0;
  /** After lookup() found an entry: the peer's index and the link's id. */
  to = 0;
  link = 0;

  /**
   * Finds the route from `from` to the node whose id is `peer` (`ids` lists ids by node index):
   * the entry's number, or -1 when it was never added. `peer` must be a string.
   */
  lookup(from: number, peer: string, ids: readonly string[]): number {
    const hash = hashId(peer);
    const entries = this.entries;
    const mask = this.mask;
    const key = (from + 1) * KEY_SHIFT + hash;
    let slot = home(key, hash, mask);
    for (;;) {
      const base = FIELDS * slot;
      const stored = entries[base]!;
      if (stored === 0) return -1;
      if (stored === key) {
        const to = entries[base + TO]! | 0;
        if (ids[to] === peer) {
          this.to = to;
          this.link = entries[base + LINK]! | 0;
          return slot;
        }
      }
      slot = (slot + 1) & mask;
    }
  }

  /** Adds the route from `from` to `to` (whose id is `peer`), which lookup() missed; returns its entry. */
  add(from: number, peer: string, to: number, link: number): number {
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    this.count += 1;
    const hash = hashId(peer);
    const slot = this.place(this.entries, this.mask, (from + 1) * KEY_SHIFT + hash, hash);
    const base = FIELDS * slot;
    this.entries[base + TO] = to;
    this.entries[base + LINK] = link;
    this.entries[base + LAST_ARRIVAL] = 0;
    return slot;
  }

  /** The latest arrival time scheduled on an entry's link (0 before any). */
  lastArrival(slot: number): number {
    return this.entries[FIELDS * slot + LAST_ARRIVAL]!;
  }

  setLastArrival(slot: number, time: number): void {
    this.entries[FIELDS * slot + LAST_ARRIVAL] = time;
  }

  /** Claims the free slot for `key` in `entries`, writing the key; the caller fills the rest. */
  private place(entries: Float64Array, mask: number, key: number, hash: number): number {
    let slot = home(key, hash, mask);
    while (entries[FIELDS * slot] !== 0) slot = (slot + 1) & mask;
    entries[FIELDS * slot] = key;
    return slot;
  }

  private grow(): void {
    const old = this.entries;
    const capacity = (this.mask + 1) * 2;
    const entries = new Float64Array(FIELDS * capacity);
    const mask = capacity - 1;
    for (let base = 0; base < old.length; base += FIELDS) {
      const key = old[base]!;
      if (key === 0) continue;
      const target = FIELDS * this.place(entries, mask, key, key % KEY_SHIFT);
      entries[target + TO] = old[base + TO]!;
      entries[target + LINK] = old[base + LINK]!;
      entries[target + LAST_ARRIVAL] = old[base + LAST_ARRIVAL]!;
    }
    this.entries = entries;
    this.mask = mask;
    this.generation += 1;
  }
}
