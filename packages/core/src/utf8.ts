// The length of a string in UTF-8 bytes, counted without encoding it: for bounds on payload
// and entry sizes that are checked on every message (registry entries, broadcast payloads).

/**
 * Bytes of `text` in UTF-8, as `Buffer.byteLength(text, 'utf8')` counts them (a lone surrogate
 * is the 3 bytes of U+FFFD, as encoders write it), without allocating. With `stopAbove`, counting
 * stops once the count passes it: enough to tell that a string is too long, in time bounded by
 * the limit rather than by the string.
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

/**
 * Whether `text` is well-formed UTF-16, with no lone surrogate (half of a pair, as
 * `'😀'.slice(0, 1)` gives): `String.prototype.isWellFormed` (ES2024, in Node 20), typed for the
 * ES2023 library. UTF-8 has no form for a lone surrogate: CBOR, JSON logs and `Buffer` write it
 * as U+FFFD, so two strings differing only there arrive as one.
 */
export function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}
