// Counters, kept as plain mutable numbers on the hot path and copied out by `stats()`.
import type { CloseCodeName } from '../core/close-codes';

export interface ChannelCounters {
  /** Messages accepted by send/request/replies. */
  messagesQueued: number;
  /** Messages refused because the queue was full. */
  rejectedFull: number;
  /**
   * Messages dropped because the peer went down (queued or unacknowledged), and requests taken
   * back before they left when a restart or a new session of the peer failed them.
   */
  droppedPeerDown: number;
  /**
   * Messages queued for a peer before its limits were known (before its first session, or while
   * it restarted with other ones) and larger than its `maxMessageBytes` for the channel, which it
   * stated in the handshake: dropped when the session opens, unsent (a request among them fails
   * with MessageTooLargeError, each other one is reported on `send-error`). Once the limits are
   * known, `send` throws instead.
   */
  droppedTooLarge: number;
  /** Monotonic messages replaced by a newer one with the same key before being sent. */
  replaced: number;
  framesSent: number;
  bytesSent: number;
  framesReceived: number;
  bytesReceived: number;
  messagesReceived: number;
  /** Reliable messages sent again after a reconnect because they were not acknowledged. */
  retransmitted: number;
  /** Reliable messages received again after a reconnect and not delivered twice. */
  duplicatesDropped: number;
  /**
   * Reliable messages that never arrived, counted when a later sequence number of the same
   * sender stream did (the numbers skipped). A peer that drops what it held for this node (at
   * its peer-down) starts a new session epoch, so this node reports peer-down too and starts a
   * new stream; and what a peer takes back at a session change (replies nobody waits for, its
   * failed requests) either never had a number or, towards a restarted node, is numbered again.
   * A gap therefore means messages lost without a peer-down here, which a peer of this protocol
   * version does not cause (those of versions without session epochs, which could, are refused).
   */
  sequenceGaps: number;
  /** Messages that arrived with no handler registered for the channel. */
  noHandler: number;
  /** Handlers that threw. */
  handlerErrors: number;
  /**
   * Messages whose payload this node could not decode (the CBOR screen refused it, or cbor-x threw
   * on it), dropped in place of delivery: only a peer of another version or build, or a hostile
   * one, sends one, since `send` refuses what this version's receiver refuses. A request among
   * them got an error reply, a reply failed its request. On a reliable channel each was
   * acknowledged as taken, so that it did not hold back its lane.
   */
  undecodableDropped: number;
  /** Replies that found no waiting request: it timed out or failed when the peer went down. */
  lateReplies: number;
  /** Replies to a request id this transport never issued (dropped). */
  unknownReplies: number;
  /** Replies replaced by a QueueFullError reply: the replies waiting for that peer held `limits.maxReplyBytes`. */
  repliesFailed: number;
  /**
   * Requests left unanswered: `limits.maxReplyMessages` replies were waiting for that peer or
   * being produced (handler not called, or its reply discarded), or the requester's session
   * ended before the reply left (it restarted, or either side reported peer-down), so nobody
   * waited for it.
   */
  repliesDropped: number;
  /**
   * Requests that timed out while still queued on this side, nothing of them sent yet: taken out
   * of the queue, so the peer never handles them. (One that timed out after it started to leave
   * may still be handled there; its reply then counts under `lateReplies`.)
   */
  requestsTimedOutUnsent: number;
}

export function createChannelCounters(): ChannelCounters {
  return {
    messagesQueued: 0,
    rejectedFull: 0,
    droppedPeerDown: 0,
    droppedTooLarge: 0,
    replaced: 0,
    framesSent: 0,
    bytesSent: 0,
    framesReceived: 0,
    bytesReceived: 0,
    messagesReceived: 0,
    retransmitted: 0,
    duplicatesDropped: 0,
    sequenceGaps: 0,
    noHandler: 0,
    handlerErrors: 0,
    undecodableDropped: 0,
    lateReplies: 0,
    unknownReplies: 0,
    repliesFailed: 0,
    repliesDropped: 0,
    requestsTimedOutUnsent: 0,
  };
}

/** What travelled on one lane (one connection in per-channel mode) of a channel, over all peers. */
export interface LaneCounters {
  /** Messages framed for sending (a chunked one when its last chunk is; a resent one again). */
  messagesSent: number;
  framesSent: number;
  bytesSent: number;
  messagesReceived: number;
  framesReceived: number;
  bytesReceived: number;
}

export function createLaneCounters(): LaneCounters {
  return { messagesSent: 0, framesSent: 0, bytesSent: 0, messagesReceived: 0, framesReceived: 0, bytesReceived: 0 };
}

/** Acknowledgements of reliable lanes sent, over all peers and channels. */
export interface AckCounters {
  /** ACK frames sent: acknowledgements that found no BLOCK frame going their way to ride in. */
  ackFramesSent: number;
  /** Acknowledgements (one per lane) that rode in BLOCK frames instead. */
  acksInBlocks: number;
}

export interface ChannelStats extends ChannelCounters {
  /** Per lane, in lane order (`parallelism` lanes; one in single-connection mode). */
  lanes: LaneCounters[];
  /** Messages waiting to be sent, over all peers. */
  queuedMessages: number;
  queuedBytes: number;
  /** Reliable messages sent and not yet acknowledged, over all peers. */
  unackedMessages: number;
  unackedBytes: number;
}

export interface PeerStats {
  readonly peer: string;
  readonly state: 'connecting' | 'up' | 'reconnecting' | 'down';
  readonly openConnections: number;
  /** Latest heartbeat round trip, ms (0 before the first). */
  readonly rttMs: number;
  /** Exponential moving average of the round trips, ms. */
  readonly rttAverageMs: number;
  readonly pendingRequests: number;
}

export interface TransportStats {
  readonly nodeId: string;
  readonly channels: Record<string, ChannelStats>;
  readonly peers: PeerStats[];
  /** Connections closed by this node because of what the other side did, by reason. */
  readonly refusals: Partial<Record<CloseCodeName | 'other', number>>;
  /** Inbound connections accepted at the WebSocket level (before the handshake). */
  readonly acceptedConnections: number;
  /**
   * Times a connection's reads were paused for the rest of an event-loop turn because its frames
   * in that turn reached `limits.turnBytes` (so one busy connection cannot hold the loop).
   */
  readonly readPauses: number;
  /**
   * Heartbeat pings sent. A connection is pinged only when this side sent nothing on it during
   * the last heartbeat interval (and once every ten intervals for a round-trip sample), unless
   * the idle timeout is under three intervals.
   */
  readonly pingsSent: number;
  /**
   * ACK frames sent: the acknowledgements of reliable lanes that found no BLOCK frame going back
   * on their connection to ride in, within `timing.ackDelayMs` or the same turn.
   */
  readonly ackFramesSent: number;
  /** Acknowledgements (one per lane) that rode in BLOCK frames. */
  readonly acksInBlocks: number;
  /**
   * Times this node saw two live processes present one node id (an incarnation heard from after
   * another replaced it, or the live session answering while another process keeps asking for
   * it); each is reported on `identity-error`, at most once a minute per node id.
   */
  readonly duplicateNodeIds: number;
  /**
   * Errors the listening server emitted once listening (a failed accept), each also reported to
   * the telemetry sink as `['channels', 'listener', 'error']`; the server goes on listening.
   */
  readonly listenerErrors: number;
  /** Connections open or opening in the socket thread (channels with `thread`). */
  readonly threadConnections: number;
  /** Times the socket thread failed or exited by itself (its connections closed, and were dialed again). */
  readonly socketThreadFailures: number;
  /** Inbound connections from their TCP accept (before TLS and the upgrade) until the handshake finishes, plus dials not yet open. */
  readonly handshakesInProgress: number;
  readonly openConnections: number;
}
