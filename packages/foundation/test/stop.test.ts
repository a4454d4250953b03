// What a node says of itself once stop() is called: not available, and not healthy, so that a
// health check stops sending it work while it shuts down and after. And what stop() does when
// one of its steps fails: the others still run, so nothing is left holding a port or a lock.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSystemClock, lockDirectory } from '@foundation/core';
import { EventStoreClosedError } from '@foundation/events';
import { countTimers } from '@foundation/testkit';
import { startNode } from '../src/index';
import { closeSegmentUnder, holdDescriptors } from './support/full-disk';
import { accepts } from './support/loopback';

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

  it('answers clusterStatus() and getClusterMetrics() once stopped, with itself alone: its closed registry is not asked', async () => {
    const node = await startNode({ dataDir: join(root, 'cluster-status'), timing: 'local' });
    await node.stop();
    // Both asked the registry which nodes to ask, and a closed registry throws (5605): a
    // dashboard or CLI that polled a stopping node got RegistryClosedError instead of an answer.
    const cluster = await node.clusterStatus({ timeoutMs: 100 });
    expect(cluster).toEqual([{ node: node.id, status: expect.objectContaining({ id: node.id, services: 0 }) }]);
    await expect(node.telemetry.getClusterMetrics({ timeoutMs: 100 })).resolves.toBeDefined();
  });

  it('refuses spawnWhere() once stopped as it refuses spawnOn(): RuntimeStoppedError (5708), not the error of its closed registry', async () => {
    const node = await startNode({ dataDir: join(root, 'spawn-where'), timing: 'local' });
    node.defineBehavior('idle', { handleMessage: () => undefined });
    await node.stop();
    const refused = { code: 5708, type: 'runtime_stopped', context: { nodeId: node.id, operation: 'spawn' } };
    await expect(node.spawnOn(node.id, 'idle')).rejects.toMatchObject(refused);
    // The registry, closed by stop(), answered first: RegistryClosedError (5605), which no other
    // call of a stopped node gives.
    await expect(node.spawnWhere({ capabilities: ['foundation-node'] }, 'idle')).rejects.toMatchObject(refused);
  });

  it('refuses singleton() from stop() on, as it refuses spawns, and starts no competition for its lock', async () => {
    const { clock, pending } = countTimers(createSystemClock({ keepAlive: false }));
    const node = await startNode({ dataDir: join(root, 'singleton'), timing: 'local', clock });
    const options = { name: 'late', behavior: { handleMessage: () => undefined }, leaseMs: 300 };
    const attempt = (): unknown => {
      try {
        return node.singleton(options);
      } catch (error) {
        return error;
      }
    };
    const refused = { code: 5708, type: 'runtime_stopped', context: { nodeId: node.id, operation: 'spawn' } };
    const stopping = node.stop();
    // Made after stop() had taken the singletons to stop: nothing would ever have stopped it.
    const whileStopping = attempt();
    await stopping;
    const timersBefore = pending();
    const afterStop = attempt();
    // Let a competition started by the call reach its first wait.
    await new Promise((resolve) => setImmediate(resolve));
    // It tried the stopped Raft for the lock (StoppedError, 6013) every renewal period, for as
    // long as the process lived.
    expect(pending()).toBe(timersBefore);
    expect(whileStopping).toMatchObject(refused);
    expect(afterStop).toMatchObject(refused);
  });

  it('runs every step when one fails, then rejects with NodeStopError (6109) naming it; a second stop() gives the same outcome', async () => {
    const dataDir = join(root, 'failing-step');
    // Descriptors held from before the node opens its log until it is closed behind Raft's back:
    // whatever opens before Raft's own close then takes one of these lower numbers, not the log's.
    const giveBack = holdDescriptors(16);
    const node = await startNode({ dataDir, timing: 'local' }).catch((error: unknown) => {
      giveBack();
      throw error;
    });
    await node.kv.put('before', 1);
    const port = Number(new URL(node.url).port);
    // Raft's close of its log fails (EBADF): stop() ended there, and the node kept its port,
    // its event store and its data directory for as long as the process lived.
    closeSegmentUnder(dataDir);
    giveBack();
    const outcome = await node.stop().then(
      () => null,
      (error: unknown) => error,
    );
    expect(await accepts(port)).toBe(false);
    expect(() => node.events.emit('after-stop', {})).toThrow(EventStoreClosedError);
    const lock = await lockDirectory(dataDir, () => new Error(`${dataDir} is still locked`));
    await lock.release();
    expect(outcome).toMatchObject({ code: 6109, type: 'node_stop_failed', context: { node: node.id, steps: ['consensus'] } });
    const failure = outcome as { failures: { step: string; error: unknown }[]; cause: unknown };
    // EBADF from Raft's close of its log, or from a write of the stop itself (the registry's
    // departure), which failed Raft first: whichever came first, it is the consensus step's.
    expect(failure.failures.map((each) => each.step)).toEqual(['consensus']);
    const error = failure.failures[0]!.error as { code?: unknown; cause?: { code?: unknown } };
    expect([error.code, error.cause?.code]).toContain('EBADF');
    expect(failure.cause).toBe(failure.failures[0]!.error);
    await expect(node.stop()).rejects.toBe(outcome);
  });

  it('counts a Raft failure under a write made while it stops as the consensus step failing', async () => {
    const dataDir = join(root, 'failing-write');
    const giveBack = holdDescriptors(16); // as in the test before
    const node = await startNode({ dataDir, timing: 'local' }).catch((error: unknown) => {
      giveBack();
      throw error;
    });
    await node.kv.put('before', 1);
    closeSegmentUnder(dataDir);
    giveBack();
    // The write fails Raft (EBADF), which then stops itself: its stop() resolved, and so did the
    // node's, as if nothing had gone wrong.
    const write = node.kv.put('during', 2).then(
      () => null,
      (error: unknown) => error,
    );
    const outcome = await node.stop().then(
      () => null,
      (error: unknown) => error,
    );
    expect(await write).toMatchObject({ code: 6013 });
    expect(outcome).toMatchObject({ code: 6109, context: { steps: ['consensus'] } });
    expect((outcome as { failures: { error: { cause?: unknown } }[] }).failures[0]!.error.cause).toMatchObject({ code: 'EBADF' });
  });
});
