// Whatever this node's own encoder writes for a payload of the types the README lists, the
// screen must take and cbor-x decode back to the value: the screen refuses only what this
// encoder never writes. Each value is checked alone, as a message's payload is, and inside a
// block as the outbound queue frames it (an array head, then [meta, payload] pairs).
import { describe, expect, it } from '@jest/globals';
import { Tag } from 'cbor-x';
import fc from 'fast-check';
import { createCborCodec } from './cbor';
import { CBOR_NULL, CBOR_PAIR, arrayHeadLength, writeArrayHead } from './cbor-heads';
import { CborScreenError, MAX_BIGNUM_BYTES, SCREEN_FOUND_TAG, needsCheck, screenCbor } from './cbor-screen';
import { META_KINDS, metaToWire } from './meta';

const codec = createCborCodec();

/** Largest magnitude the screen takes in a big integer. */
const largestBignum = 2n ** BigInt(8 * MAX_BIGNUM_BYTES) - 1n;

const stringArbitrary = fc.oneof(fc.string({ maxLength: 30, unit: 'binary' }), fc.string({ minLength: 24, maxLength: 300 }));

/**
 * Strings and byte strings of every length class of a CBOR head (length in the head, in 1, 2 and
 * 4 bytes after it), alone: nested, they make values of hundreds of megabytes.
 */
const longArbitrary = fc.integer({ min: 0, max: 70_000 }).chain((length) =>
  fc.constantFrom('é'.repeat(length), 'x'.repeat(length), Buffer.alloc(length, 0xd8), new Uint8Array(length).fill(0xff)),
);

const numberArbitrary = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double().filter((value) => !Object.is(value, -0)), // cbor-x writes -0 as the integer 0
  fc.constantFrom(NaN, Infinity, -Infinity, 2 ** 32, -(2 ** 32) - 1, 2 ** 53 - 1, 1.5, 65_504, 3.4e38),
);

/** BigInts beyond 64 bits (cbor-x writes those within as integers, and decodes them as numbers). */
const bigintArbitrary = fc.oneof(
  fc.bigInt({ min: 2n ** 64n, max: largestBignum }),
  fc.bigInt({ min: -largestBignum - 1n, max: -(2n ** 64n) - 1n }),
  fc.constantFrom(largestBignum, -largestBignum - 1n, 2n ** 64n, -(2n ** 64n) - 1n),
);

const typedArrayArbitrary = fc.oneof(
  fc.uint8Array(),
  fc.uint8ClampedArray(),
  fc.int8Array(),
  fc.uint16Array(),
  fc.int16Array(),
  fc.uint32Array(),
  fc.int32Array(),
  fc.float32Array(),
  fc.float64Array(),
  fc.bigInt64Array(),
  fc.bigUint64Array(),
);

const leafArbitrary = fc.oneof(
  stringArbitrary,
  numberArbitrary,
  bigintArbitrary,
  fc.boolean(),
  fc.constantFrom(null, undefined),
  // cbor-x writes a date as seconds in a float: far beyond year 100,000 a millisecond can be lost.
  fc.date({ noInvalidDate: true, min: new Date(-1e15), max: new Date(1e15) }),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  typedArrayArbitrary,
  fc.constantFrom(/a+b?/giu, /^[\d]{2,}$/m, new RegExp('x'.repeat(300))),
  stringArbitrary.map((message) => new Error(message)),
);

/** Plain-object keys; cbor-x renames a decoded `__proto__` (see cbor.ts). */
const keyArbitrary = fc.string({ maxLength: 30 }).filter((key) => key !== '__proto__');

const { value: valueArbitrary } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leafArbitrary, tie('array'), tie('object'), tie('map'), tie('set')),
  array: fc.array(tie('value'), { maxLength: 30 }),
  object: fc.dictionary(keyArbitrary, tie('value'), { maxKeys: 30, noNullPrototype: true }),
  map: fc.array(fc.tuple(fc.oneof(keyArbitrary, fc.integer()), tie('value')), { maxLength: 10 }).map((entries) => new Map(entries)),
  set: fc.array(fc.oneof(stringArbitrary, fc.integer()), { maxLength: 10 }).map((items) => new Set(items)),
}));

/** A block body as the outbound queue writes it: an array of [meta, payload] pairs. */
function blockBody(payloads: readonly Uint8Array[], metas: readonly (Uint8Array | undefined)[]): Uint8Array {
  const length = payloads.reduce((sum, payload, index) => sum + 1 + (metas[index]?.length ?? 1) + payload.length, arrayHeadLength(payloads.length));
  const body = new Uint8Array(length);
  let offset = writeArrayHead(body, 0, payloads.length);
  payloads.forEach((payload, index) => {
    const meta = metas[index];
    body[offset] = CBOR_PAIR;
    offset += 1;
    if (meta === undefined) {
      body[offset] = CBOR_NULL;
      offset += 1;
    } else {
      body.set(meta, offset);
      offset += meta.length;
    }
    body.set(payload, offset);
    offset += payload.length;
  });
  return body;
}

describe('the CBOR screen and this node encoder', () => {
  it('takes every payload of the supported types, alone and in a block, and cbor-x decodes it back', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof({ weight: 9, arbitrary: valueArbitrary }, { weight: 1, arbitrary: longArbitrary }), { minLength: 1, maxLength: 4 }), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), (values, withMeta) => {
        const payloads = values.map((value) => codec.encode(value));
        payloads.forEach((payload, index) => expect(codec.decode(payload)).toEqual(values[index]));
        const metas = values.map((_, index) => (withMeta[index] ? codec.encode(metaToWire({ kind: META_KINDS.request, id: index + 1, headers: { trace: 'x' } })) : undefined));
        const decoded = codec.decode(blockBody(payloads, metas)) as unknown[];
        expect(decoded.map((pair) => (pair as unknown[])[1])).toEqual(values);
      }),
      { numRuns: 200 },
    );
  });

  it('on any input, even an encoded value with bytes changed, throws nothing but CborScreenError', () => {
    const mutated = fc
      .tuple(valueArbitrary, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat())
      .map(([value, changes, cut]) => {
        const bytes = Buffer.from(codec.encode(value));
        for (const [index, byte] of changes) bytes[index % bytes.length] = byte;
        return bytes.subarray(0, bytes.length - (cut % 3));
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), mutated), fc.boolean(), (bytes, allowTags) => {
        try {
          screenCbor(bytes, allowTags);
        } catch (error) {
          expect(error).toBeInstanceOf(CborScreenError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('passes over no input the screen or cbor-x refuses (the sender decodes on trial only what its byte check lets through): values holding hand-built tags, and any bytes', () => {
    // Tag numbers the screen refuses, those cbor-x throws on around some values (4, 5, 27, 64 to
    // 86, 258), those beside them, and any: cbor-x writes a number above 32 bits as its low 32
    // bits, so 2 ** 32 + 28 goes out as a long form of 28.
    const tagNumber = fc.oneof(
      fc.constantFrom(0, 1, 2, 3, 4, 5, 27, 28, 29, 50, 51, 52, 104, 105, 106, 258, 0xdff8, 0xdff9, 0xdffe, 0xe000, 0xffff, 0x1_0000, 2 ** 32 + 1, 2 ** 32 + 2, 2 ** 32 + 28),
      fc.integer({ min: 64, max: 86 }),
      fc.nat({ max: 2 ** 32 - 1 }),
    );
    const tagged = fc.tuple(valueArbitrary, tagNumber, valueArbitrary).map(([around, tag, inside]) => [around, new Tag(inside, tag)]);
    const mutated = fc
      .tuple(fc.oneof(valueArbitrary, tagged), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }))
      .map(([value, changes]) => {
        const bytes = Buffer.from(codec.encode(value));
        for (const [index, byte] of changes) bytes[index % bytes.length] = byte;
        return bytes;
      });
    fc.assert(
      fc.property(fc.oneof(tagged.map((value) => codec.encode(value)), mutated, fc.uint8Array({ maxLength: 64 })), (bytes) => {
        let refused = false;
        try {
          screenCbor(bytes, true);
        } catch {
          refused = true;
        }
        if (refused) expect(needsCheck(bytes)).toBe(true);
      }),
      { numRuns: 2000 },
    );
    // What this node's encoder writes, cbor-x reads back unless it holds a tag; `check`, which
    // decodes only when the screen finds one, throws exactly when decoding does.
    const inside = fc.oneof(valueArbitrary, fc.constantFrom(null, undefined), fc.uint8Array({ maxLength: 17 }).map((bytes) => Buffer.from(bytes)));
    const taggedValue = fc.tuple(valueArbitrary, tagNumber, inside).map(([around, tag, content]) => [around, new Tag(content, tag)]);
    fc.assert(
      fc.property(fc.oneof(valueArbitrary, taggedValue), (value) => {
        const bytes = codec.encode(value);
        let refused = false;
        try {
          codec.decode(bytes);
        } catch {
          refused = true;
        }
        if (refused) expect(needsCheck(bytes)).toBe(true);
        if (refused) expect(() => codec.check(bytes)).toThrow();
        else expect(() => codec.check(bytes)).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });

  describe("dates, whose decoding cbor-x's own readers cannot make throw for some contents", () => {
    // cbor-x reads tag 1 as `new Date(Math.round(content * 1000))` and tag 0 as `new Date(content)`:
    // around a number (an integer of at most 32 bits, or a float of any width) and around a text
    // string those cannot throw, so `send` decodes no such date on trial (the walk does not count
    // it as a tag). A 64-bit integer head is read as a BigInt, which `* 1000` throws on; a map
    // given to `new Date` may throw as it is turned into a primitive.
    const date = new Date(1_764_547_200_123);
    /** A tag head of `tag` in each form a head may take. */
    const tagHead = (tag: number): fc.Arbitrary<Buffer> =>
      fc.constantFrom(Buffer.of(0xc0 | tag), Buffer.of(0xd8, tag), Buffer.of(0xd9, 0, tag), Buffer.of(0xda, 0, 0, 0, tag), Buffer.of(0xdb, 0, 0, 0, 0, 0, 0, 0, tag));
    /** An integer head of at most 32 bits (major type 0 or 1), in any form, or a float head of any width. */
    const numberHead = fc.oneof(
      fc.tuple(fc.constantFrom(0x00, 0x20), fc.nat({ max: 23 })).map(([major, value]) => Buffer.of(major | value)),
      fc.tuple(fc.constantFrom(0x00, 0x20), fc.constantFrom(1, 2, 4), fc.uint8Array({ minLength: 4, maxLength: 4 })).map(([major, width, bytes]) =>
        Buffer.concat([Buffer.of(major | (24 + Math.log2(width))), bytes.subarray(0, width)]),
      ),
      fc.tuple(fc.constantFrom(2, 4, 8), fc.uint8Array({ minLength: 8, maxLength: 8 })).map(([width, bytes]) => Buffer.concat([Buffer.of(0xe0 | (24 + Math.log2(width))), bytes.subarray(0, width)])),
    );
    /** A definite-length text string of any bytes (UTF-8 or not), its length in any form. */
    const textHead = fc.tuple(fc.uint8Array({ maxLength: 40 }), fc.constantFrom(0, 1, 2, 4)).map(([bytes, width]) => {
      const length = bytes.length;
      const head =
        width === 0 ? (length < 24 ? Buffer.of(0x60 | length) : Buffer.of(0x78, length)) : width === 1 ? Buffer.of(0x78, length) : width === 2 ? Buffer.of(0x79, 0, length) : Buffer.of(0x7a, 0, 0, 0, length);
      return Buffer.concat([head, bytes]);
    });
    /** The date alone, in an array, or as a map's value. */
    const placed = (item: Buffer, where: number): Buffer =>
      where === 0 ? item : where === 1 ? Buffer.concat([Buffer.of(0x83, 0x01), item, Buffer.of(0x61, 0x78)]) : Buffer.concat([Buffer.of(0xa2, 0x61, 0x61), item, Buffer.of(0x61, 0x62, 0xf6)]);

    it('tag 1 around an integer of at most 32 bits or a float, and tag 0 around a text string, need no trial decode: the walk counts no tag, and cbor-x decodes them without throwing', () => {
      const safe = fc.oneof(fc.tuple(tagHead(1), numberHead), fc.tuple(tagHead(0), textHead)).map(([head, content]) => Buffer.concat([head, content]));
      fc.assert(
        fc.property(safe, fc.nat({ max: 2 }), (item, where) => {
          const bytes = placed(item, where);
          expect(screenCbor(bytes, true) & SCREEN_FOUND_TAG).toBe(0);
          let decoded: unknown;
          expect(() => (decoded = codec.decode(bytes))).not.toThrow();
          const value = where === 0 ? decoded : where === 1 ? (decoded as unknown[])[1] : (decoded as Record<string, unknown>).a;
          expect(value).toBeInstanceOf(Date);
          expect(() => codec.check(bytes)).not.toThrow();
        }),
        { numRuns: 3000 },
      );
      // What this node's encoder writes for a Date: tag 1 around a 32-bit integer or a float64.
      for (const value of [new Date(0), date, new Date(-1), new Date(8.64e15), { at: date, list: [date, 'é'] }]) {
        const bytes = codec.encode(value);
        expect(screenCbor(bytes, true) & SCREEN_FOUND_TAG).toBe(0);
        expect(codec.decode(bytes)).toEqual(value);
      }
      const invalid = codec.encode(new Date(NaN));
      expect(screenCbor(invalid, true) & SCREEN_FOUND_TAG).toBe(0);
      expect((codec.decode(invalid) as Date).getTime()).toBeNaN();
    });

    it.each([
      ['tag 1 around a 64-bit integer, a BigInt to cbor-x', Buffer.of(0xc1, 0x1b, 0, 0, 0, 0, 0, 0, 0, 1), true],
      ['tag 1 around a negative 64-bit integer', Buffer.of(0xc1, 0x3b, 0, 0, 0, 0, 0, 0, 0, 1), true],
      ['tag 1 around a text string', Buffer.of(0xc1, 0x61, 0x31), false],
      ['tag 1 around a byte string', Buffer.of(0xc1, 0x41, 0x01), false],
      ['tag 1 around an array', Buffer.of(0xc1, 0x81, 0x01), false],
      ['tag 1 around null', Buffer.of(0xc1, 0xf6), false],
      ['tag 1 around true', Buffer.of(0xc1, 0xf5), false],
      ['tag 1 around a big integer', Buffer.of(0xc1, 0xc2, 0x41, 0x01), true],
      ['tag 1 around another date', Buffer.of(0xc1, 0xc1, 0x01), false],
      ['tag 0 around an integer', Buffer.of(0xc0, 0x01), false],
      ['tag 0 around a float', Buffer.of(0xc0, 0xf9, 0x3c, 0x00), false],
      ['tag 0 around a byte string', Buffer.of(0xc0, 0x41, 0x31), false],
      // `new Date({ toString: 1, valueOf: 1 })` finds no way to a primitive.
      ['tag 0 around a map', Buffer.concat([Buffer.of(0xc0), codec.encode({ toString: 1, valueOf: 1 })]), true],
      ['tag 0 around an array', Buffer.of(0xc0, 0x80), false],
      ['tag 0 around null', Buffer.of(0xc0, 0xf6), false],
      ['tag 0 around an indefinite-length text string', Buffer.of(0xc0, 0x7f, 0x61, 0x31, 0xff), true],
      ['tag 1 cut short by the end', Buffer.of(0xc1), true],
      ['tag 1 around a float cut short', Buffer.of(0xc1, 0xfb, 0, 0), true],
      ['a date, then a tag cbor-x throws on', Buffer.concat([Buffer.of(0x82, 0xc1, 0x01), codec.encode(new Tag(5, 258))]), true],
    ])('%s still needs a trial decode (the walk counts its tag)', (_name, bytes, throws) => {
      expect(screenCbor(bytes, true) & SCREEN_FOUND_TAG).toBe(SCREEN_FOUND_TAG);
      if (throws) {
        expect(() => codec.decode(bytes)).toThrow();
        expect(() => codec.check(bytes)).toThrow();
      }
    });
  });

  it('takes every typed array this encoder writes (any kind, empty or not, a view at any offset into a larger buffer), which the sender\'s check passes and cbor-x decodes the same at any place in a block', () => {
    // The screen refuses a typed array of several bytes an element unless its byte string holds
    // whole elements; this encoder writes the view's own bytes, so whole elements at any offset.
    const kinds = [Uint8Array, Uint8ClampedArray, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array] as const;
    const view = fc
      .tuple(fc.integer({ min: 0, max: kinds.length - 1 }), fc.nat({ max: 24 }), fc.nat({ max: 24 }), fc.nat({ max: 8 }), fc.uint8Array({ minLength: 512, maxLength: 512 }))
      .map(([kind, start, length, after, fill]) => {
        const Kind = kinds[kind]!;
        const whole = new Kind(start + length + after);
        new Uint8Array(whole.buffer).set(fill.subarray(0, whole.byteLength));
        return whole.subarray(start, start + length);
      });
    fc.assert(
      fc.property(view, fc.nat({ max: 15 }), fc.boolean(), (array, pad, first) => {
        const payload = codec.encode({ array });
        expect(() => codec.check(payload)).not.toThrow();
        const decoded = codec.decode(payload) as { array: ArrayLike<unknown> };
        expect(decoded.array.constructor).toBe(array.constructor);
        expect(Array.from(decoded.array)).toEqual(Array.from(array as ArrayLike<unknown>));
        // In a block, its bytes fall at another offset (which picks a view or a copy in cbor-x).
        const filler = codec.encode('p'.repeat(pad));
        const body = blockBody(first ? [payload, filler] : [filler, payload], [undefined, undefined]);
        const pairs = codec.decode(body) as unknown[][];
        const inBlock = pairs[first ? 0 : 1]![1] as { array: ArrayLike<unknown> };
        expect(Array.from(inBlock.array)).toEqual(Array.from(array as ArrayLike<unknown>));
      }),
      { numRuns: 1000 },
    );
  });

  it('takes iterables, which cbor-x writes as indefinite-length arrays', () => {
    fc.assert(
      fc.property(fc.array(leafArbitrary, { maxLength: 20 }), (items) => {
        function* generate(): Generator<unknown> {
          yield* items;
        }
        expect(codec.decode(codec.encode({ items: generate() }))).toEqual({ items });
      }),
      { numRuns: 100 },
    );
  });
});
