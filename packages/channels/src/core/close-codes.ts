// WebSocket close codes this transport uses. RFC 6455 §7.4.2 leaves 4000–4999 to applications;
// each refusal has its own code so the other side (and its operator) learns exactly why.

export const CLOSE_CODES = Object.freeze({
  /** Normal close: `disconnect()` or `close()` on either side (RFC 6455). */
  normal: 1000,
  /** The transport is shutting down (RFC 6455 "going away"). */
  goingAway: 1001,
  /** A WebSocket frame larger than the connection's hard cap; sent by `ws` before buffering it (RFC 6455 "message too big"). */
  wsMessageTooBig: 1009,
  /** The peer speaks another protocol version (or not this protocol at all). */
  protocolMismatch: 4001,
  /** The peer belongs to another cluster. */
  clusterMismatch: 4002,
  /** HMAC challenge-response failed: the peer does not hold the cluster secret. */
  authenticationFailed: 4003,
  /** The handshake did not finish within `limits.handshakeTimeoutMs`. */
  handshakeTimeout: 4004,
  /** An application frame arrived before the handshake completed. */
  messageBeforeHandshake: 4005,
  /** A frame or its CBOR body is malformed (bad header, undecodable CBOR, wrong shape). */
  malformedFrame: 4006,
  /** A frame is larger than its channel's cap (checked on the length, before decoding). */
  frameTooLarge: 4007,
  /** A frame names a channel or lane that the handshake did not agree on. */
  unknownChannel: 4008,
  /** A chunked message declares (or reaches) more than the channel's `maxMessageBytes`, or reassembly exceeds its budget. */
  oversizedMessage: 4009,
  /** Too many connections from one remote address. */
  tooManyConnections: 4010,
  /** Too many handshakes in progress (from one address or in total). */
  tooManyHandshakes: 4011,
  /** The peer claims this node's own id. */
  nodeIdConflict: 4012,
  /** The peer is not the node the dialer expected at that address. */
  unexpectedPeer: 4013,
  /** No frame or pong within `idleTimeoutMs`: the connection is presumed half-open. */
  idleTimeout: 4014,
  /** A simultaneous dial lost the tie-break, or a newer session replaced this one. */
  superseded: 4016,
  /** The two sides configured different channel sets (names, parallelism, reliability, mode). */
  channelSetMismatch: 4017,
  /** A lane referred to a session the acceptor does not know. */
  unknownSession: 4019,
  /** The sender exceeded the credit the receiver granted. */
  creditExceeded: 4020,
  /** The peer's TLS certificate does not name the node id it claims (`security.tls.bindNodeId`). */
  certificateMismatch: 4021,
  /**
   * A new session claims a node id whose session is alive (heard from within two heartbeat
   * intervals), and no certificate binds the claim; or it comes from an incarnation of that id
   * that a newer one replaced (a second live process with the id, certificate or not). The
   * dialer retries with backoff.
   */
  duplicateSession: 4022,
});

/**
 * How a node that leaves a session on purpose (`disconnect()`, `close()`) starts the reason of
 * its close frames: the goodbye. The code alone cannot say it: an intermediary (a proxy, a load
 * balancer) closes with 1000 or 1001 too while the node behind it lives, and a node closes the
 * rest of a session with 1000 when one of its connections broke. So a close counts as a leave
 * only with this reason, which nothing but a leaving node writes; any other close is a lost
 * connection. A node of a release before the goodbye never writes it: its closes are taken for
 * lost connections, as they were. It rides in the close frame, which every release already
 * sends, rather than in a frame of its own, which a node of an earlier release (of the same
 * protocol version) would refuse as malformed (4006).
 */
const GOODBYE_PREFIX = 'goodbye: ';

/** The close reason of a deliberate leave: the goodbye, then why. */
export function goodbyeReason(reason: string): string {
  return `${GOODBYE_PREFIX}${reason}`;
}

/** Whether a close reason a peer sent is its goodbye (see goodbyeReason). */
export function isGoodbye(reason: string): boolean {
  return reason.startsWith(GOODBYE_PREFIX);
}

export type CloseCodeName = keyof typeof CLOSE_CODES;

const NAMES = new Map<number, CloseCodeName>(Object.entries(CLOSE_CODES).map(([name, code]) => [code, name as CloseCodeName]));

const DESCRIPTIONS: Readonly<Record<CloseCodeName, string>> = {
  normal: 'closed normally',
  goingAway: 'peer is shutting down',
  wsMessageTooBig: 'WebSocket frame above the hard cap',
  protocolMismatch: 'protocol version mismatch',
  clusterMismatch: 'cluster name mismatch',
  authenticationFailed: 'authentication failed',
  handshakeTimeout: 'handshake timed out',
  messageBeforeHandshake: 'message before handshake',
  malformedFrame: 'malformed frame',
  frameTooLarge: 'frame too large for its channel',
  unknownChannel: 'unknown channel',
  oversizedMessage: 'oversized chunked message',
  tooManyConnections: 'too many connections from this address',
  tooManyHandshakes: 'too many pending handshakes',
  nodeIdConflict: 'node id conflict',
  unexpectedPeer: 'unexpected peer at this address',
  idleTimeout: 'idle timeout (half-open connection)',
  superseded: 'superseded by another connection',
  channelSetMismatch: 'channel set mismatch',
  unknownSession: 'unknown session',
  creditExceeded: 'flow-control credit exceeded',
  certificateMismatch: 'certificate does not name the claimed node id',
  duplicateSession: 'a live session already holds this node id',
};

/** The name of a close code this transport uses, or undefined. */
export function closeCodeName(code: number): CloseCodeName | undefined {
  return NAMES.get(code);
}

/** A human-readable description of a close code, e.g. for logs and error messages. */
export function describeCloseCode(code: number): string {
  const name = NAMES.get(code);
  return name === undefined ? `close code ${code}` : `${DESCRIPTIONS[name]} (${code})`;
}
