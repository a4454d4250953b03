// A node whose config defaults do not validate without its file and environment cannot judge
// cluster-wide writes against them alone, and falls back to judging with its own config (see
// createClusterConfig). It reported that once, while startNode ran, before any handler could be
// attached: only the `foundation.node.error` count showed it (review finding). status() says it.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StandardSchemaV1 } from '@foundation/config';
import { startNode } from '../src/index';

const root = mkdtempSync(join(tmpdir(), 'foundation-config-judge-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Needs a `key` that only the environment gives. */
const schema = {
  '~standard': { version: 1, vendor: 'test', validate: (value: unknown) => (typeof (value as { key?: unknown }).key === 'string' ? { value } : { issues: [{ message: 'key needed', path: ['key'] }] }) },
} as StandardSchemaV1<unknown, unknown>;

describe('the judge of cluster-wide config writes, in status()', () => {
  it('is the node\'s own config, with why, when the defaults do not validate without the environment', async () => {
    const node = await startNode({
      dataDir: join(root, 'fallback'),
      timing: 'local',
      config: { defaults: { limits: { rate: 10 } }, schema, updatablePaths: ['limits'], sources: { environment: { prefix: 'NODE', variables: { NODE_KEY: 'secret' } } } } as never,
    });
    try {
      expect(node.status().configJudge).toEqual({ judge: 'node', code: 1201, message: expect.stringContaining('key needed') });
    } finally {
      await node.stop();
    }
  });

  it('is the cluster\'s when the defaults validate alone', async () => {
    const node = await startNode({ dataDir: join(root, 'rules'), timing: 'local', config: { defaults: { limits: { rate: 10 } }, updatablePaths: ['limits'] } });
    try {
      expect(node.status().configJudge).toEqual({ judge: 'cluster' });
    } finally {
      await node.stop();
    }
  });
});
