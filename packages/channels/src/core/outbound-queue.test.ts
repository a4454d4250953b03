import { describe, expect, it, jest } from '@jest/globals';
import fc from 'fast-check';
import { createCborCodec } from './cbor';
import { readBlockHeader, readChunkHeader } from './frames';
import { createOutboundQueue } from './outbound-queue';

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
    const reply = (payload: unknown) => ({ ...message(payload), replyTo: 'incarnation-1' });
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
    queue.push({ ...message('reply', 'k'), replyTo: 'i' });
    expect(queue.push(message('newer', 'k'))).toBe('queued');
    expect(queue.push({ ...message('another reply', 'k'), replyTo: 'i' })).toBe('queued');
    expect(queue.queuedMessages).toBe(3);
  });

  it('drops the replies addressed to an earlier incarnation, queued or unacknowledged, and keeps the rest in order', () => {
    const queue = createOutboundQueue({ channel: 0, lane: 0, reliable: true, monotonic: false, frameBytes: 4096, chunkBytes: 4096 });
    queue.push({ ...message('old reply 1'), replyTo: 'old' });
    queue.push(message('message 1'));
    queue.nextFrame(4096); // both unacknowledged now
    queue.push({ ...message('old reply 2'), replyTo: 'old' });
    queue.push({ ...message('new reply'), replyTo: 'new' });
    queue.push(message('message 2'));
    expect(queue.dropStaleReplies('new')).toBe(2);
    expect([queue.replyMessages, queue.replyBytes]).toEqual([1, codec.encode('new reply').length]);
    expect(queue.unackedMessages + queue.queuedMessages).toBe(3);
    queue.rewind();
    const frame = queue.nextFrame(4096)!;
    expect(codec.decode(frame.subarray(readBlockHeader(frame).bodyOffset))).toEqual(['message 1', 'new reply', 'message 2']);
    expect(queue.queuedBytes).toBe(0);
  });

  it('ends a resent block at the gap a dropped reply leaves, so every item keeps its own sequence number', () => {
    // Review finding: after 2 was dropped, 1 and 3 went out again as one block labelled 1..2,
    // so the receiver took 3 for 2, and a later resend of 3 under its own number was delivered twice.
    const queue = createOutboundQueue({ channel: 0, lane: 0, reliable: true, monotonic: false, frameBytes: 4096, chunkBytes: 4096 });
    queue.push(message('message 1'));
    queue.push({ ...message('old reply'), replyTo: 'old' });
    queue.push(message('message 3'));
    expect(readBlockHeader(queue.nextFrame(4096)!)).toMatchObject({ firstSeq: 1, count: 3 });
    expect(queue.dropStaleReplies('new')).toBe(1);
    queue.rewind();
    queue.push(message('message 4'));
    const blocks: { firstSeq: number; items: unknown[] }[] = [];
    for (let frame = queue.nextFrame(4096); frame !== undefined; frame = queue.nextFrame(4096)) {
      const header = readBlockHeader(frame);
      blocks.push({ firstSeq: header.firstSeq, items: codec.decode(frame.subarray(header.bodyOffset)) as unknown[] });
    }
    expect(blocks).toEqual([
      { firstSeq: 1, items: ['message 1'] },
      { firstSeq: 3, items: ['message 3', 'message 4'] },
    ]);
  });
});

describe('a tally shared by the lanes of a channel', () => {
  // Any sequence of operations on two lanes leaves the tally equal to what the lanes hold.
  const operation = fc.oneof(
    fc.record({ op: fc.constant('push' as const), lane: fc.integer({ min: 0, max: 1 }), size: fc.integer({ min: 1, max: 3000 }), key: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }), reply: fc.option(fc.constantFrom('old', 'new'), { nil: undefined }) }),
    fc.record({ op: fc.constant('frame' as const), lane: fc.integer({ min: 0, max: 1 }) }),
    fc.record({ op: fc.constant('ack' as const), lane: fc.integer({ min: 0, max: 1 }), upTo: fc.integer({ min: 0, max: 40 }) }),
    fc.record({ op: fc.constant('rewind' as const), lane: fc.integer({ min: 0, max: 1 }) }),
    fc.record({ op: fc.constant('clear' as const), lane: fc.integer({ min: 0, max: 1 }) }),
    fc.record({ op: fc.constant('dropStale' as const), lane: fc.integer({ min: 0, max: 1 }) }),
  );

  it.each([
    ['reliable', true, false],
    ['monotonic', false, true],
  ])('%s lanes', (_kind, reliable, monotonic) => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 80 }), (operations) => {
        const tally = { messages: 0, bytes: 0 };
        const lanes = [0, 1].map((lane) => createOutboundQueue({ channel: 0, lane, reliable, monotonic, frameBytes: 1024, chunkBytes: 1024, tally }));
        for (const step of operations) {
          const queue = lanes[step.lane]!;
          if (step.op === 'push') queue.push({ ...message('x'.repeat(step.size), step.key), ...(step.reply === undefined ? {} : { replyTo: step.reply }) });
          else if (step.op === 'frame') queue.nextFrame(1024);
          else if (step.op === 'ack') queue.acknowledge(step.upTo);
          else if (step.op === 'rewind') queue.rewind();
          else if (step.op === 'clear') queue.clear();
          else queue.dropStaleReplies('new');
          expect(tally).toEqual({
            messages: lanes.reduce((sum, lane) => sum + lane.queuedMessages + lane.unackedMessages, 0),
            bytes: lanes.reduce((sum, lane) => sum + lane.queuedBytes + lane.unackedBytes, 0),
          });
        }
      }),
      { seed: 20261128, numRuns: 300 },
    );
  });
});
