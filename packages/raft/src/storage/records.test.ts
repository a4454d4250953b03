import { describe, expect, it } from '@jest/globals';
import { Encoder } from 'cbor-x';
import { BLOCK_BYTES, decodeRecord, encodeRecord, isRecordFormatError, readFrame, sealBatch, sealHolds } from './records';

const cbor = new Encoder({ useRecords: false, structuredClone: false });
const crc = Buffer.from([1, 2, 3, 4]);
const entryFrame = (data: Uint8Array): Buffer => encodeRecord({ type: 'entry', entry: { kind: 'normal', index: 1, term: 1, data } });

function decodeBody(body: Record<string, unknown>): unknown {
  try {
    return decodeRecord(cbor.encode(body));
  } catch (error) {
    return error;
  }
}

describe('commit marker seals', () => {
  it('round-trips a sealed marker, its zero blocks and the segment salt', () => {
    const seal = { offset: 1000, length: 3000, crc: 0xfedc_ba98, zeroBlocks: [2, 3, 6] };
    const framed = encodeRecord({ type: 'commit', batch: 9, synced: false, seal, salt: 0x0102_0304 });
    const result = readFrame(framed, 0);
    if (result.kind !== 'record') throw new Error('not a record');
    expect(decodeRecord(result.body)).toEqual({ type: 'commit', batch: 9, synced: false, seal, salt: 0x0102_0304 });
  });

  it('writes markers of one size whatever their CRC and salt', () => {
    const sizes = new Set([0, 1, 0xff, 0xffff, 0xffff_ffff].map((value) => encodeRecord({ type: 'commit', batch: 1, synced: true, seal: { offset: 0, length: 30, crc: value, zeroBlocks: [] }, salt: value }).length));
    expect(sizes.size).toBe(1);
  });

  it('reads a marker without seal fields as written before seals', () => {
    expect(decodeBody({ t: 'c', b: 4 })).toEqual({ type: 'commit', batch: 4, synced: true });
    expect(decodeBody({ t: 'c', b: 4, u: 1 })).toEqual({ type: 'commit', batch: 4, synced: false });
  });

  it('lists the zero blocks lying wholly inside the batch, by file offset, long runs of them too', () => {
    const data = (size: number, zerosFrom: number, zerosTo: number): Uint8Array => new Uint8Array(size).fill(7).fill(0, zerosFrom, zerosTo);
    const frames = [entryFrame(data(2000, 0, 2000)), entryFrame(data(3000, 500, 2600))];
    // The first frame's data lies at [300 + header, 2300 - 0): its zeros cover blocks 1 to 3 wholly.
    const header = frames[0]!.length - 2000;
    const firstData = 300 + header;
    const secondData = 300 + frames[0]!.length + frames[1]!.length - 3000;
    const expected: number[] = [];
    for (let block = 0; block < 20; block += 1) {
      const from = block * BLOCK_BYTES;
      const inFirst = from >= firstData && from + BLOCK_BYTES <= firstData + 2000;
      const inSecond = from >= secondData + 500 && from + BLOCK_BYTES <= secondData + 2600;
      if (inFirst || inSecond) expected.push(block);
    }
    expect(expected.length).toBeGreaterThanOrEqual(6);
    expect(sealBatch(frames, 300, 1, null).zeroBlocks).toEqual(expected);
    const long = [entryFrame(new Uint8Array(300 * BLOCK_BYTES))];
    const longData = long[0]!.length - 300 * BLOCK_BYTES;
    expect(sealBatch(long, BLOCK_BYTES - longData, 1, null).zeroBlocks).toEqual(Array.from({ length: 300 }, (_, index) => index + 1));
    expect(sealBatch([entryFrame(new Uint8Array(900))], 20, 1, null).zeroBlocks).toEqual([]);
  });

  it('seeds the CRC with the segment, the offset and the salt', () => {
    const batch = [entryFrame(new Uint8Array(10))];
    const crcs = [sealBatch(batch, 100, 1, 5), sealBatch(batch, 101, 1, 5), sealBatch(batch, 100, 2, 5), sealBatch(batch, 100, 1, 6), sealBatch(batch, 100, 1, null)].map((seal) => seal.crc);
    expect(new Set(crcs).size).toBe(crcs.length);
  });

  it('holds a seal only over intact frames end to end from its offset to the marker', () => {
    const frames = [entryFrame(new Uint8Array(40).fill(1)), entryFrame(new Uint8Array(700).fill(2))];
    const buffer = Buffer.concat([Buffer.alloc(64, 9), ...frames]);
    const seal = sealBatch(frames, 64, 3, 77);
    expect(sealHolds(buffer, seal, buffer.length, 3, 77)).toBe(true);
    expect(sealHolds(buffer, seal, buffer.length, 3, undefined)).toBe(true);
    expect(sealHolds(buffer, seal, buffer.length, 3, 78)).toBe(false);
    expect(sealHolds(buffer, seal, buffer.length, 4, 77)).toBe(false);
    expect(sealHolds(Buffer.concat([Buffer.alloc(1), buffer]), seal, buffer.length + 1, 3, 77)).toBe(false);
    const damaged = Buffer.from(buffer);
    damaged[damaged.length - 5]! ^= 1;
    expect(sealHolds(damaged, seal, buffer.length, 3, 77)).toBe(false);
    expect(sealHolds(damaged, seal, buffer.length, 3, undefined)).toBe(false);
  });

  it.each([
    ['an offset that is not an integer', { o: 'x', n: 10, x: crc }],
    ['a negative length', { o: 0, n: -1, x: crc }],
    ['a missing length', { o: 0, x: crc }],
    ['a CRC as a number', { o: 0, n: 10, x: 5 }],
    ['a CRC of 3 bytes', { o: 0, n: 10, x: Buffer.from([1, 2, 3]) }],
    ['an end past safe integers', { o: Number.MAX_SAFE_INTEGER, n: 10, x: crc }],
    ['a salt without a seal', { s: crc }],
    ['a salt as a number', { o: 0, n: 10, x: crc, s: 7 }],
    ['zero blocks that are not a list', { o: 0, n: 2048, x: crc, z: { 0: 1 } }],
    ['an empty zero block list', { o: 0, n: 2048, x: crc, z: [] }],
    ['more zero blocks than the batch holds', { o: 0, n: 2048, x: crc, z: [0, 1, 2, 3, 4] }],
    ['a long zero block list in a short batch', { o: 0, n: 10, x: crc, z: Array.from({ length: 100_000 }, (_, index) => index) }],
    ['a zero block before the batch', { o: 600, n: 2048, x: crc, z: [1, 0] }],
    ['a zero block partly outside the batch', { o: 600, n: 1000, x: crc, z: [3] }],
    ['zero blocks out of order', { o: 0, n: 2048, x: crc, z: [2, 1] }],
    ['a repeated zero block', { o: 0, n: 2048, x: crc, z: [1, 1] }],
    ['a zero block that is not an integer', { o: 0, n: 2048, x: crc, z: [0.5] }],
  ])('reads a seal with %s as damage, not as a crash', (_what, fields) => {
    const error = decodeBody({ t: 'c', b: 1, ...fields });
    expect(isRecordFormatError(error)).toBe(true);
  });
});
