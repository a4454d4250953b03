// createMembership: the driver. It owns the transport, the timers and the seeds; it feeds the
// pure cores (a peer service — HyParView, full mesh or client-server — and Plumtree over that
// service's neighbours), carries out their effects, detects failures, estimates the cluster
// size and switches topology. One timer per node: after every input the driver asks each core
// when it next needs a tick and sets the timer for the earliest.
import { FoundationError, createCryptoRandom, createSystemClock } from '@foundation/core';
import type { Random, Scheduler, Timer } from '@foundation/core';
import { ClientServerCore, SERVERS_TOPIC } from '../core/client-server';
import { TOPOLOGY_MODES, isResolvedConfig, resolveConfig } from '../core/config';
import type { DeepPartial, MembershipConfig, TopologyMode } from '../core/config';
import { createDecodeStats, decodeMembershipMessage, decodePlumtreeMessage, MAX_TOPIC_LENGTH } from '../core/decode';
import type { DecodeLimits, DecodeStats } from '../core/decode';
import { FullMeshCore } from '../core/full-mesh';
import { HyParViewCore } from '../core/hyparview';
import type { InitialView } from '../core/hyparview';
import { SERVICE_OF_TYPE, isServiceMessage } from '../core/messages';
import type { HeartbeatMessage, MembershipMessage, ServiceMessage } from '../core/messages';
import { NeighborMonitor } from '../core/neighbor-monitor';
import { payloadBytes } from '../core/payload-size';
import type { LeaveReason, PeerService, SeedRejoinOptions, ServiceEffect } from '../core/peer-service';
import { PlumtreeCore } from '../core/plumtree';
import type { Delivery, PlumtreeEffect } from '../core/plumtree';
import { SizeEstimator } from '../core/size-estimator';
import { TopologyPolicy } from '../core/topology-policy';
import type { HealthSnapshot, SwitchReason } from '../core/topology-policy';
import { InvalidTopicError } from '../errors/invalid-topic-error';
import { JoinTimeoutError } from '../errors/join-timeout-error';
import { MembershipConfigError } from '../errors/membership-config-error';
import { MembershipStoppedError } from '../errors/membership-stopped-error';
import { PayloadTooLargeError } from '../errors/payload-too-large-error';
import { SeedResolutionError } from '../errors/seed-resolution-error';
import { ConnectionManager } from './connections';
import { boundSeeds, isSeedProvider, staticSeeds } from './seeds';
import type { SeedProvider } from './seeds';
import type { InboundMessage, PeerTransport, TransportSendOptions } from './transport';
import { serialAfter, serialNext } from '../core/serial';

export const TOPOLOGY_TOPIC = '$topology';

/** A broadcast as subscribers receive it (the `Broadcast` port's message, with more detail). */
export interface BroadcastMessage {
  /** The node that published it. */
  readonly from: string;
  /** Untrusted: decode and check it. */
  readonly payload: unknown;
  readonly topic: string;
  /** Unique per broadcast; the same message may arrive twice after long partitions (Plumtree's dedup window is bounded). */
  readonly id: string;
  /** Hops it travelled. */
  readonly hops: number;
}

/** Publish to the cluster, receive from it (the port other packages declare). */
export interface Broadcast {
  readonly nodeId: string;
  /** Broadcasts `payload` on `topic`; false when it cannot be accepted now (the membership stopped). */
  publish(topic: string, payload: unknown): boolean;
  /** Receives what other nodes publish on `topic`; returns the function that unsubscribes. */
  subscribe(topic: string, handler: (message: BroadcastMessage) => void): () => void;
}

/** Membership changes (the port other packages declare). */
export interface MembershipEvents {
  /** The nodes this node is linked to now (see `members()`). */
  members(): string[];
  on(event: 'member-join' | 'member-leave', handler: (member: string, reason: LeaveReason | undefined) => void): () => void;
}

export interface TopologyChange {
  readonly from: TopologyMode;
  readonly to: TopologyMode;
  readonly epoch: number;
  /** Why: the local decision's reason, `manual`, or `remote` when another node's decision was adopted. */
  readonly reason: SwitchReason | 'remote';
}

export interface TopologyStatus {
  readonly mode: TopologyMode;
  readonly epoch: number;
  /** Set by a manual switch: no automatic switching until `setTopology('auto')`. */
  readonly pinned: boolean;
  readonly estimatedSize: number;
  /** In client-server mode, this node's role. */
  readonly role: 'server' | 'client' | undefined;
  readonly lastSwitchAt: number | undefined;
}

export interface MembershipEventMap {
  'member-join': (member: string) => void;
  'member-leave': (member: string, reason: LeaveReason) => void;
  'member-suspect': (member: string, phi: number) => void;
  'topology-change': (change: TopologyChange) => void;
  'seed-error': (error: SeedResolutionError) => void;
  'handler-error': (error: unknown, topic: string) => void;
}

export interface MembershipOptions {
  /** This node's id; must equal the transport's `nodeId`. */
  readonly nodeId: string;
  readonly transport: PeerTransport;
  /** Where to find the cluster: node ids, or a provider (e.g. `createDnsSeeds`). None: this node starts a cluster. */
  readonly seeds?: readonly string[] | SeedProvider;
  /** The topology: `auto` (default) lets the manager choose; a mode pins it. Overrides `config.topology.mode`. */
  readonly topology?: 'auto' | TopologyMode;
  /** Time and timers. Default the system clock (timers unref'd). */
  readonly clock?: Scheduler;
  /** Randomness. Default crypto-backed; seeded in simulations. */
  readonly random?: Random;
  /** Overrides of the defaults (`defaultLanConfig()`); pass `defaultLocalConfig()` for fast timings. */
  readonly config?: DeepPartial<MembershipConfig>;
  /** A view remembered from an earlier run: HyParView starts from it instead of joining from scratch. */
  readonly initialView?: InitialView;
  /** Current bandwidth use in 0–1 (from your transport's statistics), a health input of the topology manager. */
  readonly bandwidthUse?: () => number | undefined;
}

export interface MembershipStats {
  readonly topology: TopologyStatus;
  readonly members: number;
  readonly decode: Readonly<DecodeStats>;
  readonly service: Readonly<Record<string, number>>;
  readonly plumtree: Readonly<Record<string, number>>;
  /**
   * The driver's counters. A transport call that throws counts once, in the counter of the call:
   * `sendErrors`, `connectErrors` or `disconnectErrors`.
   */
  readonly driver: Readonly<Record<string, number>>;
}

export interface Membership extends Broadcast, MembershipEvents {
  readonly nodeId: string;
  /** Resolves once this node has its first neighbour (at once when there are no seeds); rejects with JoinTimeoutError. */
  join(): Promise<void>;
  /** Says goodbye to the neighbours and stops; resolves once goodbyes had time to leave. */
  leave(): Promise<void>;
  /** The nodes this node is linked to: every node in a full mesh, the active view in HyParView, the servers (or servers and clients) in client-server. */
  members(): string[];
  /** HyParView's active view (in other topologies: the neighbours). */
  activeView(): string[];
  /** HyParView's passive view (empty in other topologies). */
  passiveView(): string[];
  /** Broadcasts on `topic` (not starting with `$`); returns the message id. Throws InvalidTopicError, PayloadTooLargeError, MembershipStoppedError. */
  broadcast(topic: string, payload: unknown): string;
  topology(): TopologyStatus;
  /** A manual switch: pins `mode` cluster-wide (no cooldown), or `auto` to let the manager choose again. */
  setTopology(mode: 'auto' | TopologyMode): void;
  /** φ suspicion level of a neighbour (0 when unknown). */
  suspicion(member: string): number;
  health(): HealthSnapshot;
  stats(): MembershipStats;
  on<E extends keyof MembershipEventMap>(event: E, handler: MembershipEventMap[E]): () => void;
  on(event: 'member-join' | 'member-leave', handler: (member: string, reason: LeaveReason | undefined) => void): () => void;
}

interface Retiring {
  readonly service: PeerService;
  readonly until: number;
}

const RANK: Readonly<Record<TopologyMode, number>> = { 'full-mesh': 0, hyparview: 1, 'client-server': 2 };

/** The broadcast id of a topology decision: every node proposing or passing on the same decision uses it, so copies merge. */
function topologyMessageId(epoch: number, mode: TopologyMode, pinned: boolean): string {
  return `topology:${epoch}:${mode}:${pinned ? 1 : 0}`;
}

function checkTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) throw new InvalidTopicError(topic, `must be a string of 1–${MAX_TOPIC_LENGTH} characters`);
  if (topic.startsWith('$')) throw new InvalidTopicError(topic, 'topics starting with "$" are reserved for the membership');
}

/**
 * Whether `value` is an array of node ids. By index, not with every(): every() skips the holes of
 * a sparse array, and restore() took each hole (undefined) for a peer.
 */
function isNodeIdList(value: unknown, maxNodeIdLength: number): boolean {
  if (!Array.isArray(value)) return false;
  for (let index = 0; index < value.length; index += 1) {
    const entry: unknown = value[index];
    if (typeof entry !== 'string' || entry.length === 0 || entry.length > maxNodeIdLength) return false;
  }
  return true;
}

/**
 * A remembered view is often read back from a file, so it is checked as the seeds are: a string
 * where a list belongs was taken character by character (each asked as a neighbour), and entries
 * that are not node ids went to the transport as peers.
 */
function checkInitialView(view: unknown, maxNodeIdLength: number): void {
  if (typeof view !== 'object' || view === null || Array.isArray(view)) throw new MembershipConfigError('initialView', 'must be an object { active?, passive?, trusted? }');
  const { active, passive, trusted } = view as { active?: unknown; passive?: unknown; trusted?: unknown };
  for (const [name, list] of [['active', active], ['passive', passive]] as const) {
    if (list === undefined) continue;
    if (!isNodeIdList(list, maxNodeIdLength)) throw new MembershipConfigError('initialView', `${name} must be an array of node ids (strings of 1–${maxNodeIdLength} characters)`);
  }
  if (trusted !== undefined && typeof trusted !== 'boolean') throw new MembershipConfigError('initialView', 'trusted must be a boolean');
}

class MembershipDriver implements Membership {
  readonly nodeId: string;
  private readonly transport: PeerTransport;
  private readonly clock: Scheduler;
  private readonly random: Random;
  private readonly config: MembershipConfig;
  private readonly seedProvider: SeedProvider;
  private readonly initialView: InitialView | undefined;
  private readonly bandwidthUse: (() => number | undefined) | undefined;
  private readonly limits: DecodeLimits;
  private readonly decodeStats = createDecodeStats();
  private readonly connections: ConnectionManager;
  private readonly plumtree: PlumtreeCore;
  private readonly monitor: NeighborMonitor;
  private readonly policy: TopologyPolicy;
  private readonly estimator: SizeEstimator;
  private readonly membershipSendOptions: TransportSendOptions;
  private service: PeerService | undefined;
  private retiring: Retiring[] = [];
  /** How many services (current and retiring) link to each peer. */
  private readonly links = new Map<string, number>();
  private readonly linkedSince = new Map<string, number>();
  private readonly subscriptions = new Map<string, Set<(message: BroadcastMessage) => void>>();
  /** Made at the first `on` (simulated nodes mostly have none). */
  private listeners: Map<string, Set<(...args: never[]) => void>> | undefined;
  private readonly unsubscribe: (() => void)[] = [];
  /** Made at the first stale message answered. */
  private staleAnswered: Map<string, number> | undefined;
  private seeds: readonly string[] = [];
  /** Seed resolutions begun (by a promise), and the latest of them whose answer is in use. */
  private seedResolutions = 0;
  private seedsAnsweredBy = 0;
  /** The provider has not answered yet, in time or late: join() does not take the node for the first. */
  private seedsUnknown = false;
  private mode: TopologyMode;
  private epoch = 0;
  private pinned: boolean;
  /** False while the current epoch was only inferred from a service message (its pin is unknown). */
  private pinnedKnown = true;
  private lastSwitchAt: number | undefined;
  /** Since when this node has had at least one link without a break (undefined while it has none). */
  private linkedAt: number | undefined;
  private state: 'new' | 'joining' | 'running' | 'stopped' = 'new';
  private leaving: Promise<void> | undefined;
  private timer: Timer | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private busy = false;
  private readonly inbox: (() => void)[] = [];
  private nextHeartbeatAt = Number.POSITIVE_INFINITY;
  private nextEvaluateAt = Number.POSITIVE_INFINITY;
  private nextSizeRoundAt = Number.POSITIVE_INFINITY;
  private nextSeedRefreshAt = Number.POSITIVE_INFINITY;
  private nextCollectAt = Number.POSITIVE_INFINITY;
  private nextSizeSendAt = Number.POSITIVE_INFINITY;
  private seedRefreshRunning = false;
  /** The last exact cluster size (a full mesh counts its members). */
  private countedSize = 1;
  /** The estimation round client-server's election last read (see `reelect`). */
  private electionRound = -1;
  /**
   * The size is estimated also while the topology is pinned, for the seed rejoin (its rate is
   * scaled by it); without rejoining, only the topology manager needs it.
   */
  private readonly estimatesWhenPinned: boolean;
  /** What HyParView and client-server read to scale their seed rejoins (made once, shared by every service). */
  private readonly seedRejoin: SeedRejoinOptions;
  /** The timeouts of seed resolutions still waiting for their provider (see `resolveSeeds`). */
  private readonly seedTimers = new Set<Timer>();
  /** Passed to every seed resolution and aborted at leave(), so that a lookup in flight stops then. */
  private readonly seedLookups = new AbortController();
  private joinWaiters: { resolve: () => void; reject: (error: unknown) => void; timer: Timer }[] = [];
  private readonly counters = {
    staleEpoch: 0,
    /** Service messages of another mode at this node's epoch: two decisions for one epoch (settled by `outranks`). */
    epochConflicts: 0,
    topologySwitches: 0,
    heartbeatTimeouts: 0,
    suspicions: 0,
    handlerErrors: 0,
    unknownSender: 0,
  };

  constructor(options: MembershipOptions) {
    if (typeof options.nodeId !== 'string' || options.nodeId.length === 0) throw new MembershipConfigError('nodeId', 'must be a non-empty string');
    if (options.transport === undefined || typeof options.transport.send !== 'function') throw new MembershipConfigError('transport', 'must implement the transport port');
    if (options.transport.nodeId !== options.nodeId) throw new MembershipConfigError('nodeId', `must equal the transport's nodeId ("${options.transport.nodeId}")`);
    this.nodeId = options.nodeId;
    this.transport = options.transport;
    this.clock = options.clock ?? createSystemClock({ keepAlive: false });
    this.random = options.random ?? createCryptoRandom();
    const given = options.config;
    if (isResolvedConfig(given) && (options.topology === undefined || options.topology === given.topology.mode)) {
      this.config = given;
    } else {
      const overrides = options.topology === undefined ? given : { ...given, topology: { ...given?.topology, mode: options.topology } };
      this.config = resolveConfig(overrides);
    }
    if (options.nodeId.length > this.config.maxNodeIdLength) throw new MembershipConfigError('nodeId', `must be at most ${this.config.maxNodeIdLength} characters`);
    const seeds = options.seeds ?? [];
    if (isSeedProvider(seeds)) this.seedProvider = seeds;
    else if (Array.isArray(seeds) && seeds.every((seed) => typeof seed === 'string')) this.seedProvider = staticSeeds(seeds);
    else throw new MembershipConfigError('seeds', 'must be an array of node ids or a seed provider');
    if (options.initialView !== undefined) checkInitialView(options.initialView, this.config.maxNodeIdLength);
    this.initialView = options.initialView;
    this.bandwidthUse = options.bandwidthUse;
    const hyparview = this.config.hyparview;
    this.limits = {
      maxNodeIdLength: this.config.maxNodeIdLength,
      maxShuffleNodes: hyparview.shuffleActiveCount + hyparview.shufflePassiveCount + 1,
      maxMeshMembers: this.config.fullMesh.maxMembers,
      maxServers: this.config.clientServer.maxServers,
      sizeSamples: this.config.topology.sizeEstimateSamples,
      maxIdsPerMessage: 1024,
      maxPayloadBytes: this.config.plumtree.maxPayloadBytes,
    };
    this.connections = new ConnectionManager(
      this.nodeId,
      this.transport,
      this.config.connectionLingerMs,
      this.config.maxQueuedPerPeer,
      // As the peer-down of a dial that failed, after the effect being carried out (the driver is busy then).
      (peer) => this.run(() => this.onPeerDown(peer)),
    );
    this.plumtree = new PlumtreeCore({ self: this.nodeId, config: this.config.plumtree, random: this.random.fork('plumtree'), maxIdsPerMessage: this.limits.maxIdsPerMessage });
    this.monitor = new NeighborMonitor(this.config.failureDetection);
    this.policy = new TopologyPolicy(this.config.topology);
    this.estimator = new SizeEstimator(this.config.topology.sizeEstimateSamples, this.random.fork('size'));
    this.membershipSendOptions = { partitionKey: this.nodeId };
    this.estimatesWhenPinned = this.config.seedRejoinIntervalMs > 0;
    this.seedRejoin = { intervalMs: this.config.seedRejoinIntervalMs, clusterSize: () => this.knownSize() };
    const configured = this.config.topology.mode;
    this.pinned = configured !== 'auto';
    this.mode = configured === 'auto' ? (this.initialView === undefined ? 'full-mesh' : 'hyparview') : configured;
  }

  // ---- the public API -----------------------------------------------------------------------

  join(): Promise<void> {
    if (this.state === 'stopped') return Promise.reject(new MembershipStoppedError(this.nodeId, 'join'));
    const promise = new Promise<void>((resolve, reject) => {
      const timer = this.clock.setTimer(this.config.joinTimeoutMs, () => {
        this.joinWaiters = this.joinWaiters.filter((waiter) => waiter.timer !== timer);
        reject(new JoinTimeoutError(this.nodeId, this.config.joinTimeoutMs, this.seeds));
      });
      this.joinWaiters.push({ resolve, reject, timer });
    });
    if (this.state === 'new') {
      this.state = 'joining';
      this.attachTransport();
      const resolved = this.resolveSeeds();
      if (Array.isArray(resolved)) this.start(resolved);
      else {
        (resolved as Promise<readonly string[] | undefined>).then(
          (seeds) => this.run(() => this.start(seeds ?? [])),
          () => this.run(() => this.start([])),
        );
      }
    } else this.settleJoin();
    return promise;
  }

  leave(): Promise<void> {
    // A second call, also while the first waits for its goodbyes to go out, gets the same promise.
    // It is kept before stopping begins: the goodbyes end the links, and a member-leave listener
    // that calls leave() then started a second stop (every peer disconnected again) and got a
    // promise of its own.
    if (this.leaving === undefined) {
      let stopped!: () => void;
      let failed!: (error: unknown) => void;
      this.leaving = new Promise<void>((resolve, reject) => {
        stopped = resolve;
        failed = reject;
      });
      this.stop().then(stopped, failed);
    }
    return this.leaving;
  }

  private async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    const now = this.now();
    this.run(() => {
      this.eachService((service) => service.leave(now));
    });
    this.state = 'stopped';
    this.timer?.cancel();
    this.timer = undefined;
    for (const waiter of this.joinWaiters) {
      waiter.timer.cancel();
      waiter.reject(new MembershipStoppedError(this.nodeId, 'join'));
    }
    this.joinWaiters = [];
    for (const timer of this.seedTimers) timer.cancel();
    this.seedTimers.clear();
    // A DNS query in flight ran on to its own timeout, retries included; its answer was ignored.
    this.seedLookups.abort();
    // Goodbyes go out before the connections close.
    await new Promise<void>((resolve) => this.clock.setTimer(Math.min(200, this.config.connectionLingerMs), resolve));
    for (const off of this.unsubscribe.splice(0)) off();
    this.connections.closeAll();
  }

  members(): string[] {
    return [...this.links.keys()];
  }

  activeView(): string[] {
    const service = this.service;
    if (service instanceof HyParViewCore) return service.activeView();
    return service === undefined ? [] : [...service.neighbors()];
  }

  passiveView(): string[] {
    const service = this.service;
    return service instanceof HyParViewCore ? service.passiveView() : [];
  }

  broadcast(topic: string, payload: unknown): string {
    checkTopic(topic);
    if (this.state === 'stopped') throw new MembershipStoppedError(this.nodeId, 'broadcast');
    const bytes = payloadBytes(payload);
    if (bytes !== undefined && bytes > this.config.plumtree.maxPayloadBytes) throw new PayloadTooLargeError(topic, bytes, this.config.plumtree.maxPayloadBytes);
    // The id is drawn now (as broadcast would draw it first): called from a handler, the driver
    // is busy and runs the broadcast after it, and the caller still gets the message's id.
    const id = this.plumtree.newId();
    this.run(() => {
      this.plumtree.broadcast(topic, payload, this.now(), id);
    });
    return id;
  }

  publish(topic: string, payload: unknown): boolean {
    if (this.state === 'stopped') return false;
    this.broadcast(topic, payload);
    return true;
  }

  subscribe(topic: string, handler: (message: BroadcastMessage) => void): () => void {
    checkTopic(topic);
    let handlers = this.subscriptions.get(topic);
    if (handlers === undefined) {
      handlers = new Set();
      this.subscriptions.set(topic, handlers);
    }
    const wrapped = (message: BroadcastMessage): void => handler(message);
    handlers.add(wrapped);
    return () => {
      const current = this.subscriptions.get(topic);
      current?.delete(wrapped);
      if (current?.size === 0) this.subscriptions.delete(topic);
    };
  }

  on(event: string, handler: (...args: never[]) => void): () => void {
    const listeners = (this.listeners ??= new Map<string, Set<(...args: never[]) => void>>());
    let handlers = listeners.get(event);
    if (handlers === undefined) {
      handlers = new Set();
      listeners.set(event, handlers);
    }
    const wrapped = (...args: never[]): void => handler(...args);
    handlers.add(wrapped);
    return () => {
      listeners.get(event)?.delete(wrapped);
    };
  }

  topology(): TopologyStatus {
    const service = this.service;
    return {
      mode: this.mode,
      epoch: this.epoch,
      pinned: this.pinned,
      estimatedSize: this.estimatedSize(),
      role: service instanceof ClientServerCore ? service.role : undefined,
      lastSwitchAt: this.lastSwitchAt,
    };
  }

  setTopology(mode: 'auto' | TopologyMode): void {
    if (mode !== 'auto' && !TOPOLOGY_MODES.includes(mode)) throw new MembershipConfigError('topology', `must be "auto" or one of ${TOPOLOGY_MODES.join(', ')}`);
    if (this.state === 'stopped') throw new MembershipStoppedError(this.nodeId, 'switch topology');
    this.run(() => {
      const now = this.now();
      if (mode === 'auto') this.propose(this.mode, false, 'manual', now);
      else this.propose(mode, true, 'manual', now);
    });
  }

  suspicion(member: string): number {
    return this.monitor.phi(member, this.now());
  }

  health(): HealthSnapshot {
    return this.policy.health(this.now());
  }

  stats(): MembershipStats {
    return {
      topology: this.topology(),
      members: this.links.size,
      decode: { ...this.decodeStats },
      service: this.service?.stats() ?? {},
      plumtree: this.plumtree.stats(),
      driver: { ...this.counters, ...this.connections.counters, connected: this.connections.connected.size, retiringServices: this.retiring.length },
    };
  }

  // ---- running inputs -----------------------------------------------------------------------

  private now(): number {
    return this.clock.monotonic();
  }

  /** Runs one input to completion, then carries out the effects; inputs arriving meanwhile wait their turn. */
  private run(input: () => void): void {
    if (this.busy) {
      this.inbox.push(input);
      return;
    }
    this.busy = true;
    try {
      input();
      this.settle();
    } finally {
      this.busy = false;
    }
    if (this.state !== 'stopped') this.schedule();
  }

  /** Drains effects, then the inputs that arrived while running. */
  private settle(): void {
    this.drain();
    for (let next = this.inbox.shift(); next !== undefined; next = this.inbox.shift()) {
      next();
      this.drain();
    }
  }

  private attachTransport(): void {
    // Messages take a path without a closure per message (this is the hot path of a simulation).
    const onMembership = (message: InboundMessage): void => {
      if (this.busy) {
        this.inbox.push(() => this.onMembershipMessage(message));
        return;
      }
      this.busy = true;
      try {
        this.onMembershipMessage(message);
        this.settle();
      } finally {
        this.busy = false;
      }
      if (this.state !== 'stopped') this.schedule();
    };
    const onBroadcast = (message: InboundMessage): void => {
      if (this.busy) {
        this.inbox.push(() => this.onBroadcastMessage(message));
        return;
      }
      this.busy = true;
      try {
        this.onBroadcastMessage(message);
        this.settle();
      } finally {
        this.busy = false;
      }
      if (this.state !== 'stopped') this.schedule();
    };
    this.unsubscribe.push(
      this.transport.onMessage(this.config.membershipChannel, onMembership),
      this.transport.onMessage(this.config.broadcastChannel, onBroadcast),
      this.transport.on('peer-up', (peer) => this.run(() => this.onPeerUp(peer))),
      this.transport.on('peer-down', (peer) => this.run(() => this.onPeerDown(peer))),
    );
    // Peers whose connection came up before this (the transport runs before the membership
    // joins): their peer-up was missed, and a link made over such a connection counted as never
    // connected and was given up as one-sided after the grace period. Those that never become a
    // link are closed after the linger time like any one-off connection, so collection starts
    // here: nothing else need start it (a join over a connection already up brings no peer-up),
    // and such a connection stayed open for good.
    const now = this.now();
    const peers = this.transport.peers();
    for (const peer of peers) this.connections.peerUp(peer, now);
    if (peers.length > 0) this.scheduleCollect(now);
  }

  private resolveSeeds(): readonly string[] | Promise<readonly string[] | undefined> {
    let answer: readonly string[] | Promise<readonly string[]>;
    try {
      answer = this.seedProvider.resolve(this.seedLookups.signal);
    } catch (error) {
      this.answeredAtOnce();
      this.seedError(error);
      return this.seeds;
    }
    if (Array.isArray(answer)) {
      this.answeredAtOnce();
      return this.acceptSeeds(answer);
    }
    if (typeof (answer as { then?: unknown } | null)?.then !== 'function') {
      this.answeredAtOnce();
      this.seedError(new SeedResolutionError(this.seedProvider.name, 'the seed provider returned neither a list nor a promise', answer));
      return this.seeds;
    }
    // Never rejects, and settles within a bound: a refresh left waiting on a rejection, or on a
    // provider that never answers (a fetch without a timeout), would stop re-resolving for good,
    // and a join left waiting never started the node. An answer must come before the next
    // refresh is due, and before join() would give up, so that the node starts while its join()
    // still waits. A late answer is still used: a provider slower than that bound but healthy (a
    // DNS query retried after its first packet was lost takes 2 s, the local preset's bound is
    // 1 s) was otherwise never heard, and every node using it ran alone as its own cluster.
    const timeoutMs = Math.min(this.config.seedRefreshMs, this.config.joinTimeoutMs / 2);
    this.seedResolutions += 1;
    const resolution = this.seedResolutions;
    return new Promise<readonly string[] | undefined>((resolve) => {
      let timedOut = false;
      const timer = this.clock.setTimer(timeoutMs, () => {
        this.seedTimers.delete(timer);
        timedOut = true;
        // Not known yet is not "first node": join() waits for the late answer (or its timeout).
        if (this.seedsAnsweredBy === 0) this.seedsUnknown = true;
        this.seedError(new SeedResolutionError(this.seedProvider.name, `no answer within ${timeoutMs} ms`));
        resolve(undefined);
      });
      this.seedTimers.add(timer);
      const answered = (outcome: () => readonly string[] | undefined): void => {
        if (this.state === 'stopped') return;
        if (!timedOut) {
          this.seedTimers.delete(timer);
          timer.cancel();
          this.seedsAnsweredBy = Math.max(this.seedsAnsweredBy, resolution);
          this.seedsUnknown = false;
          resolve(outcome());
          return;
        }
        // Late, and a later resolution has answered since: what it said is newer.
        if (resolution < this.seedsAnsweredBy) return;
        this.seedsAnsweredBy = resolution;
        this.seedsUnknown = false;
        this.run(() => {
          const seeds = outcome();
          if (this.state !== 'running') return;
          if (seeds !== undefined) this.service?.updateSeeds(seeds, this.now());
          this.settleJoin();
        });
      };
      (answer as Promise<readonly string[]>).then(
        (list) =>
          answered(() => {
            try {
              return this.acceptSeeds(list);
            } catch (error) {
              this.seedError(error);
              return undefined;
            }
          }),
        (error: unknown) =>
          answered(() => {
            this.seedError(error);
            return undefined;
          }),
      );
    });
  }

  /** The provider answered without a promise: that answer is the newest, whatever one still pending says. */
  private answeredAtOnce(): void {
    this.seedResolutions += 1;
    this.seedsAnsweredBy = this.seedResolutions;
    this.seedsUnknown = false;
  }

  private acceptSeeds(list: readonly string[]): readonly string[] {
    // A provider that breaks its contract (not an array) counts as one that failed.
    if (!Array.isArray(list)) throw new SeedResolutionError(this.seedProvider.name, 'the seed provider did not return a list', list);
    this.seeds = boundSeeds(list, this.config.maxSeeds, (seed) => (typeof seed === 'string' && seed.length <= this.config.maxNodeIdLength && seed !== this.nodeId ? seed : undefined));
    return this.seeds;
  }

  private seedError(error: unknown): void {
    // A resolution that began before leave() and failed after it is nobody's concern any more.
    if (this.state === 'stopped') return;
    const failure = FoundationError.is(error) && error.code === 5904 ? (error as SeedResolutionError) : new SeedResolutionError(this.seedProvider.name, error instanceof Error ? error.message : 'failed', error);
    this.emit('seed-error', failure);
  }

  private start(seeds: readonly string[]): void {
    if (this.state !== 'joining') return;
    this.state = 'running';
    this.run(() => {
      const now = this.now();
      const service = this.createService(this.mode, this.epoch);
      this.service = service;
      if (service instanceof HyParViewCore && this.initialView !== undefined) service.restore(this.initialView, seeds, now);
      else service.join(seeds, now);
      if (this.monitor.enabled) this.nextHeartbeatAt = now + this.random.float() * this.config.failureDetection.heartbeatIntervalMs;
      if (this.seedProvider.fixed !== true) this.nextSeedRefreshAt = now + this.config.seedRefreshMs;
      if (!this.pinned) this.startAutomaticTopology(now);
      else if (this.estimatesPinnedIn(this.mode)) this.nextSizeRoundAt = now + this.random.float() * this.sizeRoundInterval();
      this.settleJoin();
    });
  }

  private startAutomaticTopology(now: number): void {
    this.nextEvaluateAt = now + this.config.topology.evaluateIntervalMs;
    this.nextSizeRoundAt = now + this.random.float() * this.config.topology.sizeEstimateIntervalMs;
  }

  private settleJoin(): void {
    // Before `start` the seeds may still be resolving: an empty list then means "not known yet",
    // not "first node", and `start` settles the waiters once they are known.
    if (this.joinWaiters.length === 0 || this.state !== 'running') return;
    if (this.links.size === 0 && (this.seeds.length > 0 || this.seedsUnknown)) return;
    for (const waiter of this.joinWaiters) {
      waiter.timer.cancel();
      waiter.resolve();
    }
    this.joinWaiters = [];
  }

  private createService(mode: TopologyMode, epoch: number): PeerService {
    const random = this.random.fork(`${mode}#${epoch}`);
    switch (mode) {
      case 'hyparview':
        return new HyParViewCore({ self: this.nodeId, config: this.config.hyparview, random, epoch, seedRejoin: this.seedRejoin });
      case 'full-mesh':
        return new FullMeshCore({ self: this.nodeId, config: this.config.fullMesh, random, epoch, contactTimeoutMs: this.config.hyparview.neighborRequestTimeoutMs, connectTimeoutMs: this.config.hyparview.connectTimeoutMs });
      case 'client-server':
        return new ClientServerCore({
          self: this.nodeId,
          config: this.config.clientServer,
          random,
          epoch,
          estimatedSize: this.knownSize(),
          requestTimeoutMs: this.config.hyparview.neighborRequestTimeoutMs,
          connectTimeoutMs: this.config.hyparview.connectTimeoutMs,
          seedRejoin: this.seedRejoin,
        });
    }
  }

  // ---- messages -------------------------------------------------------------------------------

  private onMembershipMessage(inbound: InboundMessage): void {
    if (this.state !== 'running' || this.service === undefined) return;
    const from = inbound.from;
    if (typeof from !== 'string' || from === this.nodeId || from.length === 0 || from.length > this.config.maxNodeIdLength) {
      this.counters.unknownSender += 1;
      return;
    }
    const message = decodeMembershipMessage(inbound.payload, this.limits, this.decodeStats);
    if (message === undefined) return;
    const now = this.now();
    if (this.links.has(from)) {
      if (this.monitor.enabled) this.monitor.heard(from, now);
    } else this.connections.touch(from, now);
    if (isServiceMessage(message)) {
      this.onServiceMessage(from, message, now);
      return;
    }
    this.onSharedMessage(from, message, now);
  }

  private onServiceMessage(from: string, message: ServiceMessage, now: number): void {
    const current = this.service!;
    if (message.epoch === this.epoch && SERVICE_OF_TYPE[message.type] === this.mode) {
      current.receive(from, message, now);
      return;
    }
    if (serialAfter(message.epoch, this.epoch)) {
      // A newer topology decision reached us through a message of its service: adopt it, and
      // ask the sender for the decision itself (whether it is pinned): sending it our older
      // epoch makes it answer with its own.
      const previous = { type: 'topology' as const, epoch: this.epoch, mode: this.mode, pinned: this.pinned };
      this.adopt(SERVICE_OF_TYPE[message.type], message.epoch, undefined, 'remote', now);
      this.sendMembership(from, previous, now);
      this.service!.receive(from, message, now);
      return;
    }
    const mode = SERVICE_OF_TYPE[message.type];
    const retiring = this.retiring.find((entry) => entry.service.epoch === message.epoch && entry.service.mode === mode);
    if (retiring !== undefined) {
      retiring.service.receive(from, message, now);
      // The answer to a hello of a client-server service of an older epoch, this node running
      // client-server again: the current service took that hello over (see `switchService`), and
      // the list may be its first way to a server. Left to the retiring service, it taught the
      // current one nothing. (Once that one has retired, the answer comes to the current service
      // anyway, below.)
      if (message.type === 'cs-servers' && current instanceof ClientServerCore && current.awaitsServersFrom(from, now)) current.receive(from, message, now);
      return;
    }
    if (message.epoch === this.epoch) {
      // Another decision for this epoch (made concurrently, or on the other side of a partition):
      // this node sends its own, and whichever of the two is outranked adopts the other (see the
      // `topology` message). Dropped, as they were, the two sides of a healed partition never
      // linked again: each side's service ignored the other's messages.
      this.counters.epochConflicts += 1;
      this.answerStale(from, now);
      return;
    }
    this.counters.staleEpoch += 1;
    if (mode === this.mode) current.receive(from, message, now);
    this.answerStale(from, now);
  }

  /** The sender has not heard of the latest decision, or runs one this node's outranks: tell it (at most once a second per peer). */
  private answerStale(peer: string, now: number): void {
    // Only a node that knows the decision (not merely its epoch) may vouch for it.
    if (!this.pinnedKnown) return;
    const answered = (this.staleAnswered ??= new Map<string, number>());
    const last = answered.get(peer);
    if (last !== undefined && now - last < 1000) return;
    if (answered.size > 4096) answered.clear();
    answered.set(peer, now);
    this.sendMembership(peer, { type: 'topology', epoch: this.epoch, mode: this.mode, pinned: this.pinned }, now);
  }

  private onSharedMessage(from: string, message: MembershipMessage, now: number): void {
    switch (message.type) {
      case 'heartbeat':
        this.onHeartbeat(from, message, now);
        return;
      case 'topology':
        // An older decision, or one this node's decision for the same epoch outranks: the sender adopts ours.
        if (serialAfter(this.epoch, message.epoch) || (message.epoch === this.epoch && this.outranks(this.mode, this.pinned && this.pinnedKnown, message.mode, message.pinned))) {
          this.answerStale(from, now);
        } else this.adopt(message.mode, message.epoch, message.pinned, 'remote', now);
        return;
      case 'size':
        if (!this.estimating()) return;
        // Changes are passed on in batches, so minima spread in steps of the batching delay.
        if (this.estimator.merge(message.round, message.values, now) && this.nextSizeSendAt === Number.POSITIVE_INFINITY) {
          this.nextSizeSendAt = now + this.sizeRoundInterval() / 20;
        }
        // Minima are passed on only when they change, so a neighbour whose round lacks ours (it
        // began the round number ours has on its own, as a node back from being cut off does)
        // heard nothing more of the round: its figure stayed its own, about 1, and passed
        // measuredLinked, since that round began after it was linked again. It is answered here,
        // unless the batch due goes to it anyway.
        if (this.nextSizeSendAt === Number.POSITIVE_INFINITY && this.links.has(from) && this.estimator.lacks(message.round, message.values)) {
          this.sendMembership(from, this.sizeMessage(), now);
        }
        return;
      default:
        return;
    }
  }

  private onHeartbeat(from: string, message: HeartbeatMessage, now: number): void {
    if (!this.links.has(from)) {
      this.service?.heartbeatFrom(from, now);
      return;
    }
    const roundTrip = this.monitor.heartbeat(from, message, now);
    if (roundTrip !== undefined) this.policy.recordLatency(roundTrip, now);
  }

  private onBroadcastMessage(inbound: InboundMessage): void {
    if (this.state !== 'running' || this.service === undefined) return;
    const from = inbound.from;
    if (typeof from !== 'string' || from === this.nodeId || from.length === 0 || from.length > this.config.maxNodeIdLength) {
      this.counters.unknownSender += 1;
      return;
    }
    const message = decodePlumtreeMessage(inbound.payload, this.limits, this.decodeStats);
    if (message === undefined) return;
    const now = this.now();
    if (this.links.has(from)) {
      if (this.monitor.enabled) this.monitor.heard(from, now);
    } else this.connections.touch(from, now);
    this.plumtree.receive(from, message, now);
  }

  private onPeerUp(peer: string): void {
    const now = this.now();
    this.connections.peerUp(peer, now);
    if (this.state === 'running') this.eachService((service) => service.peerUp?.(peer, now));
    // A connection that serves no link (a one-off exchange: a reply to a stranger, a JOIN, a
    // probe) is closed after the linger time; collection must be running to see it, also when no
    // link changes that would start it. One that came up while the seeds were still resolving
    // ('joining') too: nothing later would start collection for it.
    if ((this.state === 'running' || this.state === 'joining') && !this.links.has(peer)) this.scheduleCollect(now);
  }

  private onPeerDown(peer: string): void {
    const now = this.now();
    const failure = this.connections.peerDown(peer);
    // Leaving (the goodbyes' wait): no service hears of it, but the transport must stop
    // dialling the peer, which closeAll, taking only connected and dialling peers, would miss.
    if (this.state === 'stopped') {
      if (failure) this.connections.forget(peer);
      return;
    }
    if (this.state !== 'running' || !failure) return;
    this.peerFailed(peer, now);
  }

  /**
   * A peer is dead or unreachable: every service hears of it, and the transport stops dialling it
   * (here when no service links to it, in `linkDown` once the last link to it ends).
   */
  private peerFailed(peer: string, now: number): void {
    this.eachService((service) => service.peerDown(peer, now));
    if (!this.links.has(peer)) this.connections.forget(peer);
  }

  // ---- effects --------------------------------------------------------------------------------

  private drain(): void {
    for (;;) {
      let worked = false;
      const service = this.service;
      if (service !== undefined) {
        const effects = service.takeEffects();
        if (effects.length > 0) {
          worked = true;
          this.applyServiceEffects(effects);
        }
      }
      // Indexed loops over `retiring` here and in `schedule`: it is empty but after a topology
      // switch, and for...of allocated an iterator result on every pass of every input.
      const retiring = this.retiring;
      for (let index = 0; index < retiring.length; index += 1) {
        const effects = retiring[index]!.service.takeEffects();
        if (effects.length > 0) {
          worked = true;
          this.applyServiceEffects(effects);
        }
      }
      const plumtreeEffects = this.plumtree.takeEffects();
      if (plumtreeEffects.length > 0) {
        worked = true;
        this.applyPlumtreeEffects(plumtreeEffects);
      }
      if (!worked) return;
    }
  }

  private applyServiceEffects(effects: readonly ServiceEffect[]): void {
    const now = this.now();
    for (const effect of effects) {
      switch (effect.kind) {
        case 'send':
          if (effect.watch) this.connections.ensure(effect.to, now);
          if (this.sendMembership(effect.to, effect.message, now)) this.eachService((service) => service.peerConnecting?.(effect.to, now));
          break;
        case 'neighbor-up':
          this.linkUp(effect.peer, now);
          break;
        case 'neighbor-down':
          this.linkDown(effect.peer, effect.reason, now);
          break;
        case 'publish':
          this.plumtree.broadcast(effect.topic, effect.payload, now);
          break;
      }
    }
  }

  private applyPlumtreeEffects(effects: readonly PlumtreeEffect[]): void {
    const now = this.now();
    const channel = this.config.broadcastChannel;
    for (const effect of effects) {
      if (effect.kind === 'send') this.connections.send(effect.to, channel, effect.message, undefined, now, this.links.has(effect.to));
      else this.deliver(effect.delivery, now);
    }
  }

  /** True when the message is held until a connection to `to` is set up. */
  private sendMembership(to: string, message: MembershipMessage, now: number): boolean {
    return this.connections.send(to, this.config.membershipChannel, message, this.membershipSendOptions, now, this.links.has(to));
  }

  /** The current service and those retiring after a topology switch. */
  private eachService(visit: (service: PeerService) => void): void {
    if (this.service !== undefined) visit(this.service);
    for (const retiring of this.retiring) visit(retiring.service);
  }

  private linkUp(peer: string, now: number): void {
    const count = this.links.get(peer) ?? 0;
    this.links.set(peer, count + 1);
    if (count > 0) return;
    if (this.links.size === 1) this.linkedAt = now;
    this.linkedSince.set(peer, now);
    this.connections.ensure(peer, now);
    if (!this.connections.connected.has(peer)) this.scheduleCollect(now);
    this.monitor.add(peer, now);
    this.plumtree.neighborUp(peer, now);
    // A manual switch is told to each new neighbour. Its service messages carry the epoch and
    // the mode but not the pin, so a neighbour that runs the same mode at the same epoch
    // unpinned (the other half of a partition made an automatic or 'auto' decision for that
    // epoch) could not tell that this decision outranks its own, and went on switching by size.
    // Epoch 0 is the configured topology, the same on every node.
    if (this.pinned && this.pinnedKnown && this.epoch !== 0) this.sendMembership(peer, { type: 'topology', epoch: this.epoch, mode: this.mode, pinned: true }, now);
    this.emit('member-join', peer);
    this.settleJoin();
  }

  private linkDown(peer: string, reason: LeaveReason, now: number): void {
    const count = this.links.get(peer);
    if (count === undefined) return;
    if (count > 1) {
      this.links.set(peer, count - 1);
      return;
    }
    this.links.delete(peer);
    if (this.links.size === 0) this.linkedAt = undefined;
    this.linkedSince.delete(peer);
    this.monitor.remove(peer);
    this.plumtree.neighborDown(peer, reason === 'disconnected');
    if (reason === 'failed') {
      this.policy.recordPartitionEvent(now);
      // `peerFailed` could not forget it: the link was still there until this effect. A transport
      // keeps redialling a peer it was asked to connect to (channels does, with backoff) until
      // told to disconnect, so a dead neighbour would be dialled for as long as this node runs.
      if (!this.connections.connected.has(peer)) this.connections.forget(peer);
    }
    this.connections.touch(peer, now);
    this.scheduleCollect(now);
    this.emit('member-leave', peer, reason);
  }

  private deliver(delivery: Delivery, now: number): void {
    if (delivery.topic === TOPOLOGY_TOPIC) {
      this.onTopologyAnnouncement(delivery.payload, now);
      return;
    }
    if (delivery.topic === SERVERS_TOPIC) {
      const announced = this.announcedServers(delivery.payload, delivery.origin);
      if (announced !== undefined) {
        for (const service of [this.service, ...this.retiring.map((entry) => entry.service)]) if (service instanceof ClientServerCore) service.serverAnnounced(announced.servers, now, announced.namesMesh);
      }
      return;
    }
    const handlers = this.subscriptions.get(delivery.topic);
    if (handlers === undefined) return;
    const message: BroadcastMessage = { from: delivery.origin, payload: delivery.payload, topic: delivery.topic, id: delivery.id, hops: delivery.hops };
    // Over a copy (see `emit`): a subscriber added meanwhile waits for the next message, one
    // removed by an earlier one is skipped.
    for (const handler of [...handlers]) {
      if (!handlers.has(handler)) continue;
      try {
        handler(message);
      } catch (error) {
        this.counters.handlerErrors += 1;
        this.emit('handler-error', error, delivery.topic);
      }
    }
  }

  private emit(event: string, ...args: unknown[]): void {
    const handlers = this.listeners?.get(event);
    if (handlers === undefined) return;
    // Over a copy: a Set's iteration visits what is added during it, so a handler that
    // unsubscribed and subscribed itself again (or added another) was called again for the
    // same event, and one that renewed itself so looped for ever. One removed by an earlier
    // handler is skipped.
    for (const handler of [...handlers]) {
      if (!handlers.has(handler)) continue;
      try {
        (handler as (...values: unknown[]) => void)(...args);
      } catch (error) {
        this.counters.handlerErrors += 1;
        if (event !== 'handler-error') this.emit('handler-error', error, event);
      }
    }
  }

  // ---- time -----------------------------------------------------------------------------------

  private schedule(): void {
    // tick() does nothing until the node runs: a timer set before then (a broadcast before
    // join, a message cached with an expiry) fired every millisecond until it started.
    // start() schedules through run() once the state is 'running'.
    if (this.state !== 'running') return;
    let next = Math.min(this.plumtree.nextTick(), this.nextHeartbeatAt, this.nextEvaluateAt, this.nextSizeRoundAt, this.nextSizeSendAt, this.nextSeedRefreshAt, this.nextCollectAt);
    if (this.service !== undefined) next = Math.min(next, this.service.nextTick());
    const retiring = this.retiring;
    for (let index = 0; index < retiring.length; index += 1) next = Math.min(next, retiring[index]!.until, retiring[index]!.service.nextTick());
    if (next === Number.POSITIVE_INFINITY || next >= this.timerAt) return;
    this.timer?.cancel();
    this.timerAt = next;
    // At least 1 ms: a core asking for a tick "now" gets the next millisecond, never a loop in place.
    this.timer = this.clock.setTimer(Math.max(1, next - this.now()), this.onTimer);
  }

  /**
   * The callback of every timer `schedule` sets, made once. A node sets a timer about once per
   * three messages it handles; a closure per timer (and one per tick) lived as long as the
   * timer, long enough to be copied by the collector.
   */
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    this.run(this.tickInput);
  };

  private readonly tickInput = (): void => this.tick();

  private tick(): void {
    if (this.state !== 'running') return;
    const now = this.now();
    this.service?.tick(now);
    for (const retiring of this.retiring) retiring.service.tick(now);
    this.plumtree.tick(now);
    this.finishTransitions(now);
    if (now >= this.nextHeartbeatAt) this.heartbeats(now);
    if (now >= this.nextCollectAt) this.collect(now);
    if (now >= this.nextSizeRoundAt) this.sizeRound(now);
    if (now >= this.nextSizeSendAt) this.sendSize(now);
    if (this.estimator.round !== this.electionRound) this.reelect(now);
    if (now >= this.nextEvaluateAt) this.evaluate(now);
    if (now >= this.nextSeedRefreshAt) this.refreshSeeds(now);
  }

  private heartbeats(now: number): void {
    this.nextHeartbeatAt = now + this.config.failureDetection.heartbeatIntervalMs;
    const verdict = this.monitor.check(now);
    for (const peer of verdict.failed) {
      this.counters.heartbeatTimeouts += 1;
      this.peerFailed(peer, now);
    }
    for (const { peer, phi } of verdict.suspected) {
      this.counters.suspicions += 1;
      this.emit('member-suspect', peer, phi);
    }
    for (const peer of this.links.keys()) this.sendMembership(peer, this.monitor.heartbeatFor(peer, now), now);
  }

  /**
   * Closes idle connections that serve no link, and gives up links whose connection never came
   * up: the neighbour is dead, or does not count this node as its neighbour (it would have
   * connected), so the link is one-sided and is dropped.
   */
  private collect(now: number): void {
    this.nextCollectAt = Number.POSITIVE_INFINITY;
    const needed = (peer: string): boolean => this.links.has(peer);
    this.connections.collect(now, needed);
    let pending = false;
    // The other side dials: allow it the time a request allows for a connection, and an answer.
    const grace = this.config.hyparview.connectTimeoutMs + 2 * this.config.hyparview.neighborRequestTimeoutMs;
    for (const [peer, since] of this.linkedSince) {
      if (this.connections.connected.has(peer)) continue;
      if (now - since >= grace) this.peerFailed(peer, now);
      else pending = true;
    }
    if (pending || this.connections.nextCollection(needed) !== Number.POSITIVE_INFINITY) this.scheduleCollect(now);
  }

  /** Collection runs every half linger time while there is something to collect or watch, not per connection. */
  private scheduleCollect(now: number): void {
    if (this.nextCollectAt === Number.POSITIVE_INFINITY) this.nextCollectAt = now + Math.max(1, this.config.connectionLingerMs / 2);
  }

  private refreshSeeds(now: number): void {
    this.nextSeedRefreshAt = now + this.config.seedRefreshMs;
    if (this.seedRefreshRunning) return;
    const resolved = this.resolveSeeds();
    const apply = (seeds: readonly string[] | undefined): void => {
      if (seeds === undefined || this.state !== 'running') return;
      const at = this.now();
      this.service?.updateSeeds(seeds, at);
    };
    if (Array.isArray(resolved)) {
      apply(resolved);
      return;
    }
    this.seedRefreshRunning = true;
    void (resolved as Promise<readonly string[] | undefined>).then((seeds) => {
      this.seedRefreshRunning = false;
      this.run(() => apply(seeds));
    });
  }

  /**
   * The servers a `$servers` announcement names: its origin (`server`, which must be the origin)
   * and the origin's mesh (`servers`, which older versions do not send). A list longer than a mesh
   * can be, or an entry that is not a node id, makes the whole list void (the origin still
   * counts); undefined when the announcement is not one. `namesMesh` is false for a server of an
   * older version, which announces `{server}` alone.
   */
  private announcedServers(payload: unknown, origin: string): { servers: string[]; namesMesh: boolean } | undefined {
    const { server, servers } = (payload ?? {}) as { server?: unknown; servers?: unknown };
    // Its sender comes first in the list the service reads (see `serverAnnounced`): never this node.
    if (typeof server !== 'string' || server !== origin || server === this.nodeId || !this.isNodeId(server)) return undefined;
    if (!Array.isArray(servers)) return { servers: [server], namesMesh: false };
    // By index (isNodeIdList): every() skips the holes of a sparse array, and each was learnt as a server named undefined.
    if (servers.length > 2 * this.config.clientServer.maxServers + 1 || !isNodeIdList(servers, this.config.maxNodeIdLength)) return { servers: [server], namesMesh: true };
    return { servers: [...new Set([server, ...(servers as string[])])].filter((entry) => entry !== this.nodeId), namesMesh: true };
  }

  private isNodeId(text: string): boolean {
    return text.length > 0 && text.length <= this.config.maxNodeIdLength;
  }

  // ---- topology -------------------------------------------------------------------------------

  private estimatedSize(): number {
    if (this.mode === 'full-mesh' && this.service !== undefined) {
      this.countedSize = this.service.members().length + 1;
      return this.countedSize;
    }
    // Until a first estimation round has run, the last exact count (from a full mesh) stands.
    if (this.estimator.round < 1) return this.countedSize;
    return Math.max(1, Math.round(this.estimator.estimate()));
  }

  /** Whether this node takes part in size estimation now (never in a full mesh, which counts its members). */
  private estimating(): boolean {
    return this.mode !== 'full-mesh' && (!this.pinned || this.estimatesPinnedIn(this.mode));
  }

  /** Whether a topology pinned to `mode` still estimates the size: for the seed rejoins, and for client-server's `auto` role, which the estimate elects (`reelect`). */
  private estimatesPinnedIn(mode: TopologyMode): boolean {
    return this.estimatesWhenPinned || (mode === 'client-server' && this.config.clientServer.role === 'auto');
  }

  /**
   * The size for scaling seed rejoins: as `estimatedSize`, but undefined before there is any
   * figure (the estimate of a first round not yet complete would read 1, and every node of a
   * large cluster booting would rejoin at once).
   */
  private knownSize(): number | undefined {
    if (this.mode === 'full-mesh' || this.estimator.round >= 1) return this.estimatedSize();
    return this.countedSize > 1 ? this.countedSize : undefined;
  }

  /**
   * How often this node starts an estimation round. A pinned topology makes no decision by size;
   * only the seed rejoins read it, once per `seedRejoinIntervalMs`, so rounds come no more often
   * than that: each round is a flood of SIZE messages (in the local preset's 2 s rounds they were
   * two thirds of a 200-node overlay's steady traffic).
   */
  private sizeRoundInterval(): number {
    const interval = this.config.topology.sizeEstimateIntervalMs;
    return this.pinned ? Math.max(interval, this.config.seedRejoinIntervalMs) : interval;
  }

  private sizeRound(now: number): void {
    const interval = this.sizeRoundInterval();
    this.nextSizeRoundAt = now + interval;
    if (!this.estimating()) return;
    // A round begun (here or by a neighbour) within the interval counts as this node's own; the
    // tenth of an interval spared covers the time a round takes to spread. With half an interval
    // here, as before, rounds came about twice per interval.
    if (now - this.estimator.roundStartedAt < interval * 0.9) return;
    this.estimator.startRound(serialNext(this.estimator.round), now);
    this.sendSize(now);
  }

  /**
   * Hands a new size estimate to client-server, whose `auto` role is elected by it: once per
   * round, and only an estimate measured while linked (a node cut off counts itself alone, and
   * would elect itself a server on that).
   */
  private reelect(now: number): void {
    if (!(this.service instanceof ClientServerCore) || this.estimator.lastRound() === undefined || !this.measuredLinked(now)) return;
    this.electionRound = this.estimator.round;
    this.service.sizeEstimated(this.estimatedSize(), now);
  }

  private sendSize(now: number): void {
    this.nextSizeSendAt = Number.POSITIVE_INFINITY;
    if (!this.estimating()) return;
    const message = this.sizeMessage();
    for (const peer of this.links.keys()) this.sendMembership(peer, message, now);
  }

  /** This node's figure for the current estimation round. */
  private sizeMessage(): { readonly type: 'size'; readonly round: number; readonly values: number[] } {
    return { type: 'size', round: this.estimator.round, values: this.estimator.values() };
  }

  private evaluate(now: number): void {
    this.nextEvaluateAt = now + this.config.topology.evaluateIntervalMs;
    if (this.pinned) return;
    const use = this.bandwidthUse?.();
    if (typeof use === 'number') this.policy.recordBandwidth(use, now);
    // The estimate is meaningful once a whole estimation round has run.
    if (this.mode !== 'full-mesh' && this.estimator.round < 1) return;
    if (!this.measuredLinked(now)) return;
    if (this.lastSwitchAt !== undefined && now - this.lastSwitchAt < this.config.topology.cooldownMs) return;
    const decision = this.policy.decide(this.mode, this.estimatedSize(), now);
    if (decision !== undefined) this.propose(decision.mode, false, decision.reason, now);
  }

  /**
   * Whether what this node measures is the cluster's: it has a link, and (but in a full mesh,
   * which counts its members) the size estimate comes from a whole round run since it has had
   * one. A node cut off measures only itself: its estimate falls towards 1 (a round begun alone,
   * or ended by the cluster's next round moments after it was back), and a switch it decided on
   * that (to a full mesh, say) reached the whole cluster with its next message once it was back,
   * as a newer epoch: one client cut off for 1.5 s switched 60 nodes to a full mesh and back.
   */
  private measuredLinked(now: number): boolean {
    if (this.linkedAt === undefined) return false;
    if (this.mode === 'full-mesh') return true;
    const round = this.estimator.lastRound();
    if (round === undefined) return now - this.estimator.roundStartedAt >= this.sizeRoundInterval() / 2 && this.estimator.roundStartedAt >= this.linkedAt;
    return round.startedAt >= this.linkedAt && round.endedAt - round.startedAt >= this.sizeRoundInterval() / 2;
  }

  /** Decides a switch for the cluster: adopt it here and broadcast it (one message id per decision, so identical decisions merge). */
  private propose(mode: TopologyMode, pinned: boolean, reason: SwitchReason, now: number): void {
    const epoch = serialNext(this.epoch);
    this.adopt(mode, epoch, pinned, reason, now);
    this.plumtree.broadcast(TOPOLOGY_TOPIC, { mode, epoch, pinned }, now, topologyMessageId(epoch, mode, pinned));
  }

  private onTopologyAnnouncement(payload: unknown, now: number): void {
    if (typeof payload !== 'object' || payload === null) return;
    const { mode, epoch, pinned } = payload as { mode?: unknown; epoch?: unknown; pinned?: unknown };
    if (typeof mode !== 'string' || !(TOPOLOGY_MODES as readonly string[]).includes(mode)) return;
    if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 0 || epoch > 2 ** 31 - 1) return;
    this.adopt(mode as TopologyMode, epoch, pinned === true, 'remote', now);
  }

  /**
   * Whether decision `a` wins over decision `b` made for the same epoch (two nodes decided at
   * once, or on both sides of a partition): a manual (pinned) one over an automatic one, then the
   * sparser mode. A total order, so every node settles on the same decision whatever order they
   * arrive in. With the mode alone, a manual switch made while another node decided one by size
   * was lost to a sparser automatic one, and one to the same mode left the nodes that heard the
   * automatic decision first unpinned (they went on switching by size).
   */
  private outranks(aMode: TopologyMode, aPinned: boolean, bMode: TopologyMode, bPinned: boolean): boolean {
    if (aPinned !== bPinned) return aPinned;
    return RANK[aMode] > RANK[bMode];
  }

  /**
   * Switches to `mode` for `epoch` when that is newer than what this node runs, or the same epoch
   * and it outranks this node's decision (`outranks`). `pinned` is undefined when the decision was
   * inferred from a service message (only ever for a newer epoch): automatic switching then waits
   * until the decision itself arrives.
   */
  private adopt(mode: TopologyMode, epoch: number, pinned: boolean | undefined, reason: SwitchReason | 'remote', now: number): void {
    if (this.state !== 'running') return;
    if (serialAfter(this.epoch, epoch)) return;
    if (epoch === this.epoch) {
      if (pinned === undefined) return;
      // A decision this node knows only by its epoch and mode counts as automatic until it is known.
      const current = this.pinned && this.pinnedKnown;
      if (mode === this.mode) {
        // The same mode: the decision is known now, or a manual one outranks the automatic one this node runs.
        if (!this.pinnedKnown || (pinned && !current)) this.setPinned(pinned || current, now);
        // A manual decision heard from one node (see `linkUp`) goes on to the nodes that ran the
        // automatic one with this node; heard as a broadcast, it has been seen and this does nothing.
        if (pinned && !current) this.plumtree.broadcast(TOPOLOGY_TOPIC, { mode, epoch, pinned }, now, topologyMessageId(epoch, mode, pinned));
        return;
      }
      if (!this.outranks(mode, pinned, this.mode, current)) return;
    }
    const from = this.mode;
    this.epoch = epoch;
    this.setPinned(pinned, now, mode);
    this.lastSwitchAt = now;
    this.policy.reset();
    if (mode !== from) this.switchService(mode, now);
    else this.restampService(now);
    this.counters.topologySwitches += 1;
    this.emit('topology-change', { from, to: mode, epoch, reason } satisfies TopologyChange);
  }

  /** `mode`: the mode this node runs from now (a switch sets the pin before the service). */
  private setPinned(pinned: boolean | undefined, now: number, mode: TopologyMode = this.mode): void {
    this.pinnedKnown = pinned !== undefined;
    if (pinned !== undefined) this.pinned = pinned;
    if (this.pinned || !this.pinnedKnown) {
      this.nextEvaluateAt = Number.POSITIVE_INFINITY;
      if (!this.estimatesPinnedIn(mode)) this.nextSizeRoundAt = Number.POSITIVE_INFINITY;
      else if (this.nextSizeRoundAt === Number.POSITIVE_INFINITY) this.nextSizeRoundAt = now + this.random.float() * this.sizeRoundInterval();
    } else if (this.nextEvaluateAt === Number.POSITIVE_INFINITY) this.startAutomaticTopology(now);
  }

  /** Same mode, newer epoch (a pin or unpin): the service keeps its links and stamps the new epoch. */
  private restampService(_now: number): void {
    this.service?.setEpoch(this.epoch);
  }

  private switchService(mode: TopologyMode, now: number): void {
    const old = this.service!;
    const next = this.createService(mode, this.epoch);
    this.mode = mode;
    this.service = next;
    this.retiring.push({ service: old, until: now + this.config.topology.transitionMs });
    // Back to client-server before the service of the last switch to it has retired: the answers
    // to its hellos count here too (see `takeOverHellos`).
    if (next instanceof ClientServerCore) for (const entry of this.retiring) if (entry.service instanceof ClientServerCore) next.takeOverHellos(entry.service, now);
    const neighbors = [...old.neighbors()];
    const known = old instanceof HyParViewCore ? [...neighbors, ...old.passiveView()] : [...old.members()];
    const contacts = [...new Set([...neighbors, ...this.seeds])];
    if (next instanceof HyParViewCore) {
      if (old instanceof ClientServerCore && old.role === 'client') {
        // Clients join through their servers one at a time (spread over half the transition),
        // so the new overlay grows by ordinary joins rather than all at once.
        next.join(contacts, now, now + this.random.float() * (this.config.topology.transitionMs / 2));
      } else {
        const passive = old instanceof ClientServerCore ? [...old.knownServers(), ...neighbors] : known;
        next.restore({ passive: [...new Set(passive)] }, contacts, now);
      }
    } else if (next instanceof FullMeshCore) {
      next.join([...new Set([...known, ...contacts])], now);
    } else {
      next.join(contacts, now);
    }
  }

  private finishTransitions(now: number): void {
    if (this.retiring.length === 0) return;
    const done = this.retiring.filter((entry) => entry.until <= now);
    if (done.length === 0) return;
    this.retiring = this.retiring.filter((entry) => entry.until > now);
    for (const entry of done) entry.service.retire(now);
    // The retired services' effects (neighbour-downs) are drained by the caller.
    this.applyServiceEffects(done.flatMap((entry) => entry.service.takeEffects()));
  }
}

/** Creates the membership of one node. Call `join()` to start. */
export function createMembership(options: MembershipOptions): Membership {
  return new MembershipDriver(options);
}
