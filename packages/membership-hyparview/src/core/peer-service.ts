// What every peer service (HyParView, full mesh, client-server) looks like to the driver and to
// Plumtree: a synchronous state machine fed with messages, peer failures and ticks, which
// queues effects (messages to send, neighbours gained and lost) for the driver to carry out.
import type { TopologyMode } from './config';
import type { ServiceMessage } from './messages';

/** Why a node stopped being a neighbour. */
export type LeaveReason =
  /** Its connection failed or its heartbeats stopped. */
  | 'failed'
  /** It left the cluster (`leave()`). */
  | 'left'
  /** It is alive, but one side dropped the link (HyParView making room, a topology change). */
  | 'disconnected';

export type ServiceEffect =
  | {
      readonly kind: 'send';
      readonly to: string;
      readonly message: ServiceMessage;
      /** The service needs to learn if `to` is dead (a request awaiting an answer): the driver opens a connection to watch. */
      readonly watch: boolean;
    }
  | { readonly kind: 'neighbor-up'; readonly peer: string }
  | { readonly kind: 'neighbor-down'; readonly peer: string; readonly reason: LeaveReason }
  /** A broadcast on one of the membership's own `$` topics (client-server announcements). */
  | { readonly kind: 'publish'; readonly topic: string; readonly payload: unknown };

/** What `takeEffects` returns when nothing is queued (shared, frozen). */
export const NO_EFFECTS: readonly never[] = Object.freeze([]);

/** The effects a core queues until the driver takes them (`takeEffects`). */
export class EffectQueue<Effect> {
  /**
   * NO_EFFECTS until the first push after a take, which makes the list: a list made at `take`
   * would have left the cache by the next push (in a simulation, thousands of other nodes'
   * messages later), and a take with nothing queued reads the shared empty list instead.
   */
  private queued: Effect[] | readonly never[] = NO_EFFECTS;

  push(effect: Effect): void {
    if (this.queued === NO_EFFECTS) this.queued = [effect];
    else (this.queued as Effect[]).push(effect);
  }

  /** Everything queued since the last call, in order; NO_EFFECTS (no allocation) when nothing is. */
  take(): readonly Effect[] {
    const queued = this.queued;
    this.queued = NO_EFFECTS;
    return queued;
  }
}

/** How often a cluster asks its seeds again (the `seedRejoinIntervalMs` option and the driver's size estimate). */
export interface SeedRejoinOptions {
  /** The whole cluster sends about one rejoin per interval; 0 turns rejoining off. */
  readonly intervalMs: number;
  /** The estimated number of nodes in this node's overlay, or undefined while there is no estimate yet. */
  readonly clusterSize: () => number | undefined;
}

export interface PeerServiceStats {
  readonly [counter: string]: number;
}

export interface PeerService {
  readonly mode: TopologyMode;
  /** The topology epoch stamped on this service's messages. */
  readonly epoch: number;
  /** A newer epoch for the same topology (a pin or unpin): later messages carry it. */
  setEpoch(epoch: number): void;
  /** Starts joining through `contacts` (seeds, or the neighbours of the service being replaced). */
  join(contacts: readonly string[], now: number): void;
  /** Says goodbye to every neighbour and stops. */
  leave(now: number): void;
  /** Stops without messages (a topology switch retires this service; its links are released). */
  retire(now: number): void;
  /** A message of this service from `from`. */
  receive(from: string, message: ServiceMessage, now: number): void;
  /** The transport (or the failure detector) reports `peer` dead or unreachable. */
  peerDown(peer: string, now: number): void;
  /** A heartbeat arrived from `peer`; a service that does not count it as a neighbour may answer. */
  heartbeatFrom(peer: string, now: number): void;
  /** Fresh seeds (re-resolved): kept as contacts for rejoining, or, in a full mesh, as members. */
  updateSeeds(seeds: readonly string[], now: number): void;
  /** Does whatever is due at `now`. */
  tick(now: number): void;
  /** When the service next needs a tick (absolute ms; Infinity when idle). */
  nextTick(): number;
  /** The peers broadcasts travel to. */
  neighbors(): readonly string[];
  isNeighbor(peer: string): boolean;
  /** The nodes `members()` reports for this service. */
  members(): string[];
  /** Effects queued since the last call. */
  /** Effects queued since the last call (an empty array when there are none: do not keep or modify it). */
  takeEffects(): readonly ServiceEffect[];
  stats(): PeerServiceStats;
}
