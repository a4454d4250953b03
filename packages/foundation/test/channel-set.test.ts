// The foundation channel set over two real channels transports on loopback: connection 0 of a
// session carries the first channel's lane and the others open when their lanes are used, so the
// order of foundationChannels() decides what a one-off membership exchange costs.
import { afterEach, describe, expect, it } from '@jest/globals';
import { createTransport } from '@foundation/channels';
import type { InboundMessage, Transport } from '@foundation/channels';
import { foundationChannels } from '../src/index';
import { eventually } from './support/child-cluster';

const started: Transport[] = [];

async function node(name: string): Promise<Transport> {
  const transport = createTransport({ nodeId: name, listen: { host: '127.0.0.1', port: 0 }, security: { secret: 'channel-set-test-secret' }, channels: foundationChannels() });
  await transport.ready();
  started.push(transport);
  return transport;
}

/** Waits for `condition`, polling with the cluster tests' helper. */
const until = async (what: string, condition: () => boolean): Promise<void> => {
  await eventually(() => Promise.resolve(condition()), Boolean, what, 10_000);
};

afterEach(async () => {
  for (const transport of started.splice(0)) await transport.close();
});

describe('the foundation channel set', () => {
  it('a membership exchange with a stranger takes one connection; another part\'s lane opens its own when used', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const onA: unknown[] = [];
    const onB: unknown[] = [];
    a.onMessage('membership', (message: InboundMessage) => onA.push(message.payload));
    b.onMessage('membership', (message: InboundMessage) => {
      onB.push(message.payload);
      b.send(message.from, 'membership', { type: 'shuffle-reply' });
    });
    b.onMessage('raft', (message: InboundMessage) => onB.push(message.payload));
    a.connect(b.address()!.url);
    await until('the link up', () => a.peers().includes('b') && b.peers().includes('a'));
    expect(a.send('b', 'membership', { type: 'shuffle' })).toBe(true);
    await until('the reply', () => onA.length === 1);
    const open = (transport: Transport): number => transport.stats().peers[0]!.openConnections;
    expect([open(a), open(b)]).toEqual([1, 1]);
    expect(a.send('b', 'raft', { type: 'append' })).toBe(true);
    await until('the raft message', () => onB.length === 2);
    expect([open(a), open(b)]).toEqual([2, 2]);
  });
});
