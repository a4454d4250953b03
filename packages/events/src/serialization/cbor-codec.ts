// CBOR encoding and hostile-input-safe decoding of event data, on cbor-x. Encoding never uses
// records, structured clones or tags beyond big integers, so what it writes is what the guard
// accepts. Decoding scans the bytes first (cbor-guard), then decodes, then copies byte strings
// out of the input buffer and freezes the result.
import { FoundationError } from '@foundation/core';
import { Decoder, Encoder } from 'cbor-x';
import { MAX_BIGINT_BYTES } from '../event';
import { EventDeserializationError } from '../errors/event-deserialization-error';
import { EventSerializationError } from '../errors/event-serialization-error';
import { scanCbor } from './cbor-guard';
import type { CborScanResult } from './cbor-guard';

/** Data nested deeper than this does not decode. */
export const MAX_DECODE_DEPTH = 64;

const encoder = new Encoder({
  useRecords: false,
  structuredClone: false,
  pack: false,
  tagUint8Array: false,
  largeBigIntToFloat: false,
});

const decoder = new Decoder({ useRecords: false, structuredClone: false, mapsAsObjects: true, pack: false });

export function encodeValue(value: unknown): Uint8Array {
  try {
    return encoder.encode(value);
  } catch (error) {
    throw serializationFailure(error);
  }
}

/**
 * What reading data to encode it threw (a getter, a proxy, an unencodable value), as 3101 with it
 * as the cause. Described by FoundationError.from, which never throws itself: String() of a
 * thrown object without a prototype did, and a TypeError escaped in place of the 3101.
 */
export function serializationFailure(error: unknown): EventSerializationError {
  return new EventSerializationError(FoundationError.from(error).message, error);
}

export function encodedSize(value: unknown): number {
  return encodeValue(value).length;
}

/** Byte strings become Uint8Arrays of their own (not views of the input); everything is frozen. */
function settle(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index += 1) value[index] = settle(value[index]);
    return Object.freeze(value);
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) record[key] = settle(record[key]);
  return Object.freeze(record);
}

/**
 * Decodes CBOR bytes that passed the guard. Throws EventDeserializationError (3102) for anything
 * malformed and EventSecurityError (5501) for map keys that could reach a prototype. `wrapping`
 * is how many levels of containers the caller puts around data (the event envelope is one):
 * they do not count against the data's MAX_DECODE_DEPTH.
 */
export function decodeValue(bytes: Uint8Array, wrapping = 0): { readonly value: unknown; readonly scan: CborScanResult } {
  const scan = scanCbor(bytes, { maxDepth: MAX_DECODE_DEPTH + wrapping, maxBigIntBytes: MAX_BIGINT_BYTES });
  let value: unknown;
  try {
    // A view of its own over the same memory (no copy): cbor-x keeps a DataView on its input
    // as a property, which would otherwise be written into the caller's array, and fail on one
    // that may not take new properties.
    value = decoder.decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new EventDeserializationError(error instanceof Error ? error.message : String(error), undefined, error);
  }
  return { value: settle(value), scan };
}
