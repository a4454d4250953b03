// The size of a broadcast payload as the membership measures it wherever it bounds payloads
// (`plumtree.maxPayloadBytes` for `broadcast` and for received GOSSIP, `plumtree.maxStoredBytes`
// for the store): bytes by their length, strings by their length in UTF-8. Other values (the
// membership's own small `$` messages, structured values) are not measured.

/**
 * Bytes of `text` in UTF-8 (a lone surrogate counts as the 3 bytes of U+FFFD, as encoders write it).
 * With `stopAbove`, counting stops once the count passes it: enough to tell a string is too long.
 */
export function utf8Length(text: string, stopAbove = Number.POSITIVE_INFINITY): number {
  let bytes = 0;
  for (let index = 0; index < text.length && bytes <= stopAbove; index += 1) {
    const unit = text.charCodeAt(index);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < text.length) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        index += 1;
        bytes += 4;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** The measured size of `payload` in bytes, or undefined for a value that is neither bytes nor a string. */
export function payloadBytes(payload: unknown): number | undefined {
  if (payload instanceof Uint8Array) return payload.byteLength;
  if (typeof payload === 'string') return utf8Length(payload);
  return undefined;
}
