// Strings stored or sent must be well-formed Unicode: a lone surrogate (half of a pair, as
// `'😀'.slice(0, 1)` gives) has no UTF-8 form. cbor-x writes it as bytes that are not UTF-8,
// which the decode guard refuses (the stored event becomes unreadable) or a lenient decoder
// turns into U+FFFD (the event comes back changed). So such strings are refused on the way in.

/** `String.prototype.isWellFormed` (ES2024, in Node 20), typed for the ES2023 library. */
export function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}
