// Per-link state (FIFO bound and counters) for every directed pair of nodes that has talked.
// A 10,000-node simulation can have hundreds of thousands of links, one of them touched on
// every send and every delivery, at random: the cost is cache misses, not arithmetic. So the
// table is an open-addressing hash over one Int32Array of (key, id) pairs, and each link's
// fields sit together in one Float64Array record, two cache lines per access in all.
import { mix32 } from '@foundation/core';
import type { LinkStats } from './types';

const FIELDS = 5;
const SENT = 0;
const DELIVERED = 1;
const DROPPED = 2;
const DUPLICATED = 3;
const BYTES = 4;

export const LINK_FIELD = Object.freeze({ SENT, DELIVERED, DROPPED, DUPLICATED, BYTES });

/** Deliveries (and sends) counted per flush of their log (32 KiB of link ids). */
const LOG_SIZE = 8192;

export class LinkTable {
  /** Pairs (key + 1, id); key + 1 = 0 marks an empty slot. */
  private slots = new Int32Array(2 * 4096);
  private mask = 4096 - 1;
  private count = 0;
  /** FIELDS numbers per link, by link id. */
  data = new Float64Array(FIELDS * 1024);
  private readonly stride: number;
  /**
   * Links of deliveries not yet added to their DELIVERED counters. A delivery would otherwise
   * miss the cache on its link's record once more, in the middle of a chain of dependent loads;
   * added up in a tight loop, the misses of thousands of independent increments overlap.
   */
  private readonly deliveredLog = new Int32Array(LOG_SIZE);
  private logged = 0;
  /** Likewise the sends not yet added to SENT and BYTES: their links and sizes. */
  private readonly sentLog = new Int32Array(LOG_SIZE);
  private readonly sentSizes = new Float64Array(LOG_SIZE);
  private sentLogged = 0;

  /** @param maxNodes bound on node indexes; keys are from · maxNodes + to and must stay below 2^31. */
  constructor(maxNodes: number) {
    if (maxNodes * maxNodes >= 2 ** 31) throw new RangeError('maxNodes² must stay below 2^31');
    this.stride = maxNodes;
  }

  /** The id of the link from → to, creating it on first use. */
  id(from: number, to: number): number {
    const key = from * this.stride + to + 1;
    const slots = this.slots;
    const mask = this.mask;
    let slot = mix32(key) & mask;
    for (;;) {
      const stored = slots[2 * slot]!;
      if (stored === key) return slots[2 * slot + 1]!;
      if (stored === 0) break;
      slot = (slot + 1) & mask;
    }
    const id = this.count++;
    slots[2 * slot] = key;
    slots[2 * slot + 1] = id;
    if ((id + 1) * FIELDS > this.data.length) {
      const data = new Float64Array(this.data.length * 2);
      data.set(this.data);
      this.data = data;
    }
    if (this.count * 2 > mask + 1) this.rehash();
    return id;
  }

  /** The id of the link from → to, or -1 when it never carried anything. */
  find(from: number, to: number): number {
    const key = from * this.stride + to + 1;
    let slot = mix32(key) & this.mask;
    for (;;) {
      const stored = this.slots[2 * slot]!;
      if (stored === key) return this.slots[2 * slot + 1]!;
      if (stored === 0) return -1;
      slot = (slot + 1) & this.mask;
    }
  }

  /** Counts one delivery on link `id`; the counter catches up before anyone reads it. */
  countDelivery(id: number): void {
    this.deliveredLog[this.logged++] = id;
    if (this.logged === LOG_SIZE) this.flush();
  }

  /** Counts one send of `size` bytes on link `id`, as countDelivery does. */
  countSend(id: number, size: number): void {
    const at = this.sentLogged++;
    this.sentLog[at] = id;
    this.sentSizes[at] = size;
    if (this.sentLogged === LOG_SIZE) this.flush();
  }

  private flush(): void {
    const log = this.deliveredLog;
    const data = this.data;
    for (let index = 0; index < this.logged; index += 1) data[log[index]! * FIELDS + DELIVERED]! += 1;
    this.logged = 0;
    const sent = this.sentLog;
    const sizes = this.sentSizes;
    for (let index = 0; index < this.sentLogged; index += 1) {
      const base = sent[index]! * FIELDS;
      data[base + SENT]! += 1;
      data[base + BYTES]! += sizes[index]!;
    }
    this.sentLogged = 0;
  }

  add(id: number, field: number, amount: number): void {
    this.data[id * FIELDS + field]! += amount;
  }

  get(id: number, field: number): number {
    if (field === DELIVERED || field === SENT || field === BYTES) this.flush();
    return this.data[id * FIELDS + field]!;
  }

  set(id: number, field: number, value: number): void {
    this.data[id * FIELDS + field] = value;
  }

  stats(id: number): LinkStats {
    if (id < 0) return { sent: 0, delivered: 0, dropped: 0, duplicated: 0, bytes: 0 };
    this.flush();
    const base = id * FIELDS;
    const data = this.data;
    return {
      sent: data[base + SENT]!,
      delivered: data[base + DELIVERED]!,
      dropped: data[base + DROPPED]!,
      duplicated: data[base + DUPLICATED]!,
      bytes: data[base + BYTES]!,
    };
  }

  private rehash(): void {
    const old = this.slots;
    const capacity = (this.mask + 1) * 2;
    this.slots = new Int32Array(2 * capacity);
    this.mask = capacity - 1;
    for (let slot = 0; slot < old.length; slot += 2) {
      const key = old[slot]!;
      if (key === 0) continue;
      let target = mix32(key) & this.mask;
      while (this.slots[2 * target] !== 0) target = (target + 1) & this.mask;
      this.slots[2 * target] = key;
      this.slots[2 * target + 1] = old[slot + 1]!;
    }
  }
}
