// Channels marked `thread`: the dialer's sockets of their lanes run in a worker thread, over real
// sockets on loopback; frames reach the main thread through a shared ring or as copies.
import { afterEach, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { defaultChannels } from '../src/index';
import type { ChannelOptions } from '../src/index';
import { closeNodes, link, nextEvent, startNode, waitFor } from './helpers';

afterEach(closeNodes);

function threaded(thread = true): Record<string, ChannelOptions> {
  const channels = defaultChannels();
  return { ...channels, bulk: { ...channels.bulk, thread } };
}

function pattern(length: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  let state = seed;
  for (let index = 0; index < length; index += 1) {
    state = (state * 1_103_515_245 + 12_345) >>> 0;
    bytes[index] = state >>> 24;
  }
  return bytes;
}

const digest = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('channels with `thread`', () => {
  it('carries large messages both ways through the dialer\'s socket thread, intact and in order, beside requests on other channels', async () => {
    const b = await startNode('node-b', { channels: threaded() });
    const a = await startNode('node-a', { channels: threaded() });
    await link(a, b);
    b.onRequest('coordination', ({ payload }) => payload);
    // Sizes across the ring's frame limit and its wrap-around: 4 MiB of ring, 64 KiB chunks.
    const sizes = [1, 5_000, 70_000, 3 * 1024 * 1024 + 17, 9 * 1024 * 1024, 65_536, 12 * 1024 * 1024 + 3];
    const messages = sizes.map((size, index) => pattern(size, index + 1));
    const atA: string[] = [];
    const atB: string[] = [];
    a.onMessage('bulk', ({ payload }) => atA.push(digest(payload as Uint8Array)));
    b.onMessage('bulk', ({ payload }) => atB.push(digest(payload as Uint8Array)));
    const sends: Promise<void>[] = [];
    for (const message of messages) {
      sends.push(b.sendAsync('node-a', 'bulk', message));
      sends.push(a.sendAsync('node-b', 'bulk', message));
    }
    const replies = await Promise.all(Array.from({ length: 20 }, (_, index) => a.request('node-b', 'coordination', { index })));
    expect(replies).toEqual(Array.from({ length: 20 }, (_, index) => ({ index })));
    await Promise.all(sends);
    await waitFor(() => atA.length === messages.length && atB.length === messages.length, 20_000, 'every bulk message');
    expect(atA).toEqual(messages.map(digest));
    expect(atB).toEqual(messages.map(digest));
    // The dialer ran its bulk connection in the thread; the acceptor read it on its main thread.
    expect(a.stats().threadConnections).toBe(1);
    expect(b.stats().threadConnections).toBe(0);
  });

  it('runs no thread when no channel asks for one', async () => {
    const b = await startNode('node-b', { channels: threaded(false) });
    const a = await startNode('node-a', { channels: threaded(false) });
    await link(a, b);
    let received = 0;
    b.onMessage('bulk', () => (received += 1));
    await a.sendAsync('node-b', 'bulk', pattern(100_000, 3));
    await waitFor(() => received === 1);
    expect(a.stats().threadConnections).toBe(0);
  });

  it('reconnects a threaded lane that broke, and the session goes on', async () => {
    const b = await startNode('node-b', { channels: threaded(), timing: { peerDownGraceMs: 5_000 } });
    const a = await startNode('node-a', { channels: threaded(), timing: { peerDownGraceMs: 5_000 } });
    await link(a, b);
    const received: number[] = [];
    b.onMessage('bulk', ({ payload }) => received.push((payload as Uint8Array).length));
    await a.sendAsync('node-b', 'bulk', pattern(200_000, 9));
    await waitFor(() => received.length === 1);
    // Closing b's end of the bulk connection breaks the session; a dials it again, through its thread.
    const reopened = nextEvent(a, 'channel-open', (event: { channel: string }) => event.channel === 'bulk');
    b.disconnect('node-a');
    await reopened;
    await waitFor(() => a.peers().includes('node-b'), 10_000, 'the session back');
    await a.sendAsync('node-b', 'bulk', pattern(300_000, 10));
    await waitFor(() => received.length === 2, 10_000, 'the second message');
    expect(received).toEqual([200_000, 300_000]);
    expect(a.stats().threadConnections).toBe(1);
  });
});
