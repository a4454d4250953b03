// A crash at every byte offset of the last segment. Each save writes its batch in one write and
// then fdatasyncs it; a process or machine that dies during the write leaves a prefix of the batch
// (or a prefix and then zeros, where the file's size reached the disk but its last blocks did not).
// Whatever the offset, recovery must start, keep every batch that was whole on the disk, show no
// record that was not written whole, and take appends again from where it cut.
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry, HardState } from '../core/types';
import { createFileStorage } from './file-storage';
import type { PersistUpdate } from './persistence';
import { CorruptLogError } from '../errors/corrupt-log-error';
import { BLOCK_BYTES, decodeRecord, readFrame } from './records';

const directories: string[] = [];
afterEach(() => {
  for (const path of directories.splice(0)) rmSync(path, { recursive: true, force: true });
});

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const entry = (index: number, term: number, data: Uint8Array | string = `e${index}`): Entry => ({
  kind: 'normal',
  index,
  term,
  data: typeof data === 'string' ? bytes(data) : data,
});

/** What the log holds after `update`, as the storage port defines it. */
function apply(entries: readonly Entry[], update: PersistUpdate): Entry[] {
  let next = [...entries];
  for (const each of update.entries) {
    next = next.slice(0, each.index - 1);
    next.push(each);
  }
  return next;
}

/** Where each intact frame of a segment ends. */
function frameEnds(content: Buffer): number[] {
  const ends = [0];
  for (let at = 0; ; ) {
    const result = readFrame(content, at);
    if (result.kind !== 'record') return ends;
    ends.push(result.next);
    at = result.next;
  }
}

interface Acknowledged {
  /** The segment the save's batch went to, and where the batch ends in it. */
  readonly segment: string;
  end: number;
  readonly entries: readonly Entry[];
  readonly hardState: HardState;
  readonly update: PersistUpdate;
}

interface CrashLog {
  readonly path: string;
  readonly wal: string;
  /** The last segment, as written whole, and its path. */
  readonly segment: string;
  readonly full: Buffer;
  /** Where the batches of the last segment start (its opening batch first). */
  readonly opening: number;
  readonly acknowledged: readonly Acknowledged[];
  /** The segment files there were: a recovery must not leave others behind for the next. */
  readonly initial: readonly string[];
}

/**
 * A log of several segments whose last one begins at a rotation and holds batches of every kind:
 * several entries with a new term and vote, a commit-index move written without an fdatasync, a
 * payload holding a copy of the log with its sealed markers, an overwritten suffix, a payload with
 * a zero-filled block of its own.
 */
async function writeCrashLog(): Promise<CrashLog> {
  const path = mkdtempSync(join(tmpdir(), 'raft-wal-crash-'));
  directories.push(path);
  const wal = join(path, 'wal');
  const last = (): string => join(wal, readdirSync(wal).sort().at(-1)!);
  let entries: Entry[] = [];
  let hardState: HardState = { term: 0, vote: null, commit: 0 };
  const acknowledged: Acknowledged[] = [];

  // Small segments first, so that the last segment begins at a rotation (its opening batch).
  const first = createFileStorage(path, { segmentBytes: 300 });
  await first.load();
  const save = async (storage: ReturnType<typeof createFileStorage>, update: PersistUpdate): Promise<void> => {
    const before = readdirSync(wal).length;
    await storage.save(update);
    entries = apply(entries, update);
    if (update.hardState !== undefined) hardState = update.hardState;
    // A save that rotated left its batch in the segment before the new one.
    const rotated = readdirSync(wal).length !== before;
    acknowledged.push({
      segment: rotated ? '' : last(),
      end: statSync(last()).size,
      entries,
      hardState,
      update,
    });
  };
  await save(first, {
    hardState: { term: 1, vote: 'a', commit: 0 },
    entries: [entry(1, 1), entry(2, 1)],
  });
  // Until a save rotates, twice: the last segment then holds its opening batch alone.
  for (let index = 3, rotations = 0; rotations < 2; index += 1) {
    await save(first, { entries: [entry(index, 1, 'x'.repeat(40))] });
    if (acknowledged.at(-1)!.segment === '') rotations += 1;
  }
  await first.close();
  const segmentCount = readdirSync(wal).length;
  expect(segmentCount).toBeGreaterThan(1);
  const base = entries.length;
  const storage = createFileStorage(path, { segmentBytes: 1 << 20 });
  await storage.load();
  const opening = statSync(last()).size;
  expect(opening).toBeGreaterThan(0);
  // Several entries in one batch, a new term and vote with them.
  await save(storage, {
    hardState: { term: 2, vote: 'b', commit: 2 },
    entries: [entry(base + 1, 2), entry(base + 2, 2), entry(base + 3, 2)],
  });
  // A batch that only moves the commit index: written without an fdatasync.
  await save(storage, {
    hardState: { term: 2, vote: 'b', commit: base + 1 },
    entries: [],
  });
  // An entry whose payload is a copy of the log so far, sealed synced markers among it.
  await save(storage, { entries: [entry(base + 4, 2, readFileSync(last()))] });
  // A leader overwrote the suffix from base + 2.
  await save(storage, {
    hardState: { term: 3, vote: null, commit: base + 1 },
    entries: [entry(base + 2, 3, 'two'), entry(base + 3, 3, 'three')],
  });
  // A payload with a zero-filled 512-byte block of its own.
  const zeros = new Uint8Array(1300).fill(0x61);
  zeros.fill(0, 100, 1200);
  await save(storage, { entries: [entry(base + 4, 3, zeros)] });
  await save(storage, { entries: [entry(base + 5, 3, 'last')] });
  await storage.close();

  const segment = last();
  // Batches in earlier segments are whole whatever happens to the last one.
  for (const done of acknowledged) if (done.segment !== segment) done.end = 0;
  const full = readFileSync(segment);
  expect(frameEnds(full).at(-1)).toBe(full.length);
  const initial = readdirSync(wal).sort();

  return { path, wal, segment, full, opening, acknowledged, initial };
}

const text = (each: Entry): string => `${each.index}/${each.term}:${each.kind === 'normal' ? Buffer.from(each.data).toString('hex') : 'membership'}`;
const textOf = new WeakMap<Entry, string>();
/** The entries as text, each computed once: the loops below compare thousands of logs. */
const texts = (list: readonly Entry[]): string[] =>
  list.map((each) => {
    let found = textOf.get(each);
    if (found === undefined) textOf.set(each, (found = text(each)));
    return found;
  });

describe('a crash at every byte offset of the last segment', () => {
  it('recovers every batch written whole, no record written in part, and appends again, for a cut or a zero-filled tail', async () => {
    const { path, wal, segment, full, acknowledged, initial } = await writeCrashLog();
    const ends = frameEnds(full);
    const failures: string[] = [];
    for (const variant of ['cut', 'zero-filled'] as const) {
      for (let crashAt = 0; crashAt <= full.length; crashAt += 1) {
        const crashed = variant === 'cut' ? full.subarray(0, crashAt) : Buffer.concat([full.subarray(0, crashAt), Buffer.alloc(full.length - crashAt)]);
        writeFileSync(segment, crashed);
        for (const name of readdirSync(wal)) if (!initial.includes(name)) rmSync(join(wal, name));
        // How much of the log the disk still holds as written: a zero-filled tail also holds the
        // zeros the log had there (a record whose last bytes are zeros, as the random salt's
        // encoding can make one, is still whole when the crash came within them).
        let length = crashAt;
        if (variant === 'zero-filled') while (length < full.length && full[length] === 0) length += 1;
        // The last save whose batch lies whole on the disk, and the one the crash interrupted.
        const kept = acknowledged.filter(({ end }) => end <= length).at(-1)!;
        const interrupted = acknowledged[acknowledged.indexOf(kept) + 1];
        // The interrupted batch may leave its whole records: the first m of its entries, and its hard
        // state once every entry is there.
        const allowed = [texts(kept.entries)];
        let partial = kept.entries;
        for (const each of interrupted?.update.entries ?? []) {
          partial = apply(partial, { entries: [each] });
          allowed.push(texts(partial));
        }
        const where = `${variant} at ${crashAt}`;
        // Recovery's own syncs are left out to keep this fast; they change nothing it decides.
        const recovered = createFileStorage(path, { sync: false });
        let state;
        try {
          state = await recovered.load();
        } catch (error) {
          failures.push(`${where}: refused to start: ${(error as Error).message}`);
          continue;
        }
        if (!allowed.some((each) => JSON.stringify(each) === JSON.stringify(texts(state.entries)))) {
          failures.push(
            `${where}: entries ${texts(state.entries)
              .map((each) => each.slice(0, 12))
              .join(' ')} are not what was written whole`
          );
        }
        const hardStates = [kept.hardState, ...(interrupted?.update.hardState === undefined ? [] : [interrupted.update.hardState])];
        if (!hardStates.some((each) => JSON.stringify(each) === JSON.stringify(state.hardState))) failures.push(`${where}: hard state ${JSON.stringify(state.hardState)}`);
        // Nothing past the last whole record is kept as log.
        const cutTo = ends.filter((end) => end <= length).at(-1)!;
        if (cutTo > 0 && statSync(segment).size !== cutTo && !(variant === 'zero-filled' && statSync(segment).size === full.length && ends.includes(length))) {
          failures.push(`${where}: the segment holds ${statSync(segment).size} bytes, the whole records end at ${cutTo}`);
        }
        // Appends go on from there and are found again. (A zero-filled tail cut inside a record
        // is truncated as a cut one is: only one that ends at a record keeps its zeros to write over.)
        if (variant === 'zero-filled' && !ends.includes(length)) {
          await recovered.close();
          continue;
        }
        const next = state.entries.length + 1;
        await recovered.save({ entries: [entry(next, 9, 'after')] });
        await recovered.close();
        const again = createFileStorage(path, { sync: false });
        try {
          const after = await again.load();
          const expected = [...texts(state.entries), ...texts([entry(next, 9, 'after')])];
          if (JSON.stringify(texts(after.entries)) !== JSON.stringify(expected))
            failures.push(
              `${where}: after an append, entries ${texts(after.entries)
                .map((each) => each.slice(0, 12))
                .join(' ')}`
            );
          await again.close();
        } catch (error) {
          failures.push(`${where}: refused to start after an append: ${(error as Error).message}`);
        }
      }
    }
    expect(failures.slice(0, 20)).toEqual([]);
  }, 120_000);
});

describe('a crash that left a hole in a batch (its blocks written out of order)', () => {
  it('drops a final batch with a hole, and refuses a hole before the last synced batch that another follows, naming the file and offset', async () => {
    const { path, wal, segment, full, opening, acknowledged, initial } = await writeCrashLog();
    const inSegment = acknowledged.filter(({ end }) => end > 0);
    // The segment's opening batch (its hard state, no entries) and then one batch per save.
    const rotation = acknowledged[acknowledged.indexOf(inSegment[0]!) - 1]!;
    const saves = [
      { end: opening, update: { entries: [] }, before: rotation },
      ...inSegment.map((save) => ({ end: save.end, update: save.update, before: acknowledged[acknowledged.indexOf(save) - 1]! })),
    ];
    const batches = saves.map(({ end, update, before }, position) => {
      const start = position === 0 ? 0 : saves[position - 1]!.end;
      const markerAt =
        frameEnds(full)
          .filter((each) => each > start && each < end)
          .at(-1) ?? start;
      const marker = decodeRecord((readFrame(full, markerAt) as { body: Uint8Array }).body);
      if (marker.type !== 'commit') throw new Error('a batch ends in its commit marker');
      return { start, end, markerAt, synced: marker.synced, update, before };
    });
    const failures: string[] = [];
    let refusals = 0;
    let starts = 0;
    for (const [position, { start, end, markerAt, update, before }] of batches.entries()) {
      for (let block = Math.floor(start / BLOCK_BYTES); block * BLOCK_BYTES < end; block += 1) {
        // What the crash left unwritten of this batch in the block: zeros, as the file held before.
        const from = Math.max(block * BLOCK_BYTES, start);
        const to = Math.min((block + 1) * BLOCK_BYTES, end);
        if (full.subarray(from, to).every((byte) => byte === 0)) continue;
        const where = `a hole over [${from}, ${to}) of the batch at [${start}, ${end})`;
        const content = Buffer.concat([full.subarray(0, from), Buffer.alloc(to - from), full.subarray(to)]);
        writeFileSync(segment, content);
        for (const name of readdirSync(wal)) if (!initial.includes(name)) rmSync(join(wal, name));
        // A crash can only have interrupted the last batch's write or fdatasync, which also flushes
        // the unsynced batches before it. So the batch was made durable if a synced batch from it
        // on has another after it. The log can only tell so by a synced marker it can read: with
        // the batch's own destroyed and no other, either reading is allowed.
        const durable = batches.slice(position, -1).filter((batch) => batch.synced);
        const mustRefuse = durable.some((batch) => batch.start !== start || to <= markerAt);
        const mustStart = durable.length === 0;
        const recovered = createFileStorage(path, { sync: false });
        const outcome = await recovered.load().then(
          (state) => ({ state, error: null }),
          (error: unknown) => ({ state: null, error })
        );
        // Let go of the directory (a storage holds it until closed) before the next crash is made in it.
        await recovered.close();
        if (outcome.error !== null) {
          refusals += 1;
          const error = outcome.error as CorruptLogError;
          if (mustStart) failures.push(`${where}: refused to start: ${String(error)}`);
          else if (
            !(error instanceof CorruptLogError) ||
            error.file !== segment ||
            error.offset < start ||
            error.offset > from ||
            !error.message.includes(`${segment} is corrupt at offset ${error.offset}`)
          ) {
            failures.push(`${where}: refused with ${String(error)}`);
          }
          continue;
        }
        starts += 1;
        if (mustRefuse) {
          failures.push(`${where}: started, though the batch was made durable`);
          continue;
        }
        // The batch is dropped from its damaged record on: its whole records before the hole may stay.
        const allowed = [texts(before.entries)];
        let partial = before.entries;
        for (const each of update.entries) {
          partial = apply(partial, { entries: [each] });
          allowed.push(texts(partial));
        }
        const found = texts(outcome.state!.entries);
        if (!allowed.some((each) => JSON.stringify(each) === JSON.stringify(found))) failures.push(`${where}: entries ${found.map((each) => each.slice(0, 12)).join(' ')}`);
        const size = statSync(segment).size;
        if (size > from && !content.subarray(from).every((byte) => byte === 0)) failures.push(`${where}: the segment keeps ${size} bytes`);
      }
    }
    expect(failures).toEqual([]);
    expect(refusals).toBeGreaterThan(5);
    expect(starts).toBeGreaterThan(0);
  });
});
