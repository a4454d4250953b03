import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { isWellFormed, utf8Length } from './utf8';

describe('utf8Length', () => {
  it('counts as Buffer.byteLength does, lone surrogates included', () => {
    for (const text of ['', 'a', 'é', '€', '😀', 'a😀b', '\ud800', '\udc00', '\ud800a', 'x\udbff', '\udc00\ud800']) {
      expect({ text, bytes: utf8Length(text) }).toEqual({ text, bytes: Buffer.byteLength(text, 'utf8') });
    }
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)), maxLength: 4 }), (text, surrogates) => {
        const mixed = text + surrogates + text;
        expect(utf8Length(mixed)).toBe(Buffer.byteLength(mixed, 'utf8'));
      }),
    );
  });

  it('stops counting once past stopAbove: the result passes the limit exactly when the length does', () => {
    const text = '€'.repeat(1000);
    expect(utf8Length(text, 10)).toBeGreaterThan(10);
    expect(utf8Length(text, 10)).toBeLessThan(20);
    expect(utf8Length('abc', 3)).toBe(3);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer({ min: 0, max: 200 }), (value, limit) => {
        expect(utf8Length(value, limit) > limit).toBe(Buffer.byteLength(value, 'utf8') > limit);
      }),
    );
  });
});

describe('isWellFormed', () => {
  it.each([
    ['', true],
    ['plain', true],
    ['\uD83D\uDE00', true],
    ['\uD800', false],
    ['a\uDC00b', false],
    ['\uDE00\uD83D', false],
  ])('%j is %s', (text, expected) => {
    expect(isWellFormed(text)).toBe(expected);
  });
});
