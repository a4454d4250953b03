// Validation of the small scalar fields Foundation carries beside the W3C headers: identifiers
// (correlation id, request id, origin node) and non-negative integers (hops, remaining time).
// Pure functions; they never throw.

/** Longest identifier accepted in a context or a carrier (characters). */
export const MAX_IDENTIFIER_LENGTH = 256;

/** Largest hop count or remaining-time value accepted: 2^31 − 1 (about 24.8 days in ms). */
export const MAX_COUNTER_VALUE = 2_147_483_647;

/**
 * True for a non-empty string of at most `maxLength` visible ASCII characters (0x21–0x7e): safe
 * as an HTTP header value, a log field and a Prometheus label, and free of separators that a
 * carrier could split on.
 */
export function isIdentifier(value: unknown, maxLength: number = MAX_IDENTIFIER_LENGTH): value is string {
  // A compiled regular expression measured faster here than a charCodeAt loop.
  return typeof value === 'string' && value.length > 0 && value.length <= maxLength && VISIBLE_ASCII.test(value);
}

const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/**
 * Parses a non-negative decimal integer of at most 10 digits and at most `max`; anything else
 * (signs, spaces, fractions, exponents, hex, empty) yields undefined.
 */
export function parseCounter(text: string, max: number = MAX_COUNTER_VALUE): number | undefined {
  if (text.length === 0 || text.length > 10) return undefined;
  let value = 0;
  for (let index = 0; index < text.length; index += 1) {
    const digit = text.charCodeAt(index) - 48;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  return value <= max ? value : undefined;
}

/** True for an integer in 0..max. */
export function isCounter(value: unknown, max: number = MAX_COUNTER_VALUE): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max;
}
