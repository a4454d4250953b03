// The stable part of the log as the core reads it, and an in-memory implementation. The driver
// keeps a MemoryStorage in step with what it has made durable (the write-ahead log and snapshot
// files), so the core never waits on I/O to read its own log.
import { CompactedError } from '../errors/compacted-error';
import type { Entry, HardState, Membership, Snapshot, SnapshotMeta } from './types';

export interface LogStorage {
  /** Index of the first entry still held (the snapshot index + 1). */
  firstIndex(): number;
  /** Index of the last entry (the snapshot index when the log is empty). */
  lastIndex(): number;
  /** Term of entry `index`; throws CompactedError below the snapshot, RangeError past the end. */
  term(index: number): number;
  /** Entries [low, high), at least one, then as many as fit in `maxBytes`. */
  entries(low: number, high: number, maxBytes: number): Entry[];
  /** The latest snapshot, or null when none was taken yet. */
  snapshot(): Snapshot | null;
}

/** Approximate size of an entry on the wire, for batching. */
export function entrySize(entry: Entry): number {
  return 24 + (entry.kind === 'normal' ? entry.data.byteLength : 32);
}

const EMPTY: Membership = Object.freeze({ voters: [], learners: [] });

export class MemoryStorage implements LogStorage {
  private meta: SnapshotMeta;
  private snapshotData: Uint8Array | null = null;
  /** entries[0] is a placeholder standing for the snapshot point; real entries follow it. */
  private log: Entry[];
  hardState: HardState = { term: 0, vote: null, commit: 0 };

  constructor(membership: Membership = EMPTY) {
    this.meta = { index: 0, term: 0, membership };
    this.log = [{ kind: 'normal', index: 0, term: 0, data: new Uint8Array(0) }];
  }

  /** The membership recorded with the snapshot (the starting membership before any snapshot). */
  snapshotMembership(): Membership {
    return this.meta.membership;
  }

  firstIndex(): number {
    return this.meta.index + 1;
  }

  lastIndex(): number {
    return this.meta.index + this.log.length - 1;
  }

  term(index: number): number {
    if (index < this.meta.index) throw new CompactedError(index, this.meta.index);
    if (index === this.meta.index) return this.meta.term;
    const entry = this.log[index - this.meta.index];
    if (entry === undefined) throw new RangeError(`entry ${index} is past the end of the log (${this.lastIndex()})`);
    return entry.term;
  }

  entries(low: number, high: number, maxBytes: number): Entry[] {
    if (low <= this.meta.index) throw new CompactedError(low, this.meta.index);
    if (high > this.lastIndex() + 1) throw new RangeError(`entries [${low}, ${high}) reach past the end of the log (${this.lastIndex()})`);
    const result: Entry[] = [];
    let bytes = 0;
    for (let index = low; index < high; index += 1) {
      const entry = this.log[index - this.meta.index]!;
      bytes += entrySize(entry);
      if (result.length > 0 && bytes > maxBytes) break;
      result.push(entry);
    }
    return result;
  }

  snapshot(): Snapshot | null {
    return this.snapshotData === null ? null : { meta: this.meta, data: this.snapshotData };
  }

  /** Appends entries made durable, replacing any conflicting suffix. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    if (first <= this.meta.index) {
      // Entries the snapshot already covers are dropped.
      const skip = this.meta.index + 1 - first;
      if (skip >= entries.length) return;
      entries = entries.slice(skip);
    }
    const start = entries[0]!.index;
    if (start > this.lastIndex() + 1) throw new RangeError(`appending at ${start} would leave a gap after ${this.lastIndex()}`);
    this.log.length = start - this.meta.index;
    for (const entry of entries) this.log.push(entry);
  }

  /** Replaces the whole log by a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.meta.index < this.meta.index) return;
    this.meta = snapshot.meta;
    this.snapshotData = snapshot.data;
    this.log = [{ kind: 'normal', index: snapshot.meta.index, term: snapshot.meta.term, data: new Uint8Array(0) }];
  }

  /**
   * Records a snapshot of the local state machine at `index` (which must be applied) and drops
   * the entries it covers.
   */
  createSnapshot(index: number, membership: Membership, data: Uint8Array): Snapshot {
    if (index <= this.meta.index) throw new CompactedError(index, this.meta.index);
    if (index > this.lastIndex()) throw new RangeError(`snapshot index ${index} is past the end of the log (${this.lastIndex()})`);
    const term = this.term(index);
    this.log = this.log.slice(index - this.meta.index);
    this.log[0] = { kind: 'normal', index, term, data: new Uint8Array(0) };
    this.meta = { index, term, membership };
    this.snapshotData = data;
    return { meta: this.meta, data };
  }
}
