// One WebSocket between two nodes: the handshake (handshake.ts) on either side, then frames in
// and out. Liveness (lastReceived) is tracked here and checked by the link's heartbeat.
import { randomBytes } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import type { Scheduler, Timer } from '@foundation/core';
import type { WebSocket } from 'ws';
import type { CborCodec } from '../core/cbor';
import { CLOSE_CODES } from '../core/close-codes';
import { FRAME_TYPES } from '../core/frames';
import {
  HandshakeError,
  MAX_HANDSHAKE_FRAME_BYTES,
  NONCE_BYTES,
  READY_FRAME,
  decodeAuth,
  decodeChallenge,
  decodeHello,
  encodeAuth,
  encodeChallenge,
  encodeHello,
  handshakeProof,
  helloExpects,
  proofMatches,
} from '../core/handshake';
import type { ChallengeFields, Hello, ReceivedHello } from '../core/handshake';
import type { WireLimits } from '../core/wire-limits';
import { SOCKET_STATE, capWsMessages } from './frame-socket';
import type { Assembled, FrameSocket } from './frame-socket';
import type { Link } from './link';

/** Who this node is, as the handshake presents it. */
export interface LocalIdentity {
  readonly cluster: string;
  readonly nodeId: string;
  readonly incarnation: string;
  readonly channelDigest: string;
  readonly connections: number;
  /** This node's frame, chunk and message sizes, stated in HELLO and CHALLENGE (wire-limits.ts). */
  readonly limits: WireLimits;
  readonly secret: Uint8Array;
  readonly codec: CborCodec;
  readonly clock: Scheduler;
  /** Bytes read from one connection per event-loop turn before its socket pauses until the next turn. */
  readonly turnBytes: number;
  /**
   * This node's session epoch for `peer`, as the handshake presents it (see handshake.ts); a
   * fresh one for a peer it holds none for, or an unknown one (`undefined`: a dial by URL).
   */
  sessionEpoch(peer: string | undefined): number;
}

/** The peer at the other end, once its proof checked out. */
export interface PeerIdentity {
  readonly nodeId: string;
  readonly incarnation: string;
  /** The peer's session epoch for this node. */
  readonly epoch: number;
  /** The peer's frame, chunk and message sizes (wire-limits.ts). */
  readonly limits: WireLimits;
}

export type Refusal = { readonly code: number; readonly reason: string } | undefined;

/** A close frame carries at most 125 bytes, 2 of them the code (RFC 6455 §5.5); ws throws above that. */
const MAX_CLOSE_REASON_BYTES = 123;

/**
 * `reason` cut to fit a close frame: at most 123 bytes of UTF-8, never in the middle of a
 * character. Reasons may quote what a peer sent (a decoder's error), so characters may take
 * several bytes each, and a cut by characters is not enough: ws would throw from `close`.
 */
export function closeReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_CLOSE_REASON_BYTES) return reason;
  let bytes = 0;
  let end = 0;
  for (const character of reason) {
    bytes += Buffer.byteLength(character);
    if (bytes > MAX_CLOSE_REASON_BYTES) break;
    end += character.length;
  }
  return reason.slice(0, end);
}

/**
 * Lowers the cap on one incoming message to MAX_HANDSHAKE_FRAME_BYTES, and returns the cap it
 * replaced. The socket checks it on each frame's header, before buffering the payload; the
 * handshake's own cap is checked on a whole message, once buffered. Without this, a party that
 * has proved nothing (whoever opens a connection, or answers one) could make this node buffer a
 * message as large as its application frames allow (with `chunkBytes: Infinity`, the largest
 * `maxMessageBytes`) on every connection still in its handshake.
 */
export function capToHandshakeFrames(socket: WebSocket): number | undefined {
  return capWsMessages(socket, MAX_HANDSHAKE_FRAME_BYTES);
}

export interface ConnectionCallbacks {
  /** Acceptor: a HELLO proved itself (AUTH verified); return a refusal to close instead of READY. */
  admit?(connection: Connection, hello: ReceivedHello): Refusal;
  /**
   * The peer claims `nodeId` (acceptor: in HELLO; dialer: in a verified CHALLENGE); return a
   * refusal when its TLS certificate may not speak for that id.
   */
  verifyIdentity?(connection: Connection, nodeId: string): Refusal;
  /** Dialer: the acceptor proved itself (CHALLENGE verified); return a refusal to stop here. */
  identified?(connection: Connection, peer: PeerIdentity): Refusal;
  /** The handshake finished: frames may flow. */
  opened(connection: Connection): void;
  /** An application or control frame on an open connection. */
  frame(connection: Connection, frame: Buffer, assembled: Assembled | undefined): void;
  /** The connection closed; `local` when this side closed it (with `code`). */
  closed(connection: Connection, code: number, reason: string, local: boolean): void;
  /** Reads paused until the next event-loop turn: this turn's frames reached `turnBytes`. */
  readPaused?(connection: Connection): void;
  /** A pong answered this side's ping after `rttMs`. */
  pong?(connection: Connection, rttMs: number): void;
  /** A handshake or framing violation by the other side, before closing with `code`. */
  violation(connection: Connection, code: number, reason: string): void;
}

type State = 'handshake' | 'open' | 'closed';

export class Connection {
  state: State = 'handshake';
  /** Monotonic ms of the last frame or pong received. */
  lastReceived: number;
  /** Bytes received in the current event-loop turn; the turn ends in `endTurn`. */
  private turnReceived = 0;
  private turnScheduled = false;
  private pausedForTurn = false;
  /** Set when the handshake reveals the peer. */
  peer: PeerIdentity | undefined;
  /** Session and connection index (dialer: chosen; acceptor: from HELLO). */
  session: string;
  index: number;
  /** Monotonic ms of the last ping sent, for round-trip samples (0 once its pong came). */
  pingSentAt = 0;
  /** Monotonic ms of the last ping sent, kept after its pong (how long since a round-trip sample). */
  lastPingAt = 0;
  /** The handshake finished (the connection may have closed since). */
  everOpen = false;
  /** A frame left on this connection since the transport's last heartbeat (which clears it; see there). */
  sentSinceHeartbeat = true;
  /** The session epoch this side presented (HELLO or CHALLENGE), once sent. */
  localEpoch = 0;
  private helloBody: Uint8Array | undefined;
  private challengeFields: Uint8Array | undefined;
  private localClose: { code: number; reason: string } | undefined;
  /** Destroys the socket if the peer does not answer this side's close in time. */
  private closeDeadline: Timer | undefined;
  private readonly ownNonce = randomBytes(NONCE_BYTES);
  private expectedPeer: string | undefined;
  private pendingHello: ReceivedHello | undefined;
  /** ws's cap on one incoming message, restored when the handshake finishes (see capToHandshakeFrames). */
  private messageCap: number | undefined;
  /** The link this connection belongs to (dialed by a link, or attached on arrival). */
  link: Link | undefined;
  /** Monotonic ms when the connection was created (handshake deadline). */
  readonly createdAt: number;
  /** The peer's TLS certificate (acceptor: the client's; dialer: the server's), when TLS is on. */
  peerCertificate: PeerCertificate | undefined;
  /** The peer's node id was checked against its certificate. */
  identityBound = false;

  constructor(
    readonly role: 'dialer' | 'acceptor',
    readonly socket: FrameSocket,
    readonly remoteAddress: string,
    private readonly identity: LocalIdentity,
    private readonly callbacks: ConnectionCallbacks,
    now: number,
    dial?: { session: string; index: number; expectedPeer: string | undefined },
  ) {
    this.lastReceived = now;
    this.createdAt = now;
    this.session = dial?.session ?? '';
    this.index = dial?.index ?? 0;
    let sendHello: (() => void) | undefined;
    socket.listen({
      message: (data, isBinary, assembled) => this.receive(data, isBinary, assembled),
      open: () => sendHello?.(),
      // A ping is a frame from a live peer too: a peer that has nothing else to send pings.
      ping: () => {
        this.lastReceived = identity.clock.monotonic();
      },
      pong: () => {
        const now = identity.clock.monotonic();
        this.lastReceived = now;
        if (this.pingSentAt > 0) this.callbacks.pong?.(this, now - this.pingSentAt);
        this.pingSentAt = 0;
      },
      close: (code, reason) => this.onSocketClose(code, reason),
      // Protocol errors (bad opcodes, oversized frames: 1009) come here, then a close.
      error: (error) => {
        if (this.state === 'closed') return;
        const code = error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? CLOSE_CODES.wsMessageTooBig : CLOSE_CODES.malformedFrame;
        if (error.code !== undefined && error.code.startsWith('WS_ERR_')) this.callbacks.violation(this, code, error.message);
      },
    });
    // Until the handshake finishes, no message may be larger than a handshake frame.
    if (role === 'acceptor') this.messageCap = socket.capMessages(MAX_HANDSHAKE_FRAME_BYTES);
    if (role === 'dialer' && dial !== undefined) {
      sendHello = (): void => {
        // Frames are parsed once the socket is open; nothing has arrived yet.
        this.messageCap = socket.capMessages(MAX_HANDSHAKE_FRAME_BYTES);
        // Read when HELLO leaves, not when the dial starts: the epoch may change meanwhile.
        this.localEpoch = identity.sessionEpoch(dial.expectedPeer);
        const hello: Hello = {
          cluster: identity.cluster,
          nodeId: identity.nodeId,
          incarnation: identity.incarnation,
          epoch: this.localEpoch,
          session: dial.session,
          connection: dial.index,
          connections: identity.connections,
          channelDigest: identity.channelDigest,
          expectedPeer: dial.expectedPeer,
          nonce: this.ownNonce,
          limits: identity.limits,
        };
        const { frame, body } = encodeHello(identity.codec, hello, identity.secret);
        this.helloBody = body;
        this.expectedPeer = dial.expectedPeer;
        socket.send(frame);
      };
      if (socket.readyState === SOCKET_STATE.open) sendHello();
    }
  }

  /**
   * Open and not closing: once this side has closed (or terminated) the connection, ws discards
   * what is sent until its close event, so frames must stay queued for the next connection.
   */
  get writable(): boolean {
    return this.state === 'open' && this.localClose === undefined;
  }

  /** Sends one frame; false when the connection is not writable. `onWritten` runs once ws has written it (or failed to). */
  send(frame: Uint8Array, onWritten?: () => void): boolean {
    if (!this.writable) return false;
    this.sentSinceHeartbeat = true;
    this.socket.send(frame, onWritten);
    return true;
  }

  /** Holds this connection's writes until `uncork`, so that the frames of one turn reach the kernel in one write. */
  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  /** Bytes accepted by `send` and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  ping(now: number): void {
    if (this.socket.readyState !== SOCKET_STATE.open) return;
    this.pingSentAt = now;
    this.lastPingAt = now;
    this.socket.ping();
  }

  /** Closes with a code from CLOSE_CODES; a socket that does not finish closing in time is destroyed. */
  close(code: number, reason: string): void {
    if (this.state === 'closed' || this.localClose !== undefined) return;
    this.localClose = { code, reason };
    const readyState = this.socket.readyState;
    if (readyState === SOCKET_STATE.connecting) {
      this.socket.terminate();
      return;
    }
    if (readyState !== SOCKET_STATE.open) return;
    this.socket.close(code, closeReason(reason));
    // Do not wait on a peer that never answers the close handshake.
    this.closeDeadline = this.identity.clock.setTimer(1_000, () => this.socket.terminate());
  }

  /** Drops the socket at once (half-open connections, shutdown). */
  terminate(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.localClose ??= { code, reason };
    this.socket.terminate();
  }

  private onSocketClose(code: number, reason: string): void {
    // Answered (or dropped) in time: the deadline, kept, held the connection for the rest of it,
    // and the process too when the clock keeps it alive.
    this.closeDeadline?.cancel();
    this.closeDeadline = undefined;
    if (this.state === 'closed') return;
    this.state = 'closed';
    const local = this.localClose;
    this.callbacks.closed(this, local?.code ?? code, local?.reason ?? reason, local !== undefined);
  }

  /**
   * Bounds the work one connection's reads cause in one event-loop turn. libuv reads a readable
   * socket up to 32 times (64 KiB each) before it polls the others, so a bulk connection could
   * otherwise hand this loop 2 MiB of frames while a control message waits on another socket.
   * Past `turnBytes`, the socket pauses (what the kernel holds stays there, and TCP's window
   * pushes back on the sender) and resumes after the loop has polled every other socket once.
   */
  private budgetTurn(length: number): void {
    this.turnReceived += length;
    if (!this.turnScheduled) {
      this.turnScheduled = true;
      setImmediate(this.endTurn);
    }
    if (this.turnReceived >= this.identity.turnBytes && !this.pausedForTurn && !this.socket.isPaused) {
      this.pausedForTurn = true;
      this.socket.pause();
      this.callbacks.readPaused?.(this);
    }
  }

  private readonly endTurn = (): void => {
    this.turnScheduled = false;
    this.turnReceived = 0;
    if (!this.pausedForTurn) return;
    this.pausedForTurn = false;
    if (this.state !== 'closed') this.socket.resume();
  };

  private refuse(code: number, reason: string): void {
    this.callbacks.violation(this, code, reason);
    this.close(code, reason);
  }

  private receive(data: Buffer, isBinary: boolean, assembled: Assembled | undefined): void {
    if (this.state === 'closed' || this.localClose !== undefined) return;
    this.lastReceived = this.identity.clock.monotonic();
    this.budgetTurn(assembled?.frameLength ?? data.length);
    if (!isBinary) {
      this.refuse(CLOSE_CODES.malformedFrame, 'text frames are not part of the protocol');
      return;
    }
    if (data.length === 0) {
      this.refuse(CLOSE_CODES.malformedFrame, 'empty frame');
      return;
    }
    if (this.state === 'open') {
      this.callbacks.frame(this, data, assembled);
      return;
    }
    if (data[0]! >= FRAME_TYPES.block) {
      this.refuse(CLOSE_CODES.messageBeforeHandshake, `frame type 0x${data[0]!.toString(16)} before the handshake finished`);
      return;
    }
    if (data.length > MAX_HANDSHAKE_FRAME_BYTES) {
      this.refuse(CLOSE_CODES.frameTooLarge, `handshake frame of ${data.length} bytes`);
      return;
    }
    try {
      if (this.role === 'acceptor') this.acceptorStep(data);
      else this.dialerStep(data);
    } catch (error) {
      if (error instanceof HandshakeError) this.refuse(error.closeCode, error.message);
      else this.refuse(CLOSE_CODES.malformedFrame, error instanceof Error ? error.message : 'handshake failed');
    }
  }

  private acceptorStep(data: Buffer): void {
    const identity = this.identity;
    if (this.helloBody === undefined) {
      const { hello, body } = decodeHello(identity.codec, data, identity.secret);
      if (hello.cluster !== identity.cluster) throw new HandshakeError(CLOSE_CODES.clusterMismatch, `cluster "${hello.cluster}" is not "${identity.cluster}"`);
      if (hello.channelDigest !== identity.channelDigest || hello.connections !== identity.connections) {
        throw new HandshakeError(CLOSE_CODES.channelSetMismatch, 'channel sets differ');
      }
      // One size per channel: the digests matched, so a count that differs is not an honest HELLO.
      checkLimitsCount(hello.limits, identity.limits);
      if (hello.nodeId === identity.nodeId) throw new HandshakeError(CLOSE_CODES.nodeIdConflict, 'peer claims this node\'s id');
      const mismatch = this.callbacks.verifyIdentity?.(this, hello.nodeId);
      if (mismatch !== undefined) throw new HandshakeError(mismatch.code, mismatch.reason);
      this.helloBody = body;
      this.pendingHello = hello;
      this.localEpoch = identity.sessionEpoch(hello.nodeId);
      const challenge: ChallengeFields = {
        nodeId: identity.nodeId,
        incarnation: identity.incarnation,
        epoch: this.localEpoch,
        nonce: this.ownNonce,
        limits: identity.limits,
      };
      const { frame, fields } = encodeChallenge(identity.codec, challenge, identity.secret, body);
      this.challengeFields = fields;
      this.socket.send(frame);
      return;
    }
    const hello = this.pendingHello;
    if (this.challengeFields === undefined || hello === undefined) throw new HandshakeError(CLOSE_CODES.malformedFrame, 'unexpected handshake frame');
    if (data[0] !== FRAME_TYPES.auth) throw new HandshakeError(CLOSE_CODES.malformedFrame, 'expected AUTH');
    const received = decodeAuth(data);
    const expected = handshakeProof(identity.secret, 'dialer', this.helloBody, this.challengeFields);
    if (!proofMatches(expected, received)) throw new HandshakeError(CLOSE_CODES.authenticationFailed, 'dialer proof does not match the cluster secret');
    // Only now that the dialer holds the secret does a digest of another id mean another node.
    if (!helloExpects(identity.secret, hello, identity.nodeId)) {
      throw new HandshakeError(CLOSE_CODES.unexpectedPeer, `the dialer expected another node than ${identity.nodeId}`);
    }
    this.peer = { nodeId: hello.nodeId, incarnation: hello.incarnation, epoch: hello.epoch, limits: hello.limits };
    this.session = hello.session;
    this.index = hello.connection;
    const refusal = this.callbacks.admit?.(this, hello);
    if (refusal !== undefined) {
      this.close(refusal.code, refusal.reason);
      return;
    }
    this.socket.send(READY_FRAME);
    this.open();
  }

  private dialerStep(data: Buffer): void {
    const identity = this.identity;
    if (this.helloBody === undefined) throw new HandshakeError(CLOSE_CODES.malformedFrame, 'handshake frame before HELLO was sent');
    if (this.challengeFields === undefined) {
      const { challenge, fields, proof } = decodeChallenge(identity.codec, data, identity.secret, this.helloBody);
      const expected = handshakeProof(identity.secret, 'acceptor', this.helloBody, fields);
      if (!proofMatches(expected, proof)) throw new HandshakeError(CLOSE_CODES.authenticationFailed, 'acceptor proof does not match the cluster secret');
      checkLimitsCount(challenge.limits, identity.limits);
      if (challenge.nodeId === identity.nodeId) throw new HandshakeError(CLOSE_CODES.nodeIdConflict, 'connected to a node with this node\'s id');
      // The certificate first: 4013 says another node answers at the address, and a link made by
      // connect(url) follows that node (Link.abortSession). A member holding the secret but not
      // a certificate naming the id it claims proves no node, so it is refused as such (4021).
      const mismatch = this.callbacks.verifyIdentity?.(this, challenge.nodeId);
      if (mismatch !== undefined) throw new HandshakeError(mismatch.code, mismatch.reason);
      if (this.expectedPeer !== undefined && challenge.nodeId !== this.expectedPeer) {
        throw new HandshakeError(CLOSE_CODES.unexpectedPeer, `expected ${this.expectedPeer}, found ${challenge.nodeId}`);
      }
      this.challengeFields = fields;
      this.peer = { nodeId: challenge.nodeId, incarnation: challenge.incarnation, epoch: challenge.epoch, limits: challenge.limits };
      const refusal = this.callbacks.identified?.(this, this.peer);
      if (refusal !== undefined) {
        this.close(refusal.code, refusal.reason);
        return;
      }
      this.socket.send(encodeAuth(handshakeProof(identity.secret, 'dialer', this.helloBody, fields)));
      return;
    }
    if (data.length !== 1 || data[0] !== FRAME_TYPES.ready) throw new HandshakeError(CLOSE_CODES.malformedFrame, 'expected READY');
    this.open();
  }

  /**
   * The handshake finished: messages may be as large as the frames this node takes again (ws
   * reads the cap at each frame's header, so it applies from the frame after READY or AUTH).
   */
  private open(): void {
    if (this.messageCap !== undefined) this.socket.capMessages(this.messageCap);
    this.state = 'open';
    this.everOpen = true;
    this.callbacks.opened(this);
  }
}

/** The peer states one `maxMessageBytes` per channel of the (agreed) channel set. */
function checkLimitsCount(peer: WireLimits, own: WireLimits): void {
  if (peer.maxMessageBytes.length !== own.maxMessageBytes.length) {
    throw new HandshakeError(CLOSE_CODES.malformedFrame, `limits name ${peer.maxMessageBytes.length} channels, not ${own.maxMessageBytes.length}`);
  }
}
