// A look at the item heads of CBOR input before cbor-x decodes it, for tags. cbor-x decodes
// every tag it knows whatever the decoder's options, from module-wide tables that no option
// turns off, and some cost far more than their bytes:
//
//   - after a packed-values table (tag 51, draft-ietf-cbor-packed), each item that names one of
//     its prefixes decodes to a fresh copy of it joined with its own content, so 4 KiB decode
//     into 8 MB of arrays, 25 KB into 400 MB in half a second here, and a 64 KiB frame exhausts
//     the heap (the process dies);
//   - a big integer (tags 2 and 3) is folded in byte by byte, each step shifting the whole number
//     so far, so its time grows with the square of its length: 64 KiB took 0.45 s here, 256 KiB
//     47 s, all in one turn of the event loop;
//   - shared references (tags 28 and 29, for structured clones) decode cheaply, but into a value
//     that refers to one array or object from several places, or to itself: 460 bytes make one
//     of 2 ** 40 paths, which whatever walks it (a handler that echoes it, whose reply this node
//     encodes; a validator; JSON.stringify) never finishes, and a cycle loops a naive walk;
//   - cbor-x's records (tag 105 and tags from 0xdffe define them, tags from 0xdff9 name them)
//     and bundled strings (tag 0xdff9) read the input in their own way: a record takes the head
//     after it as an array's whatever its major type, and reads that many items, so what this
//     walk skips as a byte string's content cbor-x decodes, and a packed-values table, a big
//     integer or shared references hidden there would pass; bundled strings jump to an offset.
//
// This node's encoder never writes a tag 51 (it has no `pack` option), tags 28 and 29 (no
// `structuredClone`: a value met twice is written twice), nor records or bundled strings
// (`useRecords: false`, no `bundleStrings`), and writes tags 2 and 3 only for a BigInt beyond
// 64 bits, as a byte string of its magnitude, and typed arrays as a byte string of whole
// elements. So a payload may hold none of tags 51, 28, 29, 105 and from 0xdff9, nor a big integer
// of more than MAX_BIGNUM_BYTES (nor one around anything but a byte string), nor a typed array of
// several bytes an element around anything but a byte string of whole elements (whether cbor-x
// took one depended on where it fell in the input: typedArrayElementBytes). Yet the encoder
// writes any tag it is handed as a cbor-x `Tag` (or a class added with cbor-x's module-wide
// `addExtension`), around whatever value it holds, and cbor-x's decoder throws on some of those
// that the screen takes (a typed array of a kind cbor-x builds through a DataView around no
// buffer, a decimal fraction or an Error around null, a Set around a number). So `send` decodes
// what it encoded on trial, this screen and then cbor-x, whenever it holds a tag (but for dates
// cbor-x cannot fail to read, as the Dates this encoder writes: dateContentCannotThrow), and refuses
// what the receiver would (PayloadEncodingError): a reliable channel would otherwise send it again
// after every refusal, and hold back all that follows it on its lane. Every other tag cbor-x
// decodes at a cost in proportion to its size, and payloads may hold them (Date, Set, Map, Error,
// RegExp, typed arrays).
//
// Handshake frames hold no tags at all (arrays, strings, integers, byte strings, null), and they
// are decoded before the other side proved anything, so there any tag is refused.
//
// Nesting has a fixed bound, MAX_NESTING, below which cbor-x decodes from any reasonable stack
// depth. cbor-x decodes recursively, so how deep it gets depends on the stack already in use where
// it is called: it encodes nested Maps about 1,818 deep but decodes them only about 1,011 deep,
// fewer from deeper down. `send`'s trial decode and the receiver's decode run at different
// depths, so a payload near that edge passed `send` and then ran the receiver out of stack (4006,
// and on a reliable channel sent again after every reconnect, holding back its lane). The screen
// runs on both sides, so with the bound here whatever `send` takes the receiver decodes, and
// whatever is deeper both refuse the same way, before cbor-x recurses.
//
// The walk reads heads only (strings are skipped by their length), keeps its own stack instead
// of recursing (one entry per open array or map, at most MAX_NESTING), and leaves everything
// else (truncation, reserved values, trailing bytes) to cbor-x, which refuses it.

/**
 * Deepest nesting taken in a payload (or any CBOR the screen reads): arrays, maps and tags each
 * count as a level, empty ones too, so `[[]]` is two levels and a Map (tag 259 around a map) two.
 *
 * Measured with cbor-x 1.6.9 on Node 20 (default stack), this transport's options, in levels as
 * counted here, from a shallow stack / with 5,000 small frames already on it: nested arrays and
 * maps 2,280 / 1,462; tags 2,280 / 1,462; Sets (tag 258 around an array) 2,280 / 1,462; Maps
 * (tag 259 around a map) 2,022 / 1,306, the fewest; Maps as each other's keys 2,038 / 1,062. The
 * encoder writes 1,818 nested arrays or Maps, 1,320 objects, 829 Sets. 512 is a quarter of what
 * cbor-x decodes of the worst kind from a shallow stack, so a sender's trial decode or a
 * receiver's decode holds with up to about three quarters of the stack already in use; and far
 * above what the packages here send (their own bounds are 64 and below; the meta-package's
 * commands, 256, travel as bytes).
 */
export const MAX_NESTING = 512;

/**
 * Deepest nesting of arrays and maps cborItemEnd follows to find where a block's payload ends,
 * well above MAX_NESTING so that a payload nested past that is split out of its frame and dropped
 * on its own (the screen refuses it when it is decoded alone). It bounds the walk's stack; a
 * frame deeper than this, which no encoder writes (cbor-x's runs out of stack first), is refused.
 */
export const MAX_SPLIT_DEPTH = 16_384;

/** Largest magnitude of a big integer (tags 2 and 3) in a payload: 4096 bits. */
export const MAX_BIGNUM_BYTES = 512;

const PACKED_TABLE_TAG = 51;
const SHAREABLE_TAG = 28;
const SHARED_REFERENCE_TAG = 29;
const POSITIVE_BIGNUM_TAG = 2;
const NEGATIVE_BIGNUM_TAG = 3;
/** cbor-x's first form of record: an array of the record's id, its keys and its values. */
const LEGACY_RECORD_TAG = 105;
/** From here up, cbor-x reads tags as bundled strings (0xdff9), records and their definitions. */
const FIRST_RECORD_TAG = 0xdff9;
const BREAK = 0xff;
/** Items of an indefinite-length array or map: until a break. */
const UNTIL_BREAK = -1;

/** What screenCbor found: a tag whose decoding may throw (any but a date cbor-x cannot fail to read). */
export const SCREEN_FOUND_TAG = 1;
/** What screenCbor found: an Error (tag 27). */
export const SCREEN_FOUND_ERROR = 2;

/** CBOR input that holds an item the screen refuses. */
export class CborScreenError extends Error {}

/** cbor-x's Error (a generic object): built with `new Error`, which captures a stack. */
const ERROR_TAG = 27;
/** A date as text (RFC 8949): cbor-x reads it as `new Date(content)`. */
const DATE_TEXT_TAG = 0;
/** A date as seconds since 1970 (RFC 8949): cbor-x reads it as `new Date(Math.round(content * 1000))`. */
const DATE_SECONDS_TAG = 1;
/** No date tag waits for its content (dateContent). */
const NO_DATE = -1;

/**
 * Bytes an element of the typed arrays (RFC 8746) of more than one byte an element that cbor-x
 * builds, 0 for other tags. cbor-x makes one of native byte order a view of the input when its
 * bytes start at a multiple of the element size there, and a copy otherwise, and the copy throws
 * when the bytes hold no whole number of elements (or are no byte string): where a payload's bytes
 * fall in a frame decided whether it decoded, so the sender's trial could pass what the receiver
 * then refused. A typed array of these tags must be a byte string of whole elements.
 */
function typedArrayElementBytes(tag: number): number {
  switch (tag) {
    case 65: // Uint16Array, big-endian
    case 69: // Uint16Array, little-endian
    case 73: // Int16Array, big-endian
    case 77: // Int16Array, little-endian
      return 2;
    case 66: // Uint32Array
    case 70:
    case 74: // Int32Array
    case 78:
    case 81: // Float32Array
    case 85:
      return 4;
    case 67: // BigUint64Array
    case 71:
    case 75: // BigInt64Array
    case 79:
    case 82: // Float64Array
    case 86:
      return 8;
    default:
      return 0;
  }
}

/**
 * Whether cbor-x's reader of date tag `tag` (DATE_TEXT_TAG or DATE_SECONDS_TAG) cannot throw on
 * content of head `major`/`info`. For tag 1, an integer of at most 32 bits (cbor-x reads a 64-bit
 * one as a BigInt, which `* 1000` throws on) or a float of any width: a number, and `new Date` of
 * any number, NaN and infinities included, is a Date. For tag 0, a text string of definite length
 * (cbor-x refuses an indefinite one): `new Date` of any string is a Date, invalid or not, where a
 * map could throw on its way to a primitive (`{ toString: 1, valueOf: 1 }`). The string itself
 * decodes as it would outside the tag, where no trial decode checks it either. These are cbor-x's
 * own readers (decode.js, `currentExtensions[0]` and `[1]`); a process that replaces them through
 * cbor-x's module-wide `addExtension` for tag 0 or 1 gets no trial decode of its dates.
 */
function dateContentCannotThrow(tag: number, major: number, info: number): boolean {
  if (tag === DATE_SECONDS_TAG) return ((major === 0 || major === 1) && info <= 26) || (major === 7 && info >= 25 && info <= 27);
  return major === 3 && info !== 31;
}

/**
 * Throws CborScreenError when `bytes` holds a packed-values table, a shared reference, a cbor-x
 * record or bundled strings, a big integer that is too long or a typed array of part elements (see
 * above) or, with `allowTags` false, any tag. Returns what it found (SCREEN_FOUND_TAG for a tag
 * whose decoding may throw, which a date of a number or a text string cannot: see
 * dateContentCannotThrow; SCREEN_FOUND_ERROR for an Error, tag 27, whose decoding the codec then
 * runs without stack capture). Cost: one step per item head.
 */
export function screenCbor(bytes: Uint8Array, allowTags: boolean): number {
  let found = 0;
  const end = bytes.length;
  // Items left at each open level (UNTIL_BREAK for indefinite length); the bottom one is the
  // single top-level item.
  const remaining: number[] = [1];
  // Beside each, the nesting of the items in it: the containers (arrays, maps and tags) around
  // them. Tags open no level of `remaining` (a tag and its content are one item), so this runs
  // ahead of its length by the tags around each open array or map.
  const nesting: number[] = [0];
  /** Tags read since the last item, around the next: each a level of its own. */
  let tags = 0;
  let position = 0;
  /** The item just after a big-integer tag: it must be a byte string of bounded length. */
  let bignumContent = false;
  /** After a typed array's tag of more than a byte an element: that size (typedArrayElementBytes). */
  let elementBytes = 0;
  /**
   * After a date's tag (0 or 1): that tag, whose content decides whether it counts as found
   * (dateContentCannotThrow); NO_DATE otherwise. The walk stops early only on input cbor-x
   * refuses, and a date still waiting then counts, so that `check` decodes it and throws.
   */
  let dateContent = NO_DATE;
  while (remaining.length > 0) {
    const level = remaining.length - 1;
    const left = remaining[level]!;
    if (left === 0) {
      remaining.pop();
      nesting.pop();
      continue;
    }
    if (position >= end) break;
    const initial = bytes[position]!;
    position += 1;
    if (left === UNTIL_BREAK && initial === BREAK) {
      remaining.pop();
      nesting.pop();
      continue;
    }
    const major = initial >> 5;
    const info = initial & 0x1f;
    const argument = headArgument(bytes, position, info);
    if (Number.isNaN(argument)) break; // reserved: cbor-x refuses it
    position += headNumberBytes(info);
    // A head cut short by the end: cbor-x refuses it. Read on, its number (from bytes past the
    // end) could make the position NaN, which no end check stops, and the walk would count down
    // the items the open arrays still wait for, 2 ** 64 of them for ten bytes.
    if (position > end) break;
    if (dateContent !== NO_DATE) {
      // A text string cut short by the end, cbor-x refuses: it counts, so that `check` throws.
      if (!dateContentCannotThrow(dateContent, major, info) || (major === 3 && argument > end - position)) found |= SCREEN_FOUND_TAG;
      dateContent = NO_DATE;
    }
    if (bignumContent) {
      bignumContent = false;
      if (major !== 2 || argument === UNTIL_BREAK) throw new CborScreenError('a big integer (CBOR tag 2 or 3) must be a byte string');
      if (argument > MAX_BIGNUM_BYTES) throw new CborScreenError(`a big integer of ${argument} bytes (at most ${MAX_BIGNUM_BYTES})`);
    }
    if (elementBytes > 0) {
      if (major !== 2 || argument === UNTIL_BREAK || argument % elementBytes !== 0) {
        throw new CborScreenError(`a typed array of ${elementBytes} bytes an element must be a byte string of whole elements`);
      }
      elementBytes = 0;
    }
    // The containers around this item, and so the level it is itself when it is one.
    const depth = nesting[level]! + tags + 1;
    if (major === 6) {
      // A tag and its content are one item: the content takes the place the tag held.
      if (!allowTags) throw new CborScreenError(`CBOR tag ${argument} where none is allowed`);
      if (depth > MAX_NESTING) throw new CborScreenError(`arrays, maps and tags nested deeper than ${MAX_NESTING} levels`);
      tags += 1;
      if (argument === PACKED_TABLE_TAG) throw new CborScreenError('CBOR packed values (tag 51) are not accepted');
      if (argument === SHAREABLE_TAG || argument === SHARED_REFERENCE_TAG) throw new CborScreenError('CBOR shared references (tags 28 and 29) are not accepted');
      if (argument === LEGACY_RECORD_TAG || argument >= FIRST_RECORD_TAG) throw new CborScreenError(`cbor-x records and bundled strings (tag ${argument}) are not accepted`);
      if (argument === POSITIVE_BIGNUM_TAG || argument === NEGATIVE_BIGNUM_TAG) bignumContent = true;
      if (argument === DATE_TEXT_TAG || argument === DATE_SECONDS_TAG) dateContent = argument;
      else found |= argument === ERROR_TAG ? SCREEN_FOUND_TAG | SCREEN_FOUND_ERROR : SCREEN_FOUND_TAG;
      elementBytes = typedArrayElementBytes(argument);
      continue;
    }
    tags = 0;
    if (left > 0) remaining[level] = left - 1;
    if (major === 2 || major === 3) {
      if (argument === UNTIL_BREAK) break; // cbor-x refuses indefinite-length strings
      position += argument;
    } else if (major === 4 || major === 5) {
      // Empty ones count too, so each level is a head of its own, which needsCheck counts.
      // At most one entry per level, so the walk holds no more than this however deep the input goes.
      if (depth > MAX_NESTING) throw new CborScreenError(`arrays, maps and tags nested deeper than ${MAX_NESTING} levels`);
      if (argument === 0) continue;
      remaining.push(argument === UNTIL_BREAK || major === 4 ? argument : argument * 2);
      nesting.push(depth);
    }
  }
  return dateContent === NO_DATE ? found : found | SCREEN_FOUND_TAG;
}

/**
 * False when the screen would take `bytes` and find no tag in them, so that the sender walks (and,
 * when the walk finds a tag, decodes on trial) only the payloads that may hold a tag or nest past
 * MAX_NESTING: one pass over the bytes, for `send`'s sake (the receiver decodes everything). Every
 * tag head (major type 6) is one of the bytes 0xc0 to 0xdb, however long its number is written
 * (0xdc to 0xdf are reserved or not well-formed, which cbor-x's encoder never writes), and every
 * array or map head one of 0x80 to 0xbf: each level of nesting is one such head, so input with no
 * tag and at most MAX_NESTING of those cannot nest deeper. A byte inside a string or a number may
 * match too (UTF-8 of most letters beyond ASCII starts with a tag's byte); then the walk decides.
 * Otherwise, what cbor-x's encoder writes its decoder reads back, and the screen takes.
 */
export function needsCheck(bytes: Uint8Array): boolean {
  /** Bytes that may be an array's or a map's head. */
  let containers = 0;
  for (let index = 0; index < bytes.length; index += 1) {
    const byte = bytes[index]!;
    if (byte >= 0x80 && byte <= 0xdb) {
      if (byte >= 0xc0) return true;
      containers += 1;
      if (containers > MAX_NESTING) return true;
    }
  }
  return false;
}

/**
 * The offset just past the one CBOR item that starts at `start` in `bytes`, by its heads alone (as
 * the screen walks them: a tag and its content are one item), or -1 when it runs past the end, has
 * a reserved or misplaced head, or nests arrays and maps deeper than MAX_SPLIT_DEPTH. For
 * splitting a block's body into its payloads when it did not decode as a whole.
 */
export function cborItemEnd(bytes: Uint8Array, start: number): number {
  const end = bytes.length;
  const remaining: number[] = [1];
  let position = start;
  while (remaining.length > 0) {
    const level = remaining.length - 1;
    const left = remaining[level]!;
    if (left === 0) {
      remaining.pop();
      continue;
    }
    if (position >= end) return -1;
    const initial = bytes[position]!;
    position += 1;
    if (left === UNTIL_BREAK && initial === BREAK) {
      remaining.pop();
      continue;
    }
    const major = initial >> 5;
    const info = initial & 0x1f;
    const argument = headArgument(bytes, position, info);
    // Indefinite length only for strings, arrays and maps; a break only where one ends.
    if (Number.isNaN(argument) || (argument === UNTIL_BREAK && (major < 2 || major > 5))) return -1;
    position += headNumberBytes(info);
    // Cut short by the end (see screenCbor: read on, the walk would never end).
    if (position > end) return -1;
    if (major === 6) continue;
    if (left > 0) remaining[level] = left - 1;
    if (major === 2 || major === 3) {
      // An indefinite-length string is its chunks, until a break.
      if (argument === UNTIL_BREAK) remaining.push(UNTIL_BREAK);
      else position += argument;
    } else if ((major === 4 || major === 5) && argument !== 0) {
      if (remaining.length > MAX_SPLIT_DEPTH) return -1;
      remaining.push(argument === UNTIL_BREAK || major === 4 ? argument : argument * 2);
    }
  }
  return position <= end ? position : -1;
}

/**
 * The number a head carries, read from `position` (just past its first byte) for additional
 * information `info`: UNTIL_BREAK for an indefinite length (31), NaN for the reserved values
 * (28 to 30). Bytes past the end read as zeros: the caller checks the end once it has
 * moved past the head (headNumberBytes). One reading for every walk over heads, so they agree.
 */
export function headArgument(bytes: Uint8Array, position: number, info: number): number {
  if (info < 24) return info;
  if (info === 24) return bytes[position]!;
  if (info === 25) return (bytes[position]! << 8) | bytes[position + 1]!;
  if (info === 26) return readUint32(bytes, position);
  if (info === 27) return readUint32(bytes, position) * 0x1_0000_0000 + readUint32(bytes, position + 4);
  return info === 31 ? UNTIL_BREAK : Number.NaN;
}

/** How many bytes follow a head's first byte to hold its number (0 for info below 24 and for 31). */
export const headNumberBytes = (info: number): number => (info >= 24 && info <= 27 ? 1 << (info - 24) : 0);

function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}
