// The HyParView paper's experiments, in @foundation/testkit's simulation, through the real driver:
//   npm run sim -w @foundation/membership-hyparview [-- --nodes 10000 --seed 1 --rounds 10]
// 1. `nodes` nodes join (one every 0.5 ms, each through a random node that joined before it)
//    and the overlay stabilises for `stabilise` more rounds (a round is one shuffle period, 1 s).
// 2. Overlay health and Plumtree's figures are measured on the stable overlay.
// 3. For each failure share X, a fresh simulation resumes the stable overlay's views (taken at
//    the end of step 1), X% of the nodes crash at once, and broadcasts are sent right then and
//    after 1, 2, 5 and 10 healing rounds; each one's reliability (share of live nodes that
//    delivered it) is taken one round after it was sent. Overlay health of the live nodes is
//    taken after 5 and 10 rounds.
//    The failure shares are independent simulations of the same stable overlay: they run in
//    worker threads (--workers, default one per core; started at once, warmed up during step 1,
//    and running beside step 2), each seeded on its own, so the report does not depend on how
//    many there are.
// Prints a table per phase; the last line is one JSON object.
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { createSimCluster } from '../src/internal/sim-cluster';
import type { BroadcastRecord, SimCluster } from '../src/internal/sim-cluster';
import type { InitialView } from '../src/core/hyparview';

interface Arguments {
  nodes: number;
  seed: number;
  stabilise: number;
  healing: number;
  failures: number[];
  workers: number;
}

function parseArguments(argv: readonly string[]): Arguments {
  const value = (name: string): string | undefined => {
    const index = argv.indexOf(`--${name}`);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  const quick = argv.includes('--quick');
  return {
    nodes: Number(value('nodes') ?? (quick ? 1_000 : 10_000)),
    seed: Number(value('seed') ?? 1),
    stabilise: Number(value('stabilise') ?? 5),
    healing: Number(value('rounds') ?? 10),
    failures: (value('failures') ?? '10,20,30,40,50,60,70,80,90,95').split(',').map(Number),
    workers: Number(value('workers') ?? availableParallelism()),
  };
}

const ROUND_MS = 1_000;
/**
 * The paper's protocols alone. Periodic rejoins through the seeds (for overlays formed apart) are
 * off, and with them the cluster-size estimation that sets their rate: neither is part of the
 * experiments reproduced here, and the estimation alone would triple the messages of a run.
 */
const PAPER = { seedRejoinIntervalMs: 0 };
/** Broadcasts sent at each measuring point (each one is delivered to, or missed by, every live node). */
const PROBES = 1;
/** Broadcasts from one sender on the stable overlay, for Plumtree's steady-state figures. */
const STEADY_BROADCASTS = 8;
const args = parseArguments(process.argv.slice(2));
const started = performance.now();
let simulatedRounds = 0;
let simulatedEvents = 0;
let deliveredMessages = 0;

const startedCpu = process.cpuUsage();

function elapsed(): string {
  return `${((performance.now() - started) / 1000).toFixed(1)} s`;
}

/** CPU seconds used by this process so far (less sensitive than wall time to other work on the machine). */
function cpuSeconds(): number {
  const used = process.cpuUsage(startedCpu);
  return (used.user + used.system) / 1e6;
}

function pad(text: string | number, width: number): string {
  return String(text).padStart(width);
}

function percent(value: number): string {
  return `${(value * 100).toFixed(value === 1 ? 0 : 2)}%`;
}

function account(cluster: SimCluster): void {
  simulatedEvents += cluster.simulation.stats().events;
  deliveredMessages += cluster.simulation.network.stats().delivered;
}

/** Sends `count` broadcasts from random live nodes now; snapshots each one's reliability one round later. */
function probe(cluster: SimCluster, count: number, results: number[], records: BroadcastRecord[]): void {
  const live = cluster.live();
  for (let index = 0; index < count; index += 1) {
    const origin = live[cluster.simulation.random.int(0, live.length)]!;
    const record = cluster.broadcast(origin);
    records.push(record);
    cluster.simulation.schedule(ROUND_MS, () => results.push(cluster.reliability(record)));
  }
}

const mean = (values: readonly number[]): number => (values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length);

// ---- 3. mass failures -------------------------------------------------------------------------

interface FailureRow {
  readonly failed: number;
  readonly live: number;
  readonly reliability: Record<'r0' | 'r1' | 'r2' | 'r5' | 'r10', number>;
  readonly components5: number;
  readonly components10: number;
  readonly outside10: number;
  readonly redundancy10: number;
  readonly lastHop10: number;
  readonly wallMs: number;
}

/** One failure share, from the stable overlay's views to its row of the report. */
function runFailure(share: number, snapshot: ReadonlyMap<string, InitialView>, nodes = args.nodes, seed = args.seed * 1_000 + share): { row: FailureRow; events: number; delivered: number } {
  const scenarioStarted = performance.now();
  const cluster = createSimCluster({ seed, nodes, trace: 'off', initialViews: snapshot, config: PAPER, network: { sizeOf: () => 64 } });
  // Every node resumes the stable overlay's views (the links are symmetric by construction) and
  // reconnects to its neighbours; then the failure strikes.
  cluster.simulation.runFor(100);
  const victims = cluster.simulation.random.sample(cluster.ids, Math.round((nodes * share) / 100));
  cluster.crash(victims);
  const byRound = new Map<number, number[]>();
  const records = new Map<number, BroadcastRecord[]>();
  let components5 = Number.NaN;
  let components10 = Number.NaN;
  let outside10 = Number.NaN;
  for (let round = 0; round <= args.healing; round += 1) {
    if (probeRounds.includes(round)) {
      const results: number[] = [];
      const sent: BroadcastRecord[] = [];
      byRound.set(round, results);
      records.set(round, sent);
      probe(cluster, PROBES, results, sent);
    }
    cluster.simulation.runFor(ROUND_MS);
    if (round + 1 === 5 || round + 1 === args.healing) {
      const overlay = cluster.overlay(20);
      if (round + 1 === 5) components5 = overlay.components;
      if (round + 1 === args.healing) {
        components10 = overlay.components;
        outside10 = overlay.outsideLargest;
      }
    }
  }
  const last = records.get(10) ?? [];
  const row: FailureRow = {
    failed: share,
    live: cluster.live().length,
    reliability: {
      r0: mean(byRound.get(0) ?? []),
      r1: mean(byRound.get(1) ?? []),
      r2: mean(byRound.get(2) ?? []),
      r5: mean(byRound.get(5) ?? []),
      r10: mean(byRound.get(10) ?? []),
    },
    components5,
    components10,
    outside10,
    redundancy10: mean(last.map((record) => cluster.redundancy(record))),
    lastHop10: Math.max(0, ...last.map((record) => record.lastHop)),
    wallMs: performance.now() - scenarioStarted,
  };
  return { row, events: cluster.simulation.stats().events, delivered: cluster.simulation.network.stats().delivered };
}

type Outcome = ReturnType<typeof runFailure>;

/** What the main thread sends a simulation thread: the stable overlay's views, then shares. */
type ToThread = { readonly views: [string, InitialView][] } | { readonly share: number };

/**
 * Threads that run failure shares. They start at once and warm up (a small join and failure of
 * their own, so the JIT has compiled the paths) while the main thread joins the nodes, on the
 * core that would otherwise be idle; then each takes the next share when it finishes one.
 * Results come back in share order, whatever order they finish in.
 */
class ShareThreads {
  private readonly threads: Worker[];

  constructor(count: number) {
    this.threads = Array.from({ length: count }, () => new Worker(new URL(import.meta.url), { argv: process.argv.slice(2) }));
  }

  run(shares: readonly number[], snapshot: ReadonlyMap<string, InitialView>): Promise<Outcome[]> {
    const views = [...snapshot];
    const results = new Array<Outcome | undefined>(shares.length);
    let next = 0;
    const drive = (thread: Worker): Promise<void> =>
      new Promise((resolve, reject) => {
        let current = -1;
        const assign = (): void => {
          if (next >= shares.length) {
            void thread.terminate().then(() => resolve());
            return;
          }
          current = next++;
          thread.postMessage({ share: shares[current]! } satisfies ToThread);
        };
        thread.on('message', (outcome: Outcome) => {
          results[current] = outcome;
          assign();
        });
        thread.once('error', reject);
        thread.once('exit', (code) => {
          if (next < shares.length || results[current] === undefined) reject(new Error(`a simulation thread exited with ${code} during ${shares[current]}% failures`));
        });
        thread.postMessage({ views } satisfies ToThread);
        assign();
      });
    return Promise.all(this.threads.map(drive)).then(() => results as Outcome[]);
  }
}

/** A small join and failure, so that a thread's first share does not run cold. */
function warmUp(): void {
  const nodes = 300;
  const cluster = createSimCluster({ seed: 7, nodes, joinSpacingMs: 0.5, trace: 'off', config: PAPER, network: { sizeOf: () => 64 } });
  cluster.simulation.runFor(nodes * 0.5 + 4 * ROUND_MS);
  const views = new Map<string, InitialView>([...cluster.views()].map(([id, view]) => [id, { ...view, trusted: true }]));
  runFailure(50, views, nodes, 7);
}

function printRow(row: FailureRow): void {
  const r = row.reliability;
  console.log(
    `  ${pad(row.failed, 3)}% ${pad(row.live, 6)} ${pad(percent(r.r0), 8)} ${pad(percent(r.r1), 8)} ${pad(percent(r.r2), 8)} ${pad(percent(r.r5), 8)} ${pad(percent(r.r10), 8)} ${pad(row.components5, 7)} ${pad(row.components10, 8)} ${pad(row.redundancy10.toFixed(3), 7)} ${pad(row.lastHop10, 7)}   (${(row.wallMs / 1000).toFixed(1)} s)`,
  );
}

const probeRounds = [0, 1, 2, 5, 10].filter((round) => round <= args.healing);

if (!isMainThread) {
  // A simulation thread: warms up, then runs the failure shares of the stable overlay the main
  // thread sends, one at a time.
  let snapshot = new Map<string, InitialView>();
  parentPort!.on('message', (message: ToThread) => {
    if ('views' in message) snapshot = new Map(message.views);
    else parentPort!.postMessage(runFailure(message.share, snapshot));
  });
  warmUp();
} else {
  await main();
}

async function main(): Promise<void> {
  // ---- 1. join and stabilise --------------------------------------------------------------------

  console.log(`HyParView simulation: ${args.nodes} nodes, seed ${args.seed}, round ${ROUND_MS} ms (node ${process.version})`);
  const workers = Math.min(args.workers, args.failures.length);
  const threads = workers > 1 ? new ShareThreads(workers) : null;
  const base = createSimCluster({ seed: args.seed, nodes: args.nodes, joinSpacingMs: 0.5, trace: 'off', config: PAPER, network: { sizeOf: () => 64 } });
  const joinMs = args.nodes * 0.5 + 2 * ROUND_MS;
  base.simulation.runFor(joinMs);
  simulatedRounds += Math.ceil(joinMs / ROUND_MS);
  for (let round = 0; round < args.stabilise; round += 1) base.simulation.runFor(ROUND_MS);
  simulatedRounds += args.stabilise;
  const stable = base.overlay(200);
  console.log(`joined and stabilised in ${elapsed()} (${simulatedRounds} rounds)`);
  // The failure shares start from this overlay, the one whose health is reported below; on
  // threads, they run while this thread measures Plumtree on it.
  const snapshot = new Map<string, InitialView>([...base.views()].map(([id, view]) => [id, { ...view, trusted: true }]));
  const failuresStarted = elapsed();
  const failures = threads?.run(args.failures, snapshot);

  // ---- 2. the stable overlay: health and Plumtree ----------------------------------------------

  const sender = base.ids[0]!;
  const first = base.broadcast(sender);
  base.simulation.runFor(ROUND_MS);
  const steady: BroadcastRecord[] = [];
  for (let index = 0; index < STEADY_BROADCASTS; index += 1) {
    steady.push(base.broadcast(sender));
    base.simulation.runFor(ROUND_MS / 4);
  }
  simulatedRounds += 1 + Math.ceil(STEADY_BROADCASTS / 4);
  const steadyReliability = mean(steady.map((record) => base.reliability(record)));
  const steadyRedundancy = mean(steady.map((record) => base.redundancy(record)));
  const steadyLastHop = Math.max(...steady.map((record) => record.lastHop));
  account(base);

  console.log('\nStable overlay (active views of all nodes)');
  console.log(
    [
      ['nodes', stable.nodes],
      ['connected components', stable.components],
      ['symmetric active-view entries', percent(stable.symmetry)],
      ['in-degree min / mean / max (stddev)', `${stable.inDegree.min} / ${stable.inDegree.mean.toFixed(2)} / ${stable.inDegree.max} (${stable.inDegree.stddev.toFixed(3)})`],
      ['clustering coefficient', stable.clustering.toFixed(4)],
      ['mean shortest path (200 sources)', stable.meanShortestPath.toFixed(2)],
      ['largest distance seen', stable.diameterSeen],
      ['Plumtree first broadcast: reliability, RMR, last hop', `${percent(base.reliability(first))}, ${base.redundancy(first).toFixed(2)}, ${first.lastHop}`],
      [`Plumtree steady state (${STEADY_BROADCASTS} broadcasts, one sender): reliability`, percent(steadyReliability)],
      ['  relative message redundancy (mean)', steadyRedundancy.toFixed(4)],
      ['  last delivery hop (max)', steadyLastHop],
    ]
      .map(([label, value]) => `  ${String(label).padEnd(64)} ${String(value)}`)
      .join('\n'),
  );

  const outcomes = failures === undefined ? args.failures.map((share) => runFailure(share, snapshot)) : await failures;
  const rows = outcomes.map((outcome) => outcome.row);
  console.log(`\nMass failure (from ${failuresStarted}): reliability of broadcasts sent 0, 1, 2, 5, 10 rounds after X% of the nodes crashed at once`);
  console.log(`  ${pad('X', 4)} ${pad('live', 6)} ${pad('first', 8)} ${pad('1 round', 8)} ${pad('2', 8)} ${pad('5', 8)} ${pad('10', 8)} ${pad('comp@5', 7)} ${pad('comp@10', 8)} ${pad('RMR@10', 7)} ${pad('LDH@10', 7)}   (wall time; ${workers > 1 ? workers : 'no'} worker threads)`);
  for (const row of rows) printRow(row);
  for (const outcome of outcomes) {
    simulatedEvents += outcome.events;
    deliveredMessages += outcome.delivered;
  }
  simulatedRounds += args.failures.length * (args.healing + 1);
  const totalMs = performance.now() - started;
  const targetsMet = rows.filter((row) => row.failed <= 80).every((row) => row.reliability.r5 === 1 && row.components5 === 1);
  const totalCpu = cpuSeconds();
  console.log(
    `\n${simulatedRounds} rounds simulated, ${simulatedEvents.toLocaleString('en-US')} events, ${deliveredMessages.toLocaleString('en-US')} messages delivered, in ${(totalMs / 1000).toFixed(1)} s (${totalCpu.toFixed(1)} s of CPU; ${Math.round(deliveredMessages / (totalMs / 1000)).toLocaleString('en-US')} messages/s)`,
  );
  console.log(`targets (≤ 5 healing rounds, failures up to 80%: reliability 100% and one component): ${targetsMet ? 'met' : 'NOT met'}`);

  const metrics: Record<string, number> = {
    nodes: args.nodes,
    rounds: simulatedRounds,
    wall_ms: Math.round(totalMs),
    cpu_ms: Math.round(totalCpu * 1000),
    messages_delivered: deliveredMessages,
    messages_per_s: Math.round(deliveredMessages / (totalMs / 1000)),
    stable_components: stable.components,
    stable_in_degree_stddev: Number(stable.inDegree.stddev.toFixed(4)),
    stable_clustering: Number(stable.clustering.toFixed(5)),
    stable_mean_shortest_path: Number(stable.meanShortestPath.toFixed(3)),
    plumtree_rmr: Number(steadyRedundancy.toFixed(4)),
    plumtree_last_delivery_hop: steadyLastHop,
    plumtree_reliability: steadyReliability,
    targets_met: targetsMet ? 1 : 0,
  };
  for (const row of rows) {
    metrics[`fail${row.failed}_reliability_first`] = Number(row.reliability.r0.toFixed(5));
    metrics[`fail${row.failed}_reliability_1_round`] = Number(row.reliability.r1.toFixed(5));
    metrics[`fail${row.failed}_reliability_2_rounds`] = Number(row.reliability.r2.toFixed(5));
    metrics[`fail${row.failed}_reliability_5_rounds`] = Number(row.reliability.r5.toFixed(5));
    metrics[`fail${row.failed}_reliability_10_rounds`] = Number(row.reliability.r10.toFixed(5));
    metrics[`fail${row.failed}_components_5_rounds`] = row.components5;
    metrics[`fail${row.failed}_components_10_rounds`] = row.components10;
  }
  console.log(JSON.stringify({ bench: 'membership-hyparview.sim', node: process.version, metrics }));
}
