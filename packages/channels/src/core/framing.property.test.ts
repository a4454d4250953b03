// Framing and reassembly as a whole, without sockets: messages of random sizes on random
// channels and keys go through the outbound queues, the frames of different lanes interleave
// at random (as separate connections do), and the receiving side reads headers, reassembles
// chunks and decodes blocks. Every message must arrive intact, once, and in order per key;
// with reliable lanes and random reconnects (rewind), still exactly once and in order; with
// acknowledgements riding in the blocks, those too arrive as they were given.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createCborCodec } from './cbor';
import { FRAME_TYPES, MAX_SEQUENCE, blockAckBytes, readBlockHeader, readChunkHeader } from './frames';
import type { LaneAmount } from './frames';
import { META_KINDS, metaFromWire, metaToWire } from './meta';
import { createOutboundQueue } from './outbound-queue';
import type { OutboundQueue } from './outbound-queue';
import { createReassembly } from './reassembly';
import { createReceiveSequence } from './receive-sequence';

const codec = createCborCodec();

interface Sent {
  readonly id: number;
  readonly lane: number;
  readonly key: string;
  readonly payload: unknown;
  readonly headers: Record<string, string> | undefined;
}

const messageArbitrary = fc.record({
  lane: fc.integer({ min: 0, max: 3 }),
  key: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
  kind: fc.constantFrom('object', 'raw', 'string'),
  size: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 300 }) }, { weight: 2, arbitrary: fc.integer({ min: 300, max: 100_000 }) }),
  withHeaders: fc.boolean(),
});

function makePayload(id: number, kind: string, size: number): unknown {
  if (kind === 'raw') {
    const bytes = new Uint8Array(size + 4097); // above the raw threshold: sent as raw chunks
    for (let index = 0; index < bytes.length; index += 1) bytes[index] = (id * 31 + index) & 0xff;
    return bytes;
  }
  if (kind === 'string') return `${id}:${'x'.repeat(size)}`;
  return { id, items: Array.from({ length: Math.ceil(size / 200) }, (_, index) => index * id), text: 'y'.repeat(size) };
}

function encode(payload: unknown): { bytes: Uint8Array; raw: boolean } {
  if (payload instanceof Uint8Array && payload.length > 4096) return { bytes: payload, raw: true };
  return { bytes: codec.encode(payload), raw: false };
}

function runScenario(options: {
  messages: { lane: number; key: string; kind: string; size: number; withHeaders: boolean }[];
  frameBytes: number;
  chunkBytes: number;
  reliable: boolean;
  schedule: number[];
  reconnects: number[];
  /** Acknowledgements (of the other direction) to give the frames, in turn; none when empty. */
  acks?: LaneAmount[][];
}): void {
  const lanes = 4;
  const queues: OutboundQueue[] = Array.from({ length: lanes }, (_, lane) =>
    createOutboundQueue({ channel: 0, lane, reliable: options.reliable, monotonic: false, frameBytes: options.frameBytes, chunkBytes: options.chunkBytes }),
  );
  const budget = { used: 0, max: 64 * 1024 * 1024 };
  let reassembly = Array.from({ length: lanes }, () => createReassembly(1024 * 1024, budget));
  const sequences = Array.from({ length: lanes }, () => createReceiveSequence());
  const sent: Sent[] = [];
  const received: { lane: number; payload: unknown; headers: Record<string, string> | undefined }[] = [];

  options.messages.forEach((message, id) => {
    const payload = makePayload(id, message.kind, message.size);
    const headers = message.withHeaders ? { trace: `t-${id}` } : undefined;
    const { bytes, raw } = encode(payload);
    const meta = headers === undefined ? undefined : codec.encode(metaToWire({ kind: META_KINDS.message, id: 0, headers }));
    queues[message.lane]!.push({ payload: bytes, raw, meta, key: message.key });
    sent.push({ id, lane: message.lane, key: message.key, payload, headers });
  });

  const receiveFrame = (lane: number, frame: Uint8Array, acks: LaneAmount[] | undefined): void => {
    if (frame[0] === FRAME_TYPES.block) {
      const header = readBlockHeader(frame);
      expect(header.lane).toBe(lane);
      expect(header.acks).toEqual(acks ?? []);
      const items = codec.decode(frame.subarray(header.bodyOffset)) as unknown[];
      expect(items).toHaveLength(header.count);
      items.forEach((item, index) => {
        if (options.reliable && sequences[lane]!.accept(header.firstSeq + index) === 'duplicate') return;
        if (header.hasMeta) {
          const [meta, payload] = item as [unknown, unknown];
          received.push({ lane, payload, headers: metaFromWire(meta)?.headers });
        } else {
          received.push({ lane, payload: item, headers: undefined });
        }
      });
      return;
    }
    const header = readChunkHeader(frame);
    const completed = reassembly[lane]!.accept(header, frame);
    if (completed === undefined) return;
    if (options.reliable && sequences[lane]!.accept(completed.seq) === 'duplicate') return;
    const meta = completed.metaLength > 0 ? metaFromWire(codec.decode(completed.body.subarray(0, completed.metaLength))) : undefined;
    const body = completed.body.subarray(completed.metaLength);
    received.push({ lane, payload: completed.raw ? Uint8Array.from(body) : codec.decode(body), headers: meta?.headers });
  };

  let step = 0;
  let reconnectIndex = 0;
  for (let guard = 0; guard < 1_000_000; guard += 1) {
    const ready = queues.map((queue, lane) => (queue.hasFrame() ? lane : -1)).filter((lane) => lane >= 0);
    if (ready.length === 0) break;
    if (options.reliable && reconnectIndex < options.reconnects.length && step === options.reconnects[reconnectIndex]) {
      // The connections died: frames in flight are lost, acks too; the sender rewinds.
      reconnectIndex += 1;
      for (const queue of queues) queue.rewind();
      reassembly.forEach((item) => item.reset());
      reassembly = Array.from({ length: lanes }, () => createReassembly(1024 * 1024, budget));
    }
    const lane = ready[options.schedule[step % options.schedule.length]! % ready.length]!;
    step += 1;
    const acks = options.acks === undefined || options.acks.length === 0 ? undefined : options.acks[step % options.acks.length];
    const frame = queues[lane]!.nextFrame(options.frameBytes, acks)!;
    // The acknowledgements ride beyond the frame's size, in blocks only.
    const ackBytes = frame[0] === FRAME_TYPES.block ? blockAckBytes(acks?.length ?? 0) : 0;
    expect(frame.length - ackBytes).toBeLessThanOrEqual(Math.max(options.frameBytes, options.chunkBytes + 32));
    receiveFrame(lane, frame, acks);
    // Acknowledge now and then (acks may be lost with a reconnect, so only sometimes).
    if (options.reliable && step % 3 === 0) queues[lane]!.acknowledge(sequences[lane]!.delivered);
  }

  // Intact and exactly once.
  expect(received).toHaveLength(sent.length);
  // In order per lane (and so per key, since a key always maps to one lane).
  for (let lane = 0; lane < lanes; lane += 1) {
    const expected = sent.filter((message) => message.lane === lane);
    const got = received.filter((message) => message.lane === lane);
    expect(got.map((message) => message.payload)).toEqual(expected.map((message) => message.payload));
    expect(got.map((message) => message.headers)).toEqual(expected.map((message) => message.headers));
  }
  expect(budget.used).toBe(0);
}

describe('framing and reassembly (property)', () => {
  it('every message arrives intact and in order per lane and key, whatever the sizes, frame limits and interleaving', () => {
    fc.assert(
      fc.property(
        fc.array(messageArbitrary, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1024, max: 70_000 }),
        fc.integer({ min: 1024, max: 70_000 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 20 }),
        (messages, frameBytes, chunkBytes, schedule) => {
          runScenario({ messages, frameBytes, chunkBytes, reliable: false, schedule, reconnects: [] });
        },
      ),
      { numRuns: 30 },
    );
  });

  it('reliable lanes deliver exactly once and in order across random reconnects', () => {
    fc.assert(
      fc.property(
        fc.array(messageArbitrary, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1024, max: 70_000 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 20 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 200 }), { maxLength: 5 }).map((steps) => steps.sort((a, b) => a - b)),
        (messages, chunkBytes, schedule, reconnects) => {
          runScenario({ messages, frameBytes: 16_384, chunkBytes, reliable: true, schedule, reconnects });
        },
      ),
      { numRuns: 30 },
    );
  });

  it('acknowledgements riding in blocks leave the messages intact and arrive as given', () => {
    const laneAmount = fc.record({ channel: fc.integer({ min: 0, max: 255 }), lane: fc.integer({ min: 0, max: 255 }), amount: fc.integer({ min: 0, max: MAX_SEQUENCE }) });
    fc.assert(
      fc.property(
        fc.array(messageArbitrary, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1024, max: 70_000 }),
        fc.boolean(),
        fc.array(fc.nat(), { minLength: 1, maxLength: 20 }),
        // Empty entries stand for frames that carry none.
        fc.array(fc.array(laneAmount, { maxLength: 12 }), { minLength: 1, maxLength: 8 }),
        (messages, chunkBytes, reliable, schedule, acks) => {
          runScenario({ messages, frameBytes: 16_384, chunkBytes, reliable, schedule, reconnects: [], acks });
        },
      ),
      { numRuns: 30 },
    );
  });

  it('unchunked mode sends each large message as one frame', () => {
    const queue = createOutboundQueue({ channel: 0, lane: 0, reliable: false, monotonic: false, frameBytes: 65_536, chunkBytes: Number.POSITIVE_INFINITY });
    queue.push({ payload: new Uint8Array(1_000_000), raw: true, meta: undefined, key: undefined });
    const frame = queue.nextFrame(65_536)!;
    const header = readChunkHeader(frame);
    expect(header.first && header.last).toBe(true);
    expect(frame.length - header.dataOffset).toBe(1_000_000);
    expect(queue.hasFrame()).toBe(false);
  });
});
