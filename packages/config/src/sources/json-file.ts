// The JSON file layer: read once, synchronously, when the config is created. The file is
// untrusted input: its size is bounded, its root must be an object, and keys that could reach a
// prototype are refused.
import { isUtf8 } from 'node:buffer';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ConfigSourceError } from '../errors/config-source-error';
import { ConfigStructureError } from '../errors/config-structure-error';
import { describeKind } from '../internal/describe-kind';
import { describeJsonSyntaxProblem, lineAndColumn } from '../internal/json-syntax';
import { isRecord, toPlainCopy } from '../internal/plain-data';

export interface FileSourceOptions {
  /** Path of a JSON file whose root is an object. */
  readonly path: string;
  /** When true, a missing file is skipped (an empty one is still not JSON, and refused). Default false: it is an error. */
  readonly optional?: boolean | undefined;
  /** Larger files are refused. Default 16 MiB. */
  readonly maxBytes?: number | undefined;
}

export const DEFAULT_FILE_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Where the first bytes of `bytes` that are not UTF-8 are, as a line and column of the text
 * before them (a byte-order mark not counted, as JSON syntax problems count it), quoting none of it.
 */
function describeNotUtf8(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  let offset = 0; // in bytes
  let index = 0; // in UTF-16 code units
  for (const character of text) {
    const point = character.codePointAt(0)!;
    // The decoder puts U+FFFD for what is not UTF-8; the file may also hold U+FFFD itself.
    if (point === 0xfffd && !(bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd)) break;
    offset += point < 0x80 ? 1 : point < 0x800 ? 2 : point < 0x10000 ? 3 : 4;
    index += character.length;
  }
  const bom = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const { line, column } = lineAndColumn(text.slice(bom), index - bom);
  return `is not UTF-8 text at line ${line}, column ${column} (byte ${offset}): JSON files must be UTF-8`;
}

function readBounded(path: string, maxBytes: number): string | undefined {
  let descriptor: number;
  try {
    descriptor = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigSourceError('file', path, `cannot be opened (${(error as Error).message})`, error);
  }
  try {
    const size = fstatSync(descriptor).size;
    if (size > maxBytes) throw new ConfigSourceError('file', path, `is ${size} bytes, more than the ${maxBytes} allowed`);
    // The size is only a first guess: a FIFO or /dev/fd/N (a shell's process substitution)
    // reports 0, some virtual files less than they hold, and a file may grow after fstat. So
    // read to the end, growing the buffer, up to one byte past the limit.
    let buffer = Buffer.alloc(Math.min(Math.max(size, 4096), maxBytes) + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > maxBytes) throw new ConfigSourceError('file', path, `is more than the ${maxBytes} bytes allowed`);
        const grown = Buffer.alloc(Math.min(buffer.length * 2, maxBytes + 1));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      const read = readSync(descriptor, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
    }
    const bytes = buffer.subarray(0, length);
    // Decoded as it was, text in another encoding (Latin-1's "café") read as U+FFFD in place of
    // its bytes: a value the file does not hold, taken silently.
    if (!isUtf8(bytes)) throw new ConfigSourceError('file', path, describeNotUtf8(bytes));
    return bytes.toString('utf8');
  } catch (error) {
    if (error instanceof ConfigSourceError) throw error;
    throw new ConfigSourceError('file', path, `cannot be read (${(error as Error).message})`, error);
  } finally {
    closeSync(descriptor);
  }
}

/** The file's contents as plain config data, or undefined for a missing optional file. */
export function readJsonFile(options: string | FileSourceOptions): Record<string, unknown> | undefined {
  // The options come from JavaScript callers too, so their types are checked before anything is
  // read: null failed as a TypeError, and a maxBytes of NaN, -1 or "1000" was misread.
  if (typeof options !== 'string' && (typeof options !== 'object' || options === null)) {
    throw new ConfigSourceError('file', String(options), `the file source must be a path or { path, optional, maxBytes }, not ${describeKind(options)}`);
  }
  const { path, optional = false, maxBytes = DEFAULT_FILE_MAX_BYTES } = typeof options === 'string' ? { path: options } : options;
  if (typeof path !== 'string' || path === '') throw new ConfigSourceError('file', String(path), 'the file path must be a non-empty string');
  if (typeof optional !== 'boolean') throw new ConfigSourceError('file', path, `optional must be true or false, not ${describeKind(optional)}`);
  // Infinity is no limit but the memory's; anything else must be a count of bytes, one at least.
  if (typeof maxBytes !== 'number' || !(maxBytes >= 1) || !(Number.isInteger(maxBytes) || maxBytes === Number.POSITIVE_INFINITY)) {
    const given = typeof maxBytes === 'number' ? String(maxBytes) : describeKind(maxBytes);
    throw new ConfigSourceError('file', path, `maxBytes must be a positive whole number of bytes (or Infinity), not ${given}`);
  }
  const text = readBounded(path, maxBytes);
  if (text === undefined) {
    if (optional) return undefined;
    throw new ConfigSourceError('file', path, 'does not exist (pass { path, optional: true } if it may be absent)');
  }
  // A byte-order mark is not JSON, but editors write one; drop it.
  const json = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    // Where and why, but none of the text, and not the parser's error as the cause: its message
    // quotes the text near the mistake, a config file holds secrets, and errors go to logs.
    throw new ConfigSourceError('file', path, describeJsonSyntaxProblem(json));
  }
  if (!isRecord(parsed)) throw new ConfigStructureError(`config file ${path}`, 'the root of the JSON must be an object');
  // JSON.parse makes "__proto__" an own key rather than a prototype; the copy refuses it.
  return toPlainCopy(parsed, [], `config file ${path}`) as Record<string, unknown>;
}
