// A look at the item heads of CBOR input before cbor-x decodes it, for tags. cbor-x decodes
// every tag it knows whatever the decoder's options, from module-wide tables that no option
// turns off, and some cost far more than their bytes: after a packed-values table (tag 51,
// draft-ietf-cbor-packed), each item that names one of its prefixes decodes to a fresh copy of
// it, so 4 KiB decode into 8 MB of arrays (25 KB into 400 MB); a big integer (tags 2 and 3)
// takes time that grows with the square of its length; each Error (tag 27) captures a stack.
//
// Handshake frames hold no tags at all (arrays, strings, integers, byte strings, null), and they
// are decoded before the other side proved anything, so there any tag is refused.
//
// The walk reads heads only (strings are skipped by their length), keeps its own stack instead
// of recursing, and leaves everything else (truncation, reserved values, trailing bytes) to
// cbor-x, which refuses it.

const BREAK = 0xff;
/** Items of an indefinite-length array or map: until a break. */
const UNTIL_BREAK = -1;

/** CBOR input that holds an item the screen refuses. */
export class CborScreenError extends Error {}

/** Throws CborScreenError when `bytes` holds a tag. Cost: one step per item head. */
export function screenCbor(bytes: Uint8Array): void {
  const end = bytes.length;
  // Items left at each open level (UNTIL_BREAK for indefinite length); the bottom one is the
  // single top-level item.
  const remaining: number[] = [1];
  let position = 0;
  while (remaining.length > 0) {
    const level = remaining.length - 1;
    const left = remaining[level]!;
    if (left === 0) {
      remaining.pop();
      continue;
    }
    if (position >= end) return;
    const initial = bytes[position]!;
    position += 1;
    if (left === UNTIL_BREAK && initial === BREAK) {
      remaining.pop();
      continue;
    }
    const major = initial >> 5;
    const info = initial & 0x1f;
    let argument: number;
    if (info < 24) argument = info;
    else if (info === 24) argument = bytes[position]!;
    else if (info === 25) argument = (bytes[position]! << 8) | bytes[position + 1]!;
    else if (info === 26) argument = readUint32(bytes, position);
    else if (info === 27) argument = readUint32(bytes, position) * 0x1_0000_0000 + readUint32(bytes, position + 4);
    else if (info === 31) argument = UNTIL_BREAK;
    else return; // reserved: cbor-x refuses it
    if (info >= 24 && info <= 27) position += 1 << (info - 24);
    if (major === 6) throw new CborScreenError(`CBOR tag ${argument} where none is allowed`);
    if (left > 0) remaining[level] = left - 1;
    if (major === 2 || major === 3) {
      if (argument === UNTIL_BREAK) return; // cbor-x refuses indefinite-length strings
      position += argument;
    } else if (major === 4) {
      if (argument !== 0) remaining.push(argument);
    } else if (major === 5) {
      if (argument !== 0) remaining.push(argument === UNTIL_BREAK ? UNTIL_BREAK : argument * 2);
    }
  }
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}
