import { describe, expect, it } from '@jest/globals';
import { RouteCache } from './route-cache';

describe('RouteCache', () => {
  const ids = Array.from({ length: 3000 }, (_, index) => (index % 2 === 0 ? `n${index}` : `${'x'.repeat(40)}-${index}-${'y'.repeat(40)}`));

  it('finds every route it was given, across growth, by equal ids that are other strings', () => {
    const routes = new RouteCache();
    const generation = routes.generation;
    for (let from = 0; from < 30; from += 1) {
      for (let step = 1; step <= 100; step += 1) {
        const to = (from * 97 + step * 31) % ids.length;
        expect(routes.lookup(from, ids[to]!, ids)).toBe(-1);
        routes.setLastArrival(routes.add(from, ids[to]!, to, from * 1000 + step), from + step / 1000);
      }
    }
    for (let from = 0; from < 30; from += 1) {
      for (let step = 1; step <= 100; step += 1) {
        const to = (from * 97 + step * 31) % ids.length;
        // A copy built at run time: the same characters, a different string object.
        const copy = [...ids[to]!].join('');
        expect(routes.lookup(from, copy, ids)).toBeGreaterThanOrEqual(0);
        expect(routes.to).toBe(to);
        expect(routes.link).toBe(from * 1000 + step);
        expect(routes.lastArrival(routes.lookup(from, copy, ids))).toBe(from + step / 1000);
      }
      expect(routes.lookup(from, 'n-unknown', ids)).toBe(-1);
    }
    expect(routes.generation).not.toBe(generation);
  });

  it('tells apart long ids that differ only in the middle (equal hashes)', () => {
    const middle = (c: string): string => `${'a'.repeat(20)}${c}${'b'.repeat(20)}`;
    const local = [middle('1'), middle('2'), middle('3')];
    const routes = new RouteCache();
    routes.add(0, local[0]!, 0, 10);
    routes.add(0, local[1]!, 1, 11);
    expect(routes.lookup(0, local[1]!, local)).toBeGreaterThanOrEqual(0);
    expect(routes.link).toBe(11);
    expect(routes.lookup(0, local[0]!, local)).toBeGreaterThanOrEqual(0);
    expect(routes.link).toBe(10);
    expect(routes.lookup(0, local[2]!, local)).toBe(-1);
    expect(routes.lookup(1, local[0]!, local)).toBe(-1);
  });
});
