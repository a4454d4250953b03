// The log as the core sees it: a stable prefix (held by LogStorage, already durable) followed by
// an unstable suffix (appended, not yet persisted), plus the commit and apply positions. A
// snapshot received from the leader is unstable until the driver persists it.
import { CompactedError } from '../errors/compacted-error';
import { entrySize } from './log-storage';
import type { LogStorage } from './log-storage';
import type { Entry, Snapshot } from './types';

export class RaftLog {
  /** Entries not yet persisted; unstable[0] has index `offset`. */
  private unstable: Entry[] = [];
  private offset: number;
  private unstableSnapshot: Snapshot | null = null;
  committed: number;
  /** Highest index the state machine has applied (reported through advance). */
  applied: number;
  /** Highest index handed out for applying and not yet reported applied. */
  applying: number;

  constructor(readonly storage: LogStorage) {
    this.offset = storage.lastIndex() + 1;
    this.committed = storage.firstIndex() - 1;
    this.applied = this.committed;
    this.applying = this.committed;
  }

  firstIndex(): number {
    if (this.unstableSnapshot !== null) return this.unstableSnapshot.meta.index + 1;
    return this.storage.firstIndex();
  }

  lastIndex(): number {
    if (this.unstable.length > 0) return this.offset + this.unstable.length - 1;
    if (this.unstableSnapshot !== null) return this.unstableSnapshot.meta.index;
    return this.storage.lastIndex();
  }

  /** Term of entry `index`, or null when it is compacted or past the end. */
  term(index: number): number | null {
    if (index > this.lastIndex()) return null;
    if (this.unstableSnapshot !== null && index === this.unstableSnapshot.meta.index) return this.unstableSnapshot.meta.term;
    if (index >= this.offset) return this.unstable[index - this.offset]!.term;
    if (this.unstableSnapshot !== null && index < this.unstableSnapshot.meta.index) return null;
    if (index < this.storage.firstIndex() - 1) return null;
    try {
      return this.storage.term(index);
    } catch (error) {
      if (error instanceof CompactedError) return null;
      throw error;
    }
  }

  /** The last index known durable: a lower bound, 0 while a received snapshot is unpersisted. */
  persistedLastIndex(): number {
    if (this.unstableSnapshot !== null) return 0;
    return this.unstable.length > 0 ? this.offset - 1 : this.lastIndex();
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /**
   * §5.4.1: a candidate's log is at least as up-to-date as ours if its last term is higher, or
   * the same with an index at least as high.
   */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries [low, high) within maxBytes (at least one); null when `low` is compacted. */
  slice(low: number, high: number, maxBytes: number): Entry[] | null {
    if (low >= high) return [];
    if (low < this.firstIndex()) return null;
    const result: Entry[] = [];
    let bytes = 0;
    if (low < this.offset) {
      const stableHigh = Math.min(high, this.offset);
      let stable: Entry[];
      try {
        stable = this.storage.entries(low, stableHigh, maxBytes);
      } catch (error) {
        if (error instanceof CompactedError) return null;
        throw error;
      }
      for (const entry of stable) {
        bytes += entrySize(entry);
        result.push(entry);
      }
      if (stable.length < stableHigh - low) return result;
    }
    for (let index = Math.max(low, this.offset); index < high; index += 1) {
      const entry = this.unstable[index - this.offset]!;
      bytes += entrySize(entry);
      if (result.length > 0 && bytes > maxBytes) break;
      result.push(entry);
    }
    return result;
  }

  /** Appends entries from this node's own proposals (the leader); returns the new last index. */
  append(entries: readonly Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    const first = entries[0]!.index;
    if (first - 1 < this.committed) throw new RangeError(`appending at ${first} would overwrite committed entry ${this.committed}`);
    this.truncateAndAppend(entries);
    return this.lastIndex();
  }

  private truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0]!.index;
    if (first === this.offset + this.unstable.length) {
      for (const entry of entries) this.unstable.push(entry);
    } else if (first <= this.offset) {
      // Replaces everything unstable and part of the stable log: the stable part is truncated
      // when the driver persists these entries (the storage replaces a conflicting suffix).
      this.offset = first;
      this.unstable = [...entries];
    } else {
      this.unstable = this.unstable.slice(0, first - this.offset);
      for (const entry of entries) this.unstable.push(entry);
    }
  }

  /**
   * AppendEntries receiver, Figure 2 rules 3–5: if prevIndex/prevTerm match, delete conflicting
   * entries, append new ones, and advance the commit index to min(leaderCommit, index of the
   * last new entry). Returns the last new index, or null when prevIndex/prevTerm do not match.
   */
  maybeAppend(prevIndex: number, prevTerm: number, leaderCommit: number, entries: readonly Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      if (conflict <= this.committed) throw new RangeError(`entry ${conflict} conflicts with committed entry ${this.committed}`);
      this.truncateAndAppend(entries.slice(conflict - (prevIndex + 1)));
    }
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  /** The first index among `entries` whose term differs from ours, or that we lack; 0 if none. */
  private findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * For a rejected append: the largest index ≤ `index` whose term is ≤ `term`, so the leader
   * can skip a whole conflicting term at once (§5.3's optimisation).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let at = Math.min(index, this.lastIndex());
    for (;;) {
      const ourTerm = this.term(at);
      if (ourTerm === null) return { index: at, term: 0 };
      if (ourTerm <= term) return { index: at, term: ourTerm };
      at -= 1;
    }
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) throw new RangeError(`commit ${index} is past the last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Committed entries not yet handed out for applying, within maxBytes. */
  nextCommitted(maxBytes: number): Entry[] {
    const low = Math.max(this.applying, this.firstIndex() - 1) + 1;
    if (low > this.committed) return [];
    return this.slice(low, this.committed + 1, maxBytes) ?? [];
  }

  hasNextCommitted(): boolean {
    return Math.max(this.applying, this.firstIndex() - 1) < this.committed;
  }

  appliedTo(index: number): void {
    if (index > this.applied) this.applied = index;
    if (index > this.applying) this.applying = index;
  }

  unstableEntries(): readonly Entry[] {
    return this.unstable;
  }

  pendingSnapshot(): Snapshot | null {
    return this.unstableSnapshot;
  }

  /** The driver persisted entries up to (index, term); they leave the unstable suffix. */
  stableTo(index: number, term: number): void {
    if (index < this.offset) return;
    const position = index - this.offset;
    if (position >= this.unstable.length || this.unstable[position]!.term !== term) return;
    this.unstable = this.unstable.slice(position + 1);
    this.offset = index + 1;
  }

  stableSnapshotTo(index: number): void {
    if (this.unstableSnapshot !== null && this.unstableSnapshot.meta.index === index) this.unstableSnapshot = null;
  }

  /** Replaces the log with a snapshot from the leader (InstallSnapshot rules 6–8). */
  restore(snapshot: Snapshot): void {
    this.committed = snapshot.meta.index;
    this.unstable = [];
    this.offset = snapshot.meta.index + 1;
    this.unstableSnapshot = snapshot;
    // The state machine will be replaced by the snapshot, so it counts as applied.
    this.applied = snapshot.meta.index;
    this.applying = snapshot.meta.index;
  }
}
