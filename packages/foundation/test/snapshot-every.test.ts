// A node's Raft snapshot interval (`snapshotEvery`), and a restart from its own snapshot with
// cluster-wide config in it: real node, real file storage, loopback.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidOptionsError, startNode } from '../src/index';

const root = mkdtempSync(join(tmpdir(), 'foundation-snapshot-every-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const config = { defaults: { limits: { rate: 10 }, hosts: ['a'] }, updatablePaths: ['limits', 'hosts'] };

describe('snapshotEvery', () => {
  it('snapshots every so many entries, and a restart from the snapshot keeps the cluster-wide config', async () => {
    const dataDir = join(root, 'solo');
    const first = await startNode({ dataDir, timing: 'local', snapshotEvery: 8, config });
    const { id } = first;
    try {
      await first.config.setClusterWide('hosts.1', 'b');
      await first.config.setClusterWide('hosts.2', 'c');
      await first.config.setClusterWide('hosts.1', 'B'); // set again after the next was appended
      await first.config.setClusterWide('limits.rate', 42);
      for (let index = 0; index < 20; index += 1) await first.kv.put(`k${index}`, index);
      expect(first.consensus.raft.stats().snapshotsTaken).toBeGreaterThanOrEqual(2);
      // The node hands out the cluster-wide operations, not the cluster config's own.
      expect('close' in first.config).toBe(false);
      expect('snapshotCommands' in first.config).toBe(false);
    } finally {
      await first.stop();
    }

    const again = await startNode({ dataDir, timing: 'local', name: id, voters: [id], snapshotEvery: 8, config });
    try {
      expect(again.config.get()).toEqual({ limits: { rate: 42 }, hosts: ['a', 'B', 'c'] });
      expect(await again.kv.get('k19')).toBe(19);
    } finally {
      await again.stop();
    }
  });

  it.each([0, -1, 1.5, Number.NaN, '8'])('refuses %p', async (snapshotEvery) => {
    await expect(startNode({ dataDir: join(root, 'refused'), timing: 'local', snapshotEvery: snapshotEvery as number })).rejects.toBeInstanceOf(InvalidOptionsError);
  });
});
