// Cursors for paging through a query: the position of the last event a page returned, in the
// query's order, as an opaque string. A query `after` it continues with the next event in that
// order whatever was appended or pruned since, where an offset counts events from the start and
// so shifts when events before it come or go. A cursor comes back from users (a URL, a form), so
// it is decoded as hostile input: bounded in length first, then one strict shape, every number
// checked, anything else refused with EventValidationError (3203).
import type { FoundationEvent } from './event';
import { EventValidationError } from './errors/event-validation-error';

/**
 * Where a page ended: the last event's id and timestamp, and the order they were read in. In the
 * order of storage (`stored`) it is the last event's place in that order (`sequence`), and id
 * and timestamp are 0: a storage's `query` never sees such a position, only its `queryStored`.
 */
export interface QueryPosition {
  readonly orderBy: 'id' | 'timestamp' | 'stored';
  readonly order: 'asc' | 'desc';
  readonly id: number;
  readonly timestamp: number;
  /** The storage's sequence number of the last event, in the order of storage only. */
  readonly sequence?: number | undefined;
}

/** Longer than any cursor this package makes (about 50 characters), checked before anything else. */
export const MAX_CURSOR_LENGTH = 96;

// Version 1: `c1.` then the order (`i` id or `t` timestamp, `a` asc or `d` desc), the id and the
// timestamp, each as JavaScript writes the number, which reads back as the same double.
const CURSOR_SHAPE = /^c1\.([it])([ad])\.([1-9][0-9]*)\.((?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:e[+-][0-9]+)?)$/;
// In the order of storage: `c1.s`, `a` or `d`, then the storage's sequence number of the last event.
const STORED_CURSOR_SHAPE = /^c1\.s([ad])\.([1-9][0-9]*)$/;

export function encodeCursor(orderBy: 'id' | 'timestamp', order: 'asc' | 'desc', event: Pick<FoundationEvent, 'id' | 'timestamp'>): string {
  return `c1.${orderBy === 'id' ? 'i' : 't'}${order === 'asc' ? 'a' : 'd'}.${event.id}.${event.timestamp}`;
}

/** A cursor in the order of storage: the storage's sequence number of the page's last event. */
export function encodeStoredCursor(order: 'asc' | 'desc', sequence: number): string {
  return `c1.s${order === 'asc' ? 'a' : 'd'}.${sequence}`;
}

/** The cursor of a position, in whichever order it is. */
export function encodePosition(position: QueryPosition): string {
  return position.orderBy === 'stored' ? encodeStoredCursor(position.order, position.sequence ?? 0) : encodeCursor(position.orderBy, position.order, position);
}

export function decodeCursor(cursor: unknown): QueryPosition {
  if (typeof cursor !== 'string' || cursor.length > MAX_CURSOR_LENGTH) {
    throw new EventValidationError('after', `must be a cursor from queryPage (a string of at most ${MAX_CURSOR_LENGTH} characters)`);
  }
  const stored = STORED_CURSOR_SHAPE.exec(cursor);
  if (stored !== null) {
    const sequence = Number(stored[2]);
    if (!Number.isSafeInteger(sequence) || String(sequence) !== stored[2]) throw new EventValidationError('after', 'is not a cursor from queryPage');
    return { orderBy: 'stored', order: stored[1] === 'a' ? 'asc' : 'desc', id: 0, timestamp: 0, sequence };
  }
  const parts = CURSOR_SHAPE.exec(cursor);
  const id = parts === null ? Number.NaN : Number(parts[3]);
  const timestamp = parts === null ? Number.NaN : Number(parts[4]);
  // The numbers must read back as written: no unsafe ids, no infinities, no second spelling of one position.
  if (parts === null || !Number.isSafeInteger(id) || !Number.isFinite(timestamp) || String(id) !== parts[3] || String(timestamp) !== parts[4]) {
    throw new EventValidationError('after', 'is not a cursor from queryPage');
  }
  return { orderBy: parts[1] === 'i' ? 'id' : 'timestamp', order: parts[2] === 'a' ? 'asc' : 'desc', id, timestamp };
}

/**
 * Whether an event comes after a position in the position's order: by id, or by timestamp then
 * id, ascending or descending.
 */
export function isAfter(position: QueryPosition, event: Pick<FoundationEvent, 'id' | 'timestamp'>): boolean {
  if (position.orderBy === 'stored') throw new TypeError('a position in the order of storage compares sequence numbers, not events');
  const difference = position.orderBy === 'id' ? event.id - position.id : event.timestamp - position.timestamp || event.id - position.id;
  return position.order === 'asc' ? difference > 0 : difference < 0;
}
