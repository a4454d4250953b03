import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  FLAGS,
  FrameFormatError,
  MAX_ACK_ENTRIES,
  MAX_BLOCK_ACK_BYTES,
  MAX_SEQUENCE,
  blockAckBytes,
  decodeLaneAmounts,
  decodeOpen,
  encodeLaneAmounts,
  encodeOpen,
  readBlockHeader,
  readChunkHeader,
  readUint48,
  writeBlockHeader,
  writeChunkHeader,
  writeUint48,
} from './frames';

describe('frame headers', () => {
  it('48-bit sequence numbers round-trip', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_SEQUENCE }), (value) => {
        const buffer = new Uint8Array(6);
        writeUint48(buffer, 0, value);
        expect(readUint48(buffer, 0)).toBe(value);
      }),
    );
  });

  it('block headers round-trip', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 1, max: 0xffff_ffff }),
        fc.integer({ min: 1, max: MAX_SEQUENCE }),
        (channel, lane, hasMeta, reliable, count, start) => {
          // Every item's number fits in 48 bits (the last is firstSeq + count - 1).
          const firstSeq = Math.min(start, MAX_SEQUENCE - count + 1);
          const frame = new Uint8Array(20);
          const length = writeBlockHeader(frame, channel, lane, hasMeta, reliable, count, firstSeq);
          const header = readBlockHeader(frame.subarray(0, length));
          expect(header).toEqual({ type: 'block', channel, lane, hasMeta, reliable, count, firstSeq: reliable ? firstSeq : 0, acks: [], ackBytes: 0, bodyOffset: length });
        },
      ),
    );
  });

  const laneAmount = fc.record({ channel: fc.integer({ min: 0, max: 255 }), lane: fc.integer({ min: 0, max: 255 }), amount: fc.integer({ min: 0, max: MAX_SEQUENCE }) });

  it('block headers with an acknowledgement section round-trip, the body after it', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.array(laneAmount, { minLength: 1, maxLength: MAX_ACK_ENTRIES }), (hasMeta, reliable, acks) => {
        const frame = new Uint8Array(14 + MAX_BLOCK_ACK_BYTES + 2);
        const length = writeBlockHeader(frame, 7, 2, hasMeta, reliable, 1, 9, acks);
        expect(length).toBe((reliable ? 14 : 8) + blockAckBytes(acks.length));
        frame[length] = 0x81; // the body: a CBOR array of one item
        const header = readBlockHeader(frame.subarray(0, length + 2));
        expect(header).toEqual({ type: 'block', channel: 7, lane: 2, hasMeta, reliable, count: 1, firstSeq: reliable ? 9 : 0, acks, ackBytes: blockAckBytes(acks.length), bodyOffset: length });
        expect(frame[3]! & FLAGS.acks).toBe(FLAGS.acks);
      }),
    );
  });

  it('an acknowledgement section is the entries of an ACK frame behind a count', () => {
    const acks = [
      { channel: 1, lane: 0, amount: MAX_SEQUENCE },
      { channel: 0, lane: 2, amount: 5 },
    ];
    const frame = new Uint8Array(32);
    const length = writeBlockHeader(frame, 1, 0, false, true, 1, 1, acks);
    expect(Buffer.from(frame.subarray(14, length))).toEqual(Buffer.from(encodeLaneAmounts('ack', acks).subarray(1)));
  });

  it('refuses to write more acknowledgements than a block carries', () => {
    const acks = Array.from({ length: MAX_ACK_ENTRIES + 1 }, () => ({ channel: 0, lane: 0, amount: 1 }));
    expect(() => writeBlockHeader(new Uint8Array(4096), 0, 0, false, true, 1, 1, acks)).toThrow(RangeError);
  });

  // A block that declares an acknowledgement section: flags 0x20 (unreliable) or 0x22 (reliable).
  const entry = [0, 1, 0, 0, 0, 0, 0, 7];
  it.each([
    ['an acknowledgement flag without a count', Uint8Array.of(0x10, 0, 0, 0x20, 0, 0, 0, 1), /no count/],
    ['a reliable one without a count', Uint8Array.of(0x10, 0, 0, 0x22, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1), /no count/],
    ['a section of no entries', Uint8Array.of(0x10, 0, 0, 0x20, 0, 0, 0, 1, 0, 0x81, 0), /no entries/],
    ['a section cut inside an entry', Uint8Array.of(0x10, 0, 0, 0x20, 0, 0, 0, 1, 2, ...entry, 0, 1, 0), /truncated: 2 entries need 17 bytes/],
    ['a section that leaves no body', Uint8Array.of(0x10, 0, 0, 0x20, 0, 0, 0, 1, 1, ...entry), /truncated/],
    ['a count of 255 in a short frame', Uint8Array.of(0x10, 0, 0, 0x20, 0, 0, 0, 1, 255, ...entry, 0x81, 0), /truncated: 255 entries need 2041 bytes/],
  ])('rejects %s', (_name, frame, message) => {
    expect(() => readBlockHeader(frame)).toThrow(FrameFormatError);
    expect(() => readBlockHeader(frame)).toThrow(message);
  });

  it('chunk headers round-trip', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 16_384 }), (reliable, first, last, raw, metaLength) => {
        const frame = new Uint8Array(32);
        const total = metaLength + 100;
        const length = writeChunkHeader(frame, { channel: 3, lane: 1, hasMeta: metaLength > 0, reliable, first, last, raw, seq: 77, total, metaLength });
        const header = readChunkHeader(frame.subarray(0, length));
        expect(header.first).toBe(first);
        expect(header.last).toBe(last);
        expect(header.raw).toBe(raw);
        expect(header.dataOffset).toBe(length);
        if (first) {
          expect(header.total).toBe(total);
          expect(header.metaLength).toBe(metaLength);
          expect(header.seq).toBe(reliable ? 77 : 0);
        }
      }),
    );
  });

  it.each([
    ['a block shorter than its header', Uint8Array.of(0x10, 0, 0, 0)],
    ['a block with unknown flags', Uint8Array.of(0x10, 0, 0, 0x80, 0, 0, 0, 1)],
    ['an empty block', Uint8Array.of(0x10, 0, 0, 0, 0, 0, 0, 0)],
    ['a reliable block without its sequence number', Uint8Array.of(0x10, 0, 0, 0x02, 0, 0, 0, 1)],
    // Review finding: 0 means "nothing delivered yet" to the receiver, which then took every 0 as new.
    ['a reliable block numbered 0', Uint8Array.of(0x10, 0, 0, 0x02, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0)],
    // Its last items would be numbered past 48 bits: the receiver acknowledged such a number
    // cut to its low 48 bits (2^48 + 1 as 1), and took every later number for a duplicate.
    ['a reliable block numbered past 48 bits', Uint8Array.of(0x10, 0, 0, 0x02, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe)],
  ])('rejects %s', (_name, frame) => {
    expect(() => readBlockHeader(frame)).toThrow(FrameFormatError);
  });

  it('rejects a reliable first chunk numbered 0 (review finding)', () => {
    const frame = new Uint8Array(32);
    const length = writeChunkHeader(frame, { channel: 3, lane: 1, hasMeta: false, reliable: true, first: true, last: true, raw: false, seq: 0, total: 10, metaLength: 0 });
    expect(() => readChunkHeader(frame.subarray(0, length))).toThrow(FrameFormatError);
  });

  it.each([
    ['a chunk shorter than its header', Uint8Array.of(0x11, 0, 0)],
    ['a first chunk without its lengths', Uint8Array.of(0x11, 0, 0, 0x04, 0, 0)],
    ['meta longer than the message', Uint8Array.of(0x11, 0, 0, 0x05, 0, 0, 0, 1, 0, 0, 0, 2)],
    ['a meta flag without meta', Uint8Array.of(0x11, 0, 0, 0x05, 0, 0, 0, 9, 0, 0, 0, 0)],
    ['unknown chunk flags', Uint8Array.of(0x11, 0, 0, 0x40)],
  ])('rejects %s', (_name, frame) => {
    expect(() => readChunkHeader(frame)).toThrow(FrameFormatError);
  });

  it('credit and ack frames round-trip and reject length mismatches', () => {
    const entries = [
      { channel: 0, lane: 2, amount: 65_536 },
      { channel: 4, lane: 0, amount: 1 },
    ];
    expect(decodeLaneAmounts('credit', encodeLaneAmounts('credit', entries))).toEqual(entries);
    const acks = [{ channel: 1, lane: 0, amount: MAX_SEQUENCE }];
    expect(decodeLaneAmounts('ack', encodeLaneAmounts('ack', acks))).toEqual(acks);
    const frame = encodeLaneAmounts('credit', entries);
    expect(() => decodeLaneAmounts('credit', frame.subarray(0, frame.length - 1))).toThrow(FrameFormatError);
    expect(() => decodeLaneAmounts('ack', Uint8Array.of(0x21, 0))).toThrow(FrameFormatError);
  });

  it('open frames round-trip and reject length mismatches', () => {
    expect(decodeOpen(encodeOpen([3, 1, 254]))).toEqual([3, 1, 254]);
    const frame = encodeOpen([5, 6]);
    expect(() => decodeOpen(frame.subarray(0, 3))).toThrow(FrameFormatError);
    expect(() => decodeOpen(Uint8Array.of(0x22, 0))).toThrow(FrameFormatError);
    expect(() => decodeOpen(Uint8Array.of(0x22))).toThrow(FrameFormatError);
    expect(() => encodeOpen([])).toThrow(RangeError);
  });
});
