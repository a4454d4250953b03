// The seeded convergence scenario of issue 9: N nodes each register 10 services; the network is
// partitioned and healed, nodes depart; after each fault, how many anti-entropy rounds until
// every live node holds identical state (equal digests, then checked entry by entry); and how
// long a new registration takes to reach every node. The test runs it small; the benchmark
// runs it at 1,000 nodes.
import type { Seed } from '@foundation/core';
import { createSimulation } from '@foundation/testkit';
import type { Simulation } from '@foundation/testkit';
import type { ClusterTimings } from '../../src/registry';
import { contents, createCluster, liveNodes } from './cluster';
import type { Cluster, ClusterNode } from './cluster';

export interface ConvergenceOptions {
  readonly seed: Seed;
  readonly nodes: number;
  readonly servicesPerNode?: number;
  readonly timings: ClusterTimings;
  /** Partition episodes (two groups, then three, alternately). */
  readonly partitions?: number;
  readonly partitionMs?: number;
  /** Nodes that crash for good. */
  readonly departures?: number;
  /** New registrations whose spread is timed. */
  readonly probes?: number;
  readonly broadcast?: boolean;
  readonly failureDetectionMs?: number;
  /** Nodes start at random times within this window (as real nodes boot), default nodes × 2 ms. */
  readonly startSpreadMs?: number;
  /** How often convergence is checked, in simulated ms. */
  readonly checkEveryMs?: number;
  /** Give up on a phase after this much simulated time. */
  readonly maxPhaseMs?: number;
  /** Checks every live node's content entry by entry at the end (costly at 1,000 nodes). */
  readonly checkContents?: boolean;
  readonly log?: (line: string) => void;
}

export interface Phase {
  readonly name: string;
  /** Simulated ms from the end of the fault (heal, crash) to identical digests on all live nodes. */
  readonly convergedAfterMs: number;
  /** The same in anti-entropy rounds. */
  readonly rounds: number;
}

export interface ConvergenceReport {
  readonly seed: Seed;
  readonly nodes: number;
  readonly liveNodes: number;
  readonly phases: readonly Phase[];
  /** The worst phase, in rounds. */
  readonly maxRounds: number;
  /** Every live node ends with the same digest. */
  readonly identical: boolean;
  /** Every live node shows exactly the registrations of the live nodes (when checked). */
  readonly contentsCorrect: boolean | undefined;
  readonly servicesVisible: number;
  /** Per node and probe, simulated ms from registration to that node seeing it. */
  readonly discovery: { readonly meanMs: number; readonly p99Ms: number; readonly maxMs: number; readonly allNodesMs: number; readonly rounds: number };
  readonly simulatedMs: number;
  readonly messages: number;
  readonly events: number;
}

function allEqual(simulation: Simulation, cluster: Cluster): boolean {
  const live = liveNodes(simulation, cluster);
  if (live.length === 0) return true;
  const first = live[0]!.registry.digest();
  for (const node of live) if (node.registry.digest() !== first) return false;
  return true;
}

export function runConvergence(options: ConvergenceOptions): ConvergenceReport {
  const servicesPerNode = options.servicesPerNode ?? 10;
  const round = options.timings.antiEntropyIntervalMs;
  const checkEveryMs = options.checkEveryMs ?? Math.max(10, Math.floor(round / 10));
  const maxPhaseMs = options.maxPhaseMs ?? 120_000;
  const log = options.log ?? (() => undefined);
  const simulation = createSimulation({
    seed: options.seed,
    trace: 'off',
    network: {
      latency: { min: 1, max: 5 },
      failureDetectionMs: options.failureDetectionMs ?? 500,
      // Registry messages are bytes; gossip wraps them in a small envelope.
      sizeOf: (payload) => (payload instanceof Uint8Array ? payload.byteLength : ((payload as { payload?: Uint8Array }).payload?.byteLength ?? 0) + 64),
    },
  });
  const ids = Array.from({ length: options.nodes }, (_, index) => `n${index}`);
  const register = (node: ClusterNode): void => {
    const index = ids.indexOf(node.id);
    for (let k = 0; k < servicesPerNode; k += 1) {
      const capabilities = [`cap-${(index * 7 + k) % 20}`, `cap-${(index + k * 3) % 20}`];
      if (k < 2) node.registry.register(`pool-${k}`, `${node.id}:${k}`, { mode: 'group', capabilities: [...new Set(capabilities)] });
      else node.registry.register(`svc-${node.id}-${k}`, `${node.id}:${k}`, { capabilities: [...new Set(capabilities)], version: `1.${k}.0` });
    }
  };
  const spread = options.startSpreadMs ?? options.nodes * 2;
  const startRandom = simulation.random.fork('start');
  const startAt = Object.fromEntries(ids.map((id) => [id, spread > 0 ? startRandom.float() * spread : 0]));
  const cluster = createCluster(simulation, ids, {
    startAt,
    neighbours: 3,
    fanout: Math.max(4, Math.ceil(Math.log(options.nodes)) + 1),
    broadcast: options.broadcast ?? true,
    registry: { timings: options.timings },
    onStart: (node) => {
      if (simulation.node(node.id).incarnation === 1) register(node);
    },
  });

  // Convergence is checked every `checkEveryMs` rather than after every event.
  let converged = false;
  simulation.clock.setRepeatingTimer(checkEveryMs, () => {
    converged = cluster.size === ids.length && allEqual(simulation, cluster);
  });
  const phases: Phase[] = [];
  const settle = (name: string, also: () => boolean = () => true): void => {
    const start = simulation.now();
    converged = false;
    simulation.runUntil(() => converged && also(), { maxTime: maxPhaseMs });
    const convergedAfterMs = simulation.now() - start;
    phases.push({ name, convergedAfterMs, rounds: Math.ceil(convergedAfterMs / round) });
    log(`${name}: identical digests after ${Math.round(convergedAfterMs)} ms (${Math.ceil(convergedAfterMs / round)} rounds), t=${simulation.now()} ms`);
  };

  simulation.runFor(spread);
  settle('start');
  const random = simulation.random;
  const partitions = options.partitions ?? 2;
  // Long enough for failure detection to declare the other side gone (the harder case).
  const partitionMs = options.partitionMs ?? Math.max(3 * round, 3 * (options.failureDetectionMs ?? 500));
  for (let episode = 0; episode < partitions; episode += 1) {
    const groups = episode % 2 === 0 ? 2 : 3;
    const live = liveNodes(simulation, cluster).map((node) => node.id);
    const shuffled = random.shuffle(live);
    const split = Array.from({ length: groups }, (_, group) => shuffled.filter((_, index) => index % groups === group));
    simulation.network.partition(split);
    simulation.runFor(partitionMs / 2);
    // Both sides keep changing while apart.
    for (const group of split) {
      const changer = cluster.get(group[0]!)!;
      changer.registry.register(`during-${episode}-${changer.id}`, changer.id, { capabilities: ['during'] });
      changer.registry.unregister(`svc-${changer.id}-${2 + episode}`);
    }
    simulation.runFor(partitionMs / 2);
    simulation.network.heal();
    settle(`heal of partition ${episode + 1} (${groups} groups)`);
  }
  const departures = options.departures ?? 2;
  if (departures > 0) {
    const live = liveNodes(simulation, cluster).map((node) => node.id);
    const gone = random.sample(live, departures);
    for (const id of gone) simulation.crash(id);
    // Identical digests and none of the departed nodes' entries left anywhere.
    settle(`${departures} departures`, () =>
      liveNodes(simulation, cluster).every((node) => gone.every((id) => node.registry.discover({ node: id, health: 'any' }, { limit: 1 }).length === 0)),
    );
  }

  // New registrations: per node, the simulated time until it sees each one.
  const latencies: number[] = [];
  let allNodesMs = 0;
  for (let probe = 0; probe < (options.probes ?? 3); probe += 1) {
    const live = liveNodes(simulation, cluster);
    const origin = random.pick(live);
    const name = `probe-${probe}`;
    const seenAt = new Map<string, number>();
    const stops = live.map((node) => node.registry.watch(name, () => seenAt.has(node.id) || seenAt.set(node.id, simulation.now())));
    const start = simulation.now();
    origin.registry.register(name, origin.id, { capabilities: ['probe'] });
    simulation.runUntil(() => seenAt.size === live.length, { maxTime: maxPhaseMs });
    for (const stop of stops) stop();
    for (const at of seenAt.values()) latencies.push(at - start);
    allNodesMs = Math.max(allNodesMs, simulation.now() - start);
    simulation.runFor(round);
  }
  latencies.sort((left, right) => left - right);
  const meanMs = latencies.reduce((sum, value) => sum + value, 0) / Math.max(1, latencies.length);
  const p99Ms = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? 0;

  settle('probe registrations');
  const live = liveNodes(simulation, cluster);
  let contentsCorrect: boolean | undefined;
  if (options.checkContents ?? options.nodes <= 200) {
    const expected = live
      .flatMap((node) => node.registry.discover({ node: node.id, health: 'any' }).map((instance) => instance.id))
      .sort()
      .join(',');
    const reference = contents(live[0]!.registry);
    contentsCorrect = live.every(
      (node) =>
        contents(node.registry) === reference &&
        node.registry
          .discover({ health: 'any' })
          .map((instance) => instance.id)
          .sort()
          .join(',') === expected,
    );
  }
  const stats = simulation.stats();
  return {
    seed: options.seed,
    nodes: options.nodes,
    liveNodes: live.length,
    phases,
    maxRounds: Math.max(...phases.map((phase) => phase.rounds)),
    identical: allEqual(simulation, cluster),
    contentsCorrect,
    servicesVisible: live[0]!.registry.stats().instances,
    discovery: { meanMs, p99Ms, maxMs: latencies[latencies.length - 1] ?? 0, allNodesMs, rounds: Math.ceil(allNodesMs / round) },
    simulatedMs: simulation.now(),
    messages: simulation.network.stats().delivered,
    events: stats.events,
  };
}
