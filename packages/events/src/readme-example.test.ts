// The README's quick start, run as a test so that it stays true. The SQLite file goes to a
// temporary directory instead of the working directory.
import { expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventStore, openSqliteStorage, truncateIfLarge } from './index';
import type { FoundationEvent } from './index';

it('runs the README example', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'events-readme-'));
  try {
    // In memory (the default), bounded at 100,000 events.
    const events = createEventStore({ node: 'api-1' });

    const placed = events.emit('order-placed', { order: 17, total: 42.5 }); // newEvent + store
    const paid = events.emit('payment-taken', { order: 17 }, { correlationId: placed.correlationId, parentId: placed.id });

    expect(events.get(placed.id)).toEqual(placed);
    expect(() => events.get(paid.id + 1)).toThrow(expect.objectContaining({ code: 3401 }));
    expect(events.getByCorrelation(placed.correlationId).map((event) => event.id)).toEqual([placed.id, paid.id]);
    expect(events.getCorrelationChain(placed.correlationId).map((event) => event.id)).toEqual([placed.id, paid.id]);
    expect(events.query({ types: ['order-placed'], timeRange: [Date.now() - 60_000, Date.now()], order: 'desc', limit: 10 })).toEqual([placed]);
    expect(events.getRecent(5).map((event) => event.id)).toEqual([paid.id, placed.id]); // newest first
    const page = events.queryPage({ type: 'order-placed', limit: 100 }); // { events, cursor }
    expect(page.events).toEqual([placed]);
    expect(events.queryPage({ type: 'order-placed', limit: 100, after: page.cursor }).events).toEqual([]); // the next page, exactly after the last one

    const shipped: FoundationEvent[] = [];
    const unsubscribe = events.subscribe({ type: 'order-shipped' }, (event) => shipped.push(event));
    events.emit('order-shipped', { order: 17 });
    expect(shipped.map((event) => event.data)).toEqual([{ order: 17 }]);
    unsubscribe();

    const bytes = events.serialize(placed); // CBOR
    expect(events.deserialize(bytes)).toEqual(placed);

    const report = events.emit('report-built', truncateIfLarge({ rows: new Array(100_000).fill('row') }));
    expect(report.data).toMatchObject({ truncated: true }); // a 10 KB preview, not 400 KB
    const { preview, originalSize } = report.data as { preview: string; originalSize: number };
    expect([Buffer.byteLength(preview) <= 10_000, originalSize > 400_000]).toEqual([true, true]);

    // Durable: a SQLite file in WAL mode; better-sqlite3 is imported here, not before.
    const durable = createEventStore({ storage: await openSqliteStorage({ path: join(directory, 'events.db') }), node: 'api-1' });
    durable.storeBatch([durable.newEvent('job-started', { job: 1 }), durable.newEvent('job-queued', { job: 2 })]); // all or none
    expect(durable.stats()).toMatchObject({ storage: 'sqlite', currentCount: 2 });
    durable.pruneBefore(Date.now() - 7 * 24 * 3600_000); // older than a week
    expect(durable.stats().currentCount).toBe(2);
    durable.close();
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
