import { describe, expect, it } from '@jest/globals';
import { Tag } from 'cbor-x';
import fc from 'fast-check';
import { UndecodablePayload, decodeBlockItems } from './block-body';
import { createCborCodec } from './cbor';
import { CBOR_PAIR, arrayHeadLength, writeArrayHead } from './cbor-heads';
import { readLimited } from '../../test/read-limited';
import { MAX_NESTING, MAX_SPLIT_DEPTH, cborItemEnd } from './cbor-screen';
import { META_KINDS, metaToWire } from './meta';

const codec = createCborCodec();

/** A block body as the outbound queue frames it: an array head, then the items' bytes. */
function body(items: Uint8Array[]): Buffer {
  const head = new Uint8Array(arrayHeadLength(items.length));
  writeArrayHead(head, 0, items.length);
  return Buffer.concat([head, ...items]);
}

function pair(payload: Uint8Array, id = 1): Buffer {
  return Buffer.concat([Buffer.of(CBOR_PAIR), codec.encode(metaToWire({ kind: META_KINDS.request, id, headers: undefined })), payload]);
}

const undecodable = codec.encode(new Tag(5, 258));
const refused = codec.encode(2n ** 4200n);

describe('decodeBlockItems', () => {
  it('decodes each payload on its own, an undecodable one (cbor-x throws, or the screen refuses it) in its place', () => {
    const items = decodeBlockItems(codec, body([codec.encode('a'), undecodable, refused, codec.encode({ b: [1] })]), 4, false)!;
    expect(items).toHaveLength(4);
    expect(items[0]).toBe('a');
    expect(items[1]).toBeInstanceOf(UndecodablePayload);
    expect(String((items[1] as UndecodablePayload).error)).toContain('not iterable');
    expect(items[2]).toBeInstanceOf(UndecodablePayload);
    expect(items[3]).toEqual({ b: [1] });
    const pairs = decodeBlockItems(codec, body([pair(undecodable, 7), pair(codec.encode('c'), 8)]), 2, true)!;
    expect(pairs[0]).toEqual([[META_KINDS.request, 7, null], expect.any(UndecodablePayload)]);
    expect(pairs[1]).toEqual([[META_KINDS.request, 8, null], 'c']);
    // Many items: heads of every length.
    const many = Array.from({ length: 300 }, (_, index) => (index === 150 ? undecodable : codec.encode(index)));
    const decoded = decodeBlockItems(codec, body(many), 300, false)!;
    expect(decoded.filter((item) => item instanceof UndecodablePayload)).toHaveLength(1);
    expect(decoded[299]).toBe(299);
  });

  it(`drops a payload nested past ${MAX_NESTING} levels in its place, however deep, and decodes one at the bound, whose body as a whole nests deeper`, () => {
    // The screen refuses it before cbor-x recurses, so splitting costs a walk of its heads, not
    // the stack overflow (milliseconds each) that once made such a payload cost its frame.
    const atBound = Buffer.concat([Buffer.alloc(MAX_NESTING, 0x81), Buffer.of(0x00)]);
    const pastBound = [Buffer.concat([Buffer.alloc(MAX_NESTING + 1, 0x81), Buffer.of(0x00)]), Buffer.concat([Buffer.alloc(16_000, 0x81), Buffer.of(0x00)])];
    const items = decodeBlockItems(codec, body([codec.encode('a'), atBound, ...pastBound]), 4, false)!;
    expect(items[0]).toBe('a');
    expect(items[1]).toEqual(codec.decode(atBound));
    expect(items[2]).toBeInstanceOf(UndecodablePayload);
    expect(items[3]).toBeInstanceOf(UndecodablePayload);
    const pairs = decodeBlockItems(codec, body([pair(atBound, 7), pair(pastBound[0]!, 8)]), 2, true)!;
    expect(pairs[0]).toEqual([[META_KINDS.request, 7, null], codec.decode(atBound)]);
    expect(pairs[1]).toEqual([[META_KINDS.request, 8, null], expect.any(UndecodablePayload)]);
  });

  it.each([
    ['a count other than the header says', body([codec.encode('a'), undecodable]), 3, false],
    ['an indefinite-length array', Buffer.concat([Buffer.of(0x9f), codec.encode('a'), undecodable, Buffer.of(0xff)]), 2, false],
    ['no array', codec.encode('a'), 1, false],
    ['an empty body', Buffer.alloc(0), 1, false],
    ['an item cut short', body([codec.encode('a'), Buffer.of(0x83, 0x01)]), 2, false],
    ['bytes after the last item', Buffer.concat([body([codec.encode('a'), undecodable]), Buffer.of(0x01)]), 2, false],
    ['an item that is no pair where pairs are due', body([pair(codec.encode('a')), codec.encode('b')]), 2, true],
    ['a meta that does not decode', body([Buffer.concat([Buffer.of(CBOR_PAIR), undecodable, codec.encode('a')])]), 1, true],
    ['a stray break', body([Buffer.of(0xff)]), 1, false],
    // No encoder writes it (cbor-x's runs out of stack a few thousand levels down).
    [`a payload nesting arrays deeper than ${MAX_SPLIT_DEPTH} levels`, body([codec.encode('a'), Buffer.concat([Buffer.alloc(MAX_SPLIT_DEPTH + 1, 0x81), Buffer.of(0x00)])]), 2, false],
  ])('refuses the whole body (undefined) for %s', (_name, bytes, count, hasMeta) => {
    expect(decodeBlockItems(codec, bytes, count, hasMeta)).toBeUndefined();
  });

  it('gives what decoding the whole body gives, for any block of payloads this node encodes', () => {
    const payload = fc.oneof(fc.jsonValue(), fc.date({ noInvalidDate: true }), fc.bigInt(), fc.float64Array({ maxLength: 4 }), fc.uint8Array({ maxLength: 40 }));
    fc.assert(
      fc.property(fc.array(payload, { minLength: 1, maxLength: 30 }), fc.boolean(), (payloads, hasMeta) => {
        const bytes = body(payloads.map((value, index) => (hasMeta ? pair(codec.encode(value), index) : codec.encode(value))));
        expect(decodeBlockItems(codec, bytes, payloads.length, hasMeta)).toEqual(codec.decode(bytes));
      }),
      { numRuns: 300 },
    );
  });
});

describe('cborItemEnd', () => {
  it.each([
    ['an integer', Buffer.of(0x01, 0x02), 1],
    ['a tag and its content', Buffer.of(0xc1, 0x1a, 0, 0, 0, 1, 0x02), 6],
    ['indefinite-length strings, arrays and maps', Buffer.of(0x5f, 0x41, 0x01, 0xff, 0x9f, 0xbf, 0x61, 0x61, 0x01, 0xff, 0xff, 0x00), 4],
    ['a float', Buffer.of(0xfb, 0, 0, 0, 0, 0, 0, 0, 0, 0x00), 9],
    ['a nested array', Buffer.of(0x82, 0x81, 0x01, 0x62, 0x61, 0x62, 0x00), 6],
  ])('finds the end of %s', (_name, bytes, end) => {
    expect(cborItemEnd(bytes, 0)).toBe(end);
  });

  it.each([
    ['a string past the end', Buffer.of(0x65, 0x61)],
    ['an array past the end', Buffer.of(0x82, 0x01)],
    ['a break outside an indefinite-length item', Buffer.of(0xff)],
    ['an indefinite-length integer', Buffer.of(0x1f)],
    ['a reserved head', Buffer.of(0x1c)],
    [`arrays nested deeper than ${MAX_SPLIT_DEPTH} levels`, Buffer.concat([Buffer.alloc(MAX_SPLIT_DEPTH + 1, 0x81), Buffer.of(0x00)])],
    // A string's length in the byte after its head, that byte missing, where the open array
    // waits for 2 ** 64 more items: the walk went on at position NaN, one empty step an item.
    ['a head cut short in an array of 2 ** 64 items', Buffer.of(0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x78)],
    ['a byte string head cut short in a map of 2 ** 32 entries', Buffer.of(0xba, 0xff, 0xff, 0xff, 0xff, 0x58)],
  ])('gives -1 for %s', (_name, bytes) => {
    expect(cborItemEnd(readLimited(bytes), 0)).toBe(-1);
  });
});
