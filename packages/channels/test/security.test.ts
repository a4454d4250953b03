// Authentication and refusals: each mismatch ends with its own close code before any
// application message, on both sides; mutual TLS with certificates made at test time.
import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { CHANNELS_ERROR_CODES, CLOSE_CODES, ChannelsConfigError, ConnectionRefusedError, createTransport } from '../src/index';
import { randomBytes } from 'node:crypto';
import { connect as connectTcp } from 'node:net';
import { runInNewContext } from 'node:vm';
import type { PeerCertificate } from 'node:tls';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { ChannelEvent, ConnectionErrorEvent, ProtocolViolationError } from '../src/index';
import { createCborCodec } from '../src/core/cbor';
import { PROTOCOL_VERSION, decodeChallenge, decodeHello, deriveClusterKey, encodeHello, handshakeProof } from '../src/core/handshake';
import type { Hello } from '../src/core/handshake';
import { generateCertificates } from './certificates';
import type { TestCertificates } from './certificates';
import { SECRET, closeNodes, keyOf, createProxy, expectedDigest, link, nextEvent, rawClient, startNode, waitFor, wireLimitsOf } from './helpers';

afterEach(closeNodes);

/**
 * A HELLO a prober without the secret sends, claiming `nodeId` for `channels`: masked with a key
 * of its own, as a dialer need not hold the secret to send one.
 */
function proberHello(channels: Record<string, object>, nodeId: string): { frame: Uint8Array; body: Uint8Array } {
  const { digest, connections } = expectedDigest(channels);
  const fields: Hello = {
    cluster: 'foundation',
    nodeId,
    incarnation: 'any-incarnation',
    epoch: 0,
    session: randomBytes(8).toString('hex'),
    connection: 0,
    connections,
    channelDigest: digest,
    expectedPeer: undefined,
    nonce: randomBytes(32),
    limits: wireLimitsOf(channels),
  };
  return encodeHello(createCborCodec(), fields, randomBytes(32));
}

/**
 * What createTransport threw for `options`, checked to be a ChannelsConfigError with the invalid
 * config code (5801); a transport it made instead is closed and the check fails.
 */
async function configRefusal(options: Parameters<typeof createTransport>[0]): Promise<ChannelsConfigError> {
  let thrown: unknown;
  try {
    const transport = createTransport(options);
    await transport.close();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ChannelsConfigError);
  expect((thrown as ChannelsConfigError).code).toBe(CHANNELS_ERROR_CODES.invalidConfig);
  return thrown as ChannelsConfigError;
}

async function refusedWith(options: { dialer?: Parameters<typeof startNode>[1]; acceptor?: Parameters<typeof startNode>[1] }, acceptorReports = true) {
  const b = await startNode('node-b', options.acceptor);
  const a = await startNode('node-a', options.dialer);
  const dialerError = nextEvent<ConnectionErrorEvent>(a, 'connection-error');
  const acceptorError = acceptorReports ? nextEvent<ProtocolViolationError>(b, 'protocol-error') : Promise.resolve(undefined);
  const delivered: unknown[] = [];
  b.onMessage('coordination', (message) => delivered.push(message));
  a.connect(b.address()!.url);
  a.send('node-b', 'coordination', 'must never arrive');
  return { a, b, dialer: await dialerError, acceptor: await acceptorError, delivered };
}

describe('authentication and refusals', () => {
  it('a wrong secret is refused with 4003 by the side that checks first, counted, and nothing is delivered', async () => {
    const { a, b, dialer, delivered } = await refusedWith({ dialer: { security: { secret: 'another-secret-entirely-123' } } }, false);
    // The dialer checks the acceptor's proof first, so it is the one that notices and closes.
    expect(dialer.error).toBeInstanceOf(ConnectionRefusedError);
    expect(dialer.error.closeCode).toBe(CLOSE_CODES.authenticationFailed);
    expect(a.stats().refusals.authenticationFailed).toBeGreaterThanOrEqual(1);
    expect(delivered).toEqual([]);
    expect(b.peers()).toEqual([]);
  });

  it('an impostor that skips the acceptor proof check is refused by the acceptor (4003)', async () => {
    const b = await startNode('node-b');
    const client = await rawClient(b.address()!.url);
    const refused = nextEvent<ProtocolViolationError>(b, 'protocol-error');
    await expect(client.handshake({ secret: 'not-the-cluster-secret-at-all' })).rejects.toThrow();
    expect((await client.closed).code).toBe(CLOSE_CODES.authenticationFailed);
    expect((await refused).closeCode).toBe(CLOSE_CODES.authenticationFailed);
    expect(b.stats().refusals.authenticationFailed).toBe(1);
  });

  it.each([
    ['cluster name', { dialer: { cluster: 'other-cluster' } }, CLOSE_CODES.clusterMismatch],
    ['channel set', { dialer: { channels: { coordination: { reliable: true } } } }, CLOSE_CODES.channelSetMismatch],
    ['connection mode', { dialer: { connectionMode: 'single' as const } }, CLOSE_CODES.channelSetMismatch],
  ])('a %s mismatch is refused with its own code', async (_name, options, code) => {
    const { dialer, acceptor, delivered } = await refusedWith(options);
    expect(dialer.error.closeCode).toBe(code);
    expect(acceptor!.closeCode).toBe(code);
    expect(delivered).toEqual([]);
  });

  it('a node that is not the expected one at an address is refused (4013)', async () => {
    const b = await startNode('node-b');
    const a = await startNode('node-a', { addresses: { 'node-c': b.address()!.url } });
    const failed = nextEvent<ConnectionErrorEvent>(a, 'connection-error');
    const down = nextEvent<string>(a, 'peer-down');
    a.connect('node-c');
    expect((await failed).error.closeCode).toBe(CLOSE_CODES.unexpectedPeer);
    expect(await down).toBe('node-c');
  });

  it('without certificates, a second session for a node id whose session is alive is refused (4022); the live one keeps running', async () => {
    const a = await startNode('node-a');
    const b = await startNode('node-b');
    await link(a, b);
    const closedOnA: ChannelEvent[] = [];
    a.on('channel-close', (event) => closedOnA.push(event));
    // Holds the cluster secret, claims node-a: the secret alone may not displace node-a.
    const impostor = await rawClient(b.address()!.url);
    await expect(impostor.handshake({ nodeId: 'node-a' })).rejects.toThrow();
    expect((await impostor.closed).code).toBe(CLOSE_CODES.duplicateSession);
    expect(b.stats().refusals.duplicateSession).toBe(1);
    b.onRequest('coordination', ({ from }) => from);
    await expect(a.request('node-b', 'coordination', 'still me?')).resolves.toBe('node-a');
    expect(closedOnA).toEqual([]);
  });

  it('a new session replaces one that went silent: a restarted peer behind a dead path comes back before the idle timeout', async () => {
    const timing = { heartbeatIntervalMs: 30, idleTimeoutMs: 10_000, peerDownGraceMs: 10_000 };
    const b = await startNode('node-b', { timing });
    const proxy = await createProxy(b.address()!.port);
    try {
      const before = await startNode('node-a', { timing });
      await link(before, b, proxy.url);
      proxy.blackhole(); // the old session hears nothing more, and nothing closes it
      const after = await startNode('node-a', { timing });
      const upOnB = nextEvent<string>(b, 'peer-up');
      await link(after, b);
      expect(await upOnB).toBe('node-a');
      b.onRequest('coordination', () => 'answered');
      await expect(after.request('node-b', 'coordination', 'hello')).resolves.toBe('answered');
    } finally {
      await proxy.close();
    }
  });

  it.each([
    ['version 1 (node id expected and incarnation in the clear)', 1],
    ['version 2 (the secret itself as the HMAC key)', 2],
    ['version 3 (every connection of a session opened at once)', 3],
    ['version 4 (no frame, chunk or message sizes in the handshake)', 4],
    ['a later version', PROTOCOL_VERSION + 1],
  ])('another protocol version, %s, is refused with 4001 and says so', async (_name, version) => {
    const b = await startNode('node-b');
    const client = await rawClient(b.address()!.url);
    const codec = createCborCodec();
    const { digest, connections } = expectedDigest();
    const body = codec.encode(['foundation-channels', version, 'foundation', 'node-a', 'an-incarnation', 0, 'session', 0, connections, digest, 'node-b', randomBytes(32)]);
    const refused = nextEvent<ProtocolViolationError>(b, 'protocol-error');
    client.send(Buffer.concat([Buffer.of(0x01), body]));
    const closed = await client.closed;
    expect(closed.code).toBe(CLOSE_CODES.protocolMismatch);
    expect(closed.reason).toContain(`protocol version ${version} is not ${PROTOCOL_VERSION}`);
    expect((await refused).closeCode).toBe(CLOSE_CODES.protocolMismatch);
  });

  it('the cluster secret never crosses the wire', async () => {
    const b = await startNode('node-b');
    const proxy = await createProxy(b.address()!.port, true);
    try {
      const a = await startNode('node-a');
      await link(a, b, proxy.url);
      await a.request('node-b', 'coordination', 1).catch(() => undefined);
      const wire = Buffer.concat(proxy.captured);
      expect(wire.length).toBeGreaterThan(500); // the handshake, a request and its reply
      expect(wire.includes(Buffer.from(SECRET))).toBe(false);
      expect(wire.includes(keyOf(SECRET, 'foundation'))).toBe(false);
    } finally {
      await proxy.close();
    }
  });

  it('a secret that is not a string or bytes is refused (5801), and the error does not quote it', async () => {
    // Review finding: the secret went to Buffer.from unchecked, whose TypeError quoted a number
    // or boolean it was given, so an all-digit secret that a YAML or JSON config reads as a
    // number reached the logs of a process that failed to start; and an object with a length
    // became that many zero bytes, a secret anyone knows.
    for (const secret of [1_234_567_890_123_456, { length: 32 }, true]) {
      const thrown = await configRefusal({ nodeId: 'node-a', security: { secret: secret as never } });
      expect(thrown.message).not.toMatch(/1234567890|true|32/);
    }
  });

  it('a secret of bytes is taken whatever holds them: a Buffer, a view of a SharedArrayBuffer, a Uint8Array of another realm; an empty one is refused for its length (review finding)', async () => {
    // The check was `instanceof Uint8Array`, false for a Uint8Array made in another realm (a vm
    // context, a worker's message in some set-ups), which holds bytes all the same.
    const shared = new Uint8Array(new SharedArrayBuffer(32)).fill(7);
    const otherRealm = runInNewContext('new Uint8Array(32).fill(3)') as Uint8Array;
    for (const secret of [Buffer.from(SECRET), shared, otherRealm, Buffer.alloc(64, 1).subarray(10, 40)]) {
      const transport = createTransport({ nodeId: 'node-a', security: { secret } });
      await transport.close();
    }
    expect(() => createTransport({ nodeId: 'node-a', security: { secret: new Uint8Array(0) } })).toThrow(/at least 16 bytes/);
  });
});

describe('node ids and incarnations before the other side has authenticated', () => {
  // Review finding: HELLO carried the node id the dialer expects and the dialer's incarnation in
  // the clear, and CHALLENGE the acceptor's incarnation, each before the other side had proved
  // it holds the secret. Whoever answered at an address a node dials learned whom it meant to
  // reach; whoever could open a connection learned, by asking again, when a node restarted.
  const codec = createCborCodec();
  const secret = keyOf(SECRET, 'foundation'); // the HMAC key every node derives from the secret

  it('HELLO shows neither the node id the dialer expects nor its incarnation, and the dial still reaches that node', async () => {
    const b = await startNode('node-b');
    const proxy = await createProxy(b.address()!.port, true);
    try {
      const a = await startNode('node-a', { addresses: { 'node-b': proxy.url } });
      const up = nextEvent<string>(a, 'peer-up');
      a.connect('node-b');
      expect(await up).toBe('node-b');
      // A second connection of the session: the bulk lane's, opened by its first message.
      expect(a.send('node-b', 'bulk', 'opens the bulk connection')).toBe(true);
      await waitFor(() => proxy.fromDialer.length > 1 && a.stats().peers[0]!.openConnections === 2, 5_000, 'the bulk connection');
      // The first frame from the dialer on each connection of the session is its HELLO.
      const hellos = proxy.fromDialer.map((chunks) => dialerFrames(Buffer.concat(chunks))[0]!.payload);
      expect(hellos.length).toBeGreaterThan(1);
      const incarnations = new Set<string>();
      const onTheWire = new Set<unknown>();
      for (const frame of hellos) {
        expect(frame[0]).toBe(0x01);
        const { hello } = decodeHello(codec, frame, secret); // as a holder of the secret reads it
        expect(hello.nodeId).toBe('node-a');
        incarnations.add(hello.incarnation);
        onTheWire.add((codec.decode(frame.subarray(1)) as unknown[])[4]);
        expect(frame.includes('node-b')).toBe(false);
        expect(frame.includes(hello.incarnation)).toBe(false);
      }
      // One incarnation, shown differently on every connection.
      expect(incarnations.size).toBe(1);
      expect(onTheWire.size).toBe(hellos.length);
    } finally {
      await proxy.close();
    }
  });

  it('CHALLENGE shows a dialer without the secret nothing of the acceptor\'s incarnation', async () => {
    const channels = { rpc: {} };
    const node = await startNode('target', { channels });
    const challenge = async (): Promise<{ frame: Buffer; incarnation: string }> => {
      const client = await rawClient(node.address()!.url);
      const { frame, body } = proberHello(channels, 'prober');
      client.send(frame);
      await waitFor(() => client.frames.length > 0, 2_000, 'the CHALLENGE');
      client.socket.terminate();
      const received = client.frames[0]!;
      return { frame: received, incarnation: decodeChallenge(codec, received, secret, body).challenge.incarnation };
    };
    const first = await challenge();
    const second = await challenge();
    expect(second.incarnation).toBe(first.incarnation);
    expect(first.frame.includes(first.incarnation)).toBe(false);
    expect(second.frame.includes(second.incarnation)).toBe(false);
  });

  it('a CHALLENGE lets a prober test a guess of the secret only through scrypt, salted with the cluster name', async () => {
    const channels = { rpc: {} };
    const node = await startNode('target', { channels });
    const client = await rawClient(node.address()!.url);
    const { frame, body } = proberHello(channels, 'prober');
    client.send(frame);
    await waitFor(() => client.frames.length > 0, 2_000, 'the CHALLENGE');
    client.socket.terminate();
    // What anyone who opens a connection holds: its HELLO, the CHALLENGE's fields and proof.
    const { fields, proof } = decodeChallenge(codec, client.frames[0]!, secret, body);
    const guess = (key: Uint8Array): boolean => Buffer.from(handshakeProof(key, 'acceptor', body, fields)).equals(Buffer.from(proof));
    expect(guess(keyOf(SECRET, 'foundation'))).toBe(true);
    expect(guess(Buffer.from(SECRET))).toBe(false); // the secret itself is no HMAC key here (it was in version 2)
    expect(guess(deriveClusterKey(Buffer.from(SECRET), 'another-cluster'))).toBe(false);
    expect(guess(deriveClusterKey(Buffer.from(`${SECRET}x`), 'foundation'))).toBe(false);
  });

  it('the acceptor refuses a dialer that expected another node (4013), though the dialer skipped its own check', async () => {
    const channels = { rpc: {} }; // one connection per session, as the raw client makes
    const b = await startNode('node-b', { channels });
    const client = await rawClient(b.address()!.url);
    const refused = nextEvent<ProtocolViolationError>(b, 'protocol-error');
    await expect(client.handshake({ expectedPeer: 'node-c', channels })).rejects.toThrow();
    expect((await client.closed).code).toBe(CLOSE_CODES.unexpectedPeer);
    expect((await refused).closeCode).toBe(CLOSE_CODES.unexpectedPeer);
    expect(b.stats().refusals.unexpectedPeer).toBe(1);
    expect(b.peers()).toEqual([]);
    // The node it did expect is let in.
    const welcome = await rawClient(b.address()!.url);
    await welcome.handshake({ expectedPeer: 'node-b', channels });
    await waitFor(() => b.peers().includes('raw-client'), 2_000, 'the raw client to be up');
  });

  it.each([
    ['an expected peer in the clear', 'an-incarnation', 'node-b'],
    ['an expected-peer digest of the wrong size', 'an-incarnation', Buffer.alloc(31)],
    ['an incarnation outside base64url', 'an incarnation', null],
    ['an incarnation above 64 characters', 'i'.repeat(65), null],
  ])('a HELLO with %s is malformed (4006)', async (_name, incarnation, expected) => {
    const b = await startNode('node-b');
    const client = await rawClient(b.address()!.url);
    const { digest, connections } = expectedDigest();
    const { frameBytes, chunkBytes, maxMessageBytes } = wireLimitsOf();
    const limits = [frameBytes, chunkBytes, maxMessageBytes];
    const fields = ['foundation-channels', PROTOCOL_VERSION, 'foundation', 'node-a', incarnation, 0, 'session', 0, connections, digest, expected, randomBytes(32), limits];
    client.send(Buffer.concat([Buffer.of(0x01), codec.encode(fields)]));
    expect((await client.closed).code).toBe(CLOSE_CODES.malformedFrame);
    expect(b.stats().refusals.malformedFrame).toBe(1);
  });

  it('a dial by node id with another secret is still refused as such (4003), not as the wrong node', async () => {
    const b = await startNode('node-b');
    const a = await startNode('node-a', { security: { secret: 'another-secret-entirely-123' }, addresses: { 'node-b': b.address()!.url } });
    const failed = nextEvent<ConnectionErrorEvent>(a, 'connection-error');
    a.connect('node-b');
    expect((await failed).error.closeCode).toBe(CLOSE_CODES.authenticationFailed);
    expect(b.peers()).toEqual([]);
  });
});

describe('session epochs before the other side has authenticated', () => {
  // Review finding: CHALLENGE carried the acceptor's session epoch for the node id a dialer
  // claims in the clear, so anyone who could open a connection learned, without the secret,
  // whether this node had ever dropped what it kept for that node id (0 or not) and, by asking
  // again, when it did so next (the value changed). HELLO did the same towards whoever answers
  // at the address a node dials.
  const codec = createCborCodec();
  const channels = { rpc: {} }; // one connection per session, as the raw client makes

  /** A HELLO claiming `nodeId`, from a prober without the secret. */
  function hello(nodeId: string): Buffer {
    return Buffer.from(proberHello(channels, nodeId).frame);
  }

  /** The epoch field of a CHALLENGE frame as it crossed the wire. */
  function challengeEpoch(frame: Buffer): unknown {
    const length = frame.readUInt16BE(1);
    return (codec.decode(frame.subarray(3, 3 + length)) as unknown[])[2];
  }

  it('CHALLENGE shows a dialer without the secret nothing of what this node keeps for the node id it claims', async () => {
    const node = await startNode('target', { channels, timing: { peerDownGraceMs: 100 } });
    const url = node.address()!.url;
    const known = await rawClient(url);
    await known.handshake({ nodeId: 'dropped-peer', channels });
    await waitFor(() => node.peers().includes('dropped-peer'), 2_000, 'the peer to be up');
    const down = nextEvent<string>(node, 'peer-down');
    known.socket.terminate();
    await down; // the node dropped what it kept for dropped-peer: a new session epoch
    /** The epoch field as it crossed the wire, and as a holder of the secret reads it. */
    const seen = async (nodeId: string): Promise<{ wire: unknown; epoch: number }> => {
      const client = await rawClient(url);
      const frame = hello(nodeId);
      client.send(frame);
      await waitFor(() => client.frames.length > 0, 2_000, 'the CHALLENGE');
      client.socket.terminate();
      const challenge = client.frames[0]!;
      return { wire: challengeEpoch(challenge), epoch: decodeChallenge(codec, challenge, keyOf(SECRET, 'foundation'), frame.subarray(1)).challenge.epoch };
    };
    const dropped = [await seen('dropped-peer'), await seen('dropped-peer')];
    const neverSeen = [await seen('never-seen'), await seen('never-seen')];
    // The node shows each node id one epoch across handshakes (for a node id it never met, the
    // same fresh one until a handshake adopts it), and the one it shows the dropped peer is not
    // the one of that peer's session...
    expect(dropped[1]!.epoch).toBe(dropped[0]!.epoch);
    expect(neverSeen[1]!.epoch).toBe(neverSeen[0]!.epoch);
    expect(neverSeen[0]!.epoch).not.toBe(0);
    // ...yet whichever node id is claimed, the field on the wire changes with every handshake.
    expect(neverSeen.map(({ wire }) => wire)).not.toContain(0);
    expect(neverSeen[0]!.wire).not.toBe(neverSeen[1]!.wire);
    expect(dropped[0]!.wire).not.toBe(dropped[1]!.wire);
  });

  it('HELLO shows an acceptor without the secret nothing of what the dialer keeps for the node it expects', async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const epochs: unknown[] = [];
    const unmasked: number[] = [];
    server.on('connection', (socket: WebSocket) => {
      socket.once('message', (frame: Buffer) => {
        epochs.push((codec.decode(frame.subarray(1)) as unknown[])[5]);
        unmasked.push(decodeHello(codec, frame, keyOf(SECRET, 'foundation')).hello.epoch);
        socket.terminate(); // the dialer tries again
      });
    });
    try {
      const { port } = server.address() as { port: number };
      const a = await startNode('node-a', { addresses: { 'node-b': `ws://127.0.0.1:${port}` } });
      a.connect('node-b');
      await waitFor(() => epochs.length >= 1, 5_000, 'a HELLO');
      a.disconnect('node-b'); // a drops what it kept for node-b: it holds an epoch for it now
      epochs.length = 0;
      unmasked.length = 0;
      a.connect('node-b');
      // Two HELLOs presenting the same epoch, as a holder of the secret reads them (the first
      // after the disconnect may still carry the epoch from before it).
      const sameEpoch = (): [number, number] | undefined => {
        for (let second = 1; second < unmasked.length; second += 1) {
          const first = unmasked.indexOf(unmasked[second]!);
          if (first < second) return [first, second];
        }
        return undefined;
      };
      await waitFor(() => sameEpoch() !== undefined, 5_000, 'two HELLOs with the same epoch');
      a.disconnect('node-b');
      const [first, second] = sameEpoch()!;
      // Only the masked form on the wire changed.
      expect(epochs).not.toContain(0);
      expect(epochs[first]).not.toBe(epochs[second]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

/** Every whole frame a dialer sent on one connection (after its upgrade request): its masking key and its payload, unmasked. */
function dialerFrames(stream: Buffer): { key: Buffer | undefined; payload: Buffer }[] {
  let offset = stream.indexOf('\r\n\r\n') + 4;
  const frames: { key: Buffer | undefined; payload: Buffer }[] = [];
  while (offset + 2 <= stream.length) {
    const second = stream[offset + 1]!;
    let length = second & 0x7f;
    let header = 2;
    if (length === 126) {
      length = stream.readUInt16BE(offset + 2);
      header += 2;
    } else if (length === 127) {
      length = Number(stream.readBigUInt64BE(offset + 2));
      header += 8;
    }
    const masked = (second & 0x80) !== 0;
    const end = offset + header + (masked ? 4 : 0) + length;
    if (end > stream.length) break;
    const key = masked ? stream.subarray(offset + header, offset + header + 4) : undefined;
    const payload = Buffer.from(stream.subarray(end - length, end));
    if (key !== undefined) for (let index = 0; index < payload.length; index += 1) payload[index] = payload[index]! ^ key[index % 4]!;
    frames.push({ key, payload });
    offset = end;
  }
  return frames;
}

describe('frame masking (RFC 6455 §5.3)', () => {
  it.each([
    ['an all-zero key by default', undefined],
    ['a random key per frame with security.maskFrames', true],
  ])('frames from the dialing side carry %s, and arrive intact', async (_, maskFrames) => {
    const b = await startNode('node-b');
    const proxy = await createProxy(b.address()!.port, true);
    try {
      const a = await startNode('node-a', { security: maskFrames === undefined ? { secret: SECRET } : { secret: SECRET, maskFrames } });
      const received: unknown[] = [];
      b.onMessage('data', ({ payload }) => received.push(payload));
      await link(a, b, proxy.url);
      const sent = Array.from({ length: 40 }, (_, index) => ({ index, text: `message ${index}`.repeat(index + 1) }));
      for (const payload of sent) {
        a.send('node-b', 'data', payload);
        await new Promise((resolve) => setImmediate(resolve)); // one frame per message, mostly
      }
      await waitFor(() => received.length === sent.length, 5_000, 'all messages');
      // `data` spreads messages without a key over several connections: order is per connection.
      expect([...received].sort((x, y) => (x as { index: number }).index - (y as { index: number }).index)).toEqual(sent);
      const keys = proxy.fromDialer.flatMap((chunks) => dialerFrames(Buffer.concat(chunks)).map((frame) => frame.key));
      expect(keys.length).toBeGreaterThan(20);
      // Every frame from a client is masked; the key is zero unless asked otherwise.
      expect(keys.every((key) => key !== undefined)).toBe(true);
      const zero = keys.filter((key) => key!.equals(Buffer.alloc(4))).length;
      expect(zero).toBe(maskFrames === true ? 0 : keys.length);
      if (maskFrames === true) expect(new Set(keys.map((key) => key!.toString('hex'))).size).toBeGreaterThan(keys.length / 2);
    } finally {
      await proxy.close();
    }
  });

  it('refuses a maskFrames that is not a boolean', async () => {
    await expect(startNode('node-a', { security: { secret: SECRET, maskFrames: 'yes' as never } })).rejects.toThrow(/security\.maskFrames/);
  });
});

describe('mutual TLS', () => {
  let certificates: TestCertificates;
  beforeAll(() => {
    certificates = generateCertificates();
  });

  it('nodes with certificates from the cluster CA connect over wss', async () => {
    const b = await startNode('node-b', { security: { secret: SECRET, tls: { ...certificates.nodeB, ca: certificates.ca } } });
    const a = await startNode('node-a', { security: { secret: SECRET, tls: { ...certificates.nodeA, ca: certificates.ca } } });
    expect(b.address()!.url.startsWith('wss://')).toBe(true);
    await link(a, b);
    b.onRequest('coordination', ({ payload }) => payload);
    await expect(a.request('node-b', 'coordination', 'over tls')).resolves.toBe('over tls');
  });

  it('a listening node with mutual: false and bindNodeId is refused at createTransport (5801, naming both), since it has no client certificate to check and refused every dialer with 4021; a node that only dials may bind the servers it reaches (review finding)', async () => {
    for (const bindNodeId of [true, () => true]) {
      const tls = { ...certificates.nodeB, ca: certificates.ca, mutual: false, bindNodeId };
      const thrown = await configRefusal({ nodeId: 'node-b', listen: { port: 0 }, security: { secret: SECRET, tls } });
      expect(thrown.message).toMatch(/bindNodeId.*mutual: false|mutual: false.*bindNodeId/);
      const dialOnly = createTransport({ nodeId: 'node-a', security: { secret: SECRET, tls } });
      await dialOnly.close();
    }
    // Without a binding asked for, mutual: false listens as before.
    const loose = await startNode('node-c', { security: { secret: SECRET, tls: { ...certificates.nodeC, ca: certificates.ca, mutual: false } } });
    expect(loose.address()!.url.startsWith('wss://')).toBe(true);
  });

  it('a mutual that is not a boolean is refused at createTransport (5801, naming security.tls.mutual), since the TLS server asks for a client certificate only when given true', async () => {
    // 'true' or 1 turned mutual TLS off while the binding it implied stayed on (every dialer
    // refused with 4021); 0 with bindNodeId slipped past the check for mutual: false the same way.
    for (const mutual of ['true', 1, 0]) {
      const tls = { ...certificates.nodeB, ca: certificates.ca, mutual: mutual as never, bindNodeId: true };
      const thrown = await configRefusal({ nodeId: 'node-b', listen: { port: 0 }, security: { secret: SECRET, tls } });
      expect(thrown.field).toBe('security.tls.mutual');
    }
  });

  it('a client certificate from another CA is refused during the TLS handshake', async () => {
    const b = await startNode('node-b', { security: { secret: SECRET, tls: { ...certificates.nodeB, ca: certificates.ca } } });
    // The rogue trusts the cluster CA (so it accepts the server) but presents a rogue certificate.
    const a = await startNode('node-a', { security: { secret: SECRET, tls: { ...certificates.rogue, ca: certificates.ca } } });
    const failed = nextEvent<ConnectionErrorEvent>(a, 'connection-error');
    a.connect(b.address()!.url);
    expect((await failed).error).toBeInstanceOf(ConnectionRefusedError);
    expect(b.peers()).toEqual([]);
    expect(b.stats().acceptedConnections).toBe(0);
  });

  const tlsOf = (pem: { cert: string; key: string }, extra: Record<string, unknown> = {}) => ({ security: { secret: SECRET, tls: { ...pem, ca: certificates.ca, ...extra } } });

  it('a member claiming another node\'s id is refused with 4021 and cannot replace that node\'s live session', async () => {
    // Review finding C4a: the certificate was never compared with the node id claimed in HELLO,
    // so any member could claim any id and, through acceptSession, replace that node's session.
    const b = await startNode('node-b', tlsOf(certificates.nodeB));
    const a = await startNode('node-a', tlsOf(certificates.nodeA));
    await link(a, b);
    const aLostItsSession = nextEvent<ChannelEvent>(a, 'channel-close').then(() => 'node-a lost its session');
    // node-c's certificate (from the cluster CA, so TLS accepts it) claiming to be node-a.
    const impostor = await startNode('node-a', tlsOf(certificates.nodeC));
    const refused = nextEvent<ConnectionErrorEvent>(impostor, 'connection-error').then((event) => event.error.closeCode);
    const reported = nextEvent<ProtocolViolationError>(b, 'protocol-error');
    impostor.connect(b.address()!.url);
    expect(await Promise.race([refused, aLostItsSession])).toBe(CLOSE_CODES.certificateMismatch);
    expect((await reported).closeCode).toBe(CLOSE_CODES.certificateMismatch);
    expect(b.stats().refusals.certificateMismatch).toBeGreaterThanOrEqual(1);
    b.onRequest('coordination', ({ from }) => from);
    await expect(a.request('node-b', 'coordination', 'who am I?')).resolves.toBe('node-a');
    expect(a.stats().peers[0]).toMatchObject({ peer: 'node-b', state: 'up' });
  });

  it('a restarted node whose certificate names it replaces its live session at once', async () => {
    const b = await startNode('node-b', tlsOf(certificates.nodeB));
    const before = await startNode('node-a', tlsOf(certificates.nodeA));
    await link(before, b);
    const superseded = nextEvent<ChannelEvent>(before, 'channel-close');
    const after = await startNode('node-a', tlsOf(certificates.nodeA));
    const failures: number[] = [];
    after.on('connection-error', (event) => failures.push(event.error.closeCode));
    await link(after, b);
    await superseded;
    expect(failures).toEqual([]); // not refused as a duplicate session: the certificate proves the id
    expect(b.stats().refusals.duplicateSession).toBeUndefined();
  });

  it('the dialer refuses an acceptor whose certificate does not name the node id it claims (4021)', async () => {
    const z = await startNode('node-z', tlsOf(certificates.nodeB));
    const a = await startNode('node-a', tlsOf(certificates.nodeA));
    const failed = nextEvent<ConnectionErrorEvent>(a, 'connection-error');
    a.connect(z.address()!.url);
    expect((await failed).error.closeCode).toBe(CLOSE_CODES.certificateMismatch);
    expect(a.stats().refusals.certificateMismatch).toBe(1);
    expect(z.peers()).toEqual([]);
  });

  it('a member whose certificate does not name the node id it claims cannot take over the address of a connect(url) link: refused with 4021, the link keeps dialing the node it reached', async () => {
    // Review finding: the dialer compared the claimed node id with the one it expected (4013)
    // before it checked that the certificate names that id, so a member holding the secret but
    // not the certificate of the id it claimed made the link follow it, dropping the old node.
    const timing = { peerDownGraceMs: 30_000 };
    const b = await startNode('node-b', { ...tlsOf(certificates.nodeB), timing });
    const a = await startNode('node-a', { ...tlsOf(certificates.nodeA), timing });
    const { port, url } = b.address()!;
    await link(a, b);
    await b.close();
    const refusals: string[] = [];
    a.on('connection-error', (event) => {
      if (event.error.closeCode !== undefined) refusals.push(`${event.target} ${event.error.closeCode}`);
    });
    const down = nextEvent<string>(a, 'peer-down');
    // node-c's certificate (from the cluster CA), claiming node-z, at node-b's address.
    const impostor = await startNode('node-z', { ...tlsOf(certificates.nodeC), timing, listen: { host: '127.0.0.1', port } });
    await waitFor(() => refusals.length >= 2, 10_000, 'two refusals');
    expect(refusals.slice(0, 2)).toEqual([`node-b ${CLOSE_CODES.certificateMismatch}`, `node-b ${CLOSE_CODES.certificateMismatch}`]);
    expect(a.stats().refusals.unexpectedPeer).toBeUndefined();
    // A refusal that no retry changes: node-b is down at once, and its link is still wanted.
    expect(await down).toBe('node-b');
    expect(a.stats().peers).toEqual([expect.objectContaining({ peer: 'node-b' })]);
    expect(impostor.peers()).toEqual([]);
    // node-b back at its address: the link reaches it again, and the URL still leads to it.
    await impostor.close();
    const upAgain = nextEvent<string>(a, 'peer-up');
    await startNode('node-b', { ...tlsOf(certificates.nodeB), timing, listen: { host: '127.0.0.1', port } });
    expect(await upAgain).toBe('node-b');
    const downAgain = nextEvent<string>(a, 'peer-down');
    a.disconnect(url);
    expect(await downAgain).toBe('node-b');
  });

  it('a node whose certificate names it takes over the address of a connect(url) link: the link follows it (4013)', async () => {
    const timing = { peerDownGraceMs: 30_000 };
    const b = await startNode('node-b', { ...tlsOf(certificates.nodeB), timing });
    const a = await startNode('node-a', { ...tlsOf(certificates.nodeA), timing });
    const { port } = b.address()!;
    await link(a, b);
    await b.close();
    const cUp = nextEvent<string>(a, 'peer-up', (peer) => peer === 'node-c');
    await startNode('node-c', { ...tlsOf(certificates.nodeC), timing, listen: { host: '127.0.0.1', port } });
    await cUp;
    expect(a.stats().refusals.unexpectedPeer).toBeGreaterThanOrEqual(1);
    expect(a.stats().refusals.certificateMismatch).toBeUndefined();
  });

  it('a node id in a DNS subject alternative name binds too; bindNodeId takes a function or false', async () => {
    const b = await startNode('node-b', tlsOf(certificates.nodeB));
    const c = await startNode('node-c', tlsOf(certificates.nodeC));
    await link(c, b);
    // A policy of one's own: node ids aliased to certificate names.
    const aliases: Record<string, string> = { 'alias-of-c': 'host-c.example' };
    const strict = await startNode('node-s', tlsOf(certificates.nodeB, { bindNodeId: (nodeId: string, certificate: PeerCertificate) => certificate.subject.CN === aliases[nodeId] || certificate.subject.CN === nodeId }));
    const alias = await startNode('alias-of-c', tlsOf(certificates.nodeC, { bindNodeId: false }));
    await link(alias, strict);
    // Without binding, the certificate only has to come from the cluster CA.
    const loose = await startNode('node-l', tlsOf(certificates.nodeB, { bindNodeId: false }));
    const anyone = await startNode('anyone', tlsOf(certificates.nodeA, { bindNodeId: false }));
    await link(anyone, loose);
  });

  it('a connection that never starts TLS holds a handshake slot and is closed at the handshake deadline', async () => {
    const b = await startNode('node-b', { ...tlsOf(certificates.nodeB), timing: { handshakeTimeoutMs: 300, heartbeatIntervalMs: 50, idleTimeoutMs: 500 } });
    const silent = connectTcp(b.address()!.port, '127.0.0.1');
    silent.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => silent.once('close', () => resolve()));
    await waitFor(() => b.stats().handshakesInProgress === 1, 2_000, 'the silent socket to be counted');
    await closed;
    expect(b.stats().refusals.handshakeTimeout).toBe(1);
    await waitFor(() => b.stats().handshakesInProgress === 0, 2_000, 'the slot to be free');
  });

  it('a server certificate from another CA is refused by the dialer', async () => {
    const b = await startNode('node-b', { security: { secret: SECRET, tls: { ...certificates.rogue, ca: certificates.rogueCa, mutual: false } } });
    const a = await startNode('node-a', { security: { secret: SECRET, tls: { ...certificates.nodeA, ca: certificates.ca } } });
    const failed = nextEvent<ConnectionErrorEvent>(a, 'connection-error');
    a.connect(b.address()!.url);
    await failed;
    await waitFor(() => b.stats().acceptedConnections === 0 && a.peers().length === 0);
    expect(a.peers()).toEqual([]);
  });
});
