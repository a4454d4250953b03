// Crash safety of the SQLite storage: a real child process stores batches into a real file and
// acknowledges each after storeBatch returns; it is killed with SIGKILL mid-stream. After
// reopening the file, every acknowledged batch is present, whole, and no batch is partly present.
import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { createEventStore } from '../event-store';
import { openSqliteStorage } from './sqlite-storage';

const packageDirectory = resolve(__dirname, '../..');

interface Ack {
  readonly batch: number;
  readonly firstId: number;
  readonly lastId: number;
}

/**
 * Reads the child's acknowledgements, SIGKILLs it once `killAfter` have arrived, and resolves
 * with every acknowledgement it wrote. Rejects if the child exits by itself.
 */
async function collectAcks(child: ChildProcessByStdio<null, Readable, Readable>, killAfter: number): Promise<Ack[]> {
  const acks: Ack[] = [];
  let stderr = '';
  let pending = '';
  try {
    await new Promise<void>((resolveRun, rejectRun) => {
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout.on('data', (chunk: Buffer) => {
        pending += chunk.toString();
        const lines = pending.split('\n');
        pending = lines.pop()!;
        for (const line of lines) {
          const match = /^ack (\d+) (\d+) (\d+)$/.exec(line);
          if (match !== null) acks.push({ batch: Number(match[1]), firstId: Number(match[2]), lastId: Number(match[3]) });
        }
        // Kill while the child is in full flight: it is already storing the next batch.
        if (acks.length >= killAfter && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      child.on('error', rejectRun);
      // 'close', not 'exit': 'close' comes once the child's output has been read to its end,
      // while after 'exit' acknowledgements may still be waiting in the pipe.
      child.on('close', (code, signal) => {
        if (signal === 'SIGKILL') resolveRun();
        else rejectRun(new Error(`the child exited by itself (code ${String(code)}): ${stderr}`));
      });
    });
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  return acks;
}

/** Runs the crash child until it has acknowledged `killAfter` batches, then SIGKILLs it. */
function runAndKill(file: string, batchSize: number, synchronous: 'full' | 'normal', killAfter: number): Promise<Ack[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/crash-child.ts', file, String(batchSize), synchronous], {
    cwd: packageDirectory,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collectAcks(child, killAfter);
}

describe('reading the acknowledgements of a killed child', () => {
  it('reads every line the child wrote, even lines that arrive after it exited', async () => {
    // A child's 'exit' can come before the last of its output has been read. Made certain here:
    // the child hands its stdout to a grandchild and kills itself; the grandchild writes its
    // line only once this process has seen the child exit.
    const directory = mkdtempSync(join(tmpdir(), 'foundation-acks-'));
    const marker = join(directory, 'child-exited');
    const grandchild = `
      const { existsSync, writeSync } = require('node:fs');
      const started = Date.now();
      const poll = setInterval(() => {
        if (existsSync(${JSON.stringify(marker)})) writeSync(1, 'ack 2 2 2\\n');
        else if (Date.now() - started < 20000) return;
        clearInterval(poll);
      }, 2);`;
    const childScript = `
      const { spawn } = require('node:child_process');
      const { writeSync } = require('node:fs');
      writeSync(1, 'ack 1 1 1\\n');
      const grandchild = spawn(process.execPath, ['-e', ${JSON.stringify(grandchild)}], { stdio: ['ignore', 'inherit', 'ignore'] });
      grandchild.on('spawn', () => process.kill(process.pid, 'SIGKILL'));`;
    try {
      const child = spawn(process.execPath, ['-e', childScript], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.on('exit', () => writeFileSync(marker, ''));
      const acks = await collectAcks(child, Number.POSITIVE_INFINITY);
      expect(acks.map((ack) => ack.batch)).toEqual([1, 2]);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('SQLite storage under SIGKILL', () => {
  for (const [synchronous, batchSize, killAfter] of [
    ['full', 250, 40],
    ['normal', 500, 60],
  ] as const) {
    it(`keeps every acknowledged batch whole and no batch in part (synchronous=${synchronous}, ${batchSize} events a batch)`, async () => {
      const directory = mkdtempSync(join(tmpdir(), 'foundation-crash-'));
      const file = join(directory, 'events.db');
      try {
        const acks = await runAndKill(file, batchSize, synchronous, killAfter);
        expect(acks.length).toBeGreaterThanOrEqual(killAfter);

        const storage = await openSqliteStorage({ path: file });
        try {
          expect(storage.integrityCheck()).toEqual(['ok']);
          const events = storage.query({
            types: undefined,
            from: Number.NEGATIVE_INFINITY,
            to: Number.POSITIVE_INFINITY,
            correlationId: undefined,
            orderBy: 'id',
            order: 'asc',
            offset: 0,
            limit: Number.POSITIVE_INFINITY,
          });
          const batches = new Map<number, number[]>();
          for (const event of events) {
            const data = event.data as { batch: number; index: number; size: number };
            const indexes = batches.get(data.batch) ?? [];
            indexes.push(data.index);
            batches.set(data.batch, indexes);
          }
          // No batch is partly present.
          for (const [batch, indexes] of batches) {
            expect({ batch, count: indexes.length }).toEqual({ batch, count: batchSize });
            expect(indexes).toEqual(Array.from({ length: batchSize }, (_, index) => index));
          }
          // Every acknowledged batch is present with the ids it was acknowledged with.
          for (const ack of acks) {
            expect(batches.has(ack.batch)).toBe(true);
            expect(storage.get(ack.firstId)?.data).toMatchObject({ batch: ack.batch, index: 0 });
            expect(storage.get(ack.lastId)?.data).toMatchObject({ batch: ack.batch, index: batchSize - 1 });
          }
          // Batches commit in order: what is present is 1..n, at most one past the last ack
          // (committed, then killed before its ack was written).
          const present = [...batches.keys()].sort((a, b) => a - b);
          expect(present).toEqual(Array.from({ length: present.length }, (_, index) => index + 1));
          const lastAck = acks[acks.length - 1]!.batch;
          expect(present.length).toBeGreaterThanOrEqual(lastAck);
          expect(present.length).toBeLessThanOrEqual(lastAck + 1);
        } finally {
          storage.close();
        }
      } finally {
        rmSync(directory, { recursive: true, force: true });
      }
      // A child process that starts, writes and is killed: seconds on a loaded machine (it ran
      // past jest's 5 s default once when the machine ran four other CPU-bound processes).
    }, 30_000);
  }
});

describe('ids handed out before SIGKILL', () => {
  it('are never handed out again once the file is reopened, though their events were never stored (review finding)', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'foundation-handout-'));
    const file = join(directory, 'events.db');
    try {
      // The child stores one event, hands out ids for three more it never stores, says so, and
      // is killed as soon as it has.
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/handout-child.ts', file, '3'], {
        cwd: packageDirectory,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const handed: number[] = [];
      let stderr = '';
      let output = '';
      await new Promise<void>((resolveRun, rejectRun) => {
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('done\n') && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        });
        child.on('error', rejectRun);
        child.on('close', (code, signal) => {
          if (signal === 'SIGKILL') resolveRun();
          else rejectRun(new Error(`the child exited by itself (code ${String(code)}): ${stderr}`));
        });
      });
      for (const match of output.matchAll(/^(?:stored|handed) (\d+)$/gm)) handed.push(Number(match[1]));
      expect(handed).toHaveLength(4);

      const store = createEventStore({ storage: await openSqliteStorage({ path: file }), node: 'after-restart' });
      try {
        expect(store.query().map((event) => event.id)).toEqual([handed[0]]);
        const next = store.emit('after-restart', {});
        expect(handed).not.toContain(next.id);
        expect(next.id).toBeGreaterThan(Math.max(...handed));
      } finally {
        store.close();
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }, 30_000);
});
