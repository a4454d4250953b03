// A peer's incarnation (random per process start) and session epoch, as the handshake presents
// them on each connection of a session: every connection of one session must reach the same
// incarnation and epoch, and a node id seen with two incarnations at once (two live processes
// configured with one id) is reported rather than left to flap in silence.
import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { CHANNELS_ERROR_CODES, CLOSE_CODES, DuplicateNodeIdError } from '../src/index';
import type { ConnectionErrorEvent, Transport, TransportOptions } from '../src/index';
import { createCborCodec } from '../src/core/cbor';
import { READY_FRAME, decodeHello, encodeChallenge } from '../src/core/handshake';
import { generateCertificates } from './certificates';
import type { TestCertificates } from './certificates';
import { SECRET, closeNodes, createProxy, keyOf, link, nextEvent, startNode, waitFor } from './helpers';

afterEach(closeNodes);

const codec = createCborCodec();
/** Connection 0 carries `control`, connection 1 the one lane of `orders`. */
const channels = { control: { reliable: true }, orders: { reliable: true } };

describe('a lane that reaches another incarnation or epoch of the peer than connection 0', () => {
  /**
   * An acceptor that holds the secret and answers every handshake, presenting on each one the
   * incarnation and epoch `present` picks for that connection index (an honest node presents
   * one of each per process and per session). Records what happened to each connection.
   */
  async function scriptedAcceptor(present: (index: number) => { incarnation: string; epoch: number }) {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const secret = keyOf(SECRET, 'foundation');
    const events: string[] = [];
    server.on('connection', (socket: WebSocket) => {
      socket.on('error', () => undefined);
      socket.once('message', (frame: Buffer) => {
        const { hello, body } = decodeHello(codec, frame, secret);
        const index = hello.connection;
        events.push(`hello ${index}`);
        socket.on('close', (code) => events.push(`closed ${index} ${code}`));
        const { incarnation, epoch } = present(index);
        const challenge = encodeChallenge(codec, { nodeId: 'node-p', incarnation, epoch, nonce: randomBytes(32), limits: hello.limits }, secret, body);
        socket.send(challenge.frame);
        socket.once('message', () => {
          events.push(`auth ${index}`);
          socket.send(READY_FRAME);
        });
      });
    });
    const { port } = server.address() as { port: number };
    return {
      url: `ws://127.0.0.1:${port}`,
      events,
      async close() {
        for (const client of server.clients) client.terminate();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }

  it.each([
    ['incarnation', (index: number) => ({ incarnation: index === 0 ? 'first-process' : 'second-process', epoch: 7 })],
    ['session epoch', (index: number) => ({ incarnation: 'one-process', epoch: index === 0 ? 7 : 8 })],
  ])('another %s: the dialer refuses the lane before AUTH (4019) and starts the session over', async (_name, present) => {
    const acceptor = await scriptedAcceptor(present);
    try {
      const a = await startNode('node-a', { channels, addresses: { 'node-p': acceptor.url } });
      const failures: number[] = [];
      a.on('connection-error', (event: ConnectionErrorEvent) => failures.push(event.error.closeCode));
      a.connect('node-p');
      await waitFor(() => a.peers().includes('node-p'), 5_000, 'connection 0 up');
      expect(a.send('node-p', 'orders', 'for the process of connection 0')).toBe(true);
      await waitFor(() => acceptor.events.includes(`closed 1 ${CLOSE_CODES.unknownSession}`), 5_000, 'the lane refused');
      // The dialer never proved itself on the lane, so nothing of the link went to that process,
      // and a new session (a new connection 0) follows, on which a restart shows as one.
      await waitFor(() => acceptor.events.filter((event) => event === 'hello 0').length >= 2, 5_000, 'a new session');
      expect(acceptor.events).not.toContain('auth 1');
      expect(acceptor.events).toContain(`closed 0 ${CLOSE_CODES.normal}`);
      expect(failures).toEqual([]);
    } finally {
      await acceptor.close();
    }
  });

  it('a peer restarted at a new address while connection 0 still reaches the old process: the message goes to the new one, after a peer-down, with no connection error', async () => {
    const first = await startNode('node-p', { channels });
    let address = first.address()!.url;
    const a = await startNode('node-a', { channels, resolveAddress: () => address });
    const seen: string[] = [];
    a.on('peer-up', (peer) => seen.push(`up ${peer}`));
    a.on('peer-down', (peer) => seen.push(`down ${peer}`));
    a.on('connection-error', (event: ConnectionErrorEvent) => seen.push(`error ${event.error.closeCode}`));
    a.connect('node-p');
    await waitFor(() => a.peers().includes('node-p'), 5_000, 'node-p up');
    // The old process is not told anything: its connection 0 stays open, as a half-open one
    // would until the idle timeout.
    const second = await startNode('node-p', { channels });
    const delivered: string[] = [];
    first.onMessage('orders', ({ payload }) => delivered.push(`first: ${String(payload)}`));
    second.onMessage('orders', ({ payload }) => delivered.push(`second: ${String(payload)}`));
    address = second.address()!.url;
    a.connect('node-p'); // learns the new address; the lane of `orders` is dialed there
    expect(a.send('node-p', 'orders', 'm1')).toBe(true);
    await waitFor(() => delivered.length === 1 && a.peers().includes('node-p'), 5_000, 'the message');
    expect(delivered).toEqual(['second: m1']);
    expect(seen).toEqual(['up node-p', 'down node-p', 'up node-p']);
  });
});

describe('two live processes started with one node id, both connecting to a third node', () => {
  let certificates: TestCertificates;
  beforeAll(() => {
    certificates = generateCertificates();
  });
  const tlsOf = (pem: { cert: string; key: string }): Partial<TransportOptions> => ({ channels, security: { secret: SECRET, tls: { ...pem, ca: certificates.ca } } });

  function identityErrorsOn(node: Transport): DuplicateNodeIdError[] {
    const seen: DuplicateNodeIdError[] = [];
    node.on('identity-error', (error) => seen.push(error));
    return seen;
  }

  it('with certificates that name the id, the newest process keeps the session and the older one is refused (4022) whenever it asks again: the third node reports it, once a minute', async () => {
    const third = await startNode('node-b', tlsOf(certificates.nodeB));
    const reported = identityErrorsOn(third);
    const peerEvents: string[] = [];
    third.on('peer-up', (peer) => peerEvents.push(`up ${peer}`));
    third.on('peer-down', (peer) => peerEvents.push(`down ${peer}`));
    const one = await startNode('node-a', tlsOf(certificates.nodeA));
    const other = await startNode('node-a', tlsOf(certificates.nodeA));
    const delivered: string[] = [];
    one.onMessage('orders', ({ payload }) => delivered.push(`one: ${String(payload)}`));
    other.onMessage('orders', ({ payload }) => delivered.push(`other: ${String(payload)}`));
    const refusedOne: ConnectionErrorEvent[] = [];
    one.on('connection-error', (event: ConnectionErrorEvent) => refusedOne.push(event));
    let refusedWhenOneGaveUp: number | undefined;
    one.on('peer-down', () => {
      refusedWhenOneGaveUp ??= refusedOne.length;
    });
    await link(one, third);
    other.connect(third.address()!.url);
    await waitFor(() => third.stats().duplicateNodeIds >= 3, 10_000, 'three sightings of the two processes');
    // The newer process replaced the older one's session once; the older one's reconnects are
    // refused instead of taking the session back (before, the two did so about 95 times a second).
    expect(peerEvents).toEqual(['up node-a', 'down node-a', 'up node-a']);
    expect(third.peers()).toEqual(['node-a']);
    expect(reported).toHaveLength(1);
    expect(reported[0]).toBeInstanceOf(DuplicateNodeIdError);
    expect(reported[0]!.code).toBe(CHANNELS_ERROR_CODES.duplicateNodeId);
    expect(reported[0]!.nodeId).toBe('node-a');
    expect(reported[0]!.message).toContain('node id node-a is used by two live processes');
    for (const message of ['m1', 'm2', 'm3']) expect(third.send('node-a', 'orders', message)).toBe(true);
    await waitFor(() => delivered.length === 3, 5_000, 'the messages');
    expect(delivered).toEqual(['other: m1', 'other: m2', 'other: m3']);
    // The older process sees why on its own side: each reconnect fails with 4022 and a reason
    // naming the node id, and once its grace period ends it gives the peer up (peer-down).
    await waitFor(() => refusedWhenOneGaveUp !== undefined, 10_000, 'the older process giving the third node up');
    expect(refusedOne.length).toBeGreaterThan(0);
    expect(refusedOne.every(({ error }) => error.closeCode === CLOSE_CODES.duplicateSession)).toBe(true);
    expect(refusedOne[0]!.error.message).toContain('node id node-a is used by two live processes');
    expect(one.peers()).toEqual([]);
    // Its reconnects back off: a retry loop would have asked hundreds of times within the grace
    // period (a second here); growing delays of up to reconnectMaxMs ask about ten times.
    expect(refusedWhenOneGaveUp).toBeLessThan(40);
    expect(peerEvents).toEqual(['up node-a', 'down node-a', 'up node-a']);
  });

  it('with certificates that name the id, a restart of the newest process is accepted while the older one stays refused', async () => {
    const third = await startNode('node-b', tlsOf(certificates.nodeB));
    const one = await startNode('node-a', tlsOf(certificates.nodeA));
    const other = await startNode('node-a', tlsOf(certificates.nodeA));
    let oneUps = 0;
    one.on('peer-up', () => {
      oneUps += 1;
    });
    await link(one, third);
    other.connect(third.address()!.url);
    await waitFor(() => third.stats().duplicateNodeIds >= 1, 10_000, 'the older process refused');
    await other.close();
    const restarted = await startNode('node-a', tlsOf(certificates.nodeA));
    const delivered: string[] = [];
    one.onMessage('orders', ({ payload }) => delivered.push(`one: ${String(payload)}`));
    restarted.onMessage('orders', ({ payload }) => delivered.push(`restarted: ${String(payload)}`));
    restarted.connect(third.address()!.url);
    await waitFor(() => restarted.peers().includes('node-b'), 10_000, 'the restarted process up');
    const sightings = third.stats().duplicateNodeIds;
    await waitFor(() => third.stats().duplicateNodeIds > sightings, 10_000, 'the older process refused again');
    expect(third.send('node-a', 'orders', 'm1')).toBe(true);
    await waitFor(() => delivered.length === 1, 5_000, 'the message');
    expect(delivered).toEqual(['restarted: m1']);
    expect(oneUps).toBe(1);
  });

  it('without such certificates, the second is refused (4022) while the first answers, and messages go to the first only; the third node reports it', async () => {
    const third = await startNode('node-c', { channels });
    const reported = identityErrorsOn(third);
    const one = await startNode('node-p', { channels });
    const other = await startNode('node-p', { channels });
    const delivered: string[] = [];
    one.onMessage('orders', ({ payload }) => delivered.push(`one: ${String(payload)}`));
    other.onMessage('orders', ({ payload }) => delivered.push(`other: ${String(payload)}`));
    await link(one, third);
    const refused = nextEvent<ConnectionErrorEvent>(other, 'connection-error');
    other.connect(third.address()!.url);
    expect((await refused).error.closeCode).toBe(CLOSE_CODES.duplicateSession);
    await waitFor(() => reported.length === 1, 10_000, 'the report');
    expect(reported[0]!.nodeId).toBe('node-p');
    expect(third.send('node-p', 'orders', 'm1')).toBe(true);
    await waitFor(() => delivered.length === 1, 5_000, 'the message');
    expect(delivered).toEqual(['one: m1']);
    expect(other.peers()).toEqual([]);
  });

  it('without such certificates, an older process that a newer one replaced (its session had gone silent) is refused (4022) when it asks again, even while the newer one is silent', async () => {
    const timing = { heartbeatIntervalMs: 30, idleTimeoutMs: 10_000, peerDownGraceMs: 10_000 };
    const third = await startNode('node-c', { channels, timing });
    const peerEvents: string[] = [];
    third.on('peer-up', (peer) => peerEvents.push(`up ${peer}`));
    third.on('peer-down', (peer) => peerEvents.push(`down ${peer}`));
    const throughOne = await createProxy(third.address()!.port);
    const throughOther = await createProxy(third.address()!.port);
    try {
      const one = await startNode('node-p', { channels, timing });
      const other = await startNode('node-p', { channels, timing });
      const refusedOne: ConnectionErrorEvent[] = [];
      one.on('connection-error', (event: ConnectionErrorEvent) => refusedOne.push(event));
      await link(one, third, throughOne.url);
      throughOne.blackhole(); // the older process's session goes silent, and the newer one takes it
      other.connect(throughOther.url);
      await waitFor(() => peerEvents.length === 3, 10_000, 'the newer process taking the session');
      throughOther.blackhole(); // now the newer one is silent: only what this node remembers stops the older one
      throughOne.restore(); // the older one hears its session was replaced, and asks again
      // Eight refusals with backoff take far longer than the three silent heartbeat intervals
      // after which the secret alone would let the older process take the session back.
      await waitFor(() => refusedOne.length >= 8 || peerEvents.length > 3, 10_000, 'the older process asking again');
      expect(peerEvents).toEqual(['up node-p', 'down node-p', 'up node-p']);
      expect(refusedOne.every(({ error }) => error.closeCode === CLOSE_CODES.duplicateSession)).toBe(true);
      expect(refusedOne[0]!.error.message).toContain('node id node-p is used by two live processes');
      expect(third.stats().duplicateNodeIds).toBeGreaterThanOrEqual(3);
    } finally {
      await Promise.all([throughOne.close(), throughOther.close()]);
    }
  });

  it('a restart is not reported: neither a node whose certificate lets it replace its live session at once, nor one refused (4022) until its old session went silent', async () => {
    const third = await startNode('node-b', tlsOf(certificates.nodeB));
    const reported = identityErrorsOn(third);
    const before = await startNode('node-a', tlsOf(certificates.nodeA));
    await link(before, third);
    const superseded = nextEvent(before, 'channel-close');
    const after = await startNode('node-a', tlsOf(certificates.nodeA));
    await link(after, third);
    await superseded;
    await before.close();

    const timing = { heartbeatIntervalMs: 30, idleTimeoutMs: 10_000, peerDownGraceMs: 10_000 };
    const plain = await startNode('node-c', { channels, timing });
    const plainReported = identityErrorsOn(plain);
    const proxy = await createProxy(plain.address()!.port);
    try {
      const old = await startNode('node-p', { channels, timing });
      await link(old, plain, proxy.url);
      proxy.blackhole(); // the old process is gone: nothing more is heard from it
      const restarted = await startNode('node-p', { channels, timing });
      const refusals: number[] = [];
      restarted.on('connection-error', (event: ConnectionErrorEvent) => refusals.push(event.error.closeCode));
      await link(restarted, plain);
      expect(refusals.length === 0 || refusals.every((code) => code === CLOSE_CODES.duplicateSession)).toBe(true);
    } finally {
      await proxy.close();
    }
    expect([...reported, ...plainReported]).toEqual([]);
    expect(third.stats().duplicateNodeIds + plain.stats().duplicateNodeIds).toBe(0);
  });
});
