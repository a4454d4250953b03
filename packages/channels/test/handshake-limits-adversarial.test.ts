// Tries to break the sizes stated in the handshake (handshake-limits.test.ts has the basics):
// what a node held for a peer that restarts with a smaller maxMessageBytes is dropped, and a
// reliable stream renumbered. A framed message renumbered under a receiver that still knows its
// old number would arrive twice or hide another; an acknowledgement mapped to the old numbers
// would release the wrong message. Also: a peer that states sizes out of range, messages of
// exactly the limit, and meta longer than the smallest chunk.
import { afterEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { FoundationError } from '@foundation/core';
import { CHANNELS_ERROR_CODES, CLOSE_CODES, MessageTooLargeError } from '../src/index';
import type { ConnectionErrorEvent, ProtocolViolationError, Transport } from '../src/index';
import { createCborCodec } from '../src/core/cbor';
import { PROTOCOL_VERSION, READY_FRAME, decodeHello, encodeChallenge, encodeHello, handshakeProof } from '../src/core/handshake';
import { SECRET, closeNodes, createProxy, expectedDigest, keyOf, link, nextEvent, rawClient, startNode, waitFor, wireLimitsOf } from './helpers';
import type { Proxy } from './helpers';

let proxy: Proxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  await closeNodes();
});

const KIB = 1024;
const codec = createCborCodec();

function violationsOn(...nodes: Transport[]): ProtocolViolationError[] {
  const seen: ProtocolViolationError[] = [];
  for (const node of nodes) node.on('protocol-error', (error) => seen.push(error));
  return seen;
}

/** One reliable channel of two lanes, taking messages up to `maxMessageBytes`. */
function orders(maxMessageBytes: number): Record<string, object> {
  return { orders: { reliable: true, parallelism: 2, maxMessageBytes } };
}

describe('a receiver that restarts with a smaller maxMessageBytes while the sender holds what the old one took', () => {
  // Delivered to the old incarnation and never acknowledged (acknowledgements wait 60 s), so
  // still held for sending again: the large one in the middle of each lane is dropped, the others
  // numbered again for the new incarnation.
  const holdAcks = { ackDelayMs: 60_000, peerDownGraceMs: 20_000 };
  const big = 'B'.repeat(100 * KIB);

  it.each([['dialer'], ['acceptor']])('sender as %s: the rest arrives once, in order and without a gap, across several reconnects after', async (senderRole) => {
    const receiverFirst = await startNode('receiver', { channels: orders(1024 * KIB), timing: holdAcks });
    const sender = await startNode('sender', { channels: orders(1024 * KIB), timing: { peerDownGraceMs: 20_000 } });
    const receiverPort = receiverFirst.address()!.port;
    proxy = await createProxy(senderRole === 'dialer' ? receiverPort : sender.address()!.port);
    const path = proxy;
    if (senderRole === 'dialer') await link(sender, receiverFirst, path.url);
    else await link(receiverFirst, sender, path.url);
    let tookFirst = 0;
    receiverFirst.onMessage('orders', () => (tookFirst += 1));
    for (const key of ['k0', 'k1']) {
      expect(sender.send('receiver', 'orders', `${key}-1`, { partitionKey: key })).toBe(true);
      expect(sender.send('receiver', 'orders', big, { partitionKey: key })).toBe(true);
      expect(sender.send('receiver', 'orders', `${key}-2`, { partitionKey: key })).toBe(true);
    }
    await waitFor(() => tookFirst === 6 && sender.stats().channels.orders!.unackedMessages === 6, 5_000, 'six delivered, none acknowledged');
    path.blackhole();
    path.sever();
    await receiverFirst.close();
    const receiver = await startNode('receiver', { channels: orders(64 * KIB), listen: { host: '127.0.0.1', port: receiverPort }, timing: { peerDownGraceMs: 20_000 } });
    const violations = violationsOn(sender, receiver);
    const got = new Map<string, string[]>();
    receiver.onMessage('orders', ({ payload }) => {
      const key = (payload as string).split('-')[0]!;
      got.set(key, [...(got.get(key) ?? []), payload as string]);
    });
    path.restore();
    if (senderRole === 'acceptor') receiver.connect(path.url);
    const count = (key: string): number => got.get(key)?.length ?? 0;
    await waitFor(() => count('k0') === 2 && count('k1') === 2, 5_000, 'what was held');
    expect(sender.stats().channels.orders!.droppedTooLarge).toBe(2);
    for (let round = 3; round < 10; round += 1) {
      for (const key of ['k0', 'k1']) expect(sender.send('receiver', 'orders', `${key}-${round}`, { partitionKey: key })).toBe(true);
      if (round % 2 === 0) {
        await new Promise((resolve) => setImmediate(resolve));
        path.sever();
      }
    }
    await waitFor(() => count('k0') >= 9 && count('k1') >= 9, 10_000, 'every message');
    await waitFor(() => sender.stats().channels.orders!.unackedMessages === 0, 5_000, 'the acknowledgements');
    for (const key of ['k0', 'k1']) expect(got.get(key)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => `${key}-${n}`));
    expect(receiver.stats().channels.orders!.sequenceGaps).toBe(0);
    expect(violations).toEqual([]);
  });

  it('a large request the old incarnation took fails once, as interrupted (it may have been handled there), not as too large', async () => {
    const first = await startNode('node-b', { channels: orders(1024 * KIB), timing: holdAcks });
    const port = first.address()!.port;
    proxy = await createProxy(port);
    const path = proxy;
    let asked = 0;
    first.onRequest('orders', () => {
      asked += 1;
      return new Promise(() => undefined);
    });
    const a = await startNode('node-a', { channels: orders(1024 * KIB), timing: holdAcks });
    await link(a, first, path.url);
    const outcomes: unknown[] = [];
    const settled = a.request('node-b', 'orders', big, { timeout: 30_000 }).then(
      (value) => outcomes.push(value),
      (error: FoundationError) => outcomes.push(error),
    );
    await waitFor(() => asked === 1, 2_000, 'the request taken');
    path.blackhole();
    path.sever();
    await first.close();
    const second = await startNode('node-b', { channels: orders(64 * KIB), timing: holdAcks, listen: { host: '127.0.0.1', port } });
    let askedSecond = 0;
    second.onRequest('orders', () => (askedSecond += 1));
    path.restore();
    await settled;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(outcomes).toHaveLength(1);
    expect((outcomes[0] as FoundationError).code).toBe(CHANNELS_ERROR_CODES.requestInterrupted);
    expect(askedSecond).toBe(0);
  });

  it('a sender that restarts with a smaller maxMessageBytes: its new stream is delivered, and what the other side held for it is numbered again', async () => {
    const b = await startNode('node-b', { channels: orders(1024 * KIB), timing: holdAcks });
    proxy = await createProxy(b.address()!.port);
    const path = proxy;
    const first = await startNode('node-a', { channels: orders(1024 * KIB), timing: holdAcks });
    await link(first, b, path.url);
    const onB: string[] = [];
    b.onMessage('orders', ({ payload }) => onB.push(String(payload)));
    let tookFirst = 0;
    first.onMessage('orders', () => (tookFirst += 1));
    for (let n = 0; n < 50; n += 1) expect(first.send('node-b', 'orders', `old-${n}`)).toBe(true);
    for (const text of ['b1', big, 'b2']) expect(b.send('node-a', 'orders', text)).toBe(true);
    await waitFor(() => onB.length === 50 && tookFirst === 3, 5_000, 'the first exchange');
    path.blackhole();
    path.sever();
    await first.close();
    const second = await startNode('node-a', { channels: orders(64 * KIB), timing: { peerDownGraceMs: 20_000 } });
    const onSecond: string[] = [];
    second.onMessage('orders', ({ payload }) => onSecond.push(String(payload)));
    path.restore();
    await link(second, b, path.url);
    // Numbered from 1 again, below what the old incarnation's stream reached: not duplicates.
    for (let n = 0; n < 3; n += 1) expect(second.send('node-b', 'orders', `new-${n}`)).toBe(true);
    await waitFor(() => onB.length === 53 && onSecond.length === 2, 5_000, 'both streams');
    expect(onB.slice(50)).toEqual(['new-0', 'new-1', 'new-2']);
    expect(onSecond).toEqual(['b1', 'b2']);
    expect(b.stats().channels.orders!.droppedTooLarge).toBe(1);
    expect(second.stats().channels.orders!.sequenceGaps).toBe(0);
    expect(b.stats().channels.orders!.duplicatesDropped).toBe(0);
  });

  it.each([1, 2])('many restarts with alternating sizes and resets mid-stream (seed %i): no gap, no message twice in one incarnation, none lost that fits', async (seed) => {
    let state = seed * 7919;
    const random = (): number => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state / 2 ** 31;
    };
    const timing = { peerDownGraceMs: 30_000, ackDelayMs: 50 };
    let receiver = await startNode('receiver', { channels: orders(1024 * KIB), timing });
    const port = receiver.address()!.port;
    proxy = await createProxy(port);
    const path = proxy;
    const sender = await startNode('sender', { channels: orders(1024 * KIB), timing });
    const violations = violationsOn(sender);
    await link(sender, receiver, path.url);
    const lives: Map<string, number[]>[] = [];
    const gaps: number[] = [];
    const watch = (node: Transport): void => {
      const got = new Map<string, number[]>();
      lives.push(got);
      node.onMessage('orders', ({ payload }) => {
        const { key, n } = payload as { key: string; n: number };
        got.set(key, [...(got.get(key) ?? []), n]);
      });
    };
    watch(receiver);
    const keys = ['k0', 'k1', 'k2', 'k3'];
    const large = new Set<string>();
    let life = 0;
    for (let n = 0; n < 300; n += 1) {
      for (const key of keys) {
        const isLarge = random() < 0.08;
        if (isLarge) large.add(`${key}:${n}`);
        try {
          await sender.sendAsync('receiver', 'orders', { key, n, pad: isLarge ? 'x'.repeat(100 * KIB) : '' }, { partitionKey: key });
        } catch (error) {
          if (!(error instanceof MessageTooLargeError)) throw error;
        }
      }
      const roll = random();
      if (roll < 0.03) {
        await new Promise((resolve) => setImmediate(resolve));
        path.sever();
      } else if (roll < 0.05) {
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.floor(random() * 20)));
        path.blackhole();
        path.sever();
        gaps.push(receiver.stats().channels.orders!.sequenceGaps);
        await receiver.close();
        life += 1;
        // Every other life takes 64 KiB messages; frame and chunk sizes change too.
        const limits = [{}, { frameBytes: 1024, chunkBytes: 1024 }, { chunkBytes: Infinity }][life % 3]!;
        receiver = await startNode('receiver', { channels: orders(life % 2 === 1 ? 64 * KIB : 1024 * KIB), timing, limits, listen: { host: '127.0.0.1', port } });
        watch(receiver);
        path.restore();
      }
    }
    await waitFor(() => sender.stats().channels.orders!.unackedMessages === 0 && sender.stats().channels.orders!.queuedMessages === 0, 15_000, 'everything acknowledged');
    gaps.push(receiver.stats().channels.orders!.sequenceGaps);
    expect(life).toBeGreaterThanOrEqual(3);
    expect(sender.stats().channels.orders!.droppedTooLarge).toBeGreaterThan(0);
    expect(gaps.every((value) => value === 0)).toBe(true);
    for (const got of lives) {
      for (const [, list] of got) for (let index = 1; index < list.length; index += 1) expect(list[index]!).toBeGreaterThan(list[index - 1]!);
    }
    for (const key of keys) {
      const seen = new Set(lives.flatMap((got) => got.get(key) ?? []));
      const missing = Array.from({ length: 300 }, (_, n) => n).filter((n) => !large.has(`${key}:${n}`) && !seen.has(n));
      expect(missing).toEqual([]);
    }
    expect(violations).toEqual([]);
  }, 60_000);
});

describe('messages of exactly the limit', () => {
  it.each([['queued before the session', true], ['sent once it is up', false]])('a message and a request of exactly the peer\'s maxMessageBytes pass (%s)', async (_when, early) => {
    const limit = 50 * KIB;
    const b = await startNode('node-b', { channels: { rpc: { reliable: true, maxMessageBytes: limit } } });
    const a = await startNode('node-a', { channels: { rpc: { reliable: true, maxMessageBytes: 1024 * KIB } }, addresses: { 'node-b': b.address()!.url } });
    const violations = violationsOn(a, b);
    const got: number[] = [];
    b.onMessage('rpc', ({ payload }) => got.push((payload as Uint8Array).length));
    b.onRequest('rpc', ({ payload }) => (payload as Uint8Array).length);
    if (early) a.connect('node-b');
    else await link(a, b);
    const exact = new Uint8Array(limit).fill(3);
    expect(a.send('node-b', 'rpc', exact)).toBe(true);
    // The meta (headers) is not counted against the limit, on either side.
    const answer = a.request('node-b', 'rpc', exact, { headers: { trace: 'x'.repeat(1000) } });
    if (!early) expect(() => a.send('node-b', 'rpc', new Uint8Array(limit + 1))).toThrow(MessageTooLargeError);
    await expect(answer).resolves.toBe(limit);
    await waitFor(() => got.length === 1, 5_000, 'the message');
    expect(a.stats().channels.rpc!.droppedTooLarge).toBe(0);
    expect(violations).toEqual([]);
  });

  it('a request and its reply with 12 KB of headers, to a peer with 1 KiB frames and chunks', async () => {
    const a = await startNode('node-a', { limits: { frameBytes: KIB, chunkBytes: KIB } });
    const b = await startNode('node-b', { limits: { chunkBytes: Infinity } });
    const violations = violationsOn(a, b);
    await link(a, b);
    b.onRequest('coordination', ({ headers, payload }) => `${Object.keys(headers ?? {}).length}:${String(payload)}`);
    const headers: Record<string, string> = {};
    for (let index = 0; index < 6; index += 1) headers[`h${index}`] = 'v'.repeat(2000);
    await expect(a.request('node-b', 'coordination', 'q', { headers })).resolves.toBe('6:q');
    expect(violations).toEqual([]);
  });
});

describe('sizes out of range in the handshake', () => {
  const own = wireLimitsOf();
  const withMessage = (bytes: unknown): unknown[] => [own.frameBytes, own.chunkBytes, own.maxMessageBytes.map((value, index) => (index === 1 ? bytes : value))];
  const absurd: [string, unknown][] = [
    ['frameBytes 0', [0, own.chunkBytes, own.maxMessageBytes]],
    ['frameBytes -1', [-1, own.chunkBytes, own.maxMessageBytes]],
    ['frameBytes NaN', [Number.NaN, own.chunkBytes, own.maxMessageBytes]],
    ['frameBytes Infinity', [Infinity, own.chunkBytes, own.maxMessageBytes]],
    ['frameBytes 1023', [1023, own.chunkBytes, own.maxMessageBytes]],
    ['frameBytes 1024.5', [1024.5, own.chunkBytes, own.maxMessageBytes]],
    ['frameBytes above 16 MiB', [16 * 1024 * 1024 + 1, own.chunkBytes, own.maxMessageBytes]],
    ['frameBytes 2^64', [2n ** 64n, own.chunkBytes, own.maxMessageBytes]],
    ['frameBytes as a string', ['65536', own.chunkBytes, own.maxMessageBytes]],
    ['chunkBytes 0', [own.frameBytes, 0, own.maxMessageBytes]],
    ['chunkBytes -5', [own.frameBytes, -5, own.maxMessageBytes]],
    ['chunkBytes NaN', [own.frameBytes, Number.NaN, own.maxMessageBytes]],
    ['chunkBytes Infinity as a float (null stands for it)', [own.frameBytes, Infinity, own.maxMessageBytes]],
    ['chunkBytes 2^60', [own.frameBytes, 2n ** 60n, own.maxMessageBytes]],
    ['a maxMessageBytes of 0', withMessage(0)],
    ['a maxMessageBytes of -1', withMessage(-1)],
    ['a maxMessageBytes of NaN', withMessage(Number.NaN)],
    ['a maxMessageBytes of 2^32', withMessage(2 ** 32)],
    ['a maxMessageBytes of null', withMessage(null)],
    ['one channel fewer', [own.frameBytes, own.chunkBytes, own.maxMessageBytes.slice(1)]],
    ['one channel more', [own.frameBytes, own.chunkBytes, [...own.maxMessageBytes, KIB]]],
    ['no channels', [own.frameBytes, own.chunkBytes, []]],
    ['65 channels', [own.frameBytes, own.chunkBytes, new Array(65).fill(KIB)]],
    ['maxMessageBytes not a list', [own.frameBytes, own.chunkBytes, KIB]],
    ['a map', { frameBytes: own.frameBytes }],
    ['null', null],
    ['two fields', [own.frameBytes, own.chunkBytes]],
    ['four fields', [own.frameBytes, own.chunkBytes, own.maxMessageBytes, 1]],
  ];

  it.each(absurd)('a HELLO with %s is refused as malformed (4006)', async (_name, limits) => {
    const b = await startNode('node-b');
    const client = await rawClient(b.address()!.url);
    const { digest, connections } = expectedDigest();
    const hello = {
      cluster: 'foundation', nodeId: 'raw-client', incarnation: 'raw-incarnation', epoch: 0, session: 'raw-session', connection: 0, connections,
      channelDigest: digest, expectedPeer: undefined, nonce: randomBytes(32), limits: own,
    };
    const fields = codec.decode(encodeHello(codec, hello, keyOf(SECRET, 'foundation')).body) as unknown[];
    expect([fields.length, fields[1]]).toEqual([13, PROTOCOL_VERSION]);
    fields[12] = limits;
    client.send(Buffer.concat([Buffer.of(0x01), codec.encode(fields)]));
    expect((await client.closed).code).toBe(CLOSE_CODES.malformedFrame);
    expect(b.peers()).toEqual([]);
  });

  it.each(absurd)('a CHALLENGE with %s, and a valid proof, is refused by the dialer (4006)', async (_name, limits) => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const secret = keyOf(SECRET, 'foundation');
    let authenticated = 0;
    server.on('connection', (socket: WebSocket) => {
      socket.on('error', () => undefined);
      socket.once('message', (frame: Buffer) => {
        const { hello, body } = decodeHello(codec, frame, secret);
        const challenge = { nodeId: 'raw-server', incarnation: 'raw-server-incarnation', epoch: 1, nonce: Buffer.alloc(32, 7), limits: hello.limits };
        const fields = codec.decode(encodeChallenge(codec, challenge, secret, body).fields) as unknown[];
        fields[4] = limits;
        const encoded = Buffer.from(codec.encode(fields));
        const proof = handshakeProof(secret, 'acceptor', body, encoded);
        socket.send(Buffer.concat([Buffer.of(0x02, encoded.length >>> 8, encoded.length & 0xff), encoded, proof]));
        socket.once('message', () => {
          authenticated += 1;
          socket.send(READY_FRAME);
        });
      });
    });
    try {
      const { port } = server.address() as { port: number };
      const node = await startNode('node-a', { addresses: { 'raw-server': `ws://127.0.0.1:${port}` } });
      const failed = nextEvent<ConnectionErrorEvent>(node, 'connection-error');
      node.connect('raw-server');
      expect((await failed).error.closeCode).toBe(CLOSE_CODES.malformedFrame);
      expect(authenticated).toBe(0);
      expect(node.peers()).toEqual([]);
      await node.close();
    } finally {
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('the smallest sizes a peer may state are kept to: 1 KiB frames and chunks, a 1-byte message', async () => {
    const channels = { rpc: { reliable: true } };
    const b = await startNode('node-b', { channels });
    const client = await rawClient(b.address()!.url);
    await client.handshake({ channels, limits: { frameBytes: KIB, chunkBytes: KIB, maxMessageBytes: [1] } });
    await waitFor(() => b.peers().includes('raw-client'), 2_000, 'the raw client to be up');
    expect(() => b.send('raw-client', 'rpc', 'ab')).toThrow(MessageTooLargeError);
    expect(b.send('raw-client', 'rpc', 1)).toBe(true); // one CBOR byte
    client.socket.terminate();
  });
});
