// Cluster convergence at 1,000 simulated nodes (issue 9): the same seeded scenario as the test
// (10 services per node, partitions healed, departures), run at full size.
import { runConvergence } from '../test/support/convergence';
import type { ConvergenceReport } from '../test/support/convergence';
import { defaultLanTimings } from '../src/index';

export function clusterConvergence(nodes: number, log: (line: string) => void): ConvergenceReport {
  return runConvergence({
    seed: 1000,
    nodes,
    timings: defaultLanTimings(),
    partitions: 2,
    departures: Math.max(2, Math.round(nodes / 100)),
    probes: 5,
    // The whole cluster boots at once (a cold start), then faults come one after another.
    startSpreadMs: 0,
    checkContents: nodes <= 200,
    log,
  });
}
