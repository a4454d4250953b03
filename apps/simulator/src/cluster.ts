// A cluster of HyParView memberships with Plumtree broadcast on @foundation/testkit's simulated
// network, built only from the packages' public exports. It records which node delivered each
// probe broadcast and counts the messages every node hands to its transport, per channel.
import { createMembership } from '@foundation/membership-hyparview';
import type { InitialView, Membership, MembershipConfig, PeerTransport } from '@foundation/membership-hyparview';
import { createSimulation } from '@foundation/testkit';
import type { NetworkOptions, Simulation } from '@foundation/testkit';

/** The topic probe broadcasts travel on. */
export const PROBE_TOPIC = 'simulator-probe';

export interface ClusterOptions {
  readonly seed: number | string;
  readonly nodes: number;
  readonly config: MembershipConfig;
  readonly network: NetworkOptions;
  /** Node i starts joining at i · joinSpacingMs through a random node that started before it. */
  readonly joinSpacingMs: number;
  /** Start every node from these views instead of joining (a snapshot of another cluster). */
  readonly initialViews?: ReadonlyMap<string, InitialView>;
}

export interface ProbeRecord {
  /** The broadcast's message id. */
  readonly id: string;
  readonly origin: string;
  readonly sentAt: number;
  /** 1 at the index of every node that delivered the broadcast (the origin included). */
  readonly delivered: Uint8Array;
  /** Highest hop count a delivery had. */
  lastHop: number;
}

export interface MessageCounts {
  /** HyParView control messages (join, neighbour, shuffle, disconnect…) on the membership channel. */
  membership: number;
  /** Plumtree messages (gossip, IHAVE, GRAFT, PRUNE) on the broadcast channel. */
  broadcast: number;
}

export interface Cluster {
  readonly simulation: Simulation;
  readonly ids: readonly string[];
  membership(id: string): Membership;
  isUp(id: string): boolean;
  live(): string[];
  crash(ids: readonly string[]): void;
  /** Every live node's active view. */
  activeViews(): Map<string, readonly string[]>;
  /** Every live node's active and passive views, to start another cluster from. */
  views(): Map<string, InitialView>;
  /** Broadcasts a probe from `origin` and records who delivers it. */
  probe(origin: string): ProbeRecord;
  /**
   * Share of the nodes live now that delivered the probe. The probe is measured then: the cluster
   * stops recording its deliveries and lets go of its record (a byte per node), so that a run holds
   * the records of the probes in flight only, not of every probe sent since the cluster started.
   */
  measure(record: ProbeRecord): { readonly delivered: number; readonly live: number; readonly reliability: number };
  /** Messages handed to the transport by every node since the cluster started or the last reset. */
  messages(): MessageCounts;
  resetMessages(): void;
  /** Sum of a Plumtree counter (`gossipSent`, `ihaveSent`, …) over the live nodes. */
  plumtreeCounter(name: string): number;
}

/** Wraps a transport so that every message a node sends is counted by channel. */
function countingTransport(transport: PeerTransport, config: MembershipConfig, counts: MessageCounts): PeerTransport {
  return {
    nodeId: transport.nodeId,
    send: (peer, channel, payload, options) => {
      if (channel === config.membershipChannel) counts.membership += 1;
      else if (channel === config.broadcastChannel) counts.broadcast += 1;
      return options === undefined ? transport.send(peer, channel, payload) : transport.send(peer, channel, payload, options);
    },
    onMessage: (channel, handler) => transport.onMessage(channel, handler),
    on: (event, handler) => transport.on(event, handler),
    connect: (peer) => transport.connect(peer),
    disconnect: (peer) => transport.disconnect(peer),
    peers: () => transport.peers(),
  };
}

export function createCluster(options: ClusterOptions): Cluster {
  const simulation = createSimulation({ seed: options.seed, trace: 'off', network: options.network });
  const ids = Array.from({ length: options.nodes }, (_, index) => `n${index}`);
  const indexOf = new Map(ids.map((id, index) => [id, index]));
  const memberships = new Array<Membership | undefined>(options.nodes);
  const probes = new Map<string, ProbeRecord>();
  const counts: MessageCounts = { membership: 0, broadcast: 0 };
  // Node i joins through one node that started before it, drawn from the simulation's own randomness.
  const seeds = ids.map((_, index) => (index === 0 ? [] : [ids[simulation.random.int(0, index)]!]));

  ids.forEach((id, index) => {
    simulation.addNode(id, {
      start: ({ clock, random, transport }) => {
        const initialView = options.initialViews?.get(id);
        const membership = createMembership({
          nodeId: id,
          transport: countingTransport(transport, options.config, counts),
          clock,
          random,
          seeds: initialView === undefined ? seeds[index]! : [],
          topology: 'hyparview',
          config: options.config,
          ...(initialView === undefined ? {} : { initialView }),
        });
        memberships[index] = membership;
        membership.subscribe(PROBE_TOPIC, (message) => {
          const record = probes.get(message.id);
          if (record === undefined || record.delivered[index] === 1) return;
          record.delivered[index] = 1;
          if (message.hops > record.lastHop) record.lastHop = message.hops;
        });
        // A timer, so that a restored view never names a node that has not been added yet.
        clock.setTimer(initialView === undefined ? index * options.joinSpacingMs : 0, () => {
          membership.join().catch(() => undefined);
        });
      },
    });
  });

  const membership = (id: string): Membership => {
    const found = memberships[indexOf.get(id) ?? -1];
    if (found === undefined) throw new Error(`no membership for node ${id}`);
    return found;
  };
  const isUp = (id: string): boolean => simulation.node(id).up;
  const live = (): string[] => ids.filter(isUp);

  return {
    simulation,
    ids,
    membership,
    isUp,
    live,
    crash(targets) {
      for (const id of targets) simulation.crash(id);
    },
    activeViews() {
      const views = new Map<string, readonly string[]>();
      for (const id of live()) views.set(id, membership(id).activeView());
      return views;
    },
    views() {
      const views = new Map<string, InitialView>();
      for (const id of live()) views.set(id, { active: membership(id).activeView(), passive: membership(id).passiveView() });
      return views;
    },
    probe(origin) {
      const id = membership(origin).broadcast(PROBE_TOPIC, { sentAt: simulation.now() });
      const record: ProbeRecord = { id, origin, sentAt: simulation.now(), delivered: new Uint8Array(options.nodes), lastHop: 0 };
      record.delivered[indexOf.get(origin)!] = 1;
      probes.set(id, record);
      return record;
    },
    measure(record) {
      probes.delete(record.id);
      let delivered = 0;
      let alive = 0;
      ids.forEach((id, index) => {
        if (!isUp(id)) return;
        alive += 1;
        if (record.delivered[index] === 1) delivered += 1;
      });
      return { delivered, live: alive, reliability: alive === 0 ? 1 : delivered / alive };
    },
    messages() {
      return { ...counts };
    },
    resetMessages() {
      counts.membership = 0;
      counts.broadcast = 0;
    },
    plumtreeCounter(name) {
      let sum = 0;
      for (const id of live()) sum += membership(id).stats().plumtree[name] ?? 0;
      return sum;
    },
  };
}
