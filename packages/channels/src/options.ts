// Transport options, their documented defaults, and two presets: `defaultLanConfig()` for real
// clusters and `defaultLocalConfig()` with fast timings for tests and one-machine demos.
import type { PeerCertificate, SecureContextOptions } from 'node:tls';
import type { Random, Scheduler } from '@foundation/core';
import type { ChannelOptions, ConnectionMode } from './channel-config';
import { ChannelsConfigError } from './errors/channels-config-error';

export interface ListenOptions {
  /** Interface to bind. Default 127.0.0.1. */
  readonly host?: string;
  /** Port; 0 picks a free one (see `address()`). Default 0. */
  readonly port?: number;
}

export interface TlsOptions {
  /** This node's certificate chain (PEM). */
  readonly cert: string | Buffer;
  /** This node's private key (PEM). */
  readonly key: string | Buffer;
  /** The cluster CA (PEM) that signs every node certificate. */
  readonly ca: string | Buffer | readonly (string | Buffer)[];
  /**
   * Mutual TLS: the acceptor requires and verifies a client certificate signed by `ca`.
   * Default true.
   */
  readonly mutual?: boolean;
  /** Server name to verify on outgoing connections; default: the host of the URL. */
  readonly servername?: string;
  /**
   * Bind node ids to certificates: the node id a peer claims in the handshake must be named by
   * its certificate — the subject CN, or a DNS or URI subject alternative name — or the
   * connection is refused with close code 4021 (`certificateMismatch`). Checked by the acceptor
   * (the client certificate) and by the dialer (the server certificate). A function decides
   * instead (true to accept); `false` trusts any certificate of the cluster CA to speak for any
   * node id. Default: `true` when `mutual` (the default), otherwise `false`.
   */
  readonly bindNodeId?: boolean | ((nodeId: string, certificate: PeerCertificate) => boolean);
  /** Further Node TLS options (ciphers, minVersion...), applied to both sides. */
  readonly extra?: SecureContextOptions;
}

export interface SecurityOptions {
  /**
   * The cluster secret for HMAC-SHA256 challenge-response (at least 16 bytes; a random one).
   * It never crosses the wire: the proofs use a key derived from it and the cluster name with
   * scrypt (about 0.1 s), once per process for each secret and cluster. Required.
   */
  readonly secret: string | Uint8Array;
  /** Listen with `wss` (and dial `wss://` URLs) with these certificates. */
  readonly tls?: TlsOptions;
  /**
   * Mask the frames this node sends on connections it dialed with a random key per frame, as
   * RFC 6455 §5.3 requires of clients. Default false: the key is all zero, which `ws` skips (no
   * copy and XOR of every frame). Turn it on when plain `ws://` traffic between nodes passes
   * through HTTP proxies or other intermediaries that inspect it.
   */
  readonly maskFrames?: boolean;
}

export interface TimingOptions {
  /**
   * The heartbeat period: a connection this side sent nothing on during the last period is
   * pinged (every connection, every period, when `idleTimeoutMs` is under three periods), and a
   * busy one every ten periods for a round-trip sample. LAN 1,000 ms; local 100 ms.
   */
  readonly heartbeatIntervalMs?: number;
  /** Nothing received (frames, pings or pongs) for this long: the connection is half-open and is closed. LAN 5,000 ms; local 600 ms. */
  readonly idleTimeoutMs?: number;
  /**
   * The whole handshake must finish within this, counted from the inbound TCP connection (TLS,
   * the upgrade request and HELLO/CHALLENGE/AUTH/READY together). LAN 5,000 ms; local 2,000 ms.
   */
  readonly handshakeTimeoutMs?: number;
  /**
   * How long a lost link may take to come back before `peer-down`. LAN 5,000 ms; local 1,000 ms.
   * Each side counts from when it notices the loss, with its own setting; when the other side's
   * grace ends first, this side reports `peer-down` (then `peer-up`) as the link comes back.
   */
  readonly peerDownGraceMs?: number;
  /** Default `request` timeout. LAN 5,000 ms; local 2,000 ms. */
  readonly requestTimeoutMs?: number;
  /** Reconnect backoff: full jitter in [0, min(max, initial·2^attempt)). LAN 100 ms–10 s; local 10 ms–500 ms. */
  readonly reconnectInitialMs?: number;
  readonly reconnectMaxMs?: number;
  /**
   * Longest wait before a reliable channel's receipt is acknowledged on its own. Until then an
   * acknowledgement rides along with the next frame on its connection; it goes at once when an
   * eighth of the channel's queue bound (messages or bytes) is waiting for it. LAN and local 5 ms.
   */
  readonly ackDelayMs?: number;
}

export interface LimitOptions {
  /** Largest BLOCK frame of coalesced small messages. Default 64 KiB. */
  readonly frameBytes?: number;
  /** Chunk size of large messages; Infinity sends each message as one frame (no chunking). Default 64 KiB. */
  readonly chunkBytes?: number;
  /**
   * Bytes written per event-loop turn before yielding to I/O, and bytes read from one connection
   * per turn before its reads pause until the next turn. Default 256 KiB.
   */
  readonly turnBytes?: number;
  /**
   * Bytes all in-progress chunked messages from one peer may hold. At least a largest message on
   * every lane at once: the sum over channels of (maxMessageBytes + 16 KiB of headers) × lanes.
   * Default 512 MiB.
   */
  readonly maxReassemblyBytes?: number;
  /** Inbound TCP connections (from their arrival, before TLS and the upgrade) from one remote address. Default 256. */
  readonly maxConnectionsPerAddress?: number;
  /** Inbound handshakes in progress (from the TCP connection's arrival) from one remote address. Default 32. */
  readonly maxPendingHandshakesPerAddress?: number;
  /** Inbound handshakes in progress in total. Default 256. */
  readonly maxPendingHandshakes?: number;
  /**
   * Replies waiting for one peer (queued or unacknowledged) or being produced (a handler's promise
   * that has not settled), over all channels. At the bound a further request from that peer is
   * dropped unanswered (its handler is not called). Default 1,024.
   */
  readonly maxReplyMessages?: number;
  /**
   * Bytes of replies waiting for one peer. A reply that would exceed it is replaced by a small
   * QueueFullError reply (an empty reply queue takes one reply of any size). Default 16 MiB.
   */
  readonly maxReplyBytes?: number;
  /**
   * Peers whose session epoch, receive state (the sequence numbers delivered from them) and
   * sequence floor this node keeps after their link goes, so that a peer coming back is known;
   * past it the longest unused are forgotten. Default 10,000.
   */
  readonly rememberedPeers?: number;
}

export interface TelemetryEvent {
  /** For example ['channels', 'peer', 'up'], ['channels', 'connection', 'refused'], ['channels', 'rtt']. */
  readonly name: readonly string[];
  readonly measurements: Readonly<Record<string, number>>;
  readonly metadata: Readonly<Record<string, unknown>>;
}

export interface TransportOptions {
  /** This node's id: 1–200 printable ASCII characters, unique in the cluster. */
  readonly nodeId: string;
  /** Nodes of another cluster are refused. Default "foundation". */
  readonly cluster?: string;
  /** Where to accept connections; omit (or false) for a node that only dials. */
  readonly listen?: ListenOptions | false;
  /** The channel set; every node of the cluster must configure the same names, lanes and reliability. Default `defaultChannels()`. */
  readonly channels?: Readonly<Record<string, ChannelOptions>>;
  readonly security: SecurityOptions;
  readonly timing?: TimingOptions;
  readonly limits?: LimitOptions;
  /**
   * `per-channel` (default): each lane of each channel has its own connection. `single`: every
   * channel shares one connection (with `chunkBytes: Infinity` this is the naive baseline).
   */
  readonly connectionMode?: ConnectionMode;
  /** Node id → URL (`ws://host:port` or `wss://`), for `connect(nodeId)`. */
  readonly addresses?: Readonly<Record<string, string>>;
  /** Called for a node id missing from `addresses`. */
  readonly resolveAddress?: (nodeId: string) => string | undefined;
  /** Time and timers. Default: the system clock (timers unref'd). */
  readonly clock?: Scheduler;
  /** Jitter for reconnect backoff, nonces excepted (always from the CSPRNG). Default crypto-backed. */
  readonly random?: Random;
  /** Receives telemetry-shaped events (connections, refusals, peers, round trips). */
  readonly telemetry?: (event: TelemetryEvent) => void;
}

export interface ResolvedTiming {
  readonly heartbeatIntervalMs: number;
  readonly idleTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly peerDownGraceMs: number;
  readonly requestTimeoutMs: number;
  readonly reconnectInitialMs: number;
  readonly reconnectMaxMs: number;
  readonly ackDelayMs: number;
}

export interface ResolvedLimits {
  readonly frameBytes: number;
  readonly chunkBytes: number;
  readonly turnBytes: number;
  readonly maxReassemblyBytes: number;
  readonly maxConnectionsPerAddress: number;
  readonly maxPendingHandshakesPerAddress: number;
  readonly maxPendingHandshakes: number;
  readonly maxReplyMessages: number;
  readonly maxReplyBytes: number;
  readonly rememberedPeers: number;
}

const LAN_TIMING: ResolvedTiming = Object.freeze({
  heartbeatIntervalMs: 1_000,
  idleTimeoutMs: 5_000,
  handshakeTimeoutMs: 5_000,
  peerDownGraceMs: 5_000,
  requestTimeoutMs: 5_000,
  reconnectInitialMs: 100,
  reconnectMaxMs: 10_000,
  ackDelayMs: 5,
});

const LOCAL_TIMING: ResolvedTiming = Object.freeze({
  heartbeatIntervalMs: 100,
  idleTimeoutMs: 600,
  handshakeTimeoutMs: 2_000,
  peerDownGraceMs: 1_000,
  requestTimeoutMs: 2_000,
  reconnectInitialMs: 10,
  reconnectMaxMs: 500,
  ackDelayMs: 5,
});

const DEFAULT_LIMITS: ResolvedLimits = Object.freeze({
  frameBytes: 64 * 1024,
  chunkBytes: 64 * 1024,
  turnBytes: 256 * 1024,
  maxReassemblyBytes: 512 * 1024 * 1024,
  maxConnectionsPerAddress: 256,
  maxPendingHandshakesPerAddress: 32,
  maxPendingHandshakes: 256,
  maxReplyMessages: 1_024,
  maxReplyBytes: 16 * 1024 * 1024,
  rememberedPeers: 10_000,
});

/** Timings and limits for a LAN cluster (the defaults). */
export function defaultLanConfig(): { timing: ResolvedTiming; limits: ResolvedLimits } {
  return { timing: { ...LAN_TIMING }, limits: { ...DEFAULT_LIMITS } };
}

/** Fast timings for tests and single-machine demos; limits as on a LAN. */
export function defaultLocalConfig(): { timing: ResolvedTiming; limits: ResolvedLimits } {
  return { timing: { ...LOCAL_TIMING }, limits: { ...DEFAULT_LIMITS } };
}

function check(field: string, value: number, { integer = false, min = 0, allowInfinity = false } = {}): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || (!allowInfinity && !Number.isFinite(value))) {
    throw new ChannelsConfigError(field, `must be a number ≥ ${min}${allowInfinity ? ' (or Infinity)' : ''}`);
  }
  if (integer && Number.isFinite(value) && !Number.isInteger(value)) throw new ChannelsConfigError(field, 'must be an integer');
  return value;
}

export function resolveTiming(options: TimingOptions | undefined): ResolvedTiming {
  const merged = { ...LAN_TIMING, ...stripUndefined(options) };
  for (const [field, value] of Object.entries(merged)) check(`timing.${field}`, value, { min: 1 });
  if (merged.reconnectMaxMs < merged.reconnectInitialMs) throw new ChannelsConfigError('timing.reconnectMaxMs', 'must be ≥ reconnectInitialMs');
  if (merged.idleTimeoutMs <= merged.heartbeatIntervalMs) throw new ChannelsConfigError('timing.idleTimeoutMs', 'must be greater than heartbeatIntervalMs');
  return merged;
}

export function resolveLimits(options: LimitOptions | undefined): ResolvedLimits {
  const merged = { ...DEFAULT_LIMITS, ...stripUndefined(options) };
  check('limits.frameBytes', merged.frameBytes, { integer: true, min: 1024 });
  check('limits.chunkBytes', merged.chunkBytes, { integer: true, min: 1024, allowInfinity: true });
  check('limits.turnBytes', merged.turnBytes, { integer: true, min: 1024 });
  check('limits.maxReassemblyBytes', merged.maxReassemblyBytes, { integer: true, min: 1024 });
  check('limits.maxConnectionsPerAddress', merged.maxConnectionsPerAddress, { integer: true, min: 1 });
  check('limits.maxPendingHandshakesPerAddress', merged.maxPendingHandshakesPerAddress, { integer: true, min: 1 });
  check('limits.maxPendingHandshakes', merged.maxPendingHandshakes, { integer: true, min: 1 });
  check('limits.maxReplyMessages', merged.maxReplyMessages, { integer: true, min: 1 });
  check('limits.maxReplyBytes', merged.maxReplyBytes, { integer: true, min: 1024 });
  check('limits.rememberedPeers', merged.rememberedPeers, { integer: true, min: 1 });
  if (merged.frameBytes > 16 * 1024 * 1024) throw new ChannelsConfigError('limits.frameBytes', 'must be at most 16 MiB');
  return merged;
}

function stripUndefined<T extends object>(value: T | undefined): Partial<T> {
  if (value === undefined) return {};
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Partial<T>;
}
