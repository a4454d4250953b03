import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MAX_REF_LENGTH, isRefOf, isValidRef, parseRef, runtimeRef, workerRef } from './ref';

/** Node ids as NODE_ID_PATTERN allows them, biased towards dots, colons and `t` digits. */
const nodeId = fc
  .array(fc.constantFrom('n', 't', '1', '2', '.', ':', 'a', '-', '/', '@'), { minLength: 1, maxLength: 12 })
  .map((characters) => characters.join(''));
const counter = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const thread = fc.integer({ min: 1, max: 1_000 });

describe('monitor references', () => {
  it.each([
    ['a runtime’s', runtimeRef('n', 5), { node: 'n', thread: undefined, counter: 5 }],
    ['a worker’s', workerRef('n', 1, 5), { node: 'n', thread: 1, counter: 5 }],
    ['one of a node whose id looks like a worker’s', runtimeRef('n.t1', 5), { node: 'n.t1', thread: undefined, counter: 5 }],
    ['a worker’s of such a node', workerRef('n.t1', 2, 5), { node: 'n.t1', thread: 2, counter: 5 }],
    ['a worker’s of a node with colons', workerRef('a:t1:2', 3, 4), { node: 'a:t1:2', thread: 3, counter: 4 }],
    ['the longest', workerRef('x'.repeat(255), Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER), { node: 'x'.repeat(255), thread: Number.MAX_SAFE_INTEGER, counter: Number.MAX_SAFE_INTEGER }],
  ])('reads %s back into its parts', (_label, ref, parts) => {
    expect(ref.length).toBeLessThanOrEqual(MAX_REF_LENGTH);
    expect(parseRef(ref)).toEqual(parts);
  });

  it('never makes a worker’s reference that another node’s runtime or worker makes too (review finding)', () => {
    // Worker 1 of node `n` made `#Ref<n.t1.5>`, which node `n.t1` makes as well.
    expect(workerRef('n', 1, 5)).not.toBe(runtimeRef('n.t1', 5));
    fc.assert(
      fc.property(nodeId, nodeId, thread, fc.option(thread, { nil: undefined }), counter, counter, (a, b, k, j, x, y) => {
        const first = workerRef(a, k, x);
        const second = j === undefined ? runtimeRef(b, y) : workerRef(b, j, y);
        const same = j !== undefined && a === b && k === j && x === y;
        expect(first === second).toBe(same);
        expect(parseRef(first)).toEqual({ node: a, thread: k, counter: x });
        expect(parseRef(second)).toEqual({ node: b, thread: j, counter: y });
      }),
    );
  });

  it.each([
    ['not a string', 5],
    ['no counter', '#Ref<n>'],
    ['a zero counter', '#Ref<n.0>'],
    ['an unsafe counter', '#Ref<n.9999999999999999>'],
    ['a worker without a counter', '#Ref<n.t1:>'],
    ['a worker with thread zero', '#Ref<n.t0:1>'],
    ['a character no node id has', '#Ref<n m.1>'],
    ['a node id that is too long', runtimeRef('x'.repeat(256), 1)],
    ['an oversized text', `#Ref<${'.'.repeat(100_000)}.1>`],
    ['something after the end', '#Ref<n.1>x'],
  ])('refuses %s', (_label, value) => {
    expect(parseRef(value)).toBeUndefined();
    expect(isValidRef(value)).toBe(false);
  });

  it('knows the node that made a reference', () => {
    expect(isRefOf(runtimeRef('n', 1), 'n')).toBe(true);
    expect(isRefOf(workerRef('n', 2, 1), 'n')).toBe(true);
    // The form workers once made is node `n.t2`'s, not `n`'s (review finding: accepting it from
    // `n` let `n` take over references node `n.t2` was yet to use).
    expect(isRefOf('#Ref<n.t2.1>', 'n')).toBe(false);
    expect(isRefOf('#Ref<n.t2.1>', 'n.t2')).toBe(true);
    expect(isRefOf(runtimeRef('n.b', 1), 'n')).toBe(false);
    expect(isRefOf('#Ref<n.tx.1>', 'n')).toBe(false);
    expect(isRefOf(runtimeRef('n', 1), 'n.t2')).toBe(false);
    expect(isRefOf(workerRef('n', 2, 1), 'm')).toBe(false);
    expect(isRefOf('garbage', 'n')).toBe(false);
  });
});
