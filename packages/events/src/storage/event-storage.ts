// The storage port: what an event store needs from where events live. Two implementations ship
// (memory, SQLite); both pass the same conformance suite (test/storage-conformance.test.ts).
// Calls are synchronous: both implementations are (better-sqlite3 is a synchronous driver),
// and a synchronous port keeps `store` atomic with respect to every other call.
import type { FoundationEvent } from '../event';
import type { EventDataCorruptionError } from '../errors/event-data-corruption-error';
import type { NormalizedEventQuery } from '../query';
import type { QueryPosition } from '../query-cursor';

/** An event with its place in the order of storage (`queryStored`). */
export interface StoredEvent {
  readonly event: FoundationEvent;
  /** The storage's sequence number for it: see `queryStored`. */
  readonly sequence: number;
}

/** A page read past the rows that do not decode (`querySkippingCorrupt`). */
export interface SkippingAnswer {
  /** The events that decoded, in the query's order. */
  readonly events: FoundationEvent[];
  /** In the order of storage only: each event's sequence number, in step with `events`. */
  readonly sequences?: number[] | undefined;
  /** The rows left out, each as the error a read of it throws (naming its id and, in the order of storage, its number). */
  readonly skipped: EventDataCorruptionError[];
  /**
   * The place, in the query's order, of the last row read, decoded or left out: the next page
   * starts after it. undefined when no row was read.
   */
  readonly last: QueryPosition | undefined;
}

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
  /** Never called with `orderBy: 'stored'`: that goes to `queryStored`. */
  query(query: NormalizedEventQuery): FoundationEvent[];
  /**
   * The query in the order events were stored in (`orderBy: 'stored'`), each with its sequence
   * number: a positive safe integer the storage gives each event as it stores it, increasing in
   * commit order across every writer of the storage (stores sharing it, connections to its
   * file), never given twice (the highest is remembered through pruning, eviction and
   * reopening), so that an event committed after a reader's snapshot always has a higher number
   * than every event in it. `query.after`, when given, is a position of this order (its
   * `sequence`). Optional: a store refuses the order (EventStorageError, 5503) on a storage
   * without it, rather than page by another order and miss events.
   */
  queryStored?(query: NormalizedEventQuery): StoredEvent[];
  /**
   * The query (any order, `stored` included), leaving out the rows that do not decode
   * (EventDataCorruptionError) instead of failing on the first: each is listed in `skipped`, and
   * `last` is past it, so that a reader paging from `last` goes on after it rather than meet it
   * on every page. Up to `limit` events, reading on past left-out rows to fill the page, and
   * stopping early once `limit` rows were left out. A row whose place in the query's order is
   * itself damaged has no place `last` can be past: the answer is then EventDataCorruptionError
   * with `place` set, naming the row. Optional: a storage that cannot hold a row that does not
   * decode (memory) need not have it.
   */
  querySkippingCorrupt?(query: NormalizedEventQuery): SkippingAnswer;
  /**
   * The events of a correlation id, sorted by timestamp, then id: every one, or with `limit` at
   * most that many (the first in that order).
   */
  byCorrelation(correlationId: string, limit?: number): FoundationEvent[];
  /** The `limit` events with the highest ids, highest first. */
  recent(limit: number): FoundationEvent[];
  /** Deletes the events whose `wallTime` is before `wallTime`; returns how many. */
  pruneBefore(wallTime: number): number;
  /**
   * How many events are stored here now. A durable storage counts what its medium holds, so
   * connections to one file all report the same, whichever of them stored or pruned.
   */
  count(): number;
  /**
   * The highest id ever stored or reserved here, even if since pruned or evicted (durable
   * storages remember it across reopening, and count what other connections to the same
   * medium stored or reserved), 0 when none. A store starts above it; it takes its ids from
   * `reserveIds` when the storage has it.
   */
  maxId(): number;
  /**
   * Reserves the next `count` ids (a positive integer) for the caller and returns the first:
   * the block starts above every id stored or reserved here, by any caller, and `maxId()`
   * reports at least its last id from then on. A store hands out only ids of blocks it reserved,
   * so stores that share the storage never hand out the same id, nor does a store reopened
   * after handing out ids whose events were never stored.
   *
   * The reservation is one atomic step: reading the highest id and recording the new one apart
   * would let two callers (two stores on one storage, two connections to one file, two
   * processes) read the same highest id and take the same block. A durable storage records the
   * block durably, in one transaction with that read, before returning. The block ends at
   * Number.MAX_SAFE_INTEGER at the latest; when no safe id is left it returns
   * MAX_SAFE_INTEGER + 1 and records nothing. Storages that keep nothing across reopening
   * (memory) implement it too: without it, stores sharing them can hand out the same ids.
   */
  reserveIds?(count: number): number;
  /**
   * The highest timestamp ever stored here, 0 when empty. Durable storages remember it across
   * reopening, and count what other connections to the same medium stored.
   */
  maxTimestamp(): number;
  /** An estimate of the memory (or disk) the events take, in bytes. */
  sizeBytes(): number;
  close(): void;
}

/** Refuses a `reserveIds` count that is not a positive integer, which would reserve nothing or go back. */
export function checkReserveCount(count: number): void {
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError('reserveIds takes a positive integer count');
}
