// Fields of events that arrive from outside this store (built by hand, by another store, or
// decoded from elsewhere): every field is checked, and the stored event is a new frozen object
// with a frozen copy of the data, so the caller's object is never kept.
//
// Strings stored or sent must be well-formed Unicode: a lone surrogate has no UTF-8 form, and
// cbor-x writes it as bytes that are not UTF-8, which the decode guard refuses (the stored event
// becomes unreadable) or a lenient decoder turns into U+FFFD (the event comes back changed). So
// such strings are refused on the way in, here and in the data (event-data.ts).
import { isWellFormed } from '@foundation/core';
import type { FoundationEvent } from '../event';
import { MAX_CORRELATION_ID_LENGTH, MAX_FOREIGN_EVENT_ID, MAX_FOREIGN_EVENT_TIMESTAMP, MAX_NODE_LENGTH, MAX_TYPE_LENGTH } from '../event';
import { EventValidationError } from '../errors/event-validation-error';
import { copyEventData } from './event-data';

export function checkType(type: unknown): string {
  if (typeof type !== 'string' || type.length === 0 || type.length > MAX_TYPE_LENGTH || !isWellFormed(type)) {
    throw new EventValidationError('type', `must be a well-formed string of 1 to ${MAX_TYPE_LENGTH} characters`);
  }
  return type;
}

export function checkCorrelationId(correlationId: unknown): string {
  if (typeof correlationId !== 'string' || correlationId.length === 0 || correlationId.length > MAX_CORRELATION_ID_LENGTH || !isWellFormed(correlationId)) {
    throw new EventValidationError('correlationId', `must be a well-formed string of 1 to ${MAX_CORRELATION_ID_LENGTH} characters`);
  }
  return correlationId;
}

export function checkParentId(parentId: unknown): number | null {
  if (parentId === undefined || parentId === null) return null;
  if (typeof parentId !== 'number' || !Number.isSafeInteger(parentId) || parentId < 1) {
    throw new EventValidationError('parentId', 'must be a positive integer event id, or null');
  }
  return parentId;
}

export function checkId(id: unknown): number {
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) throw new EventValidationError('id', 'must be a positive safe integer');
  return id;
}

export function checkNode(node: unknown): string {
  if (typeof node !== 'string' || node.length === 0 || node.length > MAX_NODE_LENGTH || !isWellFormed(node)) {
    throw new EventValidationError('node', `must be a well-formed string of 1 to ${MAX_NODE_LENGTH} characters`);
  }
  return node;
}

/**
 * A checked, frozen copy of an event that did not come from this store's `newEvent`. With
 * `bounded`, an id above MAX_FOREIGN_EVENT_ID and a timestamp above MAX_FOREIGN_EVENT_TIMESTAMP
 * are refused (a store storing it); without, any positive safe integer is an id and any
 * non-negative finite number a timestamp (serializing it).
 */
export function checkForeignEvent(event: unknown, maxDataBytes: number, bounded = false): FoundationEvent {
  if (event === null || typeof event !== 'object') throw new EventValidationError('event', 'must be an object');
  const candidate = event as Record<string, unknown>;
  const id = checkId(candidate.id);
  if (bounded && id > MAX_FOREIGN_EVENT_ID) {
    throw new EventValidationError(
      'id',
      `${id} is above ${MAX_FOREIGN_EVENT_ID} (MAX_FOREIGN_EVENT_ID): a store keeps the ids above it for its own events; store events from other nodes as new events of this store`,
    );
  }
  const timestamp = candidate.timestamp;
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp) || timestamp < 0) {
    throw new EventValidationError('timestamp', 'must be a non-negative finite number of nanoseconds');
  }
  if (bounded && timestamp > MAX_FOREIGN_EVENT_TIMESTAMP) {
    throw new EventValidationError(
      'timestamp',
      `${timestamp} ns is above 2^62 ns (MAX_FOREIGN_EVENT_TIMESTAMP, 146 years of monotonic time): this store's own timestamps go on above every timestamp it holds, and would be moved there for good`,
    );
  }
  const wallTime = candidate.wallTime;
  if (typeof wallTime !== 'number' || !Number.isFinite(wallTime)) throw new EventValidationError('wallTime', 'must be a finite number of milliseconds');
  return Object.freeze({
    id,
    type: checkType(candidate.type),
    data: copyEventData(candidate.data, maxDataBytes),
    correlationId: checkCorrelationId(candidate.correlationId),
    parentId: checkParentId(candidate.parentId),
    timestamp,
    wallTime,
    node: checkNode(candidate.node),
  });
}
