// The few CBOR heads (RFC 8949 §3) the framing writes by hand around payloads that cbor-x
// already encoded: an array header, a two-element array, null.

export const CBOR_NULL = 0xf6;
export const CBOR_PAIR = 0x82;

/** Bytes needed for the head of a CBOR array of `count` items. */
export function arrayHeadLength(count: number): number {
  if (count < 24) return 1;
  if (count < 0x100) return 2;
  if (count < 0x1_0000) return 3;
  return 5;
}

/** Writes the head of a CBOR array of `count` items at `offset`; returns the offset after it. */
export function writeArrayHead(target: Uint8Array, offset: number, count: number): number {
  if (count < 24) {
    target[offset] = 0x80 + count;
    return offset + 1;
  }
  if (count < 0x100) {
    target[offset] = 0x98;
    target[offset + 1] = count;
    return offset + 2;
  }
  if (count < 0x1_0000) {
    target[offset] = 0x99;
    target[offset + 1] = count >>> 8;
    target[offset + 2] = count & 0xff;
    return offset + 3;
  }
  target[offset] = 0x9a;
  target[offset + 1] = count >>> 24;
  target[offset + 2] = (count >>> 16) & 0xff;
  target[offset + 3] = (count >>> 8) & 0xff;
  target[offset + 4] = count & 0xff;
  return offset + 5;
}
