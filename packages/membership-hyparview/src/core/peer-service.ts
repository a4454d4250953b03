// What every peer service (HyParView, full mesh, client-server) looks like to the driver and to
// Plumtree: a synchronous state machine fed with messages, peer failures and ticks, which
// queues effects (messages to send, neighbours gained and lost) for the driver to carry out.
import type { Random } from '@foundation/core';
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

/**
 * The schedule of a service's seed rejoins (HyParView's JOIN, client-server's hello to a seed),
 * so that overlays formed apart merge: the first at a random offset into the interval after
 * `start`, then one every interval, at once when the first seeds of a node that never reached
 * one arrive. A node known to share an overlay with a seed (`reached`) asks only with the
 * probability `chance` draws from the size estimate, so an overlay asks about once per interval
 * whatever its size. Its draws come from a generator of their own (forked by label, so taking
 * nothing from the service's stream): turning rejoins on or off leaves the rest of a seeded run
 * as it was. What a rejoin sends, and to which candidates, is the service's.
 */
export class SeedRejoinSchedule {
  /** Undefined when rejoining is off (no options, or an interval of 0). */
  private readonly options: SeedRejoinOptions | undefined;
  private readonly random: Random;
  private running = false;
  private next = Number.POSITIVE_INFINITY;
  /**
   * Whether this node is known to share an overlay with one of its seeds (a seed answered it,
   * or is its neighbour). Until then it may have formed an overlay apart, so it asks every
   * interval rather than with the cluster-wide probability.
   */
  reached = false;

  constructor(options: SeedRejoinOptions | undefined, random: Random) {
    this.options = options !== undefined && options.intervalMs > 0 ? options : undefined;
    this.random = random.fork('seed-rejoin');
  }

  /** When the next rejoin is due (absolute ms; Infinity when off or stopped). */
  get nextAt(): number {
    return this.next;
  }

  /** The service started: the first rejoin comes at a random point of the first interval. */
  start(now: number): void {
    this.running = true;
    if (this.options !== undefined) this.next = now + this.random.float() * this.options.intervalMs;
  }

  stop(): void {
    this.running = false;
    this.next = Number.POSITIVE_INFINITY;
  }

  /**
   * The seeds changed from `hadSeeds` to `hasSeeds`. A node that started with no seed (none
   * configured yet, DNS not answering) took itself for the first of the cluster, and others may
   * have joined it since: its first seeds are asked at once.
   */
  seedsChanged(hadSeeds: boolean, hasSeeds: boolean, now: number): void {
    if (!hadSeeds && hasSeeds && this.running && !this.reached && this.options !== undefined) this.next = Math.min(this.next, now);
  }

  /** Whether a rejoin is due at `now`; when it is, the next one is scheduled an interval later. */
  due(now: number): boolean {
    if (now < this.next) return false;
    this.next = now + this.options!.intervalMs;
    return true;
  }

  /**
   * Whether to ask a seed this time: always until a seed is reached; then with probability
   * 1 / `share(n)` for an estimated n nodes, and never while there is no estimate.
   */
  chance(share: (size: number) => number): boolean {
    if (!this.reached) return true;
    const size = this.options!.clusterSize();
    return size !== undefined && Number.isFinite(size) && this.random.float() * share(size) < 1;
  }

  /** The seed to ask, among the candidates (non-empty). */
  pick(candidates: readonly string[]): string {
    return this.random.pick(candidates);
  }
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
  /**
   * Messages to `peer` are held until the transport connects to it (none are, in a transport
   * that needs no connection): a service that times out requests allows for the connection.
   */
  peerConnecting?(peer: string, now: number): void;
  /** A connection to `peer` came up, and what was held for it has left. */
  peerUp?(peer: string, now: number): void;
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
