import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { EVENTS_TOPIC } from '@foundation/events';
import { startNode } from '../src/index';
import type { FoundationNode } from '../src/index';

const root = mkdtempSync(join(tmpdir(), 'foundation-'));
const nodes: FoundationNode[] = [];
afterAll(async () => {
  for (const node of nodes.reverse()) await node.stop().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function until(predicate: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt += 1) {
    if (await predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('startNode', () => {
  it('runs alone with no options', async () => {
    const node = await startNode({ dataDir: join(root, 'solo'), timing: 'local' });
    nodes.push(node);
    expect(node.id).toMatch(/^node-[0-9a-f]{6}@127\.0\.0\.1:\d+$/);
    await until(() => node.status().raft.role === 'leader', 'the node to lead itself');
    await node.kv.put('greeting', 'hello');
    expect(await node.kv.get('greeting')).toBe('hello');
    expect(node.health().status).toBe('healthy');
  });

  it('leaves no port bound when its options are refused, never echoes a secret, and listens where its id says (review findings)', async () => {
    const port = await freePort();
    // A bad topology or config defaults threw after the transport had bound the port.
    for (const bad of [{ topology: 'ring' as never }, { config: { defaults: 5 } as never }]) {
      await expect(startNode({ name: `bad@127.0.0.1:${port}`, dataDir: join(root, 'bad'), timing: 'local', ...bad })).rejects.toThrow();
      expect(await canListen(port)).toBe(true);
    }
    // A secret given as bytes (readFileSync without an encoding) was printed in the error.
    const secret = Buffer.from('a-secret-that-must-not-be-printed');
    const refusal = (await startNode({ secret: secret as never, dataDir: join(root, 'secret') }).catch((error: unknown) => error)) as Error;
    expect(refusal.message).not.toContain('115');
    expect(refusal.message).toContain('bytes');
    // The id's host is where it listens (it listened on 127.0.0.1 whatever the id said).
    const far = await startNode({ name: `far@127.0.0.2:${port}`, dataDir: join(root, 'far'), timing: 'local' });
    nodes.push(far);
    expect(far.url).toBe(`ws://127.0.0.2:${port}`);
    // A singleton lease with no usable time in it is refused instead of churning the log.
    expect(() => far.singleton({ name: 'spin', behavior: () => undefined, leaseMs: 1000, safetyMarginMs: 1000 } as never)).toThrow(/safetyMarginMs/);
  });

  it('reports a cluster-wide config command its config refuses as a node error in telemetry', async () => {
    // Review finding: such errors went only to a list of the last 100 that nothing read, and
    // whose errors kept what they referred to alive.
    const node = await startNode({ dataDir: join(root, 'refuses'), timing: 'local', config: { defaults: { limits: { rate: 10 } }, updatablePaths: ['limits'] } });
    nodes.push(node);
    await until(() => node.status().raft.role === 'leader', 'the node to lead itself');
    const heard: Record<string, unknown>[] = [];
    node.telemetry.attach('node-errors', ['foundation', 'node', 'error'], (_event, measurements, metadata) => heard.push({ ...measurements, ...metadata }));
    // As a node whose config allows `mode` would propose it: setClusterWide here refuses it first.
    await node.consensus.propose('config', { type: 'config-set', path: ['mode'], value: 'fast' });
    expect(heard).toEqual([expect.objectContaining({ count: 1, source: 'cluster-config', code: 1401, type: 'config_update_forbidden', error: expect.objectContaining({ code: 1401 }) })]);
    expect(node.telemetry.getMetrics()['foundation.node.error']).toMatchObject({ series: [{ value: 1 }] });
    expect(node.config.getWithDefault('mode', 'absent')).toBe('absent');
  });

  it('gives each start of a node a new creation, so a pid from before a restart reaches no process after it', async () => {
    // Review finding: startNode left the runtime's creation at 0. The node id is the same after
    // a restart and local ids start over, so an old pid named a new process.
    const port = await (await import('../src/options')).freePort('127.0.0.1');
    const options = { name: `restarted@127.0.0.1:${port}`, timing: 'local' as const, dataDir: join(root, 'restarted') };
    const first = await startNode(options);
    const behavior = { handleMessage: () => undefined };
    const old = first.runtime.spawn(behavior);
    await first.stop();
    const second = await startNode(options);
    nodes.push(second);
    const fresh = second.runtime.spawn(behavior);
    expect(fresh.node).toBe(old.node);
    expect(fresh.creation).not.toBe(old.creation);
    expect(second.runtime.isAlive(old)).toBe(false);
    expect(second.runtime.isAlive(fresh)).toBe(true);
  });

  it('three nodes share cluster-wide config, events, the key-value store and metrics', async () => {
    const secret = 'a-test-secret-of-enough-bytes';
    const names = ['alpha', 'beta', 'gamma'];
    const ports = await Promise.all(names.map(async () => (await import('../src/options')).freePort('127.0.0.1')));
    const ids = names.map((name, index) => `${name}@127.0.0.1:${ports[index]!}`);
    const cluster = await Promise.all(
      ids.map((id, index) =>
        startNode({
          name: id,
          secret,
          voters: ids,
          seeds: index === 0 ? [] : [ids[0]!],
          timing: 'local',
          dataDir: join(root, names[index]!),
          config: { defaults: { limits: { rate: 10 } }, updatablePaths: ['limits'] },
        }),
      ),
    );
    nodes.push(...cluster);
    const [alpha, beta, gamma] = cluster as [FoundationNode, FoundationNode, FoundationNode];
    await until(() => cluster.some((node) => node.status().raft.role === 'leader'), 'a leader');
    const seen: unknown[] = [];
    gamma.config.subscribe((change) => seen.push(change));
    await beta.config.setClusterWide('limits.rate', 42);
    expect(await gamma.config.getWithConsensus('limits.rate')).toBe(42);
    await until(() => alpha.config.get('limits.rate') === 42, 'alpha to apply the change');
    expect(seen.length).toBeGreaterThan(0);

    await alpha.kv.put('k', 1);
    expect(await gamma.kv.get('k')).toBe(1);
    expect(await beta.kv.compareAndSet('k', 1, 2)).toBe(true);
    expect(await alpha.kv.get('k')).toBe(2);

    const received: string[] = [];
    gamma.events.subscribeClusterWide({ type: 'order-placed' }, (event) => received.push(`${event.node}:${String((event.data as { id: number }).id)}`));
    await until(() => alpha.membership.members().length > 0 && gamma.membership.members().length > 0, 'membership links');
    alpha.events.emitDistributed('order-placed', { id: 7 });
    await until(() => received.length === 1, 'the event on gamma');
    expect(received).toEqual([`${alpha.id}:7`]);
    // An event that does not decode is a node error on the node that receives it.
    const errors: unknown[] = [];
    gamma.telemetry.attach('node-errors', ['foundation', 'node', 'error'], (_event, _measurements, metadata) => errors.push(metadata.source));
    alpha.membership.publish(EVENTS_TOPIC, 'not an event');
    await until(() => errors.length === 1, 'the undecodable event reported on gamma');
    expect(errors).toEqual(['cluster-events']);
    expect(received).toHaveLength(1);

    await until(() => alpha.registry.lookupAll('foundation.node').length === 3, 'all three nodes in the registry');
    const statuses = await alpha.clusterStatus();
    expect(statuses.map((entry) => entry.node).sort()).toEqual([...ids].sort());
    for (const entry of statuses) {
      expect('status' in entry && entry.status.id).toBe(entry.node);
      if ('status' in entry) expect(entry.status.channels.raft!.bytesSent).toBeGreaterThan(0);
    }
    alpha.telemetry.execute(['demo', 'tick'], { count: 1 }, {});
    const merged = await alpha.telemetry.getClusterMetrics();
    expect(merged).toBeDefined();
  }, 60_000);
});
