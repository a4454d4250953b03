// The on-disk encoding of write-ahead log records and snapshot files. Each record is framed as
//   magic (u32) | body length (u32) | CRC-32 of the body (u32) | body (CBOR)
// The magic lets recovery find the next record after damage; the CRC detects torn and corrupt
// writes. Bodies are decoded defensively: the disk can be damaged like any network input.
import { crc32 } from 'node:zlib';
import { Encoder } from 'cbor-x';
import type { Entry, HardState, Membership, MembershipChange, SnapshotMeta } from '../core/types';

export const RECORD_MAGIC = 0xf0ca_d0a1;
export const HEADER_BYTES = 12;
/** A single record may not exceed this; a longer length field is damage, not data. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

// Plain CBOR without shared structures: a file must decode without the writer's state.
const codec = new Encoder({ useRecords: false, structuredClone: false });

export type WalRecord =
  | { readonly type: 'hard-state'; readonly hardState: HardState }
  | { readonly type: 'entry'; readonly entry: Entry }
  | { readonly type: 'snapshot'; readonly index: number; readonly term: number }
  /**
   * Ends a batch. `synced`: the batch was fdatasynced before anything after it was written (so
   * intact data after it proves it durable); false for batches that only move the commit index.
   * `seal`: where the batch lies and its seeded CRC (absent in logs written before seals).
   * `salt`: carried by the first marker of a segment; it seeds the seals of that segment.
   */
  | { readonly type: 'commit'; readonly batch: number; readonly synced: boolean; readonly seal?: BatchSeal; readonly salt?: number };

/**
 * What a commit marker says about its own batch, so that recovery can tell the batch's bytes from
 * a copy of them elsewhere (inside an entry's payload, say) and a block the batch really held as
 * zeros from one a crash left unwritten.
 */
export interface BatchSeal {
  /** Where the batch starts in its segment. */
  readonly offset: number;
  /** The batch's length in bytes, up to the marker's frame. */
  readonly length: number;
  /**
   * CRC-32, seeded by `sealSeed` (the segment, the offset and the salt), of the headers of the
   * batch's frames, end to end. Each header holds its body's length and CRC-32, so this covers
   * every byte of the batch without a second pass over them; `sealHolds` checks both.
   */
  readonly crc: number;
  /** 512-byte blocks (file offset / 512) lying wholly inside the batch that were all zeros. */
  readonly zeroBlocks: readonly number[];
}

/** The unit a crash can leave unwritten; `BatchSeal.zeroBlocks` counts in it. */
export const BLOCK_BYTES = 512;
const ZERO_BLOCK = Buffer.alloc(BLOCK_BYTES);
/** Runs of zero blocks are compared this many at a time. */
const ZERO_RUN_BLOCKS = 128;
const ZERO_RUN = Buffer.alloc(ZERO_RUN_BLOCKS * BLOCK_BYTES);

/**
 * The CRC seed of a batch's seal: the same bytes elsewhere (another offset, another segment, a
 * segment with another salt) give another CRC. A `null` salt is a segment whose first marker
 * carries none (it was begun by a version without seals).
 */
export function sealSeed(sequence: number, offset: number, salt: number | null): number {
  const where = Buffer.alloc(salt === null ? 16 : 20);
  where.writeUInt32BE(Math.floor(sequence / 2 ** 32), 0);
  where.writeUInt32BE(sequence % 2 ** 32, 4);
  where.writeUInt32BE(Math.floor(offset / 2 ** 32), 8);
  where.writeUInt32BE(offset % 2 ** 32, 12);
  if (salt !== null) where.writeUInt32BE(salt, 16);
  return crc32(where);
}

/** Whether the 512-byte block at `at` in `buffer` holds only zeros. */
export function isZeroBlock(buffer: Buffer, at: number): boolean {
  return buffer[at] === 0 && buffer.compare(ZERO_BLOCK, 0, BLOCK_BYTES, at, at + BLOCK_BYTES) === 0;
}

/**
 * Seals a batch of `frames` (whole frames, as `frame` makes them) to be written at `offset` of the
 * segment. A zero block never spans two frames (the second starts with its magic, never a zero),
 * so each frame is scanned on its own: the batch needs no copy to be sealed.
 */
export function sealBatch(frames: readonly Buffer[], offset: number, sequence: number, salt: number | null): BatchSeal {
  let crc = sealSeed(sequence, offset, salt);
  const zeroBlocks: number[] = [];
  let at = offset;
  for (const part of frames) {
    crc = crc32(part.subarray(0, HEADER_BYTES), crc);
    const end = at + part.length;
    for (let block = Math.ceil(at / BLOCK_BYTES); (block + 1) * BLOCK_BYTES <= end; ) {
      const start = block * BLOCK_BYTES - at;
      // Most blocks are told apart by their first byte; a run of zeros is compared in long steps.
      const run = Math.min(ZERO_RUN_BLOCKS, Math.floor((end - block * BLOCK_BYTES) / BLOCK_BYTES));
      if (part[start] === 0 && run > 1 && part.compare(ZERO_RUN, 0, run * BLOCK_BYTES, start, start + run * BLOCK_BYTES) === 0) {
        for (let next = 0; next < run; next += 1) zeroBlocks.push(block + next);
        block += run;
        continue;
      }
      if (isZeroBlock(part, start)) zeroBlocks.push(block);
      block += 1;
    }
    at = end;
  }
  return { offset, length: at - offset, crc, zeroBlocks };
}

/**
 * Whether `seal`, read in a marker at `markerAt`, is the seal of the bytes before it: intact
 * frames end to end from its offset to the marker, whose headers give its CRC. An undefined salt
 * is unknown: the frames are checked, the CRC is not.
 */
export function sealHolds(buffer: Buffer, seal: BatchSeal, markerAt: number, sequence: number, salt: number | null | undefined): boolean {
  if (seal.length === 0 || seal.offset + seal.length !== markerAt) return false;
  const batch = buffer.subarray(0, markerAt);
  let crc = salt === undefined ? 0 : sealSeed(sequence, seal.offset, salt);
  for (let at = seal.offset; at < markerAt; ) {
    const result = readFrame(batch, at);
    if (result.kind !== 'record') return false;
    if (salt !== undefined) crc = crc32(batch.subarray(at, at + HEADER_BYTES), crc);
    at = result.next;
  }
  return salt === undefined || crc === seal.crc;
}

export function frame(body: Uint8Array): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32BE(RECORD_MAGIC, 0);
  header.writeUInt32BE(body.byteLength, 4);
  header.writeUInt32BE(crc32(body), 8);
  return Buffer.concat([header, body]);
}

export function encodeRecord(record: WalRecord): Buffer {
  switch (record.type) {
    case 'hard-state':
      return frame(codec.encode({ t: 'h', term: record.hardState.term, vote: record.hardState.vote, commit: record.hardState.commit }));
    case 'entry': {
      const { entry } = record;
      const body =
        entry.kind === 'normal'
          ? { t: 'e', k: 'n', i: entry.index, term: entry.term, d: entry.data }
          : { t: 'e', k: 'm', i: entry.index, term: entry.term, c: entry.change, m: entry.membership };
      return frame(codec.encode(body));
    }
    case 'snapshot':
      return frame(codec.encode({ t: 's', i: record.index, term: record.term }));
    case 'commit': {
      // `u` marks an unsynced batch; logs written before the flag existed synced every batch.
      // Readers before seals ignore `o`, `n`, `x`, `z` and `s`. The CRC and the salt are written as
      // 4 bytes, so that a marker's size does not depend on their values.
      const body: Record<string, unknown> = { t: 'c', b: record.batch };
      if (!record.synced) body.u = 1;
      if (record.seal !== undefined) {
        body.o = record.seal.offset;
        body.n = record.seal.length;
        body.x = u32Bytes(record.seal.crc);
        if (record.seal.zeroBlocks.length > 0) body.z = record.seal.zeroBlocks;
      }
      if (record.salt !== undefined) body.s = u32Bytes(record.salt);
      return frame(codec.encode(body));
    }
  }
}

export type FrameResult =
  | { readonly kind: 'record'; readonly body: Uint8Array; readonly next: number }
  | { readonly kind: 'end' }
  | { readonly kind: 'damaged'; readonly reason: string };

/** Reads the frame at `offset`. Zero bytes from there to the end count as the end (preallocation). */
export function readFrame(buffer: Buffer, offset: number): FrameResult {
  if (offset >= buffer.length) return { kind: 'end' };
  if (buffer.length - offset < HEADER_BYTES) {
    return buffer.subarray(offset).every((byte) => byte === 0) ? { kind: 'end' } : { kind: 'damaged', reason: 'truncated record header' };
  }
  const magic = buffer.readUInt32BE(offset);
  if (magic === 0 && buffer.subarray(offset).every((byte) => byte === 0)) return { kind: 'end' };
  if (magic !== RECORD_MAGIC) return { kind: 'damaged', reason: `bad magic 0x${magic.toString(16)}` };
  const length = buffer.readUInt32BE(offset + 4);
  if (length > MAX_RECORD_BYTES) return { kind: 'damaged', reason: `record length ${length} exceeds the limit` };
  const start = offset + HEADER_BYTES;
  if (start + length > buffer.length) return { kind: 'damaged', reason: 'record runs past the end of the file' };
  const body = buffer.subarray(start, start + length);
  if (crc32(body) !== buffer.readUInt32BE(offset + 8)) return { kind: 'damaged', reason: 'CRC mismatch' };
  return { kind: 'record', body, next: start + length };
}

/** The offsets after `from` where an intact frame starts (found by their magic). */
export function* intactFramesAfter(buffer: Buffer, from: number): Generator<{ offset: number; body: Uint8Array }> {
  const magic = Buffer.alloc(4);
  magic.writeUInt32BE(RECORD_MAGIC, 0);
  let at = buffer.indexOf(magic, from + 1);
  while (at >= 0) {
    const frameResult = readFrame(buffer, at);
    if (frameResult.kind === 'record') yield { offset: at, body: frameResult.body };
    at = buffer.indexOf(magic, at + 1);
  }
}

class RecordFormatError extends Error {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Map);
}

function integer(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new RecordFormatError(`${what} is not a non-negative integer`);
  return value;
}

function nodeId(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) throw new RecordFormatError(`${what} is not a node id`);
  return value;
}

export function readMembership(value: unknown): Membership {
  if (!isRecord(value) || !Array.isArray(value.voters) || !Array.isArray(value.learners)) throw new RecordFormatError('membership is malformed');
  return {
    voters: value.voters.map((voter) => nodeId(voter, 'voter')),
    learners: value.learners.map((learner) => nodeId(learner, 'learner')),
  };
}

export function readChange(value: unknown): MembershipChange {
  if (!isRecord(value)) throw new RecordFormatError('membership change is malformed');
  const { type } = value;
  if (type !== 'add-voter' && type !== 'add-learner' && type !== 'remove') throw new RecordFormatError('membership change type is unknown');
  return { type, node: nodeId(value.node, 'membership change node') };
}

function u32Bytes(value: number): Buffer {
  const bytes = Buffer.allocUnsafe(4);
  bytes.writeUInt32BE(value, 0);
  return bytes;
}

function u32(value: unknown, what: string): number {
  if (!(value instanceof Uint8Array) || value.byteLength !== 4) throw new RecordFormatError(`${what} is not 4 bytes`);
  return Buffer.from(value.buffer, value.byteOffset, 4).readUInt32BE(0);
}

/** A marker's seal, checked against itself: the zero blocks must lie, in order, inside the batch. */
function readSeal(value: Record<string, unknown>): BatchSeal {
  const offset = integer(value.o, 'batch offset');
  const length = integer(value.n, 'batch length');
  const crc = u32(value.x, 'batch CRC');
  if (!Number.isSafeInteger(offset + length)) throw new RecordFormatError('batch end is out of range');
  if (value.z === undefined) return { offset, length, crc, zeroBlocks: [] };
  const first = Math.ceil(offset / BLOCK_BYTES);
  const end = Math.floor((offset + length) / BLOCK_BYTES);
  // Bounded by what the batch can hold before a single element is looked at.
  if (!Array.isArray(value.z) || value.z.length === 0 || value.z.length > Math.max(0, end - first)) throw new RecordFormatError('zero block list is malformed');
  const zeroBlocks: number[] = [];
  for (const item of value.z as unknown[]) {
    const block = integer(item, 'zero block');
    if (block < first || block >= end || (zeroBlocks.length > 0 && block <= zeroBlocks[zeroBlocks.length - 1]!)) {
      throw new RecordFormatError('zero block lies outside its batch or out of order');
    }
    zeroBlocks.push(block);
  }
  return { offset, length, crc, zeroBlocks };
}

/** Decodes a record body; throws on anything that is not a well-formed record. */
export function decodeRecord(body: Uint8Array): WalRecord {
  let value: unknown;
  try {
    value = codec.decode(body);
  } catch {
    throw new RecordFormatError('record body is not valid CBOR');
  }
  if (!isRecord(value)) throw new RecordFormatError('record body is not a map');
  switch (value.t) {
    case 'h':
      return {
        type: 'hard-state',
        hardState: {
          term: integer(value.term, 'term'),
          vote: value.vote === null || value.vote === undefined ? null : nodeId(value.vote, 'vote'),
          commit: integer(value.commit, 'commit'),
        },
      };
    case 'e': {
      const index = integer(value.i, 'entry index');
      const term = integer(value.term, 'entry term');
      if (value.k === 'n') {
        if (!(value.d instanceof Uint8Array)) throw new RecordFormatError('entry data is not bytes');
        return { type: 'entry', entry: { kind: 'normal', index, term, data: value.d } };
      }
      if (value.k === 'm') {
        return { type: 'entry', entry: { kind: 'membership', index, term, change: readChange(value.c), membership: readMembership(value.m) } };
      }
      throw new RecordFormatError('entry kind is unknown');
    }
    case 's':
      return { type: 'snapshot', index: integer(value.i, 'snapshot index'), term: integer(value.term, 'snapshot term') };
    case 'c': {
      if (value.u !== undefined && value.u !== 1) throw new RecordFormatError('commit marker flag is not 1');
      const marker = { type: 'commit' as const, batch: integer(value.b, 'batch'), synced: value.u === undefined };
      if (value.o === undefined && value.n === undefined && value.x === undefined && value.z === undefined && value.s === undefined) return marker;
      const seal = readSeal(value);
      return value.s === undefined ? { ...marker, seal } : { ...marker, seal, salt: u32(value.s, 'segment salt') };
    }
    default:
      throw new RecordFormatError('record type is unknown');
  }
}

export function isRecordFormatError(error: unknown): error is Error {
  return error instanceof RecordFormatError;
}

/** Snapshot file: magic | meta length | data length (u64) | CRC of meta+data | meta (CBOR) | data. */
export const SNAPSHOT_MAGIC = 0x5a4f_5350;
export const SNAPSHOT_HEADER_BYTES = 20;

export function encodeSnapshotHeader(meta: SnapshotMeta, data: Uint8Array): { header: Buffer; metaBytes: Buffer } {
  const metaBytes = Buffer.from(codec.encode({ i: meta.index, term: meta.term, m: meta.membership }));
  const header = Buffer.allocUnsafe(SNAPSHOT_HEADER_BYTES);
  header.writeUInt32BE(SNAPSHOT_MAGIC, 0);
  header.writeUInt32BE(metaBytes.length, 4);
  header.writeBigUInt64BE(BigInt(data.byteLength), 8);
  header.writeUInt32BE(crc32(data, crc32(metaBytes)), 16);
  return { header, metaBytes };
}

export function decodeSnapshot(file: Buffer): { meta: SnapshotMeta; data: Uint8Array } {
  if (file.length < SNAPSHOT_HEADER_BYTES || file.readUInt32BE(0) !== SNAPSHOT_MAGIC) throw new RecordFormatError('not a snapshot file');
  const metaLength = file.readUInt32BE(4);
  const dataLength = Number(file.readBigUInt64BE(8));
  if (SNAPSHOT_HEADER_BYTES + metaLength + dataLength !== file.length) throw new RecordFormatError('snapshot file has the wrong length');
  const metaBytes = file.subarray(SNAPSHOT_HEADER_BYTES, SNAPSHOT_HEADER_BYTES + metaLength);
  const data = file.subarray(SNAPSHOT_HEADER_BYTES + metaLength);
  if (crc32(data, crc32(metaBytes)) !== file.readUInt32BE(16)) throw new RecordFormatError('snapshot CRC mismatch');
  let value: unknown;
  try {
    value = codec.decode(metaBytes);
  } catch {
    throw new RecordFormatError('snapshot metadata is not valid CBOR');
  }
  if (!isRecord(value)) throw new RecordFormatError('snapshot metadata is malformed');
  return { meta: { index: integer(value.i, 'snapshot index'), term: integer(value.term, 'snapshot term'), membership: readMembership(value.m) }, data };
}
