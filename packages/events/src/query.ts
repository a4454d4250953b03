// Queries (1.x `query(%{event_type, time_range: {start, end}, order_by, offset, limit})`),
// checked and normalised once, before any storage sees them.
import { EventValidationError } from './errors/event-validation-error';
import { checkCorrelationId, checkType } from './internal/check-event';
import { decodeCursor } from './query-cursor';
import type { QueryPosition } from './query-cursor';

export interface EventQuery {
  /** Only events of this type. */
  readonly type?: string | undefined;
  /** Only events of one of these types (at most 100). */
  readonly types?: readonly string[] | undefined;
  /**
   * Only events whose `wallTime` is within [from, to] (milliseconds since the epoch, both
   * inclusive). 1.x compared its monotonic timestamps, which mean nothing after a restart;
   * wall time does.
   */
  readonly timeRange?: readonly [from: number, to: number] | undefined;
  readonly correlationId?: string | undefined;
  /**
   * Default `id`. `timestamp` sorts by the monotonic timestamp, then id. `stored` is the order
   * events were stored in (commit order, across every store sharing the storage): paged with
   * cursors, it gives each event exactly once, whatever its id or timestamp. Storages of your
   * own without `queryStored` refuse it (EventStorageError, 5503).
   */
  readonly orderBy?: 'id' | 'timestamp' | 'stored' | undefined;
  /** Default `asc`. */
  readonly order?: 'asc' | 'desc' | undefined;
  /**
   * Matching events to skip first (after `after`, when both are given). Default 0. An offset
   * counts from the first match, so events appended or pruned between two pages shift it: page
   * with `after` to see each event once.
   */
  readonly offset?: number | undefined;
  /**
   * A cursor from `queryPage`: only events after the last one that page returned, in the same
   * `orderBy` and `order` (another order is refused). The stable way to page: it continues
   * exactly after that event whatever was appended or pruned since.
   */
  readonly after?: string | undefined;
  /** At most this many events. Default 1,000; `Infinity` for all. */
  readonly limit?: number | undefined;
}

/** A query after checking: what storages implement. */
export interface NormalizedEventQuery {
  /** undefined: any type. */
  readonly types: readonly string[] | undefined;
  readonly from: number;
  readonly to: number;
  readonly correlationId: string | undefined;
  /** `stored` reaches a storage's `queryStored` only, never its `query`. */
  readonly orderBy: 'id' | 'timestamp' | 'stored';
  readonly order: 'asc' | 'desc';
  readonly offset: number;
  /**
   * Only events after this position in the query's order (by id, by timestamp then id, or by
   * the storage's sequence number; in `order`): above it ascending, below it descending.
   * undefined: from the first.
   */
  readonly after?: QueryPosition | undefined;
  /** A positive integer or Infinity. */
  readonly limit: number;
}

export const DEFAULT_QUERY_LIMIT = 1000;
const MAX_TYPES = 100;

export function normalizeQuery(query: EventQuery = {}): NormalizedEventQuery {
  if (query === null || typeof query !== 'object') throw new EventValidationError('query', 'must be an object');
  let types: string[] | undefined;
  if (query.type !== undefined) types = [checkType(query.type)];
  if (query.types !== undefined) {
    if (!Array.isArray(query.types) || query.types.length > MAX_TYPES) {
      throw new EventValidationError('types', `must be an array of at most ${MAX_TYPES} types`);
    }
    // Array.from, not map: map skips holes, and a hole would reach the storage as undefined.
    const listed = Array.from(query.types as unknown[], (type) => checkType(type));
    types = types === undefined ? [...new Set(listed)] : types.filter((type) => listed.includes(type));
  }
  let from = Number.NEGATIVE_INFINITY;
  let to = Number.POSITIVE_INFINITY;
  if (query.timeRange !== undefined) {
    const range: unknown = query.timeRange;
    // Array.from, not some alone: some skips holes, and a hole would reach the storage as an undefined bound.
    if (!Array.isArray(range) || range.length !== 2 || Array.from(range as unknown[]).some((bound) => typeof bound !== 'number' || Number.isNaN(bound))) {
      throw new EventValidationError('timeRange', 'must be [from, to] in wall-clock milliseconds');
    }
    [from, to] = range as [number, number];
  }
  const orderBy = query.orderBy ?? 'id';
  if (orderBy !== 'id' && orderBy !== 'timestamp' && orderBy !== 'stored') throw new EventValidationError('orderBy', "must be 'id', 'timestamp' or 'stored'");
  const order = query.order ?? 'asc';
  if (order !== 'asc' && order !== 'desc') throw new EventValidationError('order', "must be 'asc' or 'desc'");
  const offset = query.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new EventValidationError('offset', 'must be a non-negative integer');
  const limit = query.limit ?? DEFAULT_QUERY_LIMIT;
  if (!(limit === Number.POSITIVE_INFINITY || (Number.isSafeInteger(limit) && limit >= 0))) {
    throw new EventValidationError('limit', 'must be a non-negative integer or Infinity');
  }
  let after: QueryPosition | undefined;
  if (query.after !== undefined) {
    after = decodeCursor(query.after);
    if (after.orderBy !== orderBy || after.order !== order) {
      throw new EventValidationError('after', `is a cursor of a query by ${after.orderBy}, ${after.order}: use it with the same orderBy and order`);
    }
  }
  return {
    types,
    from,
    to,
    correlationId: query.correlationId === undefined ? undefined : checkCorrelationId(query.correlationId),
    orderBy,
    order,
    offset,
    after,
    limit,
  };
}
