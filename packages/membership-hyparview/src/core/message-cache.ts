// A cache of entries keyed by message id, bounded by count, by age and (optionally) by the sum of
// a weight per entry (the payload store weighs payloads in bytes). Entries carry the time they
// were added (`at`) and are kept in arrival order (a Map iterates in insertion order), so the
// oldest are evicted from the head.

export interface Timed {
  readonly at: number;
}

export class MessageCache<V extends Timed> {
  private readonly entries = new Map<string, V>();
  /** The sum of `weigh` over the entries held. */
  private held = 0;

  /**
   * `maxWeight` bounds the sum of `weigh(entry)` over the entries (Infinity: no bound, and
   * nothing is weighed). `weigh` is called once per entry added and once per entry removed, so it
   * must give the same figure for the same entry.
   */
  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly maxWeight: number = Number.POSITIVE_INFINITY,
    private readonly weigh?: (entry: V) => number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The sum of the entries' weights (0 without a weight bound). */
  get weight(): number {
    return this.held;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  get(id: string): V | undefined {
    return this.entries.get(id);
  }

  /**
   * Adds (or replaces) an entry, evicting the oldest beyond the bounds; false when the entry
   * alone weighs more than the weight bound (it is then not kept, and nothing is evicted for it).
   * Entries must be added in time order.
   */
  set(id: string, entry: V): boolean {
    if (this.maxEntries === 0) return false;
    const weight = this.weightOf(entry);
    if (weight > this.maxWeight) {
      this.delete(id);
      return false;
    }
    this.delete(id);
    this.entries.set(id, entry);
    this.held += weight;
    while (this.entries.size > this.maxEntries || this.held > this.maxWeight) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.delete(oldest.value);
    }
    return true;
  }

  delete(id: string): boolean {
    if (this.weigh === undefined) return this.entries.delete(id);
    const entry = this.entries.get(id);
    if (entry === undefined) return false;
    this.entries.delete(id);
    this.held -= this.weightOf(entry);
    return true;
  }

  private weightOf(entry: V): number {
    return this.weigh === undefined ? 0 : this.weigh(entry);
  }

  /** Drops entries older than the time to live; returns how many. */
  expire(now: number): number {
    let removed = 0;
    for (const [id, entry] of this.entries) {
      if (now - entry.at < this.ttlMs) break;
      this.entries.delete(id);
      this.held -= this.weightOf(entry);
      removed += 1;
    }
    return removed;
  }

  /** The time the oldest entry expires, or Infinity when empty. */
  nextExpiry(): number {
    const oldest = this.entries.values().next();
    return oldest.done === true ? Number.POSITIVE_INFINITY : oldest.value.at + this.ttlMs;
  }

  /** Entries added at or after `since`, newest first, at most `limit`. */
  recent(since: number, limit: number): { id: string; entry: V }[] {
    const result: { id: string; entry: V }[] = [];
    const all = [...this.entries];
    for (let index = all.length - 1; index >= 0 && result.length < limit; index -= 1) {
      const [id, entry] = all[index]!;
      if (entry.at < since) break;
      result.push({ id, entry });
    }
    return result;
  }

  clear(): void {
    this.entries.clear();
    this.held = 0;
  }
}
