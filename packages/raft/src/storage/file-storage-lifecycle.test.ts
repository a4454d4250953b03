// A file storage's directory belongs to one storage at a time, and a storage that was closed
// touches it no more. Two storages loaded on one directory in one process (two nodes given the
// same path, a restart while the old node still runs) both appended to the same segment at their
// own offsets: the second overwrote what the first had acknowledged as durable, its vote among it.
import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RAFT_ERROR_CODES } from '../errors/codes';
import type { Entry, Snapshot } from '../core/types';
import { createFileStorage } from './file-storage';

const directories: string[] = [];
function directory(): string {
  const path = mkdtempSync(join(tmpdir(), 'raft-lifecycle-'));
  directories.push(path);
  return path;
}
afterEach(() => {
  for (const path of directories.splice(0)) rmSync(path, { recursive: true, force: true });
});

const entry = (index: number): Entry => ({ kind: 'normal', index, term: 1, data: new Uint8Array([index]) });
/** Every file under `path`, sorted. */
const listing = (path: string): string[] => ['wal', 'snapshots'].flatMap((folder) => readdirSync(join(path, folder)).map((name) => `${folder}/${name}`)).sort();
const snapshot = (index: number): Snapshot => ({ meta: { index, term: 1, membership: { voters: ['a'], learners: [] } }, data: new Uint8Array([1, 2, 3]) });

describe('file storage ownership of its directory (review finding)', () => {
  it('a second storage on a directory another storage of this process holds is refused, and writes nothing', async () => {
    const path = directory();
    const first = createFileStorage(path, { sync: false });
    await first.load();
    await first.save({ entries: [entry(1), entry(2)], hardState: { term: 1, vote: 'a', commit: 0 } });
    // Also by another path to the same directory.
    const link = join(directory(), 'link');
    symlinkSync(path, link);
    for (const other of [path, link]) {
      const second = createFileStorage(other, { sync: false });
      await expect(second.load()).rejects.toMatchObject({ code: RAFT_ERROR_CODES.storageInUse, context: { directory: other } });
      await expect(second.save({ entries: [entry(1)], hardState: { term: 1, vote: 'b', commit: 0 } })).rejects.toThrow();
      await second.close();
    }
    await first.close();
    const reopened = createFileStorage(path, { sync: false });
    const state = await reopened.load();
    expect(state.entries.map((each) => each.index)).toEqual([1, 2]);
    expect(state.hardState.vote).toBe('a');
    await reopened.close();
  });

  it('the directory is free again once the holder is closed, or once its load failed', async () => {
    const path = directory();
    const first = createFileStorage(path, { sync: false });
    await first.load();
    await first.close();
    const second = createFileStorage(path, { sync: false });
    await second.load();
    await second.close();
    // A load that fails (here: a segment directory that is a file) lets go of the directory.
    const broken = directory();
    writeFileSync(join(broken, 'wal'), 'not a directory');
    await expect(createFileStorage(broken, { sync: false }).load()).rejects.toThrow();
    rmSync(join(broken, 'wal'));
    const fixed = createFileStorage(broken, { sync: false });
    await fixed.load();
    await fixed.close();
  });

  // /proc/self/fd names the descriptor of the open segment; Linux only.
  (existsSync('/proc/self/fd') ? it : it.skip)('lets go of the directory also when closing its log fails (review finding)', async () => {
    const path = directory();
    const first = createFileStorage(path, { sync: false });
    await first.load();
    await first.save({ entries: [entry(1)], hardState: { term: 1, vote: 'a', commit: 0 } });
    // The segment's descriptor closed behind the storage's back: its own close fails (EBADF).
    // Closed at once after, so that no descriptor opened meanwhile takes the number.
    const wal = join(path, 'wal');
    const segment = readdirSync('/proc/self/fd').map(Number).find((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(wal);
      } catch {
        return false;
      }
    });
    expect(segment).toBeDefined();
    closeSync(segment!);
    await expect(first.close()).rejects.toMatchObject({ code: 'EBADF' });
    const reopened = createFileStorage(path, { sync: false });
    const state = await reopened.load();
    expect(state.entries.map((each) => each.index)).toEqual([1]);
    await reopened.close();
  });

  it('a closed storage refuses to load again and to save or snapshot, and leaves the directory alone', async () => {
    const path = directory();
    const storage = createFileStorage(path, { sync: false });
    await storage.load();
    await storage.close();
    const next = createFileStorage(path, { sync: false });
    await next.load();
    await expect(storage.load()).rejects.toThrow(/closed/);
    await expect(storage.save({ entries: [entry(1)] })).rejects.toThrow(/closed/);
    await expect(storage.saveSnapshot(snapshot(5))).rejects.toThrow(/closed/);
    expect(readdirSync(join(path, 'snapshots'))).toEqual([]);
    await next.close();
  });
  it('a storage closed while it loads lets go of the directory once the load is over', async () => {
    const path = directory();
    const first = createFileStorage(path, { sync: false });
    const loading = first.load().catch((error: unknown) => error);
    await first.close();
    await loading;
    // The load finished after close() was called: it held the directory for good before.
    const next = createFileStorage(path, { sync: false });
    await expect(next.load()).resolves.toBeDefined();
    await next.close();
  });

  it('close() waits for a snapshot file still being written, and the directory does not change after it resolves (review finding)', async () => {
    // The snapshot file is written beside the log, outside the queue of log writes close() waited
    // for: close() resolved while it was still being written, and the storage then renamed it
    // and compacted the log, perhaps under a new storage of the same directory.
    const path = directory();
    const storage = createFileStorage(path, { segmentBytes: 200 });
    await storage.load();
    for (let index = 1; index <= 30; index += 1) await storage.save({ entries: [entry(index)] });
    await storage.saveSnapshot(snapshot(10));
    // The temporary file's fsync is held until the test lets it go.
    const probe = await open(tmpdir(), 'r');
    const prototype = Object.getPrototypeOf(probe) as { sync: (this: { fd: number }) => Promise<void> };
    await probe.close();
    const original = prototype.sync;
    let release: () => void = () => undefined;
    let held = false;
    prototype.sync = function (this: { fd: number }): Promise<void> {
      if (!readlinkSync(`/proc/self/fd/${this.fd}`).endsWith('.snap.tmp')) return original.call(this);
      held = true;
      return new Promise<void>((resolve) => (release = resolve)).then(() => original.call(this));
    };
    try {
      const writing = storage.saveSnapshot(snapshot(25)).catch((error: unknown) => error);
      while (!held) await new Promise<void>((resolve) => setImmediate(resolve));
      let closed = false;
      const closing = storage.close().then(() => void (closed = true));
      for (let turn = 0; turn < 20; turn += 1) await new Promise<void>((resolve) => setImmediate(resolve));
      const closedWhileHeld = closed;
      release();
      await closing;
      const atClose = listing(path);
      await writing;
      expect({ closedWhileHeld, after: listing(path) }).toEqual({ closedWhileHeld: false, after: atClose });
    } finally {
      prototype.sync = original;
    }
  });

  it('a directory a storage of another process holds is refused, and free again once that process is killed (review finding)', async () => {
    // The refusal was only a set kept in this process: a second process opening the same
    // directory appended to the same segment as the first and corrupted the log.
    const path = directory();
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/hold-storage-child.ts', path], {
      cwd: join(__dirname, '..', '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString('utf8');
          if (output.includes('ready\n')) resolve();
        });
        child.once('exit', (code, signal) => reject(new Error(`holder exited (${code ?? signal}) before it was ready`)));
      });
      const second = createFileStorage(path, { sync: false });
      await expect(second.load()).rejects.toMatchObject({ code: RAFT_ERROR_CODES.storageInUse, context: { directory: path } });
      await second.close();
    } finally {
      // Killed outright: no close, no exit handler; the kernel alone lets go of what it held.
      process.kill(child.pid!, 'SIGKILL');
      await exited;
    }
    const next = createFileStorage(path, { sync: false });
    const state = await next.load();
    expect(state.hardState.vote).toBe('child');
    await next.close();
  }, 60_000);

  it('a storage loaded twice and closed while its first load runs lets go of the directory once that load is over (review finding)', async () => {
    // The second load(), refused at once, took the place of the first as what close() waits
    // for: close() let go before the first load took the directory and its lock, which then
    // stayed held, refusing every later storage of this and every other process.
    const path = directory();
    const storage = createFileStorage(path, { sync: false });
    const first = storage.load().then(
      () => 'loaded',
      (error: unknown) => error,
    );
    await expect(storage.load()).rejects.toThrow(/already loaded/);
    await storage.close();
    await first;
    const next = createFileStorage(path, { sync: false });
    await expect(next.load()).resolves.toBeDefined();
    await next.close();
  });

  it('a directory path that is a regular file, or lies under one, fails with a coded error naming it and the fs error as cause (review finding)', async () => {
    // Node's own EEXIST or ENOTDIR came out uncoded, naming no storage.
    const parent = directory();
    const file = join(parent, 'file');
    writeFileSync(file, 'not a directory');
    const walIsAFile = directory();
    writeFileSync(join(walIsAFile, 'wal'), 'not a directory');
    for (const [path, named, cause] of [
      [file, file, 'EEXIST'],
      [join(file, 'raft'), join(file, 'raft'), 'ENOTDIR'],
      [walIsAFile, join(walIsAFile, 'wal'), 'EEXIST'],
    ] as const) {
      const storage = createFileStorage(path, { sync: false });
      const failure = await storage.load().catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: RAFT_ERROR_CODES.unusableStorage, context: { path: named }, cause: { code: cause } });
      expect((failure as Error).message).toContain(named);
      await storage.close();
    }
  });
});
