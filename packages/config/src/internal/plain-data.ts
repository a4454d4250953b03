// The values a config may hold: JSON-like plain data (null, booleans, finite numbers, strings,
// arrays and plain objects). Everything that enters the config is checked and copied here
// first, so no caller keeps a handle on config state and nothing that runs code (functions,
// accessors, proxies, class instances) or reaches a prototype (`__proto__`, `constructor`,
// `prototype` keys) ever gets in.
//
// @foundation/events' copyEventData looks alike but is not the same function: its values are
// CBOR (undefined, NaN, bigints and byte arrays are data there), it freezes as it copies and is
// bounded by encoded size, and it reports class instances and cycles as validation errors,
// where a config value is JSON, bounded by a count of values, and those are security errors.
import { types } from 'node:util';
import { isUnsafeKey, isWellFormed } from '@foundation/core';
import { ConfigSecurityError } from '../errors/config-security-error';
import { ConfigValidationError } from '../errors/config-validation-error';
import { MAX_SEGMENT_LENGTH } from '../path';

/**
 * Deeper values are refused: configs are shallow, and recursion must stay bounded. The depth
 * counts from the config's root, not from where a value is set, so that no update or variable
 * builds a tree the config would then refuse as a whole (in `validate(get())`, or read from a file).
 */
export const MAX_VALUE_DEPTH = 64;
/** More values than this in one update or source are refused. */
export const MAX_VALUE_NODES = 1_000_000;

/**
 * Own properties read by inspectPlainCopy since the process started, for tests: what refusing
 * a large value costs, counted rather than timed. The names of an array listed to look for
 * named properties count too: listing them costs as much as reading each index, and skipping
 * that for an array the budget cannot hold is what keeps refusing one cheap.
 */
let inspectedProperties = 0;
export function inspectedPropertyCount(): number {
  return inspectedProperties;
}

function describeKind(value: unknown): string {
  if ((typeof value === 'function' || typeof value === 'object') && value !== null && types.isProxy(value)) return 'a proxy';
  if (typeof value === 'function') return `a function (${value.name || 'anonymous'})`;
  if (typeof value === 'symbol') return `a symbol (${value.toString()})`;
  if (typeof value === 'object' && value !== null) {
    const prototype: unknown = Object.getPrototypeOf(value);
    const name = (prototype as { constructor?: { name?: unknown } } | null)?.constructor?.name;
    return `an instance of ${typeof name === 'string' && name !== '' ? name : 'a class'}`;
  }
  return typeof value;
}

function invalid(path: readonly string[], message: string, origin: string | undefined): ConfigValidationError {
  return new ConfigValidationError({ path, issues: [{ path, message }], ...(origin === undefined ? {} : { origins: [origin] }) });
}

/**
 * The first key of `segments` (a path an update or an environment variable writes to) that
 * holds a lone surrogate, as the plain-data rules see it: a path names keys it makes, which
 * reach the other nodes as a value's own keys do. `origin` as for `inspectPlainCopy`.
 */
export function pathKeyProblem(segments: readonly string[], origin?: string): ConfigValidationError | undefined {
  const index = segments.findIndex((segment) => !isWellFormed(segment));
  if (index < 0) return undefined;
  const path = segments.slice(0, index + 1);
  return invalid(path, 'a key with a lone surrogate is not a config key (UTF-8 cannot hold it)', origin);
}

/** A copy of a value, and the first plain-data rule it breaks (if any), once it is known to be safe. */
export interface PlainCopyInspection {
  readonly copy: unknown;
  /** Undefined, NaN, Infinity, bigint, holes, too deep or too large: the first such problem. */
  readonly problem: ConfigValidationError | undefined;
}

/**
 * Walks `value` once, throwing ConfigSecurityError for anything that could run code or reach a
 * prototype, wherever it is; the first value that JSON cannot hold (undefined, NaN, Infinity,
 * bigint, holes in arrays), or that is too deep or too large, is returned as `problem` rather
 * than thrown, so that a caller can run other checks between the two (an update checks the
 * allow-list there). Nothing beyond the depth and size bounds is looked at. `at` is where the
 * value will live, for messages and for its depth (which counts from the root), and `origin`
 * where it came from (a file, a variable), for messages.
 */
export function inspectPlainCopy(value: unknown, at: readonly string[] = [], origin?: string): PlainCopyInspection {
  const from = origin === undefined ? '' : ` (in ${origin})`;
  let budget = MAX_VALUE_NODES;
  const ancestors = new Set<object>();
  let problem: ConfigValidationError | undefined;
  const note = (path: readonly string[], message: string): undefined => {
    problem ??= invalid(path, message, origin);
    return undefined;
  };

  const copy = (current: unknown, path: string[]): unknown => {
    if (budget < 0) return undefined;
    budget -= 1;
    if (budget < 0) return note(at, `more than ${MAX_VALUE_NODES} values`);
    switch (typeof current) {
      case 'string':
        if (!isWellFormed(current)) return note(path, 'a string with a lone surrogate is not a config value (UTF-8 cannot hold it)');
        return current;
      case 'boolean':
        return current;
      case 'number':
        if (!Number.isFinite(current)) return note(path, `${String(current)} is not a finite number`);
        return current;
      case 'undefined':
        return note(path, 'undefined is not a config value (use null)');
      case 'bigint':
        return note(path, 'a bigint is not a config value (JSON cannot hold it)');
      case 'function':
      case 'symbol':
        throw new ConfigSecurityError('non-plain-value', path, `${describeKind(current)} is not plain data${from}`);
      default:
        break;
    }
    if (current === null) return null;
    const object = current as object;
    if (types.isProxy(object)) throw new ConfigSecurityError('non-plain-value', path, `a proxy is not plain data${from}`);
    if (ancestors.has(object)) throw new ConfigSecurityError('circular-value', path, `the value contains itself${from}`);
    if (path.length >= MAX_VALUE_DEPTH) return note(path, `nested deeper than ${MAX_VALUE_DEPTH} levels`);
    const prototype: unknown = Object.getPrototypeOf(object);
    const isArray = Array.isArray(object);
    if (isArray ? prototype !== Array.prototype : prototype !== Object.prototype && prototype !== null) {
      throw new ConfigSecurityError('non-plain-value', path, `${describeKind(object)} is not plain data${from}`);
    }
    if (Object.getOwnPropertySymbols(object).length > 0) {
      throw new ConfigSecurityError('non-plain-value', path, `symbol-keyed properties are not plain data${from}`);
    }
    ancestors.add(object);
    try {
      if (isArray) {
        const array = object as unknown[];
        const result: unknown[] = new Array<unknown>(array.length);
        // Named properties are looked for only in an array the budget can hold: listing the
        // properties of a longer one costs its whole length (24 s and a gigabyte for a 16 MB file
        // of eight million zeros), and the walk below refuses it once the budget runs out anyway.
        if (array.length <= budget) {
          const names = Object.getOwnPropertyNames(array);
          inspectedProperties += names.length;
          for (const key of names) {
            if (key === 'length') continue;
            const index = Number(key);
            if (!(Number.isInteger(index) && index >= 0 && String(index) === key)) {
              throw new ConfigSecurityError('non-plain-value', [...path, key], `an array with named properties is not plain data${from}`);
            }
          }
        }
        // One item at a time, so that the walk stops reading where the budget runs out.
        for (let index = 0; index < array.length && budget >= 0; index += 1) {
          const descriptor = Object.getOwnPropertyDescriptor(array, index);
          inspectedProperties += 1;
          const elementPath = [...path, String(index)];
          if (descriptor === undefined) {
            note(elementPath, 'arrays may not have holes');
            // A hole counts against the budget like a value: `new Array(2 ** 32 - 1)` is all holes.
            budget -= 1;
            continue;
          }
          if (descriptor.get !== undefined || descriptor.set !== undefined) {
            throw new ConfigSecurityError('non-plain-value', elementPath, `an accessor property runs code; it is not plain data${from}`);
          }
          result[index] = copy(descriptor.value, elementPath);
        }
        return result;
      }
      const result: Record<string, unknown> = {};
      // One property at a time, so that the walk stops reading where the budget runs out.
      for (const key of Object.getOwnPropertyNames(object)) {
        if (budget < 0) break;
        const descriptor = Object.getOwnPropertyDescriptor(object, key)!;
        inspectedProperties += 1;
        const keyPath = [...path, key];
        if (isUnsafeKey(key)) throw new ConfigSecurityError('unsafe-key', keyPath, `key "${key}" could reach a prototype${from}`);
        if (descriptor.get !== undefined || descriptor.set !== undefined) {
          throw new ConfigSecurityError('non-plain-value', keyPath, `an accessor property runs code; it is not plain data${from}`);
        }
        if (descriptor.enumerable !== true) continue;
        if (!isWellFormed(key)) note(keyPath, 'a key with a lone surrogate is not a config key (UTF-8 cannot hold it)');
        // A key no path can name could be read through the whole config only, and never set,
        // reverted or allowed: it is refused where it comes in, as the path would be. The issue
        // names its parent, and the message shows only the key's start: it may be very long.
        if (key.length > MAX_SEGMENT_LENGTH) {
          note(path, `the key "${key.slice(0, 40)}…" (${key.length} characters) is longer than the ${MAX_SEGMENT_LENGTH} characters a config path allows`);
        }
        result[key] = copy(descriptor.value, keyPath);
      }
      return result;
    } finally {
      ancestors.delete(object);
    }
  };

  const result = copy(value, [...at]);
  return { copy: result, problem };
}

/**
 * A deep copy of `value` as plain config data, or a throw: ConfigSecurityError for anything
 * that could run code or reach a prototype (wherever it is in the value), else
 * ConfigValidationError for data that JSON cannot hold (undefined, NaN, Infinity, bigint, holes
 * in arrays) or that is too deep or too large. `at` and `origin` as for `inspectPlainCopy`.
 */
export function toPlainCopy(value: unknown, at: readonly string[] = [], origin?: string): unknown {
  const { copy, problem } = inspectPlainCopy(value, at, origin);
  if (problem !== undefined) throw problem;
  return copy;
}

/** True for a plain object (not an array): the only thing a path can descend into besides arrays. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Freezes, in place, `value` and every plain object and array reachable from it through plain
 * objects and arrays: a tree the config built (copied in from the sources or an update). Any
 * other object is left as it is, neither frozen nor looked into. Every object frozen here is
 * added to `built`, which `freezeSnapshot` then keeps as is.
 */
export function deepFreeze<T>(value: T, built: Set<object> = new Set()): T {
  const freeze = (current: unknown): void => {
    if (current === null || typeof current !== 'object') return;
    if (built.has(current)) return;
    if (!Array.isArray(current) && !isRecord(current)) return;
    built.add(current);
    for (const key of Object.keys(current)) freeze((current as Record<string, unknown>)[key]);
    Object.freeze(current);
  };
  freeze(value);
  return value;
}

/**
 * A schema's output as the config serves it: every plain object and array in it frozen, and
 * no object the config does not own changed. Plain objects and arrays the config built (in
 * `built`, from `deepFreeze`) are kept; any other, made by the validator or returned by a
 * transform, which the application may still hold, is copied and the copy frozen (shared
 * references and cycles stay shared). Other objects a transform returns (a Date, a Map, a
 * Buffer, a class instance) are its values: kept as they are, neither frozen, copied nor looked
 * into, the way paths stop at them.
 */
export function freezeSnapshot<T>(output: T, built: ReadonlySet<object>): T {
  const copies = new Map<object, unknown>();
  const seal = (current: unknown): unknown => {
    if (current === null || typeof current !== 'object' || built.has(current)) return current;
    const isArray = Array.isArray(current);
    if (!isArray && !isRecord(current)) return current;
    const known = copies.get(current);
    if (known !== undefined) return known;
    const copy: object = isArray ? new Array<unknown>((current as unknown[]).length) : (Object.create(Object.getPrototypeOf(current) as object | null) as object);
    copies.set(current, copy);
    for (const key of Object.keys(current)) {
      // defineProperty, not assignment: an own "__proto__" key stays an own property.
      Object.defineProperty(copy, key, { value: seal((current as Record<string, unknown>)[key]), enumerable: true, writable: true, configurable: true });
    }
    return Object.freeze(copy);
  };
  return seal(output) as T;
}
