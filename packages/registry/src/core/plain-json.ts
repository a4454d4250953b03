// Copies of untrusted JSON-like values: bounded in depth, size and key count, never sharing
// objects with the input, never creating a key that reaches a prototype. Used for metadata and
// targets from local callers (where a violation is an error to the caller) and from peers
// (where it refuses the message).
import { isPlainObject, isUnsafeKey } from '@foundation/core';

const MAX_DEPTH = 8;

/** Why a value is not plain JSON data; `path` locates it (`metadata.tags[2]`). */
export class PlainJsonProblem extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

/**
 * A deep, frozen copy of `value` if it is plain JSON data (null, booleans, finite numbers,
 * strings, arrays, objects with an Object or null prototype) within `MAX_DEPTH` levels and
 * `maxNodes` values, with no `__proto__`/`constructor`/`prototype` key; otherwise a
 * PlainJsonProblem naming the first offending place.
 */
export function copyPlainJson(value: unknown, path: string, maxNodes: number): unknown {
  let budget = maxNodes;
  const copy = (current: unknown, where: string, depth: number): unknown => {
    budget -= 1;
    if (budget < 0) throw new PlainJsonProblem(where, `more than ${maxNodes} values`);
    if (current === null || typeof current === 'string' || typeof current === 'boolean') return current;
    if (typeof current === 'number') {
      if (!Number.isFinite(current)) throw new PlainJsonProblem(where, 'numbers must be finite');
      return current;
    }
    if (typeof current !== 'object') throw new PlainJsonProblem(where, `${typeof current} is not JSON data`);
    if (depth >= MAX_DEPTH) throw new PlainJsonProblem(where, `nested deeper than ${MAX_DEPTH} levels`);
    if (Array.isArray(current)) {
      const result: unknown[] = [];
      for (let index = 0; index < current.length; index += 1) result.push(copy(current[index], `${where}[${index}]`, depth + 1));
      return Object.freeze(result);
    }
    if (!isPlainObject(current)) throw new PlainJsonProblem(where, 'only plain objects (no class instances, Maps, Dates)');
    const result: Record<string, unknown> = {};
    for (const key of Object.keys(current)) {
      if (isUnsafeKey(key)) throw new PlainJsonProblem(`${where}.${key}`, 'a key that could reach a prototype');
      result[key] = copy(current[key], `${where}.${key}`, depth + 1);
    }
    return Object.freeze(result);
  };
  return copy(value, path, 0);
}

/**
 * Whether two plain JSON values (as `copyPlainJson` returns) hold the same data: arrays item by
 * item in order, objects key by key in any order.
 */
export function plainJsonEqual(left: unknown, right: unknown): boolean {
  if (left === right) return true;
  if (left === null || right === null || typeof left !== 'object' || typeof right !== 'object') return false;
  if (Array.isArray(left) !== Array.isArray(right)) return false;
  if (Array.isArray(left)) {
    const other = right as unknown[];
    return left.length === other.length && left.every((item, index) => plainJsonEqual(item, other[index]));
  }
  const leftKeys = Object.keys(left);
  const rightRecord = right as Record<string, unknown>;
  if (leftKeys.length !== Object.keys(rightRecord).length) return false;
  return leftKeys.every((key) => Object.prototype.hasOwnProperty.call(rightRecord, key) && plainJsonEqual((left as Record<string, unknown>)[key], rightRecord[key]));
}
