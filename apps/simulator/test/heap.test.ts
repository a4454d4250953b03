import { describe, expect, it } from '@jest/globals';
import { checkHeapFits, estimatedHeapBytes } from '../src/heap';
import { UsageError } from '../src/usage-error';

const MIB = 1024 * 1024;

describe('the heap check before a run', () => {
  it('lets through the README runs on a 4 GiB heap, the default limit of a 64-bit Node.js with enough memory', () => {
    expect(() => checkHeapFits(10_000, 4096 * MIB)).not.toThrow();
    expect(() => checkHeapFits(80, 4096 * MIB)).not.toThrow();
  });

  it('estimates at least what runs were measured to need (about 55, 120 and 380 MiB at 1,000, 3,000 and 10,000 nodes)', () => {
    expect(estimatedHeapBytes(1_000)).toBeGreaterThan(55 * MIB);
    expect(estimatedHeapBytes(3_000)).toBeGreaterThan(120 * MIB);
    expect(estimatedHeapBytes(10_000)).toBeGreaterThan(380 * MIB);
  });

  it('refuses a run that would not fit, naming --nodes and how to raise the limit', () => {
    expect(() => checkHeapFits(100_000, 2048 * MIB)).toThrow(UsageError);
    expect(() => checkHeapFits(100_000, 2048 * MIB)).toThrow(/^--nodes 100000 needs about \d+ MiB of JavaScript heap and this Node\.js allows 2048 MiB; .*NODE_OPTIONS=--max-old-space-size=\d+$/);
  });
});
