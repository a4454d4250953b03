// Two real processes writing one SQLite file at the same time. Each storage connection kept its
// own copy of the highest id, so both processes reserved the same block of ids and the second to
// store an id was refused (EventDuplicateError); the reservation is now one write transaction
// that reads and advances the highest id recorded in the file. The same processes check the
// order of storage: sequence numbers given in commit order, whichever process commits.
import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FoundationEvent } from '../event';
import { createEventStore } from '../event-store';
import { normalizeQuery } from '../query';
import { openSqliteStorage } from './sqlite-storage';

const packageDirectory = resolve(__dirname, '../..');

interface Writer {
  readonly name: string;
  /** Resolves once the child has opened the file and made its store. */
  readonly ready: Promise<void>;
  /** Resolves once the child has stored `pauseAfter` events and waits for `resume` (when given one). */
  readonly paused: Promise<void>;
  /**
   * Resolves with the ids the child stored, one array per batch (one transaction), in the order
   * it stored them, once it has exited of its own accord.
   */
  readonly finished: Promise<number[][]>;
  go(): void;
  resume(): void;
  kill(): void;
}

function startWriter(file: string, name: string, count: number, batch: number, pauseAfter?: number): Writer {
  const pause = pauseAfter === undefined ? [] : [String(pauseAfter)];
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/append-child.ts', file, name, String(count), String(batch), ...pause], {
    cwd: packageDirectory,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  let stderr = '';
  let markReady: () => void = () => undefined;
  let markPaused: () => void = () => undefined;
  const ready = new Promise<void>((resolveReady) => (markReady = resolveReady));
  const paused = new Promise<void>((resolvePaused) => (markPaused = resolvePaused));
  const finished = new Promise<number[][]>((resolveRun, rejectRun) => {
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.startsWith('ready\n')) markReady();
      if (output.includes('\npaused\n')) markPaused();
    });
    child.on('error', rejectRun);
    // 'close': every line the child wrote has been read.
    child.on('close', (code, signal) => {
      if (code === 0 && output.endsWith('done\n')) {
        resolveRun([...output.matchAll(/^stored ([\d ]+)$/gm)].map((match) => match[1]!.split(' ').map(Number)));
      } else {
        rejectRun(new Error(`${name} failed (code ${String(code)}, signal ${String(signal)}): ${stderr}`));
      }
    });
  });
  // A child that fails before it is ready or paused is reported through `finished`.
  finished.catch(() => {
    markReady();
    markPaused();
  });
  return {
    name,
    ready,
    paused,
    finished,
    go: () => child.stdin.write('go\n'),
    resume: () => child.stdin.end('resume\n'),
    kill: () => child.kill('SIGKILL'),
  };
}

describe('two processes storing into one SQLite file at the same time', () => {
  it('hand out ids of their own: none repeats, none is refused, every event is stored', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'foundation-shared-'));
    const file = join(directory, 'events.db');
    // Several blocks of 1,024 ids each, in small batches, so that the two reserve in turn.
    const count = 3_000;
    const writers = [startWriter(file, 'writer-a', count, 5), startWriter(file, 'writer-b', count, 5)];
    try {
      // Both have the file open before either makes an event.
      await Promise.all(writers.map((writer) => writer.ready));
      // A third connection, open while they store: it counts their events, not its own none.
      const watcher = await openSqliteStorage({ path: file });
      for (const writer of writers) writer.go();
      const [storedByA, storedByB] = (await Promise.all(writers.map((writer) => writer.finished))).map((batches) => batches.flat());
      expect(storedByA).toHaveLength(count);
      expect(storedByB).toHaveLength(count);
      const all = [...storedByA!, ...storedByB!];
      expect(new Set(all).size).toBe(2 * count);
      expect(watcher.count()).toBe(2 * count);
      watcher.close();

      const store = createEventStore({ storage: await openSqliteStorage({ path: file }), node: 'reader' });
      try {
        const events = store.query({ limit: Number.POSITIVE_INFINITY, order: 'asc' });
        expect(events).toHaveLength(2 * count);
        // Each event under the id its writer was told, and each writer's events all there.
        for (const [writer, stored] of [['writer-a', storedByA!], ['writer-b', storedByB!]] as const) {
          const own = events.filter((event) => event.node === writer);
          expect(own.map((event) => event.id)).toEqual([...stored].sort((a, b) => a - b));
          expect(own.map((event) => (event.data as { index: number }).index).sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, index) => index));
        }
        expect(store.emit('after', {}).id).toBeGreaterThan(Math.max(...all));
      } finally {
        store.close();
      }
    } finally {
      for (const writer of writers) writer.kill();
      rmSync(directory, { recursive: true, force: true });
    }
    // Two child processes start and store 6,000 events: seconds on a loaded machine.
  }, 60_000);

  // The order of storage across processes: each append takes the write lock at BEGIN and reads
  // the file's highest sequence number inside it, so that numbers follow commit order whichever
  // process commits. Were a process to number from what it last saw, two would give the same
  // numbers, or a commit would get a number below one a reader had already passed.
  it('give sequence numbers in commit order, and a reader paging in the order of storage while they store meets every event once, in each writer\'s order', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'foundation-shared-sequence-'));
    const file = join(directory, 'events.db');
    // Batches of 7 (several events to each transaction), and a pause after 700 events each.
    const count = 2_100;
    const batch = 7;
    const pauseAfter = 700;
    const writers = [startWriter(file, 'writer-a', count, batch, pauseAfter), startWriter(file, 'writer-b', count, batch, pauseAfter)];
    const reader = createEventStore({ storage: await openSqliteStorage({ path: file }), node: 'reader' });
    try {
      await Promise.all(writers.map((writer) => writer.ready));
      const read: FoundationEvent[] = [];
      let cursor: string | undefined;
      const readPage = (): number => {
        const page = reader.queryPage({ orderBy: 'stored', limit: 50, after: cursor });
        read.push(...page.events);
        cursor = page.cursor;
        return page.events.length;
      };
      for (const writer of writers) writer.go();
      // Both have stored their first events and wait: the reader reads to the end of the file,
      // then pages on while both store the rest.
      await Promise.all(writers.map((writer) => writer.paused));
      while (readPage() > 0);
      expect(read.length).toBe(2 * pauseAfter);
      let finished = false;
      const results = Promise.all(writers.map((writer) => writer.finished)).finally(() => (finished = true));
      for (const writer of writers) writer.resume();
      while (!finished) {
        readPage();
        // Lets the children's output and exit be read between pages.
        await new Promise((resolveTurn) => setImmediate(resolveTurn));
      }
      const [batchesOfA, batchesOfB] = await results;
      while (readPage() > 0);

      // Every event exactly once, each writer's in the order it stored them.
      expect(read.length).toBe(2 * count);
      expect(new Set(read.map((event) => event.id)).size).toBe(2 * count);
      for (const [writer, batches] of [['writer-a', batchesOfA!], ['writer-b', batchesOfB!]] as const) {
        expect(read.filter((event) => event.node === writer).map((event) => event.id)).toEqual(batches.flat());
      }

      // The numbers themselves, from a connection opened after both exited.
      const storage = await openSqliteStorage({ path: file });
      try {
        const stored = storage.queryStored(normalizeQuery({ orderBy: 'stored', limit: Number.POSITIVE_INFINITY }));
        // The reader met the events in the order of their numbers.
        expect(stored.map(({ event }) => event.id)).toEqual(read.map((event) => event.id));
        const sequences = stored.map(({ sequence }) => sequence);
        expect(new Set(sequences).size).toBe(2 * count);
        const sequenceOf = new Map(stored.map(({ event, sequence }) => [event.id, sequence]));
        for (const batches of [batchesOfA!, batchesOfB!]) {
          let previous = 0;
          for (const ids of batches) {
            const numbers = ids.map((id) => sequenceOf.get(id)!);
            // One transaction: consecutive numbers, in the order of the batch...
            expect(numbers).toEqual(numbers.map((_, index) => numbers[0]! + index));
            // ...all above the writer's transaction before it.
            expect(numbers[0]).toBeGreaterThan(previous);
            previous = numbers.at(-1)!;
          }
        }
      } finally {
        storage.close();
      }
    } finally {
      for (const writer of writers) writer.kill();
      reader.close();
      rmSync(directory, { recursive: true, force: true });
    }
    // Two child processes start and store 4,200 events: seconds on a loaded machine.
  }, 60_000);

  // Found by a CI run: two processes opening one new file at the same moment. Switching a new
  // file to WAL needs an exclusive lock, and when both connections hold a shared one and ask for
  // it, SQLite refuses one of them at once (SQLITE_BUSY) instead of waiting (a wait could
  // deadlock), so busyTimeoutMs never applied and the open failed: "database is locked". Five
  // processes opening the same 120 new files met it one to three times a run.
  it('several processes opening the same new files at once all open them', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'foundation-shared-open-'));
    const files = 120;
    const children = Array.from({ length: 5 }, () =>
      spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/open-child.ts', directory, String(files)], { cwd: packageDirectory, stdio: ['pipe', 'pipe', 'pipe'] }),
    );
    try {
      const outputs = children.map(() => ({ stdout: '', stderr: '' }));
      const closed = children.map(
        (child, index) =>
          new Promise<number | null>((resolveClose) => {
            child.stdout.on('data', (chunk: Buffer) => (outputs[index]!.stdout += chunk.toString()));
            child.stderr.on('data', (chunk: Buffer) => (outputs[index]!.stderr += chunk.toString()));
            child.on('close', (code) => resolveClose(code));
          }),
      );
      await Promise.all(
        children.map(
          (child, index) =>
            new Promise<void>((resolveReady, rejectReady) => {
              const check = (): void => {
                if (outputs[index]!.stdout.startsWith('ready\n')) resolveReady();
              };
              child.stdout.on('data', check);
              child.on('close', () => rejectReady(new Error(`child ${index} exited before it was ready: ${outputs[index]!.stderr}`)));
            }),
        ),
      );
      for (const child of children) child.stdin.end('go\n');
      const codes = await Promise.all(closed);
      const failures = outputs.flatMap((output) => output.stdout.split('\n').filter((line) => line.startsWith('failed')));
      expect({ codes, failures, done: outputs.every((output) => output.stdout.endsWith('done\n')) }).toEqual({ codes: children.map(() => 0), failures: [], done: true });
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(directory, { recursive: true, force: true });
    }
  }, 60_000);
});
