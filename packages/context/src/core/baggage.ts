// W3C Baggage (Candidate Recommendation): the `baggage` header. Parsing treats input as
// hostile; formatting keeps to the limits so that every receiver that follows the spec accepts it.
import { BAGGAGE_OCTETS, TOKEN_CHARACTERS, allIn, sameRange, skipWhitespace, table } from './characters';
import { trimOptionalWhitespace } from './trace-context';
import type { ParseResult } from './trace-context';

/** One baggage entry: a string value and optional raw properties (`k=v;flag`). */
export interface BaggageEntry {
  readonly value: string;
  /** Properties after the value, without the leading `;`, e.g. `ttl=60;internal`. */
  readonly metadata?: string | undefined;
}

export type Baggage = ReadonlyMap<string, BaggageEntry>;

/**
 * Limits §"Limits": "A platform MUST propagate all list-members ... if the resulting
 * baggage-string would be 8192 bytes or less"; the grammar allows at most 180 list-members.
 */
export const MAX_BAGGAGE_BYTES = 8192;
export const MAX_BAGGAGE_MEMBERS = 180;

/** True for a valid baggage key (an HTTP token). */
export function isBaggageKey(key: unknown): key is string {
  return typeof key === 'string' && key.length > 0 && key.length <= MAX_BAGGAGE_BYTES && allIn(TOKEN_CHARACTERS, key, 0, key.length);
}

/** Normalises a property list (`a=1; b`) or returns undefined when it is outside the grammar. */
export function normaliseBaggageMetadata(metadata: string): string | undefined {
  if (metadata.length > MAX_BAGGAGE_BYTES) return undefined;
  const properties: string[] = [];
  for (const raw of metadata.split(';')) {
    const property = trimOptionalWhitespace(raw);
    if (property.length === 0) return undefined;
    const equals = property.indexOf('=');
    if (equals === -1) {
      if (!allIn(TOKEN_CHARACTERS, property, 0, property.length)) return undefined;
      properties.push(property);
      continue;
    }
    const key = trimOptionalWhitespace(property.slice(0, equals));
    const value = trimOptionalWhitespace(property.slice(equals + 1));
    if (key.length === 0 || !allIn(TOKEN_CHARACTERS, key, 0, key.length) || !allIn(BAGGAGE_OCTETS, value, 0, value.length)) return undefined;
    properties.push(`${key}=${value}`);
  }
  return properties.join(';');
}

/**
 * Parses a `baggage` value. Over 8192 characters or 180 members: `oversized`. A member outside
 * the grammar, or a value whose percent-encoding does not decode: `malformed`, and the whole
 * header is rejected (partial baggage would be worse than none: a receiver could act on half of
 * what the sender meant). Empty members are skipped. A repeated key keeps its last value.
 * One pass over the characters, through lookup tables.
 */
export function parseBaggage(header: string): ParseResult<Map<string, BaggageEntry>> {
  const entries = new Map<string, BaggageEntry>();
  const scanned = scanBaggage(header, entries);
  return scanned < 0 ? rejection(scanned) : { ok: true, value: entries };
}

/**
 * Checks a received `baggage` value as `parseBaggage` does, without building its entries: the
 * result decodes them on first read. A node that forwards a request without reading its baggage
 * (most hops) then never decodes it, and when the header is already in the form `formatBaggage`
 * writes (no whitespace, no empty members, no repeated keys) inject sends it on unchanged.
 */
export function checkBaggage(header: string): ParseResult<Baggage> {
  const scanned = scanBaggage(header, undefined);
  if (scanned < 0) return rejection(scanned);
  return { ok: true, value: scanned >> 1 === 0 ? NO_BAGGAGE : new ReceivedBaggage(header, (scanned & 1) === 1) };
}

const SCAN_MALFORMED = -1;
const SCAN_OVERSIZED = -2;

function rejection(scanned: number): ParseResult<never> {
  return scanned === SCAN_OVERSIZED ? OVERSIZED : MALFORMED;
}

/** Keys compared for repeats when deciding whether a header is canonical; more members: not canonical. */
const MAX_COMPARED_KEYS = 16;
/** Start and end of each key read so far, for the repeated-key test (no strings cut for it). */
const KEY_BOUNDS = new Int32Array(MAX_COMPARED_KEYS * 2);

/**
 * The one pass behind `parseBaggage` and `checkBaggage`: entries go into `into` when given.
 * Returns SCAN_MALFORMED or SCAN_OVERSIZED, or members × 2 + 1 when the header is canonical
 * (exactly what `formatBaggage` would write for its entries, up to percent-encoding choices).
 */
function scanBaggage(header: string, into: Map<string, BaggageEntry> | undefined): number {
  const length = header.length;
  if (length > MAX_BAGGAGE_BYTES) return SCAN_OVERSIZED;
  let members = 0;
  let canonical = true;
  let separated = true; // no member since the last comma (or the start)
  let index = 0;
  while (index < length) {
    let code = header.charCodeAt(index);
    if (code === SPACE || code === TAB) {
      canonical = false; // whitespace around members
      index += 1;
      continue;
    }
    if (code === COMMA) {
      if (separated) canonical = false; // an empty member
      separated = true;
      index += 1;
      continue;
    }
    const keyStart = index;
    while (index < length && (code = header.charCodeAt(index)) < 128 && TOKEN_CHARACTERS[code] === 1) index += 1;
    const keyEnd = index;
    index = skipWhitespace(header, index, length);
    if (keyEnd === keyStart || header.charCodeAt(index) !== EQUALS) return SCAN_MALFORMED;
    const valueStart = skipWhitespace(header, index + 1, length);
    if (index !== keyEnd || valueStart !== index + 1) canonical = false;
    index = valueStart;
    let escaped = false;
    while (index < length && (code = header.charCodeAt(index)) < 128 && BAGGAGE_OCTETS[code] === 1) {
      if (code === PERCENT) escaped = true;
      index += 1;
    }
    const valueEnd = index;
    index = skipWhitespace(header, index, length);
    if (index !== valueEnd) canonical = false;
    let metadata: string | undefined;
    if (index < length && header.charCodeAt(index) === SEMICOLON) {
      let end = header.indexOf(',', index + 1);
      if (end === -1) end = length;
      const raw = header.slice(index + 1, end);
      metadata = normaliseBaggageMetadata(raw);
      if (metadata === undefined) return SCAN_MALFORMED;
      if (metadata !== raw) canonical = false;
      index = end;
    }
    if (index < length && header.charCodeAt(index) !== COMMA) return SCAN_MALFORMED;
    if (members >= MAX_BAGGAGE_MEMBERS) return SCAN_OVERSIZED;
    if (members < MAX_COMPARED_KEYS) {
      for (let other = 0; other < members && canonical; other += 1) if (sameRange(header, keyStart, keyEnd, KEY_BOUNDS[other * 2]!, KEY_BOUNDS[other * 2 + 1]!)) canonical = false;
      KEY_BOUNDS[members * 2] = keyStart;
      KEY_BOUNDS[members * 2 + 1] = keyEnd;
    } else {
      canonical = false;
    }
    members += 1;
    separated = false;
    if (into === undefined) {
      if (escaped && !isPercentEncoded(header, valueStart, valueEnd)) return SCAN_MALFORMED;
      continue;
    }
    const encoded = header.slice(valueStart, valueEnd);
    const value = escaped ? percentDecode(encoded) : encoded;
    if (value === undefined) return SCAN_MALFORMED;
    const key = header.slice(keyStart, keyEnd);
    if (into.has(key)) into.delete(key); // a repeated key moves to the end, as if set again
    // The value is sent on as it came: encoded again, characters the sender left as they are
    // (`#`, `/`, `:`...) would take three bytes each, and a header within 8192 bytes would no
    // longer fit when sent on (the spec requires every member of such a header to be propagated).
    into.set(key, new EncodedBaggageEntry(value, metadata, memberString(key, encoded, metadata)));
  }
  if (members > 0 && separated) canonical = false; // a trailing comma
  return members * 2 + (canonical ? 1 : 0);
}

/**
 * Baggage received in a header, checked but not yet decoded: it decodes on the first read.
 * Immutable like any Baggage; `Context.setBaggage` copies it into a Map.
 */
export class ReceivedBaggage implements ReadonlyMap<string, BaggageEntry> {
  /** The header as received. */
  readonly header: string;
  /** Whether `header` is already in the form `formatBaggage` writes, so inject can send it as is. */
  readonly canonical: boolean;
  #entries: Map<string, BaggageEntry> | undefined;

  /** `header` must have passed `checkBaggage`. */
  constructor(header: string, canonical: boolean) {
    this.header = header;
    this.canonical = canonical;
  }

  get size(): number {
    return this.#decoded().size;
  }

  get(key: string): BaggageEntry | undefined {
    return this.#decoded().get(key);
  }

  has(key: string): boolean {
    return this.#decoded().has(key);
  }

  forEach(callback: (entry: BaggageEntry, key: string, baggage: ReadonlyMap<string, BaggageEntry>) => void, thisArg?: unknown): void {
    this.#decoded().forEach((entry, key) => callback.call(thisArg, entry, key, this));
  }

  entries(): MapIterator<[string, BaggageEntry]> {
    return this.#decoded().entries();
  }

  keys(): MapIterator<string> {
    return this.#decoded().keys();
  }

  values(): MapIterator<BaggageEntry> {
    return this.#decoded().values();
  }

  [Symbol.iterator](): MapIterator<[string, BaggageEntry]> {
    return this.#decoded().entries();
  }

  #decoded(): Map<string, BaggageEntry> {
    if (this.#entries === undefined) {
      const entries = new Map<string, BaggageEntry>();
      // checkBaggage accepted the header, so this pass accepts it too.
      scanBaggage(this.header, entries);
      this.#entries = entries;
    }
    return this.#entries;
  }
}

const NO_BAGGAGE: Baggage = new Map();
const NOTHING_FORMATTED: FormattedBaggage = Object.freeze({ header: '', dropped: 0 });

const SPACE = 0x20;
const TAB = 0x09;
const COMMA = 0x2c;
const EQUALS = 0x3d;
const SEMICOLON = 0x3b;
const PERCENT = 0x25;

const MALFORMED: ParseResult<never> = Object.freeze({ ok: false, reason: 'malformed' });
const OVERSIZED: ParseResult<never> = Object.freeze({ ok: false, reason: 'oversized' });

/**
 * Decodes percent-encoding (UTF-8). Escapes of ASCII characters, by far the common case, are
 * decoded here; a value with escapes of other bytes goes to decodeUtf8. Undefined when a `%`
 * does not start two hex digits.
 */
function percentDecode(encoded: string): string | undefined {
  let percent = encoded.indexOf('%');
  if (percent === -1) return encoded;
  let decoded = '';
  let copied = 0;
  while (percent !== -1) {
    const high = hexDigit(encoded.charCodeAt(percent + 1));
    const low = hexDigit(encoded.charCodeAt(percent + 2));
    if (high < 0 || low < 0) return undefined;
    const byte = high * 16 + low;
    if (byte >= 0x80) return decodeUtf8(encoded);
    decoded += encoded.slice(copied, percent) + String.fromCharCode(byte);
    copied = percent + 3;
    percent = encoded.indexOf('%', copied);
  }
  return decoded + encoded.slice(copied);
}

/** True when every `%` of header[start, end) starts an escape: two hex digits. */
function isPercentEncoded(header: string, start: number, end: number): boolean {
  for (let index = header.indexOf('%', start); index !== -1 && index < end; index = header.indexOf('%', index + 3)) {
    if (index + 2 >= end) return false;
    if (hexDigit(header.charCodeAt(index + 1)) < 0 || hexDigit(header.charCodeAt(index + 2)) < 0) return false;
  }
  return true;
}

/** Replaces what is not UTF-8 with U+FFFD rather than failing. */
const UTF8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/**
 * Decodes a value whose escapes include bytes beyond ASCII. W3C Baggage: octet sequences that
 * are not UTF-8 MUST become U+FFFD, so a sender's one bad byte costs that character, not the
 * member, let alone the header (which the receive path rejects whole on a malformed member).
 * Undefined when a `%` does not start two hex digits.
 */
function decodeUtf8(encoded: string): string | undefined {
  // Every character of a value is a baggage octet (ASCII) or part of an escape, so the decoded
  // bytes are at most as many as the characters.
  const bytes = new Uint8Array(encoded.length);
  let length = 0;
  for (let index = 0; index < encoded.length; index += 1) {
    const code = encoded.charCodeAt(index);
    if (code !== 0x25) {
      bytes[length++] = code;
      continue;
    }
    const high = hexDigit(encoded.charCodeAt(index + 1));
    const low = hexDigit(encoded.charCodeAt(index + 2));
    if (high < 0 || low < 0) return undefined;
    bytes[length++] = high * 16 + low;
    index += 2;
  }
  return UTF8.decode(bytes.subarray(0, length));
}

function hexDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  return -1;
}

/** Characters encodeURIComponent leaves alone (RFC 3986 unreserved, plus !'()*). */
const UNRESERVED = table(
  [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  "-_.!~*'()",
);
const PERCENT_ENCODED: string[] = Array.from({ length: 128 }, (_, code) => `%${code.toString(16).toUpperCase().padStart(2, '0')}`);

/**
 * Percent-encodes a baggage value as encodeURIComponent does. ASCII is encoded here through a
 * table; a value with other characters goes to encodeURIComponent (UTF-8).
 */
function encodeValue(value: string): string {
  let encoded = '';
  let copied = 0;
  for (let index = 0; index < value.length; index += 1) {
    const code = value.charCodeAt(index);
    if (code < 128 && UNRESERVED[code] === 1) continue;
    if (code >= 128) return encodeURIComponent(value);
    encoded += value.slice(copied, index) + PERCENT_ENCODED[code]!;
    copied = index + 1;
  }
  return copied === 0 ? value : encoded + value.slice(copied);
}

export interface FormattedBaggage {
  /** The header value; empty when there is nothing to send. */
  readonly header: string;
  /** Entries left out because the header would have exceeded 8192 bytes or 180 members. */
  readonly dropped: number;
}

/**
 * A baggage entry that keeps its member text (`key=encoded` or `key=encoded;metadata`), which is
 * what `formatBaggage` writes. One set locally (`Context.setBaggage`) has to percent-encode its
 * value anyway, to reject strings that are not well-formed UTF-16; one decoded from a received
 * header keeps the value's text as it came.
 */
class EncodedBaggageEntry implements BaggageEntry {
  readonly value: string;
  readonly metadata?: string | undefined;
  readonly #member: string;

  constructor(value: string, metadata: string | undefined, member: string) {
    this.value = value;
    if (metadata !== undefined) this.metadata = metadata;
    this.#member = member;
  }

  /** The member text of an entry made here, or undefined for any other entry. */
  static memberOf(entry: BaggageEntry): string | undefined {
    return #member in entry ? entry.#member : undefined;
  }
}

/**
 * An entry for `key` (a valid baggage key) with `value` and normalised `metadata`, or undefined
 * when `value` is not well-formed UTF-16 (a lone surrogate cannot be percent-encoded).
 */
export function createBaggageEntry(key: string, value: string, metadata: string | undefined): BaggageEntry | undefined {
  let encoded: string;
  try {
    encoded = encodeValue(value);
  } catch {
    return undefined;
  }
  return new EncodedBaggageEntry(value, metadata, memberString(key, encoded, metadata));
}

/** `key=encoded`, or `key=encoded;metadata` when there is metadata. */
function memberString(key: string, encoded: string, metadata: string | undefined): string {
  return metadata === undefined || metadata === '' ? `${key}=${encoded}` : `${key}=${encoded};${metadata}`;
}

/** The member text of one entry: kept from when it was set or received, or encoded now. */
function memberText(key: string, entry: BaggageEntry): string {
  return EncodedBaggageEntry.memberOf(entry) ?? memberString(key, encodeValue(entry.value), entry.metadata);
}

/**
 * Formats entries as a `baggage` value, percent-encoding values. Entries are written in order;
 * one that would take the header past 8192 bytes or 180 members is left out whole (§Limits: a
 * platform MUST NOT propagate partial list-members) and counted. Received baggage that is
 * already canonical is sent on as it came; otherwise its values keep the encoding they came with,
 * so a received header is never sent on longer than it came. Entries set locally were encoded
 * when set.
 */
export function formatBaggage(entries: Baggage): FormattedBaggage {
  if (entries instanceof ReceivedBaggage) {
    // Not decoded just to be sent on (its size would decode it).
    if (entries.canonical) return { header: entries.header, dropped: 0 };
  } else if (entries.size === 0) {
    return NOTHING_FORMATTED;
  }
  const members: string[] = [];
  let length = -1;
  let dropped = 0;
  for (const [key, entry] of entries) {
    const member = memberText(key, entry);
    if (length + 1 + member.length > MAX_BAGGAGE_BYTES || members.length >= MAX_BAGGAGE_MEMBERS) {
      dropped += 1;
      continue;
    }
    members.push(member);
    length += 1 + member.length;
  }
  // join makes one flat string (see formatTraceParent).
  return { header: members.join(','), dropped };
}
