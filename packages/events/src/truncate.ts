// 1.x `truncate_if_large`: data small enough is returned as it is; larger data is replaced by a
// preview that says how big the original was.
import { encodedSize } from './serialization/cbor-codec';

/** 1.x's default preview size. */
export const DEFAULT_TRUNCATE_BYTES = 10_000;

export interface TruncatedData {
  readonly truncated: true;
  /** The original data's size in bytes (CBOR-encoded, as `maxDataBytes` counts). */
  readonly originalSize: number;
  /** The start of the data as JSON-like text, at most `maxBytes` UTF-8 bytes. */
  readonly preview: string;
}

/** Text of `value` as JSON would print it, stopping once `budget` characters are written. */
function previewText(value: unknown, budget: number): string {
  let out = '';
  const seen = new Set<object>();
  const write = (text: string): boolean => {
    out += text;
    return out.length < budget;
  };
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
    if (Array.isArray(object)) {
      if (!write('[')) return false;
      for (let index = 0; index < object.length; index += 1) {
        if (index > 0 && !write(',')) return false;
        if (!visit(object[index])) return false;
      }
      return write(']');
    }
    if (!write('{')) return false;
    let first = true;
    for (const key of Object.keys(object)) {
      if (!first && !write(',')) return false;
      first = false;
      if (!write(`${JSON.stringify(key)}:`)) return false;
      if (!visit((object as Record<string, unknown>)[key])) return false;
    }
    return write('}');
  };
  visit(value);
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
 * `{ truncated: true, originalSize, preview }` with a preview of at most `maxBytes` bytes.
 */
export function truncateIfLarge(data: unknown, maxBytes: number = DEFAULT_TRUNCATE_BYTES): unknown {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError('maxBytes must be a non-negative integer');
  const originalSize = encodedSize(data);
  if (originalSize <= maxBytes) return data;
  const preview: TruncatedData = { truncated: true, originalSize, preview: cutToBytes(previewText(data, maxBytes + 1), maxBytes) };
  return preview;
}
