// The README's "composing your own stack": remote pids with process and channels alone.
import { afterAll, expect, it } from '@jest/globals';
import { defaultChannels } from '@foundation/channels';
import { runtimesOnChannels } from './support/runtimes';

const runtimes = runtimesOnChannels({ secret: 'compose-your-own-stack-secret', channels: { ...defaultChannels(), process: { reliable: true } } });
afterAll(() => runtimes.stopAll());

it('calls a process on another node with nothing but process and channels', async () => {
  const a = await runtimes.start('a');
  const b = await runtimes.start('b');
  const echo = b.spawn({ handleCall: (request) => ({ echoed: request }) });
  expect(await a.call(echo, 'hi')).toEqual({ echoed: 'hi' });
});

it('reaches a node it never talked to through the router alone: the first signals wait for the connection, in order', async () => {
  const a = await runtimes.start('a', { eager: false });
  const b = await runtimes.start('b', { eager: false });
  const received: number[] = [];
  const sink = b.spawn({ handleMessage: (message: number) => void received.push(message), handleCall: () => received.length });
  for (let index = 0; index < 100; index += 1) a.send(sink, index); // before any connection exists
  expect(await a.call<number>(sink, 'count')).toBe(100);
  expect(received).toEqual(Array.from({ length: 100 }, (_, index) => index));
});
