// A cache of entries keyed by message id, bounded by count and by age. Entries carry the time they
// were added (`at`) and are kept in arrival order (a Map iterates in insertion order), so the
// oldest are evicted from the head.

export interface Timed {
  readonly at: number;
}

export class MessageCache<V extends Timed> {
  private readonly entries = new Map<string, V>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  get(id: string): V | undefined {
    return this.entries.get(id);
  }

  /** Adds (or replaces) an entry, evicting the oldest beyond the bound. Entries must be added in time order. */
  set(id: string, entry: V): void {
    if (this.maxEntries === 0) return;
    this.entries.delete(id);
    this.entries.set(id, entry);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }

  delete(id: string): boolean {
    return this.entries.delete(id);
  }

  /** Drops entries older than the time to live; returns how many. */
  expire(now: number): number {
    let removed = 0;
    for (const [id, entry] of this.entries) {
      if (now - entry.at < this.ttlMs) break;
      this.entries.delete(id);
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
  }
}
