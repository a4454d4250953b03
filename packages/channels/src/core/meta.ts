// The per-message meta that travels beside a payload when there is one: context headers, and
// the ids that pair a request with its reply. Encoded as a CBOR array [kind, id, headers];
// decoded input is validated field by field (hostile until proven otherwise).
import { isPlainObject } from '@foundation/core';

export const META_KINDS = Object.freeze({
  /** A plain message that carries headers. */
  message: 0,
  /** A request; the peer answers with a reply carrying the same id. */
  request: 1,
  /** A successful reply. */
  reply: 2,
  /** A failed reply: the payload is a serialized FoundationError. */
  errorReply: 3,
});

export type MetaKind = (typeof META_KINDS)[keyof typeof META_KINDS];

export interface MessageMeta {
  readonly kind: MetaKind;
  /** Request id (0 for plain messages). */
  readonly id: number;
  readonly headers: Readonly<Record<string, string>> | undefined;
}

export const MAX_HEADERS = 64;
export const MAX_HEADER_NAME_LENGTH = 256;
export const MAX_HEADER_VALUE_LENGTH = 8192;

/** Thrown for meta that does not have the expected shape. */
export class MetaFormatError extends Error {}

/** The array cbor-x encodes for a meta. */
export function metaToWire(meta: MessageMeta): unknown[] {
  return [meta.kind, meta.id, meta.headers ?? null];
}

/** Checks headers given by a caller or decoded from the wire; returns a null-prototype copy. */
export function checkHeaders(value: unknown): Record<string, string> | undefined {
  if (value === null || value === undefined) return undefined;
  if (!isPlainObject(value)) throw new MetaFormatError('headers must be a map of strings');
  const keys = Object.keys(value);
  if (keys.length > MAX_HEADERS) throw new MetaFormatError(`more than ${MAX_HEADERS} headers`);
  const headers = Object.create(null) as Record<string, string>;
  for (const key of keys) {
    const item = value[key];
    if (typeof item !== 'string' || key.length > MAX_HEADER_NAME_LENGTH || item.length > MAX_HEADER_VALUE_LENGTH) {
      throw new MetaFormatError('header names and values must be strings of bounded length');
    }
    headers[key] = item;
  }
  return headers;
}

/** Validates a decoded meta (null means "no meta"). */
export function metaFromWire(value: unknown): MessageMeta | undefined {
  if (value === null) return undefined;
  if (!Array.isArray(value) || value.length !== 3) throw new MetaFormatError('meta must be [kind, id, headers]');
  const [kind, id, headers] = value as [unknown, unknown, unknown];
  if (kind !== 0 && kind !== 1 && kind !== 2 && kind !== 3) throw new MetaFormatError('unknown meta kind');
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) throw new MetaFormatError('meta id must be a non-negative integer');
  return { kind, id, headers: checkHeaders(headers) };
}
