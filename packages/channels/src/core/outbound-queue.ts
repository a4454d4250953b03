// The queue of one channel lane towards one peer: messages wait here (already CBOR-encoded)
// until the scheduler gives the lane a frame. Small messages are coalesced into BLOCK frames;
// large ones (and raw byte payloads) go out as a sequence of CHUNK frames so that no frame
// exceeds `chunkBytes`. Monotonic lanes replace a queued message by a newer one with the same
// key; reliable lanes number messages when they are framed, keep them until acknowledged and
// send the unacknowledged ones again, in order, after a reconnect. A request that failed on this
// side before anything of it was framed (its timeout) can be taken back (`cancel`).
//
// Pure: bytes in, frames out; no sockets, no timers.
import { CBOR_NULL, CBOR_PAIR, arrayHeadLength, writeArrayHead } from './cbor-heads';
import {
  BLOCK_HEADER_BYTES,
  MAX_SEQUENCE,
  RELIABLE_BLOCK_HEADER_BYTES,
  blockAckBytes,
  chunkHeaderLength,
  writeBlockHeader,
  writeChunkHeader,
} from './frames';
import type { LaneAmount } from './frames';

export interface OutboundMessage {
  /** CBOR bytes of the payload, or the payload itself when `raw`. */
  readonly payload: Uint8Array;
  /** The payload is a byte string sent as is (always chunk-framed). */
  readonly raw: boolean;
  /** CBOR bytes of the message meta (headers, request or reply ids), if any. */
  readonly meta: Uint8Array | undefined;
  /** Partition key; on monotonic lanes a newer message with the same key replaces a queued one. */
  readonly key: string | undefined;
  /**
   * Set on replies: the requester's session whose request this answers (the link counts its
   * sessions). Replies are counted apart (the transport bounds them per peer) and are never
   * replaced by a newer message.
   */
  readonly replyTo?: number;
}

declare const queuedRequest: unique symbol;
/** A request as `pushRequest` queued it, for `cancel`. */
export interface QueuedRequest {
  readonly [queuedRequest]: true;
}

interface Entry {
  payload: Uint8Array;
  raw: boolean;
  meta: Uint8Array | undefined;
  key: string | undefined;
  replyTo: number | undefined;
  /** Pushed with `pushRequest`: `withdraw` and `cancel` may take it back. */
  request: boolean;
  /** Queued, and nothing of it framed yet: `cancel` can still take it back. */
  waiting: boolean;
  /** Taken back by `cancel`; stays in `pending` (counted in `cancelled`) until `head` passes it. */
  cancelled: boolean;
  /** Body size: meta + payload. */
  bytes: number;
  /** Sequence number once framed on a reliable lane; 0 before. */
  seq: number;
  /** Body bytes already framed (chunked messages). */
  sent: number;
}

export interface OutboundQueueOptions {
  readonly channel: number;
  readonly lane: number;
  readonly reliable: boolean;
  readonly monotonic: boolean;
  /** Largest BLOCK frame; a message that does not fit alone in one is chunked. */
  readonly frameBytes: number;
  /** Largest chunk of a chunked message (Infinity: one CHUNK frame per message). */
  readonly chunkBytes: number;
  /** Most messages coalesced in one BLOCK frame. Default 4096. */
  readonly maxBlockMessages?: number;
  /** First sequence number (reliable lanes). Default 1; a new link continues where the last one stopped. */
  readonly firstSeq?: number;
  /**
   * A tally shared by the lanes of one channel: messages and bytes queued or unacknowledged,
   * kept as they change so that the bound check on every send reads two numbers instead of
   * summing every lane.
   */
  readonly tally?: QueueTally;
  /** Where chunk frames come from (not zero-filled: every byte is written). Default Buffer.allocUnsafe. */
  readonly allocateChunk?: (bytes: number) => Uint8Array;
}

/** Messages and bytes queued or awaiting acknowledgement, over the queues that share it. */
export interface QueueTally {
  messages: number;
  bytes: number;
}

export type PushResult = 'queued' | 'replaced';

export interface OutboundQueue {
  readonly channel: number;
  readonly lane: number;
  /** Appends a message (or, on a monotonic lane, replaces a queued one with the same key). */
  push(message: OutboundMessage): PushResult;
  /** Appends a request: never replaced, and taken back by `withdraw` (with `requests`) or `cancel`. */
  pushRequest(message: OutboundMessage): QueuedRequest;
  /**
   * Takes back a request that failed on this side (its caller gave up), if nothing of it has
   * been framed yet: it is never sent, and stops counting against the bounds at once. False
   * when it had started to leave (or was gone already): then it goes out, or went, whole.
   */
  cancel(request: QueuedRequest): boolean;
  /** Whether a frame can be built now (not while `sequenceExhausted`). */
  hasFrame(): boolean;
  /**
   * Builds the next frame of at most about `maxBytes` (a chunk or a single message may be the
   * whole frame). A BLOCK frame carries `acks` in its ACKS section, beyond `maxBytes` (they count
   * against no credit); a CHUNK frame does not (its first byte tells which frame it is).
   */
  nextFrame(maxBytes: number, acks?: readonly LaneAmount[]): Uint8Array | undefined;
  /** Releases reliable messages up to and including `seq`; returns how many were released. */
  acknowledge(seq: number): number;
  /** After a reconnect: unacknowledged messages, then a partly sent one, go out again first; returns how many are resent. */
  rewind(): number;
  /**
   * Between sessions, before `rewind`: the frame and chunk sizes for the next session (the peer
   * may take smaller ones than this node's own, see wire-limits.ts). A partly sent message starts
   * over at `rewind`, cut to the new size.
   */
  setFraming(frameBytes: number, chunkBytes: number): void;
  /**
   * Empties the queue (peer down, after which the peer takes the next session for a new stream:
   * see the link's dropQueues); returns how many messages were dropped. A lane whose sequence
   * numbers ran out numbers from 1 again.
   */
  clear(): number;
  /**
   * A reliable lane has used every sequence number the wire carries (2^48 − 1) and holds a
   * message that needs one: nothing more can be framed on it (`hasFrame` is false) until the
   * session is reset (`clear`, under a new session epoch).
   */
  readonly sequenceExhausted: boolean;
  /** Messages waiting to be framed (a partly sent chunked one counts). */
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  /** Reliable messages framed but not yet acknowledged. */
  readonly unackedMessages: number;
  readonly unackedBytes: number;
  /** Highest sequence number assigned so far. */
  readonly lastSeq: number;
  /** Replies queued or awaiting acknowledgement (they are part of the counts above too). */
  readonly replyMessages: number;
  readonly replyBytes: number;
  /**
   * Between sessions, before `rewind`, when the peer's session changed: removes what nobody
   * waits for any more, the replies to requests of another session than `replySession` and,
   * with `requests`, the requests (they have failed on this side). Only what was never framed,
   * since a framed message's number is in the peer's stream and a missing one would look lost
   * to it; with `renumber` (the peer restarted, so its stream starts afresh from whatever number
   * comes first) what was framed too, and what is left is numbered again without a gap.
   */
  withdraw(options: WithdrawOptions): WithdrawResult;
}

export interface WithdrawOptions {
  readonly replySession: number;
  readonly requests: boolean;
  readonly renumber: boolean;
  /**
   * Removes too what the peer would refuse, a payload larger than this (under the same rule:
   * only what was never framed, unless `renumber`).
   */
  readonly maxPayloadBytes?: number;
}

export interface WithdrawResult {
  /** Replies removed (stale or too large). */
  readonly replies: number;
  /** Requests removed as stale (`requests`). */
  readonly requests: number;
  /** Messages other than replies removed for their size. */
  readonly tooLarge: number;
  /** The requests among them: their meta (to find whom to fail) and payload size. */
  readonly tooLargeRequests: readonly { readonly meta: Uint8Array | undefined; readonly bytes: number }[];
  /** The payload size of each of the others (plain messages, which `send` accepted), in queue order. */
  readonly tooLargeMessages: readonly number[];
}

const EMPTY = new Uint8Array(0);

function isLarge(entry: Entry, frameBytes: number): boolean {
  // Room needed for the entry alone in a reliable block: header, array head, pair head, null meta.
  return entry.raw || entry.bytes + RELIABLE_BLOCK_HEADER_BYTES + 5 + 2 > frameBytes;
}

export function createOutboundQueue(options: OutboundQueueOptions): OutboundQueue {
  const { channel, lane, reliable, monotonic } = options;
  let { frameBytes, chunkBytes } = options;
  const maxBlockMessages = options.maxBlockMessages ?? 4096;
  const checkFraming = (frame: number, chunk: number): void => {
    if (!(frame >= 64)) throw new RangeError('outbound queue: frameBytes must be at least 64');
    if (!(chunk >= 1)) throw new RangeError('outbound queue: chunkBytes must be positive');
  };
  checkFraming(frameBytes, chunkBytes);

  let pending: Entry[] = [];
  let head = 0;
  let unacked: Entry[] = [];
  let unackedHead = 0;
  let queuedBytes = 0;
  let unackedBytes = 0;
  let replyMessages = 0;
  let replyBytes = 0;
  let nextSeq = options.firstSeq ?? 1;
  /** Cancelled entries still in `pending` after `head` (never at `head`: `skipCancelled`). */
  let cancelled = 0;
  const byKey = monotonic ? new Map<string, Entry>() : undefined;
  const tally: QueueTally = options.tally ?? { messages: 0, bytes: 0 };
  const allocateChunk = options.allocateChunk ?? ((bytes: number): Uint8Array => Buffer.allocUnsafe(bytes));
  /** An entry leaves the queue for good (sent unreliably, acknowledged, dropped). */
  const leave = (entry: Entry): void => {
    tally.messages -= 1;
    tally.bytes -= entry.bytes;
    // A request's entry lives on in its handle until the request settles: keep no bytes in it.
    entry.payload = EMPTY;
    entry.meta = undefined;
  };

  /**
   * Lets go of the entry at `index` of `list`, which the queue has moved past (`head` or
   * `unackedHead` is beyond it). The arrays are compacted only every 1,024 entries or so; without
   * this, a lane that went quiet would keep its last sent messages (their payloads: raw ones are
   * the caller's own buffers) for as long as it stayed quiet.
   */
  const vacate = (list: Entry[], index: number): void => {
    (list as (Entry | undefined)[])[index] = undefined;
  };

  const compact = (): void => {
    if (head > 1024 && head * 2 > pending.length) {
      pending = pending.slice(head);
      head = 0;
    }
    if (unackedHead > 1024 && unackedHead * 2 > unacked.length) {
      unacked = unacked.slice(unackedHead);
      unackedHead = 0;
    }
  };

  /** The entry at `head` needs a sequence number and none is left: see `sequenceExhausted`. */
  const exhausted = (): boolean => reliable && nextSeq > MAX_SEQUENCE && head < pending.length && pending[head]!.seq === 0;

  const assignSeq = (entry: Entry): void => {
    if (!reliable || entry.seq !== 0) return;
    // Never reached: a block stops at the last number and `nextFrame` frames nothing once none is left.
    if (nextSeq > MAX_SEQUENCE) throw new RangeError('outbound queue: sequence numbers exhausted');
    entry.seq = nextSeq;
    nextSeq += 1;
  };

  const releaseReply = (entry: Entry): void => {
    if (entry.replyTo === undefined) return;
    replyMessages -= 1;
    replyBytes -= entry.bytes;
  };

  /** Moves `head` past cancelled entries, so that the entry at `head` is always one to send. */
  const skipCancelled = (): void => {
    while (head < pending.length && pending[head]!.cancelled) {
      vacate(pending, head);
      head += 1;
      cancelled -= 1;
    }
  };

  /** `entry`, the one at `head`, has gone out whole. */
  const finish = (entry: Entry): void => {
    vacate(pending, head);
    head += 1;
    skipCancelled();
    entry.waiting = false;
    queuedBytes -= entry.bytes;
    if (byKey !== undefined && entry.key !== undefined && byKey.get(entry.key) === entry) byKey.delete(entry.key);
    entry.sent = 0;
    if (reliable) {
      unacked.push(entry);
      unackedBytes += entry.bytes;
    } else {
      leave(entry);
      releaseReply(entry);
    }
  };

  const chunkFrame = (entry: Entry): Uint8Array => {
    const first = entry.sent === 0;
    if (first) assignSeq(entry);
    entry.waiting = false;
    const remaining = entry.bytes - entry.sent;
    const length = Math.min(remaining, chunkBytes);
    const last = length === remaining;
    const metaLength = entry.meta?.length ?? 0;
    const headerLength = chunkHeaderLength(reliable, first);
    // Not zero-filled: the header and the body below cover every byte.
    const frame = allocateChunk(headerLength + length);
    writeChunkHeader(frame, {
      channel,
      lane,
      hasMeta: metaLength > 0,
      reliable,
      first,
      last,
      raw: entry.raw,
      seq: entry.seq,
      total: entry.bytes,
      metaLength,
    });
    // Copy body bytes [sent, sent + length) where the body is meta followed by payload.
    let offset = headerLength;
    let from = entry.sent;
    const end = entry.sent + length;
    if (from < metaLength && entry.meta !== undefined) {
      const metaEnd = Math.min(end, metaLength);
      frame.set(entry.meta.subarray(from, metaEnd), offset);
      offset += metaEnd - from;
      from = metaEnd;
    }
    // A raw payload is sent by reference. If the caller shrank it or gave its buffer away
    // (detached: length 0) after `send`, what is missing goes out as zeros: no throw in the
    // middle of a flush, and never the frame buffer's uninitialised memory.
    const payloadEnd = Math.min(end - metaLength, entry.payload.length);
    if (from - metaLength < payloadEnd) {
      frame.set(entry.payload.subarray(from - metaLength, payloadEnd), offset);
      offset += payloadEnd - (from - metaLength);
    }
    if (offset < frame.length) frame.fill(0, offset);
    entry.sent = end;
    if (last) finish(entry);
    return frame;
  };

  const blockFrame = (maxBytes: number, acks: readonly LaneAmount[] | undefined): Uint8Array => {
    // Gather consecutive small entries that fit.
    let count = 0;
    let bodyBytes = 0;
    let hasMeta = false;
    const limit = Math.max(maxBytes, 64);
    // A block's items carry consecutive sequence numbers from its first one. Entries resent after
    // a reconnect keep theirs; `withdraw` leaves no gap among them, but should one open, the
    // block ends there (a new entry would get nextSeq, which follows the last one assigned).
    const firstSeq = pending[head]!.seq !== 0 ? pending[head]!.seq : nextSeq;
    let unassigned = 0;
    for (let index = head; index < pending.length && count < maxBlockMessages; index += 1) {
      const entry = pending[index]!;
      if (entry.cancelled) continue; // `finish` moves `head` past it below
      if (isLarge(entry, frameBytes)) break;
      if (reliable && (entry.seq !== 0 ? entry.seq : nextSeq + unassigned) !== firstSeq + count) break;
      // The last number the wire carries ends the block: the rest wait for the session's reset.
      if (reliable && entry.seq === 0 && nextSeq + unassigned > MAX_SEQUENCE) break;
      const entryMeta = entry.meta !== undefined;
      // Items in a meta block are [meta, payload] pairs; account for the pair head and a null meta.
      const nextHasMeta: boolean = hasMeta || entryMeta;
      const nextBody = bodyBytes + entry.bytes;
      const pairOverhead = nextHasMeta ? (count + 1) * 2 : 0;
      const total = RELIABLE_BLOCK_HEADER_BYTES + arrayHeadLength(count + 1) + nextBody + pairOverhead;
      if (count > 0 && total > limit) break;
      count += 1;
      if (entry.seq === 0) unassigned += 1;
      bodyBytes = nextBody;
      hasMeta = nextHasMeta;
    }
    const headerLength = (reliable ? RELIABLE_BLOCK_HEADER_BYTES : BLOCK_HEADER_BYTES) + blockAckBytes(acks?.length ?? 0);
    // From Node's pool (a slice of a shared 8 KiB slab below 4 KiB), not zero-filled: every byte
    // up to `offset` is written and the rest is cut off. A Uint8Array of its own cost an
    // ArrayBuffer per frame, and ws then made a Buffer of it.
    const frame = Buffer.allocUnsafe(headerLength + arrayHeadLength(count) + bodyBytes + (hasMeta ? count * 2 : 0));
    const firstEntry = pending[head]!;
    assignSeq(firstEntry);
    writeBlockHeader(frame, channel, lane, hasMeta, reliable, count, firstEntry.seq, acks);
    let offset = writeArrayHead(frame, headerLength, count);
    for (let taken = 0; taken < count; taken += 1) {
      const entry = pending[head]!;
      assignSeq(entry);
      if (hasMeta) {
        frame[offset] = CBOR_PAIR;
        offset += 1;
        if (entry.meta === undefined) {
          frame[offset] = CBOR_NULL;
          offset += 1;
        } else {
          frame.set(entry.meta, offset);
          offset += entry.meta.length;
        }
        frame.set(entry.payload, offset);
        offset += entry.payload.length;
      } else {
        frame.set(entry.payload, offset);
        offset += entry.payload.length;
      }
      finish(entry);
    }
    return offset === frame.length ? frame : frame.subarray(0, offset);
  };

  const append = (message: OutboundMessage, bytes: number, request: boolean): Entry => {
    const entry: Entry = {
      payload: message.payload,
      raw: message.raw,
      meta: message.meta,
      key: message.key,
      replyTo: message.replyTo,
      request,
      waiting: true,
      cancelled: false,
      bytes,
      seq: 0,
      sent: 0,
    };
    pending.push(entry);
    queuedBytes += bytes;
    tally.messages += 1;
    tally.bytes += bytes;
    if (entry.replyTo !== undefined) {
      replyMessages += 1;
      replyBytes += bytes;
    }
    // A request is never replaced by a newer message (its caller waits for its reply).
    if (byKey !== undefined && message.key !== undefined && !request) byKey.set(message.key, entry);
    return entry;
  };

  return {
    channel,
    lane,
    push(message) {
      const bytes = message.payload.length + (message.meta?.length ?? 0);
      if (byKey !== undefined && message.key !== undefined && message.replyTo === undefined) {
        const queued = byKey.get(message.key);
        if (queued !== undefined && queued.sent === 0 && queued.seq === 0 && queued.replyTo === undefined) {
          queuedBytes += bytes - queued.bytes;
          tally.bytes += bytes - queued.bytes;
          queued.payload = message.payload;
          queued.raw = message.raw;
          queued.meta = message.meta;
          queued.bytes = bytes;
          return 'replaced';
        }
      }
      append(message, bytes, false);
      return 'queued';
    },
    pushRequest(message) {
      return append(message, message.payload.length + (message.meta?.length ?? 0), true) as unknown as QueuedRequest;
    },
    cancel(request) {
      const entry = request as unknown as Entry;
      if (!entry.waiting) return false;
      entry.waiting = false;
      entry.cancelled = true;
      queuedBytes -= entry.bytes;
      leave(entry);
      releaseReply(entry);
      if (byKey !== undefined && entry.key !== undefined && byKey.get(entry.key) === entry) byKey.delete(entry.key);
      cancelled += 1;
      skipCancelled();
      return true;
    },
    hasFrame() {
      return head < pending.length && !exhausted();
    },
    nextFrame(maxBytes, acks) {
      if (head >= pending.length || exhausted()) return undefined;
      const entry = pending[head]!;
      const frame = isLarge(entry, frameBytes) ? chunkFrame(entry) : blockFrame(maxBytes, acks);
      compact();
      return frame;
    },
    acknowledge(seq) {
      let released = 0;
      while (unackedHead < unacked.length && unacked[unackedHead]!.seq <= seq) {
        unackedBytes -= unacked[unackedHead]!.bytes;
        leave(unacked[unackedHead]!);
        releaseReply(unacked[unackedHead]!);
        vacate(unacked, unackedHead);
        unackedHead += 1;
        released += 1;
      }
      compact();
      return released;
    },
    rewind() {
      const current = pending[head];
      if (current !== undefined) current.sent = 0;
      if (unackedHead >= unacked.length) return 0;
      const resend = unacked.slice(unackedHead);
      for (const entry of resend) queuedBytes += entry.bytes;
      unackedBytes = 0;
      unacked = [];
      unackedHead = 0;
      pending = resend.concat(pending.slice(head));
      head = 0;
      return resend.length;
    },
    setFraming(frame, chunk) {
      checkFraming(frame, chunk);
      frameBytes = frame;
      chunkBytes = chunk;
    },
    clear() {
      for (let index = head; index < pending.length; index += 1) pending[index]!.waiting = false;
      const dropped = pending.length - head - cancelled + (unacked.length - unackedHead);
      tally.messages -= dropped;
      tally.bytes -= queuedBytes + unackedBytes;
      pending = [];
      head = 0;
      unacked = [];
      unackedHead = 0;
      queuedBytes = 0;
      unackedBytes = 0;
      replyMessages = 0;
      replyBytes = 0;
      cancelled = 0;
      byKey?.clear();
      // Numbers start over only here, where the peer is about to see a new stream; anywhere else
      // a number it has delivered could come again, and the message with it be dropped as a duplicate.
      if (nextSeq > MAX_SEQUENCE) nextSeq = 1;
      return dropped;
    },
    withdraw({ replySession, requests, renumber, maxPayloadBytes = Infinity }) {
      const stale = (entry: Entry): boolean =>
        (entry.replyTo !== undefined && entry.replyTo !== replySession) || (requests && entry.request);
      const tooLarge = (entry: Entry): boolean => entry.payload.length > maxPayloadBytes;
      const removable = (entry: Entry): boolean => (stale(entry) || tooLarge(entry)) && (renumber || entry.seq === 0);
      let replies = 0;
      let withdrawn = 0;
      let oversized = 0;
      const oversizedRequests: { meta: Uint8Array | undefined; bytes: number }[] = [];
      const oversizedMessages: number[] = [];
      const remove = (entry: Entry): void => {
        entry.waiting = false;
        if (entry.replyTo !== undefined) {
          replies += 1;
        } else if (stale(entry)) {
          withdrawn += 1;
        } else {
          oversized += 1;
          if (entry.request) oversizedRequests.push({ meta: entry.meta, bytes: entry.payload.length });
          else oversizedMessages.push(entry.payload.length);
        }
        leave(entry);
        releaseReply(entry);
        if (byKey !== undefined && entry.key !== undefined && byKey.get(entry.key) === entry) byKey.delete(entry.key);
      };
      const firstSeq = unacked[unackedHead]?.seq ?? pending[head]?.seq ?? 0;
      /** The entries of `list` from `from` on that stay, and the bytes of those removed. */
      const sweep = (list: Entry[], from: number): { kept: Entry[]; bytes: number } => {
        const kept: Entry[] = [];
        let bytes = 0;
        for (let index = from; index < list.length; index += 1) {
          const entry = list[index]!;
          if (entry.cancelled) continue; // accounted for when it was cancelled
          if (!removable(entry)) {
            kept.push(entry);
            continue;
          }
          bytes += entry.bytes;
          remove(entry);
        }
        return { kept, bytes };
      };
      const fromUnacked = sweep(unacked, unackedHead);
      const fromPending = sweep(pending, head);
      unacked = fromUnacked.kept;
      unackedBytes -= fromUnacked.bytes;
      unackedHead = 0;
      pending = fromPending.kept;
      queuedBytes -= fromPending.bytes;
      head = 0;
      cancelled = 0;
      if (renumber && firstSeq !== 0) {
        // Framed entries are the unacknowledged ones, then at most a partly sent one.
        let seq = firstSeq;
        for (const entry of unacked) entry.seq = seq++;
        for (const entry of pending) if (entry.seq !== 0) entry.seq = seq++;
        nextSeq = seq;
      }
      return { replies, requests: withdrawn, tooLarge: oversized, tooLargeRequests: oversizedRequests, tooLargeMessages: oversizedMessages };
    },
    get queuedMessages() {
      return pending.length - head - cancelled;
    },
    get queuedBytes() {
      return queuedBytes;
    },
    get unackedMessages() {
      return unacked.length - unackedHead;
    },
    get unackedBytes() {
      return unackedBytes;
    },
    get lastSeq() {
      return nextSeq - 1;
    },
    get sequenceExhausted() {
      return exhausted();
    },
    get replyMessages() {
      return replyMessages;
    },
    get replyBytes() {
      return replyBytes;
    },
  };
}
