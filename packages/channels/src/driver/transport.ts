// createTransport: the node-to-node transport over WebSocket and CBOR. It implements the
// transport port of docs/architecture.md (send, onMessage, peer-up/peer-down, connect,
// disconnect, peers) plus request/reply, channel events, backpressure and statistics.
import { randomBytes } from 'node:crypto';
import { isUint8Array } from 'node:util/types';
import { FoundationError, backoffDelay, createCryptoRandom, createSystemClock } from '@foundation/core';
import type { Random, Scheduler, Timer } from '@foundation/core';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { WebSocket } from 'ws';
import { channelSetDigest, defaultChannels, layoutLanes, resolveChannels } from '../channel-config';
import type { ChannelDefinition } from '../channel-config';
import { createCborCodec, withoutStacks } from '../core/cbor';
import { needsCheck } from '../core/cbor-screen';
import { CLOSE_CODES, closeCodeName } from '../core/close-codes';
import { FRAME_TYPES, MAX_BLOCK_ACK_BYTES, MAX_META_BYTES, MAX_CHUNK_HEADER_BYTES } from '../core/frames';
import { MAX_HANDSHAKE_FRAME_BYTES } from '../core/handshake';
import { META_KINDS, checkHeaders, metaToWire, MetaFormatError } from '../core/meta';
import type { MessageMeta, MetaKind } from '../core/meta';
import { createChunkPool } from '../core/chunk-pool';
import type { OutboundMessage } from '../core/outbound-queue';
import type { WireLimits } from '../core/wire-limits';
import { createReceiveSequence } from '../core/receive-sequence';
import type { ReceiveSequence } from '../core/receive-sequence';
import { ChannelsConfigError } from '../errors/channels-config-error';
import { ConnectionRefusedError } from '../errors/connection-refused-error';
import { DuplicateNodeIdError } from '../errors/duplicate-node-id-error';
import { MessageTooLargeError } from '../errors/message-too-large-error';
import { NoResponderError } from '../errors/no-responder-error';
import { PayloadEncodingError } from '../errors/payload-encoding-error';
import { PeerUnavailableError } from '../errors/peer-unavailable-error';
import { ProtocolViolationError } from '../errors/protocol-violation-error';
import { QueueFullError } from '../errors/queue-full-error';
import { TransportClosedError } from '../errors/transport-closed-error';
import { UnknownChannelError } from '../errors/unknown-channel-error';
import { resolveLimits, resolveTiming } from '../options';
import type { TransportOptions } from '../options';
import { NO_ADDRESS, checkAddress, isDialable } from './address';
import type { AddressLookup } from './address';
import { certificateNamesNode } from './certificate-identity';
import { clusterKey } from './cluster-key';
import type { NodeIdBinding } from './certificate-identity';
import { Connection, capToHandshakeFrames, closeReason } from './connection';
import type { ConnectionCallbacks, LocalIdentity, Refusal } from './connection';
import { WsFrameSocket, wsClientOptions } from './frame-socket';
import type { FrameSocket } from './frame-socket';
import { SocketThread } from './socket-thread';
import type { DialOptions } from './socket-thread-protocol';
import { Link } from './link';
import type { LinkHost } from './link';
import type { RequestOutcome } from './request-manager';
import { createListener } from './server';
import type { Admission, Listener } from './server';
import { createChannelCounters, createLaneCounters } from './stats';
import type { AckCounters, ChannelCounters, ChannelStats, LaneCounters, TransportStats } from './stats';

/** A message as a handler receives it (the transport port's InboundMessage). */
export interface InboundMessage {
  readonly from: string;
  readonly to: string;
  readonly channel: string;
  readonly payload: unknown;
  /** Context headers, when the sender set some. */
  readonly headers: Readonly<Record<string, string>> | undefined;
}

export interface SendOptions {
  /** Picks the lane by hash, so messages with one key keep their order; monotonic channels replace by it. */
  readonly partitionKey?: string;
  /** Context headers (at most 64 strings). */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface RequestOptions extends SendOptions {
  /** Milliseconds before the request fails with RequestTimeoutError. Default `timing.requestTimeoutMs`. */
  readonly timeout?: number;
}

export interface ChannelEvent {
  readonly peer: string;
  readonly channel: string;
}

export interface ConnectionErrorEvent {
  /** The node id or URL given to connect(). */
  readonly target: string;
  readonly error: ConnectionRefusedError;
}

export interface HandlerErrorEvent {
  readonly peer: string;
  readonly channel: string;
  readonly error: unknown;
}

/** A message `send` accepted (returned true) that is dropped unsent, with why. */
export interface SendErrorEvent {
  readonly peer: string;
  readonly channel: string;
  /**
   * Above the peer's `maxMessageBytes` for the channel, learned in the handshake after the
   * message was queued (before the peer's first session, or after it restarted with smaller sizes).
   */
  readonly error: MessageTooLargeError;
}

export type PeerEventName = 'peer-up' | 'peer-down';
export type ChannelEventName = 'channel-open' | 'channel-close' | 'drained';

export type RequestHandler = (message: InboundMessage) => unknown;

export interface Transport {
  readonly nodeId: string;
  /** Resolves once listening (immediately for a node that does not listen); rejects if binding failed. */
  ready(): Promise<void>;
  /** Where this node listens, once ready. */
  address(): { readonly host: string; readonly port: number; readonly url: string } | undefined;
  /**
   * Keeps a link to `peer` (a node id with a known address, or a ws:// / wss:// URL) up,
   * reconnecting with backoff as needed. Again while `peer` is being dialed or waits out a
   * backoff delay (a connection-error listener included), it joins that attempt: no sooner dial.
   * A node id with no address known is kept too: each attempt looks it up again, one that finds
   * none is reported as a connection-error, and the first that finds one dials.
   */
  connect(peer: string): void;
  /** Closes the link to `peer` and stops reconnecting to it. */
  disconnect(peer: string): void;
  /**
   * Queues `payload` for `peer` on `channel`. False when the peer is unknown or down, the
   * transport is closed, or the bounded queue is full (then `drained` follows). Throws only for
   * programming errors: unknown channel, unencodable or oversized payload.
   */
  send(peer: string, channel: string, payload: unknown, options?: SendOptions): boolean;
  /** `send` that waits for room in a full queue; rejects when the peer goes down or the transport closes. */
  sendAsync(peer: string, channel: string, payload: unknown, options?: SendOptions): Promise<void>;
  /** Sends a request and resolves with the peer's reply (see onRequest). */
  request(peer: string, channel: string, payload: unknown, options?: RequestOptions): Promise<unknown>;
  onMessage(channel: string, handler: (message: InboundMessage) => void): () => void;
  /** Answers requests on `channel`: the handler's value (or promise) is the reply; a throw becomes an error reply. */
  onRequest(channel: string, handler: RequestHandler): () => void;
  on(event: PeerEventName, handler: (peer: string) => void): () => void;
  on(event: ChannelEventName, handler: (event: ChannelEvent) => void): () => void;
  on(event: 'connection-error', handler: (event: ConnectionErrorEvent) => void): () => void;
  on(event: 'protocol-error', handler: (error: ProtocolViolationError) => void): () => void;
  on(event: 'handler-error', handler: (event: HandlerErrorEvent) => void): () => void;
  /** A message `send` accepted is dropped unsent, as the peer's sizes (learned later) refuse it. */
  on(event: 'send-error', handler: (event: SendErrorEvent) => void): () => void;
  /** Two live processes present one node id (DuplicateNodeIdError); at most once a minute per node id. */
  on(event: 'identity-error', handler: (error: DuplicateNodeIdError) => void): () => void;
  /** Peers that are up (peer-up reported, peer-down not yet), in the order they came up. */
  peers(): string[];
  /** Counters, queue depths and round trips. */
  stats(): TransportStats;
  /** Closes every link (peers see close code 1001) and stops listening. */
  close(): Promise<void>;
}

type AnyHandler = (value: never) => void;

const SMALL_RAW_BYTES = 4096;
/** Over-limit inbound sockets kept to receive their close code, per remote address and in total. */
const REFUSING_PER_ADDRESS = 8;
const REFUSING_TOTAL = 64;
const SECRET_MIN_BYTES = 16;
/** Incarnations of a peer remembered as replaced by a newer one (see incarnationHistory). */
const REPLACED_INCARNATIONS = 4;
/** An `identity-error` is emitted at most once per this many ms for one node id (each sighting is counted). */
const DUPLICATE_REPORT_INTERVAL_MS = 60_000;
/** Provisional epochs kept for peers this node holds no epoch for (see provisionalEpochs). */
const MAX_PROVISIONAL_EPOCHS = 1024;

/** A session epoch: random, 48 bits, never 0 (the epoch of nodes before session epochs). */
function randomEpoch(): number {
  let epoch = 0;
  while (epoch === 0) epoch = randomBytes(6).readUIntBE(0, 6);
  return epoch;
}

/** `value` survives a structured clone (what crossing to a worker thread takes). */
function cloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/** A connection busy with frames is still pinged once per this many heartbeat intervals, for round-trip samples. */
const RTT_SAMPLE_INTERVALS = 10;

export function createTransport(options: TransportOptions): Transport {
  const nodeId = options.nodeId;
  if (typeof nodeId !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(nodeId)) throw new ChannelsConfigError('nodeId', 'must be 1–200 printable ASCII characters');
  const cluster = options.cluster ?? 'foundation';
  if (!/^[\x21-\x7e]{1,200}$/.test(cluster)) throw new ChannelsConfigError('cluster', 'must be 1–200 printable ASCII characters');
  const secretInput = options.security?.secret;
  if (secretInput === undefined) throw new ChannelsConfigError('security.secret', 'a cluster secret is required');
  // Checked before Buffer.from, whose TypeError quotes a number or boolean it is given (an
  // all-digit secret a config file reads as a number), and which makes an object with a length
  // that many zero bytes. isUint8Array, not instanceof: a Uint8Array of another realm (a vm
  // context) holds bytes all the same, and a Buffer is one.
  if (typeof secretInput !== 'string' && !isUint8Array(secretInput)) throw new ChannelsConfigError('security.secret', 'must be a string or a Uint8Array');
  const secret = typeof secretInput === 'string' ? Buffer.from(secretInput, 'utf8') : Buffer.from(secretInput);
  if (secret.length < SECRET_MIN_BYTES) throw new ChannelsConfigError('security.secret', `must be at least ${SECRET_MIN_BYTES} bytes`);
  const key = clusterKey(secret, cluster);
  const tls = options.security.tls;
  const maskFrames = options.security.maskFrames ?? false;
  if (typeof maskFrames !== 'boolean') throw new ChannelsConfigError('security.maskFrames', 'must be a boolean');
  // Node's TLS server asks for a client certificate only when told `true`: 'true' or 1 would turn
  // mutual TLS off while the binding below took it for on.
  const mutual = tls?.mutual ?? true;
  if (typeof mutual !== 'boolean') throw new ChannelsConfigError('security.tls.mutual', 'must be a boolean');
  // With mutual TLS, node ids are bound to certificates unless the options say otherwise.
  const bindNodeId = tls?.bindNodeId ?? (tls !== undefined && mutual);
  if (bindNodeId !== undefined && typeof bindNodeId !== 'boolean' && typeof bindNodeId !== 'function') {
    throw new ChannelsConfigError('security.tls.bindNodeId', 'must be a boolean or a function');
  }
  // Without mutual TLS a dialer shows no certificate, so a listener asked to bind ids would find
  // nothing to check and refuse every dialer (4021). A node that only dials may still bind the
  // servers it reaches, whose certificates it always sees.
  if (tls !== undefined && !mutual && bindNodeId !== false && options.listen !== undefined && options.listen !== false) {
    throw new ChannelsConfigError('security.tls.bindNodeId', 'a listening node with mutual: false gets no client certificate to bind a node id to; set mutual: true or bindNodeId: false');
  }
  const binding: NodeIdBinding | undefined = typeof bindNodeId === 'function' ? bindNodeId : bindNodeId ? certificateNamesNode : undefined;
  const channels = resolveChannels(options.channels ?? defaultChannels());
  const mode = options.connectionMode ?? 'per-channel';
  if (mode !== 'per-channel' && mode !== 'single') throw new ChannelsConfigError('connectionMode', 'must be "per-channel" or "single"');
  const layout = layoutLanes(channels, mode);
  const timing = resolveTiming(options.timing);
  const limits = resolveLimits(options.limits);
  const clock: Scheduler = options.clock ?? createSystemClock({ keepAlive: false });
  const random: Random = options.random ?? createCryptoRandom();
  const codec = createCborCodec();
  const byName = new Map<string, ChannelDefinition>(channels.map((channel) => [channel.name, channel]));
  const counters: ChannelCounters[] = channels.map(() => createChannelCounters());
  const laneCounters: LaneCounters[] = Array.from({ length: layout.totalLanes }, () => createLaneCounters());
  const incarnation = randomBytes(12).toString('base64url');
  // This node's session epoch per peer (see handshake.ts): a random value adopted at the first
  // session with the peer, and a fresh one each time this node drops what it kept for the peer.
  // Outlives links, like the receive state. A peer without one (never met, or forgotten past
  // limits.rememberedPeers) is shown a fresh value, never one it could have seen before.
  const sessionEpochs = new Map<string, number>();
  /**
   * The fresh epoch shown to a peer this node holds none for, kept until one of its handshakes
   * adopts it, so that handshakes under way with it at once (each side dialing the other, first
   * meeting or after a restart) all present the same one: with one fresh value each, whichever
   * finished first made the other's look like a session this node had ended. Made before the
   * peer proved anything, so the map is only a bounded cache (MAX_PROVISIONAL_EPOCHS): a value
   * it forgets is one more fresh epoch, which costs at most one refused handshake.
   */
  const provisionalEpochs = new Map<string, number>();
  const epochFor = (peer: string): number => {
    const known = sessionEpochs.get(peer);
    if (known !== undefined) return known;
    let provisional = provisionalEpochs.get(peer);
    if (provisional === undefined) {
      provisional = randomEpoch();
      if (provisionalEpochs.size >= MAX_PROVISIONAL_EPOCHS) provisionalEpochs.delete(provisionalEpochs.keys().next().value!);
      provisionalEpochs.set(peer, provisional);
    }
    return provisional;
  };
  // Stated in the handshake; towards each peer this node keeps to the smaller of these and the
  // peer's (core/wire-limits.ts), and its own caps on what it receives stay these.
  const wireLimits: WireLimits = {
    frameBytes: limits.frameBytes,
    chunkBytes: limits.chunkBytes,
    maxMessageBytes: channels.map((channel) => channel.maxMessageBytes),
  };
  const identity: LocalIdentity = {
    cluster,
    nodeId,
    incarnation,
    channelDigest: channelSetDigest(channels, layout),
    connections: layout.connections,
    limits: wireLimits,
    secret: key,
    codec,
    clock,
    turnBytes: limits.turnBytes,
    sessionEpoch: (peer) => (peer === undefined ? randomEpoch() : epochFor(peer)),
  };
  const maxMessageBytes = Math.max(...channels.map((channel) => channel.maxMessageBytes));
  // A chunked message is reassembled whole, headers included, and a sender has at most one in
  // progress on each lane, all lanes at once (its scheduler interleaves their chunks). A budget
  // below that refuses an honest peer with 4009, which then sends the same messages again after
  // the reconnect, side by side again; below the largest single message, on every reconnect.
  // The sender keeps to sizes it stated in the handshake, not to this budget: refused here instead.
  const reassemblyBytes = channels.reduce((total, channel) => total + layout.lanes[channel.index]! * (channel.maxMessageBytes + MAX_META_BYTES), 0);
  if (limits.maxReassemblyBytes < reassemblyBytes) {
    throw new ChannelsConfigError(
      'limits.maxReassemblyBytes',
      `must be at least the largest message of every lane at once, each channel's maxMessageBytes plus ${MAX_META_BYTES} bytes of headers times its lanes (${reassemblyBytes})`,
    );
  }
  // Hard cap of one WebSocket message: a block frame (with the acknowledgements it may carry) or a
  // chunk (a whole message without chunking).
  const maxPayload = Math.max(limits.frameBytes + 64 + MAX_BLOCK_ACK_BYTES, Math.min(limits.chunkBytes, maxMessageBytes + MAX_META_BYTES) + MAX_CHUNK_HEADER_BYTES);

  /** ws's TLS options for a dial. */
  const dialTls =
    tls === undefined
      ? undefined
      : {
          ...tls.extra,
          cert: tls.cert,
          key: tls.key,
          ca: tls.ca as string | Buffer | (string | Buffer)[],
          rejectUnauthorized: true,
          ...(tls.servername === undefined ? {} : { servername: tls.servername }),
        };
  let socketThreadFailures = 0;
  // Connections (lanes) of `thread` channels: dialed, their sockets run in the socket thread.
  const threadConnections = layout.connectionOfLane.map((connection, lane) => layout.mode === 'per-channel' && channels[layout.channelOfLane[lane]!]!.thread && connection === lane);
  /** How this node dials, on this thread or in the socket thread. */
  const dialOptions: DialOptions = { mask: maskFrames, maxPayload, handshakeTimeout: timing.handshakeTimeoutMs, handshakeCap: MAX_HANDSHAKE_FRAME_BYTES, tls: dialTls };
  // No thread when the dial options cannot be copied to one (a function among security.tls.extra).
  const socketThread =
    threadConnections.includes(true) && cloneable(dialOptions)
      ? new SocketThread({
          ringFrameType: FRAME_TYPES.chunk,
          // Chunked messages of `thread` channels; the main thread checks each against its channel and budget.
          assembleCaps: channels.map((channel) => (channel.thread ? Math.min(channel.maxMessageBytes + MAX_META_BYTES, limits.maxReassemblyBytes) : 0)),
          assembleBudget: limits.maxReassemblyBytes,
          onFailure: (error, unavailable) => {
            socketThreadFailures += 1;
            // unavailable: the thread never loaded; this node's `thread` lanes now run on the main thread.
            telemetry(['channels', 'socket-thread', 'failed'], { count: 1 }, { reason: error instanceof Error ? error.message : String(error), unavailable });
          },
        })
      : undefined;

  const links = new Map<string, Link>();

  /**
   * Sets `key` as the newest entry of `map` (session epochs, receive state, sequence floors).
   * The map keeps limits.rememberedPeers entries besides those of peers with a link; past that
   * the oldest entry of a peer without a link is forgotten. A link relies on its peer's entries
   * (an epoch or a receive state forgotten under it would make its next reconnect a new session
   * for the peer, or deliver again what was delivered), so those stay, moved to the newest end.
   * At most links.size entries are a link's, so each eviction looks at no more than that many
   * before it finds one to forget.
   */
  const remember = <Value>(map: Map<string, Value>, key: string, value: Value): void => {
    map.delete(key);
    map.set(key, value);
    while (map.size > limits.rememberedPeers + links.size) {
      const [oldest, kept] = map.entries().next().value!;
      map.delete(oldest);
      if (links.has(oldest)) map.set(oldest, kept);
    }
  };

  /**
   * The epoch a handshake with `peer` presented, once the peer proved itself: adopted if this
   * node holds none for it; false if it holds another (it dropped the peer's state meanwhile).
   */
  const adoptEpoch = (peer: string, presented: number): boolean => {
    const known = sessionEpochs.get(peer);
    if (known === undefined) {
      remember(sessionEpochs, peer, presented);
      provisionalEpochs.delete(peer);
    }
    return known === undefined || known === presented;
  };
  const upOrder: string[] = [];
  const connections = new Set<Connection>();
  const probes = new Map<string, { connection: Connection; target: string }>();
  const messageHandlers = new Map<string, ((message: InboundMessage) => void)[]>();
  const requestHandlers = new Map<string, RequestHandler>();
  const listeners = new Map<string, Set<AnyHandler>>();
  const receiveState = new Map<string, { incarnation: string; epoch: number; sequences: ReceiveSequence[] }>();
  const sequenceFloors = new Map<string, readonly number[]>();
  const urlToNode = new Map<string, string>();
  const pendingByAddress = new Map<string, number>();
  const connectionsByAddress = new Map<string, number>();
  /** Sockets over a limit kept only to receive their close code (they hold no slot). */
  const refusingByAddress = new Map<string, number>();
  let refusingTotal = 0;
  /**
   * Refused sockets (sent their close code) whose close has not finished, with the deadline that
   * cuts it short. They are no connections, so close() does not wait for them: it ends them itself.
   */
  const refusedSockets = new Map<WebSocket, Timer>();
  const admissions = new WeakMap<Connection, Admission>();
  const refusals: Partial<Record<string, number>> = {};
  // Request ids are unique for the life of this transport, across links and sessions: a reply
  // held by a peer for a request of an earlier link can never settle a request of a later one.
  let lastRequestId = 0;
  let acceptedConnections = 0;
  let readPauses = 0;
  let pingsSent = 0;
  const ackCounters: AckCounters = { ackFramesSent: 0, acksInBlocks: 0 };
  let duplicateNodeIds = 0;
  let listenerErrors = 0;
  let pendingHandshakes = 0;
  let closed = false;
  let boundAddress: { host: string; port: number; url: string } | undefined;

  const emit = (event: string, value: unknown): void => {
    const handlers = listeners.get(event);
    if (handlers === undefined) return;
    for (const handler of [...handlers]) {
      try {
        (handler as (value: unknown) => void)(value);
      } catch (error) {
        if (event !== 'handler-error') emit('handler-error', { peer: '', channel: '', error });
      }
    }
  };

  const telemetry = (name: string[], measurements: Record<string, number>, metadata: Record<string, unknown>): void => {
    if (options.telemetry === undefined) return;
    try {
      options.telemetry({ name, measurements, metadata });
    } catch {
      // A telemetry sink must never break the transport.
    }
  };

  const countRefusal = (code: number): void => {
    const name = closeCodeName(code) ?? 'other';
    refusals[name] = (refusals[name] ?? 0) + 1;
  };

  /** An inbound connection refused before its handshake (admission control). */
  const reportRefusal = (remoteAddress: string, refusal: NonNullable<Refusal>): void => {
    countRefusal(refusal.code);
    telemetry(['channels', 'connection', 'refused'], { closeCode: refusal.code }, { remoteAddress, reason: refusal.reason });
    emit('protocol-error', new ProtocolViolationError({ closeCode: refusal.code, reason: refusal.reason, remoteAddress }));
  };

  /** An inbound connection's handshake finished or its socket closed: it no longer counts as pending. */
  const finishPending = (admission: Admission | undefined): void => {
    if (admission === undefined || !admission.pending) return;
    admission.pending = false;
    pendingHandshakes -= 1;
    increment(pendingByAddress, admission.remoteAddress, -1);
  };

  const increment = (map: Map<string, number>, key: string, delta: number): void => {
    const value = (map.get(key) ?? 0) + delta;
    if (value <= 0) map.delete(key);
    else map.set(key, value);
  };

  // ---- two processes with one node id -------------------------------------------------------

  /**
   * Per peer, what tells two live processes with one node id (a configuration mistake) from a
   * restart: each process start draws a new incarnation, and a restarted node's old one is
   * never heard from again. So this node has seen two processes at once when an incarnation
   * that a newer one replaced asks for a session again (refused, see refusedAsReplaced) or
   * opens one again (a dial of this node that reached the older process), or when the live
   * session is heard from after another incarnation was refused as a duplicate (4022) and that
   * one asks again (without certificates that name the id, the second process is refused for as
   * long as the first answers). Only peers that proved they hold the secret get here;
   * `remember` bounds the map.
   */
  const incarnationHistory = new Map<
    string,
    { current: string; address: string; replaced: string[]; refused: { incarnation: string; address: string; at: number } | undefined }
  >();
  /** Monotonic ms of the last `identity-error` per node id. */
  const duplicateReported = new Map<string, number>();

  const reportDuplicate = (peer: string, addresses: readonly string[], detail: string): void => {
    duplicateNodeIds += 1;
    telemetry(['channels', 'node', 'duplicate'], {}, { peer, remoteAddresses: addresses, detail });
    const now = clock.monotonic();
    const last = duplicateReported.get(peer);
    if (last !== undefined && now - last < DUPLICATE_REPORT_INTERVAL_MS) return;
    remember(duplicateReported, peer, now);
    emit('identity-error', new DuplicateNodeIdError(peer, addresses, detail));
  };

  /** Connection 0 of a new session of `peer` opened with the incarnation it presented. */
  const sessionIncarnation = (peer: string, connection: Connection): void => {
    const incarnation = connection.peer!.incarnation;
    const history = incarnationHistory.get(peer);
    if (history === undefined) {
      remember(incarnationHistory, peer, { current: incarnation, address: connection.remoteAddress, replaced: [], refused: undefined });
      return;
    }
    if (incarnation !== history.current) {
      if (history.replaced.includes(incarnation)) {
        reportDuplicate(peer, [history.address, connection.remoteAddress], 'a process it had replaced took the session back');
      }
      history.replaced = [...history.replaced.filter((item) => item !== incarnation), history.current].slice(-REPLACED_INCARNATIONS);
      history.current = incarnation;
    }
    history.address = connection.remoteAddress;
    if (history.refused?.incarnation === incarnation) history.refused = undefined;
  };

  /**
   * Whether a new session of `peer` from `incarnation` is refused (4022) because a newer
   * incarnation replaced that one, which this node still remembers; the sighting is reported.
   * A restarted process never presents its old incarnation again, so one that asks for a
   * session after that can only be a second live process with the same node id. Refusing it,
   * as Distributed Erlang refuses a node whose name is already connected, leaves the session to
   * the newest process, whatever the state of that session and whatever the certificate proves:
   * with certificates that name the id the two would otherwise take it from each other for as
   * long as both run. A restart of the newest process presents a new incarnation, so it is let
   * in. Only as long as the history holds: after REPLACED_INCARNATIONS later incarnations, or
   * once `remember` forgot the peer, the old process may get in again.
   */
  const refusedAsReplaced = (peer: string, incarnation: string, connection: Connection): boolean => {
    const history = incarnationHistory.get(peer);
    if (history === undefined || !history.replaced.includes(incarnation)) return false;
    reportDuplicate(peer, [history.address, connection.remoteAddress], 'a process another one had replaced asks for the session again');
    return true;
  };

  /** A new session of `peer` from `incarnation` (not one that was replaced) is refused (4022): `link`'s session is alive. */
  const duplicateRefused = (peer: string, incarnation: string, link: Link, connection: Connection): void => {
    const history = incarnationHistory.get(peer);
    if (history === undefined || incarnation === history.current) return;
    if (history.refused?.incarnation === incarnation && link.lastHeard() > history.refused.at) {
      reportDuplicate(peer, [history.address, connection.remoteAddress], 'the live session kept answering after another process asked for it, which asked again');
    }
    if (history.refused?.incarnation !== incarnation) history.refused = { incarnation, address: connection.remoteAddress, at: clock.monotonic() };
  };

  // ---- links ---------------------------------------------------------------------------------

  // Up to 4 MiB of chunk frames kept for reuse (see chunk-pool.ts): 64 of the default 64 KiB, fewer
  // of larger chunks, none of chunks above 4 MiB (or Infinity), whose allocations are few
  // for the bytes they carry, and which the pool would keep by the gigabyte.
  const chunkPool = createChunkPool(limits.chunkBytes + MAX_CHUNK_HEADER_BYTES, Math.min(64, Math.floor((4 * 1024 * 1024) / limits.chunkBytes)));
  const host: LinkHost = {
    nodeId,
    channels,
    layout,
    limits,
    wireLimits,
    timing,
    codec,
    clock,
    random,
    counters,
    laneCounters,
    ackCounters,
    chunkPool,
    isClosed: () => closed,
    newSession: () => randomBytes(12).toString('base64url'),
    dial: (link, url, session, index) => openDial(url, session, index, link.peer, link),
    sessionIncarnation: (link, connection) => sessionIncarnation(link.peer, connection),
    receiveSequences(peer, peerIncarnation, epoch) {
      const known = receiveState.get(peer);
      if (known !== undefined && known.incarnation === peerIncarnation && known.epoch === epoch) return known.sequences;
      // A new incarnation, or one that dropped its queues for this node (a new session epoch):
      // it resends nothing older, so its next numbers start a new stream.
      const sequences = Array.from({ length: layout.totalLanes }, () => createReceiveSequence());
      remember(receiveState, peer, { incarnation: peerIncarnation, epoch, sequences });
      return sequences;
    },
    renewSessionEpoch(peer) {
      const previous = sessionEpochs.get(peer);
      // Random rather than counted: equal only by chance (2^-48), and it tells nobody how often.
      let epoch = randomEpoch();
      while (epoch === previous) epoch = randomEpoch();
      remember(sessionEpochs, peer, epoch);
      provisionalEpochs.delete(peer);
    },
    sequenceFloor: (peer) => sequenceFloors.get(peer) ?? [],
    saveSequenceFloor: (peer, lastSeqs) => remember(sequenceFloors, peer, lastSeqs),
    deliver,
    undecodable,
    violation(link, connection, code, reason) {
      reportViolation(connection, code, reason, link.peer);
    },
    peerUp(link) {
      upOrder.push(link.peer);
      telemetry(['channels', 'peer', 'up'], {}, { peer: link.peer });
      emit('peer-up', link.peer);
    },
    peerDown(link, reason) {
      const position = upOrder.indexOf(link.peer);
      if (position >= 0) upOrder.splice(position, 1);
      telemetry(['channels', 'peer', 'down'], {}, { peer: link.peer, reason });
      emit('peer-down', link.peer);
    },
    channelEvent(link, event) {
      for (const channel of channels) emit(event, { peer: link.peer, channel: channel.name });
    },
    drained(link, channel) {
      emit('drained', { peer: link.peer, channel: channel.name });
    },
    dropped(_link, channel, count) {
      counters[channel.index]!.droppedPeerDown += count;
    },
    sendFailed(link, channel, error) {
      emit('send-error', { peer: link.peer, channel: channel.name, error });
    },
    removeLink(link) {
      if (links.get(link.peer) === link) links.delete(link.peer);
    },
    connectionFailed(link, code, reason) {
      const error = new ConnectionRefusedError(link.url ?? link.peer, code, reason);
      telemetry(['channels', 'connection', 'failed'], { closeCode: code }, { peer: link.peer, reason });
      // By its URL too: a disconnect(url) from the listener forgets which node the URL reached,
      // and the connect(url) after it must still wait out a backoff delay.
      const url = link.url;
      reportingFailure.add(link.peer);
      if (url !== undefined) reportingFailure.add(url);
      try {
        emit('connection-error', { target: link.peer, error });
      } finally {
        reportingFailure.delete(link.peer);
        if (url !== undefined) reportingFailure.delete(url);
      }
    },
    urlTakenOver(link) {
      const url = link.url;
      if (closed || url === undefined || urlToNode.get(url) !== link.peer) return false;
      // The URL is one not known to reach a node again, and dialed by URL on a backoff of its own,
      // whose first attempt comes within reconnectInitialMs. The node that answers there gets a
      // link of its own (and peer-up); the old one's peer-down comes from its link, so the URL
      // itself is not reported down at its first failure, as a URL never reached is.
      urlToNode.delete(url);
      wantedProbes.add(url);
      probeRetries.get(url)?.timer.cancel();
      probeRetries.delete(url);
      scheduleProbeRetry(url);
      return true;
    },
    lookUpAddress(peer) {
      try {
        return lookUpAddress(peer);
      } catch {
        // Called from a timer, where a throw would go nowhere useful: a lookup that fails finds
        // no address, and the attempt is reported as one that found none.
        return { url: undefined, reason: NO_ADDRESS };
      }
    },
  };

  /**
   * The address `addresses` or `resolveAddress` give for a node id (which may throw), if ws can
   * dial it (address.ts). Only `addresses`' own entries count: a node id such as 'constructor'
   * found a member of Object.prototype there, which the dial took for a URL.
   */
  const lookUpAddress = (peer: string): AddressLookup => {
    const addresses = options.addresses;
    const listed = addresses !== undefined && Object.hasOwn(addresses, peer) ? addresses[peer] : undefined;
    return checkAddress(listed ?? options.resolveAddress?.(peer));
  };
  /**
   * Peers (node ids, or URLs not yet known to reach a node) whose connection-error is being
   * emitted. A connect() from that listener after a disconnect() finds no link or retry to join:
   * its first attempt waits out a backoff delay all the same, or it would dial at once on every
   * failure, and a peer with no address known would be reported from within connect() again,
   * and the listener recurse.
   */
  const reportingFailure = new Set<string>();

  const linkFor = (peer: string): Link => {
    let link = links.get(peer);
    if (link === undefined) {
      link = new Link(peer, host);
      links.set(peer, link);
    }
    return link;
  };

  // ---- connections -------------------------------------------------------------------------

  const reportViolation = (connection: Connection, code: number, reason: string, peer?: string): void => {
    countRefusal(code);
    const error = new ProtocolViolationError({ closeCode: code, reason, remoteAddress: connection.remoteAddress, peer: peer ?? connection.peer?.nodeId });
    telemetry(['channels', 'connection', 'refused'], { closeCode: code }, { remoteAddress: connection.remoteAddress, peer: error.peer, reason });
    emit('protocol-error', error);
    connection.close(code, reason);
  };

  const connectionCallbacks: ConnectionCallbacks = {
    verifyIdentity(connection, peer) {
      if (binding === undefined) return undefined;
      const certificate = connection.peerCertificate;
      let accepted: boolean;
      try {
        accepted = certificate !== undefined && Object.keys(certificate).length > 0 && binding(peer, certificate) === true;
      } catch {
        accepted = false; // a throwing policy refuses
      }
      if (!accepted) return { code: CLOSE_CODES.certificateMismatch, reason: `the peer's certificate does not name node id ${peer}` };
      connection.identityBound = true;
      return undefined;
    },
    admit(connection, hello) {
      if (closed) return { code: CLOSE_CODES.goingAway, reason: 'shutting down' };
      const peer = hello.nodeId;
      const existing = links.get(peer);
      if (hello.connection === 0) {
        // First, whatever the state of the session and whatever the certificate proves: a
        // process that a newer one replaced does not take the session back (refusedAsReplaced).
        if (refusedAsReplaced(peer, hello.incarnation, connection)) {
          const reason = `node id ${peer} is used by two live processes: a newer one replaced this one (give each its own id)`;
          reportViolation(connection, CLOSE_CODES.duplicateSession, reason, peer);
          return { code: CLOSE_CODES.duplicateSession, reason };
        }
        if (existing !== undefined && existing.role === 'dialer' && existing.establishing) {
          // Both sides dialed at once: the dial of the smaller node id wins.
          if (nodeId < peer) return { code: CLOSE_CODES.superseded, reason: 'simultaneous dial: keeping mine' };
          existing.abandonDial();
        }
        // Who may replace a live session: a peer whose certificate is bound to the node id
        // (it holds that node's key), or anyone holding the secret once the live session has
        // been silent for three heartbeat intervals (so a restarted peer behind a dead path does
        // not wait for the idle timeout; a live peer sends at least every two, see the
        // heartbeat). The secret alone never displaces a session that answers.
        if (existing !== undefined && existing.state === 'up' && !connection.identityBound) {
          const silentMs = clock.monotonic() - existing.lastHeard();
          if (silentMs < 3 * timing.heartbeatIntervalMs) {
            const reason = `node ${peer} has a live session (heard ${Math.round(silentMs)} ms ago)`;
            duplicateRefused(peer, hello.incarnation, existing, connection);
            reportViolation(connection, CLOSE_CODES.duplicateSession, reason, peer);
            return { code: CLOSE_CODES.duplicateSession, reason };
          }
        }
        // CHALLENGE presented this node's session epoch for the peer; if this node dropped the
        // peer's state since (its grace ended meanwhile), that session would not be a new one.
        const known = sessionEpochs.get(peer);
        if (known !== undefined && known !== connection.localEpoch) {
          return { code: CLOSE_CODES.superseded, reason: 'this node ended the session during the handshake' };
        }
        const link = existing ?? linkFor(peer);
        adoptEpoch(peer, connection.localEpoch); // with the link first, so that it is kept
        link.acceptSession(connection);
        return undefined;
      }
      if (existing === undefined || !existing.attach(connection)) return { code: CLOSE_CODES.unknownSession, reason: 'no such session' };
      return undefined;
    },
    identified(connection, peer) {
      const probe = probes.get(connection.session);
      if (probe === undefined) {
        // A dial by node id presented the epoch this node holds for the peer, or a fresh one.
        if (connection.index === 0 && !adoptEpoch(peer.nodeId, connection.localEpoch)) {
          return { code: CLOSE_CODES.superseded, reason: 'this node ended the session during the handshake' };
        }
        // A lane joins its session only if it reached the incarnation and epoch connection 0 did
        // (the acceptor checks the same of the dialer, in attach).
        if (connection.index > 0 && connection.link !== undefined && !connection.link.laneReached(connection, peer)) {
          return { code: CLOSE_CODES.unknownSession, reason: 'another incarnation or session epoch than connection 0' };
        }
        return undefined;
      }
      probes.delete(connection.session);
      // Disconnected while this dial was in its handshake: it brings up no session.
      if (!wantedProbes.has(probe.target)) return { code: CLOSE_CODES.normal, reason: 'disconnected during the handshake' };
      urlToNode.set(probe.target, peer.nodeId);
      // The URL reached a node: its link dials from now on, so the URL's own backoff is over. A
      // retry is kept only for a URL not known to reach a node; every later dial by this URL
      // (after disconnect, or another node taking the address over) starts a backoff anew.
      probeRetries.get(probe.target)?.timer.cancel();
      probeRetries.delete(probe.target);
      const link = linkFor(peer.nodeId);
      link.wanted = true;
      link.url = probe.target;
      if (link.state === 'up' || link.establishing) return { code: CLOSE_CODES.superseded, reason: 'already connected' };
      link.cancelReconnect();
      if (!adoptEpoch(peer.nodeId, connection.localEpoch)) {
        // The probe's HELLO left before it knew whom it reached, so it carried a fresh epoch,
        // and this node holds another for that peer: dial again, with that one.
        link.dial();
        return { code: CLOSE_CODES.superseded, reason: 'dialing again with the session epoch' };
      }
      link.adoptDialed(connection);
      return undefined;
    },
    opened(connection) {
      if (connection.role === 'acceptor') finishPending(admissions.get(connection));
      telemetry(['channels', 'connection', 'open'], {}, { peer: connection.peer?.nodeId, role: connection.role, index: connection.index });
      const link = connection.peer === undefined ? undefined : links.get(connection.peer.nodeId);
      if (link === undefined) connection.close(CLOSE_CODES.unknownSession, 'no link');
      else link.opened(connection);
    },
    frame(connection, frame, assembled) {
      const link = connection.peer === undefined ? undefined : links.get(connection.peer.nodeId);
      if (link === undefined || link.connections[connection.index] !== connection) return;
      link.receive(connection, frame, assembled);
    },
    closed(connection, code, reason, local) {
      connections.delete(connection);
      // Inbound counts are released when the TCP socket closes (see the listener).
      const probe = probes.get(connection.session);
      if (probe !== undefined && probe.connection === connection) {
        probes.delete(connection.session);
        probeFailed(probe.target, new ConnectionRefusedError(probe.target, code, reason));
        return;
      }
      const link = connection.peer === undefined ? connection.link : links.get(connection.peer.nodeId);
      link?.closed(connection, code, reason, local);
      closeWaiters.forEach((waiter) => waiter());
    },
    readPaused() {
      readPauses += 1;
    },
    pong(connection, rttMs) {
      const link = connection.peer === undefined ? undefined : links.get(connection.peer.nodeId);
      if (link === undefined) return;
      link.recordRtt(rttMs);
      telemetry(['channels', 'rtt'], { rttMs }, { peer: link.peer, connection: connection.index });
    },
    violation(connection, code, reason) {
      countRefusal(code);
      const error = new ProtocolViolationError({ closeCode: code, reason, remoteAddress: connection.remoteAddress, peer: connection.peer?.nodeId });
      telemetry(['channels', 'connection', 'refused'], { closeCode: code }, { remoteAddress: connection.remoteAddress, reason });
      emit('protocol-error', error);
    },
  };
  const closeWaiters = new Set<() => void>();

  function openDial(url: string, session: string, index: number, expectedPeer: string | undefined, link: Link | undefined): Connection {
    // A lane of a `thread` channel, dialed by a link (not a probe's connection 0, which may
    // become any session's): its socket runs in the socket thread, unless its options cannot go there.
    let socket: FrameSocket;
    if (link !== undefined && socketThread?.usable === true && threadConnections[index] === true) {
      socket = socketThread.dial(url, dialOptions, (certificate) => {
        connection.peerCertificate = certificate as PeerCertificate;
      });
    } else {
      const ws = new WebSocket(url, wsClientOptions(dialOptions));
      if (tls !== undefined) {
        // The server certificate, for binding the acceptor's node id (the upgrade comes before HELLO).
        ws.once('upgrade', (response) => {
          connection.peerCertificate = (response.socket as TLSSocket).getPeerCertificate();
        });
      }
      socket = new WsFrameSocket(ws);
    }
    const connection = new Connection('dialer', socket, url, identity, connectionCallbacks, clock.monotonic(), { session, index, expectedPeer });
    connection.link = link;
    connections.add(connection);
    return connection;
  }

  const probeRetries = new Map<string, { timer: Timer; attempts: number }>();

  function dialProbe(target: string): void {
    if (closed) return;
    const session = randomBytes(12).toString('base64url');
    const connection = openDial(target, session, 0, undefined, undefined);
    probes.set(session, { connection, target });
  }

  /**
   * A dial by URL that never reached a node failed. The next attempt is timed before anyone
   * hears of this one, as for a link (see Link.abortSession): a connection-error listener that
   * calls connect() again joins that wait, and one that calls disconnect() and then connect()
   * starts a new backoff whose first attempt waits out its first delay. Reported first, the
   * failure left such a listener nothing to join, and it dialed at once on every failure.
   */
  function probeFailed(target: string, error: ConnectionRefusedError): void {
    const firstFailure = !probeRetries.has(target);
    scheduleProbeRetry(target);
    reportingFailure.add(target);
    try {
      emit('connection-error', { target, error });
      // The address is reported down once, at the first failure since connect(): a connect()
      // from the listener above goes on from this failure, so its own failures are no news.
      if (firstFailure && wantedProbes.has(target)) emit('peer-down', target);
    } finally {
      reportingFailure.delete(target);
    }
  }

  function scheduleProbeRetry(target: string): void {
    if (closed || !wantedProbes.has(target)) return;
    const previous = probeRetries.get(target);
    previous?.timer.cancel();
    // The schedule of a node id's link (Link's backoff): the first retry within reconnectInitialMs.
    const attempt = previous?.attempts ?? 0;
    const delay = backoffDelay(attempt, { initialMs: timing.reconnectInitialMs, maxMs: timing.reconnectMaxMs, random });
    const timer = clock.setTimer(delay, () => {
      if (wantedProbes.has(target) && !urlToNode.has(target)) dialProbe(target);
    });
    probeRetries.set(target, { timer, attempts: attempt + 1 });
  }
  const wantedProbes = new Set<string>();

  // ---- inbound delivery --------------------------------------------------------------------

  function deliver(link: Link, channel: ChannelDefinition, lane: number, payload: unknown, meta: MessageMeta | undefined): void {
    const counter = counters[channel.index]!;
    if (meta !== undefined && meta.kind !== META_KINDS.message) {
      if (meta.kind === META_KINDS.request) {
        handleRequest(link, channel, lane, meta, payload);
        return;
      }
      settleRequest(link, channel, meta.id, () => (meta.kind === META_KINDS.reply ? { ok: true, value: payload } : { ok: false, error: FoundationError.fromJSON(payload) }));
      return;
    }
    const handlers = messageHandlers.get(channel.name);
    if (handlers === undefined || handlers.length === 0) {
      counter.noHandler += 1;
      return;
    }
    const message: InboundMessage = { from: link.peer, to: nodeId, channel: channel.name, payload, headers: meta?.headers };
    for (let index = 0; index < handlers.length; index += 1) {
      try {
        handlers[index]!(message);
      } catch (error) {
        counter.handlerErrors += 1;
        emit('handler-error', { peer: link.peer, channel: channel.name, error });
      }
    }
  }

  /** Settles request `id` with `outcome`, which is built only when that request still waits. */
  function settleRequest(link: Link, channel: ChannelDefinition, id: number, outcome: () => RequestOutcome): void {
    const counter = counters[channel.index]!;
    // Ids are unique per transport, so a reply can only settle the request it answers; one
    // above the last id issued answers nothing this transport ever asked.
    if (id < 1 || id > lastRequestId) {
      counter.unknownReplies += 1;
      return;
    }
    if (!link.requests.settle(id, outcome)) counter.lateReplies += 1;
  }

  function undecodable(link: Link, channel: ChannelDefinition, lane: number, meta: MessageMeta | undefined, cause: unknown): void {
    counters[channel.index]!.undecodableDropped += 1;
    if (meta === undefined || meta.kind === META_KINDS.message) return;
    // The side that waits learns now rather than at its timeout, with the code `send` refuses such
    // a payload with. The error is built only once it goes somewhere (a reply that will be sent,
    // a request still waiting), and without stacks (this node's frames, nothing of the sender's),
    // as decode errors are: a 64 KiB frame holds some 6,000 small undecodable requests, most of
    // them past the reply bound, or replies to nothing, and each error with its cause and their
    // stacks cost 7.6 µs.
    // A plain Error of the decoder's message, not the decoder's error itself, which cbor-x hangs
    // the values decoded so far on.
    const error = (): PayloadEncodingError =>
      withoutStacks(() => new PayloadEncodingError(channel.name, new Error(cause instanceof Error ? cause.message : String(cause)), { from: link.peer, to: nodeId }));
    if (meta.kind === META_KINDS.request) handleRequest(link, channel, lane, meta, undefined, error);
    else settleRequest(link, channel, meta.id, () => ({ ok: false, error: error() }));
  }

  /**
   * Runs the channel's request handler, or with `refusal` answers with the error it builds instead
   * of calling the handler (built only when the reply bound leaves room for the answer).
   */
  function handleRequest(link: Link, channel: ChannelDefinition, lane: number, meta: MessageMeta, payload: unknown, refusal?: () => FoundationError): void {
    const counter = counters[channel.index]!;
    // Replies answer work the peer asked for, so they bypass the channel bounds, but what waits
    // for one peer is bounded all the same: a peer that asks and never returns credit (so no
    // reply can leave) must not grow this node's memory. At the message bound the request is
    // dropped unanswered, before its handler runs (the requester times out). Handlers that have
    // not answered yet count too: each holds its request, and its reply is on the way.
    if (link.replyUsage().messages + link.repliesInProgress >= limits.maxReplyMessages) {
      counter.repliesDropped += 1;
      return;
    }
    const session = link.replySession;
    const handler = requestHandlers.get(channel.name);
    const reply = (kind: MetaKind, value: unknown): void => {
      if (link.isRemoved || links.get(link.peer) !== link) return;
      if (link.replySession !== session) {
        // The session ended meanwhile: the requester failed the request (and, if it restarted,
        // its new incarnation reuses request ids).
        counter.repliesDropped += 1;
        return;
      }
      let message: OutboundMessage;
      try {
        message = encodeMessage(channel, value, { kind, id: meta.id, headers: undefined }, undefined, link);
      } catch (error) {
        // An error reply that does not fit goes out shortened; a reply that does not encode
        // or fit (this node's maxMessageBytes or the requester's) becomes an error reply saying why.
        message = errorReply(channel, kind === META_KINDS.errorReply ? FoundationError.fromJSON(value) : FoundationError.from(error), meta.id, link);
      }
      const usage = link.replyUsage();
      if (usage.messages >= limits.maxReplyMessages) {
        counter.repliesDropped += 1;
        return;
      }
      // Over the byte bound the reply becomes a small QueueFullError reply, so the requester
      // learns at once instead of at its timeout (like channel queues, an empty one takes any size).
      if (usage.messages > 0 && usage.bytes + message.payload.length + (message.meta?.length ?? 0) > limits.maxReplyBytes) {
        message = errorReply(channel, new QueueFullError(link.peer, channel.name, 'replies'), meta.id, link);
        counter.repliesFailed += 1;
      }
      counter.messagesQueued += 1;
      // One literal (not `{ ...message, replyTo }`, which gives each reply a V8 map of its own).
      link.enqueue(channel, lane, { payload: message.payload, raw: message.raw, meta: message.meta, key: message.key, replyTo: session });
    };
    if (refusal !== undefined) {
      reply(META_KINDS.errorReply, refusal().toJSON());
      return;
    }
    if (handler === undefined) {
      reply(META_KINDS.errorReply, new NoResponderError(nodeId, channel.name).toJSON());
      return;
    }
    const message: InboundMessage = { from: link.peer, to: nodeId, channel: channel.name, payload, headers: meta.headers };
    let result: unknown;
    try {
      result = handler(message);
    } catch (error) {
      reply(META_KINDS.errorReply, FoundationError.from(error).toJSON());
      return;
    }
    if (result instanceof Promise) {
      link.repliesInProgress += 1;
      result.then(
        (value: unknown) => {
          link.repliesInProgress -= 1;
          reply(META_KINDS.reply, value);
        },
        (error: unknown) => {
          link.repliesInProgress -= 1;
          reply(META_KINDS.errorReply, FoundationError.from(error).toJSON());
        },
      );
    } else {
      reply(META_KINDS.reply, result);
    }
  }

  // ---- outbound ------------------------------------------------------------------------------

  function channelNamed(name: string): ChannelDefinition {
    const channel = byName.get(name);
    if (channel === undefined) throw new UnknownChannelError(name, channels.map((item) => item.name));
    return channel;
  }

  /**
   * An error reply that always encodes, so that a requester learns of a failure now rather than
   * at its timeout: the error as it is, or, when that is over the channel's `maxMessageBytes`
   * (this node's or the requester's), its code, type and the start of its message. On a channel
   * too small even for that, the short form goes anyway (a few hundred bytes, in a block: the
   * receiver bounds frames, and only chunked messages by their size).
   */
  function errorReply(channel: ChannelDefinition, error: FoundationError, id: number, link: Link): OutboundMessage {
    const meta: MessageMeta = { kind: META_KINDS.errorReply, id, headers: undefined };
    try {
      return encodeMessage(channel, error.toJSON(), meta, undefined, link);
    } catch {
      // Too large for the channel: shortened below.
    }
    const brief = new FoundationError({
      type: error.type,
      code: error.code,
      message: error.message.length > 160 ? `${error.message.slice(0, 160)}…` : error.message,
      severity: error.severity,
      category: error.category,
      retryStrategy: error.retryStrategy,
    }).toJSON();
    try {
      return encodeMessage(channel, brief, meta, undefined, link);
    } catch {
      return { payload: codec.encode(brief), raw: false, meta: codec.encode(metaToWire(meta)), key: undefined };
    }
  }

  /** Encodes a message for `link`'s peer, within the smaller of both nodes' `maxMessageBytes` for the channel. */
  function encodeMessage(channel: ChannelDefinition, payload: unknown, meta: MessageMeta | undefined, key: string | undefined, link: Link): OutboundMessage {
    let encodedMeta: Uint8Array | undefined;
    let bytes: Uint8Array;
    let raw = false;
    try {
      if (meta !== undefined) encodedMeta = codec.encode(metaToWire(meta));
      if (payload instanceof Uint8Array && payload.length > SMALL_RAW_BYTES) {
        bytes = payload;
        raw = true;
      } else {
        bytes = codec.encode(payload);
        // What the receiver cannot decode (see core/cbor-screen.ts: a long big integer, a tag it
        // refuses or one cbor-x throws on, held in a cbor-x Tag, whatever the payload's size) must
        // not be queued: a reliable channel would send it again after every refusal. So a payload
        // that holds a tag is decoded on trial by the receiver's own codec (screen, then cbor-x
        // with the same options; with records off no decoding leaves state behind for the next),
        // as the receiver decodes a payload that its frame's batch could not, and one nested past
        // the screen's MAX_NESTING is refused the same way. Without a byte that may start a tag's
        // head and with few that may start an array's or a map's, one scan; with one but no tag
        // (text beyond ASCII), or only Dates (which cbor-x cannot fail to read: cbor-screen.ts),
        // or many, a walk.
        if (needsCheck(bytes)) codec.check(bytes);
      }
    } catch (error) {
      throw new PayloadEncodingError(channel.name, error);
    }
    if (encodedMeta !== undefined && encodedMeta.length > MAX_META_BYTES) throw new PayloadEncodingError(channel.name, new Error('headers too large'));
    const maxBytes = link.maxMessageBytes(channel);
    if (bytes.length > maxBytes) {
      // Over the peer's smaller limit: say so, with both values (see core/wire-limits.ts).
      const peer = maxBytes < channel.maxMessageBytes ? { nodeId: link.peer, ownMaxBytes: channel.maxMessageBytes } : undefined;
      throw new MessageTooLargeError(channel.name, bytes.length, maxBytes, peer);
    }
    return { payload: bytes, raw, meta: encodedMeta, key };
  }

  function headerMeta(sendOptions: SendOptions | undefined, kind: MetaKind, id: number): MessageMeta | undefined {
    const headers = sendOptions?.headers;
    if (headers === undefined && kind === META_KINDS.message) return undefined;
    let checked: Record<string, string> | undefined;
    try {
      checked = checkHeaders(headers);
    } catch (error) {
      throw new ChannelsConfigError('headers', error instanceof MetaFormatError ? error.message : 'invalid headers');
    }
    return { kind, id, headers: checked };
  }

  /**
   * Queues one message: 'ok' (for a request, the function that takes it back if it has not left
   * when it times out), or why not.
   */
  function enqueue(peer: string, channelName: string, payload: unknown, sendOptions: SendOptions | undefined, kind: MetaKind, id: number): 'ok' | (() => boolean) | 'unavailable' | 'full' {
    const channel = channelNamed(channelName);
    if (closed) return 'unavailable';
    const link = links.get(peer);
    if (link === undefined || link.state === 'down') return 'unavailable';
    const key = sendOptions?.partitionKey;
    // On a monotonic channel the key also lets a newer message replace a queued one; a request
    // must not be replaced (its caller would wait for a reply to its timeout), so only plain
    // messages carry it into the queue. The lane is picked by the key either way.
    const message = encodeMessage(channel, payload, headerMeta(sendOptions, kind, id), kind === META_KINDS.message ? key : undefined, link);
    const counter = counters[channel.index]!;
    const bytes = message.payload.length + (message.meta?.length ?? 0);
    if (!link.hasRoom(channel, bytes)) {
      link.markFull(channel);
      counter.rejectedFull += 1;
      return 'full';
    }
    const lane = link.pickLane(channel, key);
    counter.messagesQueued += 1;
    // A request goes in as one, so that the link can take it back if it fails before it leaves.
    if (kind === META_KINDS.request) return link.enqueueRequest(channel, lane, message);
    if (link.enqueue(channel, lane, message) === 'replaced') counter.replaced += 1;
    return 'ok';
  }

  function waitFor(peer: string, channel: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const offDrained = api.on('drained', (event) => {
        if (event.peer !== peer || event.channel !== channel) return;
        cleanup();
        resolve();
      });
      const offDown = api.on('peer-down', (down) => {
        if (down !== peer) return;
        cleanup();
        reject(new PeerUnavailableError(peer, 'went down while waiting for queue room'));
      });
      const cleanup = (): void => {
        offDrained();
        offDown();
        closeRejecters.delete(onClose);
      };
      const onClose = (): void => {
        cleanup();
        reject(new TransportClosedError(nodeId));
      };
      closeRejecters.add(onClose);
    });
  }
  const closeRejecters = new Set<() => void>();

  // ---- heartbeats ----------------------------------------------------------------------------

  // A connection is pinged only when this side sent nothing on it since the previous heartbeat
  // (as Erlang's distribution ticks only an idle connection): a live peer then sends something at
  // least every two intervals, its frames or its pings, and the idle timeout still finds a
  // half-open connection. That needs an idle timeout of three intervals or more (both presets
  // have five or six); with a shorter one, every connection is pinged every interval. Every
  // RTT_SAMPLE_INTERVALS intervals a busy connection is pinged all the same, for round-trip samples.
  const pingWhenQuietOnly = timing.idleTimeoutMs >= 3 * timing.heartbeatIntervalMs;
  const heartbeat = clock.setRepeatingTimer(timing.heartbeatIntervalMs, () => {
    const now = clock.monotonic();
    for (const connection of [...connections]) {
      if (connection.state === 'handshake') {
        if (now - connection.createdAt > timing.handshakeTimeoutMs) {
          if (connection.role === 'acceptor') countRefusal(CLOSE_CODES.handshakeTimeout);
          connection.close(CLOSE_CODES.handshakeTimeout, 'handshake timed out');
          connection.terminate(CLOSE_CODES.handshakeTimeout, 'handshake timed out');
        }
        continue;
      }
      if (connection.state !== 'open') continue;
      if (now - connection.lastReceived > timing.idleTimeoutMs) {
        telemetry(['channels', 'connection', 'idle'], { idleMs: now - connection.lastReceived }, { peer: connection.peer?.nodeId });
        connection.terminate(CLOSE_CODES.idleTimeout, 'no frame, ping or pong within the idle timeout');
        continue;
      }
      const quiet = !connection.sentSinceHeartbeat;
      connection.sentSinceHeartbeat = false;
      if (!pingWhenQuietOnly || quiet || now - connection.lastPingAt >= RTT_SAMPLE_INTERVALS * timing.heartbeatIntervalMs) {
        pingsSent += 1;
        connection.ping(now);
      }
    }
  });

  // ---- listening -----------------------------------------------------------------------------

  let listener: Listener | undefined;
  let readyPromise: Promise<void> = Promise.resolve();
  if (options.listen !== undefined && options.listen !== false) {
    const listenHost = options.listen.host ?? '127.0.0.1';
    listener = createListener({
      host: listenHost,
      port: options.listen.port ?? 0,
      tls,
      maxPayload,
      handshakeTimeoutMs: timing.handshakeTimeoutMs,
      clock,
      // Every TCP connection is counted from its arrival, before TLS and the upgrade request:
      // against the connections per address until it closes, and as a handshake in progress
      // until the protocol handshake finishes.
      accept(remoteAddress): Admission | NonNullable<Refusal> {
        if (closed) return { code: CLOSE_CODES.goingAway, reason: 'shutting down' };
        const acceptedAt = clock.monotonic();
        let refusal: Refusal;
        if ((connectionsByAddress.get(remoteAddress) ?? 0) >= limits.maxConnectionsPerAddress) {
          refusal = { code: CLOSE_CODES.tooManyConnections, reason: `more than ${limits.maxConnectionsPerAddress} connections from ${remoteAddress}` };
        } else if (pendingHandshakes >= limits.maxPendingHandshakes || (pendingByAddress.get(remoteAddress) ?? 0) >= limits.maxPendingHandshakesPerAddress) {
          refusal = { code: CLOSE_CODES.tooManyHandshakes, reason: 'too many handshakes in progress' };
        }
        if (refusal === undefined) {
          pendingHandshakes += 1;
          increment(pendingByAddress, remoteAddress, 1);
          increment(connectionsByAddress, remoteAddress, 1);
          return { remoteAddress, acceptedAt, refusal: undefined, pending: true };
        }
        // Over a limit: a few such sockets (per address and in total) are kept, without a slot,
        // so that their upgrade is answered with the close code; the rest are dropped at once.
        if ((refusingByAddress.get(remoteAddress) ?? 0) >= REFUSING_PER_ADDRESS || refusingTotal >= REFUSING_TOTAL) {
          reportRefusal(remoteAddress, refusal);
          return refusal;
        }
        refusingTotal += 1;
        increment(refusingByAddress, remoteAddress, 1);
        return { remoteAddress, acceptedAt, refusal, pending: false };
      },
      release(admission) {
        if (admission.refusal !== undefined) {
          refusingTotal -= 1;
          increment(refusingByAddress, admission.remoteAddress, -1);
          return;
        }
        increment(connectionsByAddress, admission.remoteAddress, -1);
        finishPending(admission);
      },
      timedOut(admission) {
        countRefusal(CLOSE_CODES.handshakeTimeout);
        telemetry(['channels', 'connection', 'refused'], { closeCode: CLOSE_CODES.handshakeTimeout }, { remoteAddress: admission.remoteAddress, reason: 'no upgrade request within the handshake deadline' });
      },
      connection(socket, admission, certificate) {
        acceptedConnections += 1;
        const connection = new Connection('acceptor', new WsFrameSocket(socket), admission.remoteAddress, identity, connectionCallbacks, admission.acceptedAt);
        connection.peerCertificate = certificate;
        admissions.set(connection, admission);
        connections.add(connection);
      },
      refused(socket, remoteAddress, refusal) {
        reportRefusal(remoteAddress, refusal);
        // Nothing it sends is read, and until its close it may not make this node buffer more.
        capToHandshakeFrames(socket);
        socket.on('error', () => undefined);
        socket.close(refusal.code, closeReason(refusal.reason));
        // Cut short a peer that never answers the close; gone once the socket is (closed by the
        // peer's answer or by close()), so that the timer neither holds it nor outlives the node.
        const deadline = clock.setTimer(1_000, () => socket.terminate());
        refusedSockets.set(socket, deadline);
        socket.once('close', () => {
          refusedSockets.delete(socket);
          deadline.cancel();
        });
      },
      failed(error) {
        listenerErrors += 1;
        const code = (error as { code?: unknown }).code;
        telemetry(['channels', 'listener', 'error'], {}, { code: typeof code === 'string' ? code : undefined, message: error.message });
      },
    });
    readyPromise = listener.ready.then((bound) => {
      const scheme = tls === undefined ? 'ws' : 'wss';
      const shownHost = bound.host.includes(':') ? `[${bound.host}]` : bound.host;
      boundAddress = { host: bound.host, port: bound.port, url: `${scheme}://${shownHost}:${bound.port}` };
    });
    readyPromise.catch(() => undefined);
  }

  // ---- the API -------------------------------------------------------------------------------

  let closing: Promise<void> | undefined;
  const closeOnce = async (): Promise<void> => {
    closed = true;
    heartbeat.cancel();
    for (const retry of probeRetries.values()) retry.timer.cancel();
    probeRetries.clear();
    wantedProbes.clear();
    // Dials by URL still in their handshake are closed below like any connection: not failures
    // to report, and each one's close tells the wait below (a probe's failure would not).
    probes.clear();
    for (const reject of [...closeRejecters]) reject();
    for (const link of [...links.values()]) link.shutdown(CLOSE_CODES.goingAway, 'transport closed');
    for (const connection of connections) connection.close(CLOSE_CODES.goingAway, 'transport closed');
    // Give close frames a moment to go out, then drop whatever is left.
    await new Promise<void>((resolve) => {
      const done = (): void => {
        if (connections.size > 0) return;
        closeWaiters.delete(done);
        timer.cancel();
        resolve();
      };
      const timer = clock.setTimer(500, () => {
        closeWaiters.delete(done);
        for (const connection of [...connections]) connection.terminate(CLOSE_CODES.goingAway, 'transport closed');
        resolve();
      });
      closeWaiters.add(done);
      done();
    });
    // A refused peer that has not answered its close yet is cut short now. Left to the listener,
    // which tears its socket down too, its deadline outlived close(): the listener's promise
    // settles before the socket's close is seen.
    for (const [socket, deadline] of refusedSockets) {
      deadline.cancel();
      socket.terminate();
    }
    refusedSockets.clear();
    await listener?.close();
    await socketThread?.stop();
  };

  const api: Transport = {
    nodeId,
    ready: () => readyPromise,
    address: () => boundAddress,
    connect(peer) {
      if (closed) return;
      if (/^wss?:\/\//i.test(peer)) {
        // A programming error, or an address that did not come from a node: refused before
        // anything is kept for it (ws would throw from the dial, and from a retry's timer).
        if (!isDialable(peer)) throw new ChannelsConfigError('peer', 'a ws:// or wss:// URL that cannot be dialed');
        const known = urlToNode.get(peer);
        if (known !== undefined) {
          // The node's link, which waits out a backoff delay first when this comes from a
          // listener of its failure after a disconnect(), as connect(nodeId) does below.
          linkFor(known).want({ url: peer }, !reportingFailure.has(known));
          return;
        }
        if (wantedProbes.has(peer)) return;
        wantedProbes.add(peer);
        // From a listener of this address's failure, after a disconnect(): a new backoff, whose
        // first attempt waits out its first delay (the failure's own retry was cancelled).
        if (reportingFailure.has(peer)) scheduleProbeRetry(peer);
        else dialProbe(peer);
        return;
      }
      // Without an address (here or learned before) the link is kept wanted all the same: its
      // attempts look the address up again on the backoff schedule, each one that finds none
      // reported as a connection-error, and the first that finds one dials.
      const link = linkFor(peer);
      link.wantedById = true;
      link.want(lookUpAddress(peer), !reportingFailure.has(peer));
    },
    disconnect(peer) {
      const node = urlToNode.get(peer) ?? peer;
      for (const [url, reached] of urlToNode) {
        if (reached === peer || url === peer) {
          wantedProbes.delete(url);
          probeRetries.get(url)?.timer.cancel();
          probeRetries.delete(url);
          // Forgotten, so that a later connect(url) reaches whichever node listens there then:
          // kept, it dialed the node it had reached before, which another one that took the
          // address over refused (4013) for ever. It also kept every URL ever reached.
          urlToNode.delete(url);
        }
      }
      wantedProbes.delete(peer);
      // And the retry of a URL that never reached a node (none in urlToNode): left timed, it
      // dialed alongside the attempt of a later connect(), and its backoff went on from there.
      probeRetries.get(peer)?.timer.cancel();
      probeRetries.delete(peer);
      // A dial by that URL still in its handshake stops too.
      for (const [session, probe] of probes) {
        if (probe.target !== peer && urlToNode.get(probe.target) !== peer) continue;
        probes.delete(session);
        probe.connection.close(CLOSE_CODES.normal, 'disconnected');
      }
      links.get(node)?.shutdown(CLOSE_CODES.normal, 'disconnected');
      // A node this URL reached before another took the address over, waiting out its grace
      // period: it too was there only for the URL. Not once it is up again by its own dial (from
      // the address it moved to): the URL no longer leads to it, and it is a live peer.
      for (const link of [...links.values()]) {
        if (link.url === peer && !link.wanted && link.state !== 'up') link.shutdown(CLOSE_CODES.normal, 'disconnected');
      }
    },
    send(peer, channel, payload, sendOptions) {
      return enqueue(peer, channel, payload, sendOptions, META_KINDS.message, 0) === 'ok';
    },
    async sendAsync(peer, channel, payload, sendOptions) {
      for (;;) {
        if (closed) throw new TransportClosedError(nodeId);
        const result = enqueue(peer, channel, payload, sendOptions, META_KINDS.message, 0);
        if (result === 'ok') return;
        if (result === 'unavailable') throw new PeerUnavailableError(peer, 'not connected');
        await waitFor(peer, channel);
      }
    },
    request(peer, channelName, payload, requestOptions) {
      const channel = channelNamed(channelName);
      if (closed) return Promise.reject(new TransportClosedError(nodeId));
      const link = links.get(peer);
      if (link === undefined || link.state === 'down') return Promise.reject(new PeerUnavailableError(peer, 'not connected'));
      const timeout = requestOptions?.timeout ?? timing.requestTimeoutMs;
      // Checked before anything is queued: a request that cannot be timed must not go out.
      if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) {
        return Promise.reject(new ChannelsConfigError('timeout', `must be a number of ms, 0 or more (got ${String(timeout)})`));
      }
      lastRequestId += 1;
      const id = lastRequestId;
      let result: ReturnType<typeof enqueue>;
      try {
        result = enqueue(peer, channel.name, payload, requestOptions, META_KINDS.request, id);
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      if (typeof result !== 'function') {
        return Promise.reject(result === 'full' ? new QueueFullError(peer, channel.name) : new PeerUnavailableError(peer, 'not connected'));
      }
      // One that times out while still queued here is taken back: the peer never handles it.
      return link.requests.add(id, peer, channel.name, timeout, result);
    },
    onMessage(channel, handler) {
      channelNamed(channel);
      const list = messageHandlers.get(channel) ?? [];
      messageHandlers.set(channel, [...list, handler]);
      return () => {
        const current = messageHandlers.get(channel) ?? [];
        messageHandlers.set(
          channel,
          current.filter((item) => item !== handler),
        );
      };
    },
    onRequest(channel, handler) {
      channelNamed(channel);
      if (requestHandlers.has(channel)) throw new ChannelsConfigError(`onRequest(${channel})`, 'a request handler is already registered for this channel');
      requestHandlers.set(channel, handler);
      return () => {
        if (requestHandlers.get(channel) === handler) requestHandlers.delete(channel);
      };
    },
    on(event: string, handler: AnyHandler) {
      let set = listeners.get(event);
      if (set === undefined) {
        set = new Set();
        listeners.set(event, set);
      }
      set.add(handler);
      return () => {
        set.delete(handler);
      };
    },
    peers: () => [...upOrder],
    stats() {
      const channelStats: Record<string, ChannelStats> = {};
      for (const channel of channels) {
        let queuedMessages = 0;
        let queuedBytes = 0;
        let unackedMessages = 0;
        let unackedBytes = 0;
        for (const link of links.values()) {
          const offset = layout.offsets[channel.index]!;
          for (let lane = offset; lane < offset + layout.lanes[channel.index]!; lane += 1) {
            const queue = link.queues[lane]!;
            queuedMessages += queue.queuedMessages;
            queuedBytes += queue.queuedBytes;
            unackedMessages += queue.unackedMessages;
            unackedBytes += queue.unackedBytes;
          }
        }
        const offset = layout.offsets[channel.index]!;
        const lanes = laneCounters.slice(offset, offset + layout.lanes[channel.index]!).map((lane) => ({ ...lane }));
        channelStats[channel.name] = { ...counters[channel.index]!, lanes, queuedMessages, queuedBytes, unackedMessages, unackedBytes };
      }
      let open = 0;
      // Inbound: from the TCP accept (before TLS and the upgrade); outbound: dialed, not yet open.
      let handshaking = pendingHandshakes;
      for (const connection of connections) {
        if (connection.state === 'open') open += 1;
        else if (connection.state === 'handshake' && connection.role === 'dialer') handshaking += 1;
      }
      return {
        nodeId,
        channels: channelStats,
        peers: [...links.values()].map((link) => ({
          peer: link.peer,
          state: link.state,
          openConnections: link.connections.filter((connection) => connection?.state === 'open').length,
          rttMs: link.rttMs,
          rttAverageMs: link.rttAverageMs,
          pendingRequests: link.requests.size,
        })),
        refusals: { ...refusals },
        acceptedConnections,
        readPauses,
        pingsSent,
        ackFramesSent: ackCounters.ackFramesSent,
        acksInBlocks: ackCounters.acksInBlocks,
        duplicateNodeIds,
        listenerErrors,
        threadConnections: socketThread?.size ?? 0,
        socketThreadFailures,
        handshakesInProgress: handshaking,
        openConnections: open,
      };
    },
    close() {
      // A second call (a shutdown hook beside the owner, say) waits for the same close: it
      // resolved at once, telling its caller the port was free while it was still bound.
      closing ??= closeOnce();
      return closing;
    },
  };
  return api;
}
