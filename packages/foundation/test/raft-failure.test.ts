// Raft stops by itself when its storage fails (a full disk): the node says so, as a node error
// and in health(), rather than carry on reporting a healthy leader that can no longer write.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode } from '../src/index';
import { fillDiskUnder } from './support/full-disk';
import { until } from './support/loopback';

const root = mkdtempSync(join(tmpdir(), 'foundation-raft-failure-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a Raft storage failure after start', () => {
  it('is a node error with source raft, health() shows consensus down and status() Raft failed', async () => {
    const dataDir = join(root, 'full');
    const node = await startNode({ dataDir, timing: 'local' });
    try {
      const reported: { source: unknown; code: unknown }[] = [];
      node.telemetry.attach('test', ['foundation', 'node', 'error'], (_event, _measurements, metadata) => {
        reported.push({ source: metadata.source, code: metadata.code });
      });
      await node.kv.put('before', 1);
      fillDiskUnder(dataDir);
      const outcome = await node.kv.put('after', 2).catch((error: unknown) => error);
      expect(outcome).toMatchObject({ code: 6013 });
      // Nothing was reported, and health() went on saying the node was healthy.
      await until('the failure to be reported', () => reported.length > 0);
      expect(reported).toEqual([{ source: 'raft', code: 2401 }]);
      expect(node.health()).toMatchObject({ status: 'degraded', services: { consensus: 'down' } });
      // status() went on naming this node the leader of a term it can no longer write in.
      expect(node.status().raft).toMatchObject({ role: 'failed', leader: null });
    } finally {
      await node.stop();
    }
  });
});
