// A cluster of memberships in @foundation/testkit's simulation, for the seeded tests, the
// 10,000-node report and the benchmark's in-run baseline. Not part of the public API.
import { createSimulation } from '@foundation/testkit';
import type { InboundMessage, NetworkOptions, Simulation, TraceMode } from '@foundation/testkit';
import { defaultLocalConfig, resolveConfig } from '../core/config';
import type { DeepPartial, MembershipConfig, TopologyMode } from '../core/config';
import type { InitialView } from '../core/hyparview';
import { createMembership } from '../driver/membership';
import type { Membership } from '../driver/membership';
import type { SeedProvider } from '../driver/seeds';
import { overlayMetrics } from './overlay-metrics';
import type { OverlayMetrics } from './overlay-metrics';

export const PROBE_TOPIC = 'probe';

export interface SimClusterOptions {
  readonly seed: number;
  readonly nodes: number;
  /** Overrides of `simulationConfig(roundMs)`. */
  readonly config?: DeepPartial<MembershipConfig>;
  /** One membership round (the shuffle period). Default 1,000 ms. */
  readonly roundMs?: number;
  readonly network?: NetworkOptions;
  readonly trace?: TraceMode;
  readonly topology?: 'auto' | TopologyMode;
  /** Node i starts joining at i · joinSpacingMs, through a random node that started before it. Default 5 ms. */
  readonly joinSpacingMs?: number;
  /** Start every node from a saved view instead of joining (see `views()`). */
  readonly initialViews?: ReadonlyMap<string, InitialView>;
  /** Build the cluster in this simulation instead of a new one (e.g. from `checkDeterminism`). */
  readonly simulation?: Simulation;
  /** Seeds for node i (default: one random earlier node). */
  readonly seedsFor?: (index: number, ids: readonly string[], random: () => number) => string[];
  /** A seed provider for some nodes instead of their planned seeds (DNS that is not ready yet, say). */
  readonly seedProviders?: ReadonlyMap<string, SeedProvider>;
}

export interface BroadcastRecord {
  readonly id: string;
  readonly origin: string;
  readonly sentAt: number;
  /** Node indexes that delivered it. */
  readonly delivered: Uint8Array;
  deliveries: number;
  lastHop: number;
  /** Payload (GOSSIP) messages received for it, summed over nodes (duplicates included). */
  gossipReceived: number;
}

export interface SimCluster {
  readonly simulation: Simulation;
  readonly ids: readonly string[];
  readonly config: MembershipConfig;
  membership(id: string): Membership;
  isUp(id: string): boolean;
  live(): string[];
  /** Crashes every listed node at once. */
  crash(ids: readonly string[]): void;
  /** Every live node's active view. */
  activeViews(): Map<string, string[]>;
  /** Every live node's active and passive views (to restart another simulation from them). */
  views(): Map<string, InitialView>;
  overlay(pathSources?: number): OverlayMetrics;
  /** Broadcasts from `origin` on the probe topic and records who delivers it. */
  broadcast(origin: string, payload?: unknown): BroadcastRecord;
  /** Share of the nodes live now that delivered `record`. */
  reliability(record: BroadcastRecord): number;
  /** Relative message redundancy of `record`: payload messages / (deliverers − 1) − 1 (Plumtree §4). */
  redundancy(record: BroadcastRecord): number;
  /** Sum of a Plumtree counter over live nodes. */
  plumtreeCounter(name: string): number;
}

/** Fast timings for simulated clusters: one round per `roundMs`, heartbeats off (the simulated transport detects failures). */
export function simulationConfig(roundMs = 1000): MembershipConfig {
  const local = defaultLocalConfig();
  return resolveConfig(
    {
      // Shuffle replies go straight to the origin, as in the paper this reproduces.
      hyparview: { shuffleIntervalMs: roundMs, shuffleReplyRoute: 'direct', neighborRequestTimeoutMs: 400, joinRetryMs: 400, promotionBackoffInitialMs: 200, promotionBackoffMaxMs: 2_000 },
      // IHAVE goes out at once (no batching timer): broadcasts in these runs are far apart.
      plumtree: { ihaveTimeoutMs: 80, graftTimeoutMs: 40, lazyPushIntervalMs: 0, antiEntropyIntervalMs: 0 },
      failureDetection: { heartbeatIntervalMs: 0 },
      connectionLingerMs: roundMs,
    },
    local,
  );
}

function merge(base: MembershipConfig, overrides: DeepPartial<MembershipConfig> | undefined): MembershipConfig {
  return resolveConfig(overrides, base);
}

/**
 * `text` as V8's unique (internalized) copy, as property keys are. Node ids are compared with
 * `===` on every message (view scans, decoding), and two different internalized strings are
 * unequal at once, without reading their characters.
 */
function internalized(text: string): string {
  return Object.keys({ [text]: 0 })[0]!;
}

export function createSimCluster(options: SimClusterOptions): SimCluster {
  const roundMs = options.roundMs ?? 1000;
  const config = merge(simulationConfig(roundMs), options.config);
  const network: NetworkOptions = { latency: { min: 2, max: 10 }, failureDetectionMs: 300, ...options.network };
  const simulation = options.simulation ?? createSimulation({ seed: options.seed, trace: options.trace ?? 'events', network });
  if (options.simulation !== undefined) simulation.network.configure(network);
  const ids = Array.from({ length: options.nodes }, (_, index) => internalized(`n${index}`));
  const indexOf = new Map(ids.map((id, index) => [id, index]));
  // Views restored from another simulation (copied between threads) name the ids of this one.
  const ownId = (peer: string): string => ids[indexOf.get(peer) ?? -1] ?? peer;
  const restored = (view: InitialView | undefined): InitialView | undefined =>
    view === undefined
      ? undefined
      : { ...view, ...(view.active === undefined ? {} : { active: view.active.map(ownId) }), ...(view.passive === undefined ? {} : { passive: view.passive.map(ownId) }) };
  const memberships = new Array<Membership | undefined>(options.nodes);
  const records = new Map<string, BroadcastRecord>();
  const spacing = options.joinSpacingMs ?? 5;
  const draw = (): number => simulation.random.float();
  const seedsFor =
    options.seedsFor ??
    ((index: number, all: readonly string[], random: () => number): string[] => (index === 0 ? [] : [all[Math.floor(random() * index)]!]));
  const plannedSeeds = ids.map((_, index) => seedsFor(index, ids, draw));
  // One resolved config with the topology in it, shared by every node (see isResolvedConfig).
  const topology = options.topology ?? 'hyparview';
  const nodeConfig = resolveConfig({ topology: { mode: topology } }, config);

  ids.forEach((id, index) => {
    simulation.addNode(id, {
      start: ({ clock, random, transport }) => {
        const initialView = restored(options.initialViews?.get(id));
        // Counts payload messages per broadcast as they arrive (for redundancy), then hands them on.
        const counted = {
          ...transport,
          onMessage: (channel: string, handler: (message: InboundMessage) => void) =>
            channel !== config.broadcastChannel
              ? transport.onMessage(channel, handler)
              : transport.onMessage(channel, (message) => {
                  const payload = message.payload as { type?: unknown; id?: unknown };
                  if (payload.type === 'gossip' && typeof payload.id === 'string') {
                    const record = records.get(payload.id);
                    if (record !== undefined) record.gossipReceived += 1;
                  }
                  handler(message);
                }),
        };
        const membership = createMembership({
          nodeId: id,
          transport: counted,
          clock,
          random,
          seeds: options.seedProviders?.get(id) ?? (initialView === undefined ? plannedSeeds[index]! : []),
          topology,
          config: nodeConfig,
          ...(initialView === undefined ? {} : { initialView }),
        });
        memberships[index] = membership;
        membership.subscribe(PROBE_TOPIC, (message) => {
          const record = records.get(message.id);
          if (record === undefined || record.delivered[index] === 1) return;
          record.delivered[index] = 1;
          record.deliveries += 1;
          if (message.hops > record.lastHop) record.lastHop = message.hops;
        });
        const begin = (): void => {
          membership.join().catch(() => undefined);
        };
        // Timers fire once every node exists, so a restored view never names a node not yet added.
        clock.setTimer(initialView === undefined ? index * spacing : 0, begin);
      },
    });
  });

  const membership = (id: string): Membership => {
    const found = memberships[indexOf.get(id) ?? -1];
    if (found === undefined) throw new Error(`no membership for ${id}`);
    return found;
  };
  const isUp = (id: string): boolean => simulation.node(id).up;
  const live = (): string[] => ids.filter(isUp);

  const cluster: SimCluster = {
    simulation,
    ids,
    config,
    membership,
    isUp,
    live,
    crash(targets) {
      for (const id of targets) simulation.crash(id);
    },
    activeViews() {
      const views = new Map<string, string[]>();
      for (const id of live()) views.set(id, membership(id).activeView());
      return views;
    },
    views() {
      const views = new Map<string, InitialView>();
      for (const id of live()) views.set(id, { active: membership(id).activeView(), passive: membership(id).passiveView() });
      return views;
    },
    overlay(pathSources = 100) {
      return overlayMetrics(cluster.activeViews(), pathSources, options.seed);
    },
    broadcast(origin, payload = { at: simulation.now() }) {
      const id = membership(origin).broadcast(PROBE_TOPIC, payload);
      const record: BroadcastRecord = { id, origin, sentAt: simulation.now(), delivered: new Uint8Array(options.nodes), deliveries: 1, lastHop: 0, gossipReceived: 0 };
      record.delivered[indexOf.get(origin)!] = 1;
      records.set(id, record);
      return record;
    },
    reliability(record) {
      const alive = live();
      let delivered = 0;
      for (const id of alive) if (record.delivered[indexOf.get(id)!] === 1) delivered += 1;
      return alive.length === 0 ? 1 : delivered / alive.length;
    },
    redundancy(record) {
      return record.deliveries <= 1 ? 0 : record.gossipReceived / (record.deliveries - 1) - 1;
    },
    plumtreeCounter(name) {
      let sum = 0;
      for (const id of live()) sum += membership(id).stats().plumtree[name] ?? 0;
      return sum;
    },
  };
  return cluster;
}
