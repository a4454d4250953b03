// The README's "composing your own stack": remote pids with process and channels alone.
import { afterAll, expect, it } from '@jest/globals';
import { createTransport, defaultChannels } from '@foundation/channels';
import type { Transport } from '@foundation/channels';
import { createRuntime, createTransportRouter } from '@foundation/process';
import type { Runtime } from '@foundation/process';
import { urlOf, withEagerConnect } from '../src/index';
import { freePort } from '../src/options';

const secret = 'compose-your-own-stack-secret';
const channels = { ...defaultChannels(), process: { reliable: true } };
const started: { transport: Transport; runtime: Runtime }[] = [];
afterAll(async () => {
  for (const { transport, runtime } of started) {
    await runtime.shutdown();
    await transport.close();
  }
});

async function startRuntime(nodeId: string, port: number, eager = true): Promise<Runtime> {
  const transport = createTransport({ nodeId, listen: { host: '127.0.0.1', port }, security: { secret }, channels, resolveAddress: urlOf });
  await transport.ready();
  const runtime = createRuntime({ nodeId, router: createTransportRouter(eager ? withEagerConnect(transport) : transport, { channel: 'process' }) });
  started.push({ transport, runtime });
  return runtime;
}

it('calls a process on another node with nothing but process and channels', async () => {
  const [portA, portB] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
  const a = await startRuntime(`a@127.0.0.1:${portA}`, portA);
  const b = await startRuntime(`b@127.0.0.1:${portB}`, portB);
  const echo = b.spawn({ handleCall: (request) => ({ echoed: request }) });
  expect(await a.call(echo, 'hi')).toEqual({ echoed: 'hi' });
});

it('reaches a node it never talked to through the router alone: the first signals wait for the connection, in order', async () => {
  const [portA, portB] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
  const a = await startRuntime(`a@127.0.0.1:${portA}`, portA, false);
  const b = await startRuntime(`b@127.0.0.1:${portB}`, portB, false);
  const received: number[] = [];
  const sink = b.spawn({ handleMessage: (message: number) => void received.push(message), handleCall: () => received.length });
  for (let index = 0; index < 100; index += 1) a.send(sink, index); // before any connection exists
  expect(await a.call<number>(sink, 'count')).toBe(100);
  expect(received).toEqual(Array.from({ length: 100 }, (_, index) => index));
});
