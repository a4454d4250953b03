// Issue 9's convergence simulation, short: 60 nodes × 10 services, two partitions healed, two
// departures; after each fault every live node must reach identical digests (and, checked
// entry by entry, identical and correct contents) within a bounded number of anti-entropy
// rounds. `npm run bench` runs the same scenario with 1,000 nodes.
import { describe, expect, it } from '@jest/globals';
import { seedFromEnvironment } from '@foundation/testkit';
import { runConvergence } from '../../test/support/convergence';
import { defaultLocalTimings } from '../registry';

/** Rounds allowed after each fault: failure detection, then O(log n) gossip and anti-entropy rounds. */
const MAX_ROUNDS = 40;

describe('convergence at scale (seeded)', () => {
  const seed = seedFromEnvironment(909);
  it(`60 nodes × 10 services with partitions, heals and departures converge within ${MAX_ROUNDS} rounds (seed=${seed})`, () => {
    const report = runConvergence({ seed, nodes: 60, timings: defaultLocalTimings(), partitions: 2, departures: 2, probes: 2, failureDetectionMs: 300 });
    expect(report.identical).toBe(true);
    expect(report.contentsCorrect).toBe(true);
    expect(report.liveNodes).toBe(58);
    // About 58 live nodes × 10 (one unregistered and one registered per partition side, two probes).
    expect(report.servicesVisible).toBeGreaterThan(570);
    for (const phase of report.phases) expect({ phase: phase.name, withinBound: phase.rounds <= MAX_ROUNDS }).toEqual({ phase: phase.name, withinBound: true });
    expect(report.discovery.maxMs).toBeLessThan(50);
  });
});
