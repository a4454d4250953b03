// The transport port over real sockets on loopback: connecting, sending on every channel,
// request/reply, events, and the errors callers see.
import { afterEach, describe, expect, it } from '@jest/globals';
import { FoundationError } from '@foundation/core';
import {
  CHANNELS_ERROR_CODES,
  MessageTooLargeError,
  PayloadEncodingError,
  PeerUnavailableError,
  RequestTimeoutError,
  UnknownChannelError,
  defaultChannels,
} from '../src/index';
import type { ChannelEvent, InboundMessage } from '../src/index';
import { createServer } from 'node:net';
import { closeNodes, link, nextEvent, startNode, waitFor } from './helpers';

afterEach(closeNodes);

describe('transport over loopback', () => {
  it('connects by URL: peer-up and channel-open on both sides, peers() lists each other', async () => {
    const a = await startNode('node-a');
    const b = await startNode('node-b');
    const opened: ChannelEvent[] = [];
    b.on('channel-open', (event) => opened.push(event));
    await link(a, b);
    expect(a.peers()).toEqual(['node-b']);
    expect(b.peers()).toEqual(['node-a']);
    await waitFor(() => opened.length === Object.keys(defaultChannels()).length);
    expect(opened.map((event) => event.channel).sort()).toEqual(Object.keys(defaultChannels()).sort());
    // 3 + 5 + 1 + 2 + 1 lanes, one connection each; only connection 0 is opened up front.
    expect(a.stats().peers[0]).toMatchObject({ peer: 'node-b', state: 'up', openConnections: 1 });
  });

  it('opens a lane\'s connection when the lane first has something to send, on either side, in order', async () => {
    const a = await startNode('node-a');
    const b = await startNode('node-b');
    await link(a, b); // a dials, b accepts
    const open = (node: typeof a): number => node.stats().peers[0]!.openConnections;
    expect([open(a), open(b)]).toEqual([1, 1]);
    // A link's first keyless message on a channel of several lanes takes lane 0, connection 0's.
    b.onRequest('coordination', ({ payload }) => payload);
    await expect(a.request('node-b', 'coordination', 'keyless')).resolves.toBe('keyless');
    expect([open(a), open(b)]).toEqual([1, 1]);
    const onA: unknown[] = [];
    const onB: unknown[] = [];
    a.onMessage('events', ({ payload }) => onA.push(payload));
    b.onMessage('bulk', ({ payload }) => onB.push(payload));
    // The dialer dials the lane's connection itself.
    expect(a.send('node-b', 'bulk', 'from the dialer')).toBe(true);
    await waitFor(() => onB.length === 1, 5_000, 'the bulk message');
    expect([open(a), open(b)]).toEqual([2, 2]);
    // The acceptor asks the dialer to (OPEN on connection 0); what it queued meanwhile arrives in order.
    const sent = Array.from({ length: 50 }, (_, index) => index);
    for (const value of sent) expect(b.send('node-a', 'events', value, { partitionKey: 'one key' })).toBe(true);
    await waitFor(() => onA.length === sent.length, 5_000, 'the events');
    expect(onA).toEqual(sent);
    expect([open(a), open(b)]).toEqual([3, 3]);
    // Lanes already open take no further connection.
    expect(b.send('node-a', 'events', 'again', { partitionKey: 'one key' })).toBe(true);
    await waitFor(() => onA.length === sent.length + 1, 5_000, 'the last event');
    expect([open(a), open(b)]).toEqual([3, 3]);
    expect(a.stats().refusals).toEqual({});
    expect(b.stats().refusals).toEqual({});
  });

  it('connects by node id through the address book', async () => {
    const b = await startNode('node-b');
    const a = await startNode('node-a', { addresses: { 'node-b': b.address()!.url } });
    const up = nextEvent<string>(a, 'peer-up');
    a.connect('node-b');
    expect(await up).toBe('node-b');
  });

  it('delivers on every channel with headers, in the shape of the transport port', async () => {
    const a = await startNode('node-a');
    const b = await startNode('node-b');
    await link(a, b);
    const received: InboundMessage[] = [];
    for (const channel of Object.keys(defaultChannels())) b.onMessage(channel, (message) => received.push(message));
    for (const channel of Object.keys(defaultChannels())) {
      expect(a.send('node-b', channel, { on: channel }, { headers: { traceparent: '00-abc-def-01' } })).toBe(true);
    }
    await waitFor(() => received.length === 5);
    for (const message of received) {
      expect(message.from).toBe('node-a');
      expect(message.to).toBe('node-b');
      expect(message.payload).toEqual({ on: message.channel });
      expect(message.headers).toEqual({ traceparent: '00-abc-def-01' });
    }
  });

  it('keeps per-key order on a channel spread over five connections, and spreads keys over them', async () => {
    const a = await startNode('node-a');
    const b = await startNode('node-b');
    await link(a, b);
    const byKey = new Map<string, number[]>();
    let count = 0;
    b.onMessage('data', ({ payload }) => {
      const { key, n } = payload as { key: string; n: number };
      byKey.set(key, [...(byKey.get(key) ?? []), n]);
      count += 1;
    });
    const keys = Array.from({ length: 20 }, (_, index) => `key-${index}`);
    for (let n = 0; n < 200; n += 1) {
      for (const key of keys) a.send('node-b', 'data', { key, n, pad: 'p'.repeat(n % 7 === 0 ? 20_000 : 10) }, { partitionKey: key });
    }
    await waitFor(() => count === 4000, 10_000, 'all messages');
    for (const key of keys) expect(byKey.get(key)).toEqual(Array.from({ length: 200 }, (_, index) => index));
    // The keys spread over the five lanes: every lane carried messages, none carried them all,
    // and each lane carried whole keys (200 messages each), so no key was split across lanes.
    const sentPerLane = a.stats().channels.data!.lanes.map((lane) => lane.messagesSent);
    const receivedPerLane = b.stats().channels.data!.lanes.map((lane) => lane.messagesReceived);
    expect(sentPerLane).toHaveLength(5);
    expect(receivedPerLane).toEqual(sentPerLane);
    for (const messages of receivedPerLane) {
      expect(messages).toBeGreaterThan(0);
      expect(messages).toBeLessThan(4000);
      expect(messages % 200).toBe(0);
    }
    expect(receivedPerLane.reduce((sum, messages) => sum + messages, 0)).toBe(4000);
    // The wait above allows 10 s; jest's 5 s default cut it short twice in clean-clone CI runs.
  }, 20_000);

  it('round-trips Uint8Array payloads small and large (large ones travel raw, chunked)', async () => {
    const a = await startNode('node-a');
    const b = await startNode('node-b');
    await link(a, b);
    const received: Uint8Array[] = [];
    b.onMessage('bulk', ({ payload }) => received.push(payload as Uint8Array));
    const small = Uint8Array.from([1, 2, 3]);
    const large = new Uint8Array(3 * 1024 * 1024 + 17).map((_, index) => index & 0xff);
    a.send('node-b', 'bulk', small);
    a.send('node-b', 'bulk', large);
    await waitFor(() => received.length === 2, 10_000, 'both payloads');
    expect([...received[0]!]).toEqual([1, 2, 3]);
    expect(Buffer.compare(Buffer.from(received[1]!), Buffer.from(large))).toBe(0);
    // Chunked: many frames, none above the chunk size.
    expect(b.stats().channels.bulk!.framesReceived).toBeGreaterThan(40);
    // 3 MiB chunked over loopback: jest's 5 s default cut it short once in a
    // clean-clone CI run.
  }, 20_000);

  it('chunk buffers used again after they are written never mix one message into another', async () => {
    const a = await startNode('node-a');
    const b = await startNode('node-b');
    await link(a, b);
    const received: Uint8Array[] = [];
    b.onMessage('bulk', ({ payload }) => received.push(payload as Uint8Array));
    // Twelve 1 MiB messages, each of one byte value: 192 chunk frames through a pool of 64.
    for (let n = 0; n < 12; n += 1) await a.sendAsync('node-b', 'bulk', new Uint8Array(1024 * 1024).fill(n + 1));
    await waitFor(() => received.length === 12, 10_000, 'every message');
    received.forEach((message, n) => {
      expect(message.length).toBe(1024 * 1024);
      expect(message.every((byte) => byte === n + 1)).toBe(true);
    });
    // The wait above allows 10 s, past jest's 5 s default.
  }, 20_000);

  it('a finite chunkBytes far above any message (one chunk per message, as with Infinity) sends, instead of throwing from the flush', async () => {
    // The chunk pool allocated buffers of chunkBytes: 1 TiB here, a RangeError thrown from the
    // flush, uncaught, at the first chunk frame.
    const a = await startNode('node-a', { limits: { chunkBytes: 2 ** 40 } });
    const b = await startNode('node-b');
    await link(a, b);
    const received: Uint8Array[] = [];
    b.onMessage('bulk', ({ payload }) => received.push(payload as Uint8Array));
    const payload = new Uint8Array(100 * 1024).map((_, index) => index & 0xff);
    a.send('node-b', 'bulk', payload);
    await waitFor(() => received.length === 1, 5_000, 'the message');
    expect(Buffer.compare(Buffer.from(received[0]!), Buffer.from(payload))).toBe(0);
  });

  it('request/reply: values, promises, remote errors rebuilt with their code, no responder, timeout', async () => {
    const a = await startNode('node-a');
    const b = await startNode('node-b');
    await link(a, b);
    b.onRequest('coordination', async ({ payload, headers }) => {
      const { op } = payload as { op: string };
      if (op === 'fail') throw new FoundationError({ type: 'timeout', message: 'remote gave up', context: { op } });
      if (op === 'hang') return new Promise(() => undefined);
      return { echoed: op, trace: headers?.trace };
    });
    await expect(a.request('node-b', 'coordination', { op: 'hello' }, { headers: { trace: 't1' } })).resolves.toEqual({ echoed: 'hello', trace: 't1' });
    const failure = await a.request('node-b', 'coordination', { op: 'fail' }).catch((error: unknown) => error);
    expect(FoundationError.is(failure)).toBe(true);
    expect((failure as FoundationError).code).toBe(4301);
    expect((failure as FoundationError).message).toBe('remote gave up');
    const noResponder = await a.request('node-b', 'events', 'anyone?').catch((error: unknown) => error);
    expect((noResponder as FoundationError).code).toBe(CHANNELS_ERROR_CODES.noResponder);
    await expect(a.request('node-b', 'coordination', { op: 'hang' }, { timeout: 50 })).rejects.toBeInstanceOf(RequestTimeoutError);
    await expect(a.request('node-x', 'coordination', {})).rejects.toBeInstanceOf(PeerUnavailableError);
  });

  it('refuses what cannot be sent: unknown peer (false), unknown channel, unencodable and oversized payloads (throw)', async () => {
    const a = await startNode('node-a', { channels: { small: { maxMessageBytes: 1024 } } });
    const b = await startNode('node-b', { channels: { small: { maxMessageBytes: 1024 } } });
    await link(a, b);
    expect(a.send('nobody', 'small', 1)).toBe(false);
    expect(() => a.send('node-b', 'nope', 1)).toThrow(UnknownChannelError);
    expect(() => a.send('node-b', 'small', { fn: () => 1 })).toThrow(PayloadEncodingError);
    expect(() => a.send('node-b', 'small', 'x'.repeat(2000))).toThrow(MessageTooLargeError);
    expect(() => a.onMessage('nope', () => undefined)).toThrow(UnknownChannelError);
  });

  it('decoded payloads cannot reach a prototype', async () => {
    const a = await startNode('node-a');
    const b = await startNode('node-b');
    await link(a, b);
    let payload: unknown;
    b.onMessage('data', (message) => (payload = message.payload));
    a.send('node-b', 'data', JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "ok": 1}'));
    await waitFor(() => payload !== undefined);
    expect(Object.getPrototypeOf(payload)).toBe(Object.prototype);
    expect((payload as { polluted?: boolean }).polluted).toBeUndefined();
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    expect((payload as { ok: number }).ok).toBe(1);
  });

  it('monotonic channels send only the newest queued value per key', async () => {
    const a = await startNode('node-a');
    const b = await startNode('node-b');
    await link(a, b);
    const seen: number[] = [];
    b.onMessage('gossip', ({ payload }) => seen.push((payload as { version: number }).version));
    // All in one turn: they are still queued when the newer ones arrive.
    for (let version = 1; version <= 100; version += 1) a.send('node-b', 'gossip', { version }, { partitionKey: 'member-7' });
    a.send('node-b', 'gossip', { version: 1000 }, { partitionKey: 'member-8' });
    await waitFor(() => seen.includes(1000));
    await waitFor(() => seen.includes(100));
    expect(seen).toEqual([100, 1000]);
    expect(a.stats().channels.gossip!.replaced).toBe(99);
  });

  it('monotonic channels keep a busy turn queued to its end, so newer values still replace older ones', async () => {
    const a = await startNode('node-a');
    const b = await startNode('node-b');
    await link(a, b);
    const seen: string[] = [];
    b.onMessage('gossip', ({ payload }) => seen.push(payload as string));
    // Twenty members, then a newer value for each, all in one turn.
    for (const round of ['old', 'new']) for (let member = 0; member < 20; member += 1) a.send('node-b', 'gossip', `${round}-${member}`, { partitionKey: `member-${member}` });
    await waitFor(() => seen.length === 20);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen).toEqual(Array.from({ length: 20 }, (_, member) => `new-${member}`));
  });

  it('the first sixteen messages of a busy turn leave at once, the rest at the end of the turn', async () => {
    const channels = { orders: { parallelism: 1 } };
    const a = await startNode('node-a', { channels });
    const b = await startNode('node-b', { channels });
    await link(a, b);
    const seen: number[] = [];
    b.onMessage('orders', ({ payload }) => seen.push(payload as number));
    const frames = (): number => a.stats().channels.orders!.framesSent;
    const before = frames();
    for (let n = 0; n < 15; n += 1) a.send('node-b', 'orders', n);
    expect(frames()).toBe(before); // still coalescing
    a.send('node-b', 'orders', 15);
    expect(frames()).toBe(before + 1); // gone, so the peer can start on it
    for (let n = 16; n < 100; n += 1) a.send('node-b', 'orders', n);
    expect(frames()).toBe(before + 1); // the rest waits for the end of the turn
    await waitFor(() => seen.length === 100);
    expect(seen).toEqual(Array.from({ length: 100 }, (_, index) => index));
    expect(frames()).toBe(before + 2);
  });

  it('disconnect brings peer-down and channel-close; close() tells the peers', async () => {
    const a = await startNode('node-a');
    const b = await startNode('node-b');
    const c = await startNode('node-c');
    await link(a, b);
    await link(a, c);
    const closedChannels: ChannelEvent[] = [];
    a.on('channel-close', (event) => closedChannels.push(event));
    const downOnA = nextEvent<string>(a, 'peer-down', (peer) => peer === 'node-b');
    const downOnB = nextEvent<string>(b, 'peer-down');
    a.disconnect('node-b');
    expect(await downOnA).toBe('node-b');
    expect(await downOnB).toBe('node-a');
    expect(closedChannels.filter((event) => event.peer === 'node-b')).toHaveLength(5);
    expect(a.peers()).toEqual(['node-c']);
    const downOnC = nextEvent<string>(c, 'peer-down');
    await a.close();
    expect(await downOnC).toBe('node-a');
    expect(a.send('node-c', 'data', 1)).toBe(false);
  });
});

describe('sendAsync waiting for room', () => {
  it('wakes up and fails when the peer it waits for is disconnected before it ever came up (review finding)', async () => {
    // Queues of a peer still connecting take sends; a full one made sendAsync wait for drained
    // or peer-down, and disconnecting a peer that never came up emitted neither.
    const silent = createServer(() => undefined); // accepts, never answers the upgrade
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as { port: number }).port;
      const a = await startNode('node-a', { channels: { stream: { maxQueueMessages: 2 } }, addresses: { 'node-b': `ws://127.0.0.1:${port}` } });
      a.connect('node-b');
      expect(a.send('node-b', 'stream', 1)).toBe(true);
      expect(a.send('node-b', 'stream', 2)).toBe(true);
      expect(a.send('node-b', 'stream', 3)).toBe(false);
      const waiting = a.sendAsync('node-b', 'stream', 4).then(
        () => 'sent',
        (error: unknown) => (FoundationError.is(error) ? error.code : String(error)),
      );
      a.disconnect('node-b');
      await expect(waiting).resolves.toBe(CHANNELS_ERROR_CODES.peerUnavailable);
    } finally {
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('keyless messages on a channel of several lanes', () => {
  it('keep one turn\'s order past an early flush (review finding)', async () => {
    // The early flush (16 messages queued) also ended the turn's lane choice, so the rest of
    // the turn went to the other lane and overtook what was still queued on the first.
    const channels = { ev: { parallelism: 2, maxMessageBytes: 8 * 1024 * 1024, maxQueueBytes: 32 * 1024 * 1024 } };
    const a = await startNode('node-a', { channels });
    const b = await startNode('node-b', { channels });
    await link(a, b);
    const got: unknown[] = [];
    b.onMessage('ev', ({ payload }) => got.push(payload instanceof Uint8Array ? 'big' : payload));
    // One message in each of two turns first, so that both lanes are open.
    a.send('node-b', 'ev', 'warm-1');
    await new Promise((resolve) => setImmediate(resolve));
    a.send('node-b', 'ev', 'warm-2');
    await waitFor(() => got.length === 2, 5_000, 'the warm-up messages');
    got.length = 0;
    const numbers = Array.from({ length: 40 }, (_, index) => index + 1);
    a.send('node-b', 'ev', new Uint8Array(4 * 1024 * 1024));
    for (const n of numbers) a.send('node-b', 'ev', n);
    await waitFor(() => got.length === 41, 10_000, 'every message');
    expect(got).toEqual(['big', ...numbers]);
  }, 20_000);
});

describe('disconnect of a URL being dialled', () => {
  it('stops the dial in its handshake: no session comes up and nothing dials again (review finding)', async () => {
    // The dial in flight was left alone; when the peer answered, it was adopted as a wanted
    // link, came up, and reconnected by itself after the peer dropped it.
    const a = await startNode('node-a');
    const b = await startNode('node-b');
    const ups: string[] = [];
    a.on('peer-up', (peer) => ups.push(peer));
    a.connect(b.address()!.url);
    a.disconnect(b.address()!.url);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(ups).toEqual([]);
    expect(a.peers()).toEqual([]);
    expect(b.peers()).toEqual([]);
    // Connecting again afterwards works as usual.
    await link(a, b);
    expect(a.peers()).toEqual(['node-b']);
  });
});


describe('a reassembly budget below the largest message (review finding)', () => {
  it('is refused when the transport is created, not found later as a message refused on every reconnect', async () => {
    // The default channels allow 256 MiB on bulk: a budget of 128 MiB could never take such a message.
    await expect(startNode('node-a', { limits: { maxReassemblyBytes: 128 * 1024 * 1024 } })).rejects.toThrow(/limits\.maxReassemblyBytes.*at least/);
    // Channels whose largest message fits the budget, headers included, are fine.
    const small = { data: { maxMessageBytes: 1024 * 1024 } };
    await expect(startNode('node-b', { channels: small, limits: { maxReassemblyBytes: 1024 * 1024 } })).rejects.toThrow(/limits\.maxReassemblyBytes/);
    const node = await startNode('node-c', { channels: small, limits: { maxReassemblyBytes: 2 * 1024 * 1024 } });
    expect(node.nodeId).toBe('node-c');
  });

  it('must hold a largest message on every lane at once: a sender has one in progress per lane, and an honest one was refused with 4009', async () => {
    const MIB = 1024 * 1024;
    const HEADERS = 16 * 1024;
    const orders = { orders: { reliable: true, parallelism: 2, maxMessageBytes: MIB } };
    await expect(startNode('node-a', { channels: orders, limits: { maxReassemblyBytes: MIB + HEADERS } })).rejects.toThrow(/limits\.maxReassemblyBytes.*at least.*every lane/);
    await expect(startNode('node-a', { channels: orders, limits: { maxReassemblyBytes: 2 * (MIB + HEADERS) - 1 } })).rejects.toThrow(/limits\.maxReassemblyBytes/);
    // In the single mode a channel has one lane.
    const single = await startNode('node-s', { channels: orders, connectionMode: 'single', limits: { maxReassemblyBytes: MIB + HEADERS } });
    expect(single.nodeId).toBe('node-s');
    // The smallest budget taken: two largest messages, in progress at once on the two lanes, pass.
    const receiver = await startNode('receiver', { channels: orders, limits: { maxReassemblyBytes: 2 * (MIB + HEADERS) } });
    const sender = await startNode('sender', { channels: orders });
    const refusals: unknown[] = [];
    receiver.on('protocol-error', (error) => refusals.push(error));
    await link(sender, receiver);
    let received = 0;
    receiver.onMessage('orders', () => (received += 1));
    // Both lanes' connections open first, so that the two large messages travel side by side.
    for (const key of ['k0', 'k1']) sender.send('receiver', 'orders', 'open', { partitionKey: key });
    await waitFor(() => received === 2, 5_000, 'both lanes open');
    for (const key of ['k0', 'k1']) sender.send('receiver', 'orders', new Uint8Array(MIB), { partitionKey: key });
    await waitFor(() => received === 4, 5_000, 'both large messages');
    expect(refusals).toEqual([]);
    expect(sender.stats().channels.orders!.retransmitted).toBe(0);
  });
});
