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
   */
  | { readonly type: 'commit'; readonly batch: number; readonly synced: boolean };

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
    case 'commit':
      // `u` marks an unsynced batch; logs written before the flag existed synced every batch.
      return frame(codec.encode(record.synced ? { t: 'c', b: record.batch } : { t: 'c', b: record.batch, u: 1 }));
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
    case 'c':
      if (value.u !== undefined && value.u !== 1) throw new RecordFormatError('commit marker flag is not 1');
      return { type: 'commit', batch: integer(value.b, 'batch'), synced: value.u === undefined };
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
