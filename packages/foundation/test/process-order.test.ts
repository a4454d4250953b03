// BEAM's guarantee, which the process runtime's router contract carries over: signals from one
// node to another arrive in the order they were sent. The process channel's lanes are separate
// connections with no order between them, so foundationChannels() gives the process channel one.
import { afterAll, expect, it } from '@jest/globals';
import { foundationChannels } from '../src/index';
import { runtimesOnChannels } from './support/runtimes';

const runtimes = runtimesOnChannels({ secret: 'process-order-test-secret', channels: foundationChannels() });
afterAll(() => runtimes.stopAll());

it('delivers messages from one process to another on a second node in the order they were sent, across many event-loop turns', async () => {
  const a = await runtimes.start('a');
  const b = await runtimes.start('b');
  const received: number[] = [];
  const sink = b.spawn({ handleMessage: (message: number) => void received.push(message), handleCall: () => received.length });
  expect(await a.call(sink, 'count')).toBe(0); // the link is up: nothing is held while it connects
  const TURNS = 300;
  const PER_TURN = 40;
  for (let turn = 0; turn < TURNS; turn += 1) {
    for (let index = 0; index < PER_TURN; index += 1) a.send(sink, turn * PER_TURN + index);
    await new Promise((resolve) => setImmediate(resolve));
  }
  for (let polls = 0; (await a.call<number>(sink, 'count')) < TURNS * PER_TURN && polls < 200; polls += 1) await new Promise((resolve) => setTimeout(resolve, 10));
  const outOfOrder = received.findIndex((value, index) => value !== index);
  expect(outOfOrder).toBe(-1);
  expect(received).toHaveLength(TURNS * PER_TURN);
}, 30_000);
