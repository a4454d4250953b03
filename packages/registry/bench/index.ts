// npm run bench -w @foundation/registry                   (1,000 simulated nodes; tens of minutes on 2 cores)
// npm run bench -w @foundation/registry -- --nodes=200
// npm run bench -w @foundation/registry -- --local-only      (lookup and discover only)
//
// Targets (issue 9): lookup ≥ 5M/s; discover by two capabilities over 100,000 services, p99
// < 1 ms; a new registration's convergence across 1,000 simulated nodes, in rounds and
// simulated time (the design's target: < 50 ms average discovery). In-run baselines: a plain
// Map lookup, a linear scan over the same services.
import { spawnSync } from 'node:child_process';
import { getHeapStatistics } from 'node:v8';
import { clusterConvergence } from './cluster';
import { SERVICES, buildCatalogue, discoverLatencies, lookupRates } from './local';
import { report } from '../../../tooling/scripts/bench';

const localOnly = process.argv.includes('--local-only');
const nodesArgument = process.argv.find((argument) => argument.startsWith('--nodes='));
const nodes = nodesArgument === undefined ? 1000 : Number(nodesArgument.slice('--nodes='.length));
if (!Number.isInteger(nodes) || nodes < 2) throw new Error('--nodes=N needs an integer ≥ 2');

// A 1,000-node simulation holds 1,000 full replicas (10 million entries) in one process: it
// needs more heap than Node's default on small machines, so the benchmark re-runs itself with
// enough.
const WANTED_HEAP_MB = 6144;
if (!localOnly && nodes >= 500 && getHeapStatistics().heap_size_limit < WANTED_HEAP_MB * 1024 * 1024 && process.env.REGISTRY_BENCH_CHILD === undefined) {
  const result = spawnSync(process.execPath, [`--max-old-space-size=${WANTED_HEAP_MB}`, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, REGISTRY_BENCH_CHILD: '1' },
  });
  process.exit(result.status ?? 1);
}

const catalogue = buildCatalogue();
const lookup = lookupRates(catalogue, 5);
const discover = discoverLatencies(catalogue, 20_000, 5);
const registerPerSecond = catalogue.registerPerSecond;

const localRows = [
  { name: `lookup(name), ${SERVICES.toLocaleString('en-US')} services`, value: lookup.registry, unit: 'lookups/s', note: 'target ≥ 5M/s' },
  { name: 'baseline: Map.get(name)', value: lookup.map, unit: 'lookups/s' },
  { name: 'register (100,000, 5 capabilities each)', value: registerPerSecond, unit: 'registrations/s' },
  { name: 'discover, 2 capabilities (~2,000 each), p50', value: discover.typical.p50, unit: 'µs', note: `~${discover.typical.meanResults.toFixed(0)} results` },
  { name: 'discover, 2 capabilities (~2,000 each), p99', value: discover.typical.p99, unit: 'µs', note: 'target < 1,000 µs' },
  { name: 'discover, 2 capabilities (~2,000 each), max', value: discover.typical.max, unit: 'µs' },
  { name: 'discover, a 50% capability + one (~2,000), p50', value: discover.broad.p50, unit: 'µs', note: `~${discover.broad.meanResults.toFixed(0)} results` },
  { name: 'discover, a 50% capability + one (~2,000), p99', value: discover.broad.p99, unit: 'µs' },
  { name: 'baseline: linear scan, same typical query, p50', value: discover.scan.p50, unit: 'µs' },
  { name: 'baseline: linear scan, same typical query, p99', value: discover.scan.p99, unit: 'µs' },
];
const localMetrics = {
  lookup_per_s: Math.round(lookup.registry),
  baseline_map_get_per_s: Math.round(lookup.map),
  register_per_s: Math.round(registerPerSecond),
  discover_two_capabilities_p50_us: Math.round(discover.typical.p50 * 10) / 10,
  discover_two_capabilities_p99_us: Math.round(discover.typical.p99 * 10) / 10,
  discover_two_capabilities_max_us: Math.round(discover.typical.max * 10) / 10,
  discover_broad_p50_us: Math.round(discover.broad.p50 * 10) / 10,
  discover_broad_p99_us: Math.round(discover.broad.p99 * 10) / 10,
  baseline_scan_p50_us: Math.round(discover.scan.p50 * 10) / 10,
  baseline_scan_p99_us: Math.round(discover.scan.p99 * 10) / 10,
};
if (localOnly) {
  report('registry.local', localRows, localMetrics, { digits: 2 });
  process.exit(0);
}

const started = Date.now();
const cluster = clusterConvergence(nodes, (line) => console.error(`  [${((Date.now() - started) / 1000).toFixed(0)} s] ${line}`));
const slowestPhase = cluster.phases.reduce((worst, phase) => (phase.rounds > worst.rounds ? phase : worst));

report(
  'registry',
  [
    ...localRows,
    { name: `cluster: nodes × services (live at the end)`, value: cluster.liveNodes, unit: `nodes × ~10 (${cluster.servicesVisible.toLocaleString('en-US')} visible)` },
    { name: 'new registration: mean discovery time per node', value: cluster.discovery.meanMs, unit: 'ms simulated', note: 'target < 50 ms' },
    { name: 'new registration: p99 discovery time per node', value: cluster.discovery.p99Ms, unit: 'ms simulated' },
    { name: 'new registration: until every node has it', value: cluster.discovery.allNodesMs, unit: 'ms simulated', note: `${cluster.discovery.rounds} anti-entropy round(s)` },
    ...cluster.phases.map((phase) => ({ name: `converged after ${phase.name}`, value: phase.convergedAfterMs, unit: 'ms simulated', note: `${phase.rounds} rounds of 1 s` })),
    { name: 'cluster: identical digests on every live node', value: cluster.identical ? 1 : 0, unit: cluster.identical ? '(yes)' : '(NO)' },
    { name: 'cluster: simulated messages delivered', value: cluster.messages, unit: 'messages' },
    { name: 'cluster: wall time of the simulation', value: (Date.now() - started) / 1000, unit: 's' },
  ],
  {
    ...localMetrics,
    cluster_nodes: nodes,
    cluster_live_nodes: cluster.liveNodes,
    new_registration_mean_ms: Math.round(cluster.discovery.meanMs * 10) / 10,
    new_registration_p99_ms: Math.round(cluster.discovery.p99Ms * 10) / 10,
    new_registration_all_nodes_ms: Math.round(cluster.discovery.allNodesMs * 10) / 10,
    new_registration_rounds: cluster.discovery.rounds,
    worst_phase_rounds: slowestPhase.rounds,
    worst_phase_ms: Math.round(slowestPhase.convergedAfterMs),
    identical_digests: cluster.identical ? 1 : 0,
  },
  { digits: 2 },
);

// The bound: identical digests on every live node, within a bounded number of rounds.
const MAX_ROUNDS = 40;
if (!cluster.identical || slowestPhase.rounds > MAX_ROUNDS) {
  console.error(`cluster did not converge within ${MAX_ROUNDS} rounds (worst: ${slowestPhase.name}, ${slowestPhase.rounds} rounds; identical: ${cluster.identical})`);
  process.exitCode = 1;
}
