// The wire and disk form of an event: a CBOR array
//   [1, id, type, correlationId, parentId | null, timestamp, wallTime, node, data]
// where 1 is the format version. Decoding treats the bytes as hostile: the size is bounded
// before anything is read, the structure is scanned before it is decoded, every field is checked
// after, and the data's own size is held to `maxDataBytes` exactly as on the way in.
import type { FoundationEvent } from '../event';
import { DEFAULT_MAX_DATA_BYTES, MAX_CORRELATION_ID_LENGTH, MAX_NODE_LENGTH, MAX_TYPE_LENGTH } from '../event';
import { EventDeserializationError } from '../errors/event-deserialization-error';
import { EventValidationError } from '../errors/event-validation-error';
import { checkForeignEvent } from '../internal/check-event';
import { MadeEvent } from '../internal/made-event';
import { decodeValue, encodeValue } from './cbor-codec';

const FORMAT_VERSION = 1;
/** Room for everything but the data: three bounded strings and five numbers. */
const ENVELOPE_BYTES = 4096;

export interface DeserializeOptions {
  /** Data larger than this is refused, as `newEvent` refuses it. Default 1,000,000 (1.x). */
  readonly maxDataBytes?: number | undefined;
}

/**
 * An event as CBOR bytes. Events made by a store were checked when made; any other event is
 * checked first (EventValidationError, EventSecurityError), so that what is written is what
 * `deserializeEvent` accepts. EventSerializationError (3101) if encoding fails anyway.
 */
export function serializeEvent(event: FoundationEvent): Uint8Array {
  if (!MadeEvent.isMade(event)) event = checkForeignEvent(event, Number.MAX_SAFE_INTEGER);
  return encodeValue([
    FORMAT_VERSION,
    event.id,
    event.type,
    event.correlationId,
    event.parentId,
    event.timestamp,
    event.wallTime,
    event.node,
    event.data,
  ]);
}

/** 1.x `serialized_size`: the length of `serializeEvent(event)` in bytes. */
export function serializedSize(event: FoundationEvent): number {
  return serializeEvent(event).length;
}

function boundedString(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new EventDeserializationError(`field ${field} must be a string of 1 to ${max} characters`);
  }
  return value;
}

/**
 * The version field, for an error message: a number as it is, anything else by its kind. The
 * field is hostile input: String() of a decoded map with keys toString and valueOf throws, and a
 * string may be a megabyte long.
 */
function describeVersion(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  return `(of type ${Array.isArray(value) ? 'array' : typeof value})`;
}

function positiveInteger(value: unknown, field: string): number {
  const number = typeof value === 'bigint' && value > 0n && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 1) {
    throw new EventDeserializationError(`field ${field} must be a positive safe integer`);
  }
  return number;
}

function finiteNumber(value: unknown, field: string): number {
  const number = typeof value === 'bigint' && value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number)) throw new EventDeserializationError(`field ${field} must be a finite number`);
  return number;
}

/**
 * Rebuilds an event from `serializeEvent` bytes. Throws EventDeserializationError (3102) for
 * anything that is not a serialized event, EventSecurityError (5501) for data keys that could
 * reach a prototype and EventValidationError (3203) for data over `maxDataBytes`. Never returns
 * an object that shares memory with `bytes`.
 */
export function deserializeEvent(bytes: Uint8Array, options: DeserializeOptions = {}): FoundationEvent {
  const maxDataBytes = options.maxDataBytes ?? DEFAULT_MAX_DATA_BYTES;
  // NaN would compare false with every size below, and leave hostile input unbounded.
  if (!Number.isSafeInteger(maxDataBytes) || maxDataBytes < 1) throw new RangeError('maxDataBytes must be a positive integer');
  if (!(bytes instanceof Uint8Array)) throw new EventDeserializationError('expected a Uint8Array');
  const maxBytes = maxDataBytes + ENVELOPE_BYTES;
  if (bytes.length > maxBytes) throw new EventDeserializationError(`${bytes.length} bytes is more than the ${maxBytes} an event may take`);
  // The envelope array is a level around the data, which may itself nest as deep as newEvent allows.
  const { value, scan } = decodeValue(bytes, 1);
  if (!Array.isArray(value) || value.length !== 9) throw new EventDeserializationError('expected an array of 9 fields');
  const fields = value as unknown[];
  if (fields[0] !== FORMAT_VERSION) throw new EventDeserializationError(`unsupported format version ${describeVersion(fields[0])}`);
  const dataSize = scan.topLevelEnds[8]! - scan.topLevelEnds[7]!;
  if (dataSize > maxDataBytes) {
    throw new EventValidationError('data', `${dataSize} bytes is more than maxDataBytes (${maxDataBytes})`, { size: dataSize, maxBytes: maxDataBytes });
  }
  const parentId = fields[4] === null || fields[4] === undefined ? null : positiveInteger(fields[4], 'parentId');
  const timestamp = finiteNumber(fields[5], 'timestamp');
  if (timestamp < 0) throw new EventDeserializationError('field timestamp must not be negative');
  return Object.freeze({
    id: positiveInteger(fields[1], 'id'),
    type: boundedString(fields[2], 'type', MAX_TYPE_LENGTH),
    data: fields[8],
    correlationId: boundedString(fields[3], 'correlationId', MAX_CORRELATION_ID_LENGTH),
    parentId,
    timestamp,
    wallTime: finiteNumber(fields[6], 'wallTime'),
    node: boundedString(fields[7], 'node', MAX_NODE_LENGTH),
  });
}

/** The data of a stored event from its CBOR bytes (the SQLite store keeps data this way). */
export function decodeData(bytes: Uint8Array, maxDataBytes: number): unknown {
  if (bytes.length > maxDataBytes) {
    throw new EventValidationError('data', `${bytes.length} bytes is more than maxDataBytes (${maxDataBytes})`, { size: bytes.length, maxBytes: maxDataBytes });
  }
  return decodeValue(bytes).value;
}
