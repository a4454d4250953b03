// Context across two real channels transports on loopback: a handler runs in the context its
// message brought, and in none when the message brought none.
import { describe, expect, it } from '@jest/globals';
import { createPropagator, currentContext, withContext } from '@foundation/context';
import { loopbackTransports, until } from '../../test/support/loopback';
import { withContextPropagation } from './context-transport';

const node = loopbackTransports('context-transport-test-secret');

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
