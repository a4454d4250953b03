// Cluster metrics ask the same nodes as the cluster status. Found in review: `clusterStatus`
// asked the nodes in the registry and the membership's members, `getClusterMetrics` only those in
// the registry, so a node linked but not yet registered (a learner still joining registers only
// once it has caught up) was counted in the status and left out of the metrics. Two nodes in this
// process: a voter and a learner taken out of the registry, which stands in for one not yet in it.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode } from '../src/index';
import type { FoundationNode } from '../src/index';
import { freePort } from '../src/options';
import { until } from './support/loopback';

const root = mkdtempSync(join(tmpdir(), 'foundation-cluster-metrics-'));
const nodes: FoundationNode[] = [];
afterAll(async () => {
  for (const node of nodes.reverse()) await node.stop().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

describe('cluster metrics', () => {
  it('ask a node the membership links but the registry does not list, as the cluster status does', async () => {
    const secret = 'a-test-secret-of-enough-bytes';
    const names = ['voter', 'learner'];
    const ids = await Promise.all(names.map(async (name) => `${name}@127.0.0.1:${await freePort('127.0.0.1')}`));
    const start = (index: number): Promise<FoundationNode> =>
      startNode({ name: ids[index]!, secret, voters: [ids[0]!], seeds: index === 0 ? [] : [ids[0]!], timing: 'local', dataDir: join(root, names[index]!) });
    const voter = await start(0);
    nodes.push(voter);
    const learner = await start(1);
    nodes.push(learner);

    learner.registry.unregister('foundation.node');
    const registered = (): string[] => voter.registry.lookupAll('foundation.node').map((instance) => instance.node);
    await until('the learner linked but not registered', () => !registered().includes(learner.id) && voter.membership.members().includes(learner.id), 15_000);

    const statuses = await voter.clusterStatus();
    expect(statuses.map((entry) => entry.node).sort()).toEqual([...ids].sort());
    learner.telemetry.emitCounter(['test', 'learner', 'only']);
    const merged = await voter.telemetry.getClusterMetrics();
    const counted = merged.metrics.find((metric) => metric.name === 'test.learner.only');
    expect(counted?.series).toEqual([expect.objectContaining({ value: 1 })]);
  }, 60_000);
});
