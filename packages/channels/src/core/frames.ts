// The wire format inside each WebSocket binary message ("frame"). The first byte is the frame
// type; headers are fixed binary fields so they can be checked before any CBOR is decoded.
//
//   HELLO / CHALLENGE / AUTH / READY   type, then the handshake body (see handshake.ts)
//   BLOCK   type u8 | channel u8 | lane u8 | flags u8 | count u32 | [firstSeq u48 if RELIABLE]
//           | [ackCount u8 | ackCount × (channel u8 | lane u8 | seq u48) if ACKS]
//           then one CBOR array of `count` items: payloads, or [meta, payload] pairs if HAS_META.
//           The ACKS section carries acknowledgements as an ACK frame does (protocol version 6),
//           for lanes of the connection the block travels on; it counts against no credit.
//   CHUNK   type u8 | channel u8 | lane u8 | flags u8 | [seq u48 if RELIABLE and FIRST]
//           | [total u32 | metaLength u32 if FIRST] then raw bytes of the message body
//           (meta CBOR followed by the payload: CBOR, or raw bytes if RAW)
//   CREDIT  type u8 | count u8 | count × (channel u8 | lane u8 | bytes u32)
//   ACK     type u8 | count u8 | count × (channel u8 | lane u8 | seq u48)
//   OPEN    type u8 | count u8 | count × connection u8   (acceptor → dialer, on connection 0:
//           open these connections of the session; see link.ts)

export const FRAME_TYPES = Object.freeze({
  hello: 0x01,
  challenge: 0x02,
  auth: 0x03,
  ready: 0x04,
  block: 0x10,
  chunk: 0x11,
  credit: 0x20,
  ack: 0x21,
  open: 0x22,
});

export const FLAGS = Object.freeze({
  hasMeta: 0x01,
  reliable: 0x02,
  first: 0x04,
  last: 0x08,
  raw: 0x10,
  /** BLOCK only: an acknowledgement section follows the header. */
  acks: 0x20,
});

const KNOWN_BLOCK_FLAGS = FLAGS.hasMeta | FLAGS.reliable | FLAGS.acks;
const KNOWN_CHUNK_FLAGS = FLAGS.hasMeta | FLAGS.reliable | FLAGS.first | FLAGS.last | FLAGS.raw;

/** Largest sequence number a frame can carry (48 bits). */
export const MAX_SEQUENCE = 2 ** 48 - 1;

export const BLOCK_HEADER_BYTES = 8;
export const RELIABLE_BLOCK_HEADER_BYTES = 14;
/** Bytes of one acknowledgement entry, in an ACK frame or a block's ACKS section. */
export const ACK_ENTRY_BYTES = 8;
/** Most acknowledgements in one ACK frame or block (a u8 count; a layout has at most 255 lanes). */
export const MAX_ACK_ENTRIES = 255;
/** Largest ACKS section of a block: a count and 255 entries. */
export const MAX_BLOCK_ACK_BYTES = 1 + MAX_ACK_ENTRIES * ACK_ENTRY_BYTES;

/** Length of a block's ACKS section holding `count` acknowledgements (none: 0). */
export function blockAckBytes(count: number): number {
  return count === 0 ? 0 : 1 + count * ACK_ENTRY_BYTES;
}
/** Largest CHUNK header (reliable, first). */
export const MAX_CHUNK_HEADER_BYTES = 4 + 6 + 8;
/** Room for the meta of a message in its first chunk (request ids, headers). */
export const MAX_META_BYTES = 16 * 1024;

export interface BlockHeader {
  readonly type: 'block';
  readonly channel: number;
  readonly lane: number;
  readonly hasMeta: boolean;
  readonly reliable: boolean;
  readonly count: number;
  readonly firstSeq: number;
  /** Acknowledgements riding in the block (ACKS section), empty when it has none. */
  readonly acks: readonly LaneAmount[];
  /** Length of the ACKS section (0 without one): not counted against the lane's credit. */
  readonly ackBytes: number;
  /** Offset of the CBOR body within the frame. */
  readonly bodyOffset: number;
}

export interface ChunkHeader {
  readonly type: 'chunk';
  readonly channel: number;
  readonly lane: number;
  readonly hasMeta: boolean;
  readonly reliable: boolean;
  readonly first: boolean;
  readonly last: boolean;
  readonly raw: boolean;
  /** Sequence number (reliable first chunks only; 0 otherwise). */
  readonly seq: number;
  /** Declared body length (first chunk only; 0 otherwise). */
  readonly total: number;
  /** Declared meta length (first chunk only). */
  readonly metaLength: number;
  /** Offset of the data within the frame. */
  readonly dataOffset: number;
}

export interface LaneAmount {
  readonly channel: number;
  readonly lane: number;
  readonly amount: number;
}

const NO_ACKS: readonly LaneAmount[] = Object.freeze([]);

const LANE_ENTRY_BYTES = { credit: 6, ack: ACK_ENTRY_BYTES } as const;

/** Why a frame header could not be read; the driver closes with `malformedFrame`. */
export class FrameFormatError extends Error {}

function fail(reason: string): never {
  throw new FrameFormatError(reason);
}

export function writeUint48(target: Uint8Array, offset: number, value: number): void {
  const high = Math.floor(value / 0x1_0000_0000);
  const low = value >>> 0;
  target[offset] = (high >>> 8) & 0xff;
  target[offset + 1] = high & 0xff;
  target[offset + 2] = low >>> 24;
  target[offset + 3] = (low >>> 16) & 0xff;
  target[offset + 4] = (low >>> 8) & 0xff;
  target[offset + 5] = low & 0xff;
}

export function readUint48(source: Uint8Array, offset: number): number {
  const high = (source[offset]! << 8) | source[offset + 1]!;
  const low = ((source[offset + 2]! << 24) | (source[offset + 3]! << 16) | (source[offset + 4]! << 8) | source[offset + 5]!) >>> 0;
  return high * 0x1_0000_0000 + low;
}

function writeUint32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value >>> 24;
  target[offset + 1] = (value >>> 16) & 0xff;
  target[offset + 2] = (value >>> 8) & 0xff;
  target[offset + 3] = value & 0xff;
}

function readUint32(source: Uint8Array, offset: number): number {
  return ((source[offset]! << 24) | (source[offset + 1]! << 16) | (source[offset + 2]! << 8) | source[offset + 3]!) >>> 0;
}

/**
 * Writes a BLOCK header at offset 0 of `target`, with an ACKS section after it when `acks` has
 * entries (1–255); returns the header length, the section included.
 */
export function writeBlockHeader(
  target: Uint8Array,
  channel: number,
  lane: number,
  hasMeta: boolean,
  reliable: boolean,
  count: number,
  firstSeq: number,
  acks: readonly LaneAmount[] = NO_ACKS,
): number {
  if (acks.length > MAX_ACK_ENTRIES) throw new RangeError(`a block carries at most ${MAX_ACK_ENTRIES} acknowledgements (got ${acks.length})`);
  target[0] = FRAME_TYPES.block;
  target[1] = channel;
  target[2] = lane;
  target[3] = (hasMeta ? FLAGS.hasMeta : 0) | (reliable ? FLAGS.reliable : 0) | (acks.length > 0 ? FLAGS.acks : 0);
  writeUint32(target, 4, count);
  let offset = BLOCK_HEADER_BYTES;
  if (reliable) {
    writeUint48(target, 8, firstSeq);
    offset = RELIABLE_BLOCK_HEADER_BYTES;
  }
  if (acks.length === 0) return offset;
  target[offset] = acks.length;
  return writeLaneEntries(target, offset + 1, 'ack', acks);
}

export interface ChunkHeaderFields {
  readonly channel: number;
  readonly lane: number;
  readonly hasMeta: boolean;
  readonly reliable: boolean;
  readonly first: boolean;
  readonly last: boolean;
  readonly raw: boolean;
  readonly seq: number;
  readonly total: number;
  readonly metaLength: number;
}

/** Length of the CHUNK header for these fields. */
export function chunkHeaderLength(reliable: boolean, first: boolean): number {
  return 4 + (first ? (reliable ? 6 : 0) + 8 : 0);
}

/** Writes a CHUNK header at offset 0 of `target`; returns the header length. */
export function writeChunkHeader(target: Uint8Array, fields: ChunkHeaderFields): number {
  target[0] = FRAME_TYPES.chunk;
  target[1] = fields.channel;
  target[2] = fields.lane;
  target[3] =
    (fields.hasMeta ? FLAGS.hasMeta : 0) |
    (fields.reliable ? FLAGS.reliable : 0) |
    (fields.first ? FLAGS.first : 0) |
    (fields.last ? FLAGS.last : 0) |
    (fields.raw ? FLAGS.raw : 0);
  let offset = 4;
  if (!fields.first) return offset;
  if (fields.reliable) {
    writeUint48(target, offset, fields.seq);
    offset += 6;
  }
  writeUint32(target, offset, fields.total);
  writeUint32(target, offset + 4, fields.metaLength);
  return offset + 8;
}

/** Reads a BLOCK header; throws FrameFormatError when the frame is too short or flags are unknown. */
export function readBlockHeader(frame: Uint8Array): BlockHeader {
  if (frame.length < BLOCK_HEADER_BYTES) fail('block frame shorter than its header');
  const flags = frame[3]!;
  if ((flags & ~KNOWN_BLOCK_FLAGS) !== 0) fail(`unknown block flags 0x${flags.toString(16)}`);
  const reliable = (flags & FLAGS.reliable) !== 0;
  if (reliable && frame.length < RELIABLE_BLOCK_HEADER_BYTES) fail('reliable block frame shorter than its header');
  const count = readUint32(frame, 4);
  if (count === 0) fail('empty block');
  // Reliable numbering starts at 1; 0 means "nothing yet" to the receiver, which could never
  // recognise it as a duplicate.
  if (reliable && readUint48(frame, 8) === 0) fail('reliable sequence numbers start at 1');
  // Its items are numbered firstSeq, firstSeq + 1, ...: the last must fit in 48 bits too, or its
  // acknowledgement (48 bits on the wire) would name another number.
  if (reliable && readUint48(frame, 8) + count - 1 > MAX_SEQUENCE) fail('reliable sequence numbers past 48 bits');
  const headerBytes = reliable ? RELIABLE_BLOCK_HEADER_BYTES : BLOCK_HEADER_BYTES;
  let acks = NO_ACKS;
  let ackBytes = 0;
  if ((flags & FLAGS.acks) !== 0) {
    // The count is one byte, so the section is at most MAX_BLOCK_ACK_BYTES long; it must fit in
    // the frame with at least one byte of body after it.
    if (frame.length <= headerBytes) fail('block acknowledgement section truncated: no count');
    const ackCount = frame[headerBytes]!;
    if (ackCount === 0) fail('block acknowledgement section with no entries');
    ackBytes = blockAckBytes(ackCount);
    if (frame.length < headerBytes + ackBytes + 1) fail(`block acknowledgement section truncated: ${ackCount} entries need ${ackBytes} bytes`);
    acks = readLaneEntries(frame, headerBytes + 1, 'ack', ackCount);
  }
  return {
    type: 'block',
    channel: frame[1]!,
    lane: frame[2]!,
    hasMeta: (flags & FLAGS.hasMeta) !== 0,
    reliable,
    count,
    firstSeq: reliable ? readUint48(frame, 8) : 0,
    acks,
    ackBytes,
    bodyOffset: headerBytes + ackBytes,
  };
}

/** Reads a CHUNK header; throws FrameFormatError on a short frame, unknown flags or inconsistent lengths. */
export function readChunkHeader(frame: Uint8Array): ChunkHeader {
  if (frame.length < 4) fail('chunk frame shorter than its header');
  const flags = frame[3]!;
  if ((flags & ~KNOWN_CHUNK_FLAGS) !== 0) fail(`unknown chunk flags 0x${flags.toString(16)}`);
  const reliable = (flags & FLAGS.reliable) !== 0;
  const first = (flags & FLAGS.first) !== 0;
  const headerLength = chunkHeaderLength(reliable, first);
  if (frame.length < headerLength) fail('chunk frame shorter than its header');
  let offset = 4;
  let seq = 0;
  let total = 0;
  let metaLength = 0;
  if (first) {
    if (reliable) {
      seq = readUint48(frame, offset);
      if (seq === 0) fail('reliable sequence numbers start at 1');
      offset += 6;
    }
    total = readUint32(frame, offset);
    metaLength = readUint32(frame, offset + 4);
    offset += 8;
    const hasMeta = (flags & FLAGS.hasMeta) !== 0;
    if (metaLength > total) fail('chunk meta longer than the message');
    if (metaLength > MAX_META_BYTES) fail(`chunk meta longer than ${MAX_META_BYTES} bytes`);
    if (hasMeta !== metaLength > 0) fail('chunk meta flag and length disagree');
  }
  return {
    type: 'chunk',
    channel: frame[1]!,
    lane: frame[2]!,
    hasMeta: (flags & FLAGS.hasMeta) !== 0,
    reliable,
    first,
    last: (flags & FLAGS.last) !== 0,
    raw: (flags & FLAGS.raw) !== 0,
    seq,
    total,
    metaLength,
    dataOffset: offset,
  };
}

/** Writes the entries of a CREDIT or ACK frame (or a block's ACKS section) from `offset`; returns the offset after them. */
function writeLaneEntries(target: Uint8Array, offset: number, kind: 'credit' | 'ack', entries: readonly LaneAmount[]): number {
  const entryBytes = LANE_ENTRY_BYTES[kind];
  for (const entry of entries) {
    target[offset] = entry.channel;
    target[offset + 1] = entry.lane;
    if (kind === 'credit') writeUint32(target, offset + 2, entry.amount);
    else writeUint48(target, offset + 2, entry.amount);
    offset += entryBytes;
  }
  return offset;
}

/** Reads `count` entries written by writeLaneEntries from `offset`; the caller checked the length. */
function readLaneEntries(source: Uint8Array, offset: number, kind: 'credit' | 'ack', count: number): LaneAmount[] {
  const entryBytes = LANE_ENTRY_BYTES[kind];
  const entries: LaneAmount[] = [];
  for (let index = 0; index < count; index += 1) {
    entries.push({
      channel: source[offset]!,
      lane: source[offset + 1]!,
      amount: kind === 'credit' ? readUint32(source, offset + 2) : readUint48(source, offset + 2),
    });
    offset += entryBytes;
  }
  return entries;
}

/** Encodes a CREDIT (amounts in bytes) or ACK (amounts are sequence numbers) frame. */
export function encodeLaneAmounts(kind: 'credit' | 'ack', entries: readonly LaneAmount[]): Uint8Array {
  if (entries.length === 0 || entries.length > 255) throw new RangeError(`${kind} frame needs 1–255 entries (got ${entries.length})`);
  const entryBytes = LANE_ENTRY_BYTES[kind];
  // Every byte is written below; from Node's pool, as block frames are (outbound-queue.ts).
  const frame = Buffer.allocUnsafe(2 + entries.length * entryBytes);
  frame[0] = kind === 'credit' ? FRAME_TYPES.credit : FRAME_TYPES.ack;
  frame[1] = entries.length;
  writeLaneEntries(frame, 2, kind, entries);
  return frame;
}

/** Decodes a CREDIT or ACK frame; throws FrameFormatError when its length does not match its count. */
export function decodeLaneAmounts(kind: 'credit' | 'ack', frame: Uint8Array): LaneAmount[] {
  if (frame.length < 2) fail(`${kind} frame shorter than its header`);
  const count = frame[1]!;
  const entryBytes = LANE_ENTRY_BYTES[kind];
  if (count === 0 || frame.length !== 2 + count * entryBytes) fail(`${kind} frame length does not match its ${count} entries`);
  return readLaneEntries(frame, 2, kind, count);
}

/** Encodes an OPEN frame: the connections of the session the acceptor asks the dialer to open. */
export function encodeOpen(connections: readonly number[]): Uint8Array {
  if (connections.length === 0 || connections.length > 255) throw new RangeError(`open frame needs 1–255 entries (got ${connections.length})`);
  const frame = new Uint8Array(2 + connections.length);
  frame[0] = FRAME_TYPES.open;
  frame[1] = connections.length;
  frame.set(connections, 2);
  return frame;
}

/** Decodes an OPEN frame; throws FrameFormatError when its length does not match its count. */
export function decodeOpen(frame: Uint8Array): number[] {
  if (frame.length < 2) fail('open frame shorter than its header');
  const count = frame[1]!;
  if (count === 0 || frame.length !== 2 + count) fail(`open frame length does not match its ${count} entries`);
  return Array.from(frame.subarray(2));
}
