// The in-memory storage (the default): events by id, with indexes by type, correlation id and
// wall time, bounded by a count and optionally an age. Appends in creation order and evictions
// of the oldest are O(1) per index; queries start from the most selective index.
import type { FoundationEvent } from '../event';
import { EventDuplicateError } from '../errors/event-duplicate-error';
import { EventStorageFullError } from '../errors/event-storage-full-error';
import { EventStoreClosedError } from '../errors/event-store-closed-error';
import { holdsBytes, withOwnBytes } from '../internal/event-data';
import { MadeEvent } from '../internal/made-event';
import type { NormalizedEventQuery } from '../query';
import { isAfter } from '../query-cursor';
import { encodedSize } from '../serialization/cbor-codec';
import type { EventStorage, StoredEvent } from './event-storage';
import { checkReserveCount } from './event-storage';
import { IdTable } from './id-table';
import { SortedIdList } from './sorted-id-list';
import { TimeIndex } from './time-index';

export interface MemoryStorageOptions {
  /** The most events kept. Default 100,000. */
  readonly maxEvents?: number | undefined;
  /**
   * When set, events whose wall time is more than this many milliseconds older than the newest
   * stored event are evicted as new ones arrive.
   */
  readonly maxAgeMs?: number | undefined;
  /**
   * What a full store does: `evict-oldest` (default) drops the events with the lowest ids to
   * make room; `reject` refuses the batch with EventStorageFullError (1.x resource_exhausted).
   */
  readonly whenFull?: 'evict-oldest' | 'reject' | undefined;
}

export const DEFAULT_MEMORY_MAX_EVENTS = 100_000;
/** Fixed cost of one stored event in the indexes, for the memory estimate. */
const PER_EVENT_OVERHEAD_BYTES = 200;
const SIZE_SAMPLES = 64;
/** Pruning this many events or fewer removes each from every index; more go in one pass per index. */
const FEW_TO_REMOVE_ONE_BY_ONE = 8;

/** A view of ascending ids that queries iterate: an index list or a plain array. */
interface IdSequence {
  readonly length: number;
  at(position: number): number;
}

function fromList(list: SortedIdList): IdSequence {
  return { length: list.size, at: (position) => list.at(position) };
}

function fromArray(ids: readonly number[]): IdSequence {
  return { length: ids.length, at: (position) => ids[position]! };
}

const EMPTY: IdSequence = { length: 0, at: () => 0 };

/** Position of the first id in `sequence` that is at least `id`. */
function lowerBound(sequence: IdSequence, id: number): number {
  let low = 0;
  let high = sequence.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sequence.at(middle) < id) low = middle + 1;
    else high = middle;
  }
  return low;
}

function byTimestamp(a: FoundationEvent, b: FoundationEvent): number {
  return a.timestamp - b.timestamp || a.id - b.id;
}

export function createMemoryStorage(options: MemoryStorageOptions = {}): EventStorage {
  const maxEvents = options.maxEvents ?? DEFAULT_MEMORY_MAX_EVENTS;
  if (!Number.isSafeInteger(maxEvents) || maxEvents < 1) throw new RangeError('maxEvents must be a positive integer');
  const maxAgeMs = options.maxAgeMs;
  if (maxAgeMs !== undefined && !(typeof maxAgeMs === 'number' && maxAgeMs >= 0)) throw new RangeError('maxAgeMs must be a non-negative number');
  const whenFull = options.whenFull ?? 'evict-oldest';
  if (whenFull !== 'evict-oldest' && whenFull !== 'reject') throw new RangeError("whenFull must be 'evict-oldest' or 'reject'");

  const byId = new IdTable<FoundationEvent>();
  const ids = new SortedIdList();
  const byType = new Map<string, SortedIdList>();
  // Most correlation groups hold one event (a new UUID per event by default): those are a bare
  // id, and become a list when a second event joins.
  const byCorrelation = new Map<string, number | SortedIdList>();
  const byTime = new TimeIndex();
  let highestTimestamp = 0;
  // The highest id ever stored, even once pruned or evicted: a store's ids go on above it.
  let highestId = 0;
  // The order of storage: each event's sequence number, counted here as events are appended
  // (by every store sharing this storage), and never lowered by pruning or eviction, so no
  // number is given twice. The sequence numbers held, ascending, and the id under each.
  let lastSequence = 0;
  const sequences = new SortedIdList();
  // Tables, not Maps: sequence numbers are dense and increasing, and so are the ids of the
  // events a store makes, so each entry is an array slot. Two Maps of every event cost the
  // memory store more than half its append rate (1.3 M events/s fell to 0.5 M/s).
  const idOfSequence = new IdTable<number>();
  const sequenceOfId = new IdTable<number>();
  let closed = false;

  const ensureOpen = (operation: string): void => {
    if (closed) throw new EventStoreClosedError(operation);
  };

  const addTo = (index: Map<string, SortedIdList>, key: string, id: number): void => {
    let list = index.get(key);
    if (list === undefined) {
      list = new SortedIdList();
      index.set(key, list);
    }
    list.insert(id);
  };

  const removeFrom = (index: Map<string, SortedIdList>, key: string, id: number): void => {
    const list = index.get(key);
    if (list === undefined) return;
    list.remove(id);
    if (list.size === 0) index.delete(key);
  };

  const addToCorrelation = (key: string, id: number): void => {
    const entry = byCorrelation.get(key);
    if (entry === undefined) {
      byCorrelation.set(key, id);
    } else if (typeof entry === 'number') {
      const list = new SortedIdList();
      list.insert(entry);
      list.insert(id);
      byCorrelation.set(key, list);
    } else {
      entry.insert(id);
    }
  };

  const removeFromCorrelation = (key: string, id: number): void => {
    const entry = byCorrelation.get(key);
    if (entry === undefined) return;
    if (typeof entry === 'number') {
      if (entry === id) byCorrelation.delete(key);
      return;
    }
    entry.remove(id);
    if (entry.size === 1) byCorrelation.set(key, entry.first()!);
    else if (entry.size === 0) byCorrelation.delete(key);
  };

  const correlationIds = (key: string): IdSequence => {
    const entry = byCorrelation.get(key);
    if (entry === undefined) return EMPTY;
    return typeof entry === 'number' ? fromArray([entry]) : fromList(entry);
  };

  // Streams repeat a few types: the last one's list is kept at hand.
  let lastType: string | undefined;
  let lastTypeList: SortedIdList | undefined;

  // Events whose data holds byte arrays, which freezing does not protect: the storage keeps its
  // own copy of them and hands out copies (as a durable storage decodes a fresh one per read).
  const withBytes = new WeakSet<FoundationEvent>();
  const kept = (event: FoundationEvent): FoundationEvent => {
    // A store's own events know it (no walk); foreign ones, and events given to the port directly, are walked.
    if (!(MadeEvent.holdsBytes(event) ?? holdsBytes(event.data))) return event;
    const copy = withOwnBytes(event);
    withBytes.add(copy);
    return copy;
  };
  const out = (event: FoundationEvent): FoundationEvent => (withBytes.has(event) ? withOwnBytes(event) : event);

  const add = (event: FoundationEvent): void => {
    byId.add(event.id, event);
    ids.insert(event.id);
    if (event.type === lastType && lastTypeList !== undefined && lastTypeList.size > 0) {
      lastTypeList.insert(event.id);
    } else {
      addTo(byType, event.type, event.id);
      lastType = event.type;
      lastTypeList = byType.get(event.type);
    }
    addToCorrelation(event.correlationId, event.id);
    byTime.insert(event.wallTime, event.id);
    if (event.timestamp > highestTimestamp) highestTimestamp = event.timestamp;
    if (event.id > highestId) highestId = event.id;
    lastSequence += 1;
    sequences.insert(lastSequence);
    idOfSequence.add(lastSequence, event.id);
    sequenceOfId.add(event.id, lastSequence);
  };

  const forgetSequence = (id: number): number | undefined => {
    const sequence = sequenceOfId.get(id);
    if (sequence === undefined) return undefined;
    sequenceOfId.delete(id);
    idOfSequence.delete(sequence);
    return sequence;
  };

  const remove = (id: number): boolean => {
    const event = byId.get(id);
    if (event === undefined) return false;
    byId.delete(id);
    ids.remove(id);
    removeFrom(byType, event.type, id);
    if (event.type === lastType && !byType.has(event.type)) lastTypeList = undefined;
    removeFromCorrelation(event.correlationId, id);
    byTime.remove(event.wallTime, id);
    const sequence = forgetSequence(id);
    if (sequence !== undefined) sequences.remove(sequence);
    return true;
  };

  // Events to remove in the order pruning finds them, oldest wall time first. When clocks
  // disagree that is random id order, and removing them one by one splices each out of the id
  // lists (O(n) apiece); a batch is sorted and taken out of each list in one pass instead.
  const removeMany = (doomed: readonly number[]): number => {
    if (doomed.length <= FEW_TO_REMOVE_ONE_BY_ONE) {
      let removed = 0;
      for (const id of doomed) if (remove(id)) removed += 1;
      return removed;
    }
    const removed: number[] = [];
    const removedSequences: number[] = [];
    const ofType = new Map<string, number[]>();
    const ofCorrelation = new Map<string, number[]>();
    for (const id of doomed) {
      const event = byId.get(id);
      if (event === undefined) continue;
      byId.delete(id);
      byTime.remove(event.wallTime, id);
      removed.push(id);
      const sequence = forgetSequence(id);
      if (sequence !== undefined) removedSequences.push(sequence);
      let typed = ofType.get(event.type);
      if (typed === undefined) ofType.set(event.type, (typed = []));
      typed.push(id);
      // A group of one is a bare id, removed at once; larger groups are lists, done in a batch.
      if (typeof byCorrelation.get(event.correlationId) === 'number') {
        removeFromCorrelation(event.correlationId, id);
      } else {
        let group = ofCorrelation.get(event.correlationId);
        if (group === undefined) ofCorrelation.set(event.correlationId, (group = []));
        group.push(id);
      }
    }
    const ascending = (a: number, b: number): number => a - b;
    ids.removeAll(removed.sort(ascending));
    sequences.removeAll(removedSequences.sort(ascending));
    for (const [type, typed] of ofType) {
      const list = byType.get(type);
      if (list === undefined) continue;
      list.removeAll(typed.sort(ascending));
      if (list.size === 0) byType.delete(type);
    }
    if (lastType !== undefined && !byType.has(lastType)) lastTypeList = undefined;
    for (const [correlationId, group] of ofCorrelation) {
      const entry = byCorrelation.get(correlationId);
      if (entry === undefined || typeof entry === 'number') continue;
      entry.removeAll(group.sort(ascending));
      if (entry.size === 1) byCorrelation.set(correlationId, entry.first()!);
      else if (entry.size === 0) byCorrelation.delete(correlationId);
    }
    return removed.length;
  };

  const evict = (): number => {
    let evicted = 0;
    while (byId.size > maxEvents) {
      remove(ids.first()!);
      evicted += 1;
    }
    if (maxAgeMs !== undefined) {
      // Relative to the newest event stored now, not the newest ever: once an event stamped by
      // a clock that ran ahead is gone, ages are measured from the events that remain.
      const newest = byTime.newestTime();
      const oldest = byTime.oldestTime();
      if (newest !== undefined && oldest !== undefined && oldest < newest - maxAgeMs) {
        evicted += removeMany(byTime.idsBefore(newest - maxAgeMs));
      }
    }
    return evicted;
  };

  /** Candidate ids, ascending, from the most selective index the query allows. */
  const candidates = (query: NormalizedEventQuery): IdSequence => {
    if (query.correlationId !== undefined) return correlationIds(query.correlationId);
    if (query.types !== undefined) {
      const lists = query.types.map((type) => byType.get(type)).filter((list): list is SortedIdList => list !== undefined);
      if (lists.length === 0) return EMPTY;
      if (lists.length === 1) return fromList(lists[0]!);
      return fromArray(lists.flatMap((list) => list.toArray()).sort((a, b) => a - b));
    }
    if (query.from !== Number.NEGATIVE_INFINITY || query.to !== Number.POSITIVE_INFINITY) {
      return fromArray(byTime.idsBetween(query.from, query.to).sort((a, b) => a - b));
    }
    return fromList(ids);
  };

  const matches = (query: NormalizedEventQuery, event: FoundationEvent): boolean =>
    (query.types === undefined || query.types.includes(event.type)) &&
    (query.correlationId === undefined || event.correlationId === query.correlationId) &&
    event.wallTime >= query.from &&
    event.wallTime <= query.to;

  /**
   * One page of `query` from `keys` (ids, or sequence numbers in the order of storage, ascending):
   * past the cursor's key (above it ascending, below it descending, found by binary search, so a
   * page costs the same wherever it starts), skipping events that do not match when `filter`,
   * then `query.offset` matches, up to `query.limit`.
   */
  const walkPage = (
    keys: IdSequence,
    cursor: number | undefined,
    query: NormalizedEventQuery,
    filter: boolean,
    eventOf: (key: number) => FoundationEvent,
    take: (event: FoundationEvent, key: number) => void,
  ): void => {
    const ascending = query.order === 'asc';
    let first = 0;
    let end = keys.length;
    if (cursor !== undefined) {
      if (ascending) first = lowerBound(keys, cursor + 1);
      else end = lowerBound(keys, cursor);
    }
    let skip = query.offset;
    let taken = 0;
    for (let step = 0; first + step < end && taken < query.limit; step += 1) {
      const key = keys.at(ascending ? first + step : end - 1 - step);
      const event = eventOf(key);
      if (filter && !matches(query, event)) continue;
      if (skip > 0) {
        skip -= 1;
        continue;
      }
      take(event, key);
      taken += 1;
    }
  };

  /**
   * The query in the order of storage, from the cursor (found by binary search in the sequence
   * numbers). A filter's index lists ids, not sequence numbers, so a filtered page either walks
   * the sequence numbers from the cursor, keeping the events that match, or puts all the
   * filter's candidates in the order of storage: whichever the filter's share of the events says
   * is less work. Sorting every candidate on each page made a reader of a common type quadratic
   * (paging through 100,000 events of one type among 400,000 took 12 s); a walk stops at the
   * page's last match, so a reader paging through the whole store walks each event once.
   */
  const queryStored = (query: NormalizedEventQuery): StoredEvent[] => {
    if (query.limit === 0) return [];
    const cursor = query.after?.sequence;
    const unfiltered = query.correlationId === undefined && query.types === undefined && query.from === Number.NEGATIVE_INFINITY && query.to === Number.POSITIVE_INFINITY;
    let source: IdSequence | undefined;
    let walk = unfiltered;
    if (!unfiltered) {
      source = candidates(query);
      // A walk passes about (offset + limit) × (events / candidates) events; a sort takes
      // candidates × log2(candidates) steps.
      const wanted = Math.min(query.offset + query.limit, source.length);
      walk = source.length > 0 && wanted * (sequences.size / source.length) < source.length * Math.log2(source.length + 1);
    }
    const order = walk ? fromList(sequences) : sortedSequences(query, source!);
    const result: StoredEvent[] = [];
    // Sorted candidates matched already; a walk meets every event.
    walkPage(order, cursor, query, walk && !unfiltered, (sequence) => byId.get(idOfSequence.get(sequence)!)!, (event, sequence) => result.push({ event: out(event), sequence }));
    return result;
  };

  /** The sequence numbers of the candidates that match `query`, ascending. */
  const sortedSequences = (query: NormalizedEventQuery, source: IdSequence): IdSequence => {
    const found: number[] = [];
    for (let position = 0; position < source.length; position += 1) {
      const id = source.at(position);
      if (matches(query, byId.get(id)!)) found.push(sequenceOfId.get(id)!);
    }
    return fromArray(found.sort((a, b) => a - b));
  };

  return {
    kind: 'memory',
    append(events) {
      ensureOpen('append');
      if (events.length === 0) return 0;
      const seen = events.length > 1 ? new Set<number>() : undefined;
      for (const event of events) {
        if (byId.has(event.id) || seen?.has(event.id) === true) throw new EventDuplicateError(event.id);
        seen?.add(event.id);
      }
      if (whenFull === 'reject' ? byId.size + events.length > maxEvents : events.length > maxEvents) {
        throw new EventStorageFullError(maxEvents, events.length);
      }
      for (const event of events) add(kept(event));
      return evict();
    },
    get(id) {
      ensureOpen('get');
      const event = byId.get(id);
      return event === undefined ? undefined : out(event);
    },
    query(query) {
      ensureOpen('query');
      if (query.orderBy === 'stored') return queryStored(query).map(({ event }) => event);
      const source = candidates(query);
      if (query.limit === 0) return [];
      if (query.orderBy === 'timestamp') {
        const found: FoundationEvent[] = [];
        const after = query.after;
        for (let position = 0; position < source.length; position += 1) {
          const event = byId.get(source.at(position))!;
          if (matches(query, event) && (after === undefined || isAfter(after, event))) found.push(event);
        }
        found.sort(byTimestamp);
        if (query.order === 'desc') found.reverse();
        return found.slice(query.offset, query.limit === Number.POSITIVE_INFINITY ? undefined : query.offset + query.limit).map(out);
      }
      const result: FoundationEvent[] = [];
      walkPage(source, query.after?.id, query, true, (id) => byId.get(id)!, (event) => result.push(out(event)));
      return result;
    },
    queryStored(query) {
      ensureOpen('queryStored');
      return queryStored(query);
    },
    byCorrelation(correlationId, limit) {
      ensureOpen('byCorrelation');
      const group = correlationIds(correlationId);
      // Held in memory already: sorting the group whole costs what reading it did. The limit bounds
      // the answer, whose events a caller then copies, serializes or sends.
      const sorted = new Array<FoundationEvent>(group.length);
      for (let position = 0; position < group.length; position += 1) sorted[position] = byId.get(group.at(position))!;
      sorted.sort(byTimestamp);
      if (limit !== undefined && limit < sorted.length) sorted.length = limit;
      for (let position = 0; position < sorted.length; position += 1) sorted[position] = out(sorted[position]!);
      return sorted;
    },
    recent(limit) {
      ensureOpen('recent');
      const count = Math.min(limit, ids.size);
      const result = new Array<FoundationEvent>(count);
      for (let step = 0; step < count; step += 1) result[step] = out(byId.get(ids.at(ids.size - 1 - step))!);
      return result;
    },
    pruneBefore(wallTime) {
      ensureOpen('pruneBefore');
      return removeMany(byTime.idsBefore(wallTime));
    },
    count() {
      ensureOpen('count');
      return byId.size;
    },
    maxId() {
      ensureOpen('maxId');
      return highestId;
    },
    // Nothing outlives the process here, but stores sharing this storage each reserve their
    // blocks in it, so that one never hands out ids another already has. (Calls are synchronous,
    // so reading and advancing the highest id is one step here.)
    reserveIds(count) {
      ensureOpen('reserveIds');
      checkReserveCount(count);
      const first = highestId + 1;
      if (first > Number.MAX_SAFE_INTEGER) return first;
      highestId = Math.min(first + count - 1, Number.MAX_SAFE_INTEGER);
      return first;
    },
    maxTimestamp() {
      ensureOpen('maxTimestamp');
      return highestTimestamp;
    },
    sizeBytes() {
      ensureOpen('sizeBytes');
      const count = ids.size;
      if (count === 0) return 0;
      const samples = Math.min(SIZE_SAMPLES, count);
      let sampled = 0;
      for (let sample = 0; sample < samples; sample += 1) {
        const event = byId.get(ids.at(Math.floor((sample * count) / samples)))!;
        sampled += encodedSize(event.data) + event.type.length + event.correlationId.length + event.node.length;
      }
      return Math.round(count * (PER_EVENT_OVERHEAD_BYTES + sampled / samples));
    },
    close() {
      closed = true;
      // Every index lets go of its events and ids: a closed storage may still be referenced.
      byId.clear();
      ids.clear();
      byType.clear();
      byCorrelation.clear();
      byTime.clear();
      sequences.clear();
      idOfSequence.clear();
      sequenceOfId.clear();
      lastType = undefined;
      lastTypeList = undefined;
    },
  };
}
