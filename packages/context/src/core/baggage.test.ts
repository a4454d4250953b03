import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MAX_BAGGAGE_BYTES, ReceivedBaggage, checkBaggage, formatBaggage, isBaggageKey, normaliseBaggageMetadata, parseBaggage } from './baggage';
import type { BaggageEntry } from './baggage';
import { createContext } from '../context';

describe('baggage (W3C Baggage)', () => {
  it('parses members with optional whitespace, percent-encoded values and properties', () => {
    const parsed = parseBaggage('userId=alice , serverNode = DF%2028 ;ttl=60; internal,isProduction=false,, ');
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect([...parsed.value]).toEqual([
      ['userId', { value: 'alice' }],
      ['serverNode', { value: 'DF 28', metadata: 'ttl=60;internal' }],
      ['isProduction', { value: 'false' }],
    ]);
  });

  it.each([
    ['%41%62c', 'Abc'],
    ['a%2Cb%3Bc%20d', 'a,b;c d'],
    ['%e2%82%ac%20and%20%C3%A9', '€ and é'],
    ['100%25', '100%'],
  ])('percent-decodes %s', (encoded, decoded) => {
    const parsed = parseBaggage(`k=${encoded}`);
    expect(parsed.ok && parsed.value.get('k')).toEqual({ value: decoded });
  });

  it.each(['%', '%4', '%zz', 'a%2'])('rejects the broken escape %s', (encoded) => {
    expect(parseBaggage(`k=${encoded}`)).toEqual({ ok: false, reason: 'malformed' });
  });

  it.each([
    ['%ff', '\uFFFD'],
    ['%c3%28', '\uFFFD('],
    ['a%e2%82b', 'a\uFFFDb'],
    ['%ed%a0%80x', '\uFFFD\uFFFD\uFFFDx'],
    ['%f0%9f%98%80%80', '\u{1F600}\uFFFD'],
  ])('decodes escapes that are not UTF-8 (%s) with U+FFFD, as W3C Baggage requires, and keeps the other members', (encoded, decoded) => {
    const parsed = parseBaggage(`a=1,k=${encoded},b=2`);
    expect(parsed.ok && [...parsed.value]).toEqual([
      ['a', { value: '1' }],
      ['k', { value: decoded }],
      ['b', { value: '2' }],
    ]);
    const checked = checkBaggage(`a=1,k=${encoded},b=2`);
    expect(checked.ok).toBe(true);
  });

  it('keeps the last value of a repeated key', () => {
    const parsed = parseBaggage('a=1,b=2,a=3');
    expect(parsed.ok && [...parsed.value]).toEqual([
      ['b', { value: '2' }],
      ['a', { value: '3' }],
    ]);
  });

  it('stores keys that name prototype properties as plain entries', () => {
    const parsed = parseBaggage('__proto__=x,constructor=y');
    expect(parsed.ok && parsed.value.get('__proto__')).toEqual({ value: 'x' });
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it.each([
    ['a member without =', 'novalue'],
    ['a key with a space', 'bad key=1'],
    ['a value with a double quote', 'k="v"'],
    ['a value with a backslash', 'k=a\\b'],
    ['a broken percent-encoding', 'k=%E0%A4%A'],
    ['a malformed property', 'k=v;=x'],
    ['an empty property', 'k=v;;x'],
    ['a non-ASCII value', 'k=é'],
  ])('rejects %s as malformed', (_label, header) => {
    expect(parseBaggage(header)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('rejects more than 8192 characters or 180 members as oversized', () => {
    expect(parseBaggage(`k=${'v'.repeat(MAX_BAGGAGE_BYTES)}`)).toEqual({ ok: false, reason: 'oversized' });
    expect(parseBaggage(Array.from({ length: 181 }, (_, index) => `k${index}=v`).join(','))).toEqual({ ok: false, reason: 'oversized' });
    expect(parseBaggage(Array.from({ length: 180 }, (_, index) => `k${index}=v`).join(',')).ok).toBe(true);
  });

  it('formats within the limits, leaving out whole entries that do not fit', () => {
    const entries = new Map<string, BaggageEntry>([
      ['small', { value: 'a b,c;d' }],
      ['huge', { value: 'x'.repeat(MAX_BAGGAGE_BYTES) }],
      ['after', { value: '1', metadata: 'ttl=5' }],
    ]);
    const formatted = formatBaggage(entries);
    expect(formatted).toEqual({ header: 'small=a%20b%2Cc%3Bd,after=1;ttl=5', dropped: 1 });
    const many = new Map(Array.from({ length: 200 }, (_, index) => [`k${index}`, { value: 'v' }] as const));
    expect(formatBaggage(many).dropped).toBe(20);
  });

  it('round-trips any entries through format and parse', () => {
    const key = fc.string({ unit: fc.constantFrom(...'abcXYZ019!#$%&\'*+-.^_`|~'), minLength: 1, maxLength: 12 });
    const entry = fc.record({ value: fc.string({ maxLength: 40 }) });
    fc.assert(
      fc.property(fc.dictionary(key, entry, { maxKeys: 10 }), (record) => {
        const entries = new Map(Object.entries(record));
        const formatted = formatBaggage(entries);
        const parsed = parseBaggage(formatted.header);
        expect(parsed.ok).toBe(true);
        if (parsed.ok) expect([...parsed.value]).toEqual([...entries]);
      }),
    );
  });

  it('formats entries set on a context (encoded when set) exactly as the same plain entries', () => {
    const key = fc.string({ unit: fc.constantFrom(...'abcXYZ019!#$%&\'*+-.^_`|~'), minLength: 1, maxLength: 12 });
    const value = fc.oneof(fc.string({ maxLength: 40 }), fc.constant('x'.repeat(MAX_BAGGAGE_BYTES / 2)));
    const metadata = fc.option(fc.constantFrom('ttl=5', 'internal', 'a=1;b'), { nil: undefined });
    fc.assert(
      fc.property(fc.array(fc.tuple(key, value, metadata), { maxLength: 8 }), (members) => {
        let context = createContext();
        const plain = new Map<string, BaggageEntry>();
        for (const [memberKey, memberValue, memberMetadata] of members) {
          context = context.setBaggage(memberKey, memberValue, memberMetadata);
          plain.delete(memberKey);
          plain.set(memberKey, memberMetadata === undefined ? { value: memberValue } : { value: memberValue, metadata: memberMetadata });
        }
        expect(formatBaggage(context.baggage)).toEqual(formatBaggage(plain));
        expect([...context.baggage]).toEqual([...plain]);
      }),
    );
  });

  it('never throws on arbitrary input', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (header) => void parseBaggage(header)));
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom(...'k=v;,% %2Z\t'), maxLength: 100 }), (header) => void parseBaggage(header)));
  });

  it('validates keys and metadata', () => {
    expect(isBaggageKey('user.id')).toBe(true);
    expect(isBaggageKey('a,b')).toBe(false);
    expect(normaliseBaggageMetadata('a = 1 ; flag')).toBe('a=1;flag');
    expect(normaliseBaggageMetadata('a=1,b')).toBeUndefined();
  });
});

describe('received baggage (checked now, decoded on first read)', () => {
  /** Headers near the grammar's edges: whitespace, empty members, repeats, escapes, properties. */
  const header = fc
    .array(fc.constantFrom('a', 'b', 'k=v', 'a=1', 'a=2', 'b=%41', 'c=%e2%82%ac', 'd=%ff', 'e=x;p=1', 'f=y; q', ' ', '\t', ',', '=', ';', '%', '%2', 'é', '"'), {
      maxLength: 12,
    })
    .map((parts) => parts.join(''));

  it('accepts and rejects exactly what parseBaggage does, and reads the same entries (property test)', () => {
    fc.assert(
      fc.property(header, (text) => {
        const parsed = parseBaggage(text);
        const checked = checkBaggage(text);
        expect(checked.ok).toBe(parsed.ok);
        if (!parsed.ok || !checked.ok) {
          expect(checked).toEqual(parsed);
          return;
        }
        expect([...checked.value]).toEqual([...parsed.value]);
        expect(checked.value.size).toBe(parsed.value.size);
        for (const [key, entry] of parsed.value) expect(checked.value.get(key)).toEqual(entry);
      }),
    );
  });

  it('is sent on unchanged only when formatting its entries would write the same header (property test)', () => {
    fc.assert(
      fc.property(header, (text) => {
        const checked = checkBaggage(text);
        if (!checked.ok || !(checked.value instanceof ReceivedBaggage)) return;
        const reformatted = formatBaggage(new Map(checked.value)).header;
        if (checked.value.canonical) {
          expect(formatBaggage(checked.value).header).toBe(text);
          expect(parseBaggage(reformatted)).toEqual(parseBaggage(text));
        } else {
          expect(formatBaggage(checked.value).header).toBe(reformatted);
        }
      }),
    );
  });

  it('marks whitespace, empty members and repeated keys as not canonical', () => {
    const canonical = (text: string): boolean | undefined => {
      const checked = checkBaggage(text);
      return checked.ok && checked.value instanceof ReceivedBaggage ? checked.value.canonical : undefined;
    };
    expect(canonical('a=1,b=x%20y;ttl=5')).toBe(true);
    expect(canonical('a=1, b=2')).toBe(false);
    expect(canonical('a=1,,b=2')).toBe(false);
    expect(canonical(',a=1')).toBe(false);
    expect(canonical('a=1,')).toBe(false);
    expect(canonical('a=1,a=2')).toBe(false);
    expect(canonical('a = 1')).toBe(false);
    expect(canonical('a=1;p = 1')).toBe(false);
    expect(canonical(' , ')).toBeUndefined(); // no members: plain empty baggage
  });

  it('works as a map: iteration, forEach, keys, values, copying', () => {
    const checked = checkBaggage('a=1,b=2;p');
    if (!checked.ok) throw new Error('rejected');
    const seen: string[] = [];
    checked.value.forEach((entry, key, map) => {
      seen.push(`${key}:${entry.value}`);
      expect(map).toBe(checked.value);
    });
    expect(seen).toEqual(['a:1', 'b:2']);
    expect([...checked.value.keys()]).toEqual(['a', 'b']);
    expect([...checked.value.values()]).toEqual([{ value: '1' }, { value: '2', metadata: 'p' }]);
    expect(new Map(checked.value).get('b')).toEqual({ value: '2', metadata: 'p' });
    expect(checked.value.has('c')).toBe(false);
  });
});

describe('baggage value encoding', () => {
  it('percent-encodes exactly as encodeURIComponent does (property test)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 10 })), (value) => {
        const formatted = formatBaggage(new Map([['k', { value }]]));
        expect(formatted.header).toBe(`k=${encodeURIComponent(value)}`);
      }),
    );
  });
});
