import { describe, expect, it, jest } from '@jest/globals';
import fc from 'fast-check';
import { createCborCodec } from './cbor';
import { MAX_SEQUENCE, readBlockHeader, readChunkHeader } from './frames';
import { createOutboundQueue } from './outbound-queue';
import type { QueuedRequest } from './outbound-queue';

const codec = createCborCodec();
const message = (payload: unknown, key?: string) => ({ payload: codec.encode(payload), raw: false, meta: undefined, key });

describe('outbound queue', () => {
  it('coalesces small messages into one block frame, bounded by frame bytes and message count', () => {
    const queue = createOutboundQueue({ channel: 2, lane: 1, reliable: false, monotonic: false, frameBytes: 1024, chunkBytes: 4096, maxBlockMessages: 50 });
    for (let index = 0; index < 120; index += 1) queue.push(message({ index }));
    const first = queue.nextFrame(1024)!;
    const header = readBlockHeader(first);
    expect(header).toMatchObject({ channel: 2, lane: 1, count: 50 });
    expect(codec.decode(first.subarray(header.bodyOffset))).toEqual(Array.from({ length: 50 }, (_, index) => ({ index })));
    expect(queue.queuedMessages).toBe(70);
  });

  it('monotonic lanes replace a queued message with the same key, keeping its place', () => {
    const queue = createOutboundQueue({ channel: 0, lane: 0, reliable: false, monotonic: true, frameBytes: 4096, chunkBytes: 4096 });
    expect(queue.push(message({ v: 1 }, 'k1'))).toBe('queued');
    expect(queue.push(message({ other: true }, 'k2'))).toBe('queued');
    expect(queue.push(message({ v: 2 }, 'k1'))).toBe('replaced');
    expect(queue.push(message({ unkeyed: 1 }))).toBe('queued');
    expect(queue.queuedMessages).toBe(3);
    const frame = queue.nextFrame(4096)!;
    expect(codec.decode(frame.subarray(readBlockHeader(frame).bodyOffset))).toEqual([{ v: 2 }, { other: true }, { unkeyed: 1 }]);
    // Once framed, a message is gone from the queue: the next one with that key queues anew.
    expect(queue.push(message({ v: 3 }, 'k1'))).toBe('queued');
  });

  it('a message whose chunks started going out is not replaced', () => {
    const queue = createOutboundQueue({ channel: 0, lane: 0, reliable: false, monotonic: true, frameBytes: 1024, chunkBytes: 1024 });
    queue.push(message('x'.repeat(5000), 'k'));
    queue.nextFrame(1024);
    expect(queue.push(message('y', 'k'))).toBe('queued');
    expect(queue.queuedMessages).toBe(2);
  });

  it('reliable lanes keep framed messages until acknowledged and send them again after a rewind', () => {
    const queue = createOutboundQueue({ channel: 0, lane: 0, reliable: true, monotonic: false, frameBytes: 4096, chunkBytes: 4096, firstSeq: 10 });
    for (let index = 0; index < 5; index += 1) queue.push(message(index));
    const frame = queue.nextFrame(4096)!;
    expect(readBlockHeader(frame)).toMatchObject({ reliable: true, firstSeq: 10, count: 5 });
    expect(queue.unackedMessages).toBe(5);
    expect(queue.acknowledge(11)).toBe(2);
    queue.push(message(5));
    queue.rewind();
    const resent = queue.nextFrame(4096)!;
    const header = readBlockHeader(resent);
    expect(header).toMatchObject({ firstSeq: 12, count: 4 });
    expect(codec.decode(resent.subarray(header.bodyOffset))).toEqual([2, 3, 4, 5]);
    expect(queue.lastSeq).toBe(15);
  });

  it('a chunked message interrupted by a reconnect starts over with the same sequence number', () => {
    const queue = createOutboundQueue({ channel: 0, lane: 0, reliable: true, monotonic: false, frameBytes: 1024, chunkBytes: 1024 });
    queue.push({ payload: new Uint8Array(5000), raw: true, meta: undefined, key: undefined });
    const first = readChunkHeader(queue.nextFrame(1024)!);
    queue.nextFrame(1024);
    queue.rewind();
    const again = readChunkHeader(queue.nextFrame(1024)!);
    expect(again.first).toBe(true);
    expect(again.seq).toBe(first.seq);
  });

  it('a raw payload detached after send goes out as zeros, never as the frame buffer\'s old memory', () => {
    // Chunk frames are allocated without zero-fill; stand in for memory that held something else.
    const allocUnsafe = jest.spyOn(Buffer, 'allocUnsafe').mockImplementation((size: number) => Buffer.alloc(size, 0xaa));
    try {
      const queue = createOutboundQueue({ channel: 0, lane: 0, reliable: false, monotonic: false, frameBytes: 1024, chunkBytes: 1024 });
      const bytes = new Uint8Array(new ArrayBuffer(5000)).fill(7);
      queue.push({ payload: bytes, raw: true, meta: undefined, key: undefined });
      queue.nextFrame(1024);
      structuredClone(bytes.buffer, { transfer: [bytes.buffer] }); // the caller gave the buffer away
      const frame = queue.nextFrame(1024)!;
      const body = frame.subarray(frame.length - 1024);
      expect(body.every((byte) => byte === 0)).toBe(true);
    } finally {
      allocUnsafe.mockRestore();
    }
  });

  it('clear drops queued and unacknowledged messages', () => {
    const queue = createOutboundQueue({ channel: 0, lane: 0, reliable: true, monotonic: false, frameBytes: 4096, chunkBytes: 4096 });
    queue.push(message(1));
    queue.nextFrame(4096);
    queue.push(message(2));
    expect(queue.clear()).toBe(2);
    expect(queue.queuedBytes + queue.unackedBytes).toBe(0);
  });

  it('counts replies apart until they leave (best effort) or are acknowledged (reliable)', () => {
    const reply = (payload: unknown) => ({ ...message(payload), replyTo: 1 });
    const bestEffort = createOutboundQueue({ channel: 0, lane: 0, reliable: false, monotonic: false, frameBytes: 4096, chunkBytes: 4096 });
    bestEffort.push(reply('r1'));
    bestEffort.push(message('m1'));
    expect([bestEffort.replyMessages, bestEffort.replyBytes]).toEqual([1, codec.encode('r1').length]);
    bestEffort.nextFrame(4096);
    expect([bestEffort.replyMessages, bestEffort.replyBytes]).toEqual([0, 0]);
    const reliable = createOutboundQueue({ channel: 0, lane: 0, reliable: true, monotonic: false, frameBytes: 4096, chunkBytes: 4096 });
    reliable.push(reply('r1'));
    reliable.push(reply('r2'));
    reliable.nextFrame(4096);
    expect(reliable.replyMessages).toBe(2);
    reliable.rewind();
    expect(reliable.replyMessages).toBe(2);
    reliable.nextFrame(4096);
    expect(reliable.acknowledge(1)).toBe(1);
    expect(reliable.replyMessages).toBe(1);
    reliable.clear();
    expect([reliable.replyMessages, reliable.replyBytes]).toEqual([0, 0]);
  });

  it('replies are never replaced on monotonic lanes', () => {
    const queue = createOutboundQueue({ channel: 0, lane: 0, reliable: false, monotonic: true, frameBytes: 4096, chunkBytes: 4096 });
    queue.push({ ...message('reply', 'k'), replyTo: 1 });
    expect(queue.push(message('newer', 'k'))).toBe('queued');
    expect(queue.push({ ...message('another reply', 'k'), replyTo: 1 })).toBe('queued');
    expect(queue.queuedMessages).toBe(3);
  });

  /** Every frame the queue has now, as (first sequence number, items). */
  function drain(queue: ReturnType<typeof createOutboundQueue>): { firstSeq: number; items: unknown[] }[] {
    const blocks: { firstSeq: number; items: unknown[] }[] = [];
    for (let frame = queue.nextFrame(4096); frame !== undefined; frame = queue.nextFrame(4096)) {
      const header = readBlockHeader(frame);
      const items = codec.decode(frame.subarray(header.bodyOffset)) as unknown[];
      blocks.push({ firstSeq: header.firstSeq, items: header.hasMeta ? items.map((item) => (item as unknown[])[1]) : items });
    }
    return blocks;
  }

  const reply = (payload: string, session: number) => ({ ...message(payload), replyTo: session });

  it('withdraws the replies to an earlier session and the requests that never left; what left stays in the stream', () => {
    // A framed message's number is in the peer's stream, which the peer keeps when only the
    // session changed: taking it out would leave a gap there, as if a message had been lost.
    const queue = createOutboundQueue({ channel: 0, lane: 0, reliable: true, monotonic: false, frameBytes: 4096, chunkBytes: 4096 });
    queue.push(reply('old reply 1', 0));
    queue.push(message('message 1'));
    queue.pushRequest(message('request 1'));
    queue.nextFrame(4096); // 1 to 3, unacknowledged now
    queue.push(reply('old reply 2', 0));
    queue.pushRequest(message('request 2'));
    queue.push(reply('new reply', 1));
    queue.push(message('message 2'));
    expect(queue.withdraw({ replySession: 1, requests: true, renumber: false })).toEqual({ replies: 1, requests: 1, tooLarge: 0, tooLargeRequests: [], tooLargeMessages: [] });
    expect([queue.replyMessages, queue.unackedMessages, queue.queuedMessages]).toEqual([2, 3, 2]);
    queue.rewind();
    expect(drain(queue)).toEqual([{ firstSeq: 1, items: ['old reply 1', 'message 1', 'request 1', 'new reply', 'message 2'] }]);
    expect(queue.queuedBytes).toBe(0);
  });

  it('for a restarted peer withdraws what left too, and numbers what stays without a gap (review finding)', () => {
    // After the stale reply 2 was dropped, 1 and 3 went out again under their own numbers, so
    // the new incarnation, which starts a stream at the first number it sees, counted a gap.
    const queue = createOutboundQueue({ channel: 0, lane: 0, reliable: true, monotonic: false, frameBytes: 4096, chunkBytes: 4096, firstSeq: 10 });
    queue.push(message('message 1'));
    queue.push(reply('old reply', 0));
    queue.pushRequest(message('request'));
    queue.push(message('message 2'));
    expect(readBlockHeader(queue.nextFrame(4096)!)).toMatchObject({ firstSeq: 10, count: 4 });
    queue.push(message('message 3'));
    expect(queue.withdraw({ replySession: 1, requests: true, renumber: true })).toEqual({ replies: 1, requests: 1, tooLarge: 0, tooLargeRequests: [], tooLargeMessages: [] });
    queue.rewind();
    expect(drain(queue)).toEqual([{ firstSeq: 10, items: ['message 1', 'message 2', 'message 3'] }]);
    expect(queue.lastSeq).toBe(12);
    queue.push(message('message 4'));
    expect(drain(queue)).toEqual([{ firstSeq: 13, items: ['message 4'] }]);
  });

  it('cancels a request of which nothing was framed, wherever it waits; one that started to leave goes out whole', () => {
    const queue = createOutboundQueue({ channel: 0, lane: 0, reliable: true, monotonic: false, frameBytes: 4096, chunkBytes: 4096 });
    const first = queue.pushRequest(message('request 1'));
    queue.push(message('message 1'));
    const second = queue.pushRequest(message('request 2'));
    const third = queue.pushRequest(message('request 3'));
    queue.push(message('message 2'));
    expect(queue.cancel(first)).toBe(true); // at the head of the queue
    expect(queue.cancel(third)).toBe(true); // between others
    expect(queue.cancel(first)).toBe(false); // once only
    expect([queue.queuedMessages, queue.queuedBytes]).toEqual([3, message('message 1').payload.length * 2 + message('request 2').payload.length]);
    // What is left goes out numbered without a gap.
    expect(drain(queue)).toEqual([{ firstSeq: 1, items: ['message 1', 'request 2', 'message 2'] }]);
    expect(queue.cancel(second)).toBe(false); // framed: it is in the peer's stream now
    queue.rewind();
    expect(drain(queue)).toEqual([{ firstSeq: 1, items: ['message 1', 'request 2', 'message 2'] }]);
    // A chunked request whose first chunk left cannot be taken back either.
    const chunked = createOutboundQueue({ channel: 0, lane: 0, reliable: false, monotonic: false, frameBytes: 1024, chunkBytes: 1024 });
    const large = chunked.pushRequest({ payload: new Uint8Array(3000), raw: true, meta: undefined, key: undefined });
    expect(readChunkHeader(chunked.nextFrame(1024)!)).toMatchObject({ first: true, last: false });
    expect(chunked.cancel(large)).toBe(false);
    expect(readChunkHeader(chunked.nextFrame(1024)!)).toMatchObject({ first: false, last: false });
    expect(readChunkHeader(chunked.nextFrame(1024)!)).toMatchObject({ first: false, last: true });
    expect(chunked.hasFrame()).toBe(false);
  });

  it('a request cancelled after a peer-down cleared the queue is not counted twice', () => {
    const tally = { messages: 0, bytes: 0 };
    const queue = createOutboundQueue({ channel: 0, lane: 0, reliable: false, monotonic: false, frameBytes: 4096, chunkBytes: 4096, tally });
    const request = queue.pushRequest(message('request'));
    expect(queue.clear()).toBe(1);
    expect(queue.cancel(request)).toBe(false);
    expect(tally).toEqual({ messages: 0, bytes: 0 });
  });

  it('keeps requests when told to, and the replies of the current session', () => {
    const queue = createOutboundQueue({ channel: 0, lane: 0, reliable: false, monotonic: false, frameBytes: 4096, chunkBytes: 4096 });
    queue.pushRequest(message('request'));
    queue.push(reply('reply', 3));
    expect(queue.withdraw({ replySession: 3, requests: false, renumber: true })).toEqual({ replies: 0, requests: 0, tooLarge: 0, tooLargeRequests: [], tooLargeMessages: [] });
    expect(drain(queue)).toEqual([{ firstSeq: 0, items: ['request', 'reply'] }]);
  });

  it('withdraws what is larger than the peer takes (maxPayloadBytes): never framed, or anything for a restarted peer, numbered again without a gap', () => {
    const big = 'b'.repeat(300);
    const bigRequest = { ...message(big), meta: codec.encode([1, 7, null]) };
    const queue = createOutboundQueue({ channel: 0, lane: 0, reliable: true, monotonic: false, frameBytes: 4096, chunkBytes: 4096, firstSeq: 5 });
    queue.push(message('small 1'));
    queue.push(message(big)); // framed below: in the peer's stream
    queue.nextFrame(4096); // 5 and 6
    queue.push(message(big));
    queue.pushRequest(bigRequest);
    queue.push(message('small 2'));
    expect(queue.withdraw({ replySession: 0, requests: false, renumber: false, maxPayloadBytes: 100 })).toEqual({
      replies: 0,
      requests: 0,
      tooLarge: 2,
      tooLargeRequests: [{ meta: bigRequest.meta, bytes: bigRequest.payload.length }],
      tooLargeMessages: [message(big).payload.length],
    });
    queue.rewind();
    expect(drain(queue)).toEqual([{ firstSeq: 5, items: ['small 1', big, 'small 2'] }]);
    // The peer restarted: its stream starts afresh, so the framed one goes too, and 'small 2' follows 'small 1'.
    expect(queue.withdraw({ replySession: 0, requests: false, renumber: true, maxPayloadBytes: 100 })).toMatchObject({ tooLarge: 1, tooLargeMessages: [message(big).payload.length] });
    queue.rewind();
    expect(drain(queue)).toEqual([{ firstSeq: 5, items: ['small 1', 'small 2'] }]);
    expect(queue.lastSeq).toBe(6);
  });

  it('frames by the sizes set for the next session: a partly sent message starts over at the rewind, cut anew', () => {
    const queue = createOutboundQueue({ channel: 0, lane: 0, reliable: true, monotonic: false, frameBytes: 4096, chunkBytes: 4096 });
    queue.push({ payload: new Uint8Array(10_000).fill(1), raw: true, meta: undefined, key: undefined });
    queue.push(message('m'.repeat(2000)));
    expect(queue.nextFrame(4096)!.length).toBe(4 + 6 + 8 + 4096); // the first chunk, then the session breaks
    queue.setFraming(1024, 1024);
    queue.rewind();
    const frames: Uint8Array[] = [];
    while (queue.hasFrame()) frames.push(queue.nextFrame(1024)!);
    const chunks = frames.map((frame) => readChunkHeader(frame));
    // 10,000 bytes in ten chunks, then the 2 KB message, no longer a block at 1 KiB frames, in two.
    expect(chunks.map((chunk) => [chunk.first, chunk.last])).toEqual([
      [true, false], ...Array.from({ length: 8 }, () => [false, false]), [false, true],
      [true, false], [false, true],
    ]);
    for (const frame of frames) expect(frame.length).toBeLessThanOrEqual(1024 + 4 + 6 + 8);
    expect(() => queue.setFraming(32, 1024)).toThrow(RangeError);
  });
});

describe('a tally shared by the lanes of a channel', () => {
  // Any sequence of operations on two lanes (cancelled requests included) leaves the tally equal
  // to what the lanes hold.
  const operation = fc.oneof(
    fc.record({ op: fc.constant('push' as const), lane: fc.integer({ min: 0, max: 1 }), size: fc.integer({ min: 1, max: 3000 }), key: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }), reply: fc.option(fc.constantFrom(0, 1), { nil: undefined }) }),
    fc.record({ op: fc.constant('request' as const), lane: fc.integer({ min: 0, max: 1 }), size: fc.integer({ min: 1, max: 3000 }) }),
    fc.record({ op: fc.constant('frame' as const), lane: fc.integer({ min: 0, max: 1 }) }),
    fc.record({ op: fc.constant('ack' as const), lane: fc.integer({ min: 0, max: 1 }), upTo: fc.integer({ min: 0, max: 40 }) }),
    fc.record({ op: fc.constant('rewind' as const), lane: fc.integer({ min: 0, max: 1 }) }),
    fc.record({ op: fc.constant('clear' as const), lane: fc.integer({ min: 0, max: 1 }) }),
    fc.record({
      op: fc.constant('withdraw' as const),
      lane: fc.integer({ min: 0, max: 1 }),
      requests: fc.boolean(),
      renumber: fc.boolean(),
      maxPayloadBytes: fc.option(fc.integer({ min: 1, max: 3000 }), { nil: undefined }),
    }),
    fc.record({ op: fc.constant('cancel' as const), back: fc.nat({ max: 3 }) }),
  );

  it.each([
    ['reliable', true, false],
    ['monotonic', false, true],
  ])('%s lanes', (_kind, reliable, monotonic) => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 80, size: 'max' }), (operations) => {
        const tally = { messages: 0, bytes: 0 };
        const lanes = [0, 1].map((lane) => createOutboundQueue({ channel: 0, lane, reliable, monotonic, frameBytes: 1024, chunkBytes: 1024, tally }));
        const requests: { lane: number; request: QueuedRequest }[] = [];
        for (const step of operations) {
          if (step.op === 'cancel') {
            const target = requests[Math.max(0, requests.length - 1 - step.back)]; // the latest are likelier still queued
            if (target !== undefined) lanes[target.lane]!.cancel(target.request);
          } else if (step.op === 'push') {
            lanes[step.lane]!.push({ ...message('x'.repeat(step.size), step.key), ...(step.reply === undefined ? {} : { replyTo: step.reply }) });
          } else if (step.op === 'request') {
            requests.push({ lane: step.lane, request: lanes[step.lane]!.pushRequest(message('x'.repeat(step.size))) });
          }
          else if (step.op === 'frame') lanes[step.lane]!.nextFrame(1024);
          else if (step.op === 'ack') lanes[step.lane]!.acknowledge(step.upTo);
          else if (step.op === 'rewind') lanes[step.lane]!.rewind();
          else if (step.op === 'clear') lanes[step.lane]!.clear();
          else {
            const { requests: withdrawRequests, renumber, maxPayloadBytes } = step;
            lanes[step.lane]!.withdraw({ replySession: 1, requests: withdrawRequests, renumber, ...(maxPayloadBytes === undefined ? {} : { maxPayloadBytes }) });
          }
          expect(tally).toEqual({
            messages: lanes.reduce((sum, lane) => sum + lane.queuedMessages + lane.unackedMessages, 0),
            bytes: lanes.reduce((sum, lane) => sum + lane.queuedBytes + lane.unackedBytes, 0),
          });
          // A cancelled request never holds up the lane: there is a frame exactly when a message waits.
          for (const lane of lanes) expect(lane.hasFrame()).toBe(lane.queuedMessages > 0);
        }
      }),
      { seed: 20261128, numRuns: 300 },
    );
  });
});

describe('the last sequence number the wire carries (2^48 − 1)', () => {
  // assignSeq threw a RangeError past it, in the middle of a block (the messages before it in
  // the block already moved to the unacknowledged list, the frame lost): out of a flush run from
  // a microtask that ended the process, and the lane threw at every flush after.
  const reliable = (firstSeq: number, frameBytes = 4096) => createOutboundQueue({ channel: 0, lane: 0, reliable: true, monotonic: false, frameBytes, chunkBytes: 1024, firstSeq });

  it('ends a block at it, then frames nothing more (no throw) and says so, until clear() starts the numbers over', () => {
    const queue = reliable(MAX_SEQUENCE - 2);
    for (let index = 0; index < 5; index += 1) queue.push(message({ index }));
    const frame = queue.nextFrame(4096)!;
    const header = readBlockHeader(frame);
    expect(header).toMatchObject({ firstSeq: MAX_SEQUENCE - 2, count: 3 });
    expect(codec.decode(frame.subarray(header.bodyOffset))).toEqual([{ index: 0 }, { index: 1 }, { index: 2 }]);
    expect(queue.lastSeq).toBe(MAX_SEQUENCE);
    expect(queue.sequenceExhausted).toBe(true);
    expect(queue.hasFrame()).toBe(false);
    expect(queue.nextFrame(4096)).toBeUndefined();
    expect(queue.queuedMessages).toBe(2);
    expect(queue.unackedMessages).toBe(3);
    // Acknowledgements still release what went out.
    expect(queue.acknowledge(MAX_SEQUENCE)).toBe(3);
    expect(queue.sequenceExhausted).toBe(true);
    // The session's reset: what waited is dropped, and the next stream is numbered from 1.
    expect(queue.clear()).toBe(2);
    expect(queue.sequenceExhausted).toBe(false);
    queue.push(message('next'));
    expect(readBlockHeader(queue.nextFrame(4096)!)).toMatchObject({ firstSeq: 1, count: 1 });
  });

  it('is not exhausted by numbering the last message, only by one more that needs a number; a chunked message numbered last goes out whole', () => {
    const queue = reliable(MAX_SEQUENCE, 256);
    queue.push({ payload: new Uint8Array(3000), raw: true, meta: undefined, key: undefined });
    const chunks: { first: boolean; last: boolean; seq: number }[] = [];
    for (let frame = queue.nextFrame(256); frame !== undefined; frame = queue.nextFrame(256)) chunks.push(readChunkHeader(frame));
    expect(chunks.length).toBeGreaterThan(1);
    // The first chunk carries the number; every chunk after it goes out, the last one included.
    expect(chunks[0]).toMatchObject({ first: true, seq: MAX_SEQUENCE });
    expect(chunks.at(-1)).toMatchObject({ last: true });
    expect(queue.queuedMessages).toBe(0);
    expect(queue.sequenceExhausted).toBe(false);
    queue.push(message('one more'));
    expect(queue.sequenceExhausted).toBe(true);
    expect(queue.nextFrame(256)).toBeUndefined();
  });

  it('keeps a clear() before the numbers ran out numbering on, as before', () => {
    const queue = reliable(10);
    queue.push(message('a'));
    queue.nextFrame(4096);
    queue.clear();
    queue.push(message('b'));
    expect(readBlockHeader(queue.nextFrame(4096)!)).toMatchObject({ firstSeq: 11 });
  });

  it('never limits an unreliable lane, which numbers nothing', () => {
    const queue = createOutboundQueue({ channel: 0, lane: 0, reliable: false, monotonic: false, frameBytes: 4096, chunkBytes: 1024, firstSeq: MAX_SEQUENCE + 1 });
    queue.push(message('x'));
    expect(queue.sequenceExhausted).toBe(false);
    expect(queue.nextFrame(4096)).toBeDefined();
  });
});
