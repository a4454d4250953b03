// Reading and writing paths in config trees. Writes copy on write: the old tree is never
// changed, so a failed validation leaves the current config exactly as it was.
import { ConfigPathNotFoundError } from '../errors/config-path-not-found-error';
import { MAX_SEGMENT_LENGTH } from '../path';
import { isRecord } from './plain-data';

const hasOwn = (object: object, key: string): boolean => Object.prototype.hasOwnProperty.call(object, key);

function isArrayIndex(key: string, length: number, allowAppend: boolean): boolean {
  if (!/^(0|[1-9][0-9]*)$/.test(key)) return false;
  const index = Number(key);
  return allowAppend ? index <= length : index < length;
}

/**
 * Entries (keys or array items) copied by setAt and removeAt since the process started, for
 * tests: what a batch of changes costs, counted rather than timed.
 */
let copiedEntries = 0;
export function copiedEntryCount(): number {
  return copiedEntries;
}

function copyArray(node: readonly unknown[]): unknown[] {
  copiedEntries += node.length;
  return node.slice();
}

function copyRecord(node: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...node };
  copiedEntries += Object.keys(copy).length;
  return copy;
}

/** The own child of a plain object or array under `key`, or `absent`. */
export const ABSENT: unique symbol = Symbol('absent');

export function childOf(node: unknown, key: string): unknown {
  if (Array.isArray(node)) return isArrayIndex(key, node.length, false) ? (node[Number(key)] as unknown) : ABSENT;
  if (isRecord(node)) return hasOwn(node, key) ? node[key] : ABSENT;
  return ABSENT;
}

/** The value at `path`, or ABSENT. Only own properties are followed, never a prototype. */
export function valueAt(root: unknown, path: readonly string[]): unknown {
  let node = root;
  for (const key of path) {
    node = childOf(node, key);
    if (node === ABSENT) return ABSENT;
  }
  return node;
}

/**
 * The fast read of an array path: own properties only, array indexes only (never `length`),
 * into plain objects and arrays only (as `childOf`: a Date, Buffer or class instance a
 * transform returns ends a path), and ABSENT for anything unusual (a missing key, an unsafe or
 * malformed or over-long segment, a long path), which the caller then parses for the precise error.
 */
export function walk(root: unknown, path: readonly unknown[]): unknown {
  if (path.length > 64) return ABSENT;
  let node = root;
  for (let position = 0; position < path.length; position += 1) {
    const segment = path[position];
    if (!Array.isArray(node) && !isRecord(node)) return ABSENT;
    if (typeof segment === 'string') {
      // A segment parsePath refuses is no path, even where a transform returned such a key.
      if (segment === '__proto__' || segment === 'constructor' || segment === 'prototype' || segment.length > MAX_SEGMENT_LENGTH) return ABSENT;
      if (Array.isArray(node)) {
        if (!isArrayIndex(segment, node.length, false)) return ABSENT;
      } else if (!hasOwn(node, segment)) {
        return ABSENT;
      }
      node = (node as Record<string, unknown>)[segment];
    } else if (typeof segment === 'number') {
      if (!Number.isSafeInteger(segment) || segment < 0) return ABSENT;
      if (Array.isArray(node)) {
        if (segment >= node.length) return ABSENT;
        node = node[segment] as unknown;
      } else {
        if (!hasOwn(node, String(segment))) return ABSENT;
        node = node[String(segment)];
      }
    } else {
      return ABSENT;
    }
  }
  return node;
}

/**
 * Nodes a batch of changes made itself, which nothing else holds yet: its later changes write
 * into them in place instead of copying them again, so n changes in one object copy it once,
 * not n times.
 */
export type OwnedNodes = WeakSet<object>;

/**
 * A new tree equal to `root` with `value` at `path`. Every ancestor of the path must exist as a
 * plain object or array (the last key may be new; an array index may append), else
 * ConfigPathNotFoundError names the first missing ancestor. With `owned`, nodes in it are
 * changed in place and the copies made join it (the root returned may then be `root` itself).
 */
export function setAt(root: unknown, path: readonly string[], value: unknown, owned?: OwnedNodes): unknown {
  if (path.length === 0) return value;
  const write = (node: unknown, depth: number): unknown => {
    const key = path[depth]!;
    const last = depth === path.length - 1;
    if (Array.isArray(node)) {
      if (!isArrayIndex(key, node.length, last)) {
        throw new ConfigPathNotFoundError(path.slice(0, depth + 1), `index ${key} is outside the array of ${node.length} items at ${path.slice(0, depth).join('.') || '(root)'}`);
      }
      const copy = owned?.has(node) === true ? node : copyArray(node);
      owned?.add(copy);
      copy[Number(key)] = last ? value : write(node[Number(key)], depth + 1);
      return copy;
    }
    if (isRecord(node)) {
      if (!last && !hasOwn(node, key)) throw new ConfigPathNotFoundError(path.slice(0, depth + 1), 'a parent of the updated key does not exist');
      const copy = owned?.has(node) === true ? node : copyRecord(node);
      owned?.add(copy);
      copy[key] = last ? value : write(node[key], depth + 1);
      return copy;
    }
    throw new ConfigPathNotFoundError(path.slice(0, depth + 1), `${path.slice(0, depth).join('.') || '(root)'} is not an object or array`);
  };
  return write(root, 0);
}

/**
 * A new tree equal to `root` without the key at `path`, or `root` itself when there is nothing
 * there. Every ancestor on the path is a plain object: the only caller takes a path into an
 * array back with the whole array, so no element is ever removed (the ones after it would change
 * places). `owned` as for setAt.
 */
export function removeAt(root: unknown, path: readonly string[], owned?: OwnedNodes): unknown {
  if (path.length === 0 || valueAt(root, path) === ABSENT) return root;
  const remove = (node: Record<string, unknown>, depth: number): Record<string, unknown> => {
    const key = path[depth]!;
    const copy = owned?.has(node) === true ? node : copyRecord(node);
    owned?.add(copy);
    if (depth === path.length - 1) delete copy[key];
    else copy[key] = remove(node[key] as Record<string, unknown>, depth + 1);
    return copy;
  };
  return remove(root as Record<string, unknown>, 0);
}

/**
 * `overlay` merged over `base`: plain objects merge key by key, anything else (arrays included)
 * replaces. Neither input is changed. Keys were checked before they got here.
 */
export function deepMerge(base: unknown, overlay: unknown): unknown {
  if (!isRecord(base) || !isRecord(overlay)) return overlay;
  const result: Record<string, unknown> = { ...base };
  for (const key of Object.keys(overlay)) {
    result[key] = hasOwn(base, key) ? deepMerge(base[key], overlay[key]) : overlay[key];
  }
  return result;
}

/**
 * The paths at which `deepMerge(base, overlay)` takes `overlay`'s value whole: where it is not a
 * plain object merged into a plain object. What a layer set, for naming it in errors.
 */
export function replacedPaths(base: unknown, overlay: unknown): string[][] {
  const paths: string[][] = [];
  const visit = (under: unknown, over: unknown, path: string[]): void => {
    if (!isRecord(under) || !isRecord(over)) {
      paths.push(path);
      return;
    }
    for (const key of Object.keys(over)) visit(hasOwn(under, key) ? under[key] : undefined, over[key], [...path, key]);
  };
  visit(base, overlay, []);
  return paths;
}
