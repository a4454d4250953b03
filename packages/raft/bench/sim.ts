// npm run sim -w @foundation/raft -- [--seeds N] [--from S] [--nodes 3|5]
// Runs many seeded simulations of a Raft cluster under faults; prints a line per failing seed
// (with the seed, so it replays) and a summary; the last line is JSON.
import { describeFailure, runSimCluster } from '../src/internal/sim-cluster';

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const seeds = argument('seeds', 1000);
const from = argument('from', 1);
const durationMs = argument('duration', 4000);
let failures = 0;
let operations = 0;
const started = performance.now();
for (let seed = from; seed < from + seeds; seed += 1) {
  const nodes = seed % 2 === 0 ? 5 : 3;
  try {
    const report = await runSimCluster({ seed, nodes, faults: true, membershipChanges: seed % 3 === 0, durationMs });
    operations += report.operations;
    if (report.check.valid !== true) {
      failures += 1;
      console.log(`FAIL ${describeFailure(report)}`);
    }
  } catch (error) {
    failures += 1;
    console.log(`FAIL seed=${seed} nodes=${nodes}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  if ((seed - from + 1) % 50 === 0) console.log(`${seed - from + 1} seeds, ${failures} failures, ${operations} operations`);
}
const seconds = (performance.now() - started) / 1000;
console.log(`${seeds} seeds (${from}..${from + seeds - 1}), ${failures} failures, ${operations} client operations checked, ${seconds.toFixed(1)} s`);
console.log(JSON.stringify({ bench: 'raft.sim', node: process.version, metrics: { seeds, failures, operations, seconds: Math.round(seconds) } }));
process.exit(failures === 0 ? 0 : 1);
