// The size of a broadcast payload as the membership measures it wherever it bounds payloads
// (`plumtree.maxPayloadBytes` for `broadcast` and for received GOSSIP, `plumtree.maxStoredBytes`
// for the store): bytes by their length, strings by their length in UTF-8. Other values (the
// membership's own small `$` messages, structured values) are not measured.
import { utf8Length } from '@foundation/core';

/** The measured size of `payload` in bytes, or undefined for a value that is neither bytes nor a string. */
export function payloadBytes(payload: unknown): number | undefined {
  if (payload instanceof Uint8Array) return payload.byteLength;
  if (typeof payload === 'string') return utf8Length(payload);
  return undefined;
}
