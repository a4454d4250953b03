// The SQLite store: storeBatch of 1,000 events, durable (synchronous FULL: fsync per batch) and
// with synchronous NORMAL, against raw better-sqlite3 inserts of the same rows into the same
// schema in one transaction per 1,000.
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventStore, openSqliteStorage } from '@foundation/events';
import type { FoundationEvent } from '@foundation/events';
import Database from 'better-sqlite3';
import { Encoder } from 'cbor-x';

const BATCH = 1000;

export async function storeBatchRate(events: readonly FoundationEvent[], synchronous: 'full' | 'normal'): Promise<number> {
  const directory = mkdtempSync(join(tmpdir(), 'foundation-events-bench-'));
  try {
    const store = createEventStore({ storage: await openSqliteStorage({ path: join(directory, 'events.db'), synchronous }), node: 'bench' });
    const batches: FoundationEvent[][] = [];
    for (let offset = 0; offset < events.length; offset += BATCH) batches.push(events.slice(offset, offset + BATCH));
    const started = process.hrtime.bigint();
    for (const batch of batches) store.storeBatch(batch);
    const rate = events.length / (Number(process.hrtime.bigint() - started) / 1e9);
    if (store.stats().currentCount !== events.length) throw new Error('lost events');
    store.close();
    return rate;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** Baseline: better-sqlite3 alone, same table and indexes, same setting, rows encoded in the timed loop too. */
export function rawInsertRate(events: readonly FoundationEvent[], synchronous: 'full' | 'normal', indexes: boolean): number {
  const encoder = new Encoder({ useRecords: false, tagUint8Array: false });
  const directory = mkdtempSync(join(tmpdir(), 'foundation-events-raw-'));
  try {
    const db = new Database(join(directory, 'raw.db'));
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.exec(
      'CREATE TABLE events (id INTEGER PRIMARY KEY, type TEXT NOT NULL, correlation_id TEXT NOT NULL, parent_id INTEGER, timestamp INTEGER NOT NULL, wall_time INTEGER NOT NULL, node TEXT NOT NULL, data BLOB NOT NULL)',
    );
    if (indexes) {
      db.exec('CREATE INDEX by_type ON events (type, id); CREATE INDEX by_correlation ON events (correlation_id, timestamp); CREATE INDEX by_wall_time ON events (wall_time)');
    }
    const insert = db.prepare('INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    const insertBatch = db.transaction((batch: readonly FoundationEvent[]) => {
      for (const event of batch) insert.run(event.id, event.type, event.correlationId, event.parentId, event.timestamp, event.wallTime, event.node, encoder.encode(event.data));
    });
    const started = process.hrtime.bigint();
    for (let offset = 0; offset < events.length; offset += BATCH) insertBatch(events.slice(offset, offset + BATCH));
    const rate = events.length / (Number(process.hrtime.bigint() - started) / 1e9);
    db.close();
    return rate;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** The disk's fsync latency (write 4 KiB, fsync), µs: what one durable commit costs at least. */
export function fsyncLatency(samples: number): { p50: number; p99: number } {
  const directory = mkdtempSync(join(tmpdir(), 'foundation-events-fsync-'));
  try {
    const descriptor = openSync(join(directory, 'probe'), 'w');
    const block = Buffer.alloc(4096, 1);
    const times: number[] = [];
    for (let index = 0; index < samples; index += 1) {
      const started = process.hrtime.bigint();
      writeSync(descriptor, block);
      fsyncSync(descriptor);
      times.push(Number(process.hrtime.bigint() - started) / 1000);
    }
    closeSync(descriptor);
    times.sort((a, b) => a - b);
    return { p50: times[Math.floor(samples / 2)]!, p99: times[Math.floor(samples * 0.99)]! };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
