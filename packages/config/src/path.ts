// Config paths: an array of keys (`['dev', 'debugMode']`, numbers index arrays) or a dotted
// string (`'dev.debugMode'`). Every path is checked for segments that could reach a prototype
// before it is used anywhere, for reading as for writing.
import { isUnsafeKey } from '@foundation/core';
import { ConfigPathError } from './errors/config-path-error';
import { ConfigSecurityError } from './errors/config-security-error';

/** An array of keys (numbers index arrays) or a dotted string. `[]` is the whole config. */
export type ConfigPath = string | readonly (string | number)[];

/** The most keys a path may have. */
export const MAX_SEGMENTS = 64;
/** The longest a key in a path may be. */
export const MAX_SEGMENT_LENGTH = 1024;
const MAX_DOTTED_LENGTH = 8192;
const CACHE_LIMIT = 4096;
/**
 * Longer dotted paths are parsed every time, never cached: with paths of up to 8,192 characters,
 * 4,096 entries could keep some 32 million characters alive (misses of ever-new paths from a
 * peer's requests, say). Real paths are a few dozen characters; this bounds the cache to about
 * a million.
 */
const MAX_CACHED_LENGTH = 256;

const dottedCache = new Map<string, readonly string[]>();

/** The characters of the dotted paths the cache holds, for tests: what it keeps alive. */
export function cachedPathCharacters(): number {
  let characters = 0;
  for (const path of dottedCache.keys()) characters += path.length;
  return characters;
}

function checkSegments(segments: readonly string[], received: unknown): void {
  if (segments.length > MAX_SEGMENTS) throw new ConfigPathError(`more than ${MAX_SEGMENTS} segments`, describe(received));
  for (let index = 0; index < segments.length; index += 1) {
    const segment = segments[index]!;
    if (isUnsafeKey(segment)) {
      throw new ConfigSecurityError('unsafe-key', segments.slice(0, index + 1), `path segment "${segment}" could reach a prototype`);
    }
    if (segment.length > MAX_SEGMENT_LENGTH) throw new ConfigPathError(`a segment is longer than ${MAX_SEGMENT_LENGTH} characters`, describe(received));
  }
}

/** The most keys of an array path, and characters of a key, that a message shows. */
const DESCRIBED_SEGMENTS = 8;
const DESCRIBED_LENGTH = 200;

function describe(received: unknown): string {
  try {
    // Only what is shown is read: a refused path may hold millions of keys, or one huge key.
    const shown = Array.isArray(received)
      ? received.slice(0, DESCRIBED_SEGMENTS).map((segment: unknown) => (typeof segment === 'string' && segment.length > DESCRIBED_LENGTH ? `${segment.slice(0, DESCRIBED_LENGTH)}…` : segment))
      : received;
    const text = typeof shown === 'string' ? shown : JSON.stringify(shown, (_key, value: unknown) => (typeof value === 'symbol' ? value.toString() : value));
    const more = Array.isArray(received) && received.length > DESCRIBED_SEGMENTS ? ` (${received.length} keys)` : '';
    return text.length > DESCRIBED_LENGTH ? `${text.slice(0, DESCRIBED_LENGTH)}…${more}` : `${text}${more}`;
  } catch {
    return typeof received;
  }
}

function parseDotted(path: string): readonly string[] {
  const cached = dottedCache.get(path);
  if (cached !== undefined) return cached;
  if (path.length === 0) throw new ConfigPathError('an empty string is not a path (use [] for the whole config)', path);
  if (path.length > MAX_DOTTED_LENGTH) throw new ConfigPathError(`longer than ${MAX_DOTTED_LENGTH} characters`, describe(path));
  const segments = path.split('.');
  if (segments.some((segment) => segment.length === 0)) throw new ConfigPathError(`empty segment in "${describe(path)}"`, describe(path));
  checkSegments(segments, path);
  const frozen = Object.freeze(segments);
  if (path.length > MAX_CACHED_LENGTH) return frozen;
  if (dottedCache.size >= CACHE_LIMIT) dottedCache.clear();
  dottedCache.set(path, frozen);
  return frozen;
}

/**
 * The path as an array of string keys. Throws ConfigSecurityError for a `__proto__`,
 * `prototype` or `constructor` segment and ConfigPathError for anything that is not a path.
 */
export function parsePath(path: unknown): readonly string[] {
  if (typeof path === 'string') return parseDotted(path);
  if (!Array.isArray(path)) throw new ConfigPathError('expected an array of keys or a dotted string', describe(path));
  // Before looking at any key: an over-long path is refused at the cost of a short one.
  if (path.length > MAX_SEGMENTS) throw new ConfigPathError(`more than ${MAX_SEGMENTS} segments`, describe(path));
  const segments: string[] = [];
  for (const segment of path as unknown[]) {
    if (typeof segment === 'string') segments.push(segment);
    else if (typeof segment === 'number' && Number.isSafeInteger(segment) && segment >= 0) segments.push(String(segment));
    else throw new ConfigPathError(`segment ${describe(segment)} is neither a string nor a non-negative integer`, describe(path));
  }
  checkSegments(segments, path);
  return segments;
}

/** True when `prefix` equals `path` or is one of its ancestors. */
export function isPrefixOf(prefix: readonly string[], path: readonly string[]): boolean {
  if (prefix.length > path.length) return false;
  for (let index = 0; index < prefix.length; index += 1) if (prefix[index] !== path[index]) return false;
  return true;
}
