// Context across two real channels transports on loopback: a handler runs in the context its
// message brought, and in none when the message brought none.
import { afterEach, describe, expect, it } from '@jest/globals';
import { createTransport } from '@foundation/channels';
import type { Transport } from '@foundation/channels';
import { createPropagator, currentContext, withContext } from '@foundation/context';
import { freePort, urlOf } from '../options';
import { withContextPropagation } from './context-transport';

const SECRET = 'context-transport-test-secret';
const started: Transport[] = [];

async function node(name: string): Promise<Transport> {
  const port = await freePort('127.0.0.1');
  const transport = createTransport({ nodeId: `${name}@127.0.0.1:${port}`, listen: { host: '127.0.0.1', port }, security: { secret: SECRET }, resolveAddress: urlOf });
  await transport.ready();
  started.push(transport);
  return transport;
}

async function until(what: string, condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 10_000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

afterEach(async () => {
  for (const transport of started.splice(0)) await transport.close();
});

describe('context propagation', () => {
  it('a message on a plain channel, or one without headers, is handled in no context, not the one its link was dialled in', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const contextA = withContextPropagation(a, { propagator: createPropagator({ nodeId: a.nodeId }), plainChannels: ['gossip'] });
    const contextB = withContextPropagation(b, { propagator: createPropagator({ nodeId: b.nodeId }), plainChannels: ['gossip'] });
    const seen: (string | undefined)[] = [];
    contextA.onMessage('gossip', () => seen.push(currentContext().correlationId));
    contextA.onMessage('data', () => seen.push(currentContext().correlationId));

    withContext({ correlationId: 'request-X' }, () => contextA.connect(b.nodeId));
    await until('the link up on both sides', () => a.peers().includes(b.nodeId) && b.peers().includes(a.nodeId));
    contextB.send(a.nodeId, 'gossip', 'plain');
    await until('the plain message', () => seen.length === 1);
    // Straight on the transport: a message on a channel that carries context, with no headers.
    b.send(a.nodeId, 'data', 'no headers');
    await until('the message without headers', () => seen.length === 2);
    withContext({ correlationId: 'request-Y' }, () => contextB.send(a.nodeId, 'data', 'with context'));
    await until('the message with context', () => seen.length === 3);
    expect(seen).toEqual([undefined, undefined, 'request-Y']);
  });
});
