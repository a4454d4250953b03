// Client-server over real sockets: 24 nodes in 3 processes on loopback over @foundation/channels,
// pinned to client-server from the start. The size estimates elect a few servers, every client
// attaches to servers, and broadcasts reach every node; then the process holding the most
// servers is killed with SIGKILL, and the rest re-converge with every broadcast delivered.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { bundleEntry } from './support/bundle';
import type { Bundle } from './support/bundle';
import { eventually, everyoneDelivers, liveOverlay, startSocketCluster } from './support/socket-cluster';
import type { SocketCluster } from './support/socket-cluster';
import type { NodeStatus } from './support/socket-node';

const PROCESSES = 3;
const NODES_PER_PROCESS = 8;

let cluster: SocketCluster | undefined;
let bundle: Bundle | undefined;

beforeAll(async () => {
  bundle = await bundleEntry(join(__dirname, 'support', 'socket-node.ts'), join(__dirname, '..'));
  cluster = await startSocketCluster({
    processes: PROCESSES,
    nodesPerProcess: NODES_PER_PROCESS,
    entry: [bundle.file],
    cwd: join(__dirname, '..'),
    heartbeatIntervalMs: 500,
    heartbeatTimeoutMs: 3_000,
    topology: 'client-server',
  });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  bundle?.remove();
}, 30_000);

/** One component of symmetric links among the live nodes, each client linked to servers only and to at least one. */
function settled(statuses: Map<string, NodeStatus>, live: Set<string>): boolean {
  const overlay = liveOverlay(statuses, live);
  if (overlay.components !== 1 || overlay.symmetry !== 1 || overlay.deadReferences !== 0 || overlay.emptyViews !== 0 || overlay.nodes !== live.size) return false;
  const role = (id: string): string | undefined => statuses.get(id)?.role;
  return [...live].every((id) => role(id) === 'server' || (role(id) === 'client' && statuses.get(id)!.active.every((peer) => role(peer) === 'server')));
}

const servers = (statuses: Map<string, NodeStatus>): string[] => [...statuses].filter(([, status]) => status.role === 'server').map(([id]) => id);

/** Settled, with the servers the size estimates elect: ceil(√n) within the election's margins, and at least minServers (3). */
function elected(statuses: Map<string, NodeStatus>, live: Set<string>): boolean {
  const count = servers(statuses).length;
  return settled(statuses, live) && count >= 3 && count <= 2 * Math.ceil(Math.sqrt(live.size)) + 2;
}

async function converged(live: Set<string>, timeoutMs: number): Promise<Map<string, NodeStatus>> {
  return eventually(() => cluster!.status(), (statuses) => elected(statuses, live), timeoutMs);
}

describe('24 nodes pinned to client-server over real sockets in 3 processes', () => {
  it('elect a few servers that every client attaches to; after SIGKILL of the process with the most servers the rest re-converge and broadcasts reach every live node', async () => {
    const all = new Set(cluster!.ids);
    const first = cluster!.ids[0]!;
    cluster!.start((id, index) => (index === 0 ? [] : [cluster!.ids[Math.min(index - 1, 2)]!, first]));
    // The first node, without seeds, is the first server; the size estimates then elect the others.
    const formed = await converged(all, 60_000);
    const serving = servers(formed);
    expect({ elected: elected(formed, all), servers: serving, overlay: liveOverlay(formed, all) }).toMatchObject({ elected: true, overlay: { nodes: 24, components: 1 } });
    expect(await everyoneDelivers(cluster!, [first, 'p2-n5'], all, 10_000)).toEqual([]);

    const perProcess = Array.from({ length: PROCESSES }, (_, index) => serving.filter((id) => id.startsWith(`p${index}-`)).length);
    const victim = perProcess.indexOf(Math.max(...perProcess));
    cluster!.kill(victim);
    const live = new Set(cluster!.liveIds());
    expect(live.size).toBe(16);
    const healed = await converged(live, 60_000);
    expect({ victim, killedServers: perProcess[victim], elected: elected(healed, live), overlay: liveOverlay(healed, live) }).toMatchObject({
      victim,
      killedServers: perProcess[victim],
      elected: true,
      overlay: { nodes: 16, components: 1 },
    });
    const senders = [...live].filter((_, index) => index % 5 === 0);
    expect(await everyoneDelivers(cluster!, senders, live, 10_000)).toEqual([]);
  }, 150_000);
});
