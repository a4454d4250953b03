// Who closes the node's event store: startNode made the store, so its stop() closes it; an event
// storage the caller passed in is the caller's, so it stays open for them (to read, to give to
// the next node, and to close).
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventStoreClosedError, openSqliteStorage } from '@foundation/events';
import { startNode } from '../src/index';

const root = mkdtempSync(join(tmpdir(), 'foundation-event-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("startNode's event store", () => {
  it('is closed by stop(): the events and subscriptions of a stopped node are let go', async () => {
    const node = await startNode({ dataDir: join(root, 'memory'), timing: 'local' });
    let stopped = false;
    try {
      node.events.emit('before-stop', { n: 1 });
      await node.stop();
      stopped = true;
      // stop() left the store open: a stopped node went on storing events, and holding them.
      expect(() => node.events.emit('after-stop', { n: 2 })).toThrow(EventStoreClosedError);
      expect(() => node.events.getRecent()).toThrow(EventStoreClosedError);
    } finally {
      if (!stopped) await node.stop();
    }
  });

  it('leaves a SQLite storage the caller passed in open, so the next node in the same process goes on from it', async () => {
    const storage = await openSqliteStorage({ path: join(root, 'events.db') });
    try {
      const first = await startNode({ dataDir: join(root, 'sqlite'), timing: 'local', eventStorage: storage });
      const earlier = first.events.emit('first-life', { n: 1 });
      await first.stop();
      expect(storage.count()).toBe(1);

      const second = await startNode({ dataDir: join(root, 'sqlite'), timing: 'local', eventStorage: storage });
      try {
        const later = second.events.emit('second-life', { n: 2 });
        expect(later.id).toBeGreaterThan(earlier.id);
        expect(second.events.query({ order: 'asc' }).map((event) => event.type)).toEqual(['first-life', 'second-life']);
      } finally {
        await second.stop();
      }
      expect(storage.count()).toBe(2);
    } finally {
      storage.close();
    }
  });
});
