// UTF-8 (CBOR, Prometheus text, JSON logs) cannot carry a lone surrogate: it writes U+FFFD in
// its place, so two strings that differ only there become one on the wire.

/**
 * `text` as UTF-8 carries it: each lone surrogate replaced by U+FFFD (the same string when there
 * is none). `String.prototype.toWellFormed` (ES2024, in Node 20), typed for the ES2023 library.
 */
export function wellFormed(text: string): string {
  return (text as unknown as { toWellFormed(): string }).toWellFormed();
}
