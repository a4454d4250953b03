// Character classes of the header grammars, as lookup tables over ASCII: one array read per
// character instead of a regular expression per field (extract runs on every message).

export function table(ranges: readonly (readonly [number, number])[], singles = ''): Uint8Array {
  const result = new Uint8Array(128);
  for (const [from, to] of ranges) result.fill(1, from, to + 1);
  for (const character of singles) result[character.charCodeAt(0)] = 1;
  return result;
}

/** RFC 7230 §3.2.6 tchar: the characters of a token (baggage keys). */
export const TOKEN_CHARACTERS = table(
  [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  "!#$%&'*+-.^_`|~",
);

/** W3C Baggage baggage-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E. */
export const BAGGAGE_OCTETS = table([
  [0x21, 0x21],
  [0x23, 0x2b],
  [0x2d, 0x3a],
  [0x3c, 0x5b],
  [0x5d, 0x7e],
]);

/** W3C Trace Context tracestate key characters after the first: lcalpha / DIGIT / "_" / "-" / "*" / "/". */
export const TRACESTATE_KEY_CHARACTERS = table(
  [
    [0x30, 0x39],
    [0x61, 0x7a],
  ],
  '_-*/',
);

/** True when every character of text[start, end) is in `characters`. */
export function allIn(characters: Uint8Array, text: string, start: number, end: number): boolean {
  for (let index = start; index < end; index += 1) {
    const code = text.charCodeAt(index);
    if (code >= 128 || characters[code] === 0) return false;
  }
  return true;
}

/** Index of the first character of text[start, end) that is not a space or tab. */
export function skipWhitespace(text: string, start: number, end: number): number {
  let index = start;
  while (index < end) {
    const code = text.charCodeAt(index);
    if (code !== 0x20 && code !== 0x09) break;
    index += 1;
  }
  return index;
}

/** One past the last character of text[start, end) that is not a space or tab. */
export function trimWhitespaceEnd(text: string, start: number, end: number): number {
  let index = end;
  while (index > start) {
    const code = text.charCodeAt(index - 1);
    if (code !== 0x20 && code !== 0x09) break;
    index -= 1;
  }
  return index;
}

/** True when text[start, end) equals text[otherStart, otherEnd). */
export function sameRange(text: string, start: number, end: number, otherStart: number, otherEnd: number): boolean {
  if (end - start !== otherEnd - otherStart) return false;
  for (let offset = 0; offset < end - start; offset += 1) {
    if (text.charCodeAt(start + offset) !== text.charCodeAt(otherStart + offset)) return false;
  }
  return true;
}
