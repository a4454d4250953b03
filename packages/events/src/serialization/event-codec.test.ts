// Serialization round-trips, and deserialization treats bytes as hostile: every failure is a
// typed FoundationError (3102 malformed, 5501 prototype-reaching keys, 3203 oversized data),
// nothing is allocated from a declared length before it is checked, and nothing reaches a
// prototype.
import { afterEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { FoundationError } from '@foundation/core';
import { Encoder } from 'cbor-x';
import type { FoundationEvent } from '../event';
import { EventDeserializationError } from '../errors/event-deserialization-error';
import { EventSerializationError } from '../errors/event-serialization-error';
import { EventSecurityError } from '../errors/event-security-error';
import { EventValidationError } from '../errors/event-validation-error';
import { encodeValue, encodedSize } from './cbor-codec';
import { decodeData, deserializeEvent, serializeEvent, serializedSize } from './event-codec';

const sample: FoundationEvent = Object.freeze({
  id: 42,
  type: 'order-placed',
  data: { order: 7, items: ['a', 'b'], total: 12.5, big: -(2n ** 80n), raw: new Uint8Array([1, 2, 3]), nested: { ok: true, none: null } },
  correlationId: '0f8fad5b-d9cb-469f-a165-70867728950e',
  parentId: 41,
  timestamp: 1_234_567_890,
  wallTime: 1_795_000_000_000,
  node: 'node-a',
});

/** Builds raw CBOR from hex, for attacks no encoder would write. */
const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

/** The 9-field envelope around raw data bytes. */
function envelopeAround(dataHex: string): Uint8Array {
  const head = Buffer.from(serializeEvent({ ...sample, data: null })).toString('hex');
  // The last byte of an event with null data is the null (f6); replace it with the data.
  expect(head.endsWith('f6')).toBe(true);
  return hex(head.slice(0, -2) + dataHex);
}

function failure(bytes: Uint8Array, maxDataBytes?: number): FoundationError {
  try {
    deserializeEvent(bytes, maxDataBytes === undefined ? {} : { maxDataBytes });
  } catch (error) {
    expect(FoundationError.is(error)).toBe(true);
    return error as FoundationError;
  }
  throw new Error('expected deserialization to fail');
}

function thrown(action: () => unknown): FoundationError {
  try {
    action();
  } catch (error) {
    expect(FoundationError.is(error)).toBe(true);
    return error as FoundationError;
  }
  throw new Error('expected the action to throw');
}

afterEach(() => {
  for (const probe of ['polluted', 'isAdmin']) expect((Object.prototype as Record<string, unknown>)[probe]).toBeUndefined();
});

describe('round trip', () => {
  it('gives back an equal, frozen event that shares no memory with the input', () => {
    const bytes = serializeEvent(sample);
    expect(serializedSize(sample)).toBe(bytes.length);
    const decoded = deserializeEvent(bytes);
    expect(decoded).toEqual(sample);
    expect(Object.isFrozen(decoded)).toBe(true);
    expect(Object.isFrozen(decoded.data)).toBe(true);
    const raw = (decoded.data as { raw: Uint8Array }).raw;
    expect(raw).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(raw)).toBe(false);
    bytes.fill(0);
    expect(raw).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('keeps a null parent and unicode', () => {
    const event = { ...sample, parentId: null, type: 'ünïcödé-✓', data: '𝄞' };
    expect(deserializeEvent(serializeEvent(event))).toEqual(event);
  });

  it('delivers -0 as 0, as JSON and cbor-x do', () => {
    expect(Object.is((deserializeEvent(serializeEvent({ ...sample, data: { zero: -0 } })).data as { zero: number }).zero, 0)).toBe(true);
  });

  it('round-trips data as deep as a store accepts it, and no deeper (review finding)', () => {
    // Data may nest 64 levels of arrays and objects (newEvent's bound); the envelope around it
    // is one more level, which the decode bound counted against the data, so other nodes
    // refused every event with data 64 levels deep (63 with a big integer at the bottom).
    const nest = (leaf: unknown, depth: number, key?: string): unknown => {
      let data = leaf;
      for (let level = 0; level < depth; level += 1) data = key === undefined ? [data] : { [key]: data };
      return data;
    };
    for (const data of [nest(1, 64), nest('leaf', 64, 'k'), nest(2n ** 70n, 64), nest(new Uint8Array([1]), 64, 'k'), nest(null, 63)]) {
      const event = { ...sample, data };
      expect(deserializeEvent(serializeEvent(event))).toEqual(event);
    }
    expect(thrown(() => serializeEvent({ ...sample, data: nest(1, 65) })).code).toBe(3203);
    expect(deserializeEvent(envelopeAround(`${'81'.repeat(64)}01`)).data).toEqual(nest(1, 64));
    expect(failure(envelopeAround(`${'81'.repeat(65)}01`))).toBeInstanceOf(EventDeserializationError);
  });

  it('refuses an empty array or map one level deeper than a store accepts (review finding)', () => {
    // The decode bound counted items, not containers: an empty array or map inside data 64
    // levels deep (65 levels, which newEvent and serializeEvent refuse) has no item below it,
    // so it decoded, and a node received an event no store could make or store.
    const nest = (leaf: unknown, depth: number): unknown => {
      let data = leaf;
      for (let level = 0; level < depth; level += 1) data = [data];
      return data;
    };
    for (const [leaf, leafHex] of [[[], '80'], [{}, 'a0']] as const) {
      expect(thrown(() => serializeEvent({ ...sample, data: nest(leaf, 64) })).code).toBe(3203);
      expect(failure(envelopeAround(`${'81'.repeat(64)}${leafHex}`))).toBeInstanceOf(EventDeserializationError);
      expect(thrown(() => decodeData(hex(`${'81'.repeat(64)}${leafHex}`), 10_000))).toBeInstanceOf(EventDeserializationError);
      // One level less is what a store makes, and decodes.
      expect(deserializeEvent(serializeEvent({ ...sample, data: nest(leaf, 63) })).data).toEqual(nest(leaf, 63));
      expect(decodeData(hex(`${'81'.repeat(63)}${leafHex}`), 10_000)).toEqual(nest(leaf, 63));
    }
  });

  it('decodes bytes it may not add properties to, and adds none to the bytes it is given (review finding)', () => {
    // cbor-x keeps a DataView on its input as a property (`dataView`): deserializing wrote one
    // into the caller's Uint8Array, and bytes that may not take new properties (sealed, or not
    // extensible) were refused with 3102 although they hold a valid event.
    const bytes = serializeEvent(sample);
    const sealed = Object.seal(Uint8Array.from(bytes));
    expect(deserializeEvent(sealed)).toEqual(sample);
    expect(decodeData(Object.preventExtensions(Uint8Array.from(encodeValue(sample.data))), 10_000)).toEqual(sample.data);
    const givenEvent = Uint8Array.from(bytes);
    const givenData = Uint8Array.from(encodeValue(sample.data));
    deserializeEvent(givenEvent);
    decodeData(givenData, 10_000);
    for (const given of [givenEvent, givenData]) expect(Object.getOwnPropertyNames(given).filter((name) => !/^[0-9]+$/.test(name))).toEqual([]);
  });

  // -0 is left out: it arrives as 0 (the test above).
  it('round-trips random plain data (seed=7)', () => {
    const data = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true }).map((number) => (number === 0 ? 0 : number)), fc.boolean(), fc.constant(null), fc.bigInt(), fc.uint8Array({ maxLength: 8 })),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(
          fc.string().filter((key) => !['__proto__', 'constructor', 'prototype'].includes(key)),
          tie('value'),
          { maxKeys: 4 },
        ),
      ),
    })).value;
    fc.assert(
      fc.property(data, (value) => {
        const event = { ...sample, data: value };
        expect(deserializeEvent(serializeEvent(event))).toEqual(event);
      }),
      { seed: 7, numRuns: 300 },
    );
  });
});

describe('serializing', () => {
  it('checks events that no store made, so it never writes what deserialize refuses', () => {
    const codes = [
      { ...sample, data: () => 1 },
      { ...sample, data: new Map([[1, 2]]) },
      { ...sample, data: JSON.parse('{"__proto__": {}}') as unknown },
      { ...sample, id: 0 },
    ].map((event) => {
      try {
        serializeEvent(event);
        return 0;
      } catch (error) {
        return (error as FoundationError).code;
      }
    });
    expect(codes).toEqual([3203, 3203, 5501, 3203]);
  });

  it('reports what the encoder cannot write as serialization_failed (3101)', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const value of [circular, () => 1, Symbol('s')]) {
      try {
        encodedSize(value);
        throw new Error('expected a failure');
      } catch (error) {
        expect(error).toBeInstanceOf(EventSerializationError);
        expect((error as FoundationError).code).toBe(3101);
      }
    }
  });
});

describe('big integers', () => {
  // cbor-x builds a big integer byte by byte, copying the whole value at every step, so one of n
  // bytes costs O(n²) to decode (and to encode): a 160 KB one inside an event took 14.6 s. Big
  // integers are therefore held to 64 bytes (512 bits) everywhere: in received bytes, in stored
  // rows and in data given to a store.
  const bigIntegerHex = (tag: 'c2' | 'c3', magnitude: Uint8Array): string => {
    const length = magnitude.length;
    const header = length < 24 ? (0x40 + length).toString(16) : length < 256 ? `58${length.toString(16).padStart(2, '0')}` : `5a${length.toString(16).padStart(8, '0')}`;
    return `${tag}${header.padStart(2, '0')}${Buffer.from(magnitude).toString('hex')}`;
  };
  const fromMagnitude = (tag: 'c2' | 'c3', magnitude: Uint8Array): bigint => {
    const value = magnitude.length === 0 ? 0n : BigInt(`0x${Buffer.from(magnitude).toString('hex')}`);
    return tag === 'c2' ? value : -1n - value;
  };

  it('round-trips big integers up to 64 bytes, positive and negative', () => {
    for (const value of [2n ** 64n, -(2n ** 64n) - 1n, 2n ** 512n - 1n, -(2n ** 512n)]) {
      const event = { ...sample, data: { value } };
      expect(deserializeEvent(serializeEvent(event))).toEqual(event);
    }
  });

  it.each([
    ['a positive big integer of 65 bytes', 'c2', 65],
    ['a negative big integer of 65 bytes', 'c3', 65],
    ['a big integer of 160,000 bytes (it took 14.6 s to decode)', 'c2', 160_000],
  ] as const)('refuses %s in received bytes with 3102', (_label, tag, length) => {
    const error = failure(envelopeAround(bigIntegerHex(tag, new Uint8Array(length).fill(0xff))));
    expect(error).toBeInstanceOf(EventDeserializationError);
    expect(error.message).toMatch(/big integer/);
  });

  it('refuses to write a big integer over 64 bytes (3203), so nothing is written that would not decode', () => {
    for (const value of [2n ** 512n, -(2n ** 512n) - 1n, 2n ** 1_000_000n]) {
      const error = thrown(() => serializeEvent({ ...sample, data: { nested: [value] } }));
      expect(error).toBeInstanceOf(EventValidationError);
      expect(error.message).toMatch(/nested\.0.*64 bytes/);
    }
  });

  it('decodes a big integer of up to 64 bytes and refuses a longer one, whatever its bytes (seed=13)', () => {
    const magnitudes = fc.nat(130).chain((length) => fc.uint8Array({ minLength: length, maxLength: length }));
    fc.assert(
      fc.property(fc.constantFrom('c2' as const, 'c3' as const), magnitudes, (tag, magnitude) => {
        const bytes = envelopeAround(bigIntegerHex(tag, magnitude));
        if (magnitude.length <= 64) {
          expect(deserializeEvent(bytes).data).toBe(fromMagnitude(tag, magnitude));
        } else {
          expect(failure(bytes).code).toBe(3102);
        }
      }),
      { seed: 13, numRuns: 500 },
    );
  });

  it('writes exactly the big integers it reads back (seed=14)', () => {
    const limit = 2n ** 512n;
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 530n), max: 2n ** 530n }), (value) => {
        const event = { ...sample, data: [value] };
        if (value >= -limit && value < limit) expect(deserializeEvent(serializeEvent(event))).toEqual(event);
        else expect(thrown(() => serializeEvent(event)).code).toBe(3203);
      }),
      { seed: 14, numRuns: 500 },
    );
  });
});

describe('hostile input', () => {
  const attacks: [string, Uint8Array, number][] = [
    ['an empty input', new Uint8Array(0), 3102],
    ['a top-level map instead of the envelope', hex('a0'), 3102],
    ['an envelope of the wrong length', hex('83 01 02 03'), 3102],
    ['an array that declares 2^32-1 items in five bytes', hex('9a ffffffff'), 3102],
    ['an array that declares 2^64-1 items', hex('9b ffffffffffffffff'), 3102],
    ['a byte string longer than the input', hex('5a 7fffffff 00'), 3102],
    ['a map that declares more entries than bytes remain', hex('ba 00010000 61 61 01'), 3102],
    ['ten thousand nested arrays', hex('81'.repeat(10_000) + '00'), 3102],
    ['an indefinite-length array', hex('9f 01 02 ff'), 3102],
    ['an indefinite-length string', hex('7f 61 61 ff'), 3102],
    ['a stray break', hex('ff'), 3102],
    ['a reserved header', hex('1c'), 3102],
    ['a truncated header', hex('19 01'), 3102],
    ['trailing bytes', hex('00 00'), 3102],
    ['a record-structure tag (cbor-x records)', hex('d9 dfff 83 61 61 61 62 01'), 3102],
    ['a structured-clone tag', hex('d8 1c 80'), 3102],
    ['a Date tag', hex('c1 1a 5f5e1000'), 3102],
    ['a typed-array tag', hex('d8 40 42 0102'), 3102],
    ['a set tag', hex('d9 0102 80'), 3102],
    ['a big integer tag around a non-byte-string', hex('c2 01'), 3102],
    ['a simple value outside false/true/null/undefined', hex('f0'), 3102],
    ['an integer map key', hex('a1 01 02'), 3102],
    ['a text string that is not UTF-8, as a key', hex('a1 62 c328 01'), 3102],
  ];

  it.each(attacks)('refuses %s with a typed error', (_label, bytes, code) => {
    expect(failure(bytes).code).toBe(code);
  });

  it.each([
    ['__proto__', 'a1 69 5f5f70726f746f5f5f a1 68 706f6c6c75746564 f5'],
    ['constructor', 'a1 6b 636f6e7374727563746f72 a1 69 70726f746f74797065 a1 67 6973 41646d696e f5'],
    ['prototype', 'a1 69 70726f746f74797065 a1 68 706f6c6c75746564 f5'],
    ['__proto__ deep inside', '81 a1 61 61 a1 69 5f5f70726f746f5f5f a0'],
  ])('refuses a %s map key in the data with a security error (5501)', (_key, dataHex) => {
    const error = failure(envelopeAround(dataHex.replace(/\s+/g, '')));
    expect(error).toBeInstanceOf(EventSecurityError);
    expect(error.code).toBe(5501);
  });

  it('refuses envelopes with fields of the wrong kind', () => {
    const encoder = new Encoder({ useRecords: false, tagUint8Array: false });
    const fields = [1, 42, 'type', 'corr', null, 1, 1, 'node', null];
    const variants: unknown[][] = [
      [2, ...fields.slice(1)], // unknown version
      [1, 0, ...fields.slice(2)], // id 0
      [1, -5, ...fields.slice(2)],
      [1, 1.5, ...fields.slice(2)],
      [1, 42, '', ...fields.slice(3)], // empty type
      [1, 42, 'x'.repeat(300), ...fields.slice(3)],
      [1, 42, 'type', 7, ...fields.slice(4)],
      [1, 42, 'type', 'corr', 'parent', ...fields.slice(5)],
      [1, 42, 'type', 'corr', null, -1, ...fields.slice(6)],
      [1, 42, 'type', 'corr', null, 1, 'yesterday', ...fields.slice(7)],
      [1, 42, 'type', 'corr', null, 1, 1, '', null],
    ];
    for (const variant of variants) {
      const error = failure(encoder.encode(variant));
      expect(error).toBeInstanceOf(EventDeserializationError);
    }
  });

  it('refuses text strings that are not UTF-8 whatever their length, not only short ones (review finding)', () => {
    // Only text of up to 16 bytes (and map keys) was checked: longer text with bytes that are
    // not UTF-8 (an encoded surrogate, a stray continuation byte, an overlong form) decoded with
    // U+FFFD in their place, so a damaged or forged payload was accepted as a changed event.
    const text = (bytes: number[], length: number): string => {
      const body = Buffer.alloc(length, 'Q');
      body.set(bytes, 2);
      const header = length < 24 ? (0x60 + length).toString(16) : length < 256 ? `78${length.toString(16).padStart(2, '0')}` : `79${length.toString(16).padStart(4, '0')}`;
      return header + body.toString('hex');
    };
    for (const bytes of [[0xed, 0xa0, 0x80], [0xff, 0xfe, 0x80], [0xc0, 0xaf]]) {
      for (const length of [10, 17, 100, 2000]) {
        expect(failure(envelopeAround(text(bytes, length))).code).toBe(3102);
        expect(thrown(() => decodeData(hex(text(bytes, length)), 10_000)).code).toBe(3102);
      }
    }
    // The type field, as a long string that is not UTF-8.
    const head = Buffer.from(serializeEvent({ ...sample, type: 'T'.repeat(40), data: null })).toString('hex');
    const forged = head.replace('T'.repeat(40).split('').map(() => '54').join(''), text([0xed, 0xa0, 0x80], 40).slice(4));
    expect(forged).not.toBe(head);
    expect(failure(hex(forged)).code).toBe(3102);
    // Text that is UTF-8 still decodes, at every length.
    for (const value of ['é', 'ü'.repeat(9), '😀'.repeat(30), 'x'.repeat(3000)]) expect(deserializeEvent(serializeEvent({ ...sample, data: value })).data).toBe(value);
  });

  it('refuses a version field that cannot be shown as text with a typed error, and names it briefly (review finding)', () => {
    // The message about an unknown version printed the field with String(): a map with keys
    // toString and valueOf made that throw a bare TypeError, without a code, out of deserialize.
    const encoder = new Encoder({ useRecords: false, tagUint8Array: false });
    const rest = [42, 'type', 'corr', null, 1, 1, 'node', null];
    for (const version of [{ toString: 1, valueOf: 1 }, [{ toString: null }], 'v'.repeat(100_000), 2n ** 70n]) {
      const error = failure(encoder.encode([version, ...rest]));
      expect(error).toBeInstanceOf(EventDeserializationError);
      expect(error.message.length).toBeLessThan(200);
    }
  });

  it('refuses a maxDataBytes that is not a positive integer instead of decoding without a bound (review finding)', () => {
    // NaN compared false with every size, so deserializeEvent(bytes, { maxDataBytes: NaN }) (a
    // bound read from a missing setting, say) decoded inputs of any size.
    const bytes = serializeEvent({ ...sample, data: 'x'.repeat(2_000_000) });
    for (const maxDataBytes of [Number.NaN, 0, -1, 1.5, Number.POSITIVE_INFINITY, '1000' as unknown as number]) {
      expect(() => deserializeEvent(bytes, { maxDataBytes })).toThrow(RangeError);
    }
    expect(deserializeEvent(bytes, { maxDataBytes: 3_000_000 }).data).toHaveLength(2_000_000);
  });

  it('refuses data over maxDataBytes (3203) and inputs over the total bound (3102) before decoding', () => {
    const oversized = failure(serializeEvent({ ...sample, data: 'x'.repeat(10_000) }), 1000);
    expect(oversized).toBeInstanceOf(EventDeserializationError); // beyond 1,000 + the envelope allowance: not even scanned
    expect(oversized.code).toBe(3102);
    const justOver = failure(serializeEvent({ ...sample, data: 'x'.repeat(1100) }), 1000);
    expect(justOver).toBeInstanceOf(EventValidationError);
    expect(justOver.code).toBe(3203);
    expect((justOver as EventValidationError).size).toBe(1103);
  });

  it('never throws anything but a FoundationError for random bytes (seed=11)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          deserializeEvent(bytes);
        } catch (error) {
          expect(FoundationError.is(error)).toBe(true);
        }
      }),
      { seed: 11, numRuns: 2000 },
    );
  });

  it('never throws anything but a FoundationError for corrupted encodings of real events (seed=12)', () => {
    const original = serializeEvent(sample);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(original.length - 1), fc.nat(255)), { minLength: 1, maxLength: 4 }), fc.nat(original.length), (flips, cut) => {
        const bytes = Uint8Array.from(original);
        for (const [position, value] of flips) bytes[position] = value;
        for (const input of [bytes, bytes.subarray(0, cut)]) {
          try {
            const decoded = deserializeEvent(input);
            expect(Object.isFrozen(decoded)).toBe(true);
          } catch (error) {
            expect(FoundationError.is(error)).toBe(true);
          }
        }
      }),
      { seed: 12, numRuns: 2000 },
    );
  });

  it('refuses what is not bytes', () => {
    expect(failure('text' as never).code).toBe(3102);
  });
});
