// A cluster of registries in testkit's simulation, each node wired to the ports through the
// implementations in this folder: gossip broadcast, membership over failure detection, the
// simulated transport for anti-entropy, a process table for monitors and, optionally, a
// sequencer log for `registerGlobal`.
import type { NodeContext, Simulation } from '@foundation/testkit';
import type { RegistryCommand } from '../../src/core/global-names';
import { compactRegistryCommands } from '../../src/core/global-names';
import { DEFAULT_LIMITS } from '../../src/core/limits';
import type { AppliedEntry } from '../../src/ports/consensus-log';
import type { Registry, RegistryOptions } from '../../src/registry';
import { createRegistry, defaultLocalTimings } from '../../src/registry';
import type { GossipBroadcast } from './gossip-broadcast';
import { createGossipBroadcast } from './gossip-broadcast';
import type { ProcessTable, TestPid } from './process-table';
import { createProcessTable } from './process-table';
import type { SequencerLog } from './sequencer-log';
import { createSequencerLog } from './sequencer-log';
import type { SimMembership } from './sim-membership';
import { createSimMembership } from './sim-membership';

export interface ClusterNode {
  readonly id: string;
  readonly registry: Registry<unknown>;
  readonly membership: SimMembership;
  readonly broadcast: GossipBroadcast;
  readonly processes: ProcessTable;
  readonly log: SequencerLog<RegistryCommand> | undefined;
}

export interface ClusterOptions {
  readonly namespace?: string;
  readonly neighbours?: number;
  readonly fanout?: number;
  /** Node that sequences `registerGlobal` commands; no consensus log when absent. */
  readonly sequencer?: string;
  readonly registry?: Partial<Omit<RegistryOptions, 'nodeId'>>;
  /** Called with every new incarnation of a node (after a restart too). */
  readonly onStart?: (node: ClusterNode) => void;
  /** The zone of each node (for local-first routing). */
  readonly zoneOf?: (id: string) => string;
  /** Publish deltas through the gossip broadcast (default true); false leaves anti-entropy alone. */
  readonly broadcast?: boolean;
  /** Nodes that join late: their registry (and membership) starts this many ms after the node. */
  readonly startAt?: Readonly<Record<string, number>>;
}

export type Cluster = Map<string, ClusterNode>;

export function createCluster(simulation: Simulation, ids: readonly string[], options: ClusterOptions = {}): Cluster {
  const cluster: Cluster = new Map();
  const build = ({ id, transport, clock, random, incarnation }: NodeContext): void => {
    const membership = createSimMembership(transport, clock, random.fork('membership'), ids, { neighbours: options.neighbours ?? 3, joined: cluster });
    const broadcast = createGossipBroadcast(transport, () => membership.members(), random.fork('gossip'), { fanout: options.fanout ?? 6 });
    const processes = createProcessTable(id, clock);
    const namespace = options.namespace ?? 'test';
    const limits = { ...DEFAULT_LIMITS, ...options.registry?.limits };
    // A snapshot retains what `foundation` retains of its registry stream once it compacts.
    const compact = (entries: readonly AppliedEntry<RegistryCommand>[]) => compactRegistryCommands(entries, namespace, limits);
    const log = options.sequencer === undefined ? undefined : createSequencerLog<RegistryCommand>(transport, clock, options.sequencer, ids, { compact });
    const registry = createRegistry<unknown>({
      nodeId: id,
      namespace,
      clock,
      random: random.fork('registry'),
      incarnation,
      timings: defaultLocalTimings(),
      ...(options.broadcast === false ? {} : { broadcast }),
      transport,
      membership,
      monitor: processes,
      ...(log === undefined ? {} : { consensusLog: log }),
      ...(options.zoneOf === undefined ? {} : { zone: options.zoneOf(id) }),
      ...options.registry,
    });
    const node: ClusterNode = { id, registry, membership, broadcast, processes, log };
    cluster.set(id, node);
    options.onStart?.(node);
  };
  for (const id of ids) {
    simulation.addNode(id, {
      start: (context) => {
        // The first start waits for the other nodes to exist (they are added in the same turn).
        if (context.incarnation === 1) context.clock.setTimer(options.startAt?.[id] ?? 0, () => build(context));
        else build(context);
      },
    });
  }
  return cluster;
}

/** Live nodes of the cluster. */
export function liveNodes(simulation: Simulation, cluster: Cluster): ClusterNode[] {
  return [...cluster.values()].filter((node) => simulation.node(node.id).up);
}

/** True when every live node has the same digest. */
export function converged(simulation: Simulation, cluster: Cluster): boolean {
  const live = liveNodes(simulation, cluster);
  const first = live[0]?.registry.digest();
  return live.every((node) => node.registry.digest() === first);
}

/** Everything a registry shows, canonically: a stronger check than the digest, for tests. */
export function contents(registry: Registry<unknown>): string {
  return registry
    .discover({ health: 'any' })
    .map((instance) => `${instance.id}#${instance.incarnation}@${instance.revision}:${instance.name}:${instance.health}:${JSON.stringify(instance.target)}`)
    .sort()
    .join('\n');
}

export type { TestPid };
