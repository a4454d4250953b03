import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CausalContext } from './causal-context';

function context(...ranges: [number, number][]): CausalContext {
  const result = new CausalContext();
  for (const [low, high] of ranges) result.add(low, high);
  return result;
}

describe('CausalContext', () => {
  it.each<[string, [number, number][], number, string]>([
    ['a contiguous run extends the prefix', [[1, 3], [4, 6]], 6, '6'],
    ['a gap leaves a cloud interval', [[1, 3], [6, 8]], 3, '3+6-8'],
    ['filling the gap absorbs the cloud', [[1, 3], [6, 8], [4, 5]], 8, '8'],
    ['overlapping intervals merge', [[5, 7], [6, 9], [11, 12]], 0, '0+5-9,11-12'],
    ['adjacent intervals merge', [[5, 7], [8, 9]], 0, '0+5-9'],
    ['ranges under the prefix change nothing', [[1, 10], [2, 5]], 10, '10'],
    ['a range straddling the prefix extends it', [[1, 4], [3, 7]], 7, '7'],
    ['an empty range is ignored', [[5, 4]], 0, '0'],
  ])('%s', (_, ranges, prefix, text) => {
    const result = context(...ranges);
    expect(result.prefix).toBe(prefix);
    expect(result.describe()).toBe(text);
  });

  it('covers exactly the revisions added (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 8 })), { maxLength: 20 }), (ranges) => {
        const result = new CausalContext();
        const expected = new Set<number>();
        for (const [low, length] of ranges) {
          result.add(low, low + length);
          for (let revision = low; revision <= low + length; revision += 1) expected.add(revision);
        }
        const wrong: number[] = [];
        for (let revision = 1; revision <= 70; revision += 1) if (result.covers(revision) !== expected.has(revision)) wrong.push(revision);
        // The representation is canonical: the prefix is maximal and cloud intervals are disjoint and apart.
        const canonical =
          !result.covers(result.prefix + 1) &&
          result.cloud.every((interval, index) => index === 0 || interval.low > result.cloud[index - 1]!.high + 1);
        const highest = Math.max(0, ...expected);
        return wrong.length === 0 && canonical && result.highest() === highest;
      }),
      { seed: 5610, numRuns: 300 },
    );
  });

  it('joins another context and clones independently', () => {
    const left = context([1, 2], [5, 6]);
    const copy = left.clone();
    left.join(4, [{ low: 8, high: 9 }]);
    expect(left.describe()).toBe('6+8-9');
    expect(copy.describe()).toBe('2+5-6');
  });
});
