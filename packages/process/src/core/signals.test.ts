import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { FoundationError } from '@foundation/core';
import { PROCESS_ERROR_CODES } from '../errors/codes';
import { MalformedSignalError } from '../errors/malformed-signal-error';
import { NoProcessError } from '../errors/no-process-error';
import { Pid } from './pid';
import { decodeSignal, encodeSignal } from './signals';
import type { Signal } from './signals';
import { decodeBody, encodeBody } from './wire-body';

const a1 = new Pid('a', 1);
const a2 = new Pid('a', 2, 7);
const b1 = new Pid('b', 1);

/** What a CBOR or JSON transport does to a signal: plain data in, plain data out. */
function overTheWire(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

function malformed(data: unknown, from = 'a'): MalformedSignalError {
  try {
    decodeSignal(data, from, 'b');
  } catch (error) {
    expect(error).toBeInstanceOf(MalformedSignalError);
    expect(FoundationError.hasType(error, PROCESS_ERROR_CODES.malformedSignal)).toBe(true);
    return error as MalformedSignalError;
  }
  throw new Error('expected the signal to be refused');
}

describe('signals', () => {
  const signals: Signal[] = [
    { type: 'send', to: b1, from: a1, body: { hello: [1, 'two', { replyTo: a2 }] }, cast: false },
    { type: 'send', to: { name: 'logger', node: 'b' }, from: undefined, body: 'x', cast: true },
    { type: 'call', to: b1, ref: 17, body: { question: a1 } },
    { type: 'reply', ref: 17, ok: true, body: [a1] },
    { type: 'link', from: a1, to: b1 },
    { type: 'unlink', from: a1, to: b1 },
    { type: 'unlink', from: a1, to: b1, id: 12 },
    { type: 'unlink-ack', from: a1, to: b1, id: 12 },
    { type: 'exit', from: a1, to: b1, reason: 'shutdown', link: true },
    { type: 'monitor', from: a1, to: b1, ref: '#Ref<a.3>' },
    { type: 'demonitor', from: a1, to: b1, ref: '#Ref<a.3>' },
    { type: 'down', to: b1, ref: '#Ref<b.9>', pid: a2, reason: 'noproc' },
  ];

  it.each(signals.map((signal) => [signal.type, signal] as const))('round-trips a %s signal through plain data', (_type, signal) => {
    const decoded = decodeSignal(overTheWire(encodeSignal(signal)), 'a', 'b');
    expect(overTheWire(encodeSignal(decoded))).toEqual(overTheWire(encodeSignal(signal)));
    if (signal.type === 'send') {
      const body = (decoded as typeof signal).body as { hello: [number, string, { replyTo: Pid }] };
      if (typeof body === 'object') expect(Pid.is(body.hello[2].replyTo) && body.hello[2].replyTo.equals(a2)).toBe(true);
    }
  });

  it('carries error reasons and error replies as FoundationError data', () => {
    const exit = decodeSignal(overTheWire(encodeSignal({ type: 'exit', from: a1, to: b1, reason: new TypeError('bad'), link: true })), 'a', 'b');
    expect(exit.type === 'exit' && FoundationError.is(exit.reason) && exit.reason.message).toBe('bad');
    const reply = decodeSignal(overTheWire(encodeSignal({ type: 'reply', ref: 1, ok: false, error: new NoProcessError('<b.9.0>') })), 'a', 'b');
    expect(reply.type === 'reply' && !reply.ok && reply.error.code).toBe(PROCESS_ERROR_CODES.noProcess);
  });

  it.each([
    ['not an object', 'hello'],
    ['an array', [1, 2]],
    ['no version', { t: 'send', to: '<b.1.0>', body: 1 }],
    ['a future version', { v: 2, t: 'send', to: '<b.1.0>', body: 1 }],
    ['an unknown type', { v: 1, t: 'spawn', to: '<b.1.0>' }],
    ['a numeric target', { v: 1, t: 'send', to: 5, body: 1 }],
    ['a malformed target pid', { v: 1, t: 'send', to: '<b.x.0>', body: 1 }],
    ['an oversized target', { v: 1, t: 'send', to: `<${'b'.repeat(100_000)}.1.0>`, body: 1 }],
    ['an empty name', { v: 1, t: 'send', to: { name: '' }, body: 1 }],
    ['a name with control characters', { v: 1, t: 'send', to: { name: 'a\nb' }, body: 1 }],
    ['a name object with extra keys', { v: 1, t: 'send', to: { name: 'x', __proto__: { polluted: true }, node: 'c' }, body: 1 }],
    ['a malformed pid inside the body', { v: 1, t: 'send', to: '<b.1.0>', body: { nested: [{ $pid: '<oops>' }] } }],
    ['a fractional call ref', { v: 1, t: 'call', to: '<b.1.0>', ref: 1.5, body: 1 }],
    ['a negative call ref', { v: 1, t: 'call', to: '<b.1.0>', ref: -1, body: 1 }],
    ['a reply without ok', { v: 1, t: 'reply', ref: 3, body: 1 }],
    ['a link without from', { v: 1, t: 'link', to: '<b.1.0>' }],
    ['an unlink with a fractional id', { v: 1, t: 'unlink', from: '<a.1.0>', to: '<b.1.0>', id: 1.5 }],
    ['an unlink with a string id', { v: 1, t: 'unlink', from: '<a.1.0>', to: '<b.1.0>', id: '3' }],
    ['an unlink ack without an id', { v: 1, t: 'unlink-ack', from: '<a.1.0>', to: '<b.1.0>' }],
    ['an unlink ack with a zero id', { v: 1, t: 'unlink-ack', from: '<a.1.0>', to: '<b.1.0>', id: 0 }],
    ['an exit without a link flag', { v: 1, t: 'exit', from: '<a.1.0>', to: '<b.1.0>', reason: 'x' }],
    ['an exit with an object reason', { v: 1, t: 'exit', from: '<a.1.0>', to: '<b.1.0>', reason: { kill: true }, link: false }],
    ['an oversized reason', { v: 1, t: 'exit', from: '<a.1.0>', to: '<b.1.0>', reason: 'x'.repeat(5000), link: false }],
    ['a monitor with a bad ref', { v: 1, t: 'monitor', from: '<a.1.0>', to: '<b.1.0>', ref: 'ref' }],
    ['a down with a numeric ref', { v: 1, t: 'down', to: '<b.1.0>', ref: 4, pid: '<a.1.0>', reason: 'normal' }],
  ])('refuses %s with a typed error', (_label, data) => {
    malformed(data);
  });

  it('refuses a sender that claims to be on another node than the one it came from', () => {
    expect(malformed({ v: 1, t: 'link', from: '<c.1.0>', to: '<b.1.0>' }, 'a').message).toMatch(/not on the sending node/);
    expect(malformed({ v: 1, t: 'down', to: '<b.1.0>', ref: '#Ref<a.1>', pid: '<c.1.0>', reason: 'normal' }, 'a').message).toMatch(/sending node/);
    malformed({ v: 1, t: 'send', to: '<b.1.0>', from: '<c.4.0>', body: 1 }, 'a');
    // An ack names the process that took the unlink: one of the acking node's, as for any sender.
    expect(malformed({ v: 1, t: 'unlink-ack', from: '<c.1.0>', to: '<b.1.0>', id: 1 }, 'a').message).toMatch(/not on the sending node/);
  });

  it('reads an unlink without an id, from a runtime of an earlier version, as an unlink that needs no ack', () => {
    expect(decodeSignal({ v: 1, t: 'unlink', from: '<a.1.0>', to: '<b.1.0>' }, 'a', 'b')).toEqual({ type: 'unlink', from: a1, to: b1 });
    expect(encodeSignal({ type: 'unlink', from: a1, to: b1 })).toEqual({ v: 1, t: 'unlink', from: '<a.1.0>', to: '<b.1.0>' });
  });

  it('refuses a monitor or demonitor whose reference another node made, and accepts its own of either form', () => {
    // And the form workers once made (`#Ref<a.t1.1>` is node `a.t1`'s), which let node `a` take
    // over references node `a.t1` was yet to use.
    // Review finding: node `a` passed the check for `#Ref<a.b.1>` (it begins with `#Ref<a.`),
    // a reference of node `a.b`, and so could take over a monitor node `a.b` was to make.
    for (const t of ['monitor', 'demonitor']) {
      for (const ref of ['#Ref<a.b.1>', '#Ref<ab.1>', '#Ref<c.t1:1>', '#Ref<a.t1:1>.1', '#Ref<a.t1.1>']) {
        expect(malformed({ v: 1, t, from: '<a.1.0>', to: '<b.1.0>', ref }).message).toMatch(/"ref"/);
      }
      for (const ref of ['#Ref<a.1>', '#Ref<a.t1:1>']) {
        expect(decodeSignal({ v: 1, t, from: '<a.1.0>', to: '<b.1.0>', ref }, 'a', 'b')).toMatchObject({ type: t, ref });
      }
    }
  });

  it('never throws anything but MalformedSignalError, whatever arrives (fuzz)', () => {
    fc.assert(
      fc.property(fc.anything({ withObjectString: true, withNullPrototype: true, maxDepth: 4 }), fc.constantFrom('send', 'cast', 'call', 'reply', 'link', 'exit', 'monitor', 'down'), (junk, t) => {
        for (const data of [junk, { v: 1, t, to: junk, from: junk, ref: junk, body: junk, reason: junk, link: junk, ok: junk, pid: junk }]) {
          try {
            decodeSignal(data, 'a', 'b');
          } catch (error) {
            expect(error).toBeInstanceOf(MalformedSignalError);
          }
        }
      }),
    );
  });
});

describe('pids inside message bodies', () => {
  it('tags pids on the way out and rebuilds them on the way in, without touching the sender', () => {
    const message = { from: a1, list: [a2, { deep: b1 }], plain: 'x' };
    const encoded = encodeBody(message);
    expect(message.from).toBe(a1);
    expect(overTheWire(encoded)).toEqual({ from: { $pid: '<a.1.0>' }, list: [{ $pid: '<a.2.7>' }, { deep: { $pid: '<b.1.0>' } }], plain: 'x' });
    const decoded = decodeBody(overTheWire(encoded)) as typeof message;
    expect(decoded.from.equals(a1) && (decoded.list[0] as Pid).equals(a2)).toBe(true);
  });

  it('returns the same object when there is no pid to convert', () => {
    const message = { a: [1, 2, { b: 'c' }] };
    expect(encodeBody(message)).toBe(message);
    expect(decodeBody(message)).toBe(message);
  });

  it('does not let a decoded "__proto__" key reach a prototype', () => {
    const hostile = JSON.parse('{"__proto__": {"polluted": true}, "who": {"$pid": "<a.1.0>"}}') as unknown;
    const decoded = decodeBody(hostile) as Record<string, unknown>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(decoded, '__proto__')).toBe(true);
    expect(Pid.is(decoded.who)).toBe(true);
  });

  it('stops at a bounded depth instead of overflowing the stack', () => {
    let deep: unknown = { $pid: '<a.1.0>' };
    for (let level = 0; level < 100_000; level += 1) deep = [deep];
    expect(() => decodeBody(deep)).not.toThrow();
    expect(() => encodeBody(deep)).not.toThrow();
  });
});
