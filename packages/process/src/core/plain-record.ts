// Plain-object checks that hold across realms. Data deserialized from a worker thread (or built
// in another vm context, as test runners do) has another realm's Object.prototype, so comparing
// prototypes with this realm's would refuse perfectly plain data.
import { isPlainObject } from '@foundation/core';

/** True for `{...}` and `Object.create(null)` objects from any realm; false for class instances and arrays. */
export function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype === null || prototype === Object.prototype) return true;
  return Object.getPrototypeOf(prototype) === null && Object.prototype.toString.call(value) === '[object Object]';
}

/**
 * JSON-like data rebuilt in this realm when it comes from another one, so that checks made with
 * this realm's prototypes (FoundationError.fromJSON, for one) accept it. Data from this realm is
 * returned as it is.
 */
export function inThisRealm(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || isPlainObject(value) || Array.isArray(value)) return value;
  if (!isPlainRecord(value)) return value;
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return value;
  }
}
