// One node at a time on a data directory: a second node (in this process or another) that is
// given a directory a live node uses is refused before it touches Raft's files, since two nodes
// writing one log corrupt it. A node that stops, or a process that dies, lets go of it.
import { afterAll, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode } from '../src/index';
import { lockDataDir } from '../src/wiring/data-dir-lock';
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

  it('that is a regular file, or lies under one, is refused with a coded error naming it and the fs error as cause', async () => {
    // Node's own EEXIST or ENOTDIR came out uncoded, naming no data directory.
    const file = join(root, 'a-file');
    writeFileSync(file, 'not a directory');
    for (const [dataDir, cause] of [
      [file, 'EEXIST'],
      [join(file, 'data'), 'ENOTDIR'],
    ] as const) {
      const failure = await lockDataDir(dataDir).catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: 6108, type: 'data_dir_unusable', context: { dataDir }, cause: { code: cause } });
      expect((failure as Error).message).toContain(dataDir);
    }
  });

  // The superuser may write anywhere: the refusal is seen only as another user.
  (process.getuid?.() === 0 ? it.skip : it)('that may not be written is refused with a coded error naming it', async () => {
    const dataDir = join(root, 'read-only');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o555);
    try {
      await expect(lockDataDir(dataDir)).rejects.toMatchObject({ code: 6108, context: { dataDir }, cause: { code: 'EACCES' } });
    } finally {
      chmodSync(dataDir, 0o755);
    }
  });
});
