// W3C Baggage (Candidate Recommendation): the `baggage` header. Parsing treats input as
// hostile; formatting keeps to the limits so that every receiver that follows the spec accepts it.
import { trimOptionalWhitespace } from './trace-context';
import type { HeaderRejection, ParseResult } from './trace-context';

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

// RFC 7230 §3.2.6 token characters.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// baggage-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E (no space, ", comma, ;, backslash).
const OCTETS = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;

/** True for a valid baggage key (an HTTP token). */
export function isBaggageKey(key: unknown): key is string {
  return typeof key === 'string' && key.length <= MAX_BAGGAGE_BYTES && TOKEN.test(key);
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
      if (!TOKEN.test(property)) return undefined;
      properties.push(property);
      continue;
    }
    const key = trimOptionalWhitespace(property.slice(0, equals));
    const value = trimOptionalWhitespace(property.slice(equals + 1));
    if (!TOKEN.test(key) || !OCTETS.test(value)) return undefined;
    properties.push(`${key}=${value}`);
  }
  return properties.join(';');
}

/**
 * Parses a `baggage` value. Over 8192 characters or 180 members: `oversized`. A member outside
 * the grammar, or a value whose percent-encoding does not decode: `malformed`, and the whole
 * header is rejected (partial baggage would be worse than none: a receiver could act on half of
 * what the sender meant). Empty members are skipped. A repeated key keeps its last value.
 */
export function parseBaggage(header: string): ParseResult<Map<string, BaggageEntry>> {
  if (header.length > MAX_BAGGAGE_BYTES) return rejected('oversized');
  const entries = new Map<string, BaggageEntry>();
  let members = 0;
  for (const raw of header.split(',')) {
    const member = trimOptionalWhitespace(raw);
    if (member.length === 0) continue;
    members += 1;
    if (members > MAX_BAGGAGE_MEMBERS) return rejected('oversized');
    const semicolon = member.indexOf(';');
    const pair = semicolon === -1 ? member : member.slice(0, semicolon);
    const equals = pair.indexOf('=');
    if (equals === -1) return rejected('malformed');
    const key = trimOptionalWhitespace(pair.slice(0, equals));
    const encoded = trimOptionalWhitespace(pair.slice(equals + 1));
    if (!TOKEN.test(key) || !OCTETS.test(encoded)) return rejected('malformed');
    const value = percentDecode(encoded);
    if (value === undefined) return rejected('malformed');
    let metadata: string | undefined;
    if (semicolon !== -1) {
      metadata = normaliseBaggageMetadata(member.slice(semicolon + 1));
      if (metadata === undefined) return rejected('malformed');
    }
    entries.delete(key); // a repeated key moves to the end, as if set again
    entries.set(key, metadata === undefined ? { value } : { value, metadata });
  }
  return { ok: true, value: entries };
}

function rejected(reason: HeaderRejection): ParseResult<never> {
  return { ok: false, reason };
}

function percentDecode(encoded: string): string | undefined {
  if (!encoded.includes('%')) return encoded;
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

export interface FormattedBaggage {
  /** The header value; empty when there is nothing to send. */
  readonly header: string;
  /** Entries left out because the header would have exceeded 8192 bytes or 180 members. */
  readonly dropped: number;
}

/**
 * Formats entries as a `baggage` value, percent-encoding values. Entries are written in order;
 * one that would take the header past 8192 bytes or 180 members is left out whole (§Limits: a
 * platform MUST NOT propagate partial list-members) and counted.
 */
export function formatBaggage(entries: Baggage): FormattedBaggage {
  let header = '';
  let members = 0;
  let dropped = 0;
  for (const [key, entry] of entries) {
    const member = `${key}=${encodeURIComponent(entry.value)}${entry.metadata === undefined || entry.metadata === '' ? '' : `;${entry.metadata}`}`;
    const length = header.length === 0 ? member.length : header.length + 1 + member.length;
    if (length > MAX_BAGGAGE_BYTES || members >= MAX_BAGGAGE_MEMBERS) {
      dropped += 1;
      continue;
    }
    header = header.length === 0 ? member : `${header},${member}`;
    members += 1;
  }
  return { header, dropped };
}
