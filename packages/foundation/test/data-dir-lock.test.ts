// One node at a time on a data directory: a second node (in this process or another) that is
// given a directory a live node uses is refused before it touches Raft's files, since two nodes
// writing one log corrupt it. A node that stops, or a process that dies, lets go of it.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode } from '../src/index';
import { lockDataDir, lockSocketPath } from '../src/wiring/data-dir-lock';
import { startChildCluster } from './support/child-cluster';

const root = mkdtempSync(join(tmpdir(), 'foundation-data-dir-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a data directory', () => {
  it('in use by a node of this process is refused to a second node, and free again once the first stops', async () => {
    const dataDir = join(root, 'shared');
    const first = await startNode({ dataDir, timing: 'local' });
    let stopped = false;
    try {
      await first.kv.put('mine', 1);
      // The second node started, on the first's Raft log, and its writes then waited for a
      // leader that never came: it was no voter of the membership it loaded.
      const second = await startNode({ dataDir: join(root, 'shared', '.'), timing: 'local' }).then(
        async (node) => {
          await node.stop();
          return 'started';
        },
        (error: unknown) => error,
      );
      expect(second).toMatchObject({ code: 6107, type: 'data_dir_in_use' });
      expect((second as Error).message).toContain(dataDir);
      await first.kv.put('still-mine', 2);
      await first.stop();
      stopped = true;
      const next = await startNode({ dataDir, timing: 'local' });
      await next.stop();
    } finally {
      if (!stopped) await first.stop();
    }
  });

  it('is the directory itself, not its path: renamed while held it is still refused, and a new directory at the old path is free', async () => {
    // Keyed by path, a held directory moved elsewhere was free under its new name, and two
    // containers sharing a network namespace (a pod, host networking) refused each other's
    // separate volumes mounted at the same path.
    const before = join(root, 'before-rename');
    const after = join(root, 'after-rename');
    const held = await lockDataDir(before);
    try {
      renameSync(before, after);
      mkdirSync(before);
      const refused = await lockDataDir(after).then(
        async (lock) => {
          await lock.release();
          return 'taken';
        },
        (error: unknown) => error,
      );
      expect(refused).toMatchObject({ code: 6107 });
      const fresh = await lockDataDir(before);
      await fresh.release();
    } finally {
      await held.release();
    }
  });

  it('in use by a node of another process is refused, and free again once that process is killed', async () => {
    const [holder] = await startChildCluster({ names: ['holder'], dataRoot: root });
    try {
      const refused = await startNode({ dataDir: join(root, 'holder'), timing: 'local' }).then(
        async (node) => {
          await node.stop();
          return 'started';
        },
        (error: unknown) => error,
      );
      expect(refused).toMatchObject({ code: 6107 });
    } finally {
      await holder!.kill();
    }
    const after = await startNode({ dataDir: join(root, 'holder'), timing: 'local', voters: [holder!.id], name: holder!.id });
    await after.stop();
  }, 60_000);
  it('is locked through a socket file whose path the kernel keeps whole, however long the temporary directory', () => {
    // macOS keeps 103 bytes of a socket's path and its $TMPDIR is /var/folders/xx/<30>/T/: the
    // path ran to 106, Node cut it short, and the file a crashed holder left was never found to
    // be removed (the directory stayed refused for good), or newer Node refused to listen at all.
    const directory = join(root, 'socket-path');
    mkdirSync(directory);
    const macTemporary = '/var/folders/7g/mbft3r4s4w7chvl_ys3f5p8r0000gn/T/';
    const long = `/${'t'.repeat(120)}`;
    for (const [platform, temporary, under] of [
      ['darwin', macTemporary, macTemporary],
      ['freebsd', '/tmp', '/tmp/'],
      ['darwin', long, '/tmp/'],
    ] as const) {
      const path = lockSocketPath(directory, platform, temporary);
      expect(Buffer.byteLength(path)).toBeLessThanOrEqual(103);
      expect(path.startsWith(under)).toBe(true);
    }
    // The same directory is the same socket, and another directory another.
    expect(lockSocketPath(directory, 'darwin', macTemporary)).toBe(lockSocketPath(join(directory, '.'), 'darwin', macTemporary));
    expect(lockSocketPath(root, 'darwin', macTemporary)).not.toBe(lockSocketPath(directory, 'darwin', macTemporary));
  });
});
