// The storage port: what an event store needs from where events live. Two implementations ship
// (memory, SQLite); both pass the same conformance suite (test/storage-conformance.test.ts).
// Calls are synchronous: both implementations are (better-sqlite3 is a synchronous driver),
// and a synchronous port keeps `store` atomic with respect to every other call.
import type { FoundationEvent } from '../event';
import type { NormalizedEventQuery } from '../query';

export interface EventStorage {
  /** `memory`, `sqlite`... for stats. */
  readonly kind: string;
  /**
   * Stores every event or none (atomic). The array is the caller's and may be reused after the
   * call returns: keep the events, not the array. Throws EventDuplicateError when an id is already
   * stored or repeats within the batch, EventStorageFullError when a bounded storage refuses,
   * EventStorageError when the medium fails. Returns how many older events were evicted to
   * make room (bounded storages only).
   */
  append(events: readonly FoundationEvent[]): number;
  get(id: number): FoundationEvent | undefined;
  query(query: NormalizedEventQuery): FoundationEvent[];
  /** Every event of a correlation id, sorted by timestamp, then id. */
  byCorrelation(correlationId: string): FoundationEvent[];
  /** The `limit` events with the highest ids, highest first. */
  recent(limit: number): FoundationEvent[];
  /** Deletes the events whose `wallTime` is before `wallTime`; returns how many. */
  pruneBefore(wallTime: number): number;
  count(): number;
  /**
   * The highest id ever stored or reserved here, even if since pruned or evicted (durable
   * storages remember it across reopening), 0 when none: a store hands out ids above it, so
   * never one twice.
   */
  maxId(): number;
  /**
   * Records that the ids up to `through` are taken (handed out by a store, whether or not their
   * events are ever stored): `maxId()` reports at least `through` from then on. A durable storage
   * records it durably before returning, so ids handed out before a failed append or a crash are
   * not handed out again after reopening. Stores that share one storage go on above each other's
   * reservations, so without it they can hand out the same ids: implement it even when nothing
   * is kept across reopening (the memory storage does).
   */
  reserveIds?(through: number): void;
  /** The highest timestamp ever stored here (durable storages remember it across reopening), 0 when empty. */
  maxTimestamp(): number;
  /** An estimate of the memory (or disk) the events take, in bytes. */
  sizeBytes(): number;
  close(): void;
}
