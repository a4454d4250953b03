// Seeded simulations of HyParView and Plumtree through the real driver over testkit's simulated
// network: a few hundred nodes, so the default test run stays short. The 10,000-node report is
// `npm run sim -w @foundation/membership-hyparview`. Every test names its seed; replay one with
// FOUNDATION_SEED=<seed>.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { checkDeterminism, seedFromEnvironment } from '@foundation/testkit';
import { overlayMetrics } from '../internal/overlay-metrics';
import { createSimCluster } from '../internal/sim-cluster';
import type { SimCluster } from '../internal/sim-cluster';
import { lastingOneSidedLinks } from '../../test/support/one-sided-links';

/**
 * `stranded`: survivors that knew no live node when the others crashed (every entry of their
 * views and every seed crashed). They cannot reach anyone; a live node that knows of them may
 * still reach them (seed 41: one that had it in its passive view did). So the stranded nodes
 * that are still alone are left out, and everyone else must form one component.
 */
function expectHealthyOverlay(cluster: SimCluster, seed: number | string, stranded: ReadonlySet<string> = new Set()): void {
  const overlay = cluster.overlay(40);
  const alone = new Set([...stranded].filter((id) => cluster.membership(id).activeView().length === 0));
  const context = `seed=${String(seed)} stranded=${JSON.stringify([...stranded])} alone=${JSON.stringify([...alone])} ${JSON.stringify(overlay)}`;
  const others = new Map([...cluster.activeViews()].filter(([id]) => !alone.has(id)));
  expect({ context, components: overlayMetrics(others, 1).components }).toEqual({ context, components: 1 });
  expect({ context, oneSided: lastingOneSidedLinks(cluster) }).toEqual({ context, oneSided: [] });
  for (const id of cluster.live()) {
    const membership = cluster.membership(id);
    const active = membership.activeView();
    const passive = membership.passiveView();
    expect(active.length).toBeLessThanOrEqual(cluster.config.hyparview.activeViewSize);
    expect(passive.length).toBeLessThanOrEqual(cluster.config.hyparview.passiveViewSize);
    expect(active).not.toContain(id);
    expect(passive).not.toContain(id);
  }
}

/** Survivors (not in `crashed`) whose views and seeds name only nodes in `crashed`: taken before the crash. */
function strandedBy(cluster: SimCluster, crashed: ReadonlySet<string>, seedsOf: (id: string) => readonly string[] = () => []): Set<string> {
  return new Set(
    cluster
      .live()
      .filter((id) => !crashed.has(id))
      .filter((id) => {
        const membership = cluster.membership(id);
        return [...membership.activeView(), ...membership.passiveView(), ...seedsOf(id)].every((known) => crashed.has(known));
      }),
  );
}

const seed = Number(seedFromEnvironment(20261128));

describe('HyParView over the simulated network', () => {
  it(`200 nodes join and form one connected overlay of symmetric, bounded views; broadcasts reach everyone (seed=${seed})`, () => {
    const cluster = createSimCluster({ seed, nodes: 200, joinSpacingMs: 5 });
    cluster.simulation.runFor(200 * 5 + 5_000);
    expectHealthyOverlay(cluster, seed);
    for (let index = 0; index < 3; index += 1) {
      const record = cluster.broadcast(cluster.ids[index * 37]!);
      cluster.simulation.runFor(1_000);
      expect({ seed, reliability: cluster.reliability(record) }).toEqual({ seed, reliability: 1 });
    }
  });

  it(`Plumtree at 100 nodes, one sender: RMR < 0.2, last delivery hop < 15, no message missed (seed=${seed})`, () => {
    // Plumtree's own figures on a stable overlay: without the periodic seed rejoins, each of which
    // is a JOIN that moves a few links (found with FOUNDATION_SEED=6, where one at 10 s made the
    // next broadcast's RMR 0.25; the README gives that cost).
    const cluster = createSimCluster({ seed: seed + 1, nodes: 100, joinSpacingMs: 5, config: { seedRejoinIntervalMs: 0 } });
    cluster.simulation.runFor(100 * 5 + 5_000);
    const sender = cluster.ids[0]!;
    // The first broadcast builds the tree (every link is eager until duplicates prune it).
    const first = cluster.broadcast(sender);
    cluster.simulation.runFor(1_000);
    expect(cluster.reliability(first)).toBe(1);
    const redundancies: number[] = [];
    let lastHop = 0;
    for (let index = 0; index < 20; index += 1) {
      const record = cluster.broadcast(sender);
      cluster.simulation.runFor(500);
      expect({ seed: seed + 1, index, reliability: cluster.reliability(record) }).toEqual({ seed: seed + 1, index, reliability: 1 });
      redundancies.push(cluster.redundancy(record));
      lastHop = Math.max(lastHop, record.lastHop);
    }
    const mean = redundancies.reduce((sum, value) => sum + value, 0) / redundancies.length;
    expect(mean).toBeLessThan(0.2);
    expect(Math.max(...redundancies)).toBeLessThan(0.2);
    expect(lastHop).toBeLessThan(15);
  });

  it(`half of 200 nodes crash at once: within 5 rounds the rest are one component and every broadcast reaches every live node (seed=${seed})`, () => {
    const cluster = createSimCluster({ seed: seed + 2, nodes: 200, joinSpacingMs: 5 });
    cluster.simulation.runFor(200 * 5 + 5_000);
    const victims = cluster.simulation.random.sample(cluster.ids, 100);
    cluster.crash(victims);
    const live = cluster.live();
    const first = cluster.broadcast(live[0]!);
    cluster.simulation.runFor(5 * 1_000);
    // The first broadcast, sent before any failure was detected, is repaired by IHAVE/GRAFT over
    // the surviving links; with half the nodes gone a few may be cut off until the overlay heals.
    expect(cluster.reliability(first)).toBeGreaterThan(0.9);
    expectHealthyOverlay(cluster, seed + 2);
    for (let index = 0; index < 3; index += 1) {
      const record = cluster.broadcast(live[index * 11]!);
      cluster.simulation.runFor(1_000);
      expect({ seed: seed + 2, reliability: cluster.reliability(record) }).toEqual({ seed: seed + 2, reliability: 1 });
    }
  });

  it(`with shuffle replies back along the walk (the presets' choice): half of 200 nodes crash, the rest heal within 5 rounds, replies are passed on and integrated (seed=${seed})`, () => {
    const cluster = createSimCluster({ seed: seed + 3, nodes: 200, joinSpacingMs: 5, config: { hyparview: { shuffleReplyRoute: 'walk' } } });
    cluster.simulation.runFor(200 * 5 + 5_000);
    expectHealthyOverlay(cluster, seed + 3);
    const victims = new Set(cluster.simulation.random.sample(cluster.ids, 100));
    const stranded = strandedBy(cluster, victims);
    cluster.crash([...victims]);
    cluster.simulation.runFor(5 * 1_000);
    expectHealthyOverlay(cluster, seed + 3, stranded);
    const live = cluster.live();
    for (let index = 0; index < 3; index += 1) {
      const record = cluster.broadcast(live[index * 11]!);
      cluster.simulation.runFor(1_000);
      expect({ seed: seed + 3, reliability: cluster.reliability(record) }).toEqual({ seed: seed + 3, reliability: 1 });
    }
    const total = (counter: string): number => live.reduce((sum, id) => sum + (cluster.membership(id).stats().service[counter] ?? 0), 0);
    // Most answered shuffles came back and were integrated at their origin, hop by hop (a reply
    // is lost when its walk lost a node, or when it comes after the origin's next shuffle).
    const counts = { sent: total('shufflesSent'), integrated: total('shuffleRepliesIntegrated'), forwarded: total('shuffleRepliesForwarded'), unrouted: total('shuffleRepliesUnrouted') };
    expect({ seed: seed + 3, counts, mostIntegrated: counts.integrated > counts.sent * 0.7 }).toEqual({ seed: seed + 3, counts, mostIntegrated: true });
    expect({ seed: seed + 3, counts, passedOn: counts.forwarded > counts.integrated }).toEqual({ seed: seed + 3, counts, passedOn: true });
    expect(total('shuffleRepliesUnsolicited')).toBeLessThan(counts.sent / 10);
    // Passive views filled through the shuffles as they do with direct replies.
    const passive = live.map((id) => cluster.membership(id).passiveView().length).sort((a, b) => a - b);
    expect({ seed: seed + 3, medianPassive: passive[Math.floor(passive.length / 2)]! >= cluster.config.hyparview.passiveViewSize / 2 }).toEqual({ seed: seed + 3, medianPassive: true });
  });

  // The 10,000-node report's 80% share left survivors cut off for 5 rounds while they asked their
  // mostly dead passive views two at a time. With a request per free slot, a survivor that still
  // knows one live node finds it within 3 rounds (30 passive entries, 5 at a time, each dead one
  // failing within 400 ms). The seeds are offsets from the run's seed; with the default seed,
  // the last two are runs that the code before failed (found by scanning offsets), so the default
  // run alone catches a return to the old pace.
  it(`80% of 500 nodes crash at once: within 3 rounds every survivor that knew a live node is in one component (seeds ${seed + 28}-${seed + 30})`, () => {
    for (const runSeed of [seed + 28, seed + 29, seed + 30]) {
      const cluster = createSimCluster({ seed: runSeed, nodes: 500, joinSpacingMs: 1, config: { seedRejoinIntervalMs: 0 } });
      cluster.simulation.runFor(500 + 5_000);
      const crashed = new Set(cluster.simulation.random.sample(cluster.ids, 400));
      const stranded = strandedBy(cluster, crashed);
      cluster.crash([...crashed]);
      cluster.simulation.runFor(3 * 1_000);
      expectHealthyOverlay(cluster, runSeed, stranded);
    }
  });

  it(`replays exactly: the same seed gives the same trace, checked by testkit (seed=${seed})`, async () => {
    const report = await checkDeterminism(
      seed + 3,
      (simulation) => {
        const cluster = createSimCluster({ seed: seed + 3, nodes: 40, joinSpacingMs: 5, simulation });
        simulation.runFor(40 * 5 + 2_000);
        cluster.crash(cluster.ids.slice(5, 15));
        cluster.broadcast(cluster.ids[0]!);
        simulation.runFor(3_000);
      },
      { trace: 'full' },
    );
    expect(report.events).toBeGreaterThan(1_000);
  });
});

describe('HyParView properties over random clusters', () => {
  it('after churn stops, active views are symmetric, bounded, free of self, and connect every survivor that still knew a live node', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 10, max: 40 }), fc.double({ min: 0, max: 0.5, noNaN: true }), (runSeed, nodes, crashShare) => {
        // Each node's one seed: a random node that joined before it (the cluster's default).
        const seeds = new Map<string, string[]>();
        const seedsFor = (index: number, all: readonly string[], random: () => number): string[] => {
          const chosen = index === 0 ? [] : [all[Math.floor(random() * index)]!];
          seeds.set(all[index]!, chosen);
          return chosen;
        };
        const cluster = createSimCluster({ seed: runSeed, nodes, joinSpacingMs: 3, seedsFor, config: { hyparview: { activeViewSize: 4, passiveViewSize: 12 } } });
        cluster.simulation.runFor(nodes * 3 + 1_500);
        const crashed = new Set(cluster.simulation.random.sample(cluster.ids, Math.floor(nodes * crashShare)));
        // A node that joined a second ago may know only its seed and its first neighbours (its
        // passive view fills from shuffles and disconnects); if all of them crash, it is stranded.
        const stranded = strandedBy(cluster, crashed, (id) => seeds.get(id) ?? []);
        cluster.crash([...crashed]);
        cluster.simulation.runFor(6_000);
        expectHealthyOverlay(cluster, runSeed, stranded);
      }),
      { numRuns: 12, seed, endOnFailure: true },
    );
  });
});
