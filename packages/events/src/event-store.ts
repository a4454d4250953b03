// createEventStore: the Events service. It makes events (ids, timestamps, correlation ids),
// checks and freezes what it stores, delegates storage to an EventStorage (memory by default,
// SQLite for durability) and delivers stored events to live subscribers.
import { hostname } from 'node:os';
import { FoundationError, createPublisher, systemClock, uuidV4 } from '@foundation/core';
import type { Clock, Random } from '@foundation/core';
import { causalOrder } from './correlation-chain';
import type { FoundationEvent, NewEventOptions } from './event';
import { DEFAULT_MAX_DATA_BYTES } from './event';
import { CorrelationGroupTooLargeError } from './errors/correlation-group-too-large-error';
import type { EventDataCorruptionError } from './errors/event-data-corruption-error';
import { EventIdsExhaustedError } from './errors/event-ids-exhausted-error';
import { EventNotFoundError } from './errors/event-not-found-error';
import { EventStorageError } from './errors/event-storage-error';
import { EventStoreClosedError } from './errors/event-store-closed-error';
import { EventSubscriberError } from './errors/event-subscriber-error';
import { EventValidationError } from './errors/event-validation-error';
import type { EventFilter } from './filter';
import { eventMatches, normalizeFilter } from './filter';
import { checkCorrelationId, checkForeignEvent, checkId, checkNode, checkParentId, checkType } from './internal/check-event';
import { copyEventData, holdsBytes, withOwnBytes } from './internal/event-data';
import { MadeEvent } from './internal/made-event';
import type { EventQuery } from './query';
import type { NormalizedEventQuery } from './query';
import { normalizeQuery } from './query';
import { encodeCursor, encodePosition, encodeStoredCursor, isAfter } from './query-cursor';
import type { QueryPosition } from './query-cursor';
import { deserializeEvent, serializeEvent, serializedSize } from './serialization/event-codec';
import type { EventStorage } from './storage/event-storage';
import { createMemoryStorage } from './storage/memory-storage';

/** Receives live events; a promise it returns is not awaited, but a rejection is reported. */
export type EventHandler = (event: FoundationEvent) => unknown;

export interface EventStoreOptions {
  /** Where events live. Default `createMemoryStorage()` (bounded at 100,000 events). */
  readonly storage?: EventStorage | undefined;
  /**
   * Whether `close()` closes the storage too. Default true; pass false for a storage the caller
   * goes on using (to read, to give to the next store, to close itself).
   */
  readonly closesStorage?: boolean | undefined;
  /** Data larger than this (CBOR-encoded) is refused. Default 1,000,000 bytes, as in 1.x. */
  readonly maxDataBytes?: number | undefined;
  /** This node's name, recorded in every event. Default the host name. */
  readonly node?: string | undefined;
  /** Wall time and the monotonic timestamp. Default the system clock; tests pass a simulated one. */
  readonly clock?: Clock | undefined;
  /** Draws correlation ids (UUID v4). Default the platform CSPRNG; simulations pass a seeded Random. */
  readonly random?: Random | undefined;
  /** 1.x's namespace: a label for stats. Default `production`. */
  readonly namespace?: string | undefined;
  /** Receives every subscriber failure. Default `process.emitWarning(error)`. */
  readonly onSubscriberError?: ((error: EventSubscriberError) => void) | undefined;
}

export interface EventStoreStats {
  readonly namespace: string;
  readonly storage: string;
  /** Events in storage now. */
  readonly currentCount: number;
  /** Events stored through this store since it was created. */
  readonly totalStored: number;
  /** Events removed through this store since it was created (by `pruneBefore` and by eviction). */
  readonly totalPruned: number;
  /** The storage's estimate of its size in bytes (memory for the memory store, the file for SQLite). */
  readonly memoryEstimateBytes: number;
  readonly uptimeMs: number;
  readonly subscriberCount: number;
  readonly subscriberFailures: number;
  /**
   * The id the next `newEvent` will take while this store's reserved block of ids lasts; on a
   * storage shared with other stores (the same SQLite file), once the block is used up the next
   * id comes from a new block, which may be far higher.
   */
  readonly nextId: number;
}

/** A query for `queryPage`: a query, and what to do with stored rows that no longer decode. */
export interface EventPageQuery extends EventQuery {
  /**
   * Leave out the stored rows that no longer decode (a damaged SQLite file), listing each in the
   * page's `skipped`, and continue past them, instead of failing with EventDataCorruptionError
   * (3301). Without it such a row fails every page that reaches it. Default false. A row whose
   * place in the query's order is itself damaged (its sequence number, id or, in timestamp
   * order, timestamp) cannot be read past: while the query matches one, every such page fails
   * with EventDataCorruptionError naming the column in `place`.
   */
  readonly skipCorrupt?: boolean | undefined;
}

/** A page of a query (`queryPage`) and where the next one starts. */
export interface EventPage {
  readonly events: FoundationEvent[];
  /**
   * Pass as `after` for the next page. Opaque: the position of the last event in `events` (or,
   * with `skipCorrupt`, of the last row left out after it), or the `after` given when the page
   * read nothing (undefined when neither). A page shorter than the limit reached the last match
   * at the time (or, with `skipCorrupt`, left out `limit` rows); later matches follow the same cursor.
   */
  readonly cursor: string | undefined;
  /**
   * With `skipCorrupt`: the stored rows this page left out because they no longer decode, each
   * as the EventDataCorruptionError (3301) a read of it throws, naming its id and, in the order
   * of storage, its sequence number. Empty otherwise.
   */
  readonly skipped: EventDataCorruptionError[];
}

/** Options of the reads that take a correlation group whole. */
export interface CorrelationReadOptions {
  /**
   * The largest group read: a larger one is refused with CorrelationGroupTooLargeError (2201)
   * after reading one event more than this, never loaded whole. A positive integer, or Infinity
   * for no bound. Default `DEFAULT_MAX_CORRELATION_EVENTS` (10,000).
   */
  readonly maxEvents?: number | undefined;
}

/** The largest correlation group `getByCorrelation` and `getCorrelationChain` read by default. */
export const DEFAULT_MAX_CORRELATION_EVENTS = 10_000;

export interface EventStore {
  readonly node: string;
  readonly namespace: string;
  readonly maxDataBytes: number;
  /**
   * A new event (not yet stored): the next id, the timestamps, this node, and a UUID v4
   * correlation id unless one is given. The data is checked and copied; data over
   * `maxDataBytes` is refused with EventValidationError (3203) naming its size.
   */
  newEvent<Data>(type: string, data: Data, options?: NewEventOptions): FoundationEvent<Data>;
  /** Stores an event and returns its id. Events not made by this store's `newEvent` are checked first. */
  store(event: FoundationEvent): number;
  /** Stores every event or none (1.x `store_batch`); returns their ids in order. */
  storeBatch(events: readonly FoundationEvent[]): number[];
  /** `newEvent` then `store`, returning the stored event. */
  emit<Data>(type: string, data: Data, options?: NewEventOptions): FoundationEvent<Data>;
  /** The event with this id; EventNotFoundError (3401) when there is none. */
  get(id: number): FoundationEvent;
  query(query?: EventQuery): FoundationEvent[];
  /**
   * `query`, with a cursor for the next page: pass it as `after` (with the same order) to
   * continue exactly after this page's last event, whatever was appended or pruned since.
   */
  queryPage(query?: EventPageQuery): EventPage;
  /**
   * Every event of a correlation id, sorted by timestamp (1.x `get_by_correlation`). A group of
   * more than `maxEvents` is refused (CorrelationGroupTooLargeError, 2201): page it with
   * `queryPage({ correlationId, orderBy: 'timestamp' })`.
   */
  getByCorrelation(correlationId: string, options?: CorrelationReadOptions): FoundationEvent[];
  /**
   * The events of a correlation id in causal order: each after its parent, siblings by
   * timestamp. It needs the whole group: one of more than `maxEvents` is refused (2201).
   */
  getCorrelationChain(correlationId: string, options?: CorrelationReadOptions): FoundationEvent[];
  /** Events whose wall time is within [from, to] ms, by id (1.x `get_time_range`). */
  getTimeRange(from: number, to: number, options?: Pick<EventQuery, 'limit' | 'offset' | 'order'>): FoundationEvent[];
  /** The `limit` most recent events (default 100, as in 1.x), newest first. */
  getRecent(limit?: number): FoundationEvent[];
  /** Deletes events whose wall time is before `wallTime` (ms); returns how many (1.x `prune_before`). */
  pruneBefore(wallTime: number): number;
  stats(): EventStoreStats;
  /**
   * Calls `handler` with every event stored from now on that passes `filter` (`'*'` for all),
   * after it is stored, in storage order. Returns the function that unsubscribes.
   */
  subscribe(filter: EventFilter | '*', handler: EventHandler): () => void;
  /** CBOR bytes of an event. */
  serialize(event: FoundationEvent): Uint8Array;
  /** An event from CBOR bytes, checked as hostile input, bounded by this store's `maxDataBytes`. */
  deserialize(bytes: Uint8Array): FoundationEvent;
  /** 1.x `serialized_size`. */
  serializedSize(event: FoundationEvent): number;
  /** Closes the storage; later calls throw EventStoreClosedError (5504). */
  close(): void;
}

/**
 * How many ids a store reserves in its storage at once: one durable write per this many events
 * made, and at most this many ids skipped when a store is reopened.
 */
const ID_RESERVATION_BLOCK = 1024;

// For nextTimestamp: the bits of a double, to step to the next one up.
const timestampBits = new Float64Array(1);
const timestampWord = new BigUint64Array(timestampBits.buffer);

/**
 * The least timestamp after `timestamp` (non-negative): one nanosecond later while doubles
 * hold every integer, and past 2^53 ns (104 days of monotonic time, which a durable store
 * reaches across restarts) the next double, where adding 1 would round back to `timestamp`.
 */
function nextTimestamp(timestamp: number): number {
  const next = timestamp + 1;
  if (next > timestamp) return next;
  timestampBits[0] = timestamp;
  timestampWord[0] = timestampWord[0]! + 1n;
  return timestampBits[0];
}

/** An event on its way to subscribers. */
interface Delivery {
  readonly event: FoundationEvent;
  /** Whether its data holds byte arrays: each subscriber is then handed copies of its own. */
  readonly bytes: boolean;
}

function defaultReport(error: EventSubscriberError): void {
  process.emitWarning(error);
}

export function createEventStore(options: EventStoreOptions = {}): EventStore {
  const storage = options.storage ?? createMemoryStorage();
  const maxDataBytes = options.maxDataBytes ?? DEFAULT_MAX_DATA_BYTES;
  if (!Number.isSafeInteger(maxDataBytes) || maxDataBytes < 1) throw new RangeError('maxDataBytes must be a positive integer');
  const node = checkNode(options.node ?? hostname());
  const clock = options.clock ?? systemClock;
  const random = options.random;
  const namespace = options.namespace ?? 'production';
  const onSubscriberError = options.onSubscriberError ?? defaultReport;

  // Marks the events this store made (already checked and frozen); anything else is checked on store.
  const maker = Object.freeze({ store: node });
  // Ids: above every id the storage ever held (storages remember the highest across pruning and
  // reopening), so no id is handed out twice. Foreign events keep their ids and move nextId past
  // them (they are bounded by MAX_FOREIGN_EVENT_ID, so they cannot use up the ids).
  // A storage's answers are checked, as a foreign event's fields are: a maxId of NaN (a damaged
  // file) made nextId NaN, so no block was ever reserved (NaN compares false) and events were
  // made, and stored, with id NaN.
  const highestId = storage.maxId();
  if (!Number.isSafeInteger(highestId) || highestId < 0) {
    throw new EventStorageError('maxId', new RangeError(`the ${storage.kind} storage reported ${String(highestId)} from maxId, not a non-negative safe integer`));
  }
  let nextId = highestId + 1;
  // Ids are reserved in the storage before they are handed out (an event made by newEvent may
  // never be stored: its append fails, or the process stops first, while the caller has kept or
  // sent its id), a block at a time so that a durable storage writes once per block, not once
  // per event. A reopened store starts above the block, leaving its unused ids as a gap.
  let reservedThrough = nextId - 1;
  // Timestamps: the clock's monotonic nanoseconds, shifted past everything the storage holds (so
  // they keep increasing across a reopen), and strictly increasing. A foreign event stored with a
  // timestamp ahead of them shifts them past it the same way, at once rather than at the next
  // reopen, so they go on counting the clock's nanoseconds from there instead of one apiece.
  // Foreign timestamps are bounded by MAX_FOREIGN_EVENT_TIMESTAMP, so no event from elsewhere
  // can move them beyond any store's lifetime.
  const monotonicNanoseconds = (): number => Math.round(clock.monotonic() * 1e6);
  let lastTimestamp = storage.maxTimestamp();
  if (typeof lastTimestamp !== 'number' || !Number.isFinite(lastTimestamp) || lastTimestamp < 0) {
    throw new EventStorageError('maxTimestamp', new RangeError(`the ${storage.kind} storage reported ${String(lastTimestamp)} from maxTimestamp, not a non-negative finite number`));
  }
  let timestampOffset = Math.max(0, lastTimestamp + 1 - monotonicNanoseconds());
  const startedAt = clock.monotonic();
  let totalStored = 0;
  let totalPruned = 0;
  let subscriberFailures = 0;
  let closed = false;

  // Live delivery after each store, in storage order, each subscriber isolated (core's
  // publisher). A failing onSubscriberError is dropped there, so a subscriber's failure never
  // becomes the writer's. The publisher also gives a subscription only what is published after
  // it, and each store publishes at once: a subscription made during a delivery is not given the
  // rest of a batch, or events queued behind the current one, that were stored before it.
  const dispatcher = createPublisher<Delivery>({
    onError: (error, { event }) => {
      subscriberFailures += 1;
      onSubscriberError(new EventSubscriberError(event.id, event.type, error));
    },
  });

  const ensureOpen = (operation: string): void => {
    if (closed) throw new EventStoreClosedError(operation);
  };

  /**
   * The storage's answer to `query`, checked against its cursor, with the sequence number of the
   * last event in the order of storage. A storage of another medium written against the port
   * before cursors existed leaves `after` unread and answers from the first match: each page came
   * back the same, with the same cursor, and a reader paging until a short page looped for ever.
   * Every event of an answer that honours `after` lies past it.
   */
  const queried = (query: NormalizedEventQuery): { events: FoundationEvent[]; lastSequence: number | undefined } => {
    if (query.orderBy === 'stored') return queriedInStoredOrder(query);
    const events = storage.query(query);
    checkPastCursor('query', query, events);
    return { events, lastSequence: undefined };
  };

  /** Every event of an answer in id or timestamp order lies past the query's cursor. */
  const checkPastCursor = (operation: string, query: NormalizedEventQuery, events: readonly FoundationEvent[]): void => {
    const after = query.after;
    if (after === undefined) return;
    const before = events.find((event) => !isAfter(after, event));
    if (before !== undefined) {
      throw new EventStorageError(operation, new Error(`the ${storage.kind} storage returned event ${before.id}, which is not past the cursor: a storage must honour query.after`));
    }
  };

  /** The sequence numbers of an answer in the order of storage run past the cursor in the query's direction. */
  const checkSequences = (operation: string, query: NormalizedEventQuery, sequences: readonly number[]): void => {
    const ascending = query.order === 'asc';
    let previous = query.after?.sequence;
    for (const sequence of sequences) {
      if (!Number.isSafeInteger(sequence) || sequence < 1 || (previous !== undefined && (ascending ? sequence <= previous : sequence >= previous))) {
        throw new EventStorageError(
          operation,
          new Error(`the ${storage.kind} storage returned sequence number ${String(sequence)} after ${String(previous)}: a storage must answer in its order of storage, past query.after`),
        );
      }
      previous = sequence;
    }
  };

  /**
   * A page read past rows that do not decode (`skipCorrupt`), from the storage's
   * `querySkippingCorrupt`. Its events are checked as any answer's; the place it ends at must be
   * one of the query's order, past the cursor and not short of the last event, so that the next
   * page neither repeats events nor stays where this one started.
   */
  const pageSkippingCorrupt = (query: NormalizedEventQuery, given: string | undefined): EventPage => {
    const answer = storage.querySkippingCorrupt!(query);
    const { events, skipped, last } = answer;
    if (query.orderBy === 'stored') {
      const sequences = answer.sequences ?? [];
      if (sequences.length !== events.length) {
        throw new EventStorageError('querySkippingCorrupt', new Error(`the ${storage.kind} storage returned ${events.length} events and ${sequences.length} sequence numbers in the order of storage`));
      }
      checkSequences('querySkippingCorrupt', query, sequences);
    } else {
      checkPastCursor('querySkippingCorrupt', query, events);
    }
    if (last === undefined) {
      if (events.length > 0) throw new EventStorageError('querySkippingCorrupt', new Error(`the ${storage.kind} storage returned events without the place its page ends at`));
      return { events, cursor: given, skipped };
    }
    const lastEvent = events.at(-1);
    if (!endsPast(query, last, lastEvent, answer.sequences?.at(-1))) {
      throw new EventStorageError('querySkippingCorrupt', new Error(`the ${storage.kind} storage ended its page at a place that is not of the query's order, past its cursor and its last event`));
    }
    return { events, cursor: encodePosition(last), skipped };
  };

  /** Whether `last` is a place of the query's order, past its cursor and not short of the page's last event. */
  const endsPast = (query: NormalizedEventQuery, last: QueryPosition, lastEvent: FoundationEvent | undefined, lastSequence: number | undefined): boolean => {
    if (last.orderBy !== query.orderBy || last.order !== query.order) return false;
    if (last.orderBy === 'stored') {
      const sequence = last.sequence;
      if (sequence === undefined || !Number.isSafeInteger(sequence) || sequence < 1) return false;
      const beyond = (later: number, earlier: number): boolean => (query.order === 'asc' ? later > earlier : later < earlier);
      return (query.after?.sequence === undefined || beyond(sequence, query.after.sequence)) && (lastSequence === undefined || !beyond(lastSequence, sequence));
    }
    if (!Number.isSafeInteger(last.id) || last.id < 1 || !Number.isFinite(last.timestamp) || last.timestamp < 0) return false;
    return (query.after === undefined || isAfter(query.after, last)) && (lastEvent === undefined || !isAfter(last, lastEvent));
  };

  /**
   * The order of storage, from the storage's `queryStored`. A storage without it is refused: its
   * `query` would answer by id, and a reader paging with such cursors misses every event stored
   * later under a lower id, which is what this order exists to prevent. The sequence numbers are
   * checked to run past the cursor in the query's direction, so a storage that ignored the
   * cursor, or numbered events out of order, fails here rather than repeat or skip events.
   */
  const queriedInStoredOrder = (query: NormalizedEventQuery): { events: FoundationEvent[]; lastSequence: number | undefined } => {
    if (storage.queryStored === undefined) {
      throw new EventStorageError(
        'queryStored',
        new Error(`the ${storage.kind} storage does not keep the order events were stored in (it has no queryStored): query by id or timestamp, or use a storage that implements it`),
      );
    }
    const answer = storage.queryStored(query);
    checkSequences(
      'queryStored',
      query,
      answer.map(({ sequence }) => sequence),
    );
    return { events: answer.map(({ event }) => event), lastSequence: answer.at(-1)?.sequence };
  };

  /**
   * A correlation group, read whole up to `maxEvents`: the storage is asked for one event more,
   * so a larger group is refused having read that many, not loaded whole. (A storage of another
   * medium that ignores the limit is refused all the same, once it has answered.)
   */
  const correlationGroup = (correlationId: string, readOptions: CorrelationReadOptions = {}): FoundationEvent[] => {
    const id = checkCorrelationId(correlationId);
    if (readOptions === null || typeof readOptions !== 'object') throw new EventValidationError('options', 'must be an object');
    const maxEvents = readOptions.maxEvents ?? DEFAULT_MAX_CORRELATION_EVENTS;
    if (!(maxEvents === Number.POSITIVE_INFINITY || (Number.isSafeInteger(maxEvents) && maxEvents >= 1))) {
      throw new EventValidationError('maxEvents', 'must be a positive integer or Infinity');
    }
    const group = maxEvents === Number.POSITIVE_INFINITY ? storage.byCorrelation(id) : storage.byCorrelation(id, maxEvents + 1);
    if (group.length > maxEvents) throw new CorrelationGroupTooLargeError(id, maxEvents);
    return group;
  };

  const admit = (event: FoundationEvent): FoundationEvent => (MadeEvent.madeBy(event, maker) ? event : checkForeignEvent(event, maxDataBytes, true));
  // One reused array for single stores: storages may not keep the array they are given.
  const single: FoundationEvent[] = [];

  const afterStore = (events: readonly FoundationEvent[], evicted: number): void => {
    totalStored += events.length;
    totalPruned += evicted;
    // newEvent moved lastTimestamp past each event it made, so an event beyond it is foreign.
    let aheadOfLast = false;
    for (const event of events) {
      if (event.id >= nextId) nextId = event.id + 1;
      if (event.timestamp > lastTimestamp) {
        lastTimestamp = event.timestamp;
        aheadOfLast = true;
      }
    }
    if (aheadOfLast) timestampOffset = Math.max(timestampOffset, lastTimestamp + 1 - monotonicNanoseconds());
    if (dispatcher.size() > 0) {
      // A store's own events know whether they hold byte arrays; others are walked.
      dispatcher.publishAll(events.map((event) => ({ event, bytes: MadeEvent.holdsBytes(event) ?? holdsBytes(event.data) })));
    }
  };

  const newEvent = <Data>(type: string, data: Data, eventOptions: NewEventOptions = {}): FoundationEvent<Data> => {
    ensureOpen('newEvent');
    // Beyond MAX_SAFE_INTEGER, nextId + 1 rounds back to nextId: refuse rather than repeat an id.
    if (nextId > Number.MAX_SAFE_INTEGER) throw new EventIdsExhaustedError(Number.MAX_SAFE_INTEGER);
    checkType(type);
    if (eventOptions === null || typeof eventOptions !== 'object') throw new EventValidationError('options', 'must be an object');
    const correlationId = eventOptions.correlationId === undefined ? uuidV4(random) : checkCorrelationId(eventOptions.correlationId);
    const parentId = checkParentId(eventOptions.parentId);
    const found = { bytes: false };
    const copy = copyEventData(data, maxDataBytes, found) as Data;
    if (nextId > reservedThrough && storage.reserveIds !== undefined) {
      // The storage picks the block, above every id stored or reserved in it by anyone (other
      // stores on it, other connections to its file, other processes), in one atomic step: a
      // store that read the highest id and then reserved above it could take the block another
      // store took in between.
      const first = storage.reserveIds(ID_RESERVATION_BLOCK);
      if (!Number.isInteger(first) || first < nextId) {
        // Below nextId would be ids this store stored or handed out already.
        throw new EventStorageError('reserveIds', new RangeError(`the storage reserved ids from ${String(first)}, not above the ${nextId - 1} it holds`));
      }
      if (first > Number.MAX_SAFE_INTEGER) throw new EventIdsExhaustedError(Number.MAX_SAFE_INTEGER);
      nextId = first;
      reservedThrough = Math.min(first + ID_RESERVATION_BLOCK - 1, Number.MAX_SAFE_INTEGER);
    }
    const timestamp = Math.max(monotonicNanoseconds() + timestampOffset, nextTimestamp(lastTimestamp));
    lastTimestamp = timestamp;
    const event: FoundationEvent<Data> = new MadeEvent(maker, nextId, type, copy, correlationId, parentId, timestamp, clock.now(), node, found.bytes);
    nextId += 1;
    return event;
  };

  const store = (event: FoundationEvent): number => {
    ensureOpen('store');
    const checked = admit(event);
    single[0] = checked;
    try {
      const evicted = storage.append(single);
      afterStore(single, evicted);
    } finally {
      single.length = 0;
    }
    return checked.id;
  };

  const storeBatch = (events: readonly FoundationEvent[]): number[] => {
    ensureOpen('storeBatch');
    const given: unknown = events; // checked as unknown: Array.isArray would narrow the typed array to any[]
    if (!Array.isArray(given)) throw new EventValidationError('events', 'storeBatch takes an array of events');
    // By index, not map: map skips holes, and a hole would reach the storage as undefined.
    const checked: FoundationEvent[] = [];
    for (let index = 0; index < events.length; index += 1) {
      const event = events[index];
      if (event === undefined && !(index in events)) throw new EventValidationError('events', `item ${index} is a hole; storeBatch takes an array without holes`);
      checked.push(admit(event as FoundationEvent));
    }
    const evicted = storage.append(checked);
    afterStore(checked, evicted);
    return checked.map((event) => event.id);
  };

  return {
    node,
    namespace,
    maxDataBytes,
    newEvent,
    store,
    storeBatch,
    emit(type, data, eventOptions) {
      const event = newEvent(type, data, eventOptions);
      store(event);
      return event;
    },
    get(id) {
      ensureOpen('get');
      const event = storage.get(checkId(id));
      if (event === undefined) throw new EventNotFoundError(id);
      return event;
    },
    query(query) {
      ensureOpen('query');
      return queried(normalizeQuery(query)).events;
    },
    queryPage(query) {
      ensureOpen('queryPage');
      const normalized = normalizeQuery(query);
      const skipCorrupt = query?.skipCorrupt ?? false;
      if (typeof skipCorrupt !== 'boolean') throw new EventValidationError('skipCorrupt', 'must be a boolean');
      // A storage without querySkippingCorrupt holds no row that does not decode (memory), or
      // cannot leave one out: its answer is the plain query's.
      if (skipCorrupt && storage.querySkippingCorrupt !== undefined) return pageSkippingCorrupt(normalized, query?.after);
      const { events, lastSequence } = queried(normalized);
      const last = events.at(-1);
      // An empty page hands back the cursor it was given: a reader at the end asks again with
      // it later and gets what was stored since.
      let cursor: string | undefined;
      if (last === undefined) cursor = query?.after;
      else if (normalized.orderBy === 'stored') cursor = encodeStoredCursor(normalized.order, lastSequence!);
      else cursor = encodeCursor(normalized.orderBy, normalized.order, last);
      return { events, cursor, skipped: [] };
    },
    getByCorrelation(correlationId, readOptions) {
      ensureOpen('getByCorrelation');
      return correlationGroup(correlationId, readOptions);
    },
    getCorrelationChain(correlationId, readOptions) {
      ensureOpen('getCorrelationChain');
      return causalOrder(correlationGroup(correlationId, readOptions));
    },
    getTimeRange(from, to, rangeOptions = {}) {
      ensureOpen('getTimeRange');
      if (rangeOptions === null || typeof rangeOptions !== 'object') throw new EventValidationError('options', 'must be an object');
      // Only the declared fields, as queries ignore fields they do not know: the whole object
      // let a JavaScript caller's `types`, `orderBy: 'stored'` or `after` filter the answer and
      // reach the storage past the store's routing and cursor checks.
      const { limit, offset, order } = rangeOptions;
      return storage.query(normalizeQuery({ limit, offset, order, timeRange: [from, to] }));
    },
    getRecent(limit = 100) {
      ensureOpen('getRecent');
      if (!Number.isSafeInteger(limit) || limit < 0) throw new EventValidationError('limit', 'must be a non-negative integer');
      return storage.recent(limit);
    },
    pruneBefore(wallTime) {
      ensureOpen('pruneBefore');
      if (typeof wallTime !== 'number' || Number.isNaN(wallTime)) throw new EventValidationError('wallTime', 'must be a number of milliseconds');
      const pruned = storage.pruneBefore(wallTime);
      totalPruned += pruned;
      return pruned;
    },
    stats() {
      ensureOpen('stats');
      return {
        namespace,
        storage: storage.kind,
        currentCount: storage.count(),
        totalStored,
        totalPruned,
        memoryEstimateBytes: storage.sizeBytes(),
        uptimeMs: clock.monotonic() - startedAt,
        subscriberCount: dispatcher.size(),
        subscriberFailures,
        nextId,
      };
    },
    subscribe(filter, handler) {
      ensureOpen('subscribe');
      if (typeof handler !== 'function') throw new EventValidationError('handler', 'must be a function');
      const { where, ...fields } = normalizeFilter(filter);
      // The filter runs inside the delivery, so a filter that throws is reported like a handler.
      // Byte arrays cannot be frozen: every subscriber (and its `where`) is handed copies of its
      // own, so that one writing into them changes neither what the others receive nor the event
      // the writer holds (which `emit` returned, and a composition may serialize and broadcast).
      return dispatcher.subscribe(({ event, bytes }) => {
        if (!eventMatches(fields, event)) return undefined;
        const given = bytes ? withOwnBytes(event) : event;
        return where === undefined || where(given) ? handler(given) : undefined;
      });
    },
    serialize(event) {
      ensureOpen('serialize');
      return serializeEvent(event);
    },
    deserialize(bytes) {
      ensureOpen('deserialize');
      return deserializeEvent(bytes, { maxDataBytes });
    },
    serializedSize(event) {
      ensureOpen('serializedSize');
      return serializedSize(event);
    },
    close() {
      if (closed) return;
      closed = true;
      dispatcher.clear();
      if (options.closesStorage === false) return;
      try {
        storage.close();
      } catch (error) {
        throw FoundationError.from(error);
      }
    },
  };
}
