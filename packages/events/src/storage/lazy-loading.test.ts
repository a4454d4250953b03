// better-sqlite3 is an optional peer dependency, imported on first use of the SQLite storage:
// memory-store users never load it, and its absence is a typed error, not a crash at import.
// (Its own file: module mocks here must not leak into the other SQLite tests.)
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FoundationError } from '@foundation/core';
import type * as Events from '../index';

type EventsModule = typeof Events;

let directory: string | undefined;
afterEach(() => {
  jest.dontMock('better-sqlite3');
  if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
});

describe('lazy loading', () => {
  it('never loads better-sqlite3 for users of the memory store', () => {
    jest.isolateModules(() => {
      let loaded = false;
      jest.doMock('better-sqlite3', () => {
        loaded = true;
        return {};
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const events = require('../index') as EventsModule;
      const store = events.createEventStore({ node: 'n' });
      store.emit('a', { works: true });
      expect(store.query()).toHaveLength(1);
      expect(loaded).toBe(false);
    });
  });

  it('reports a missing better-sqlite3 as dependency_failed (2301), with the install command', async () => {
    let events: EventsModule | undefined;
    jest.isolateModules(() => {
      jest.doMock('better-sqlite3', () => {
        throw new Error("Cannot find module 'better-sqlite3'");
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      events = require('../index') as EventsModule;
    });
    const error = await events!.openSqliteStorage({ path: join((directory = mkdtempSync(join(tmpdir(), 'foundation-lazy-'))), 'x.db') }).catch((failure: unknown) => failure);
    expect((error as FoundationError).code).toBe(2301);
    expect((error as FoundationError).type).toBe('dependency_failed');
    expect((error as Error).message).toMatch(/npm install better-sqlite3/);
  });
});

