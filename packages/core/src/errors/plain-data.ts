// Bounded copies of untrusted, JSON-like data: used for error contexts on their way to and
// from the wire. A copy never shares objects with its input, never follows more than
// `maxDepth` levels or `maxNodes` values, and never creates keys that reach a prototype.

export interface PlainDataLimits {
  readonly maxDepth: number;
  readonly maxNodes: number;
  readonly maxStringLength: number;
  readonly maxKeys: number;
}

export const DEFAULT_PLAIN_DATA_LIMITS: PlainDataLimits = Object.freeze({
  maxDepth: 8,
  maxNodes: 1000,
  maxStringLength: 8192,
  maxKeys: 200,
});

/** What stands for a value that throws when it is looked at. */
const UNREADABLE = '[unreadable]';

const UNSAFE_KEYS = new Set(['__proto__', 'prototype', 'constructor']);

export function isUnsafeKey(key: string): boolean {
  return UNSAFE_KEYS.has(key);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Copies `value` into plain JSON-like data within `limits`. Values that are not JSON-like
 * (functions, symbols, class instances) become a short descriptive string rather than an
 * error, and a value that throws when looked at (a getter, a revoked proxy) becomes
 * `[unreadable]`, so that building an error report never throws. Errors become `{ name, message }`.
 */
export function toPlainData(value: unknown, limits: PlainDataLimits = DEFAULT_PLAIN_DATA_LIMITS): unknown {
  let budget = limits.maxNodes;
  const seen = new Set<object>();

  // Looking at a value may run code that throws: a getter, a proxy's trap, a revoked proxy
  // (even Array.isArray throws for one). What cannot be read is described as such, so that the
  // rest of the report is still built.
  const copy = (current: unknown, depth: number): unknown => {
    try {
      return copyReadable(current, depth);
    } catch {
      return UNREADABLE;
    }
  };

  /** A property of an object being copied; one that throws when read stands for itself only. */
  const property = (object: object, key: string | number): unknown => {
    try {
      return (object as Record<string | number, unknown>)[key];
    } catch {
      return UNREADABLE;
    }
  };

  const copyReadable = (current: unknown, depth: number): unknown => {
    budget -= 1;
    if (budget < 0) return '[truncated]';
    switch (typeof current) {
      case 'string':
        return current.length > limits.maxStringLength ? `${current.slice(0, limits.maxStringLength)}…` : current;
      case 'number':
        return Number.isFinite(current) ? current : String(current);
      case 'boolean':
        return current;
      case 'bigint':
        return current.toString();
      case 'undefined':
        return null;
      case 'function':
        return `[function ${current.name || 'anonymous'}]`;
      case 'symbol':
        return current.toString();
      default:
        break;
    }
    if (current === null) return null;
    const object = current as object;
    if (depth >= limits.maxDepth) return '[depth limit]';
    if (seen.has(object)) return '[circular]';
    seen.add(object);
    try {
      if (Array.isArray(object)) {
        const length = Math.min(object.length, limits.maxKeys);
        const result: unknown[] = [];
        for (let index = 0; index < length; index += 1) result.push(copy(property(object, index), depth + 1));
        return result;
      }
      // Copied like any other value: a message may be a whole response body, and code may have
      // set an error's name or message to anything, a circular object included.
      if (object instanceof Error) return { name: copy(property(object, 'name'), depth + 1), message: copy(property(object, 'message'), depth + 1) };
      if (object instanceof Date) return Number.isNaN(object.getTime()) ? null : object.toISOString();
      if (ArrayBuffer.isView(object)) return `[${object.constructor.name} ${object.byteLength} bytes]`;
      if (object instanceof Map) return `[Map ${object.size} entries]`;
      if (object instanceof Set) return `[Set ${object.size} entries]`;
      if (!isPlainObject(object)) return `[${object.constructor?.name ?? 'object'}]`;
      const result: Record<string, unknown> = {};
      let keys = 0;
      for (const key of Object.keys(object)) {
        if (isUnsafeKey(key)) continue;
        keys += 1;
        if (keys > limits.maxKeys) break;
        result[key] = copy(property(object, key), depth + 1);
      }
      return result;
    } finally {
      seen.delete(object);
    }
  };

  return copy(value, 0);
}
