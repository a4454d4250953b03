// Durable storage on local files: a segmented write-ahead log and snapshot files.
//
// - Every save appends its records and a commit marker in one write, then one fdatasync: the
//   batch is durable when the promise resolves (group commit: the driver saves a whole Ready).
//   A batch that only moves the commit index is written without the fdatasync (`mustSync` in
//   persistence.ts says which); the next synced batch makes it durable with everything before it.
// - Segments rotate past `segmentBytes`; each new segment starts with the current hard state, so
//   deleting old segments never loses it.
// - Every commit marker seals its batch: where it starts, its length, a CRC of its frames'
//   headers seeded with the segment, the offset and a random salt of the segment, and which of its
//   512-byte blocks were zeros. Recovery uses the seal to tell a batch's own bytes from a copy of
//   them, and a block the crash left unwritten from one the batch really held as zeros.
// - Recovery replays every segment. Damage in the last segment that nothing proves acknowledged is
//   a torn tail from a crash mid-write: it is truncated. Damage anywhere else is corruption: the
//   node refuses to start (CorruptLogError with file and offset) rather than silently lose
//   acknowledged entries. `damageIsCorruption` has the rules.
// - Snapshots go to a temporary file, fsync, rename, fsync of the directory. The two newest are
//   kept; the log is compacted up to the older of them, so a damaged newest snapshot still leaves
//   a complete older snapshot plus log to recover from.
import { randomInt } from 'node:crypto';
import { lockDirectory } from '@foundation/core';
import type { DirectoryLock } from '@foundation/core';
import { mkdir, open, readdir, readFile, rename, rm, stat, truncate } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CorruptLogError } from '../errors/corrupt-log-error';
import { StorageInUseError } from '../errors/storage-in-use-error';
import { UnusableStorageError } from '../errors/unusable-storage-error';
import type { Entry, HardState, Snapshot } from '../core/types';
import { mustSync } from './persistence';
import type { PersistUpdate, PersistedState, RaftPersistence } from './persistence';
import {
  BLOCK_BYTES,
  HEADER_BYTES,
  decodeRecord,
  decodeSnapshot,
  encodeRecord,
  encodeSnapshotHeader,
  intactFramesAfter,
  isRecordFormatError,
  isZeroBlock,
  readFrame,
  sealBatch,
  sealHolds,
} from './records';
import type { BatchSeal, WalRecord } from './records';

export interface FileStorageOptions {
  /** Rotate to a new segment once the current one passes this size. Default 64 MiB. */
  readonly segmentBytes?: number;
  /**
   * fsync every batch (default true). Turning it off trades durability for speed: a crash of the
   * machine (not just the process) can then lose acknowledged writes. For tests and benchmarks.
   */
  readonly sync?: boolean;
}

interface Segment {
  readonly name: string;
  readonly sequence: number;
  /** Highest entry index written to the segment (0 if none). */
  lastIndex: number;
  size: number;
  /**
   * The salt that seeds the seals of the segment: the `salt` of its first commit marker, null if
   * that marker carries none (begun by a version without seals). Undefined until a marker is
   * written or read: the next one written then carries a new salt.
   */
  salt?: number | null;
}

/** The unit a crash can leave unwritten. */
const SECTOR = BLOCK_BYTES;
const SEGMENT_PATTERN = /^wal-(\d{16})\.log$/;
const SNAPSHOT_PATTERN = /^snapshot-(\d{16})-(\d{16})\.snap$/;

function segmentName(sequence: number): string {
  return `wal-${String(sequence).padStart(16, '0')}.log`;
}

function snapshotName(index: number, term: number): string {
  return `snapshot-${String(index).padStart(16, '0')}-${String(term).padStart(16, '0')}.snap`;
}

/**
 * Writes all of `data` at `position`. A write may take fewer bytes than asked without an error
 * (a full disk, a file-size limit): counted as written, the batch would be acknowledged and then
 * cut off as a torn tail on restart. The rest is written again, and a write that takes nothing
 * is an error.
 */
async function writeAll(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let offset = 0;
  while (offset < data.byteLength) {
    const { bytesWritten } = await handle.write(data, offset, data.byteLength - offset, position + offset);
    if (bytesWritten <= 0) throw new Error(`write of ${data.byteLength - offset} bytes at offset ${position + offset} wrote nothing`);
    offset += bytesWritten;
  }
}

/**
 * Makes `path` a directory, with its parents, and returns the first directory it made (as
 * `mkdir` does). A path that is a regular file or lies under one (EEXIST, ENOTDIR), or that may
 * not be written, fails with UnusableStorageError naming it rather than Node's uncoded error.
 */
async function makeDirectory(path: string): Promise<string | undefined> {
  try {
    return await mkdir(path, { recursive: true });
  } catch (error) {
    throw new UnusableStorageError(path, error);
  }
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

type CommitMarker = Extract<WalRecord, { type: 'commit' }>;

/**
 * The entry with its data copied out of the segment it was read from. cbor-x hands byte strings
 * out as views of its input, the whole segment file (up to `segmentBytes`, most of it entries
 * a snapshot already covers): one kept entry would keep all of it alive until the next snapshot
 * let go of the entry (a soak run's restarted node held 7.6 MB that way). Each entry gets its
 * own copy, so that compaction frees entries one by one as it does for appended ones.
 */
function ownData(entry: Entry): Entry {
  if (entry.kind !== 'normal') return entry;
  return { kind: 'normal', index: entry.index, term: entry.term, data: Uint8Array.prototype.slice.call(entry.data) };
}

/** An intact frame found past damage: where it starts and ends, and the marker it is, if one. */
interface Seen {
  readonly at: number;
  readonly end: number;
  readonly marker: CommitMarker | null;
}

/**
 * Whether a sealed batch that is damaged shows a block never written: its first bytes, to the end
 * of their block, read as zeros (a batch starts with a record's magic, never a zero), or a block
 * wholly inside it reads as zeros although the seal does not list it as written so.
 */
function sealedBatchLooksUnwritten(buffer: Buffer, seal: BatchSeal, markerAt: number): boolean {
  const head = buffer.subarray(seal.offset, Math.min((Math.floor(seal.offset / SECTOR) + 1) * SECTOR, markerAt));
  if (head.every((byte) => byte === 0)) return true;
  const written = new Set(seal.zeroBlocks);
  for (let block = Math.ceil(seal.offset / SECTOR); (block + 1) * SECTOR <= markerAt; block += 1) {
    if (!written.has(block) && isZeroBlock(buffer, block * SECTOR)) return true;
  }
  return false;
}

/**
 * Without a seal: whether the damaged range holds a whole zero-filled block, or reads as zeros
 * from the damaged record's start to the end of its block (zeros there, its header at least, are
 * that block never having been written after the earlier, synced bytes in it).
 */
function damageLooksUnwritten(buffer: Buffer, offset: number, end: number): boolean {
  const head = buffer.subarray(offset, Math.min(Math.ceil(offset / SECTOR) * SECTOR, end));
  if (head.length >= HEADER_BYTES && head.every((byte) => byte === 0)) return true;
  for (let block = Math.ceil(offset / SECTOR) * SECTOR; block + SECTOR <= end; block += SECTOR) {
    if (isZeroBlock(buffer, block)) return true;
  }
  return false;
}

/**
 * The directories the file storages of this process hold, by device and inode (the directory
 * itself, whatever path leads to it), from load until close. Two storages on one directory
 * appended to the same segment each at its own offset: the second wrote over what the first had
 * acknowledged, its votes among it. Another process is seen through the directory lock each
 * storage also takes (core's `lockDirectory`); this set refuses a second storage of this process
 * before it waits for anything, also while the first is still taking that lock.
 */
const held = new Set<string>();

export function createFileStorage(directory: string, options: FileStorageOptions = {}): RaftPersistence {
  return new FileStorage(directory, options);
}

class FileStorage implements RaftPersistence {
  private readonly walDirectory: string;
  private readonly snapshotDirectory: string;
  private readonly segmentBytes: number;
  private readonly sync: boolean;
  private segments: Segment[] = [];
  private active: FileHandle | null = null;
  private hardState: HardState = { term: 0, vote: null, commit: 0 };
  private batch = 0;
  private loaded = false;
  private closed = false;
  /** The key of the directory in `held`, from load until close. */
  private holding: string | null = null;
  /** The directory's lock against other processes, from load until close. */
  private lock: DirectoryLock | null = null;
  /** The load in flight or done (settled, never rejected): close() waits for it. */
  private loading: Promise<unknown> = Promise.resolve();
  private writing: Promise<void> = Promise.resolve();
  /** Snapshot files being written beside the log, each with its compaction (settled, never rejected). */
  private readonly snapshotWrites = new Set<Promise<unknown>>();

  constructor(
    readonly directory: string,
    options: FileStorageOptions,
  ) {
    this.walDirectory = join(directory, 'wal');
    this.snapshotDirectory = join(directory, 'snapshots');
    this.segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    this.sync = options.sync ?? true;
  }

  load(): Promise<PersistedState> {
    // A call after the first, or after close(), is refused at once: it must not take the place
    // of a first load still under way as what close() waits for, or close() let go of the
    // directory before that load took it, and its lock then stayed held for good.
    if (this.loaded || this.closed) return this.loadOnce();
    const load = this.loadOnce();
    this.loading = load.catch(() => undefined);
    return load;
  }

  private async loadOnce(): Promise<PersistedState> {
    if (this.closed) throw new Error('file storage is closed: create a new one to open its directory again');
    if (this.loaded) throw new Error('file storage was already loaded');
    this.loaded = true;
    const created = await makeDirectory(this.directory);
    const { dev, ino } = await stat(this.directory, { bigint: true });
    const key = `${dev}:${ino}`;
    if (held.has(key)) throw new StorageInUseError(this.directory);
    held.add(key);
    this.holding = key;
    try {
      this.lock = await lockDirectory(this.directory, () => new StorageInUseError(this.directory));
      return await this.open(created);
    } catch (error) {
      await this.release();
      throw error;
    }
  }

  private async open(created: string | undefined): Promise<PersistedState> {
    await makeDirectory(this.walDirectory);
    await makeDirectory(this.snapshotDirectory);
    // New directories are durable only once their parent's entry is: the data directory's own
    // entries, and, when this call created the data directory (and perhaps parents of it), the
    // entries of each directory it made, up to the one that already existed.
    if (this.sync) {
      await syncDirectory(this.directory);
      if (created !== undefined) {
        const first = resolve(created);
        for (let made = resolve(this.directory); dirname(made) !== made; made = dirname(made)) {
          await syncDirectory(dirname(made));
          if (made === first) break;
        }
      }
    }
    const snapshot = await this.loadSnapshot();
    const { entries, hardState } = await this.replay(snapshot);
    this.hardState = hardState;
    await this.openActive();
    // What was read back is trusted from here on, but a process killed before its own syncs
    // (a segment created just before the crash, whose directory entry was never synced; a
    // batch written without fdatasync) left it in the page cache only: make it durable now.
    if (this.sync) {
      await this.active!.datasync();
      await syncDirectory(this.walDirectory);
      await syncDirectory(this.snapshotDirectory);
    }
    return { hardState, snapshot, entries };
  }

  private async loadSnapshot(): Promise<Snapshot | null> {
    const names = (await readdir(this.snapshotDirectory)).filter((name) => SNAPSHOT_PATTERN.test(name)).sort().reverse();
    for (const name of (await readdir(this.snapshotDirectory)).filter((file) => file.endsWith('.tmp'))) {
      await rm(join(this.snapshotDirectory, name), { force: true });
    }
    let damaged: string | null = null;
    for (const name of names) {
      try {
        const { meta, data } = decodeSnapshot(await readFile(join(this.snapshotDirectory, name)));
        return { meta, data };
      } catch (error) {
        if (!isRecordFormatError(error)) throw error;
        // Fall back to the older snapshot; the log was only compacted up to it.
        damaged ??= name;
      }
    }
    if (damaged !== null) throw new CorruptLogError(join(this.snapshotDirectory, damaged), 0, 'no intact snapshot file');
    return null;
  }

  private async replay(snapshot: Snapshot | null): Promise<{ entries: Entry[]; hardState: HardState }> {
    const names = (await readdir(this.walDirectory)).filter((name) => SEGMENT_PATTERN.test(name)).sort();
    let base = snapshot?.meta.index ?? 0;
    let entries: Entry[] = [];
    let hardState: HardState = { term: 0, vote: null, commit: 0 };
    for (let position = 0; position < names.length; position += 1) {
      const name = names[position]!;
      const path = join(this.walDirectory, name);
      const buffer = await readFile(path);
      const isLast = position === names.length - 1;
      const segment: Segment = { name, sequence: Number(SEGMENT_PATTERN.exec(name)![1]), lastIndex: 0, size: 0 };
      let offset = 0;
      // Where each record since the last commit marker starts, the next one's included: the
      // batch the next marker ends began at one of them (a torn tail is cut at its damaged
      // record, and the records before that stay, followed by the next batch written).
      let boundaries: number[] = [0];
      for (;;) {
        const result = readFrame(buffer, offset);
        if (result.kind === 'end') break;
        let record;
        let damage: string | null = null;
        if (result.kind === 'damaged') damage = result.reason;
        else {
          try {
            record = decodeRecord(result.body);
          } catch (error) {
            if (!isRecordFormatError(error)) throw error;
            damage = error.message;
          }
        }
        if (damage !== null || record === undefined) {
          if (!isLast || this.damageIsCorruption(buffer, offset, segment, boundaries)) throw new CorruptLogError(path, offset, damage ?? 'unreadable record');
          // A torn tail: the crash interrupted this batch before its commit marker was written.
          await truncate(path, offset);
          if (this.sync) {
            const handle = await open(path, 'r+');
            try {
              await handle.sync();
            } finally {
              await handle.close();
            }
          }
          break;
        }
        // Where the record starts: a record that does not fit the log is named by it.
        const at = offset;
        offset = (result as { next: number }).next;
        if (record.type === 'commit') boundaries = [offset];
        else boundaries.push(offset);
        switch (record.type) {
          case 'hard-state':
            hardState = record.hardState;
            break;
          case 'snapshot':
            // A snapshot from the leader replaced the log at this point: whatever came before
            // it is gone, also when a later snapshot of this node's own covers more.
            if (record.index >= base) base = record.index;
            entries = [];
            break;
          case 'entry': {
            const { entry } = record;
            segment.lastIndex = Math.max(segment.lastIndex, entry.index);
            // An entry replaces every entry after its index that was written before it. One at
            // or below the snapshot (a leader overwrote a suffix, then this node took a snapshot
            // past the overwrite) still removes the older entries kept after the snapshot.
            if (entry.index <= base) {
              entries = [];
              break;
            }
            const expected = base + entries.length + 1;
            if (entry.index > expected) throw new CorruptLogError(path, at, `entry ${entry.index} follows ${expected - 1}: entries are missing`);
            entries.length = entry.index - base - 1;
            entries.push(entry);
            break;
          }
          case 'commit':
            this.batch = Math.max(this.batch, record.batch);
            if (segment.salt === undefined) segment.salt = record.salt ?? null;
            break;
        }
      }
      segment.size = offset;
      this.segments.push(segment);
    }
    // The log continues from a snapshot the leader sent (its marker moved `base`): that snapshot
    // must be the one loaded, or the entries between the two are missing.
    if (base > (snapshot?.meta.index ?? 0)) {
      throw new CorruptLogError(this.snapshotDirectory, 0, `the log continues from snapshot ${base}, but the newest intact snapshot file is ${snapshot?.meta.index ?? 'none'}`);
    }
    return { entries: entries.map(ownData), hardState };
  }

  /**
   * Damage in the last segment is a torn tail — a batch whose fsync never returned, so nothing in
   * it was acknowledged — unless something proves otherwise. Frames past the damage are read by
   * their magic, so they may be the log's own or copies of log bytes inside an entry's payload;
   * a marker's seal tells them apart:
   * - the damaged batch's own marker: sealed, it says the batch starts where one of the records
   *   read since the last marker starts and ends where it stands. Frames before it are the
   *   batch's own records (copies in its payload included) and prove nothing.
   * - a later batch: its seal holds (it starts past the damage and past the own marker, intact
   *   frames run from there to its marker, and their headers' CRC, seeded with the segment, the
   *   offset and the segment's salt, matches). A sealed marker whose seal does not hold is a
   *   copy: no proof. Unsealed markers (logs written before seals) count as they always did.
   * With those: an intact record after the first counting marker of a synced batch means a later
   * batch was written, which happens only after that one's fdatasync returned, and that flushed
   * everything before it: corruption. So does a batch whose seal holds right after a synced
   * marker past the damage (that marker is then the log's own, though its batch is damaged). (Markers of unsynced batches prove nothing: a power loss
   * can keep a later batch's blocks and lose theirs.) No counting synced marker: the batch never
   * finished: torn. Only a synced marker with nothing after it:
   * - the damaged batch's own sealed marker: torn if the batch's first bytes (to the end of their
   *   block) read as zeros, or a 512-byte block wholly inside it reads as zeros that the seal does
   *   not list as written so (writeback left them unwritten); otherwise a synced batch rotted:
   *   corruption.
   * - any other marker: torn if the damaged range holds a whole zero-filled 512-byte block, or
   *   reads as zeros from the damaged record's start to the end of its block; otherwise
   *   corruption. (Without the batch's seal, a batch whose own data holds such zeros and then
   *   rots is mistaken for torn: the limit of logs written before seals.)
   */
  private damageIsCorruption(buffer: Buffer, offset: number, segment: Segment, boundaries: readonly number[]): boolean {
    const frames: Seen[] = [];
    for (const { offset: at, body } of intactFramesAfter(buffer, offset)) {
      let marker: CommitMarker | null = null;
      try {
        const record = decodeRecord(body);
        if (record.type === 'commit') marker = record;
      } catch (error) {
        if (!isRecordFormatError(error)) throw error;
      }
      frames.push({ at, end: at + HEADER_BYTES + body.length, marker });
    }
    const starts = new Set(boundaries);
    const own = frames.find(({ at, marker }) => marker?.seal !== undefined && starts.has(marker.seal.offset) && marker.seal.offset + marker.seal.length === at);
    // The salt is the segment's first marker's. Damage before any marker is in the segment's
    // first batch: its own marker carries the salt. Without that either, the salt is unknown and
    // a later seal is checked for its place and frames only.
    const salt = segment.salt !== undefined ? segment.salt : own !== undefined ? (own.marker!.salt ?? null) : undefined;
    const holds = (at: number, seal: BatchSeal): boolean => seal.offset > offset && seal.offset >= (own?.end ?? 0) && sealHolds(buffer, seal, at, segment.sequence, salt);
    let proof: Seen | null = null;
    const syncedEnds = new Set<number>();
    for (const frame of own === undefined ? frames : frames.slice(frames.indexOf(own))) {
      if (proof !== null) return true;
      const { at, end, marker } = frame;
      if (marker === null) continue;
      const sealed = marker.seal !== undefined && frame !== own && holds(at, marker.seal);
      // A batch whose seal holds starts where the log's marker before it ends: a synced marker
      // ending there is that one, whatever its own batch's damage, and this batch was written
      // after its fdatasync returned.
      if (sealed && syncedEnds.has(marker.seal.offset)) return true;
      if (!marker.synced) continue;
      syncedEnds.add(end);
      if (marker.seal === undefined || frame === own || sealed) proof = frame;
    }
    if (proof === null) return false;
    if (proof === own) return !sealedBatchLooksUnwritten(buffer, own.marker!.seal!, own.at);
    return !damageLooksUnwritten(buffer, offset, frames[0]?.at ?? buffer.length);
  }

  private async openActive(): Promise<void> {
    const last = this.segments[this.segments.length - 1];
    if (last === undefined) {
      await this.startSegment(1);
      return;
    }
    this.active = await open(join(this.walDirectory, last.name), 'r+');
    // A crash between a segment's creation and its opening record leaves it empty (or torn to
    // empty). It gets its opening now: without the hard state in it, deleting the segments
    // before it would lose the term and vote.
    if (last.size === 0) await this.writeOpening(this.active, last);
  }

  private async startSegment(sequence: number): Promise<void> {
    // The segment being left may end in batches written without a sync (commit-index moves);
    // damage in a segment that is not the last is read as corruption, so they are made durable
    // before the next segment exists.
    if (this.sync) await this.active?.datasync();
    const name = segmentName(sequence);
    const path = join(this.walDirectory, name);
    const handle = await open(path, 'wx');
    const segment: Segment = { name, sequence, lastIndex: 0, size: 0 };
    try {
      await this.writeOpening(handle, segment);
      if (this.sync) await syncDirectory(this.walDirectory);
    } catch (error) {
      // Writes go on in the segment they were in: this one is closed, not left open for good,
      // and removed, so that the next rotation can make it again (it holds nothing else). The
      // removal is synced, as every other one is: unsynced, a power loss could bring it back.
      await handle.close().catch(() => undefined);
      const removed = await rm(path, { force: true }).then(
        () => true,
        () => false,
      );
      if (removed && this.sync) await syncDirectory(this.walDirectory).catch(() => undefined);
      throw error;
    }
    await this.active?.close();
    this.active = handle;
    this.segments.push(segment);
  }

  /** The current hard state opens every segment, so older segments can be deleted freely. */
  private async writeOpening(handle: FileHandle, segment: Segment): Promise<void> {
    const { batch, salt } = this.sealed(segment, [encodeRecord({ type: 'hard-state', hardState: this.hardState })], this.sync);
    await writeAll(handle, batch, segment.size);
    segment.size += batch.length;
    if (segment.salt === undefined) segment.salt = salt;
    if (this.sync) await handle.datasync();
  }

  /**
   * A batch of `parts` to be written at the end of `segment`, ended by its commit marker, which
   * seals it. The segment's first marker carries a new salt; the caller records it in the segment
   * once the batch is written.
   */
  private sealed(segment: Segment, parts: readonly Buffer[], synced: boolean): { batch: Buffer; salt: number | null } {
    const fresh = segment.salt === undefined ? randomInt(2 ** 32) : undefined;
    const salt = fresh ?? segment.salt ?? null;
    const seal = sealBatch(parts, segment.size, segment.sequence, salt);
    const marker = encodeRecord({ type: 'commit', batch: ++this.batch, synced, seal, ...(fresh === undefined ? {} : { salt: fresh }) });
    return { batch: Buffer.concat([...parts, marker]), salt };
  }

  save(update: PersistUpdate): Promise<void> {
    const run = this.writing.then(() => this.write(update));
    this.writing = run.catch(() => undefined);
    return run;
  }

  private async write(update: PersistUpdate): Promise<void> {
    if (this.active === null) throw new Error('file storage is not loaded or is closed');
    const parts: Buffer[] = [];
    if (update.snapshot !== undefined) {
      await this.writeSnapshotFile(update.snapshot);
      parts.push(encodeRecord({ type: 'snapshot', index: update.snapshot.meta.index, term: update.snapshot.meta.term }));
    }
    let lastIndex = 0;
    for (const entry of update.entries) {
      parts.push(encodeRecord({ type: 'entry', entry }));
      lastIndex = entry.index;
    }
    const sync = this.sync && mustSync(this.hardState, update);
    if (update.hardState !== undefined) {
      parts.push(encodeRecord({ type: 'hard-state', hardState: update.hardState }));
      this.hardState = update.hardState;
    }
    if (parts.length === 0) return;
    const segment = this.segments[this.segments.length - 1]!;
    const { batch: buffer, salt } = this.sealed(segment, parts, sync);
    await writeAll(this.active, buffer, segment.size);
    if (sync) await this.active.datasync();
    // Counted as written only now: a batch that failed is written over, its salt with it.
    segment.size += buffer.length;
    if (segment.salt === undefined) segment.salt = salt;
    segment.lastIndex = Math.max(segment.lastIndex, lastIndex);
    if (segment.size >= this.segmentBytes) await this.startSegment(segment.sequence + 1);
  }

  /**
   * Writes the snapshot file beside the log, without holding up log appends, then compacts the
   * log in turn with them.
   */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    // Not once closed (or before loading): the directory may be another storage's by now, and
    // compacting would remove segments by this one's stale list of them.
    if (this.active === null || this.closed) throw new Error('file storage is not loaded or is closed');
    const run = this.writeSnapshotFile(snapshot).then(() => {
      const compaction = this.writing.then(() => this.compact());
      this.writing = compaction.catch(() => undefined);
      return compaction;
    });
    // close() waits for it: the file would otherwise be renamed and the log compacted after
    // close() resolved, perhaps beside a new storage that opened the directory by then.
    const settled = run.catch(() => undefined);
    this.snapshotWrites.add(settled);
    void settled.then(() => this.snapshotWrites.delete(settled));
    return run;
  }

  private async writeSnapshotFile(snapshot: Snapshot): Promise<void> {
    const name = snapshotName(snapshot.meta.index, snapshot.meta.term);
    const temporary = join(this.snapshotDirectory, `${name}.tmp`);
    const { header, metaBytes } = encodeSnapshotHeader(snapshot.meta, snapshot.data);
    const handle = await open(temporary, 'w');
    try {
      await writeAll(handle, header, 0);
      await writeAll(handle, metaBytes, header.length);
      await writeAll(handle, snapshot.data, header.length + metaBytes.length);
      if (this.sync) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, join(this.snapshotDirectory, name));
    if (this.sync) await syncDirectory(this.snapshotDirectory);
  }

  /** Keeps the two newest snapshots and drops log segments the older of them covers. */
  private async compact(): Promise<void> {
    const names = (await readdir(this.snapshotDirectory)).filter((name) => SNAPSHOT_PATTERN.test(name)).sort().reverse();
    for (const name of names.slice(2)) await rm(join(this.snapshotDirectory, name), { force: true });
    const kept = names.slice(0, 2);
    const oldest = kept[kept.length - 1];
    if (oldest === undefined || kept.length < 2) return;
    const coveredTo = Number(SNAPSHOT_PATTERN.exec(oldest)![1]);
    let removed = 0;
    while (this.segments.length > 1 && this.segments[0]!.lastIndex <= coveredTo) {
      const segment = this.segments.shift()!;
      await rm(join(this.walDirectory, segment.name), { force: true });
      removed += 1;
    }
    // The log directory changed only if a segment went; an fsync of it otherwise holds up the
    // appends queued behind this compaction for nothing.
    if (this.sync && removed > 0) await syncDirectory(this.walDirectory);
  }

  async close(): Promise<void> {
    this.closed = true;
    // A load still under way takes the directory and opens the log after this call: let go of
    // them once it is over, or the directory stayed held (refused to every storage) for good.
    await this.loading;
    // Snapshot files written beside the log first: each queues its compaction behind the log's
    // writes once its file is in place.
    await Promise.all(this.snapshotWrites);
    await this.writing;
    await this.release();
  }

  /** Closes the log and lets go of the directory. */
  private async release(): Promise<void> {
    const active = this.active;
    this.active = null;
    try {
      await active?.close();
    } finally {
      // Also when the log's close failed (its error still goes to the caller): kept, the
      // directory stayed refused to every storage until the process ended.
      // The other processes' lock goes first: another storage of this process that finds the
      // directory gone from `held` then finds it free to lock as well.
      const lock = this.lock;
      this.lock = null;
      try {
        await lock?.release();
      } finally {
        if (this.holding !== null) held.delete(this.holding);
        this.holding = null;
      }
    }
  }
}
