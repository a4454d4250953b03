// A structural check of CBOR bytes (RFC 8949) before anything is decoded from them. Decoders
// trust declared lengths and nesting; hostile input exploits exactly that (a 9-byte header that
// declares a four-billion-element array, ten thousand nested arrays, a map key "__proto__",
// a tag that makes the decoder build a class instance). This scan walks the item headers once,
// in O(bytes), and accepts only what event serialization produces:
//   - definite lengths only, each no longer than the bytes that remain;
//   - at most `maxDepth` levels of arrays and maps, as newEvent counts them (an empty one
//     inside the deepest level is one level too many, though no item lies below it);
//   - text strings that are valid UTF-8 (RFC 8949 section 3.1), whatever their length;
//   - map keys that are text strings, none of them `__proto__`, `constructor` or `prototype`;
//   - tags 2 and 3 (big integers) around a byte string of at most `maxBigIntBytes`, and no
//     other tag: cbor-x builds a big integer in time quadratic in its length;
//   - simple values false, true, null, undefined; half, single and double floats;
//   - exactly one top-level item, with no trailing bytes.
import { isUtf8 } from 'node:buffer';
import { isUnsafeKey } from '@foundation/core';
import { EventDeserializationError } from '../errors/event-deserialization-error';
import { EventSecurityError } from '../errors/event-security-error';

export interface CborScanLimits {
  readonly maxDepth: number;
  /** The longest byte string a big integer tag (2 or 3) may wrap. */
  readonly maxBigIntBytes: number;
}

export interface CborScanResult {
  /** When the top-level item is an array: the offset where each of its elements ends. */
  readonly topLevelEnds: readonly number[];
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

export function scanCbor(bytes: Uint8Array, limits: CborScanLimits): CborScanResult {
  const length = bytes.length;
  let offset = 0;
  const topLevelEnds: number[] = [];

  const fail = (detail: string, at = offset): never => {
    throw new EventDeserializationError(detail, at);
  };

  /** Reads the argument of an item header whose additional information is `info`. */
  const readArgument = (info: number, start: number): number => {
    if (info < 24) return info;
    let size: number;
    if (info === 24) size = 1;
    else if (info === 25) size = 2;
    else if (info === 26) size = 4;
    else if (info === 27) size = 8;
    else if (info === 31) return fail('indefinite lengths are not accepted', start);
    else return fail(`reserved additional information ${info}`, start);
    if (offset + size > length) fail('truncated item header', start);
    let value = 0;
    for (let index = 0; index < size; index += 1) value = value * 256 + bytes[offset + index]!;
    offset += size;
    return value; // up to 2^64, inexact beyond 2^53 but compared only with lengths that are far smaller
  };

  const scanItem = (depth: number, asKey: boolean): void => {
    if (depth > limits.maxDepth) fail(`nested deeper than ${limits.maxDepth} levels`);
    if (offset >= length) fail('truncated: an item is missing');
    const start = offset;
    const initial = bytes[offset]!;
    offset += 1;
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (asKey && major !== 3) fail('map keys must be text strings', start);
    switch (major) {
      case 0: // unsigned integer
      case 1: // negative integer
        readArgument(info, start);
        return;
      case 2: // byte string
      case 3: {
        // text string
        const size = readArgument(info, start);
        if (size > length - offset) fail(`a string declares ${size} bytes but only ${length - offset} remain`, start);
        if (asKey) {
          let text: string;
          try {
            text = textDecoder.decode(bytes.subarray(offset, offset + size));
          } catch (error) {
            return fail('a text string is not valid UTF-8', start);
          }
          if (isUnsafeKey(text)) throw new EventSecurityError([text], `map key "${text}" could reach a prototype`);
        } else if (major === 3 && !isUtf8(bytes.subarray(offset, offset + size))) {
          // Every text string, whatever its length: the decoder puts U+FFFD in place of bytes
          // that are not UTF-8 (or, in short strings, lone surrogates), so a damaged or forged
          // payload would otherwise decode as a different event instead of being refused.
          fail('a text string is not valid UTF-8', start);
        }
        offset += size;
        return;
      }
      case 4: {
        // Containers, not items, count: an empty array at the deepest level has no item below it.
        if (depth >= limits.maxDepth) fail(`nested deeper than ${limits.maxDepth} levels`, start);
        const count = readArgument(info, start);
        if (count > length - offset) fail(`an array declares ${count} items but only ${length - offset} bytes remain`, start);
        for (let index = 0; index < count; index += 1) {
          scanItem(depth + 1, false);
          if (depth === 0) topLevelEnds.push(offset);
        }
        return;
      }
      case 5: {
        if (depth >= limits.maxDepth) fail(`nested deeper than ${limits.maxDepth} levels`, start);
        const count = readArgument(info, start);
        if (count > (length - offset) / 2) fail(`a map declares ${count} entries but only ${length - offset} bytes remain`, start);
        for (let index = 0; index < count; index += 1) {
          scanItem(depth + 1, true);
          scanItem(depth + 1, false);
        }
        return;
      }
      case 6: {
        const tag = readArgument(info, start);
        if (tag !== 2 && tag !== 3) fail(`tag ${tag} is not accepted (only big integers, tags 2 and 3)`, start);
        const content = offset;
        if (offset >= length || bytes[offset]! >> 5 !== 2) fail('a big integer tag must wrap a byte string', offset);
        offset += 1;
        const size = readArgument(bytes[content]! & 0x1f, content);
        if (size > limits.maxBigIntBytes) fail(`a big integer of ${size} bytes is longer than the ${limits.maxBigIntBytes} accepted`, content);
        offset = content;
        // At the tag's own depth: a big integer is one value (as newEvent counts it), not a
        // container around its byte string, so one at the deepest level still decodes.
        scanItem(depth, false);
        return;
      }
      default: {
        // major 7: simple values and floats
        if (info >= 20 && info <= 23) return; // false, true, null, undefined
        const size = info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : -1;
        if (size < 0) fail(info === 31 ? 'unexpected break' : `simple value ${info} is not accepted`, start);
        if (offset + size > length) fail('truncated float', start);
        offset += size;
      }
    }
  };

  scanItem(0, false);
  if (offset !== length) fail(`${length - offset} trailing bytes after the item`);
  return { topLevelEnds };
}
