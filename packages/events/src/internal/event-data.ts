// Event data on its way in: checked to be plain data, copied (so no caller keeps a handle on a
// stored event) and frozen, with its CBOR size bounded. Most data is small, so the size is first
// estimated from above in the same walk; only data whose estimate exceeds the limit is encoded
// to learn its exact size.
//
// @foundation/config's toPlainCopy looks alike but is not the same function: config values are
// JSON (no undefined, NaN, bigint or bytes), not frozen while copied, bounded by a count of
// values; config refuses symbol keys, named array properties and holes and calls class
// instances and cycles security errors. Events carry CBOR (undefined, NaN, bigints, Uint8Arrays),
// freeze as they copy, are bounded by encoded size, and call those validation errors.
import { types } from 'node:util';
import { isUnsafeKey, isWellFormed } from '@foundation/core';
import type { FoundationEvent } from '../event';
import { MAX_BIGINT_BYTES } from '../event';
import { EventSecurityError } from '../errors/event-security-error';
import { EventValidationError } from '../errors/event-validation-error';
import { encodedSize } from '../serialization/cbor-codec';

const MAX_DEPTH = 64;
/** Big integers from -BIGINT_BOUND to BIGINT_BOUND - 1 encode in at most MAX_BIGINT_BYTES. */
const BIGINT_BOUND = 1n << BigInt(MAX_BIGINT_BYTES * 8);

function describeKind(value: object): string {
  if (types.isProxy(value)) return 'a proxy';
  const prototype: unknown = Object.getPrototypeOf(value);
  const name = (prototype as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return `an instance of ${typeof name === 'string' && name !== '' ? name : 'a class'}`;
}

function isPlainPrototype(prototype: unknown): boolean {
  return prototype === Object.prototype || prototype === null;
}

/**
 * A frozen copy of `data`, or a throw: EventSecurityError for keys that could reach a prototype
 * and for values that run code when read (accessors, proxies); EventValidationError for
 * anything else that is not plain data, for cycles, for bigints over MAX_BIGINT_BYTES, and for
 * data over `maxBytes` (naming its size). `found.bytes` is set when the data holds a byte array.
 */
export function copyEventData(data: unknown, maxBytes: number, found?: { bytes: boolean }): unknown {
  let estimate = 0;
  // The items of every array met so far. Each takes at least a byte (a hole encodes as
  // undefined), so once they outnumber maxBytes the data is too large, and the walk stops
  // before visiting them: a sparse array costs a loop over its length, not over its contents,
  // and `new Array(2 ** 32 - 1)` would take ten minutes to walk.
  let arrayItems = 0;
  const ancestors: object[] = [];
  // The keys from the root to the value being copied, kept as a stack: only errors read it.
  const stack: string[] = [];
  const here = (): string => stack.join('.') || '(root)';
  const pathTo = (key?: string): string[] => (key === undefined ? [...stack] : [...stack, key]);

  const copy = (value: unknown): unknown => {
    switch (typeof value) {
      case 'string':
        if (!isWellFormed(value)) throw new EventValidationError('data', `the string at ${here()} is not well-formed Unicode (it holds a lone surrogate)`);
        estimate += 5 + value.length * 3;
        return value;
      case 'number':
        estimate += 9;
        return value;
      case 'boolean':
      case 'undefined':
        estimate += 1;
        return value;
      case 'bigint':
        // Compared, not measured: measuring a huge bigint would itself take time.
        if (value >= BIGINT_BOUND || value < -BIGINT_BOUND) {
          throw new EventValidationError('data', `the bigint at ${here()} takes more than ${MAX_BIGINT_BYTES} bytes (${MAX_BIGINT_BYTES * 8} bits); store it as a string or a Uint8Array`);
        }
        estimate += 13 + Math.ceil(value.toString(16).length / 2);
        return value;
      case 'function':
      case 'symbol':
        throw new EventValidationError('data', `${typeof value} at ${here()} is not plain data`);
      default:
        break;
    }
    if (value === null) {
      estimate += 1;
      return null;
    }
    const object = value as object;
    if (types.isProxy(object)) throw new EventSecurityError(pathTo(), 'a proxy runs code when read; it is not plain data');
    if (object instanceof Uint8Array && (Object.getPrototypeOf(object) === Uint8Array.prototype || Buffer.isBuffer(object))) {
      if (found !== undefined) found.bytes = true;
      estimate += 5 + object.byteLength;
      return new Uint8Array(object);
    }
    if (ancestors.includes(object)) throw new EventValidationError('data', `the value at ${here()} contains itself`);
    if (ancestors.length >= MAX_DEPTH) throw new EventValidationError('data', `nested deeper than ${MAX_DEPTH} levels`);
    const isArray = Array.isArray(object);
    const prototype: unknown = Object.getPrototypeOf(object);
    if (isArray ? prototype !== Array.prototype : !isPlainPrototype(prototype)) {
      throw new EventValidationError('data', `${describeKind(object)} at ${here()} is not plain data (use plain objects, arrays, strings, numbers, booleans, null, bigints or Uint8Arrays)`);
    }
    ancestors.push(object);
    try {
      estimate += 5;
      if (isArray) {
        const array = object as unknown[];
        arrayItems += array.length;
        if (arrayItems > maxBytes) {
          const size = arrayItems + 1;
          throw new EventValidationError('data', `its arrays hold ${arrayItems} items (the one at ${here()} ${array.length}), so it takes at least ${size} bytes, more than maxDataBytes (${maxBytes})`, { size, maxBytes });
        }
        const result = new Array<unknown>(array.length);
        for (let index = 0; index < array.length; index += 1) {
          const descriptor = Object.getOwnPropertyDescriptor(array, index);
          if (descriptor !== undefined && (descriptor.get !== undefined || descriptor.set !== undefined)) {
            throw new EventSecurityError(pathTo(String(index)), 'an accessor runs code when read; it is not plain data');
          }
          stack.push(String(index));
          result[index] = copy(descriptor?.value);
          stack.pop();
        }
        return Object.freeze(result);
      }
      const result: Record<string, unknown> = {};
      for (const key of Object.keys(object)) {
        if (isUnsafeKey(key)) throw new EventSecurityError(pathTo(key), `key "${key}" could reach a prototype`);
        if (!isWellFormed(key)) throw new EventValidationError('data', `a key at ${here()} is not well-formed Unicode (it holds a lone surrogate)`);
        const descriptor = Object.getOwnPropertyDescriptor(object, key)!;
        if (descriptor.get !== undefined || descriptor.set !== undefined) {
          throw new EventSecurityError(pathTo(key), 'an accessor runs code when read; it is not plain data');
        }
        estimate += 5 + key.length * 3;
        stack.push(key);
        result[key] = copy(descriptor.value);
        stack.pop();
      }
      return Object.freeze(result);
    } finally {
      ancestors.pop();
    }
  };

  const result = copy(data);
  if (estimate > maxBytes) {
    const size = encodedSize(result);
    if (size > maxBytes) {
      throw new EventValidationError('data', `${size} bytes is more than maxDataBytes (${maxBytes}); store a reference or a truncateIfLarge() preview instead`, { size, maxBytes });
    }
  }
  return result;
}

/** Whether plain event data holds a byte array anywhere: the one part of it that cannot be frozen. */
export function holdsBytes(data: unknown): boolean {
  if (data === null || typeof data !== 'object') return false;
  if (data instanceof Uint8Array) return true;
  if (Array.isArray(data)) {
    for (let index = 0; index < data.length; index += 1) if (holdsBytes(data[index])) return true;
    return false;
  }
  // for-in, not Object.keys: no array to allocate on the path of every append.
  for (const key in data) if (holdsBytes((data as Record<string, unknown>)[key])) return true;
  return false;
}

/**
 * The event with fresh copies of the byte arrays in its data (a plain frozen object): what a
 * reader is handed when the event it reads, or is delivered, holds byte arrays that others see.
 */
export function withOwnBytes(event: FoundationEvent): FoundationEvent {
  return Object.freeze({ ...event, data: copyBytes(event.data) });
}

/**
 * Plain event data with fresh copies of its byte arrays, frozen like the original (whose other
 * values are immutable already). A store that keeps events in memory hands these out, so that a
 * reader who writes into a byte array does not change the stored event for every later reader.
 */
export function copyBytes(data: unknown): unknown {
  if (data instanceof Uint8Array) return new Uint8Array(data);
  if (data === null || typeof data !== 'object') return data;
  if (Array.isArray(data)) return Object.freeze(data.map(copyBytes));
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(data)) {
    Object.defineProperty(result, key, { value: copyBytes((data as Record<string, unknown>)[key]), enumerable: true, writable: true, configurable: true });
  }
  return Object.freeze(result);
}
