// What a node says of itself once stop() is called: not available, and not healthy, so that a
// health check stops sending it work while it shuts down and after.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode } from '../src/index';

const root = mkdtempSync(join(tmpdir(), 'foundation-stop-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a node that stops', () => {
  it('is degraded with every service down from the moment stop() is called', async () => {
    const node = await startNode({ dataDir: join(root, 'health'), timing: 'local' });
    await node.kv.put('before', 1);
    expect(node.health().status).toBe('healthy');
    const stopping = node.stop();
    const down = { status: 'degraded', services: { transport: 'down', membership: 'down', consensus: 'down', runtime: 'down', registry: 'down', config: 'down', events: 'down' } };
    expect(node.available()).toBe(false);
    expect(node.health()).toMatchObject(down);
    await stopping;
    // It went on saying healthy, every service up, after its port and Raft were closed.
    expect(node.health()).toMatchObject(down);
  });

  it('still answers status() once stopped, with no services: its registry is closed and refuses queries', async () => {
    const node = await startNode({ dataDir: join(root, 'status'), timing: 'local' });
    expect(node.status().services).toBe(1);
    await node.stop();
    expect(() => node.registry.listServices()).toThrow(expect.objectContaining({ code: 5605 }));
    expect(node.status()).toMatchObject({ id: node.id, services: 0 });
  });
});
