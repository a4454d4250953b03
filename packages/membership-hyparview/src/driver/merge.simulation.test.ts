// Overlays formed apart merge through the seeds (`seedRejoinIntervalMs`), through the real driver
// in @foundation/testkit's simulation, and a stable cluster rejoins only about once per interval.
// Every test names its seed; replay one with FOUNDATION_SEED=<seed>.
import { describe, expect, it } from '@jest/globals';
import { seedFromEnvironment } from '@foundation/testkit';
import { electionPoint } from '../core/client-server';
import { overlayMetrics } from '../internal/overlay-metrics';
import { createSimCluster } from '../internal/sim-cluster';
import type { SimCluster, SimClusterOptions } from '../internal/sim-cluster';
import { lastingOneSidedLinks } from '../../test/support/one-sided-links';
import type { SeedProvider } from './seeds';

const seed = Number(seedFromEnvironment(20270114));

function components(cluster: SimCluster): number {
  return overlayMetrics(cluster.activeViews(), 1).components;
}

/** Runs until the active views form one component, checking every 500 ms; the time it took, or undefined after `maxMs`. */
function runUntilMerged(cluster: SimCluster, maxMs: number): number | undefined {
  for (let elapsed = 500; elapsed <= maxMs; elapsed += 500) {
    cluster.simulation.runFor(500);
    if (components(cluster) === 1) return elapsed;
  }
  return undefined;
}

/** Active and passive entries that name a node of the other group. */
function crossEntries(cluster: SimCluster, group: (id: string) => number): string[] {
  const found: string[] = [];
  for (const id of cluster.ids) {
    const membership = cluster.membership(id);
    for (const peer of [...membership.activeView(), ...membership.passiveView()]) if (group(peer) !== group(id)) found.push(`${id}->${peer}`);
  }
  return found;
}

function expectBoundedSymmetricViews(cluster: SimCluster, context: string): void {
  expect({ context, oneSided: lastingOneSidedLinks(cluster) }).toEqual({ context, oneSided: [] });
  for (const id of cluster.live()) {
    const membership = cluster.membership(id);
    expect(membership.activeView().length).toBeLessThanOrEqual(cluster.config.hyparview.activeViewSize);
    expect(membership.passiveView().length).toBeLessThanOrEqual(cluster.config.hyparview.passiveViewSize);
  }
}

function serviceCounter(cluster: SimCluster, name: string): number {
  let sum = 0;
  for (const id of cluster.live()) sum += cluster.membership(id).stats().service[name] ?? 0;
  return sum;
}

/** A broadcast from `origin` reaches every node of `targets`. */
function expectReaches(cluster: SimCluster, origin: string, targets: readonly string[], context: string): void {
  const record = cluster.broadcast(origin);
  cluster.simulation.runFor(1_000);
  const missed = targets.filter((id) => record.delivered[cluster.ids.indexOf(id)] !== 1);
  expect({ context, origin, missed }).toEqual({ context, origin, missed: [] });
}

/**
 * Two interleaved groups (even and odd indexes). Each node's seeds: a node of its own group (an
 * earlier one, or for the first two nodes the next of their group, which joins them), and a
 * random node of the other group, unreachable while the groups are partitioned. So every node
 * reaches a seed of its own group at boot and the groups form apart with nothing of each other
 * in their views.
 */
function twoGroups(nodes: number, options: Partial<SimClusterOptions> & { readonly seed: number }): { cluster: SimCluster; a: string[]; b: string[]; group: (id: string) => number } {
  const seedsFor = (index: number, all: readonly string[], random: () => number): string[] => {
    const own = index < 2 ? index + 2 : index % 2 === 0 ? 2 * Math.floor((random() * index) / 2) : 2 * Math.floor((random() * (index - 1)) / 2) + 1;
    const other = 2 * Math.floor((random() * nodes) / 2) + (1 - (index % 2));
    return [all[own]!, all[Math.min(other, nodes - 1)]!];
  };
  const cluster = createSimCluster({ nodes, joinSpacingMs: 5, seedsFor, ...options });
  const a = cluster.ids.filter((_, index) => index % 2 === 0);
  const b = cluster.ids.filter((_, index) => index % 2 === 1);
  cluster.simulation.network.partition([a, b]);
  const group = (id: string): number => cluster.ids.indexOf(id) % 2;
  return { cluster, a, b, group };
}

describe('overlays formed apart merge through the seeds', () => {
  it(`HyParView: two groups formed apart under a partition merge once it heals; broadcasts cross both ways (seed=${seed})`, () => {
    const { cluster, a, b, group } = twoGroups(50, { seed });
    cluster.simulation.runFor(50 * 5 + 6_000);
    const context = `seed=${seed}`;
    // Formed apart: neither group knows a node of the other. Within a group, a node whose first
    // JOIN went to the unreachable seed may have been joined by a later node meanwhile, and the
    // two (seed 20270114: five such pairs) then form an island of their own that only the seeds
    // can bring back: so at least two overlays.
    const before = components(cluster);
    expect({ context, apart: before >= 2, cross: crossEntries(cluster, group) }).toEqual({ context, apart: true, cross: [] });
    cluster.simulation.network.heal();
    // About one rejoin per overlay per interval (3 s), about half of them to the other group's
    // seed; the islands' nodes ask every interval.
    const merged = runUntilMerged(cluster, 10 * cluster.config.seedRejoinIntervalMs);
    expect({ context, before, merged: merged !== undefined }).toEqual({ context, before, merged: true });
    // Then the views settle: within bounds and symmetric.
    cluster.simulation.runFor(2 * cluster.config.seedRejoinIntervalMs);
    expect({ context, components: components(cluster) }).toEqual({ context, components: 1 });
    expectBoundedSymmetricViews(cluster, context);
    expectReaches(cluster, a[3]!, b, context);
    expectReaches(cluster, b[7]!, a, context);
  });

  it(`HyParView: the two halves of a small overlay split by a partition after it formed merge once it heals, though their passive views still name each other (seed=${seed + 4})`, () => {
    // 16 nodes: a passive view (30) holds every other node, those of the other half included,
    // and shuffles never displace them. Seed rejoins went only to seeds in neither view, so no
    // node had a seed to ask, the full active views never tried the passive entries, and the
    // halves stayed apart for good.
    const cluster = createSimCluster({ seed: seed + 4, nodes: 16, joinSpacingMs: 10 });
    cluster.simulation.runFor(6_000);
    const context = `seed=${seed + 4}`;
    expect({ context, components: components(cluster) }).toEqual({ context, components: 1 });
    const left = cluster.ids.slice(0, 8);
    const right = cluster.ids.slice(8);
    cluster.simulation.network.partition([left, right]);
    cluster.simulation.runFor(10_000);
    expect({ context, apart: components(cluster) }).toEqual({ context, apart: 2 });
    cluster.simulation.network.heal();
    const merged = runUntilMerged(cluster, 10 * cluster.config.seedRejoinIntervalMs);
    expect({ context, merged: merged !== undefined }).toEqual({ context, merged: true });
    cluster.simulation.runFor(2 * cluster.config.seedRejoinIntervalMs);
    expectBoundedSymmetricViews(cluster, context);
    expectReaches(cluster, left[3]!, right, context);
    expectReaches(cluster, right[5]!, left, context);
  });

  it(`a node whose join() resolved with no seed (DNS not ready) asks its seeds as soon as they resolve, not an interval later (seed=${seed + 1})`, () => {
    let ready = false;
    // n10 starts a cluster of its own (no seed resolves), and n11…n19 join it; the DNS name then
    // lists n0, of the other cluster.
    const dns: SeedProvider = { name: 'dns(not ready)', resolve: () => (ready ? ['n0'] : []) };
    const seedsFor = (index: number, all: readonly string[], random: () => number): string[] => {
      const first = index < 10 ? 0 : 10;
      return index === first ? [] : [all[first + Math.floor(random() * (index - first))]!];
    };
    // Rejoins are a minute apart: only the prompt request can merge within the few seconds below.
    const cluster = createSimCluster({ seed: seed + 1, nodes: 20, joinSpacingMs: 5, seedsFor, seedProviders: new Map([['n10', dns]]), config: { seedRejoinIntervalMs: 60_000 } });
    cluster.simulation.runFor(20 * 5 + 5_000);
    const context = `seed=${seed + 1}`;
    expect({ context, components: components(cluster), n10: cluster.membership('n10').members().length > 0 }).toEqual({ context, components: 2, n10: true });
    ready = true;
    // Seeds are re-resolved every second (local preset).
    cluster.simulation.runFor(3_000);
    expect({ context, components: components(cluster) }).toEqual({ context, components: 1 });
    expectBoundedSymmetricViews(cluster, context);
    expectReaches(cluster, 'n3', cluster.ids.slice(10), context);
    expectReaches(cluster, 'n15', cluster.ids.slice(0, 10), context);
  });

  it(`client-server: two groups formed apart under a partition merge their server meshes once it heals (seed=${seed + 2})`, () => {
    // Pinned before any size estimate: in each group the seeds first asked become its servers, and
    // the others their clients, so two overlays.
    const { cluster, a, b } = twoGroups(12, { seed: seed + 2, topology: 'client-server' });
    cluster.simulation.runFor(12 * 5 + 4_000);
    const context = `seed=${seed + 2}`;
    expect({ context, components: components(cluster) }).toEqual({ context, components: 2 });
    cluster.simulation.network.heal();
    const merged = runUntilMerged(cluster, 10 * cluster.config.seedRejoinIntervalMs);
    expect({ context, merged: merged !== undefined }).toEqual({ context, merged: true });
    expectReaches(cluster, a[2]!, b, context);
    expectReaches(cluster, b[5]!, a, context);
  });
});

describe('client-server: a seed across the split known only to clients', () => {
  it(`two client-server overlays formed apart merge once the partition heals when only clients of one list a seed of the other, no server (seed=${seed + 5})`, () => {
    // Group A is n0…n19, group B n20…n39, each seeded in a chain of its own (n0 and n20, with no
    // seeds, are their groups' first servers), apart under a partition. Once they formed, the
    // seeds of A's clients whose election point is 0.5 or more (never elected in a cluster of 40,
    // whose share is 7/40) list n20 as well, as a DNS name would that lists more pods now; no
    // server's do. Servers ask their seeds now and then (the seed rejoins), clients never did, so
    // no service message crossed and the two overlays stayed apart for good.
    const nodes = 40;
    const half = nodes / 2;
    const own = new Map<string, string[]>();
    const crossing = new Set<string>();
    const seedsFor = (index: number, all: readonly string[], random: () => number): string[] => {
      const first = index < half ? 0 : half;
      const seeds = index === first ? [] : [all[first + Math.floor(random() * (index - first))]!];
      own.set(all[index]!, seeds);
      return seeds;
    };
    const providers = new Map<string, SeedProvider>();
    for (let index = 1; index < half; index += 1) {
      const id = `n${index}`;
      providers.set(id, { name: `dns(${id})`, resolve: () => (crossing.has(id) ? [...own.get(id)!, `n${half}`] : own.get(id)!) });
    }
    const cluster = createSimCluster({ seed: seed + 5, nodes, joinSpacingMs: 5, topology: 'client-server', seedsFor, seedProviders: providers });
    const a = cluster.ids.slice(0, half);
    const b = cluster.ids.slice(half);
    cluster.simulation.network.partition([a, b]);
    cluster.simulation.runFor(nodes * 5 + 10_000);
    const context = `seed=${seed + 5}`;
    const role = (id: string): string | undefined => cluster.membership(id).topology().role;
    for (const id of a) if (id !== a[0] && role(id) === 'client' && electionPoint(id) >= 0.5) crossing.add(id);
    // The seeds are resolved again every second (local preset).
    cluster.simulation.runFor(2_000);
    // What the scenario needs, checked: two overlays, no server that lists a seed across the split, some clients that do.
    expect({ context, components: components(cluster), serversCrossing: [...crossing].filter((id) => role(id) !== 'client'), clientsCrossing: crossing.size > 0 }).toEqual({
      context,
      components: 2,
      serversCrossing: [],
      clientsCrossing: true,
    });
    cluster.simulation.network.heal();
    // Several rejoin intervals (10 s in the local preset).
    const merged = runUntilMerged(cluster, 10 * cluster.config.seedRejoinIntervalMs);
    expect({ context, crossing: crossing.size, merged: merged !== undefined }).toEqual({ context, crossing: crossing.size, merged: true });
    cluster.simulation.runFor(2 * cluster.config.clientServer.announceIntervalMs);
    expectReaches(cluster, a[3]!, b, context);
    expectReaches(cluster, b[5]!, a, context);
  });
});

describe('a stable overlay is left alone', () => {
  it(`60 nodes sharing three seeds send about one rejoin per interval between them, and their views stay bounded and symmetric (seed=${seed + 3})`, () => {
    const interval = 1_000;
    const seedsFor = (index: number, all: readonly string[]): string[] => all.slice(0, 3).filter((_, position) => position !== index);
    const cluster = createSimCluster({ seed: seed + 3, nodes: 60, joinSpacingMs: 5, seedsFor, config: { seedRejoinIntervalMs: interval } });
    cluster.simulation.runFor(60 * 5 + 8_000);
    const context = `seed=${seed + 3}`;
    expect({ context, components: components(cluster) }).toEqual({ context, components: 1 });
    const before = serviceCounter(cluster, 'seedRejoins');
    const intervals = 20;
    cluster.simulation.runFor(intervals * interval);
    const rejoins = serviceCounter(cluster, 'seedRejoins') - before;
    // Expected: 20 × the share of coin flips whose node holds one of the three seeds outside its
    // active view (most), with the size estimate's error (±18%). Every node asking every interval would
    // send about 60 × 20.
    expect({ context, rejoins, atLeast: rejoins >= 4, atMost: rejoins <= 2 * intervals }).toEqual({ context, rejoins, atLeast: true, atMost: true });
    expect({ context, components: components(cluster) }).toEqual({ context, components: 1 });
    expectBoundedSymmetricViews(cluster, context);
    expectReaches(cluster, 'n17', cluster.ids, context);
  });
});
