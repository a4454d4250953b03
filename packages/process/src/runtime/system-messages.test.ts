import { describe, expect, it } from '@jest/globals';
import { Pid } from '../core/pid';
import { downMessage, exitMessage, isDownMessage, isExitMessage, isSystemMessage } from './system-messages';

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
    expect(isSystemMessage(value)).toBe(false);
  });

  it.each([undefined, null, 0, 'exit', Symbol('exit'), { type: 'exit', from: pid, reason: 'boom' }])('return false for %p', (value) => {
    expect(isExitMessage(value)).toBe(false);
    expect(isDownMessage(value)).toBe(false);
  });
});
