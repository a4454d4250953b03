import { describe, expect, it } from '@jest/globals';
import { SERIAL_SPACE, serialAfter, serialNext } from './serial';

describe('serial numbers (RFC 1982, 31 bits)', () => {
  it('order small values as integers do', () => {
    expect(serialAfter(1, 0)).toBe(true);
    expect(serialAfter(0, 1)).toBe(false);
    expect(serialAfter(7, 7)).toBe(false);
    expect(serialAfter(1_000, 3)).toBe(true);
  });

  it('wrap at the top of the range: the value after the largest comes after it', () => {
    const top = SERIAL_SPACE - 1;
    expect(serialNext(top)).toBe(0);
    expect(serialAfter(serialNext(top), top)).toBe(true);
    expect(serialAfter(top, serialNext(top))).toBe(false);
    expect(serialNext(-1)).toBe(0); // "no round yet" comes before the first
  });

  it('take a value half the space or more ahead for one behind', () => {
    expect(serialAfter(2 ** 30 - 1, 0)).toBe(true);
    expect(serialAfter(2 ** 30, 0)).toBe(false);
    expect(serialAfter(SERIAL_SPACE - 1, 5)).toBe(false);
  });
});
