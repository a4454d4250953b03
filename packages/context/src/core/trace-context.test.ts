import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { formatTraceParent, isWritableTraceParent, parseTraceParent, parseTraceState } from './trace-context';

const VALID = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('traceparent (W3C Trace Context §3.2)', () => {
  it('parses the example from the spec', () => {
    expect(parseTraceParent(VALID)).toEqual({
      ok: true,
      value: { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 },
    });
  });

  it('reads a future version by its first four fields when more follow after a dash (§3.2.4)', () => {
    expect(parseTraceParent(`cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-the-future-holds`)).toMatchObject({ ok: true });
    expect(parseTraceParent(`cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01`)).toMatchObject({ ok: true });
  });

  it.each([
    ['version ff is invalid', 'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
    ['version 00 with trailing data', `${VALID}-extra`],
    ['future version without a dash after the flags', 'cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x'],
    ['uppercase hex', '00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01'],
    ['all-zero trace id', '00-00000000000000000000000000000000-b7ad6b7169203331-01'],
    ['all-zero parent id', '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01'],
    ['short trace id', '00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01'],
    ['wrong separators', '00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01'],
    ['empty', ''],
    ['not hex flags', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g'],
  ])('rejects %s as malformed', (_label, header) => {
    expect(parseTraceParent(header)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('rejects more than 512 characters as oversized', () => {
    expect(parseTraceParent(`cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-${'a'.repeat(500)}`)).toEqual({ ok: false, reason: 'oversized' });
  });

  it('formats what it parses', () => {
    const hex = (length: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });
    fc.assert(
      fc.property(hex(32), hex(16), fc.integer({ min: 0, max: 255 }), (traceId, spanId, flags) => {
        fc.pre(isWritableTraceParent(traceId, spanId, flags));
        expect(parseTraceParent(formatTraceParent(traceId, spanId, flags))).toEqual({ ok: true, value: { traceId, spanId, traceFlags: flags } });
      }),
    );
  });

  it('never throws on arbitrary input', () => {
    fc.assert(fc.property(fc.string({ maxLength: 600 }), (header) => void parseTraceParent(header)));
  });
});

describe('tracestate (W3C Trace Context §3.3)', () => {
  it('accepts simple and multi-tenant keys, trims whitespace and skips empty members', () => {
    expect(parseTraceState(' congo=t61rcWkgMzE , rojo=00f067aa0ba902b7,, tenant@vendor=x y')).toEqual({
      ok: true,
      value: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7,tenant@vendor=x y',
    });
    expect(parseTraceState('')).toEqual({ ok: true, value: '' });
  });

  it.each([
    ['an uppercase key', 'Congo=1'],
    ['a control character in the value', 'congo=a\u0001b'],
    ['a value with =', 'congo=a=b'],
    ['a missing value', 'congo='],
    ['a missing key', '=1'],
    ['a duplicate key', 'a=1,a=2'],
    ['a vendor over 14 characters', 'tenant@abcdefghijklmno=1'],
  ])('rejects %s as malformed', (_label, header) => {
    expect(parseTraceState(header)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('rejects more than 32 members or more than 8192 characters as oversized', () => {
    const members = Array.from({ length: 33 }, (_, index) => `k${index}=v`).join(',');
    expect(parseTraceState(members)).toEqual({ ok: false, reason: 'oversized' });
    expect(parseTraceState(`a=${'x'.repeat(8200)}`)).toEqual({ ok: false, reason: 'oversized' });
    expect(parseTraceState(','.repeat(200))).toEqual({ ok: false, reason: 'oversized' });
  });

  it('never throws on arbitrary input', () => {
    fc.assert(fc.property(fc.string({ maxLength: 600 }), (header) => void parseTraceState(header)));
  });

  it('judges a single member alike whether or not a list follows it', () => {
    // A lone member takes a shorter path; a trailing comma sends the same member through the list parser.
    const member = fc.oneof(
      fc.string({ unit: fc.constantFrom(...'az09_-*/@= \t~!x'), maxLength: 30 }),
      fc.tuple(fc.constantFrom('rojo', 'congo', 't@v', '0@v', 'a@b@c', 'A', '1x'), fc.string({ maxLength: 20 })).map(([key, value]) => `${key}=${value}`),
    );
    fc.assert(
      fc.property(member, (header) => {
        const alone = parseTraceState(header);
        const listed = parseTraceState(`${header},`);
        expect(alone.ok).toBe(listed.ok);
        if (alone.ok && listed.ok) expect(alone.value).toBe(listed.value);
      }),
    );
  });
});

describe('hex validation of trace and span ids', () => {
  it('accepts exactly lowercase hex, character by character', () => {
    const base = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    for (let code = 0; code < 256; code += 1) {
      const character = String.fromCharCode(code);
      const header = `${base.slice(0, 10)}${character}${base.slice(11)}`;
      const expected = /[0-9a-f]/.test(character);
      expect([code, parseTraceParent(header).ok]).toEqual([code, expected]);
    }
    expect(parseTraceParent(`${base.slice(0, 40)}\u0130${base.slice(41)}`).ok).toBe(false);
  });
});
