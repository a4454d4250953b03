// npm run bench -w @foundation/raft
// Three node processes on loopback, file storage with fsync on every batch. Measures committed
// writes/s at 1, 64 and 256 concurrent clients, commit latency at half the 256-client rate,
// linearizable reads/s, failover time after SIGKILL of the leader, and the catch-up of a node
// that needs a 100 MB snapshot. The in-run baseline is the raw fsync rate of the same disk: one
// fsync per write is the ceiling a Raft without group commit would hit.
import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, openSync, closeSync, fdatasyncSync, writeSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { percentile } from '../../../tooling/scripts/bench';
import { ProcessCluster } from '../src/internal/process-cluster';
import type { Reply } from '../src/internal/process-cluster';

const nodeMain = resolve('.bench-build', 'node-main.mjs');
mkdirSync(resolve('.bench-build'), { recursive: true });
await build({
  entryPoints: [resolve('src/internal/node-main.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: nodeMain,
  logLevel: 'warning',
  plugins: [
    {
      name: 'workspace-sources',
      setup(pluginBuild) {
        pluginBuild.onResolve({ filter: /^[^./]/ }, (args) => {
          const match = /^@foundation\/([a-z0-9-]+)$/.exec(args.path);
          if (match) return { path: resolve('..', match[1]!, 'src', 'index.ts') };
          return { path: args.path, external: true };
        });
      },
    },
  ],
});


function rawFsyncPerSecond(): number {
  const directory = mkdtempSync(join(tmpdir(), 'raft-fsync-'));
  const fd = openSync(join(directory, 'probe'), 'w');
  const record = Buffer.alloc(64, 1);
  const start = performance.now();
  let count = 0;
  while (performance.now() - start < 2000) {
    writeSync(fd, record);
    fdatasyncSync(fd);
    count += 1;
  }
  closeSync(fd);
  rmSync(directory, { recursive: true, force: true });
  return count / ((performance.now() - start) / 1000);
}

async function leaderOf(cluster: ProcessCluster): Promise<string> {
  for (let attempt = 0; attempt < 500; attempt += 1) {
    const leader = await cluster.leader();
    if (leader !== null) return leader;
    await new Promise((done) => setTimeout(done, 10));
  }
  throw new Error('no leader');
}

/** Closed loop: `clients` concurrent writers for `ms`; returns writes/s and latencies. */
async function closedLoop(cluster: ProcessCluster, clients: number, ms: number, op: 'put' | 'get'): Promise<{ perSecond: number; latencies: number[]; errors: number }> {
  const leader = await leaderOf(cluster);
  const client = cluster.nodes.get(leader)!.client;
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + ms;
  let sequence = 0;
  const worker = async (slot: number): Promise<void> => {
    while (performance.now() < deadline) {
      const started = performance.now();
      const key = `k${slot}-${sequence++ % 100}`;
      const reply: Reply = await client.request(op === 'put' ? { op, key, value: sequence } : { op, key }, 10_000);
      if (reply.ok) latencies.push(performance.now() - started);
      else errors += 1;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: clients }, (_, slot) => worker(slot)));
  return { perSecond: latencies.length / ((performance.now() - started) / 1000), latencies: latencies.sort((a, b) => a - b), errors };
}

/**
 * Open loop at a fixed rate: latencies without coordinated omission. Also returns how late each
 * request left this process against its schedule: that part of a latency is the generator's
 * (this process waiting for a core), not the cluster's, though it is charged in full.
 */
async function openLoop(cluster: ProcessCluster, rate: number, ms: number): Promise<{ latencies: number[]; lateness: number[] }> {
  const leader = await leaderOf(cluster);
  const client = cluster.nodes.get(leader)!.client;
  // Figures go to arrays made once and nothing is kept per request but its promise until it is
  // answered: an array of every request's promise, and a timer each in the client, made this
  // process's collections take 10–20 ms at 16,000 writes/s, and each one held up every request
  // in flight (the slowest 1% came in the windows of those collections).
  const capacity = Math.ceil((rate * ms) / 1000) + 1;
  const latencies = new Float64Array(capacity);
  const lateness = new Float64Array(capacity);
  let answered = 0;
  let outstanding = 0;
  let drained: (() => void) | null = null;
  const start = performance.now();
  let sent = 0;
  while (performance.now() - start < ms) {
    // Request k is due at start + k/rate: every request whose time has come leaves now (the
    // count of those is one more than the whole periods elapsed, request 0 being due at once).
    const due = Math.min(capacity, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
    for (; sent < due; sent += 1) {
      const scheduled = start + (sent / rate) * 1000;
      lateness[sent] = performance.now() - scheduled;
      outstanding += 1;
      void client.request({ op: 'put', key: `open-${sent % 1000}`, value: sent }, 10_000).then((reply) => {
        if (reply.ok) latencies[answered++] = performance.now() - scheduled;
        outstanding -= 1;
        if (outstanding === 0) drained?.();
      });
    }
    // A 1 ms timer between batches, not setImmediate: spinning would keep one of this
    // machine's two cores busy in the load generator, away from the three nodes it measures.
    // Latency counts from each request's scheduled time, so a late tick is charged in full.
    await new Promise((done) => setTimeout(done, 1));
  }
  if (outstanding > 0) await new Promise<void>((done) => (drained = done));
  return { latencies: [...latencies.subarray(0, answered)].sort((a, b) => a - b), lateness: [...lateness.subarray(0, sent)].sort((a, b) => a - b) };
}

/**
 * Waits until `node` (just restarted) has applied everything `leader` had committed, so the
 * next failover starts from a healthy cluster rather than one whose third node is still
 * replaying its log or installing a snapshot.
 */
async function caughtUp(cluster: ProcessCluster, node: string, leader: string): Promise<void> {
  const target = (await cluster.status(leader))?.commit ?? 0;
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    const status = await cluster.status(node);
    if (status !== null && status.applied >= target) return;
    await new Promise((done) => setTimeout(done, 20));
  }
  throw new Error(`${node} did not catch up within 30 s after its restart`);
}

async function failover(cluster: ProcessCluster): Promise<number> {
  const leader = await leaderOf(cluster);
  await cluster.nodes.get(leader)!.client.request({ op: 'put', key: 'before-failover', value: 1 });
  const others = [...cluster.nodes.keys()].filter((id) => id !== leader);
  const killed = performance.now();
  await cluster.kill(leader);
  for (;;) {
    for (const id of others) {
      const reply = await cluster.nodes.get(id)!.client.request({ op: 'put', key: 'after-failover', value: 2 }, 1000);
      if (reply.ok) {
        const elapsed = performance.now() - killed;
        await cluster.launch(leader);
        await caughtUp(cluster, leader, id);
        return elapsed;
      }
    }
  }
}

async function snapshotCatchUp(megabytes: number): Promise<{ ms: number; installed: number }> {
  const cluster = await ProcessCluster.start({ ids: ['n1', 'n2', 'n3'], entry: [nodeMain], snapshotEvery: 20 });
  try {
    const leader = await leaderOf(cluster);
    const lagging = [...cluster.nodes.keys()].find((id) => id !== leader)!;
    await cluster.kill(lagging);
    const value = 'x'.repeat(1024 * 1024);
    for (let index = 0; index < megabytes; index += 1) {
      const reply = await cluster.nodes.get(leader)!.client.request({ op: 'put', key: `big-${index}`, value }, 30_000);
      if (!reply.ok) throw new Error(`write failed: ${reply.message ?? ''}`);
    }
    const target = (await cluster.status(leader))!.commit;
    const started = performance.now();
    await cluster.launch(lagging);
    for (;;) {
      const status = await cluster.status(lagging);
      if (status !== null && status.applied >= target) return { ms: performance.now() - started, installed: status.stats.snapshotsInstalled };
      await new Promise((done) => setTimeout(done, 20));
    }
  } finally {
    await cluster.stop();
  }
}

// --only throughput|failover|catch-up runs one part (the others are left out of the table);
// --failovers N sets how many times the leader is killed (default 5); --no-fsync runs the
// nodes without fsync, to tell what the disk costs from what the processes themselves do.
const args = process.argv.slice(2);
const fsyncOn = !args.includes('--no-fsync');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const runs = (part: string): boolean => only === undefined || only === part;
const failoverRounds = args.includes('--failovers') ? Number(args[args.indexOf('--failovers') + 1]) : 5;
const fsyncs = rawFsyncPerSecond();
const cluster = await ProcessCluster.start({ ids: ['n1', 'n2', 'n3'], entry: [nodeMain], sync: fsyncOn });
const rows: [string, string][] = [];
const metrics: Record<string, number> = { raw_fsync_per_s: Math.round(fsyncs), fsync: fsyncOn ? 1 : 0 };
if (!fsyncOn) console.log('fsync off: the nodes do not sync their logs (not a durable configuration)');
try {
  await leaderOf(cluster);
  if (runs('throughput')) {
    await closedLoop(cluster, 16, 1000, 'put');
    for (const clients of [1, 64, 256]) {
      const result = await closedLoop(cluster, clients, 4000, 'put');
      rows.push([`writes, ${clients} clients`, `${Math.round(result.perSecond).toLocaleString('en-US')}/s  p50 ${percentile(result.latencies, 0.5).toFixed(2)} ms  p99 ${percentile(result.latencies, 0.99).toFixed(2)} ms${result.errors > 0 ? `  (${result.errors} errors)` : ''}`]);
      metrics[`writes_${clients}_clients_per_s`] = Math.round(result.perSecond);
    }
    const half = Math.round((metrics.writes_256_clients_per_s ?? 0) / 2);
    const { latencies: open, lateness } = await openLoop(cluster, half, 4000);
    rows.push([`commit latency at ${half.toLocaleString('en-US')} writes/s (open loop)`, `p50 ${percentile(open, 0.5).toFixed(2)} ms  p99 ${percentile(open, 0.99).toFixed(2)} ms  max ${percentile(open, 1).toFixed(2)} ms`]);
    rows.push(['  the generator\'s own lateness (sending behind schedule)', `p50 ${percentile(lateness, 0.5).toFixed(2)} ms  p99 ${percentile(lateness, 0.99).toFixed(2)} ms  max ${percentile(lateness, 1).toFixed(2)} ms`]);
    metrics.commit_latency_p50_ms = Number(percentile(open, 0.5).toFixed(3));
    metrics.commit_latency_p99_ms = Number(percentile(open, 0.99).toFixed(3));
    metrics.generator_lateness_p99_ms = Number(percentile(lateness, 0.99).toFixed(3));
    const reads = await closedLoop(cluster, 64, 3000, 'get');
    rows.push(['linearizable reads, 64 clients', `${Math.round(reads.perSecond).toLocaleString('en-US')}/s  p50 ${percentile(reads.latencies, 0.5).toFixed(2)} ms  p99 ${percentile(reads.latencies, 0.99).toFixed(2)} ms`]);
    metrics.reads_64_clients_per_s = Math.round(reads.perSecond);
  }
  if (runs('failover')) {
    const failovers: number[] = [];
    for (let round = 0; round < failoverRounds; round += 1) failovers.push(await failover(cluster));
    failovers.sort((a, b) => a - b);
    rows.push([`failover after SIGKILL of the leader (${failoverRounds} runs)`, `median ${percentile(failovers, 0.5).toFixed(0)} ms  max ${percentile(failovers, 1).toFixed(0)} ms  (${failovers.map((ms) => ms.toFixed(0)).join(', ')})`]);
    metrics.failover_median_ms = Math.round(percentile(failovers, 0.5));
    metrics.failover_max_ms = Math.round(percentile(failovers, 1));
  }
} finally {
  await cluster.stop();
}
if (runs('catch-up')) {
  const catchUp = await snapshotCatchUp(100);
  rows.push(['catch-up of a node needing a 100 MB snapshot', `${(catchUp.ms / 1000).toFixed(2)} s (${catchUp.installed} snapshot installed)`]);
  metrics.snapshot_catch_up_100mb_ms = Math.round(catchUp.ms);
}
rows.push(['raw fsync on this disk (baseline)', `${Math.round(fsyncs).toLocaleString('en-US')}/s`]);

const width = Math.max(...rows.map(([name]) => name.length));
for (const [name, value] of rows) console.log(`${name.padEnd(width)}  ${value}`);
console.log(JSON.stringify({ bench: 'raft', node: process.version, metrics }));
