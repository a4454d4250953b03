import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { FoundationError } from '@foundation/core';
import { PROCESS_ERROR_CODES } from '../errors/codes';
import { InvalidPidError } from '../errors/invalid-pid-error';
import { Pid, comparePids } from './pid';

const nodeIds = fc.stringMatching(/^[A-Za-z0-9_.:@+/-]{1,40}$/);
const pids = fc.record({ node: nodeIds, id: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), creation: fc.integer({ min: 0, max: 0xffff_ffff }) });

function rejects(action: () => unknown): InvalidPidError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidPidError);
    expect(FoundationError.hasType(error, PROCESS_ERROR_CODES.invalidPid)).toBe(true);
    return error as InvalidPidError;
  }
  throw new Error('expected an InvalidPidError');
}

describe('Pid', () => {
  it('has a text form <node.id.creation> that parses back, nodes with dots included', () => {
    const pid = new Pid('node-1@10.0.0.1:4000', 42, 3);
    expect(pid.toString()).toBe('<node-1@10.0.0.1:4000.42.3>');
    expect(Pid.parse(pid.toString()).equals(pid)).toBe(true);
    expect(JSON.stringify({ pid })).toBe('{"pid":"<node-1@10.0.0.1:4000.42.3>"}');
  });

  it('round-trips every valid pid through text, JSON and structured clone', () => {
    fc.assert(
      fc.property(pids, ({ node, id, creation }) => {
        const pid = new Pid(node, id, creation);
        expect(Pid.parse(pid.toString()).equals(pid)).toBe(true);
        expect(Pid.from(JSON.parse(JSON.stringify(pid))).equals(pid)).toBe(true);
        expect(Pid.from(structuredClone(pid)).equals(pid)).toBe(true);
      }),
    );
  });

  it('orders pids totally: by node, then id, then creation', () => {
    fc.assert(
      fc.property(pids, pids, pids, (a, b, c) => {
        const [x, y, z] = [a, b, c].map(({ node, id, creation }) => new Pid(node, id, creation)) as [Pid, Pid, Pid];
        expect(Math.sign(comparePids(x, y))).toBe(-Math.sign(comparePids(y, x)));
        expect(comparePids(x, y) === 0).toBe(x.equals(y));
        if (comparePids(x, y) <= 0 && comparePids(y, z) <= 0) expect(comparePids(x, z)).toBeLessThanOrEqual(0);
      }),
    );
    expect(comparePids(new Pid('a', 9), new Pid('b', 1))).toBeLessThan(0);
    expect(comparePids(new Pid('a', 2), new Pid('a', 10))).toBeLessThan(0);
    expect(comparePids(new Pid('a', 2, 1), new Pid('a', 2, 0))).toBeGreaterThan(0);
  });

  it('recognises pids by marker, not by shape', () => {
    expect(Pid.is(new Pid('a', 1))).toBe(true);
    expect(Pid.is({ node: 'a', id: 1, creation: 0 })).toBe(false);
    expect(new Pid('a', 1).equals({ node: 'a', id: 1, creation: 0 })).toBe(false);
  });

  it.each([
    ['not a string', 42],
    ['empty', ''],
    ['no brackets', 'a.1.0'],
    ['zero id', '<a.0.0>'],
    ['negative id', '<a.-1.0>'],
    ['leading zero', '<a.01.0>'],
    ['creation too big', '<a.1.4294967296>'],
    ['spaces in the node', '<a b.1.0>'],
    ['nested brackets', '<<a>.1.0>'],
    ['id beyond 2^53', '<a.9007199254740993.0>'],
    ['a huge input', `<${'a'.repeat(10_000)}.1.0>`],
    ['control characters', '<a\u0000.1.0>'],
  ])('rejects a malformed text pid (%s) with a typed error', (_label, text) => {
    rejects(() => Pid.parse(text));
  });

  it.each([
    ['null', null],
    ['a number', 7],
    ['missing id', { node: 'a' }],
    ['id as a string', { node: 'a', id: '1' }],
    ['fractional id', { node: 'a', id: 1.5 }],
    ['bad node', { node: '', id: 1 }],
    ['creation as a string', { node: 'a', id: 1, creation: '0' }],
  ])('rejects a malformed pid record (%s)', (_label, value) => {
    rejects(() => Pid.from(value));
  });
});
