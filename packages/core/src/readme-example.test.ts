// The README's examples, run as a test so that they stay true.
import { expect, it } from '@jest/globals';
import { FoundationError, createBackoff, createPublisher, createSeededRandom, isUuid, systemClock, uuidV4 } from './index';

it('runs the README example', () => {
  // Errors with a stable code, a retry strategy and a wire form.
  const error = new FoundationError({ type: 'timeout', message: 'peer did not answer', context: { peer: 'node-2' } });
  expect(error.code).toBe(4301);
  expect(error.retryStrategy).toBe('exponential_backoff');
  expect(error.retryDelay(3)).toBe(8000);
  const rebuilt = FoundationError.fromJSON(JSON.parse(JSON.stringify(error)));
  expect([rebuilt.code, rebuilt.type, rebuilt.context]).toEqual([4301, 'timeout', { peer: 'node-2' }]);
  expect(FoundationError.is(rebuilt)).toBe(true);

  // Time and randomness come in from outside, so a simulation can replace them.
  const random = createSeededRandom(42);
  const backoff = createBackoff({ initialMs: 100, maxMs: 30_000, random });
  const retries: string[] = [];
  const timer = systemClock.setTimer(backoff.next(), () => retries.push(uuidV4(random)));
  timer.cancel();
  expect(retries).toEqual([]);
  expect(createSeededRandom(42).uint32()).toBe(createSeededRandom(42).uint32()); // the same seed replays the same draws
  expect(isUuid(uuidV4(random))).toBe(true);
});

export class NotLeaderError extends FoundationError {
  constructor(readonly leaderHint?: string) {
    super({ type: 'not_leader', code: 6001, category: 'system', message: 'not the leader', context: { leaderHint } });
  }
}

it('runs the README subclass', () => {
  const error = new NotLeaderError('node-3');
  expect([error.code, error.type, error.leaderHint]).toEqual([6001, 'not_leader', 'node-3']);
  expect(FoundationError.is(error)).toBe(true);
});

it('runs the README publisher example', () => {
  const logged: string[] = [];
  const changes = createPublisher<{ path: string }>({ onError: (error, message) => logged.push(`failed ${message.path}: ${String(error)}`) });
  const unsubscribe = changes.subscribe((change) => logged.push(`changed ${change.path}`));
  changes.publish({ path: 'server.port' }); // logs before publish returns
  expect(logged).toEqual(['changed server.port']);
  unsubscribe();
  changes.publish({ path: 'server.host' });
  expect(logged).toEqual(['changed server.port']);
});
