// Five real nodes in child processes on loopback: three Raft voters (alpha, beta, gamma) and two
// learners (delta, epsilon). The cases run in order on one cluster, from the calls that need
// every node to the ones that kill nodes with SIGKILL.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, startChildCluster } from './support/child-cluster';
import type { ChildNode, Notice } from './support/child-cluster';

interface Hop {
  readonly node: string;
  readonly hops: number;
  readonly traceId: string | undefined;
  readonly correlationId: string | undefined;
}

interface Status {
  readonly raft: { readonly role: string; readonly leader: string | null; readonly voters: readonly string[]; readonly learners: readonly string[] };
}

const dataRoot = mkdtempSync(join(tmpdir(), 'foundation-cluster-'));
let nodes: ChildNode[] = [];
let alpha: ChildNode, beta: ChildNode, gamma: ChildNode, delta: ChildNode, epsilon: ChildNode;

beforeAll(async () => {
  nodes = await startChildCluster({ names: ['alpha', 'beta', 'gamma', 'delta', 'epsilon'], voters: 3, dataRoot });
  [alpha, beta, gamma, delta, epsilon] = nodes as [ChildNode, ChildNode, ChildNode, ChildNode, ChildNode];
  // Ready means each node runs: membership joined, the learners added to Raft.
  await eventually(() => alpha.call<Status>('status'), (status) => status.raft.learners.length === 2, 'both learners in the Raft group');
  await Promise.all(nodes.map((node) => eventually(() => node.call<string[]>('lookup', 'foundation.node'), (found) => found.length === 5, `${node.id} to see all five nodes`)));
}, 120_000);

afterAll(async () => {
  await Promise.all(nodes.map((node) => node.stop()));
  rmSync(dataRoot, { recursive: true, force: true });
}, 60_000);

const living = (): ChildNode[] => nodes.filter((node) => node.alive);

describe('a five-node cluster in child processes', () => {
  it('applies cluster-wide config on every node, and reads it linearizably from any', async () => {
    // From a learner: the command is forwarded to the leader.
    await delta.call('set-cluster-wide', 'limits.rate', 42);
    for (const node of nodes) expect(await node.call('get-with-consensus', 'limits.rate')).toBe(42);
    for (const node of nodes) await eventually(() => node.call('config-get', 'limits.rate'), (value) => value === 42, `${node.id} to apply limits.rate`);
  });

  it('delivers distributed events to subscribers on other nodes with their correlation id', async () => {
    await beta.call('subscribe', 'order.placed');
    await epsilon.call('subscribe', 'order.placed');
    const correlationId = await gamma.call<string>('emit', 'order.placed', { order: 7 });
    const received = await Promise.all(
      [beta, epsilon].map((node) => node.notice((notice) => notice.event === 'cluster-event' && notice.type === 'order.placed', `the event on ${node.id}`)),
    );
    for (const notice of received) expect(notice).toMatchObject({ data: { order: 7 }, from: gamma.id, correlationId });
  });

  it('merges every node’s metrics: counters add, latency sketches merge', async () => {
    await Promise.all(nodes.map((node, index) => node.call('record', index + 1, [index + 1, 100 * (index + 1)])));
    const merged = await alpha.call<{ requests: number; latency: { count: number; min: number; max: number } }>('cluster-metrics');
    expect(merged.requests).toBe(1 + 2 + 3 + 4 + 5);
    expect(merged.latency.count).toBe(10);
    expect(merged.latency.min).toBe(1);
    expect(merged.latency.max).toBe(500);
  });

  it('registers a global name through Raft and resolves it on every node', async () => {
    await beta.call('register-global', 'billing.leader');
    for (const node of nodes) expect(await node.call('lookup-global', 'billing.leader')).toBe(beta.id);
  });

  it('carries one request’s context across three nodes: hops 0, 1, 2 and one trace id', async () => {
    const onBeta = await alpha.call<string>('spawn-on', beta.id, 'relay');
    const onGamma = await alpha.call<string>('spawn-on', gamma.id, 'relay');
    // Two requests at once: the relays are busy with one while the other waits in their
    // mailboxes, and each must still be handled in its own context.
    const traces = ['a1b2c3d4e5f60718293a4b5c6d7e8f90', '0f1e2d3c4b5a69788796a5b4c3d2e1f0'];
    const paths = await Promise.all(traces.map((trace) => alpha.call<Hop[]>('traced-call', [onBeta, onGamma], trace)));
    paths.forEach((path, index) => {
      expect(path.map((hop) => [hop.node, hop.hops])).toEqual([
        [alpha.id, 0],
        [beta.id, 1],
        [gamma.id, 2],
      ]);
      expect(path.map((hop) => hop.traceId)).toEqual([traces[index], traces[index], traces[index]]);
      expect(path[0]!.correlationId).toBeDefined();
      expect(new Set(path.map((hop) => hop.correlationId)).size).toBe(1);
    });
    expect(paths[0]![0]!.correlationId).not.toBe(paths[1]![0]!.correlationId);
  });

  it('moves the singleton when its node is SIGKILLed, and a remote monitor of that node fires noconnection', async () => {
    // The candidates are the learners, so killing the holder leaves Raft's voters whole.
    await delta.call('singleton', 'report-job');
    await epsilon.call('singleton', 'report-job');
    const isStarted = (notice: Notice): boolean => notice.event === 'singleton-started';
    const first = await Promise.any([delta, epsilon].map((node) => node.notice(isStarted, 'the singleton to start')));
    const holder = first.node === delta.id ? delta : epsilon;
    const other = holder === delta ? epsilon : delta;
    expect(await holder.call('singleton-here', 'report-job')).toBe(true);
    expect(await other.call('singleton-here', 'report-job')).toBe(false);

    const watched = await alpha.call<string>('spawn-on', holder.id, 'idle');
    await alpha.call('monitor', watched);
    await holder.kill();

    const down = await alpha.notice((notice) => notice.event === 'down' && notice.pid === watched, 'the monitor to fire');
    expect(down.reason).toBe('noconnection');
    const moved = await other.notice(isStarted, 'the singleton to move', 30_000);
    expect(moved.node).toBe(other.id);
    expect(moved.token as number).toBeGreaterThan(first.token as number);
    expect(await other.call('singleton-here', 'report-job')).toBe(true);
  }, 60_000);

  it('keeps a cluster-wide value through the loss of a minority of voters, leader included', async () => {
    await alpha.call('set-cluster-wide', 'limits.rate', 99);
    const status = await alpha.call<Status>('status');
    const leader = nodes.find((node) => node.id === status.raft.leader)!;
    await leader.kill();
    for (const node of living()) {
      expect(await eventually(() => node.call('get-with-consensus', 'limits.rate'), (value) => value === 99, `${node.id} to read 99 after the loss`)).toBe(99);
    }
    // The remaining majority still decides.
    const survivor = living()[0]!;
    await eventually(() => survivor.call('set-cluster-wide', 'limits.rate', 100).then(() => true), (done) => done, 'a write after the loss');
    for (const node of living()) expect(await node.call('get-with-consensus', 'limits.rate')).toBe(100);
  }, 60_000);
});
