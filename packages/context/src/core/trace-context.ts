// W3C Trace Context (Recommendation, 2021): the `traceparent` and `tracestate` headers.
// Parsing treats input as hostile: it never throws, bounds what it reads, and reports why a
// header was rejected so the caller can count it.

/** Longest `traceparent` accepted. Version 00 is exactly 55 characters; later versions may append fields. */
export const MAX_TRACEPARENT_LENGTH = 512;

/** §3.3.1: "There can be a maximum of 32 list-members in a list." */
export const MAX_TRACESTATE_MEMBERS = 32;

/** Longest `tracestate` accepted (characters). 32 members of 256-character keys and values fit. */
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

const VERSION_00_SHAPE = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const ZERO_TRACE_ID = '00000000000000000000000000000000';
const ZERO_SPAN_ID = '0000000000000000';

/**
 * Parses a `traceparent` value (§3.2). Version `ff` is invalid; version `00` must be exactly 55
 * characters; a higher version is read by its first four fields and must continue with `-` if
 * longer (§3.2.4, "versioning of traceparent"). All-zero trace or parent ids are invalid.
 */
export function parseTraceParent(header: string): ParseResult<TraceParent> {
  if (header.length > MAX_TRACEPARENT_LENGTH) return { ok: false, reason: 'oversized' };
  if (header.length < 55) return { ok: false, reason: 'malformed' };
  const head = header.length === 55 ? header : header.slice(0, 55);
  if (!VERSION_00_SHAPE.test(head)) return { ok: false, reason: 'malformed' };
  const version = head.slice(0, 2);
  if (version === 'ff') return { ok: false, reason: 'malformed' };
  if (header.length > 55 && (version === '00' || header.charCodeAt(55) !== 0x2d)) return { ok: false, reason: 'malformed' };
  const traceId = head.slice(3, 35);
  const spanId = head.slice(36, 52);
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return { ok: false, reason: 'malformed' };
  return { ok: true, value: { traceId, spanId, traceFlags: Number.parseInt(head.slice(53, 55), 16) } };
}

const HEX_BYTE: string[] = Array.from({ length: 256 }, (_, index) => index.toString(16).padStart(2, '0'));

/** Formats a version-00 `traceparent`. The ids must already be valid lowercase hex. */
export function formatTraceParent(traceId: string, spanId: string, traceFlags: number): string {
  return `00-${traceId}-${spanId}-${HEX_BYTE[traceFlags & 0xff]!}`;
}

const TRACE_ID_PATTERN = /^[0-9a-f]{32}$/;
const SPAN_ID_PATTERN = /^[0-9a-f]{16}$/;

/** True when the ids and flags can be written as a valid `traceparent`. */
export function isWritableTraceParent(traceId: string, spanId: string, traceFlags: number): boolean {
  return (
    TRACE_ID_PATTERN.test(traceId) &&
    SPAN_ID_PATTERN.test(spanId) &&
    traceId !== ZERO_TRACE_ID &&
    spanId !== ZERO_SPAN_ID &&
    Number.isInteger(traceFlags) &&
    traceFlags >= 0 &&
    traceFlags <= 0xff
  );
}

// §3.3.1.3: simple-key / multi-tenant-key, and value (printable ASCII except , and =, not ending in a space).
const SIMPLE_KEY = /^[a-z][_0-9a-z\-*/]{0,255}$/;
const TENANT_KEY = /^[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13}$/;
const VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/**
 * Validates a `tracestate` value (§3.3) and returns it normalised (members trimmed, empty
 * members removed). At most 32 members; keys unique; every member `key=value` in the grammar.
 * An empty result (only empty members) is returned as the empty string.
 */
export function parseTraceState(header: string): ParseResult<string> {
  if (header.length > MAX_TRACESTATE_LENGTH) return { ok: false, reason: 'oversized' };
  const members = header.split(',');
  if (members.length > MAX_TRACESTATE_MEMBERS * 4) return { ok: false, reason: 'oversized' };
  const keys = new Set<string>();
  const kept: string[] = [];
  for (const raw of members) {
    const member = trimOptionalWhitespace(raw);
    if (member.length === 0) continue;
    const equals = member.indexOf('=');
    if (equals <= 0) return { ok: false, reason: 'malformed' };
    const key = member.slice(0, equals);
    const value = member.slice(equals + 1);
    if (!(SIMPLE_KEY.test(key) || TENANT_KEY.test(key)) || !VALUE.test(value)) return { ok: false, reason: 'malformed' };
    if (keys.has(key)) return { ok: false, reason: 'malformed' };
    keys.add(key);
    kept.push(member);
    if (kept.length > MAX_TRACESTATE_MEMBERS) return { ok: false, reason: 'oversized' };
  }
  return { ok: true, value: kept.join(',') };
}

/** Removes leading and trailing spaces and tabs (HTTP's OWS). */
export function trimOptionalWhitespace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text.charCodeAt(start) === 0x20 || text.charCodeAt(start) === 0x09)) start += 1;
  while (end > start && (text.charCodeAt(end - 1) === 0x20 || text.charCodeAt(end - 1) === 0x09)) end -= 1;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}
