// Reconstructing a request's path across the cluster from the flight recorders of many nodes,
// and decoding hop records that arrive from another node.
import { isPlainObject } from '@foundation/core';
import { isObjectArgument } from './arguments';
import { MAX_COUNTER_VALUE, MAX_IDENTIFIER_LENGTH, isCounter, isIdentifier } from './core/fields';
import { ContextOptionsError } from './errors/context-options-error';
import { describeValue } from './errors/describe-value';
import { InvalidContextValueError } from './errors/invalid-context-value-error';
import { InvalidHopRecordsError } from './errors/invalid-hop-records-error';
import type { HopRecord } from './flight-recorder';

/**
 * Orders the records of one correlation id, gathered from any number of nodes, along the path
 * the request took. The hop count orders them, not the clocks (nodes' clocks disagree): the
 * arrival with hop n, then departures with hop n, then arrivals with hop n + 1... Records with
 * the same position (a fan-out) are ordered by time, then node.
 */
export function reconstructPath(records: readonly HopRecord[]): HopRecord[] {
  // Spreading null threw "records is not iterable", and a string spread into its characters.
  // (Checked as unknown: narrowing the typed parameter would make its records `any`.)
  const given: unknown = records;
  if (!Array.isArray(given)) throw new InvalidContextValueError('records', 'must be an array of hop records', records);
  // The sort reads these fields of every item: a null item threw a bare TypeError from inside
  // it, and a record whose hops or time was not a number compared as NaN, which left the order
  // undefined instead of refusing the record. (An index loop: a sparse array's holes are items too.)
  for (let index = 0; index < given.length; index += 1) {
    const item: unknown = given[index];
    if (!isHopRecordShape(item)) {
      throw new InvalidContextValueError(`records[${index}]`, 'must be a hop record (a node, "in" or "out", a hop count and a finite time)', item);
    }
  }
  const position = (record: HopRecord): number => record.hops * 2 + (record.direction === 'out' ? 1 : 0);
  return [...records].sort(
    (left, right) =>
      position(left) - position(right) || left.time - right.time || (left.node < right.node ? -1 : left.node > right.node ? 1 : 0),
  );
}

/** True for an object with the fields `reconstructPath` orders by, each of the type a HopRecord holds. */
function isHopRecordShape(item: unknown): item is HopRecord {
  if (!isObjectArgument(item)) return false;
  const { node, direction, hops, time } = item as Partial<Record<keyof HopRecord, unknown>>;
  return typeof node === 'string' && (direction === 'in' || direction === 'out') && isCounter(hops) && typeof time === 'number' && Number.isFinite(time);
}

const HEX_32 = /^[0-9a-f]{32}$/;
const HEX_16 = /^[0-9a-f]{16}$/;

/**
 * Decodes hop records received from elsewhere (another node's `query` result sent as JSON or
 * CBOR). Input is hostile: at most `maxRecords` records; each field checked for type and size;
 * unknown fields ignored; the result holds fresh objects only. Throws InvalidHopRecordsError
 * (code 5204) naming the first bad record, and ContextOptionsError (5203) for a `maxRecords`
 * that is not a non-negative integer.
 */
export function parseHopRecords(data: unknown, maxRecords = 10_000): HopRecord[] {
  // NaN would compare false with every length below, and leave hostile input unbounded.
  if (!Number.isSafeInteger(maxRecords) || maxRecords < 0) throw new ContextOptionsError('maxRecords', `must be a non-negative integer (got ${describeValue(maxRecords)})`);
  if (!Array.isArray(data)) throw new InvalidHopRecordsError('expected an array');
  if (data.length > maxRecords) throw new InvalidHopRecordsError(`more than ${maxRecords} records`);
  // An index loop, not map: map skips the holes of a sparse array (structured clone and
  // v8.deserialize deliver them), which would come back as holes instead of an error.
  const records: HopRecord[] = [];
  for (let index = 0; index < data.length; index += 1) records.push(parseOne(data[index], index));
  return records;
}

function parseOne(item: unknown, index: number): HopRecord {
  if (!isPlainObject(item)) throw new InvalidHopRecordsError('expected an object', index);
  const identifier = (key: string, optional: boolean): string | undefined => {
    const value = item[key];
    if (value === undefined && optional) return undefined;
    if (!isIdentifier(value)) throw new InvalidHopRecordsError(`"${key}" must be 1–${MAX_IDENTIFIER_LENGTH} visible ASCII characters`, index);
    return value;
  };
  const direction = item.direction;
  if (direction !== 'in' && direction !== 'out') throw new InvalidHopRecordsError('"direction" must be "in" or "out"', index);
  const hops = item.hops;
  if (!isCounter(hops)) throw new InvalidHopRecordsError(`"hops" must be an integer in 0..${MAX_COUNTER_VALUE}`, index);
  const time = item.time;
  if (typeof time !== 'number' || !Number.isFinite(time)) throw new InvalidHopRecordsError('"time" must be a finite number', index);
  const traceId = item.traceId;
  if (traceId !== undefined && (typeof traceId !== 'string' || !HEX_32.test(traceId))) throw new InvalidHopRecordsError('"traceId" must be 32 hex digits', index);
  const spanId = item.spanId;
  if (spanId !== undefined && (typeof spanId !== 'string' || !HEX_16.test(spanId))) throw new InvalidHopRecordsError('"spanId" must be 16 hex digits', index);
  const record: { -readonly [K in keyof HopRecord]: HopRecord[K] } = {
    correlationId: identifier('correlationId', false)!,
    node: identifier('node', false)!,
    process: identifier('process', false)!,
    direction,
    hops,
    time,
  };
  const requestId = identifier('requestId', true);
  const originNode = identifier('originNode', true);
  const peer = identifier('peer', true);
  if (requestId !== undefined) record.requestId = requestId;
  if (originNode !== undefined) record.originNode = originNode;
  if (peer !== undefined) record.peer = peer;
  if (traceId !== undefined) record.traceId = traceId;
  if (spanId !== undefined) record.spanId = spanId;
  return record;
}
