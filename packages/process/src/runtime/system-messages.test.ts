import { describe, expect, it } from '@jest/globals';
import { Pid } from '../core/pid';
import { addressTo, downMessage, exitMessage, isDownFor, isDownMessage, isExitFor, isExitMessage, isSystemMessageFor } from './system-messages';

const unreadable = (): never => {
  throw new Error('unreadable');
};

/** Every trap a guard could touch throws. */
const allTrapsThrow: ProxyHandler<object> = {
  get: unreadable,
  has: unreadable,
  getPrototypeOf: unreadable,
  getOwnPropertyDescriptor: unreadable,
  ownKeys: unreadable,
};

function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

describe('isExitMessage and isDownMessage', () => {
  const pid = new Pid('node-a', 1);

  it('recognise the messages the runtime makes', () => {
    expect(isExitMessage(exitMessage(pid, 'boom'))).toBe(true);
    expect(isDownMessage(downMessage('#Ref<node-a.1>', pid, 'boom'))).toBe(true);
    expect(isDownMessage(exitMessage(pid, 'boom'))).toBe(false);
    expect(isExitMessage(downMessage('#Ref<node-a.1>', pid, 'boom'))).toBe(false);
  });

  // Review finding: the guards read the marker property, so a value whose read throws made
  // the guard throw in the caller's handler (ending a process that only asked what it got).
  it.each([
    ['an exit marker whose getter throws', Object.defineProperty({}, Symbol.for('@foundation/process/ExitMessage'), { get: unreadable })],
    ['a down marker whose getter throws', Object.defineProperty({}, Symbol.for('@foundation/process/DownMessage'), { get: unreadable })],
    ['a proxy whose traps all throw', new Proxy({}, allTrapsThrow)],
    ['a function proxy whose traps all throw', new Proxy(() => undefined, allTrapsThrow)],
    ['a revoked proxy', revoked()],
    ['an object whose prototype is a proxy that throws', Object.create(new Proxy({}, allTrapsThrow)) as object],
  ])('return false, never throw, for %s', (_name, value) => {
    expect(isExitMessage(value)).toBe(false);
    expect(isDownMessage(value)).toBe(false);
    expect(isSystemMessageFor(value, {})).toBe(false);
  });

  it.each([undefined, null, 0, 'exit', Symbol('exit'), { type: 'exit', from: pid, reason: 'boom' }])('return false for %p', (value) => {
    expect(isExitMessage(value)).toBe(false);
    expect(isDownMessage(value)).toBe(false);
  });
});

describe('what the runtime counts as a system message', () => {
  const pid = new Pid('node-a', 1);
  const recipient = {};
  const other = {};

  it('is a message it made and delivered, in the mailbox it delivered it to, and nowhere else', () => {
    const exit = exitMessage(pid, 'boom');
    const down = downMessage('#Ref<node-a.1>', pid, 'boom');
    // Made, not delivered (the message of a `refused` dead letter, say): no mailbox's.
    expect(isSystemMessageFor(exit, recipient)).toBe(false);
    addressTo(exit, recipient);
    addressTo(down, recipient);
    expect([isExitFor(exit, recipient), isDownFor(exit, recipient), isSystemMessageFor(exit, recipient)]).toEqual([true, false, true]);
    expect([isExitFor(down, recipient), isDownFor(down, recipient), isSystemMessageFor(down, recipient)]).toEqual([false, true, true]);
    // Passed on to another process, it is an ordinary message there.
    expect([isExitFor(exit, other), isDownFor(down, other), isSystemMessageFor(exit, other)]).toEqual([false, false, false]);
  });

  it('is never a lookalike, whatever markers it copies, though the shape guards accept it', () => {
    const exit = exitMessage(pid, 'boom');
    addressTo(exit, recipient);
    const copy = Object.defineProperties({}, Object.getOwnPropertyDescriptors(exit));
    expect(isExitMessage(copy)).toBe(true);
    expect(isExitFor(copy, recipient)).toBe(false);
    expect(isSystemMessageFor(copy, recipient)).toBe(false);
    expect(isExitFor(new Proxy(exit, {}), recipient)).toBe(false);
  });
});
