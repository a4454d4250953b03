// Seeded simulations of whole clusters (driver + core + simulated disks and network) under a
// client workload and a nemesis. Safety is checked while they run (election safety, log
// matching, leader completeness, state machine safety) and afterwards the client history must
// be linearizable. The full sweep of 1,000+ seeds is `npm run sim -w @foundation/raft`.
import { describe, expect, it } from '@jest/globals';
import { seedFromEnvironment } from '@foundation/testkit';
import { describeFailure, runSimCluster } from '../internal/sim-cluster';

const base = Number(seedFromEnvironment(1));

describe('simulated clusters under faults', () => {
  it.each([
    [base, 3, false],
    [base + 1, 5, false],
    [base + 2, 3, true],
    [base + 3, 5, true],
  ])('seed=%d, %d nodes, membership changes: %s', async (seed, nodes, membershipChanges) => {
    const report = await runSimCluster({ seed, nodes, faults: true, membershipChanges, durationMs: 3000 });
    if (report.check.valid !== true) throw new Error(describeFailure(report));
    expect(report.check.valid).toBe(true);
    expect(report.acknowledgedWrites).toBeGreaterThan(10);
    expect(report.faults.length).toBeGreaterThan(3);
    // Every node is honest: a message its peers' wires refused is a check that is wrong.
    expect(report.invalidMessages).toBe(0);
  });

  it('without faults every operation succeeds and one leader serves the whole run', async () => {
    const report = await runSimCluster({ seed: base + 10, nodes: 3, faults: false, durationMs: 2000 });
    expect(report.check.valid).toBe(true);
    expect(report.leaders).toBe(1);
    expect(report.acknowledgedWrites).toBeGreaterThan(100);
    expect(report.invalidMessages).toBe(0);
  });
});
