import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parsePath } from '../path';
import { buildPathIndex } from './path-index';
import { ABSENT, deepMerge, setAt, valueAt, walk } from './tree';

const tree = {
  a: { b: { c: 1 }, list: [10, { d: 'x' }], empty: {} },
  'dotted.key': { inner: true },
  nothing: null,
  zero: 0,
};

describe('reading paths', () => {
  it.each([
    [['a', 'b', 'c'], 1],
    [['a', 'list', '1', 'd'], 'x'],
    [['a', 'list', 1, 'd'], 'x'],
    [['dotted.key', 'inner'], true],
    [['nothing'], null],
    [['zero'], 0],
    [[], tree],
  ])('%j reads %j', (path, expected) => {
    expect(walk(tree, path)).toEqual(expected);
    expect(valueAt(tree, parsePath(path))).toEqual(expected);
  });

  it.each([[['a', 'list', 'length']], [['a', 'list', '2']], [['a', 'list', '01']], [['a', 'toString']], [['nothing', 'x']], [['zero', 'x']], [['a', '__proto__']]])(
    '%j is absent',
    (path) => {
      expect(walk(tree, path)).toBe(ABSENT);
    },
  );

  it('the fast walk agrees with the checked reader on random paths (seeded)', () => {
    const segment = fc.oneof(fc.constantFrom('a', 'b', 'c', 'list', 'd', '0', '1', 'length', 'dotted.key', 'inner', 'toString'), fc.nat(3));
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 5 }), (path) => {
        expect(walk(tree, path)).toBe(valueAt(tree, parsePath(path)));
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it('the flat index holds every dotted path and its value, and nothing else', () => {
    const index = buildPathIndex(tree);
    expect(index.get('a.b.c')).toBe(1);
    expect(index.get('a.list.1.d')).toBe('x');
    expect(index.get('a.list')).toBe(tree.a.list);
    expect(index.has('dotted.key')).toBe(false);
    expect(index.has('a.list.length')).toBe(false);
    for (const [path, value] of index) expect(valueAt(tree, parsePath(path))).toBe(value);
  });
});

describe('writing paths', () => {
  it('copies on write and shares untouched branches', () => {
    const next = setAt(tree, ['a', 'b', 'c'], 2) as typeof tree;
    expect(next.a.b.c).toBe(2);
    expect(tree.a.b.c).toBe(1);
    expect(next.a.list).toBe(tree.a.list);
    expect(next['dotted.key']).toBe(tree['dotted.key']);
  });

  it('appends to an array at its length, and refuses to skip past it', () => {
    expect((setAt(tree, ['a', 'list', '2'], 3) as typeof tree).a.list).toEqual([10, { d: 'x' }, 3]);
    expect(() => setAt(tree, ['a', 'list', '3'], 3)).toThrow(/outside the array/);
  });

  it('merges objects key by key and replaces everything else', () => {
    expect(deepMerge({ a: { b: 1, c: 2 }, list: [1, 2] }, { a: { c: 3 }, list: [9] })).toEqual({ a: { b: 1, c: 3 }, list: [9] });
    expect(deepMerge({ a: 1 }, { a: { b: 1 } })).toEqual({ a: { b: 1 } });
  });
});
