// 50 nodes in 5 processes on loopback over @foundation/channels (real WebSocket connections):
// they form one component of symmetric active views; one process (20% of the nodes) is killed
// with SIGKILL; the rest re-converge and every broadcast reaches every live node.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { bundleEntry } from './support/bundle';
import type { Bundle } from './support/bundle';
import { eventually, everyoneDelivers, liveOverlay, startSocketCluster } from './support/socket-cluster';
import type { SocketCluster } from './support/socket-cluster';

const PROCESSES = 5;
const NODES_PER_PROCESS = 10;

let cluster: SocketCluster | undefined;
let bundle: Bundle | undefined;

beforeAll(async () => {
  // The child is bundled once (esbuild, sources of @foundation/*) rather than compiled by a
  // TypeScript loader in each of the five processes.
  bundle = await bundleEntry(join(__dirname, 'support', 'socket-node.ts'), join(__dirname, '..'));
  cluster = await startSocketCluster({
    processes: PROCESSES,
    nodesPerProcess: NODES_PER_PROCESS,
    entry: [bundle.file],
    cwd: join(__dirname, '..'),
    heartbeatIntervalMs: 500,
    heartbeatTimeoutMs: 3_000,
    shuffleIntervalMs: 1_000,
  });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  bundle?.remove();
}, 30_000);

async function converged(live: Set<string>, timeoutMs: number): Promise<ReturnType<typeof liveOverlay>> {
  return eventually(
    async () => liveOverlay(await cluster!.status(), live),
    (overlay) => overlay.components === 1 && overlay.symmetry === 1 && overlay.deadReferences === 0 && overlay.emptyViews === 0 && overlay.nodes === live.size,
    timeoutMs,
  );
}

describe('50 nodes over real sockets in 5 processes', () => {
  it('form one component with symmetric active views; after SIGKILL of 20% the rest re-converge and broadcasts reach every live node', async () => {
    const all = new Set(cluster!.ids);
    const first = cluster!.ids[0]!;
    cluster!.start((id, index) => (index === 0 ? [] : [cluster!.ids[Math.min(index - 1, 2)]!, first]));
    const formed = await converged(all, 30_000);
    expect(formed).toMatchObject({ nodes: 50, components: 1, symmetry: 1, deadReferences: 0, emptyViews: 0 });
    expect(await everyoneDelivers(cluster!, [first, 'p3-n5'], all, 10_000)).toEqual([]);

    cluster!.kill(PROCESSES - 1);
    const live = new Set(cluster!.liveIds());
    expect(live.size).toBe(40);
    const healed = await converged(live, 30_000);
    expect(healed).toMatchObject({ nodes: 40, components: 1, symmetry: 1, deadReferences: 0, emptyViews: 0 });
    expect(await everyoneDelivers(cluster!, ['p0-n1', 'p2-n7', 'p3-n9'], live, 10_000)).toEqual([]);
  }, 90_000);
});
