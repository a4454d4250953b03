import { describe, expect, it } from '@jest/globals';
import { Decoder, Encoder } from 'cbor-x';
import { readLimited } from '../../test/read-limited';
import { CborScreenError, MAX_BIGNUM_BYTES, MAX_NESTING, needsCheck, screenCbor } from './cbor-screen';

const encoder = new Encoder({ useRecords: false, mapsAsObjects: true });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });
/** The largest magnitude taken: MAX_BIGNUM_BYTES bytes. */
const largestBignum = 2n ** BigInt(8 * MAX_BIGNUM_BYTES) - 1n;

describe('screenCbor', () => {
  it.each([
    ['an array of strings, integers, byte strings and null', encoder.encode(['foundation-channels', 5, -3, 2 ** 40, Buffer.alloc(32), null, [1, [2, [3]]]])],
    ['maps and floats', encoder.encode({ a: 1.5, b: { c: 'd' }, e: [] })],
    ['indefinite-length arrays and maps', Buffer.of(0x9f, 0x01, 0xbf, 0x61, 0x61, 0x02, 0xff, 0x9f, 0xff, 0xff)],
    ['a byte string whose content looks like a tag', encoder.encode(Buffer.of(0xd8, 51, 0xc2))],
    [`arrays nested ${MAX_NESTING} levels deep, the last empty`, Buffer.concat([Buffer.alloc(MAX_NESTING - 1, 0x81), Buffer.of(0x80)])],
    [`arrays nested ${MAX_NESTING} levels deep around an integer`, Buffer.concat([Buffer.alloc(MAX_NESTING, 0x81), Buffer.of(0x00)])],
    [`maps nested ${MAX_NESTING} levels deep, in keys and in values`, Buffer.concat([Buffer.alloc(MAX_NESTING / 2, 0xa1), Buffer.from(Array.from({ length: MAX_NESTING / 2 }, () => [0x01, 0xa1]).flat()), Buffer.of(0x01, 0x02), Buffer.alloc(MAX_NESTING / 2 - 1, 0x00)])],
    [`indefinite-length arrays nested ${MAX_NESTING} levels deep`, Buffer.concat([Buffer.alloc(MAX_NESTING, 0x9f), Buffer.alloc(MAX_NESTING, 0xff)])],
    ['truncated input (left to the decoder)', Buffer.of(0x83, 0x01)],
  ])('takes %s, with or without tags', (_name, bytes) => {
    expect(() => screenCbor(bytes, false)).not.toThrow();
    expect(() => screenCbor(bytes, true)).not.toThrow();
  });

  it.each([
    ['dates, sets, maps, errors and typed arrays', encoder.encode([new Date(0), new Set([1]), new Map([['a', 1]]), new Error('e'), new Float64Array(2)])],
    [`big integers of ${MAX_BIGNUM_BYTES} bytes`, encoder.encode({ up: largestBignum, down: -largestBignum - 1n, small: 2n ** 70n })],
  ])('takes %s where tags are allowed, and refuses them where none is', (_name, bytes) => {
    expect(() => screenCbor(bytes, true)).not.toThrow();
    expect(() => screenCbor(bytes, false)).toThrow(CborScreenError);
  });

  it.each([
    ['a packed-values table (tag 51)', Buffer.of(0xd8, 51, 0x84, 0x81, 0x00, 0x80, 0x80, 0x80)],
    ['a packed-values table deep in maps and arrays', Buffer.of(0xa1, 0x61, 0x61, 0x81, 0xd8, 51, 0x84, 0x81, 0x00, 0x80, 0x80, 0x80)],
    ['a big integer one byte too long', encoder.encode([1, largestBignum + 1n])],
    ['a negative big integer one byte too long', encoder.encode({ n: -largestBignum - 2n })],
    ['a big integer around something else than a byte string', Buffer.of(0xc2, 0x81, 0x40)],
    ['a big integer around another tag', Buffer.of(0xc2, 0xd8, 64, 0x41, 0x01)],
    ['a tag after an indefinite-length array ends', Buffer.of(0x82, 0x9f, 0xff, 0xd8, 51, 0x80)],
    ['a shareable value (tag 28)', Buffer.of(0x82, 0xd8, 28, 0x80, 0x01)],
    ['a shared reference (tag 29) in a map', Buffer.of(0xa1, 0x61, 0x61, 0xd8, 29, 0x00)],
    // cbor-x decodes recursively, as deep as the stack it starts from lets it: past the bound, what
    // one side's decoder took the other's could overflow on. The walk keeps one entry per open
    // level too: nested without bound, a 256 MiB message would make it gigabytes.
    [`arrays nested deeper than ${MAX_NESTING} levels`, Buffer.alloc(MAX_NESTING + 1, 0x81)],
    [`arrays nested deeper than ${MAX_NESTING} levels, the last empty`, Buffer.concat([Buffer.alloc(MAX_NESTING, 0x81), Buffer.of(0x80)])],
    [`indefinite-length maps nested deeper than ${MAX_NESTING} levels`, Buffer.from(Array.from({ length: 2 * (MAX_NESTING + 1) }, (_, index) => (index % 2 === 0 ? 0xbf : 0x60)))],
    [`maps nested deeper than ${MAX_NESTING} levels in their keys`, Buffer.concat([Buffer.alloc(MAX_NESTING + 1, 0xa1), Buffer.of(0x01, 0x02), Buffer.alloc(MAX_NESTING, 0x00)])],
    [`Maps (tag 259 around a map: two levels each) ${MAX_NESTING / 2} deep around an empty array`, Buffer.concat([Buffer.from(Array.from({ length: MAX_NESTING / 2 }, () => [0xd9, 0x01, 0x03, 0xa1, 0x01]).flat()), Buffer.of(0x80)])],
    [`tags ${MAX_NESTING + 1} deep around an integer`, Buffer.concat([Buffer.alloc(MAX_NESTING + 1, 0xc5), Buffer.of(0x00)])],
    [`tags and arrays taking turns, ${MAX_NESTING + 1} levels`, Buffer.concat([Buffer.alloc(MAX_NESTING + 1, 0).map((_, index) => (index % 2 === 0 ? 0xc5 : 0x81)), Buffer.of(0x00)])],
  ])('refuses %s', (_name, bytes) => {
    expect(() => screenCbor(bytes, true)).toThrow(CborScreenError);
    expect(() => screenCbor(bytes, false)).toThrow(CborScreenError);
  });

  it('stops at a head whose number runs past the end of the input, however many items the open arrays and maps still wait for', () => {
    // A string's length in the byte after its head, with that byte missing: the walk read it as
    // undefined, its position became NaN, no end check held again, and it counted down the items
    // the open array still waited for, one empty step each: 2 ** 64 of them from ten bytes (a
    // HELLO, before any authentication), which never ends.
    for (const cut of [0x58, 0x78]) {
      for (const open of [Buffer.of(0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), Buffer.of(0x9a, 0xff, 0xff, 0xff, 0xff), Buffer.of(0xbb, 0, 0x20, 0, 0, 0, 0, 0, 0)]) {
        const bytes = readLimited(Buffer.concat([open, Buffer.of(cut)]));
        expect(() => screenCbor(bytes, true)).not.toThrow(); // left to the decoder, which refuses truncated input
        expect(() => screenCbor(bytes, false)).not.toThrow();
      }
    }
    expect(() => {
      decoder.decode(Buffer.of(0x9a, 0xff, 0xff, 0xff, 0xff, 0x78));
    }).toThrow();
  });

  it('refuses a typed array of several bytes an element around anything but a byte string of whole elements, which cbor-x decoded or refused by where its bytes fell in the input', () => {
    const partElement = (tag: number, pad: number): Buffer => Buffer.concat([Buffer.of(0x82), Buffer.from(encoder.encode('p'.repeat(pad))), Buffer.of(0xd8, tag, 0x43, 1, 2, 3)]);
    // Before the screen: one place took it, another did not.
    const outcomes = new Set<string>();
    for (let pad = 0; pad < 8; pad += 1) {
      try {
        decoder.decode(partElement(79, pad));
        outcomes.add('decoded');
      } catch {
        outcomes.add('refused');
      }
    }
    expect(outcomes).toEqual(new Set(['decoded', 'refused']));
    for (const tag of [65, 66, 67, 69, 70, 71, 73, 74, 75, 77, 78, 79, 81, 82, 85, 86]) {
      for (let pad = 0; pad < 8; pad += 1) expect(() => screenCbor(partElement(tag, pad), true)).toThrow(CborScreenError);
      expect(() => screenCbor(Buffer.of(0xd8, tag, 0x01), true)).toThrow(CborScreenError);
      expect(() => screenCbor(Buffer.of(0xd8, tag, 0x5f, 0xff), true)).toThrow(CborScreenError);
      expect(() => screenCbor(Buffer.of(0xd8, tag, 0xd8, 64, 0x48, ...Buffer.alloc(8)), true)).toThrow(CborScreenError);
      expect(() => screenCbor(Buffer.of(0xd8, tag, 0x48, ...Buffer.alloc(8)), true)).not.toThrow();
    }
    // One byte an element: any length, at any place.
    for (const tag of [64, 68, 72]) expect(() => screenCbor(Buffer.of(0xd8, tag, 0x43, 1, 2, 3), true)).not.toThrow();
  });

  it("refuses cbor-x's record tags (105, 0xdffe, 0xdfff, from 0xe000), which read items the walk takes for a string's content: a big integer hidden there decodes", () => {
    const hidden = Buffer.concat([Buffer.of(0xc2, 0x59, 0x03, 0xe8), Buffer.alloc(1000, 0xff)]); // 8000 bits
    const length = hidden.length;
    // An indefinite-length array of: a record definition (tag 105: record 0xe000 has key 'a'); a
    // record 0xe000 whose header the walk reads as a byte string of `length` bytes and cbor-x as
    // `length` values: the hidden big integer, then the zeros the walk takes for items of the array.
    const bytes = Buffer.concat([
      Buffer.of(0x9f, 0xd8, 105, 0x82, 0x19, 0xe0, 0x00, 0x81, 0x61, 0x61),
      Buffer.of(0xd9, 0xe0, 0x00, 0x59, length >>> 8, length & 0xff),
      hidden,
      Buffer.alloc(length - 1, 0x00),
      Buffer.of(0xff),
    ]);
    expect((decoder.decode(bytes) as [unknown, { a: bigint }])[1].a).toBe(2n ** 8000n - 1n);
    expect(() => screenCbor(bytes, true)).toThrow(CborScreenError);
    for (const record of [
      Buffer.of(0xd9, 0xdf, 0xfe, 0x83, 0x19, 0xe0, 0x00, 0x81, 0x61, 0x61, 0x80), // record definitions
      Buffer.of(0xd9, 0xdf, 0xff, 0x83, 0x19, 0xe0, 0x00, 0x81, 0x61, 0x61, 0x01), // a record with its definition
      Buffer.of(0xd9, 0xdf, 0xf9, 0x82, 0x00, 0x01), // bundled strings, read from wherever their offset points
      Buffer.of(0xda, 0x00, 0x01, 0xe0, 0x01, 0x80), // a tag cbor-x reads as record 1
    ]) {
      expect(() => screenCbor(record, true)).toThrow(CborScreenError);
    }
  });

  it(`needsCheck: true for input that may nest past ${MAX_NESTING} levels without a tag, which send walked no more than shallow input`, () => {
    const deep = Buffer.concat([Buffer.alloc(MAX_NESTING + 1, 0x81), Buffer.of(0x00)]);
    expect(() => screenCbor(deep, true)).toThrow(CborScreenError);
    expect(needsCheck(deep)).toBe(true);
    // As many heads, but for one: the screen takes it, so there is no need to walk it.
    expect(needsCheck(deep.subarray(1))).toBe(false);
    // Long and shallow: one head for thousands of bytes.
    expect(needsCheck(encoder.encode({ text: 'x'.repeat(10_000), numbers: Array.from({ length: 400 }, (_, index) => index % 100) }))).toBe(false);
    expect(needsCheck(encoder.encode([new Date(0)]))).toBe(true);
  });
});
