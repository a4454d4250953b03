// UTF-8 (CBOR, Prometheus text, JSON logs) cannot carry a lone surrogate: it writes U+FFFD in
// its place, so two strings that differ only there become one on the wire.

/** A surrogate that is not half of a pair. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const ANY_SURROGATE = /[\uD800-\uDFFF]/;

/** `text` as UTF-8 carries it: each lone surrogate replaced by U+FFFD (the same string when there is none). */
export function wellFormed(text: string): string {
  return ANY_SURROGATE.test(text) ? text.replace(LONE_SURROGATE, '\uFFFD') : text;
}
