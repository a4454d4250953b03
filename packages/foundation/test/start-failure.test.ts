// A startNode that fails part-way lets go of everything it had started: the port, and the timers
// of every part (read on an injected clock that counts the repeating timers still running).
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSystemClock } from '@foundation/core';
import { countTimers } from '@foundation/testkit';
import { startNode } from '../src/index';
import type { FailedStartCleanup } from '../src/index';
import { freePort } from '../src/options';
import { closeSegmentUnder, holdDescriptors, raftLoadedUnder } from './support/full-disk';
import { CHILD_CLUSTER_SECRET, startChildNode } from './support/child-cluster';
import { accepts, until } from './support/loopback';

const root = mkdtempSync(join(tmpdir(), 'foundation-start-failure-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function canListen(port: number): Promise<boolean> {
  return listenOn(port).then(
    (server) => new Promise((resolve) => server.close(() => resolve(true))),
    () => false,
  );
}


function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('startNode failing part-way', () => {
  it('on a port already in use: rejects with the listen error and leaves no timer running', async () => {
    const port = await freePort('127.0.0.1');
    const taken = await listenOn(port);
    try {
      const { clock, pending } = countTimers(createSystemClock({ keepAlive: false }));
      const outcome = await startNode({ name: `busy@127.0.0.1:${port}`, timing: 'local', clock, dataDir: join(root, 'busy') }).catch((error: unknown) => error);
      expect(outcome).toMatchObject({ code: 'EADDRINUSE' });
      // The transport's heartbeat ran on, every 100 ms, for as long as the process lived.
      expect(pending('repeating')).toBe(0);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('at any later step: rejects, with the port free again and no timer running', async () => {
    const port = await freePort('127.0.0.1');
    const deadSeed = `dead@127.0.0.1:${await freePort('127.0.0.1')}`;
    const raftIsAFile = join(root, 'file');
    mkdirSync(raftIsAFile, { recursive: true });
    writeFileSync(join(raftIsAFile, 'raft'), 'not a directory');
    const stages = [
      // A node id the runtime refuses (a host in brackets) passed startNode's check, and the
      // runtime refused it after the transport listened: the port stayed bound and the process
      // could not exit. It is refused before anything binds.
      { options: { name: `bracketed@[127.0.0.1]:${port}` }, expected: { code: 6101, context: { option: 'name' } } },
      { options: { name: `lonely@127.0.0.1:${port}`, seeds: [deadSeed], secret: 'a-test-secret-of-enough-bytes', joinTimeoutMs: 300 }, expected: { code: 5903 } },
      { options: { name: `unwritable@127.0.0.1:${port}`, dataDir: raftIsAFile }, expected: { code: 6022, context: { path: join(raftIsAFile, 'raft') } } },
    ];
    for (const { options, expected } of stages) {
      const { clock, pending } = countTimers(createSystemClock({ keepAlive: false }));
      const outcome = await startNode({ timing: 'local', clock, dataDir: join(root, 'stage'), ...options }).catch((error: unknown) => error);
      expect(outcome).toMatchObject(expected);
      expect(await canListen(port)).toBe(true);
      expect(pending('repeating')).toBe(0);
    }
  });

  it('stopped through its signal while joining: rejects with the reason, with the port free again and no timer running', async () => {
    const port = await freePort('127.0.0.1');
    const deadSeed = `dead@127.0.0.1:${await freePort('127.0.0.1')}`;
    const { clock, pending } = countTimers(createSystemClock({ keepAlive: false }));
    const stop = new AbortController();
    const starting = startNode({ name: `waiting@127.0.0.1:${port}`, seeds: [deadSeed], secret: 'a-test-secret-of-enough-bytes', timing: 'local', clock, dataDir: join(root, 'aborted'), signal: stop.signal });
    // Listening means it is joining: it tries the dead seed until its 30 s joinTimeoutMs.
    while (!(await accepts(port))) await new Promise((resolve) => setTimeout(resolve, 10));
    const reason = new Error('stop asked');
    stop.abort(reason);
    expect(await starting.catch((error: unknown) => error)).toBe(reason);
    expect(await canListen(port)).toBe(true);
    expect(pending('repeating')).toBe(0);
  });

  it('whose clean-up fails too after its signal aborted: rejects with StartAbortedError (6111), the reason its cause and untouched, carrying the failed steps as cleanupError (NodeStopError, 6109)', async () => {
    // The seed's voters include one never started: no leader, so a node joining it as a learner
    // waits, its Raft storage open, until its deadline. The seed runs in a process of its own,
    // so that its redials of the absent voter open no descriptor here (see holdDescriptors).
    const seed = `seed@127.0.0.1:${await freePort('127.0.0.1')}`;
    const absent = `absent@127.0.0.1:${await freePort('127.0.0.1')}`;
    const seedNode = await startChildNode({ name: seed, voters: [seed, absent], dataDir: join(root, 'leaderless-seed') });
    try {
      const dataDir = join(root, 'joining');
      const stop = new AbortController();
      const giveBack = holdDescriptors(16);
      const starting = startNode({ name: `joining@127.0.0.1:${await freePort('127.0.0.1')}`, seeds: [seed], voters: [seed], secret: CHILD_CLUSTER_SECRET, timing: 'local', dataDir, signal: stop.signal });
      const outcome = starting.catch((error: unknown) => error);
      // Once Raft has loaded its log, its close of it is made to fail (EBADF); then the start stops.
      await until('the joining node to load its Raft log', () => raftLoadedUnder(dataDir));
      closeSegmentUnder(dataDir);
      giveBack();
      const reason = new Error('stop asked');
      const asGiven = Object.getOwnPropertyDescriptors(reason);
      stop.abort(reason);
      const error = (await outcome) as Error & Partial<FailedStartCleanup>;
      // The clean-up's failures were written onto the caller's own reason object (review finding).
      expect(Object.getOwnPropertyDescriptors(reason)).toEqual(asGiven);
      expect(error).toMatchObject({ code: 6111, type: 'node_start_aborted' });
      expect(error.cause).toBe(reason);
      // The failed close was dropped: the caller could not tell that Raft's storage was not let go.
      const { cleanupError } = error;
      expect(cleanupError).toMatchObject({ code: 6109, type: 'node_stop_failed', context: { steps: ['consensus'] } });
      const failed = cleanupError!.failures[0]!.error as { code?: unknown; cause?: { code?: unknown } };
      expect([failed.code, failed.cause?.code]).toContain('EBADF');
      expect(cleanupError!.cause).toBe(failed);
    } finally {
      await seedNode.stop();
    }
  }, 60_000);

  it('given a signal already aborted: rejects with its reason before anything listens', async () => {
    const reason = new Error('stopped already');
    const outcome = await startNode({ timing: 'local', dataDir: join(root, 'never'), signal: AbortSignal.abort(reason) }).catch((error: unknown) => error);
    expect(outcome).toBe(reason);
  });
});
