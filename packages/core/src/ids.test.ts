import { describe, expect, it } from '@jest/globals';
import { createSequence, isUuid, uuidV4 } from './ids';
import { createSeededRandom } from './random/seeded-random';

describe('uuidV4', () => {
  it('produces version 4, RFC 4122 variant ids', () => {
    for (const id of [uuidV4(), uuidV4(createSeededRandom(1))]) {
      expect(isUuid(id)).toBe(true);
      expect(id[14]).toBe('4');
      expect('89ab').toContain(id[19]);
    }
  });

  it('is reproducible from a seeded generator and unique across draws', () => {
    const first = createSeededRandom(8);
    const second = createSeededRandom(8);
    const ids = Array.from({ length: 1000 }, () => uuidV4(first));
    expect(Array.from({ length: 1000 }, () => uuidV4(second))).toEqual(ids);
    expect(new Set(ids).size).toBe(1000);
  });

  it('isUuid refuses other shapes', () => {
    expect(isUuid('not-a-uuid')).toBe(false);
    expect(isUuid(42)).toBe(false);
    expect(isUuid('123e4567-e89b-12d3-a456-426614174000')).toBe(true);
    expect(isUuid('123e4567-e89b-12d3-c456-426614174000')).toBe(false);
  });
});

describe('createSequence', () => {
  it('hands out strictly increasing ids from its start', () => {
    const sequence = createSequence();
    expect(sequence.peek()).toBe(1);
    expect([sequence.next(), sequence.next(), sequence.next()]).toEqual([1, 2, 3]);
    expect(createSequence(100).next()).toBe(100);
    expect(() => createSequence(0.5)).toThrow(RangeError);
    const nearEnd = createSequence(Number.MAX_SAFE_INTEGER - 1);
    expect(nearEnd.next()).toBe(Number.MAX_SAFE_INTEGER - 1);
    expect(() => nearEnd.next()).toThrow(RangeError);
  });
});
