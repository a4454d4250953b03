// Shared helpers for the real-socket tests: nodes on loopback with fast timings, a TCP proxy
// that can cut or silence connections, a raw WebSocket client that speaks (or breaks) the
// protocol, and waiting on conditions instead of fixed delays.
import { createServer, connect as connectTcp } from 'node:net';
import type { Server, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { WebSocket, WebSocketServer } from 'ws';
import { createTransport, defaultLocalConfig } from '../src/index';
import type { LimitOptions, Transport, TransportOptions } from '../src/index';
import { resolveLimits } from '../src/options';
import { channelSetDigest, defaultChannels, layoutLanes, resolveChannels } from '../src/channel-config';
import type { ChannelOptions, ConnectionMode } from '../src/channel-config';
import { createCborCodec } from '../src/core/cbor';
import { decodeChallenge, encodeAuth, encodeHello, handshakeProof } from '../src/core/handshake';
import { clusterKey } from '../src/driver/cluster-key';
import type { ChallengeFields, Hello } from '../src/core/handshake';
import type { WireLimits } from '../src/core/wire-limits';

export const SECRET = 'test-cluster-secret-of-enough-length';

/** The HMAC key nodes derive from `secret`, from the transport's own per-process cache. */
export function keyOf(secret: string, cluster: string): Buffer {
  return clusterKey(Buffer.from(secret), cluster);
}

const open: Transport[] = [];

export async function startNode(nodeId: string, overrides: Partial<TransportOptions> = {}): Promise<Transport> {
  const { timing } = defaultLocalConfig();
  const transport = createTransport({
    nodeId,
    listen: { host: '127.0.0.1', port: 0 },
    security: { secret: SECRET },
    ...overrides,
    timing: { ...timing, ...overrides.timing },
  });
  open.push(transport);
  await transport.ready();
  return transport;
}

/** Closes every node started by startNode (call in afterEach). */
export async function closeNodes(): Promise<void> {
  const nodes = open.splice(0);
  await Promise.all(nodes.map((node) => node.close()));
}

/** Waits until `predicate` holds, checking every few ms; fails after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Resolves with the first event value that matches. */
export function nextEvent<T>(transport: Transport, event: string, matches: (value: T) => boolean = () => true): Promise<T> {
  return new Promise<T>((resolve) => {
    const off = (transport.on as (event: string, handler: (value: T) => void) => () => void)(event, (value) => {
      if (!matches(value)) return;
      off();
      resolve(value);
    });
  });
}

/** Connects a to b by URL and waits until both see each other up. */
export async function link(a: Transport, b: Transport, url = b.address()!.url): Promise<void> {
  const upA = a.peers().includes(b.nodeId) ? Promise.resolve() : nextEvent<string>(a, 'peer-up', (peer) => peer === b.nodeId);
  const upB = b.peers().includes(a.nodeId) ? Promise.resolve() : nextEvent<string>(b, 'peer-up', (peer) => peer === a.nodeId);
  a.connect(url);
  await Promise.all([upA, upB]);
}

export interface Proxy {
  readonly url: string;
  /** Stops forwarding in both directions without closing anything (a half-open path). */
  blackhole(): void;
  /** Forwards again (what was held back is delivered). */
  restore(): void;
  /** Proxied connections open now. */
  readonly connections: number;
  /** Resets every proxied connection (RST), as a crash of the path would; `connections` drops to 0 at once. */
  sever(): void;
  /** Bytes forwarded in each direction, for inspecting what crossed the wire. */
  readonly captured: Buffer[];
  /** Bytes the dialing side sent, one list of chunks per proxied connection, in order. */
  readonly fromDialer: Buffer[][];
  close(): Promise<void>;
}

/** A TCP proxy on loopback in front of `targetPort`. */
export async function createProxy(targetPort: number, capture = false): Promise<Proxy> {
  const pairs = new Set<[Socket, Socket]>();
  const captured: Buffer[] = [];
  const fromDialer: Buffer[][] = [];
  let holding = false;
  const server: Server = createServer((client) => {
    const upstream = connectTcp(targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const dialerChunks: Buffer[] = [];
    if (capture) fromDialer.push(dialerChunks);
    const pipe = (from: Socket, to: Socket): void => {
      from.on('data', (data: Buffer) => {
        if (capture) {
          captured.push(Buffer.from(data));
          if (from === client) dialerChunks.push(Buffer.from(data));
        }
        to.write(data);
      });
    };
    pipe(client, upstream);
    pipe(upstream, client);
    if (holding) {
      client.pause();
      upstream.pause();
    }
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    captured,
    fromDialer,
    blackhole() {
      holding = true;
      for (const [client, upstream] of pairs) {
        client.pause();
        upstream.pause();
      }
    },
    restore() {
      holding = false;
      for (const [client, upstream] of pairs) {
        client.resume();
        upstream.resume();
      }
    },
    get connections() {
      return pairs.size;
    },
    sever() {
      for (const pair of [...pairs]) {
        pairs.delete(pair);
        pair[0].resetAndDestroy();
        pair[1].resetAndDestroy();
      }
    },
    async close() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface WebSocketRelay {
  readonly url: string;
  /** Closes both sides of every relayed connection with 1001, as a proxy that restarts does. */
  goAway(): void;
  close(): Promise<void>;
}

/**
 * An intermediary that ends WebSockets on both sides (as a WebSocket-aware proxy or load
 * balancer does): it relays each message to a connection of its own to `targetUrl`, and a close
 * of one side with the other's code and reason.
 */
export async function createWebSocketRelay(targetUrl: string): Promise<WebSocketRelay> {
  const pairs = new Set<[WebSocket, WebSocket]>();
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  const closeWith = (socket: WebSocket, code: number, reason: Buffer): void => {
    // 1005 and 1006 say that no close frame came: they may not be sent in one.
    if (code === 1005 || code === 1006) socket.terminate();
    else socket.close(code, reason);
  };
  server.on('connection', (downstream) => {
    const upstream = new WebSocket(targetUrl, { perMessageDeflate: false });
    const pair: [WebSocket, WebSocket] = [downstream, upstream];
    pairs.add(pair);
    const waiting: { data: Buffer; isBinary: boolean }[] = [];
    downstream.on('error', () => undefined);
    upstream.on('error', () => undefined);
    downstream.on('message', (data: Buffer, isBinary: boolean) => {
      if (upstream.readyState === upstream.OPEN) upstream.send(data, { binary: isBinary });
      else waiting.push({ data, isBinary });
    });
    upstream.on('open', () => {
      for (const { data, isBinary } of waiting.splice(0)) upstream.send(data, { binary: isBinary });
    });
    upstream.on('message', (data: Buffer, isBinary: boolean) => downstream.send(data, { binary: isBinary }));
    downstream.on('close', (code: number, reason: Buffer) => {
      pairs.delete(pair);
      closeWith(upstream, code, reason);
    });
    upstream.on('close', (code: number, reason: Buffer) => {
      pairs.delete(pair);
      closeWith(downstream, code, reason);
    });
  });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    goAway() {
      for (const pair of [...pairs]) {
        pairs.delete(pair);
        for (const socket of pair) socket.close(1001, 'proxy restarting');
      }
    },
    async close() {
      for (const [downstream, upstream] of pairs) {
        downstream.terminate();
        upstream.terminate();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface RawClient {
  readonly socket: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Frames received after the handshake. */
  readonly frames: Buffer[];
  /**
   * Performs the real handshake (HELLO, CHALLENGE, AUTH, READY) as connection `index` of a
   * session, with session epoch 0; `beforeAuth` runs between CHALLENGE and AUTH. Resolves with
   * the CHALLENGE's fields.
   */
  handshake(options?: {
    nodeId?: string;
    secret?: string;
    cluster?: string;
    index?: number;
    session?: string;
    channels?: Record<string, ChannelOptions>;
    incarnation?: string;
    /** The node id the client claims to expect at the other end (it never checks CHALLENGE's). */
    expectedPeer?: string;
    /** The sizes the client states in HELLO; default: those of a node with `channels` and default limits. */
    limits?: WireLimits;
    beforeAuth?: (challenge: ChallengeFields) => Promise<void>;
  }): Promise<ChallengeFields>;
  send(frame: Uint8Array | string): void;
}

const codec = createCborCodec();

export function expectedDigest(channels: Record<string, ChannelOptions> = defaultChannels(), mode: ConnectionMode = 'per-channel'): { digest: string; connections: number } {
  const resolved = resolveChannels(channels);
  const layout = layoutLanes(resolved, mode);
  return { digest: channelSetDigest(resolved, layout), connections: layout.connections };
}

/** The sizes a node with `channels` and `limits` states in the handshake (core/wire-limits.ts). */
export function wireLimitsOf(channels: Record<string, ChannelOptions> = defaultChannels(), limits: LimitOptions = {}): WireLimits {
  const { frameBytes, chunkBytes } = resolveLimits(limits);
  return { frameBytes, chunkBytes, maxMessageBytes: resolveChannels(channels).map((channel) => channel.maxMessageBytes) };
}

/** A WebSocket client that speaks the protocol by hand, to send hostile input. */
export async function rawClient(url: string): Promise<RawClient> {
  const socket = new WebSocket(url, { perMessageDeflate: false });
  socket.on('error', () => undefined);
  const frames: Buffer[] = [];
  let waiting: ((frame: Buffer) => void) | undefined;
  socket.on('message', (data: Buffer) => {
    if (waiting !== undefined) {
      const resolve = waiting;
      waiting = undefined;
      resolve(data);
    } else {
      frames.push(data);
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('close', () => resolve());
    socket.once('unexpected-response', () => reject(new Error('unexpected response')));
  });
  const nextFrame = (): Promise<Buffer> =>
    Promise.race([
      new Promise<Buffer>((resolve) => (waiting = resolve)),
      closed.then(({ code }) => Promise.reject(new Error(`closed with ${code}`))),
    ]);
  return {
    socket,
    closed,
    frames,
    async handshake(options = {}) {
      const { digest, connections } = expectedDigest(options.channels);
      const secret = keyOf(options.secret ?? SECRET, options.cluster ?? 'foundation');
      const hello: Hello = {
        cluster: options.cluster ?? 'foundation',
        nodeId: options.nodeId ?? 'raw-client',
        incarnation: options.incarnation ?? 'raw-incarnation',
        epoch: 0,
        session: options.session ?? randomBytes(8).toString('hex'),
        connection: options.index ?? 0,
        connections,
        channelDigest: digest,
        expectedPeer: options.expectedPeer,
        nonce: randomBytes(32),
        limits: options.limits ?? wireLimitsOf(options.channels),
      };
      const { frame, body } = encodeHello(codec, hello, secret);
      socket.send(frame);
      const challenge = decodeChallenge(codec, await nextFrame(), secret, body);
      await options.beforeAuth?.(challenge.challenge);
      socket.send(encodeAuth(handshakeProof(secret, 'dialer', body, challenge.fields)));
      const ready = await nextFrame();
      if (ready.length !== 1 || ready[0] !== 0x04) throw new Error('no READY');
      return challenge.challenge;
    },
    send(frame) {
      socket.send(frame);
    },
  };
}
