// npm run bench -w @foundation/membership-hyparview [-- --nodes 200 --processes 10 --shuffle-ms 10000 --shuffle-reply walk|direct]
// 200 HyParView nodes in 10 processes on loopback over @foundation/channels (real WebSocket
// connections, heartbeats every second, a shuffle every 10 s as in the `lan` preset):
// time to converge to one component of symmetric views,
// messages, bytes and CPU per node per second in steady state, broadcast delivery, then SIGKILL of
// 20% of the nodes (two processes) and the time to re-converge. The in-run baselines are the same
// 200 nodes and timings in @foundation/testkit's simulation, with HyParView and with a full mesh
// (what connecting every node to every other costs). Last line: one JSON object.
import { join } from 'node:path';
import { bundleEntry } from '../test/support/bundle';
import { eventually, liveOverlay, startSocketCluster } from '../test/support/socket-cluster';
import type { SocketCluster } from '../test/support/socket-cluster';
import type { NodeStatus } from '../test/support/socket-node';
import { createSimCluster } from '../src/internal/sim-cluster';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const index = argv.indexOf(`--${name}`);
  return index >= 0 ? Number(argv[index + 1]) : fallback;
};
const NODES = option('nodes', 200);
const PROCESSES = option('processes', 10);
const HEARTBEAT_MS = 1_000;
const HEARTBEAT_TIMEOUT_MS = 5_000;
// The `lan` preset's shuffle period. With `--shuffle-reply direct` (the paper's way) every shuffle's
// reply goes to its origin, mostly over a connection set up for it (3.6 to 4.9 ms of CPU for both
// ends here); with a shuffle every second, the 200 nodes set up about 250 such connections a
// second, which alone takes more than half of the machine's two cores, and joining then competes
// with it (see the README). `walk`, the presets' choice and the default here, sends replies back
// along the walk over connections that are open anyway.
const SHUFFLE_MS = option('shuffle-ms', 10_000);
const replyIndex = argv.indexOf('--shuffle-reply');
const SHUFFLE_REPLY: 'direct' | 'walk' = replyIndex >= 0 && argv[replyIndex + 1] === 'direct' ? 'direct' : 'walk';
/** The steady-state window: two shuffle periods, at least 10 s. */
const STEADY_MS = option('steady-ms', Math.max(10_000, 2 * SHUFFLE_MS));
// `npm run bench -w …` runs in the package directory.
const packageDir = process.cwd();

function sum(statuses: Map<string, NodeStatus>, field: 'sentMessages' | 'sentBytes' | 'acceptedConnections'): number {
  let total = 0;
  for (const status of statuses.values()) total += status[field];
  return total;
}

async function timeToConverge(cluster: SocketCluster, live: Set<string>, timeoutMs: number): Promise<{ ms: number; converged: boolean; components: number; emptyViews: number }> {
  const started = performance.now();
  const overlay = await eventually(
    async () => liveOverlay(await cluster.status(), live),
    (value) => value.components === 1 && value.symmetry === 1 && value.deadReferences === 0 && value.emptyViews === 0 && value.nodes === live.size,
    timeoutMs,
    200,
  );
  const converged = overlay.components === 1 && overlay.symmetry === 1 && overlay.deadReferences === 0 && overlay.emptyViews === 0;
  return { ms: performance.now() - started, converged, components: overlay.components, emptyViews: overlay.emptyViews };
}

/** Prints, for a cluster that did not converge, what each node without a neighbour knows. */
async function describeStragglers(cluster: SocketCluster, live: Set<string>): Promise<void> {
  const statuses = await cluster.status();
  for (const node of live) {
    const status = statuses.get(node);
    if (status?.cutOff === undefined) continue;
    const { counters, ...transport } = status.cutOff;
    console.log(`  ${node}: no neighbour; passive ${JSON.stringify(status.passive)}; ${Object.entries(counters).map(([key, value]) => `${key} ${value}`).join(', ')}`);
    console.log(`    transport: ${JSON.stringify(transport)}`);
  }
}

async function broadcastReach(cluster: SocketCluster, from: string, live: Set<string>, timeoutMs: number): Promise<{ ms: number; reached: number }> {
  const started = performance.now();
  const id = await cluster.broadcast(from, 256);
  const statuses = await eventually(
    () => cluster.status(),
    (status) => [...live].every((node) => status.get(node)?.delivered.includes(id) === true),
    timeoutMs,
    20,
  );
  const reached = [...live].filter((node) => statuses.get(node)?.delivered.includes(id) === true).length;
  return { ms: performance.now() - started, reached: reached / live.size };
}

/** The same nodes and timings in simulation: virtual time to converge, messages per node per second. */
function simulated(topology: 'hyparview' | 'full-mesh'): { convergeMs: number; messagesPerNodePerS: number; bytesPerNodePerS: number } {
  const cluster = createSimCluster({
    seed: 11,
    nodes: NODES,
    joinSpacingMs: 0,
    topology,
    seedsFor: (index, ids) => (index === 0 ? [] : [ids[0]!]),
    config: {
      hyparview: { shuffleIntervalMs: SHUFFLE_MS, shuffleReplyRoute: SHUFFLE_REPLY },
      failureDetection: { heartbeatIntervalMs: HEARTBEAT_MS, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS },
      fullMesh: { maxMembers: NODES },
    },
  });
  const sim = cluster.simulation;
  // Checked every CHECK_MS of virtual time, not after every event: measuring the overlay of
  // 200 nodes (a full mesh: 40,000 view entries) after each of millions of events is what
  // made this phase run for many minutes.
  const CHECK_MS = 50;
  const started = sim.now();
  const converged = (): boolean => {
    const overlay = cluster.overlay(10);
    return overlay.components === 1 && overlay.symmetry === 1 && overlay.nodes === NODES && (topology === 'hyparview' || overlay.inDegree.min === NODES - 1);
  };
  while (!converged() && sim.now() - started < 120_000) sim.runFor(CHECK_MS);
  const convergeMs = sim.now() - started;
  sim.runFor(5_000);
  const before = sim.network.stats();
  sim.runFor(STEADY_MS);
  const after = sim.network.stats();
  return {
    convergeMs,
    messagesPerNodePerS: (after.sent - before.sent) / NODES / (STEADY_MS / 1000),
    bytesPerNodePerS: (after.bytes - before.bytes) / NODES / (STEADY_MS / 1000),
  };
}

// The in-run baselines first: the socket cluster's processes would otherwise take the CPU from them.
const simHyParView = simulated('hyparview');
const simFullMesh = simulated('full-mesh');

const bundle = await bundleEntry(join(packageDir, 'test', 'support', 'socket-node.ts'), packageDir);
let cluster: SocketCluster | undefined;
try {
  console.log(`HyParView over @foundation/channels: ${NODES} nodes in ${PROCESSES} processes on loopback, a shuffle every ${SHUFFLE_MS} ms, replies ${SHUFFLE_REPLY === 'walk' ? 'back along the walk' : 'straight to the origin'} (node ${process.version})`);
  cluster = await startSocketCluster({
    processes: PROCESSES,
    nodesPerProcess: Math.ceil(NODES / PROCESSES),
    entry: [bundle.file],
    cwd: packageDir,
    heartbeatIntervalMs: HEARTBEAT_MS,
    heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
    shuffleIntervalMs: SHUFFLE_MS,
    shuffleReplyRoute: SHUFFLE_REPLY,
  });
  const ids = cluster.ids;
  const all = new Set(ids);
  // Every node joins through the first node, all at once.
  cluster.start((_id, index) => (index === 0 ? [] : [ids[0]!]));
  const formed = await timeToConverge(cluster, all, 60_000);
  console.log(`converged: ${formed.converged} after ${formed.ms.toFixed(0)} ms (${formed.components} components, ${formed.emptyViews} nodes without a neighbour)`);
  if (!formed.converged) await describeStragglers(cluster, all);

  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const before = await cluster.status();
  const cpuBefore = await cluster.cpuMicros();
  const windowStarted = performance.now();
  await new Promise((resolve) => setTimeout(resolve, STEADY_MS));
  const cpuAfter = await cluster.cpuMicros();
  const after = await cluster.status();
  const seconds = (performance.now() - windowStarted) / 1000;
  const messagesPerNodePerS = (sum(after, 'sentMessages') - sum(before, 'sentMessages')) / NODES / seconds;
  const bytesPerNodePerS = (sum(after, 'sentBytes') - sum(before, 'sentBytes')) / NODES / seconds;
  // What the overlay costs to keep up: CPU of the node processes (membership, transport, sockets,
  // and the benchmark's own status requests twice in the window), per node and second.
  const cpuMsPerNodePerS = (cpuAfter - cpuBefore) / 1000 / NODES / seconds;
  // Connections set up in the window, mostly for one message (a shuffle reply sent straight to
  // its origin, a NEIGHBOR request to a passive peer), over the whole cluster.
  const connectionsPerS = (sum(after, 'acceptedConnections') - sum(before, 'acceptedConnections')) / seconds;

  const reaches: { ms: number; reached: number }[] = [];
  for (let index = 0; index < 5; index += 1) reaches.push(await broadcastReach(cluster, ids[(index * 37) % ids.length]!, all, 10_000));

  const killed = Math.round(PROCESSES / 5);
  for (let index = 0; index < killed; index += 1) cluster.kill(PROCESSES - 1 - index);
  const live = new Set(cluster.liveIds());
  const healed = await timeToConverge(cluster, live, 60_000);
  console.log(`after SIGKILL of ${all.size - live.size} nodes: converged ${healed.converged} after ${healed.ms.toFixed(0)} ms`);
  if (!healed.converged) await describeStragglers(cluster, live);
  const afterKill: { ms: number; reached: number }[] = [];
  for (let index = 0; index < 3; index += 1) afterKill.push(await broadcastReach(cluster, [...live][(index * 41) % live.size]!, live, 10_000));

  const rows: [string, string, string][] = [
    ['measure', 'real sockets (HyParView)', 'simulation: HyParView | full mesh'],
    ['time to converge, all joining at once', `${formed.ms.toFixed(0)} ms`, `${simHyParView.convergeMs.toFixed(0)} ms | ${simFullMesh.convergeMs.toFixed(0)} ms (virtual, to 50 ms)`],
    ['messages sent per node per second, steady state', messagesPerNodePerS.toFixed(1), `${simHyParView.messagesPerNodePerS.toFixed(1)} | ${simFullMesh.messagesPerNodePerS.toFixed(1)}`],
    ['CPU per node, steady state (all node processes)', `${cpuMsPerNodePerS.toFixed(2)} ms/s`, ''],
    ['connections set up per second, steady state, whole cluster', connectionsPerS.toFixed(1), ''],
    ['bytes sent per node per second, steady state', bytesPerNodePerS.toFixed(0), `${simHyParView.bytesPerNodePerS.toFixed(0)} | ${simFullMesh.bytesPerNodePerS.toFixed(0)} (estimated sizes)`],
    ['broadcast to all nodes, max of 5', `${Math.max(...reaches.map((reach) => reach.ms)).toFixed(0)} ms, reached ${(Math.min(...reaches.map((reach) => reach.reached)) * 100).toFixed(0)}%`, ''],
    [`re-converge after SIGKILL of ${all.size - live.size} nodes`, `${healed.ms.toFixed(0)} ms`, ''],
    ['broadcast to all live nodes after, max of 3', `${Math.max(...afterKill.map((reach) => reach.ms)).toFixed(0)} ms, reached ${(Math.min(...afterKill.map((reach) => reach.reached)) * 100).toFixed(0)}%`, ''],
  ];
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  '));
  console.log(
    JSON.stringify({
      bench: 'membership-hyparview.sockets',
      node: process.version,
      metrics: {
        nodes: NODES,
        shuffle_interval_ms: SHUFFLE_MS,
        shuffle_reply_walk: SHUFFLE_REPLY === 'walk' ? 1 : 0,
        converge_ms: Math.round(formed.ms),
        converged: formed.converged ? 1 : 0,
        converge_components: formed.components,
        converge_empty_views: formed.emptyViews,
        messages_per_node_per_s: Number(messagesPerNodePerS.toFixed(2)),
        bytes_per_node_per_s: Math.round(bytesPerNodePerS),
        cpu_ms_per_node_per_s: Number(cpuMsPerNodePerS.toFixed(3)),
        connections_per_s: Number(connectionsPerS.toFixed(1)),
        broadcast_all_max_ms: Math.round(Math.max(...reaches.map((reach) => reach.ms))),
        broadcast_reach_min: Math.min(...reaches.map((reach) => reach.reached)),
        reconverge_after_kill_ms: Math.round(healed.ms),
        reconverged: healed.converged ? 1 : 0,
        broadcast_after_kill_max_ms: Math.round(Math.max(...afterKill.map((reach) => reach.ms))),
        broadcast_after_kill_reach_min: Math.min(...afterKill.map((reach) => reach.reached)),
        sim_hyparview_converge_ms: Math.round(simHyParView.convergeMs),
        sim_hyparview_messages_per_node_per_s: Number(simHyParView.messagesPerNodePerS.toFixed(2)),
        sim_full_mesh_converge_ms: Math.round(simFullMesh.convergeMs),
        sim_full_mesh_messages_per_node_per_s: Number(simFullMesh.messagesPerNodePerS.toFixed(2)),
      },
    }),
  );
} finally {
  await cluster?.stop();
  bundle.remove();
}
