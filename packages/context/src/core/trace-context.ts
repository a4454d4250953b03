// W3C Trace Context (Recommendation, 2021): the `traceparent` and `tracestate` headers.
// Parsing treats input as hostile: it never throws, bounds what it reads, and reports why a
// header was rejected so the caller can count it. Validation walks characters through lookup
// tables rather than regular expressions: this runs for every message a node receives.
import { TRACESTATE_KEY_CHARACTERS, allIn, sameRange, skipWhitespace, trimWhitespaceEnd } from './characters';

/** Longest `traceparent` accepted. Version 00 is exactly 55 characters; later versions may append fields. */
export const MAX_TRACEPARENT_LENGTH = 512;

/** §3.3.1: "There can be a maximum of 32 list-members in a list." */
export const MAX_TRACESTATE_MEMBERS = 32;

/**
 * Longest `tracestate` accepted (characters). The grammar allows up to 16,447 (32 members of
 * 256-character keys and values); the spec's "tracestate limits" only ask that at least 512 be
 * propagated. Trace states set here are kept within it (see W3CTraceState.set).
 */
export const MAX_TRACESTATE_LENGTH = 8192;

export type HeaderRejection = 'malformed' | 'oversized';

export interface TraceParent {
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lowercase hex digits, not all zero. */
  readonly spanId: string;
  /** The trace-flags byte (bit 0: sampled). */
  readonly traceFlags: number;
}

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: HeaderRejection };

const MALFORMED: ParseResult<never> = Object.freeze({ ok: false, reason: 'malformed' });
const OVERSIZED: ParseResult<never> = Object.freeze({ ok: false, reason: 'oversized' });

/** Values of lowercase hex digits by character code; -1 for every other character. */
const HEX_VALUES = new Int8Array(128).fill(-1);
for (let digit = 0; digit < 16; digit += 1) HEX_VALUES['0123456789abcdef'.charCodeAt(digit)] = digit;

/** Value of a lowercase hex digit, or -1. */
function hexValue(code: number): number {
  return code < 128 ? HEX_VALUES[code]! : -1;
}

/**
 * True when text[start, end) is lowercase hex and not all zeros. Branch-free per character: a
 * character is invalid when it is below '0', above 'f', or between '9' and 'a', each test
 * setting the sign bit of `invalid` (NaN past the end becomes 0 and fails the last test).
 */
function isNonZeroHex(text: string, start: number, end: number): boolean {
  let invalid = 0;
  let nonZero = 0;
  for (let index = start; index < end; index += 1) {
    const code = text.charCodeAt(index);
    invalid |= (code - 0x30) | (0x66 - code) | ~((code - 0x3a) | (0x60 - code));
    nonZero |= code ^ 0x30;
  }
  return invalid >= 0 && nonZero !== 0;
}

/**
 * Parses a `traceparent` value (§3.2). Version `ff` is invalid; version `00` must be exactly 55
 * characters; a higher version is read by its first four fields and must continue with `-` if
 * longer (§3.2.4, "versioning of traceparent"). All-zero trace or parent ids are invalid.
 */
export function parseTraceParent(header: string): ParseResult<TraceParent> {
  const length = header.length;
  if (length > MAX_TRACEPARENT_LENGTH) return OVERSIZED;
  if (length < 55) return MALFORMED;
  const versionHigh = hexValue(header.charCodeAt(0));
  const versionLow = hexValue(header.charCodeAt(1));
  if (versionHigh < 0 || versionLow < 0 || (versionHigh === 15 && versionLow === 15)) return MALFORMED;
  if (header.charCodeAt(2) !== 0x2d || header.charCodeAt(35) !== 0x2d || header.charCodeAt(52) !== 0x2d) return MALFORMED;
  if (length > 55 && ((versionHigh === 0 && versionLow === 0) || header.charCodeAt(55) !== 0x2d)) return MALFORMED;
  if (!isNonZeroHex(header, 3, 35) || !isNonZeroHex(header, 36, 52)) return MALFORMED;
  const flagsHigh = hexValue(header.charCodeAt(53));
  const flagsLow = hexValue(header.charCodeAt(54));
  if (flagsHigh < 0 || flagsLow < 0) return MALFORMED;
  return { ok: true, value: { traceId: header.slice(3, 35), spanId: header.slice(36, 52), traceFlags: flagsHigh * 16 + flagsLow } };
}

const HEX_BYTE: string[] = Array.from({ length: 256 }, (_, index) => index.toString(16).padStart(2, '0'));

/**
 * Formats a version-00 `traceparent`. The ids must already be valid lowercase hex. Built with
 * join, which makes one flat string: a receiver in the same process then parses it without
 * first flattening the tree of pieces a template literal would leave.
 */
export function formatTraceParent(traceId: string, spanId: string, traceFlags: number): string {
  return ['00-', traceId, '-', spanId, '-', HEX_BYTE[traceFlags & 0xff]!].join('');
}

/** True when the ids and flags can be written as a valid `traceparent`. */
export function isWritableTraceParent(traceId: string, spanId: string, traceFlags: number): boolean {
  return (
    typeof traceId === 'string' &&
    typeof spanId === 'string' &&
    traceId.length === 32 &&
    spanId.length === 16 &&
    isNonZeroHex(traceId, 0, 32) &&
    isNonZeroHex(spanId, 0, 16) &&
    Number.isInteger(traceFlags) &&
    traceFlags >= 0 &&
    traceFlags <= 0xff
  );
}

/** §3.3.1.3.1: simple-key = lcalpha 0*255(...); multi-tenant-key = tenant-id "@" system-id. */
export function isTraceStateKey(text: string, start = 0, end = text.length): boolean {
  const length = end - start;
  if (length < 1 || length > 256) return false;
  const at = text.indexOf('@', start);
  if (at === -1 || at >= end) {
    const first = text.charCodeAt(start);
    return first >= 0x61 && first <= 0x7a && allIn(TRACESTATE_KEY_CHARACTERS, text, start + 1, end);
  }
  // tenant-id = ( lcalpha / DIGIT ) 0*240( ... ); system-id = lcalpha 0*13( ... )
  const tenantLength = at - start;
  const systemLength = end - at - 1;
  if (tenantLength < 1 || tenantLength > 241 || systemLength < 1 || systemLength > 14) return false;
  const tenantFirst = text.charCodeAt(start);
  const systemFirst = text.charCodeAt(at + 1);
  return (
    ((tenantFirst >= 0x61 && tenantFirst <= 0x7a) || (tenantFirst >= 0x30 && tenantFirst <= 0x39)) &&
    allIn(TRACESTATE_KEY_CHARACTERS, text, start + 1, at) &&
    systemFirst >= 0x61 &&
    systemFirst <= 0x7a &&
    allIn(TRACESTATE_KEY_CHARACTERS, text, at + 2, end)
  );
}

/** §3.3.1.3.2: value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E. */
export function isTraceStateValue(text: string, start = 0, end = text.length): boolean {
  const length = end - start;
  if (length < 1 || length > 256) return false;
  for (let index = start; index < end; index += 1) {
    const code = text.charCodeAt(index);
    if (code < 0x20 || code > 0x7e || code === 0x2c || code === 0x3d) return false;
  }
  return text.charCodeAt(end - 1) !== 0x20;
}

/**
 * Validates a `tracestate` value (§3.3) and returns it normalised (members trimmed, empty
 * members removed). At most 32 members; keys unique; every member `key=value` in the grammar.
 * An empty result (only empty members) is returned as the empty string.
 */
export function parseTraceState(header: string): ParseResult<string> {
  if (header.length > MAX_TRACESTATE_LENGTH) return OVERSIZED;
  // One member without surrounding whitespace, as most traces carry: checked in place.
  if (header.indexOf(',') === -1 && header.length > 0) {
    const last = header.charCodeAt(header.length - 1);
    const first = header.charCodeAt(0);
    if (first !== 0x20 && first !== 0x09 && last !== 0x20 && last !== 0x09) {
      const equals = header.indexOf('=');
      return equals !== -1 && isTraceStateKey(header, 0, equals) && isTraceStateValue(header, equals + 1, header.length) ? { ok: true, value: header } : MALFORMED;
    }
  }
  // Each member's start, `=` and end, for the uniqueness test (keys compared in place, no
  // strings cut) and for the normalised form.
  const bounds = MEMBER_BOUNDS;
  let members = 0;
  let empty = 0;
  let start = 0;
  let changed = false;
  while (start <= header.length) {
    let end = header.indexOf(',', start);
    if (end === -1) end = header.length;
    const memberStart = skipWhitespace(header, start, end);
    const memberEnd = trimWhitespaceEnd(header, memberStart, end);
    if (memberStart !== start || memberEnd !== end) changed = true;
    if (memberStart === memberEnd) {
      empty += 1;
      if (empty > MAX_TRACESTATE_MEMBERS * 4) return OVERSIZED;
    } else {
      if (members === MAX_TRACESTATE_MEMBERS) return OVERSIZED;
      const equals = header.indexOf('=', memberStart);
      if (equals === -1 || equals >= memberEnd) return MALFORMED;
      if (!isTraceStateKey(header, memberStart, equals) || !isTraceStateValue(header, equals + 1, memberEnd)) return MALFORMED;
      for (let other = 0; other < members; other += 1) {
        if (sameRange(header, memberStart, equals, bounds[other * 3]!, bounds[other * 3 + 1]!)) return MALFORMED;
      }
      bounds[members * 3] = memberStart;
      bounds[members * 3 + 1] = equals;
      bounds[members * 3 + 2] = memberEnd;
      members += 1;
    }
    start = end + 1;
  }
  if (!changed && empty === 0) return { ok: true, value: header };
  let normalised = '';
  for (let member = 0; member < members; member += 1) {
    const text = header.slice(bounds[member * 3], bounds[member * 3 + 2]);
    normalised = member === 0 ? text : `${normalised},${text}`;
  }
  return { ok: true, value: normalised };
}

/** Start, `=` and end of up to 32 members, reused by every parse (parsing never re-enters). */
const MEMBER_BOUNDS = new Int32Array(MAX_TRACESTATE_MEMBERS * 3);

/** Removes leading and trailing spaces and tabs (HTTP's OWS). */
export function trimOptionalWhitespace(text: string): string {
  const start = skipWhitespace(text, 0, text.length);
  const end = trimWhitespaceEnd(text, start, text.length);
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/**
 * A span context from OpenTelemetry as a `traceparent` can carry it. OpenTelemetry's
 * `isSpanContextValid` accepts uppercase hex, which W3C trace context does not: such ids are
 * lowercased (the same ids). Undefined when it cannot be written at all (flags beyond a byte).
 */
export function writableSpanContext<Span extends { readonly traceId: string; readonly spanId: string; readonly traceFlags: number }>(span: Span): Span | undefined {
  if (isWritableTraceParent(span.traceId, span.spanId, span.traceFlags)) return span;
  if (typeof span.traceId !== 'string' || typeof span.spanId !== 'string') return undefined;
  const traceId = span.traceId.toLowerCase();
  const spanId = span.spanId.toLowerCase();
  return isWritableTraceParent(traceId, spanId, span.traceFlags) ? { ...span, traceId, spanId } : undefined;
}
