// Everything this node keeps about one peer: the connections of the current session, the
// outbound queue of every channel lane, the fair scheduler that picks which lane writes next,
// credits in both directions, reassembly and de-duplication of what comes in, and the state
// that decides peer-up, peer-down and reconnects.
//
// A session is up once its connection 0 is open; the other connections (one per lane in the
// per-channel mode) open when a lane of theirs first has something to send: the dialer dials
// it, the acceptor asks the dialer to with an OPEN frame on connection 0. A lane's frames wait
// in its queue until then, so order per lane holds. With the default channel set that makes a
// one-off exchange (a shuffle reply to a stranger, say) one or two connections instead of twelve.
import { createBackoff } from '@foundation/core';
import type { Backoff, Random, Scheduler, Timer } from '@foundation/core';
import type { ChannelDefinition, LaneLayout } from '../channel-config';
import { UndecodablePayload, decodeBlockItems, isStackOverflow } from '../core/block-body';
import type { CborCodec } from '../core/cbor';
import { CLOSE_CODES, goodbyeReason, isGoodbye } from '../core/close-codes';
import { createFairScheduler } from '../core/fair-scheduler';
import type { FairScheduler } from '../core/fair-scheduler';
import {
  FRAME_TYPES,
  FrameFormatError,
  MAX_ACK_ENTRIES,
  MAX_CHUNK_HEADER_BYTES,
  MAX_META_BYTES,
  RELIABLE_BLOCK_HEADER_BYTES,
  blockAckBytes,
  decodeLaneAmounts,
  decodeOpen,
  encodeLaneAmounts,
  encodeOpen,
  readBlockHeader,
  readChunkHeader,
} from '../core/frames';
import type { LaneAmount } from '../core/frames';
import { MetaFormatError, metaFromWire } from '../core/meta';
import type { MessageMeta } from '../core/meta';
import type { ChunkPool } from '../core/chunk-pool';
import { createOutboundQueue } from '../core/outbound-queue';
import type { OutboundMessage, OutboundQueue, PushResult, QueueTally } from '../core/outbound-queue';
import { ReassemblyError, createReassembly } from '../core/reassembly';
import type { Reassembly, ReassemblyBudget } from '../core/reassembly';
import type { ReceiveSequence } from '../core/receive-sequence';
import { agreedLimits } from '../core/wire-limits';
import type { WireLimits } from '../core/wire-limits';
import { MessageTooLargeError } from '../errors/message-too-large-error';
import type { ResolvedLimits, ResolvedTiming } from '../options';
import { NO_ADDRESS } from './address';
import type { AddressLookup } from './address';
import type { Connection, PeerIdentity } from './connection';
import type { Assembled } from './frame-socket';
import { createRequestManager } from './request-manager';
import type { RequestManager } from './request-manager';
import type { AckCounters, ChannelCounters, LaneCounters } from './stats';

export type LinkState = 'connecting' | 'up' | 'reconnecting' | 'down';

/** What a link needs from its transport. */
export interface LinkHost {
  readonly nodeId: string;
  readonly channels: readonly ChannelDefinition[];
  readonly layout: LaneLayout;
  readonly limits: ResolvedLimits;
  /** This node's frame, chunk and message sizes, as the handshake states them. */
  readonly wireLimits: WireLimits;
  readonly timing: ResolvedTiming;
  readonly codec: CborCodec;
  readonly clock: Scheduler;
  readonly random: Random;
  readonly counters: readonly ChannelCounters[];
  /** By global lane. */
  readonly laneCounters: readonly LaneCounters[];
  readonly ackCounters: AckCounters;
  /** Buffers for chunk frames, given back once written. */
  readonly chunkPool: ChunkPool;
  isClosed(): boolean;
  /** Opens connection `index` of `session` towards `url`. */
  dial(link: Link, url: string, session: string, index: number): Connection;
  /** A fresh session id. */
  newSession(): string;
  /** The peer's address from wherever the transport learns addresses, or why none can be dialed. */
  lookUpAddress(peer: string): AddressLookup;
  /** Receive-side de-duplication state that outlives links, per peer incarnation and session epoch. */
  receiveSequences(peer: string, incarnation: string, epoch: number): ReceiveSequence[];
  /**
   * Connection 0 of a session of `link` opened, with the peer's incarnation in `connection.peer`
   * (before the link compares it with the last one): the transport watches for two processes
   * presenting one node id.
   */
  sessionIncarnation(link: Link, connection: Connection): void;
  /** This node dropped what it kept for `peer`: the next session must be a new one on both sides. */
  renewSessionEpoch(peer: string): void;
  /** First sequence numbers for a new link's reliable lanes (they never go backwards for a peer). */
  sequenceFloor(peer: string): readonly number[];
  saveSequenceFloor(peer: string, lastSeqs: readonly number[]): void;
  deliver(link: Link, channel: ChannelDefinition, lane: number, payload: unknown, meta: MessageMeta | undefined): void;
  /**
   * A message whose payload did not decode here (a sender of another version or build, or a
   * hostile one): dropped and counted in its place, a request answered with an error reply, a
   * reply failing its request. On a reliable channel it is acknowledged as taken: see receiveBlock.
   */
  undecodable(link: Link, channel: ChannelDefinition, lane: number, meta: MessageMeta | undefined, error: unknown): void;
  violation(link: Link, connection: Connection, code: number, reason: string): void;
  peerUp(link: Link): void;
  peerDown(link: Link, reason: string): void;
  channelEvent(link: Link, event: 'channel-open' | 'channel-close'): void;
  drained(link: Link, channel: ChannelDefinition): void;
  dropped(link: Link, channel: ChannelDefinition, count: number): void;
  /** A message `send` accepted was dropped unsent: the peer's sizes refuse it (send-error). */
  sendFailed(link: Link, channel: ChannelDefinition, error: MessageTooLargeError): void;
  removeLink(link: Link): void;
  connectionFailed(link: Link, code: number, reason: string): void;
  /**
   * Another node than the peer answers at the link's URL (4013). True when a connect(url) made
   * the link for that URL: the URL then follows the node that answers there (a new dial by URL),
   * and the link keeps it no more.
   */
  urlTakenOver(link: Link): boolean;
}

/** Messages queued on a lane in one turn after which the turn's first frame leaves at once. */
const EARLY_FLUSH_MESSAGES = 16;

/** Close codes that mean "this will not work until someone changes configuration". */
const PERMANENT_REFUSALS = new Set<number>([
  CLOSE_CODES.protocolMismatch,
  CLOSE_CODES.clusterMismatch,
  CLOSE_CODES.authenticationFailed,
  CLOSE_CODES.nodeIdConflict,
  CLOSE_CODES.unexpectedPeer,
  CLOSE_CODES.channelSetMismatch,
  CLOSE_CODES.certificateMismatch,
]);

export class Link {
  state: LinkState = 'connecting';
  /** connect() was called: this side keeps the link up (reconnects). */
  wanted = false;
  /** connect() was called with the node id (not only a URL that reached the node). */
  wantedById = false;
  url: string | undefined;
  /** The peer's incarnation in the current (or last) session. */
  incarnation: string | undefined;
  /** The peer's session epoch for this node in the current (or last) session. */
  peerEpoch: number | undefined;
  /**
   * Counts the sessions of the peer's requests: a new one whenever either side ends a session
   * (this side's peer-down, the peer's restart or its new epoch), after which nobody waits for
   * the replies to the requests of the old one. Replies carry the count they answer.
   */
  replySession = 0;
  /**
   * The peer's requests whose handlers returned a promise that has not settled yet: replies
   * being produced, which count against limits.maxReplyMessages with the replies queued.
   */
  repliesInProgress = 0;
  session: string | undefined;
  role: 'dialer' | 'acceptor' | undefined;
  connections: (Connection | undefined)[];
  /** Latest round-trip sample (ms) and its moving average. */
  rttMs = 0;
  rttAverageMs = 0;
  readonly requests: RequestManager;
  readonly queues: OutboundQueue[];
  /**
   * The sizes this side keeps to towards the peer: the smaller of its own and the peer's, from
   * the handshake of the current (or last) session (wire-limits.ts); its own before the first.
   */
  private agreed: WireLimits;
  private limitsKnown = false;
  /** Per channel, what its lanes hold (queued or unacknowledged). */
  private readonly tallies: QueueTally[];
  private readonly scheduler: FairScheduler;
  private readonly credit: number[];
  private readonly reassembly: Reassembly[];
  private readonly budget: ReassemblyBudget;
  private readonly consumed: number[];
  private readonly grantedTotal: number[];
  private readonly receivedTotal: number[];
  /**
   * Messages (duplicates included) and bytes received on each reliable lane since its last
   * acknowledgement; an acknowledgement is due while the count is above zero.
   */
  private readonly unackedMessages: number[];
  private readonly unackedBytes: number[];
  /**
   * Sends the acknowledgements that found no frame to ride along with (timing.ackDelayMs): a
   * BLOCK frame carries those due on its connection (see flush), and any other frame written to
   * the connection in the same turn takes them in an ACK frame beside it (see writeControl).
   */
  private ackTimer: Timer | undefined;
  /** Global lanes by connection index. */
  private readonly lanesOfConnection: number[][];
  private sequences: ReceiveSequence[] = [];
  /** Acceptor: connections of this session it asked the dialer to open; and those not yet sent. */
  private openAsked: boolean[];
  private openPending: number[] = [];
  /** Acceptor: deadlines of this session's OPEN requests. */
  private openTimers: Timer[] = [];
  /**
   * Connections that failed to open while their session was up (refused, timed out, or not
   * dialed when asked), until one of theirs opens or nothing waits for them any more. While any
   * is listed, a session coming up does not end the grace period or reset the backoff: a lane
   * that cannot get its connection makes the link go down after the grace period, rather than
   * bring its session down and up again for ever.
   */
  private readonly failedOpens = new Set<number>();
  /** Per channel, the lane of this turn's keyless messages (-1: none yet), and the next turn's. */
  private readonly turnLane: number[];
  private readonly nextLane: number[];
  private readonly full: boolean[];
  private readonly backoff: Backoff;
  private flushScheduled = false;
  /** A lane ran out of sequence numbers and the session's reset is queued (see resetExhausted). */
  private resetScheduled = false;
  /** This turn already flushed its first messages early (see enqueue). */
  private flushedEarly = false;
  private continuation: NodeJS.Immediate | undefined;
  private controlScheduled: NodeJS.Immediate | undefined;
  private graceTimer: Timer | undefined;
  private reconnectTimer: Timer | undefined;
  private sessionTimer: Timer | undefined;
  private peerUpEmitted = false;
  private everUp = false;
  /** A link that never came up was reported down: once, as peer-up and peer-down alternate. */
  private downReported = false;
  private removed = false;

  constructor(
    readonly peer: string,
    private readonly host: LinkHost,
  ) {
    const { layout, channels, limits } = host;
    this.agreed = host.wireLimits;
    this.connections = new Array<Connection | undefined>(layout.connections).fill(undefined);
    this.openAsked = new Array<boolean>(layout.connections).fill(false);
    this.scheduler = createFairScheduler();
    const floor = host.sequenceFloor(peer);
    this.queues = [];
    this.tallies = channels.map(() => ({ messages: 0, bytes: 0 }));
    for (let lane = 0; lane < layout.totalLanes; lane += 1) {
      const channel = channels[layout.channelOfLane[lane]!]!;
      this.queues.push(
        createOutboundQueue({
          channel: channel.index,
          lane: lane - layout.offsets[channel.index]!,
          reliable: channel.reliable,
          monotonic: channel.monotonic,
          frameBytes: limits.frameBytes,
          chunkBytes: limits.chunkBytes,
          firstSeq: (floor[lane] ?? 0) + 1,
          tally: this.tallies[channel.index]!,
          allocateChunk: host.chunkPool.take,
        }),
      );
      this.scheduler.add(lane, channel.priority);
    }
    const lanes = layout.totalLanes;
    this.credit = new Array<number>(lanes).fill(0);
    this.consumed = new Array<number>(lanes).fill(0);
    this.grantedTotal = new Array<number>(lanes).fill(0);
    this.receivedTotal = new Array<number>(lanes).fill(0);
    this.unackedMessages = new Array<number>(lanes).fill(0);
    this.unackedBytes = new Array<number>(lanes).fill(0);
    this.lanesOfConnection = Array.from({ length: layout.connections }, () => []);
    for (let lane = 0; lane < lanes; lane += 1) this.lanesOfConnection[layout.connectionOfLane[lane]!]!.push(lane);
    this.budget = { used: 0, max: limits.maxReassemblyBytes };
    this.reassembly = [];
    for (let lane = 0; lane < lanes; lane += 1) {
      this.reassembly.push(createReassembly(channels[layout.channelOfLane[lane]!]!.maxMessageBytes, this.budget));
    }
    this.turnLane = new Array<number>(channels.length).fill(-1);
    this.nextLane = new Array<number>(channels.length).fill(0);
    this.full = new Array<boolean>(channels.length).fill(false);
    this.backoff = createBackoff({ initialMs: host.timing.reconnectInitialMs, maxMs: host.timing.reconnectMaxMs, random: host.random });
    this.requests = createRequestManager(host.clock);
  }

  // ---- sending -----------------------------------------------------------------------------

  /** The lane (within the channel) for a message: by key hash, or round robin. */
  pickLane(channel: ChannelDefinition, key: string | undefined): number {
    const lanes = this.host.layout.lanes[channel.index]!;
    if (lanes === 1) return 0;
    if (key !== undefined) return hashKey(key) % lanes;
    // Round robin per turn, not per message, so that one turn's burst is coalesced on one lane;
    // counting only turns that send on the channel, so that a link's first keyless messages take
    // lane 0, and a one-off exchange opens no connection for lane 1 (lanes open on demand).
    let lane = this.turnLane[channel.index]!;
    if (lane < 0) {
      lane = this.nextLane[channel.index]! % lanes;
      this.turnLane[channel.index] = lane;
      this.nextLane[channel.index] = lane + 1;
    }
    return lane;
  }

  /**
   * The largest payload the peer takes on `channel`: the smaller of the two nodes'
   * `maxMessageBytes`, once a handshake stated the peer's (this node's own until then).
   */
  maxMessageBytes(channel: ChannelDefinition): number {
    return this.agreed.maxMessageBytes[channel.index]!;
  }

  /** Messages and bytes queued or awaiting acknowledgement on a channel (kept by its queues). */
  usage(channel: ChannelDefinition): Readonly<QueueTally> {
    return this.tallies[channel.index]!;
  }

  /** Replies queued or awaiting acknowledgement towards this peer, over every channel. */
  replyUsage(): { messages: number; bytes: number } {
    let messages = 0;
    let bytes = 0;
    for (const queue of this.queues) {
      messages += queue.replyMessages;
      bytes += queue.replyBytes;
    }
    return { messages, bytes };
  }

  /** Whether a message of `bytes` fits the channel's bounds (an empty channel takes any size). */
  hasRoom(channel: ChannelDefinition, bytes: number): boolean {
    const { messages, bytes: used } = this.usage(channel);
    if (messages === 0) return true;
    return messages < channel.maxQueueMessages && used + bytes <= channel.maxQueueBytes;
  }

  markFull(channel: ChannelDefinition): void {
    this.full[channel.index] = true;
  }

  enqueue(channel: ChannelDefinition, lane: number, message: OutboundMessage): PushResult {
    const global = this.host.layout.offsets[channel.index]! + lane;
    const queue = this.queues[global]!;
    const result = queue.push(message);
    this.scheduleLane(channel, queue, global);
    return result;
  }

  /**
   * Queues a request. Returns what its timeout calls to take it back if nothing of it has left
   * yet, so that the peer never handles a request its caller has already failed (true when it
   * did; counted as `requestsTimedOutUnsent`).
   */
  enqueueRequest(channel: ChannelDefinition, lane: number, message: OutboundMessage): () => boolean {
    const global = this.host.layout.offsets[channel.index]! + lane;
    const queue = this.queues[global]!;
    const request = queue.pushRequest(message);
    this.scheduleLane(channel, queue, global);
    return () => {
      if (!queue.cancel(request)) return false;
      if (!queue.hasFrame()) this.scheduler.deactivate(global);
      this.host.counters[channel.index]!.requestsTimedOutUnsent += 1;
      this.checkDrained();
      return true;
    };
  }

  /** A message was queued on lane `global`: its lane takes part in the next flush. */
  private scheduleLane(channel: ChannelDefinition, queue: OutboundQueue, global: number): void {
    this.scheduler.activate(global);
    this.ensureConnection(this.host.layout.connectionOfLane[global]!);
    // The first few messages of a busy turn leave at once, so that the peer can start on them
    // while this side produces the rest (a batch of replies to a batch of requests, say); the
    // rest of the turn is coalesced as usual. Not on monotonic lanes: there a message still
    // queued at the end of the turn can be replaced by a newer one, which is their point.
    if (queue.queuedMessages >= EARLY_FLUSH_MESSAGES && !channel.monotonic && !this.flushedEarly && this.state === 'up' && this.continuation === undefined) {
      this.flushedEarly = true;
      this.flush();
    }
    this.scheduleFlush();
  }

  scheduleFlush(): void {
    if (this.flushScheduled || this.state !== 'up') return;
    this.flushScheduled = true;
    queueMicrotask(this.flushTurn);
  }

  /** The end-of-turn flush; the next turn may flush early again, and picks its lanes anew. */
  private readonly flushTurn = (): void => {
    this.flushedEarly = false;
    this.flush();
    this.turnLane.fill(-1);
  };

  /** A flush continued on a later turn (the byte budget ran out): that turn picks its lanes anew. */
  private readonly flushLater = (): void => {
    this.turnLane.fill(-1);
    this.flush();
  };

  private readonly isReady = (lane: number): boolean => {
    if (this.credit[lane]! <= 0 || !this.queues[lane]!.hasFrame()) return false;
    return this.connections[this.host.layout.connectionOfLane[lane]!]?.writable === true;
  };

  /** Writes frames, fairest lane first, until the turn's byte budget or the credits run out. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    this.continuation = undefined;
    // Not here: an early flush comes in the middle of a turn, and the rest of that turn's keyless
    // messages must go on the lane its first ones took, or they overtake them on another lane.
    if (this.state !== 'up') return;
    const { layout, limits, counters } = this.host;
    let budget = limits.turnBytes;
    // Each connection written to is corked until the end, with this turn's credits and
    // acknowledgements after its frames: one write per connection instead of one per frame.
    try {
      let wrote = false;
      for (;;) {
        const lane = this.scheduler.pick(this.isReady);
        if (lane < 0) break;
        const queue = this.queues[lane]!;
        const queuedBefore = queue.queuedMessages;
        const connectionIndex = layout.connectionOfLane[lane]!;
        // Acknowledgements due on the connection ride in a block frame (not in a chunk): no ACK
        // frame of their own then, to build, write, parse and dispatch.
        const acks = this.dueAcks(connectionIndex);
        // A block never exceeds the lane's remaining credit (it always carries one message).
        const frame = queue.nextFrame(Math.min(this.agreed.frameBytes, this.credit[lane]!), acks)!;
        let ackBytes = 0;
        if (acks !== undefined && frame[0] === FRAME_TYPES.block) {
          ackBytes = blockAckBytes(acks.length);
          this.acknowledged(acks);
          this.host.ackCounters.acksInBlocks += acks.length;
        }
        const connection = this.corkedConnection(connectionIndex)!;
        if (this.host.chunkPool.owns(frame)) connection.send(frame, () => this.host.chunkPool.give(frame));
        else connection.send(frame);
        wrote = true;
        // The acknowledgements count against no credit, as in an ACK frame.
        this.credit[lane] = this.credit[lane]! - (frame.length - ackBytes);
        this.scheduler.charge(lane, frame.length);
        if (!queue.hasFrame()) this.scheduler.deactivate(lane);
        const counter = counters[layout.channelOfLane[lane]!]!;
        counter.framesSent += 1;
        counter.bytesSent += frame.length;
        const laneCounter = this.host.laneCounters[lane]!;
        laneCounter.messagesSent += queuedBefore - queue.queuedMessages;
        laneCounter.framesSent += 1;
        laneCounter.bytesSent += frame.length;
        budget -= frame.length;
        if (budget <= 0) {
          // Yield to I/O (incoming frames, credits, other links) before writing more.
          if (this.scheduler.pick(this.isReady) >= 0) {
            this.flushScheduled = true;
            this.continuation = setImmediate(this.flushLater);
          }
          break;
        }
      }
      if (wrote && (this.controlScheduled !== undefined || this.ackTimer !== undefined)) {
        if (this.controlScheduled !== undefined) clearImmediate(this.controlScheduled);
        this.writeControl();
      }
    } finally {
      this.uncorkAll();
    }
    this.checkDrained();
    // A lane that ran out of numbers frames nothing more (its queue says so rather than throw):
    // the session is reset once this flush, which may run inside a send, is over.
    if (!this.resetScheduled && this.queues.some((queue) => queue.sequenceExhausted)) {
      this.resetScheduled = true;
      queueMicrotask(this.resetExhausted);
    }
  };

  /**
   * A reliable lane used the last sequence number the wire carries (2^48 − 1 towards this peer
   * in this process's life) and holds a message that needs one. Numbers cannot go on, and started
   * over within the session the peer would drop the messages as duplicates of those it delivered:
   * the session is reset as at any peer-down (what was queued or unacknowledged is dropped,
   * pending requests fail, peer-down is reported with the reason, a wanted link dials again), and
   * the next session, under a new epoch, is a new stream for the peer, numbered from 1. No
   * cluster gets there in practice (nine years of a million messages a second on one lane); it is
   * handled so that it cannot throw out of a flush, where it ended the process (from a microtask)
   * or came out of `send`, and the link's other lanes stayed blocked behind it.
   */
  private readonly resetExhausted = (): void => {
    this.resetScheduled = false;
    if (this.removed) return;
    const lane = this.queues.findIndex((queue) => queue.sequenceExhausted);
    if (lane < 0) return;
    const channel = this.host.channels[this.host.layout.channelOfLane[lane]!]!;
    this.goDown(`reliable sequence numbers exhausted on channel ${channel.name}: session reset`);
  };

  /** The acknowledgements due on lanes of connection `index` (undefined: none). */
  private dueAcks(index: number): LaneAmount[] | undefined {
    let acks: LaneAmount[] | undefined;
    const { layout } = this.host;
    for (const lane of this.lanesOfConnection[index]!) {
      if (this.unackedMessages[lane] === 0) continue;
      const channel = layout.channelOfLane[lane]!;
      acks ??= [];
      acks.push({ channel, lane: lane - layout.offsets[channel]!, amount: this.sequences[lane]!.delivered });
      // A layout has at most 255 lanes; the rest would wait for an ACK frame.
      if (acks.length === MAX_ACK_ENTRIES) break;
    }
    return acks;
  }

  /** The acknowledgements `acks` (from dueAcks) left in a frame: none is due on their lanes now. */
  private acknowledged(acks: readonly LaneAmount[]): void {
    const { offsets } = this.host.layout;
    for (const entry of acks) {
      const lane = offsets[entry.channel]! + entry.lane;
      this.unackedMessages[lane] = 0;
      this.unackedBytes[lane] = 0;
    }
  }

  /** Connections corked by the flush or control write in progress. */
  private readonly corked: Connection[] = [];

  private checkDrained(): void {
    for (const channel of this.host.channels) {
      if (!this.full[channel.index]) continue;
      const { messages, bytes } = this.usage(channel);
      if (messages <= channel.maxQueueMessages / 2 && bytes <= channel.maxQueueBytes / 2) {
        this.full[channel.index] = false;
        this.host.drained(this, channel);
      }
    }
  }

  // ---- receiving ---------------------------------------------------------------------------

  /** The global lane of (channel, lane) if it exists and travels on `connection`. */
  private laneOf(connection: Connection, channel: number, lane: number): number {
    const { layout } = this.host;
    if (channel >= this.host.channels.length || lane >= layout.lanes[channel]!) return -1;
    const global = layout.offsets[channel]! + lane;
    return layout.connectionOfLane[global] === connection.index ? global : -1;
  }

  /** This node's own caps: the peer keeps to the smaller of its sizes and these (wire-limits.ts). */
  private frameCap(lane: number, chunk: boolean): number {
    const { limits, channels, layout } = this.host;
    if (!chunk) return limits.frameBytes;
    const channel = channels[layout.channelOfLane[lane]!]!;
    return Math.min(limits.chunkBytes, channel.maxMessageBytes + MAX_META_BYTES) + MAX_CHUNK_HEADER_BYTES;
  }

  /** One frame; `assembled` when the socket thread copied a CHUNK's data into its message (frame-socket.ts). */
  receive(connection: Connection, frame: Buffer, assembled?: Assembled): void {
    try {
      if (assembled !== undefined && frame[0] !== FRAME_TYPES.chunk) throw new FrameFormatError('only a chunk is assembled by the socket thread');
      switch (frame[0]) {
        case FRAME_TYPES.block:
          this.receiveBlock(connection, frame);
          return;
        case FRAME_TYPES.chunk:
          this.receiveChunk(connection, frame, assembled);
          return;
        case FRAME_TYPES.credit:
          this.receiveCredit(connection, frame);
          return;
        case FRAME_TYPES.ack:
          this.receiveAck(connection, frame);
          return;
        case FRAME_TYPES.open:
          this.receiveOpen(connection, frame);
          return;
        default:
          this.host.violation(this, connection, CLOSE_CODES.malformedFrame, `unexpected frame type 0x${frame[0]!.toString(16)}`);
      }
    } catch (error) {
      if (error instanceof ReassemblyError) this.host.violation(this, connection, error.closeCode, error.message);
      else if (error instanceof FrameFormatError || error instanceof MetaFormatError) this.host.violation(this, connection, CLOSE_CODES.malformedFrame, error.message);
      else throw error;
    }
  }

  /** Accounts a received frame against the credit this side granted; false after a violation. */
  private account(connection: Connection, lane: number, length: number, cap: number): boolean {
    if (length > cap) {
      this.host.violation(this, connection, CLOSE_CODES.frameTooLarge, `frame of ${length} bytes, lane cap ${cap}`);
      return false;
    }
    const received = this.receivedTotal[lane]! + length;
    if (received - this.grantedTotal[lane]! > cap) {
      this.host.violation(this, connection, CLOSE_CODES.creditExceeded, `sender is ${received - this.grantedTotal[lane]!} bytes past its credit`);
      return false;
    }
    this.receivedTotal[lane] = received;
    this.consumed[lane] = this.consumed[lane]! + length;
    this.scheduleControl();
    return true;
  }

  private receiveBlock(connection: Connection, frame: Buffer): void {
    const header = readBlockHeader(frame);
    const lane = this.laneOf(connection, header.channel, header.lane);
    if (lane < 0) {
      this.host.violation(this, connection, CLOSE_CODES.unknownChannel, `channel ${header.channel} lane ${header.lane}`);
      return;
    }
    const channel = this.host.channels[header.channel]!;
    if (header.reliable !== channel.reliable) throw new FrameFormatError('reliability flag does not match the channel');
    // An honest sender acknowledges each lane of this connection at most once per block.
    const lanesHere = this.lanesOfConnection[connection.index]!.length;
    if (header.acks.length > lanesHere) throw new FrameFormatError(`block acknowledgement section of ${header.acks.length} entries on a connection of ${lanesHere} lanes`);
    // Its acknowledgements count against no credit, as in an ACK frame.
    if (!this.account(connection, lane, frame.length - header.ackBytes, this.frameCap(lane, false) + RELIABLE_BLOCK_HEADER_BYTES)) return;
    const body = frame.subarray(header.bodyOffset);
    let decoded: unknown;
    try {
      decoded = this.host.codec.decode(body);
    } catch (error) {
      // One message that does not decode costs only itself: the others of the frame are decoded
      // one by one and delivered, and it is dropped and counted below (core/block-body.ts). On a
      // reliable lane it is acknowledged with them, as a message whose handler threw is: acks
      // are cumulative, so holding it back would hold back everything after it, and the sender
      // would send it again after every reconnect, to be refused each time. A payload nested past
      // the screen's MAX_NESTING is such a message (the screen refuses it before cbor-x recurses).
      // Only a frame whose envelope cannot be read is refused, or one whose decoding ran out of
      // stack all the same (started with the stack nearly used up): that cost milliseconds, and
      // would cost them again item by item (core/block-body.ts).
      decoded = isStackOverflow(error) ? undefined : decodeBlockItems(this.host.codec, body, header.count, header.hasMeta);
      if (decoded === undefined) {
        this.host.violation(this, connection, CLOSE_CODES.malformedFrame, `undecodable CBOR: ${error instanceof Error ? error.message : String(error)}`);
        return;
      }
    }
    if (!Array.isArray(decoded) || decoded.length !== header.count) throw new FrameFormatError(`block body is not an array of ${header.count} items`);
    const counter = this.host.counters[channel.index]!;
    counter.framesReceived += 1;
    counter.bytesReceived += frame.length;
    const laneCounter = this.host.laneCounters[lane]!;
    laneCounter.framesReceived += 1;
    laneCounter.bytesReceived += frame.length;
    const sequence = channel.reliable ? this.sequences[lane] : undefined;
    // Validate every item before delivering any, so a malformed block delivers nothing.
    let metas: (MessageMeta | undefined)[] | undefined;
    if (header.hasMeta) {
      metas = [];
      for (const item of decoded as unknown[]) {
        if (!Array.isArray(item) || item.length !== 2) throw new FrameFormatError('block item is not a [meta, payload] pair');
        metas.push(metaFromWire(item[0]));
      }
    }
    // As if an ACK frame had come just before the block.
    if (header.acks.length > 0 && !this.acknowledge(connection, header.acks)) return;
    for (let index = 0; index < header.count; index += 1) {
      if (this.removed || connection.state !== 'open') return;
      if (sequence !== undefined) {
        // Counted item by item as it is taken: a handler below may send enough to flush early,
        // and that flush acknowledges what was delivered so far and resets the count, so the
        // items after it must count again. Duplicates count too: the ack that covered them may
        // have been lost with the connection, and the sender keeps them (and counts them
        // against its bound) until one arrives.
        this.unackedMessages[lane] = this.unackedMessages[lane]! + 1;
        this.unackedBytes[lane] = this.unackedBytes[lane]! + Math.ceil(frame.length / header.count);
        const gaps = sequence.gaps;
        if (sequence.accept(header.firstSeq + index) === 'duplicate') {
          counter.duplicatesDropped += 1;
          continue;
        }
        counter.sequenceGaps += sequence.gaps - gaps;
      }
      const item: unknown = (decoded as unknown[])[index];
      const payload = metas === undefined ? item : (item as unknown[])[1];
      const meta = metas === undefined ? undefined : metas[index];
      if (payload instanceof UndecodablePayload) {
        this.host.undecodable(this, channel, header.lane, meta, payload.error);
        continue;
      }
      counter.messagesReceived += 1;
      laneCounter.messagesReceived += 1;
      this.host.deliver(this, channel, header.lane, payload, meta);
    }
    // An early flush inside a handler also took the control write this frame scheduled.
    if (sequence !== undefined && this.unackedMessages[lane]! > 0) this.scheduleControl();
  }

  private receiveChunk(connection: Connection, frame: Buffer, assembled: Assembled | undefined): void {
    const header = readChunkHeader(frame);
    const frameLength = assembled?.frameLength ?? frame.length;
    const lane = this.laneOf(connection, header.channel, header.lane);
    if (lane < 0) {
      this.host.violation(this, connection, CLOSE_CODES.unknownChannel, `channel ${header.channel} lane ${header.lane}`);
      return;
    }
    const channel = this.host.channels[header.channel]!;
    if (header.reliable !== channel.reliable) throw new FrameFormatError('reliability flag does not match the channel');
    if (!this.account(connection, lane, frameLength, this.frameCap(lane, true))) return;
    const counter = this.host.counters[channel.index]!;
    counter.framesReceived += 1;
    counter.bytesReceived += frameLength;
    const laneCounter = this.host.laneCounters[lane]!;
    laneCounter.framesReceived += 1;
    laneCounter.bytesReceived += frameLength;
    const completed = this.reassembly[lane]!.accept(header, frame, assembled);
    if (completed === undefined) return;
    const { body, metaLength } = completed;
    let meta: MessageMeta | undefined;
    let payload: unknown;
    try {
      if (metaLength > 0) meta = metaFromWire(this.host.codec.decode(body.subarray(0, metaLength)));
    } catch (error) {
      if (error instanceof MetaFormatError) throw error;
      this.host.violation(this, connection, CLOSE_CODES.malformedFrame, `undecodable CBOR: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (completed.raw) {
      payload = Buffer.from(body.buffer, body.byteOffset + metaLength, body.length - metaLength);
    } else {
      // A payload that does not decode, one nested past the screen's MAX_NESTING included, is
      // dropped and counted below, as in receiveBlock; one whose decoding ran out of stack all the
      // same is refused with its frame, as there.
      try {
        payload = this.host.codec.decode(body.subarray(metaLength));
      } catch (error) {
        if (isStackOverflow(error)) {
          this.host.violation(this, connection, CLOSE_CODES.malformedFrame, `undecodable CBOR: ${error.message}`);
          return;
        }
        payload = new UndecodablePayload(error);
      }
    }
    if (channel.reliable) {
      // Duplicates included, as in receiveBlock.
      this.unackedMessages[lane] = this.unackedMessages[lane]! + 1;
      this.unackedBytes[lane] = this.unackedBytes[lane]! + body.length;
      const sequence = this.sequences[lane]!;
      const gaps = sequence.gaps;
      if (sequence.accept(completed.seq) === 'duplicate') {
        counter.duplicatesDropped += 1;
        return;
      }
      counter.sequenceGaps += sequence.gaps - gaps;
    }
    if (payload instanceof UndecodablePayload) {
      this.host.undecodable(this, channel, header.lane, meta, payload.error);
      return;
    }
    counter.messagesReceived += 1;
    laneCounter.messagesReceived += 1;
    this.host.deliver(this, channel, header.lane, payload, meta);
  }

  private receiveCredit(connection: Connection, frame: Buffer): void {
    for (const entry of decodeLaneAmounts('credit', frame)) {
      const lane = this.laneOf(connection, entry.channel, entry.lane);
      if (lane < 0) {
        this.host.violation(this, connection, CLOSE_CODES.unknownChannel, `credit for channel ${entry.channel} lane ${entry.lane}`);
        return;
      }
      this.credit[lane] = Math.min(this.credit[lane]! + entry.amount, 2 ** 40);
    }
    this.scheduleFlush();
  }

  private receiveAck(connection: Connection, frame: Buffer): void {
    this.acknowledge(connection, decodeLaneAmounts('ack', frame));
  }

  /** Acknowledgements from an ACK frame or a block; false after a violation (a lane not of `connection`). */
  private acknowledge(connection: Connection, entries: readonly LaneAmount[]): boolean {
    for (const entry of entries) {
      const lane = this.laneOf(connection, entry.channel, entry.lane);
      if (lane < 0) {
        this.host.violation(this, connection, CLOSE_CODES.unknownChannel, `ack for channel ${entry.channel} lane ${entry.lane}`);
        return false;
      }
      this.queues[lane]!.acknowledge(entry.amount);
    }
    this.checkDrained();
    return true;
  }

  /** Dialer: the acceptor has something to send on lanes of connections not open yet. */
  private receiveOpen(connection: Connection, frame: Buffer): void {
    if (this.role !== 'dialer' || connection.index !== 0) {
      this.host.violation(this, connection, CLOSE_CODES.malformedFrame, 'OPEN comes from the acceptor, on connection 0');
      return;
    }
    for (const index of decodeOpen(frame)) {
      if (index === 0 || index >= this.host.layout.connections) {
        this.host.violation(this, connection, CLOSE_CODES.unknownChannel, `OPEN of connection ${index} of ${this.host.layout.connections}`);
        return;
      }
      this.ensureConnection(index);
    }
  }

  /**
   * A lane of connection `index` has something to send: the dialer dials the connection unless
   * it is open or being opened, the acceptor asks the dialer to (once per session; a connection
   * of a session that fails ends the session, so it is never asked for twice). Before the
   * session is up nothing is opened here: `becomeUp` looks at every lane.
   */
  private ensureConnection(index: number): void {
    if (this.state !== 'up' || this.connections[index] !== undefined) return;
    if (this.role === 'dialer') {
      if (this.url !== undefined && this.session !== undefined) this.connections[index] = this.host.dial(this, this.url, this.session, index);
      return;
    }
    if (this.openAsked[index]) return;
    this.openAsked[index] = true;
    this.openPending.push(index);
    // One OPEN frame for a turn's requests.
    if (this.openPending.length === 1) queueMicrotask(this.sendOpen);
  }

  private readonly sendOpen = (): void => {
    const pending = this.openPending;
    if (pending.length === 0) return;
    this.openPending = [];
    if (this.state !== 'up' || this.connections[0]?.send(encodeOpen(pending)) !== true) return;
    // A dialer that holds the secret dials at once, and its own handshake deadline ends the
    // session if that dial goes nowhere; one that ignores the OPEN would stall the lanes for ever.
    const session = this.session;
    this.openTimers.push(
      this.host.clock.setTimer(this.host.timing.handshakeTimeoutMs * 2, () => {
        if (this.session !== session || this.state !== 'up') return;
        const missing = pending.find((index) => this.connections[index]?.state !== 'open');
        if (missing === undefined) return;
        this.laneFailed(missing, CLOSE_CODES.handshakeTimeout, `the peer did not open connection ${missing} when asked`);
      }),
    );
  };

  /**
   * Connection `index` of the up session could not be opened: reported as a failed connection,
   * and the session ends (a link is all or nothing), for good on a permanent refusal.
   */
  private laneFailed(index: number, code: number, reason: string): void {
    this.failedOpens.add(index);
    this.host.connectionFailed(this, code, reason);
    // A connection-error listener may have disconnected the peer: the session is over already.
    if (this.removed) return;
    if (PERMANENT_REFUSALS.has(code)) this.goDown(reason);
    else this.loseSession(CLOSE_CODES.normal, `connection ${index} did not open: ${reason || code}`);
  }

  /** Credits and acknowledgements go out once per event-loop turn, after the turn's frames. */
  private scheduleControl(): void {
    if (this.controlScheduled !== undefined) return;
    this.controlScheduled = setImmediate(this.sendControl);
  }

  private readonly sendControl = (): void => {
    try {
      this.writeControl();
    } finally {
      this.uncorkAll();
    }
  };

  private cancelAckTimer(): void {
    this.ackTimer?.cancel();
    this.ackTimer = undefined;
  }

  private readonly sendDelayedAcks = (): void => {
    this.ackTimer = undefined;
    try {
      this.writeControl(true);
    } finally {
      this.uncorkAll();
    }
  };

  /**
   * Writes the pending credits and acknowledgements to corked connections; the caller uncorks.
   * An acknowledgement goes now if its connection carries another frame this turn (data, a
   * credit, or another acknowledgement that must go), if an eighth of its channel's queue bound
   * waits for acknowledgement over all the channel's lanes (the sender counts the channel's
   * unacknowledged messages against that bound), or with `allAcks`; the others wait up to
   * `timing.ackDelayMs` for a frame to ride along with. On an idle request/reply path that
   * saves a write and a wake-up per message on each side.
   */
  private writeControl(allAcks = false): void {
    this.controlScheduled = undefined;
    const { layout, channels } = this.host;
    // Most calls, on a request/reply path, find nothing due (the acknowledgements rode in the
    // turn's blocks): settle that without the maps and arrays below.
    let pending = false;
    for (let lane = 0; lane < layout.totalLanes && !pending; lane += 1) {
      pending = this.unackedMessages[lane]! > 0 || this.creditDue(lane);
    }
    if (!pending) {
      this.cancelAckTimer();
      return;
    }
    const credits = new Map<number, LaneAmount[]>();
    const acks = new Map<number, LaneAmount[]>();
    const waitingMessages = new Array<number>(channels.length).fill(0);
    const waitingBytes = new Array<number>(channels.length).fill(0);
    for (let lane = 0; lane < layout.totalLanes; lane += 1) {
      const connectionIndex = layout.connectionOfLane[lane]!;
      const channel = layout.channelOfLane[lane]!;
      if (this.creditDue(lane)) {
        const consumed = this.consumed[lane]!;
        this.consumed[lane] = 0;
        this.grantedTotal[lane] = this.grantedTotal[lane]! + consumed;
        push(credits, connectionIndex, { channel, lane: lane - layout.offsets[channel]!, amount: consumed });
      }
      waitingMessages[channel] = waitingMessages[channel]! + this.unackedMessages[lane]!;
      waitingBytes[channel] = waitingBytes[channel]! + this.unackedBytes[lane]!;
    }
    const urgent = (channel: number): boolean =>
      allAcks || waitingMessages[channel]! * 8 >= channels[channel]!.maxQueueMessages || waitingBytes[channel]! * 8 >= channels[channel]!.maxQueueBytes;
    // Connections that carry a frame this turn anyway.
    const going = new Set<number>(credits.keys());
    for (let index = 0; index < this.connections.length; index += 1) {
      const connection = this.connections[index];
      if (connection !== undefined && this.corked.includes(connection)) going.add(index);
    }
    const due = (lane: number): boolean => this.unackedMessages[lane]! > 0;
    for (let lane = 0; lane < layout.totalLanes; lane += 1) {
      if (due(lane) && urgent(layout.channelOfLane[lane]!)) going.add(layout.connectionOfLane[lane]!);
    }
    let deferred = false;
    for (let lane = 0; lane < layout.totalLanes; lane += 1) {
      if (!due(lane)) continue;
      const connectionIndex = layout.connectionOfLane[lane]!;
      if (!going.has(connectionIndex)) {
        deferred = true;
        continue;
      }
      const channel = layout.channelOfLane[lane]!;
      this.unackedMessages[lane] = 0;
      this.unackedBytes[lane] = 0;
      push(acks, connectionIndex, { channel, lane: lane - layout.offsets[channel]!, amount: this.sequences[lane]!.delivered });
    }
    if (deferred) {
      this.ackTimer ??= this.host.clock.setTimer(this.host.timing.ackDelayMs, this.sendDelayedAcks);
    } else {
      this.cancelAckTimer();
    }
    for (const [index, entries] of credits) this.corkedConnection(index)?.send(encodeLaneAmounts('credit', entries));
    for (const [index, entries] of acks) {
      const connection = this.corkedConnection(index);
      if (connection === undefined) continue;
      connection.send(encodeLaneAmounts('ack', entries));
      this.host.ackCounters.ackFramesSent += 1;
    }
  }

  /**
   * Whether lane `lane`'s credit goes back: once a quarter of the window is used (as HTTP/2 stacks
   * send window updates), not after every turn's few small frames: a frame of its own per turn was
   * a third of the writes on a busy request/reply path. The sender never stalls for want of it:
   * it stops only with a whole window outstanding, and by then this side has consumed more than a
   * quarter of one.
   */
  private creditDue(lane: number): boolean {
    const consumed = this.consumed[lane]!;
    return consumed > 0 && consumed >= this.host.channels[this.host.layout.channelOfLane[lane]!]!.windowBytes / 4;
  }

  /** Connection `index`, corked until `uncorkAll`. */
  private corkedConnection(index: number): Connection | undefined {
    const connection = this.connections[index];
    if (connection !== undefined && !this.corked.includes(connection)) {
      connection.cork();
      this.corked.push(connection);
    }
    return connection;
  }

  private uncorkAll(): void {
    for (const connection of this.corked) connection.uncork();
    this.corked.length = 0;
  }

  // ---- sessions ----------------------------------------------------------------------------

  /** Starts a session as dialer (connection 0 first, the others once it is open). */
  dial(): void {
    if (this.host.isClosed() || this.url === undefined || this.session !== undefined || this.state === 'up') return;
    this.beginSession(this.host.newSession(), 'dialer');
    this.connections[0] = this.host.dial(this, this.url, this.session!, 0);
  }

  /** Whether a session is being set up (dialed or accepted) and not yet up. */
  get establishing(): boolean {
    return this.session !== undefined && this.state !== 'up';
  }

  /** A probe dial (connect by URL) became connection 0 of a new session of this link. */
  adoptDialed(connection: Connection): void {
    this.beginSession(connection.session, 'dialer');
    this.connections[0] = connection;
    connection.link = this;
  }

  /** Acceptor: connection 0 of a new session from the peer. */
  acceptSession(connection: Connection): void {
    if (this.state === 'up') this.loseSession(CLOSE_CODES.superseded, 'replaced by a newer session');
    else if (this.session !== undefined) this.endSession(CLOSE_CODES.superseded, 'replaced by a newer session');
    this.beginSession(connection.session, 'acceptor');
    this.connections[0] = connection;
    connection.link = this;
  }

  /** A simultaneous dial lost the tie-break: drop this side's dial without reporting a failure. */
  abandonDial(): void {
    if (this.role === 'dialer' && this.state !== 'up') this.endSession(CLOSE_CODES.superseded, 'simultaneous dial: keeping theirs');
  }

  cancelReconnect(): void {
    this.reconnectTimer?.cancel();
    this.reconnectTimer = undefined;
  }

  /**
   * Dialer: a further connection of the current session reached `peer` (its CHALLENGE proved
   * it). False, and the session is over, when that is another incarnation or session epoch than
   * connection 0 reached: the peer restarted, or ended the session, while connection 0 still
   * reaches what it left (a half-open connection, or a new process at the address the lanes now
   * dial). Its lanes must not join this link, whose order and de-duplication state belong to
   * connection 0's peer; the connection closes before this side proves itself on it, and a new
   * session starts, on whose connection 0 the restart (or the new epoch) shows as one.
   */
  laneReached(connection: Connection, peer: PeerIdentity): boolean {
    if (connection.session !== this.session || this.connections[connection.index] !== connection) return true;
    if (peer.incarnation === this.incarnation && peer.epoch === this.peerEpoch) return true;
    const reason = `connection ${connection.index} reached another ${peer.incarnation === this.incarnation ? 'session epoch' : 'incarnation'} of the peer than connection 0`;
    connection.close(CLOSE_CODES.unknownSession, reason);
    // Counted as a connection that failed to open (not reported: a restart is no failure), so
    // that a peer whose lanes keep reaching another process goes down after the grace period
    // instead of bringing sessions up and down for ever; the lane opening on the next session
    // (the restarted peer's) clears it.
    this.failedOpens.add(connection.index);
    // Lanes are dialed only once the session is up (ensureConnection).
    if (this.state === 'up') this.loseSession(CLOSE_CODES.normal, reason);
    return false;
  }

  /** Acceptor: a further connection of the current session; false when it does not belong. */
  attach(connection: Connection): boolean {
    if (this.role !== 'acceptor' || connection.session !== this.session || this.connections[connection.index] !== undefined) return false;
    // The same peer as on connection 0: an honest dialer presents one incarnation and epoch for
    // the whole session (a new epoch ends the session first).
    const peer = connection.peer;
    if (peer === undefined || peer.incarnation !== this.incarnation || peer.epoch !== this.peerEpoch) return false;
    this.connections[connection.index] = connection;
    connection.link = this;
    return true;
  }

  private beginSession(session: string, role: 'dialer' | 'acceptor'): void {
    this.session = session;
    this.role = role;
    this.credit.fill(0);
    this.consumed.fill(0);
    this.grantedTotal.fill(0);
    this.receivedTotal.fill(0);
    this.unackedMessages.fill(0);
    this.unackedBytes.fill(0);
    this.cancelAckTimer();
    for (const reassembly of this.reassembly) reassembly.reset();
    this.openAsked.fill(false);
    this.openPending = [];
    this.sessionTimer?.cancel();
    this.sessionTimer = this.host.clock.setTimer(this.host.timing.handshakeTimeoutMs * 2, () => {
      this.sessionTimer = undefined;
      if (this.session === session && this.state !== 'up') this.abortSession(CLOSE_CODES.handshakeTimeout, 'session did not open its first connection in time');
    });
  }

  /** A connection of the current session finished its handshake. */
  opened(connection: Connection): void {
    if (connection.session !== this.session || this.connections[connection.index] !== connection) return;
    if (connection.index === 0 && connection.peer !== undefined) {
      const { incarnation, epoch } = connection.peer;
      this.host.sessionIncarnation(this, connection);
      // The peer's sizes, from this session's handshake: frames go out cut to the smaller of both
      // nodes' sizes from now on (a partly sent message starts over at the rewind, cut anew). They
      // change only with the peer's incarnation (a node's options are fixed), so what was queued
      // under other sizes is looked at only before the first session, or after a restart.
      const firstLimits = !this.limitsKnown;
      this.agreed = agreedLimits(this.host.wireLimits, connection.peer.limits);
      this.limitsKnown = true;
      for (const queue of this.queues) queue.setFraming(this.agreed.frameBytes, this.agreed.chunkBytes);
      const restarted = this.incarnation !== undefined && this.incarnation !== incarnation;
      // The same incarnation with another epoch ended the session on its side (its grace ran
      // out first, or it disconnected) and dropped what it held for this node.
      const ended = !restarted && this.peerEpoch !== undefined && this.peerEpoch !== epoch;
      if (restarted || ended) {
        // Nobody waits for the replies to the peer's requests of the old session any more (a
        // restarted peer's request ids start over, so one could even answer a new request).
        this.replySession += 1;
        // Nor will the peer answer this side's requests of the old session (a restarted one
        // forgot them; one that ended the session dropped its replies): they fail as at any
        // peer-down (outcome unknown), instead of waiting for their timeout, and those still
        // queued here are not sent after all.
        const interrupted = this.peerUpEmitted;
        this.withdraw(restarted, interrupted);
        if (interrupted) {
          const reason = restarted ? 'peer restarted' : 'peer ended the session';
          this.peerUpEmitted = false;
          // Failed before peer-down is reported: a request a peer-down listener makes is one
          // for the next session, which stays queued and goes (failing it too, as before, told
          // its caller it was interrupted while the new incarnation handled it).
          this.requests.failAll(this.peer, reason);
          this.host.peerDown(this, reason);
          // A peer-down listener may have disconnected the peer (a membership forgets a failed
          // one): the link is gone, and the session must not come up on it (review of a node
          // left with a peer-up and no link, found in the 200-node membership benchmark).
          if (this.removed || connection.session !== this.session) return;
        }
      } else if (firstLimits) {
        // Queued before the peer's sizes were known: what it would refuse does not go.
        this.withdraw(false, false);
      }
      this.incarnation = incarnation;
      this.peerEpoch = epoch;
      this.sequences = this.host.receiveSequences(this.peer, incarnation, epoch);
    }
    // Grant the peer its initial credit on the lanes of this connection.
    const { layout, channels } = this.host;
    const grants: LaneAmount[] = [];
    for (let lane = 0; lane < layout.totalLanes; lane += 1) {
      if (layout.connectionOfLane[lane] !== connection.index) continue;
      const channel = channels[layout.channelOfLane[lane]!]!;
      this.grantedTotal[lane] = channel.windowBytes;
      grants.push({ channel: channel.index, lane: lane - layout.offsets[channel.index]!, amount: channel.windowBytes });
    }
    connection.send(encodeLaneAmounts('credit', grants));
    // The other connections open when their lanes need them (see the top of this file); what
    // waits on one leaves once the peer's credit for it arrives.
    if (connection.index === 0) this.becomeUp();
    else if (this.failedOpens.delete(connection.index) && this.failedOpens.size === 0) this.settle();
  }

  /** The session has every connection it needed: the grace period and the backoff start over. */
  private settle(): void {
    this.graceTimer?.cancel();
    this.graceTimer = undefined;
    this.backoff.reset();
  }

  private becomeUp(): void {
    if (this.removed) return;
    this.sessionTimer?.cancel();
    this.sessionTimer = undefined;
    this.state = 'up';
    this.everUp = true;
    for (let lane = 0; lane < this.queues.length; lane += 1) {
      const queue = this.queues[lane]!;
      this.host.counters[this.host.layout.channelOfLane[lane]!]!.retransmitted += queue.rewind();
      if (!queue.hasFrame()) continue;
      this.scheduler.activate(lane);
      this.ensureConnection(this.host.layout.connectionOfLane[lane]!);
    }
    // A connection that failed to open before counts until it opens, unless nothing waits for it now.
    for (const index of this.failedOpens) {
      if (this.connections[index] === undefined && !this.openAsked[index]) this.failedOpens.delete(index);
    }
    if (this.failedOpens.size === 0) this.settle();
    this.host.channelEvent(this, 'channel-open');
    // A channel-open listener may have disconnected the peer: no peer-up for a link that is gone.
    if (this.removed || this.state !== 'up') return;
    if (!this.peerUpEmitted) {
      this.peerUpEmitted = true;
      this.host.peerUp(this);
    }
    this.scheduleFlush();
  }

  /** A connection of this link closed. */
  closed(connection: Connection, code: number, reason: string, local: boolean): void {
    if (connection.session !== this.session || this.connections[connection.index] !== connection) return;
    if (this.state === 'up' && !connection.everOpen) {
      this.laneFailed(connection.index, code, reason || `closed with ${code}`);
      return;
    }
    if (this.state === 'up') {
      this.loseSession(CLOSE_CODES.normal, `connection ${connection.index} closed: ${reason || code}`);
      // The peer's goodbye: it disconnected this node or closed its transport, and dropped what
      // it held for this node, the replies to these requests included. Nothing will answer them,
      // so they fail now rather than at the peer-down or their timeout (both 5 s by default).
      // The rest waits for the grace as after any loss: a restarted peer that comes back within
      // it still receives what was queued for it. Not on a close code alone: a proxy between the
      // two closes with 1001 too, and the peer behind it answers after the reconnect.
      if (!local && isGoodbye(reason)) this.requests.failAll(this.peer, code === CLOSE_CODES.goingAway ? 'the peer closed its transport' : 'the peer disconnected');
      return;
    }
    this.abortSession(code, reason, local);
  }

  /** An up session broke: keep queues, wait for a reconnect within the grace period. */
  private loseSession(code: number, reason: string): void {
    this.endSession(code, reason);
    this.state = 'reconnecting';
    this.host.channelEvent(this, 'channel-close');
    this.startGrace(reason);
    this.scheduleReconnect();
  }

  /** A session that was being set up failed. */
  private abortSession(code: number, reason: string, local = true): void {
    const wasDialer = this.role === 'dialer';
    this.endSession(code === CLOSE_CODES.superseded ? CLOSE_CODES.superseded : CLOSE_CODES.normal, reason);
    // Another node took over the address a connect(url) made this link for (a pod restarted with
    // a new node id, say): the URL follows it, and this link, unless connect(nodeId) wants it too,
    // dials no more and ends as after any loss, at the end of its grace period. Nothing queued
    // for this peer goes to the other node, which gets a link of its own. Only when this side saw
    // it, from a CHALLENGE whose proof held and whose node id the certificate names (when
    // bindNodeId asks it: Connection checks that first): a close with 4013 alone may come from anyone.
    const released = local && code === CLOSE_CODES.unexpectedPeer && this.host.urlTakenOver(this) && !this.wantedById;
    if (released) {
      this.wanted = false;
      this.cancelReconnect();
    }
    // The next attempt waits for its backoff before anyone hears of this failure: a
    // connection-error listener that calls connect() again (a common pattern) then joins that
    // attempt instead of dialing at once, which skipped the backoff and hammered the address.
    this.scheduleReconnect();
    if (wasDialer && !(local && code === CLOSE_CODES.superseded)) this.host.connectionFailed(this, code, reason);
    if (released) {
      // A connection-error listener may have disconnected the peer, or wanted it again.
      if (this.removed || this.wanted) return;
      if (this.state === 'down') this.remove();
      else this.startGrace(reason);
      return;
    }
    if (PERMANENT_REFUSALS.has(code)) {
      this.goDown(reason);
    } else if (this.state === 'connecting' || this.state === 'reconnecting') {
      this.startGrace(reason);
    }
  }

  private endSession(code: number, reason: string): void {
    this.sessionTimer?.cancel();
    this.sessionTimer = undefined;
    for (const timer of this.openTimers) timer.cancel();
    this.openTimers = [];
    if (this.continuation !== undefined) clearImmediate(this.continuation);
    this.continuation = undefined;
    this.flushScheduled = false;
    const connections = this.connections;
    this.connections = new Array<Connection | undefined>(connections.length).fill(undefined);
    this.session = undefined;
    this.role = undefined;
    for (const connection of connections) connection?.close(code, reason);
    for (const reassembly of this.reassembly) reassembly.reset();
  }

  private startGrace(reason: string): void {
    if (this.graceTimer !== undefined || this.state === 'down') return;
    this.graceTimer = this.host.clock.setTimer(this.host.timing.peerDownGraceMs, () => {
      this.graceTimer = undefined;
      // Up again, but on a session still missing a connection that failed to open: down all the same.
      if (this.state !== 'up' || this.failedOpens.size > 0) this.goDown(reason);
    });
  }

  /** The peer is down: report it, drop what waited for it, and forget it unless wanted. */
  goDown(reason: string): void {
    this.graceTimer?.cancel();
    this.graceTimer = undefined;
    if (this.state === 'up') {
      this.endSession(CLOSE_CODES.normal, reason);
      // Down before listeners hear of it: one that disconnects the peer then finds nothing to close again.
      this.state = 'down';
      this.host.channelEvent(this, 'channel-close');
    } else if (this.session !== undefined) {
      // A session being set up presented the epoch about to be dropped: the peer would take it
      // for the old session going on. The next dial presents the new epoch.
      this.endSession(CLOSE_CODES.normal, reason);
    }
    this.state = 'down';
    this.failedOpens.clear();
    this.dropQueues(reason);
    // A link that never came up is reported down once: a refusal that repeats on every attempt
    // (4013 from a node that took the address over) reported it down again each time.
    if (this.peerUpEmitted || (!this.everUp && !this.downReported)) {
      this.peerUpEmitted = false;
      this.downReported = true;
      this.host.peerDown(this, reason);
    }
    if (!this.wanted) this.remove();
    else this.scheduleReconnect();
  }

  /**
   * Drops what this side kept for the peer's session (queued and unacknowledged messages,
   * pending requests) and starts a new session epoch, so that the peer, which may still be
   * within its own grace period, sees the next session as a new one (peer-down, then peer-up)
   * instead of going on with numbers whose messages never come.
   */
  private dropQueues(reason: string): void {
    this.host.renewSessionEpoch(this.peer);
    this.replySession += 1;
    for (const channel of this.host.channels) {
      let dropped = 0;
      const offset = this.host.layout.offsets[channel.index]!;
      for (let lane = offset; lane < offset + this.host.layout.lanes[channel.index]!; lane += 1) {
        dropped += this.queues[lane]!.clear();
        this.scheduler.deactivate(lane);
      }
      if (dropped > 0) this.host.dropped(this, channel, dropped);
      // A sender waiting for room (sendAsync) hears of it: it tries again and learns the peer
      // is gone. Without it, one waiting on a peer that never came up (no peer-down) waited
      // until close(). Told once this state change is over, as a listener may call the transport.
      if (this.full[channel.index]) {
        this.full[channel.index] = false;
        queueMicrotask(() => this.host.drained(this, channel));
      }
    }
    this.requests.failAll(this.peer, reason);
  }

  /**
   * The peer's session changed: takes out of the queues the replies to its old session's
   * requests and, with `requests`, this side's requests (failed now), and what is larger than the
   * peer's `maxMessageBytes` (its requests fail with MessageTooLargeError). Only what never left,
   * but everything of the kind for a restarted peer, which starts a new stream (outbound-queue.ts).
   */
  private withdraw(restarted: boolean, requests: boolean): void {
    const { channels, layout, counters } = this.host;
    for (let lane = 0; lane < this.queues.length; lane += 1) {
      const channel = channels[layout.channelOfLane[lane]!]!;
      const maxPayloadBytes = this.maxMessageBytes(channel);
      const withdrawn = this.queues[lane]!.withdraw({ replySession: this.replySession, requests, renumber: restarted, maxPayloadBytes });
      if (withdrawn.replies > 0) counters[channel.index]!.repliesDropped += withdrawn.replies;
      if (withdrawn.requests > 0) this.host.dropped(this, channel, withdrawn.requests);
      counters[channel.index]!.droppedTooLarge += withdrawn.tooLarge;
      const tooLarge = (bytes: number): MessageTooLargeError =>
        new MessageTooLargeError(channel.name, bytes, maxPayloadBytes, { nodeId: this.peer, ownMaxBytes: channel.maxMessageBytes });
      for (const { meta, bytes } of withdrawn.tooLargeRequests) {
        const id = meta === undefined ? undefined : requestId(this.host.codec, meta);
        if (id === undefined) continue;
        this.requests.settle(id, () => ({ ok: false, error: tooLarge(bytes) }));
      }
      // `send` returned true for these, and they will never arrive (on a reliable channel too):
      // the sender hears of each, as it would have at send had the peer's sizes been known.
      // Told once this state change is over, as a listener may call the transport.
      if (withdrawn.tooLargeMessages.length > 0) {
        const errors = withdrawn.tooLargeMessages.map(tooLarge);
        queueMicrotask(() => {
          for (const error of errors) this.host.sendFailed(this, channel, error);
        });
      }
    }
  }

  private scheduleReconnect(): void {
    if (!this.wanted || this.reconnectTimer !== undefined || this.host.isClosed() || this.removed) return;
    const delay = this.backoff.next();
    this.reconnectTimer = this.host.clock.setTimer(delay, () => {
      this.reconnectTimer = undefined;
      if (!this.wanted || this.state === 'up' || this.session !== undefined || this.host.isClosed() || this.removed) return;
      // A peer whose address nobody knew yet is looked up again on each attempt: the table or
      // gossip behind the lookup may have learned it since.
      if (this.url === undefined) {
        const found = this.host.lookUpAddress(this.peer);
        if (found.url === undefined) {
          this.addressUnknown(found.reason);
          return;
        }
        this.url = found.url;
      }
      this.dial();
    });
  }

  /**
   * An attempt found no address for the peer (or one that cannot be dialed: `reason` says which):
   * a failed attempt like a refused dial, so the next
   * one waits for its backoff, and is timed before anyone hears of this one: a connection-error
   * listener that calls connect() again then joins that wait. Reported from within connect()
   * itself, this once recursed until the stack overflowed.
   */
  private addressUnknown(reason: string): void {
    this.scheduleReconnect();
    this.host.connectionFailed(this, CLOSE_CODES.normal, reason);
    if (this.state === 'connecting' || this.state === 'reconnecting') this.startGrace('no address known');
  }

  /**
   * Called by connect(): keep this link up from this side. `url` is the address the caller just
   * looked up, if it found one. Unless `attemptNow` is false, an attempt starts at once when
   * none is under way or timed; otherwise the first waits out a backoff delay.
   */
  want(found: AddressLookup, attemptNow = true): void {
    this.wanted = true;
    if (found.url !== undefined) this.url = found.url;
    if (this.state === 'up' || this.session !== undefined || this.reconnectTimer !== undefined) return;
    if (!attemptNow) this.scheduleReconnect();
    else if (this.url === undefined) this.addressUnknown(found.reason ?? NO_ADDRESS);
    else this.dial();
  }

  /** disconnect() or close(): end the session and forget the peer. */
  shutdown(code: number, reason: string): void {
    this.wanted = false;
    this.reconnectTimer?.cancel();
    this.reconnectTimer = undefined;
    if (this.state === 'up') {
      // What this side received is acknowledged before it leaves, so the peer need not resend it
      // (whether the acknowledgement waited for its delay or for the end of this turn).
      if (this.controlScheduled !== undefined) clearImmediate(this.controlScheduled);
      this.cancelAckTimer();
      this.sendDelayedAcks();
      // With the goodbye, which tells the peer that this is a leave, not a lost connection.
      this.endSession(code, goodbyeReason(reason));
      this.state = 'down';
      this.host.channelEvent(this, 'channel-close');
    } else if (this.session !== undefined) {
      this.endSession(code, reason);
    }
    this.state = 'down';
    this.failedOpens.clear();
    this.dropQueues(reason);
    if (this.peerUpEmitted) {
      this.peerUpEmitted = false;
      this.host.peerDown(this, reason);
    }
    this.remove();
  }

  private remove(): void {
    if (this.removed) return;
    this.removed = true;
    this.graceTimer?.cancel();
    this.reconnectTimer?.cancel();
    this.sessionTimer?.cancel();
    if (this.controlScheduled !== undefined) clearImmediate(this.controlScheduled);
    this.controlScheduled = undefined;
    this.cancelAckTimer();
    this.host.saveSequenceFloor(
      this.peer,
      this.queues.map((queue) => queue.lastSeq),
    );
    this.host.removeLink(this);
  }

  get isRemoved(): boolean {
    return this.removed;
  }

  /** Monotonic ms of the last frame, ping or pong received on any connection of the session. */
  lastHeard(): number {
    let latest = 0;
    for (const connection of this.connections) {
      // Not a connection still in its handshake: its clock started when it was dialed.
      if (connection?.state === 'open' && connection.lastReceived > latest) latest = connection.lastReceived;
    }
    return latest;
  }

  /** Whether peer-up was reported and peer-down not yet. */
  get isUp(): boolean {
    return this.peerUpEmitted;
  }

  recordRtt(rttMs: number): void {
    this.rttMs = rttMs;
    this.rttAverageMs = this.rttAverageMs === 0 ? rttMs : this.rttAverageMs * 0.8 + rttMs * 0.2;
  }
}

/** The request id in a queued request's meta (this node encoded it), or undefined. */
function requestId(codec: CborCodec, meta: Uint8Array): number | undefined {
  try {
    return metaFromWire(codec.decode(meta))?.id;
  } catch {
    return undefined;
  }
}

function push(map: Map<number, LaneAmount[]>, key: number, entry: LaneAmount): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [entry]);
  else list.push(entry);
}

/** FNV-1a over the key's UTF-16 code units: a stable lane for every key. */
export function hashKey(key: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < key.length; index += 1) {
    hash ^= key.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
