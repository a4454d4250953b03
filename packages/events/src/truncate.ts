// 1.x `truncate_if_large`: data small enough is returned as it is; larger data is replaced by a
// preview that says how big the original was.
import { Tag } from 'cbor-x';
import { DEFAULT_MAX_DATA_BYTES } from './event';
import { encodedSize, serializationFailure } from './serialization/cbor-codec';

/** 1.x's default preview size. */
export const DEFAULT_TRUNCATE_BYTES = 10_000;

export interface TruncatedData {
  readonly truncated: true;
  /**
   * The original data's size in bytes (CBOR-encoded, as `maxDataBytes` counts), or a lower bound
   * on it when `originalSizeIsLowerBound` is set.
   */
  readonly originalSize: number;
  /**
   * Set when the data was found too large to measure without encoding it (past
   * DEFAULT_MAX_DATA_BYTES, or `maxBytes` if more; see `truncateIfLarge`): `originalSize` is
   * then what it takes at least.
   */
  readonly originalSizeIsLowerBound?: true;
  /** The start of the data as JSON-like text, at most `maxBytes` UTF-8 bytes. */
  readonly preview: string;
}

/** Bytes of a CBOR head carrying the length or count `n` (RFC 8949 §3). */
function headBytes(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x1_0000_0000 ? 5 : 9;
}

/** Classes the encoder (cbor-x) writes from their contents (a name and message, entries, bytes), not their keys. */
const WRITTEN_FROM_CONTENTS: readonly (abstract new (...args: never[]) => object)[] = [Map, Set, Date, Error, RegExp, ArrayBuffer, Tag];

/**
 * Whether the encoder writes `value` as a map of its own enumerable keys, as it writes plain
 * objects and class instances. It writes an Error as its name and message, a Map, Set or Date
 * from its contents, anything else it can iterate from its items, and an object whose own
 * hasOwnProperty is some other function with the keys that function accepts: their own keys may
 * be far larger than what is encoded, so they count their first byte only.
 */
function writtenFromKeys(value: object, constructor: unknown): boolean {
  const { hasOwnProperty } = value as { hasOwnProperty?: unknown };
  if (typeof hasOwnProperty === 'function' && hasOwnProperty !== Object.prototype.hasOwnProperty) return false;
  if (constructor === Object) return true;
  if (WRITTEN_FROM_CONTENTS.some((type) => value instanceof type)) return false;
  return !(Symbol.iterator in value) && !(Symbol.asyncIterator in value);
}

/**
 * A lower bound on the CBOR size of `data`, walked only until it passes `limit`. Every value
 * takes at least a byte (a hole in an array encodes as undefined), so an array or object counts
 * one per item before its items are looked at, and the walk stops before visiting them once that
 * is too much: a sparse array costs nothing but its length, as copyEventData's guard does, and a
 * value that contains itself adds a byte per turn until the bound is passed. No recursion: data
 * nested deeper than the stack goes on to the encoder, which reports it as before.
 */
export function sizeAtLeast(data: unknown, limit: number): number {
  let size = 1;
  // Values whose first byte is counted and whose content is not yet.
  const pending: unknown[] = [data];
  while (pending.length > 0 && size <= limit) {
    const value = pending.pop();
    if (typeof value === 'string') {
      // Exact UTF-8 length, counted without copying the string.
      const bytes = Buffer.byteLength(value, 'utf8');
      size += headBytes(bytes) - 1 + bytes;
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (ArrayBuffer.isView(value)) {
      size += headBytes(value.byteLength) - 1 + value.byteLength;
      continue;
    }
    // Read as the encoder reads it, which picks how to write a value by its constructor.
    const constructor: unknown = (value as { constructor?: unknown }).constructor;
    if (constructor === Array) {
      const items = value as unknown[];
      size += headBytes(items.length) - 1 + items.length;
      if (size > limit) break;
      for (let index = 0; index < items.length; index += 1) pending.push(items[index]);
      continue;
    }
    if (!writtenFromKeys(value, constructor)) continue;
    const keys = Object.keys(value);
    size += headBytes(keys.length) - 1 + 2 * keys.length;
    if (size > limit) break;
    for (const key of keys) {
      const bytes = Buffer.byteLength(key, 'utf8');
      size += headBytes(bytes) - 1 + bytes;
      pending.push((value as Record<string, unknown>)[key]);
    }
  }
  return size;
}

/** A container the preview has opened: its items or keys are written one by one. */
interface OpenContainer {
  readonly object: object;
  readonly isArray: boolean;
  /** The object's keys, read once its first item is due. */
  keys: readonly string[] | undefined;
  index: number;
}

/**
 * Text of `value` as JSON would print it, stopping once `budget` characters are written. Open
 * containers sit on a stack of their own, not the call stack: data nested deeper than the stack
 * (which the size walk finds too large without recursing) must still get its preview.
 */
function previewText(value: unknown, budget: number): string {
  let out = '';
  const seen = new Set<object>();
  const open: OpenContainer[] = [];
  const write = (text: string): boolean => {
    out += text;
    return out.length < budget;
  };
  // Writes a value, or opens a container whose items the loop below writes.
  const visit = (current: unknown): boolean => {
    if (current === null || current === undefined) return write('null');
    switch (typeof current) {
      case 'string':
        return write(JSON.stringify(current.length > budget ? current.slice(0, budget) : current));
      case 'number':
      case 'boolean':
        return write(String(current));
      case 'bigint':
        return write(`${current}n`);
      case 'object':
        break;
      default:
        return write(`"[${typeof current}]"`);
    }
    const object = current;
    if (seen.has(object)) return write('"[circular]"');
    if (object instanceof Uint8Array) return write(`"[${object.byteLength} bytes]"`);
    seen.add(object);
    const isArray = Array.isArray(object);
    open.push({ object, isArray, keys: undefined, index: 0 });
    return write(isArray ? '[' : '{');
  };
  if (!visit(value)) return out;
  while (open.length > 0) {
    const container = open[open.length - 1]!;
    const { object, isArray } = container;
    if (!isArray && container.keys === undefined) container.keys = Object.keys(object);
    const index = container.index;
    if (index >= (isArray ? (object as unknown[]).length : container.keys!.length)) {
      open.pop();
      if (!write(isArray ? ']' : '}')) return out;
      continue;
    }
    container.index += 1;
    if (index > 0 && !write(',')) return out;
    if (isArray) {
      if (!visit((object as unknown[])[index])) return out;
      continue;
    }
    const key = container.keys![index]!;
    if (!write(`${JSON.stringify(key)}:`)) return out;
    if (!visit((object as Record<string, unknown>)[key])) return out;
  }
  return out;
}

function cutToBytes(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  // Cut at a character boundary: drop continuation bytes (10xxxxxx) at the cut.
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end).toString('utf8');
}

/**
 * `data` itself when it encodes in at most `maxBytes` (default 10,000, as in 1.x), else
 * `{ truncated: true, originalSize, preview }` with a preview of at most `maxBytes` bytes. Data
 * is encoded, and its size exact, only when a walk finds it may take at most `maxBytes` or
 * DEFAULT_MAX_DATA_BYTES (what a store takes by default), whichever is more; past that the walk
 * stops, nothing is encoded, and `originalSize` is the lower bound it found
 * (`originalSizeIsLowerBound`).
 */
export function truncateIfLarge(data: unknown, maxBytes: number = DEFAULT_TRUNCATE_BYTES): unknown {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError('maxBytes must be a non-negative integer');
  // Encoding all of it first cost its whole encoded size: 100 MB for new Array(1e8), which
  // holds nothing, 4 GB for new Array(2 ** 32 - 1), and a stack overflow for a value that
  // contains itself. Up to the bound the size stays exact, as it was; the encoding is then at
  // most about nine times the bound (a number takes 1 to 9 bytes).
  const limit = Math.max(maxBytes, DEFAULT_MAX_DATA_BYTES);
  let atLeast: number;
  try {
    atLeast = sizeAtLeast(data, limit);
  } catch (error) {
    // A getter or proxy that throws: reported as 3101 with its cause, as when the encoder was
    // the first to read the data.
    throw serializationFailure(error);
  }
  if (atLeast > limit) {
    const preview: TruncatedData = { truncated: true, originalSize: atLeast, originalSizeIsLowerBound: true, preview: cutToBytes(previewText(data, maxBytes + 1), maxBytes) };
    return preview;
  }
  const originalSize = encodedSize(data);
  if (originalSize <= maxBytes) return data;
  const preview: TruncatedData = { truncated: true, originalSize, preview: cutToBytes(previewText(data, maxBytes + 1), maxBytes) };
  return preview;
}
