import { describe, expect, it } from '@jest/globals';
import { Encoder } from 'cbor-x';
import { CborScreenError, screenCbor } from './cbor-screen';

const encoder = new Encoder({ useRecords: false, mapsAsObjects: true });

describe('screenCbor', () => {
  it.each([
    ['an array of strings, integers, byte strings and null', encoder.encode(['foundation-channels', 5, -3, 2 ** 40, Buffer.alloc(32), null, [1, [2, [3]]]])],
    ['maps and floats', encoder.encode({ a: 1.5, b: { c: 'd' }, e: [] })],
    ['indefinite-length arrays and maps', Buffer.of(0x9f, 0x01, 0xbf, 0x61, 0x61, 0x02, 0xff, 0x9f, 0xff, 0xff)],
    ['a byte string whose content looks like a tag', encoder.encode(Buffer.of(0xd8, 51, 0xc2))],
    ['truncated input (left to the decoder)', Buffer.of(0x83, 0x01)],
  ])('takes %s', (_name, bytes) => {
    expect(() => screenCbor(bytes)).not.toThrow();
  });

  it.each([
    ['a packed-values table (tag 51)', Buffer.of(0xd8, 51, 0x84, 0x81, 0x00, 0x80, 0x80, 0x80)],
    ['a big integer (tag 2)', encoder.encode(2n ** 70n)],
    ['a date (tag 1) deep in maps and arrays', encoder.encode({ a: [1, { b: [new Date(0)] }] })],
    ['a tag after an indefinite-length array ends', Buffer.of(0x82, 0x9f, 0xff, 0xc1, 0x00)],
    ['a tag as a map value', Buffer.of(0xa1, 0x61, 0x61, 0xd8, 27, 0x80)],
  ])('refuses %s', (_name, bytes) => {
    expect(() => screenCbor(bytes)).toThrow(CborScreenError);
  });
});
