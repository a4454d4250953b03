// The cluster the experiment runs on: what it keeps of the probes it sends.
import { describe, expect, it } from '@jest/globals';
import { createCluster } from '../src/cluster';
import { JOIN_SPACING_MS, NETWORK, ROUND_MS, simulationConfig } from '../src/experiment';

const SEED = 5;

describe(`probes (seed ${SEED})`, () => {
  // Every probe's record (a byte per node) stayed in the cluster until the cluster was freed, and
  // went on recording deliveries, so a run held one per probe sent: the listed healing rounds
  // times --broadcasts of them at each failure rate (review finding).
  it(`lets go of a probe once measured: its later deliveries are not recorded, while a probe not yet measured records them (seed ${SEED})`, () => {
    const nodes = 40;
    const cluster = createCluster({ seed: SEED, nodes, config: simulationConfig(nodes), network: NETWORK, joinSpacingMs: JOIN_SPACING_MS });
    cluster.simulation.runFor(nodes * JOIN_SPACING_MS + 3 * ROUND_MS);
    const measuredAtOnce = cluster.probe('n0');
    const early = cluster.measure(measuredAtOnce);
    expect(early).toEqual({ delivered: 1, live: nodes, reliability: 1 / nodes });
    const measuredLater = cluster.probe('n1');
    cluster.simulation.runFor(ROUND_MS);
    expect(cluster.measure(measuredLater)).toEqual({ delivered: nodes, live: nodes, reliability: 1 });
    // The broadcast reached everyone, but the first record is no longer the cluster's.
    expect(measuredAtOnce.delivered.reduce((sum, byte) => sum + byte, 0)).toBe(1);
    expect(measuredAtOnce.lastHop).toBe(0);
  });
});
