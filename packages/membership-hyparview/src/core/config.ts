// Protocol parameters, their documented defaults with the source of each, the presets, and the
// sizing helper. Every option a user passes is checked here once; the cores read resolved values.
import { MembershipConfigError } from '../errors/membership-config-error';

export type TopologyMode = 'full-mesh' | 'hyparview' | 'client-server';
export const TOPOLOGY_MODES: readonly TopologyMode[] = ['full-mesh', 'hyparview', 'client-server'];

export interface HyParViewConfig {
  /**
   * Active view size: the peers a node keeps connections to and broadcasts over. 5 — HyParView
   * paper §5 (log10(10,000) + 1 for the 10,000-node experiments). The Foundation 2.0 design
   * figure is 6 for 10–1,000 nodes; `sizeViews()` gives either from an expected size.
   */
  readonly activeViewSize: number;
  /** Passive view size: the backup peers. 30 — paper §5 (k · (log10(n) + c) with k = 6). */
  readonly passiveViewSize: number;
  /** Active random walk length (ARWL): hops a FORWARD_JOIN travels. 6 — paper §5. */
  readonly activeRandomWalkLength: number;
  /** Passive random walk length (PRWL): the hop at which the new node enters passive views. 3 — paper §5. */
  readonly passiveRandomWalkLength: number;
  /** ka: active-view entries in a SHUFFLE. 3 — paper §5. */
  readonly shuffleActiveCount: number;
  /** kp: passive-view entries in a SHUFFLE. 4 — paper §5. */
  readonly shufflePassiveCount: number;
  /** Hops a SHUFFLE walks. The paper uses the ARWL value (6). */
  readonly shuffleRandomWalkLength: number;
  /** Period of the shuffle (the paper's "cycle"; not fixed there). LAN 10 s, local 1 s. */
  readonly shuffleIntervalMs: number;
  /**
   * How this node's shuffles are answered. `direct` (paper §4.4): the node where the walk ends
   * sends SHUFFLE_REPLY straight to the origin, which is rarely its neighbour, so over a
   * connection opened for that one message. `walk` (ours, both presets): the reply goes back the
   * way the walk came, hop by hop over the walk's own links (a hop that is no longer a neighbour
   * is dialed all the same). Over real sockets a connection for one message costs milliseconds of
   * CPU at both ends and leaves a socket in TIME_WAIT; a hop over an open connection costs tens of
   * microseconds. The simulation report keeps `direct`, the paper's. Nodes of earlier versions
   * answer every shuffle directly.
   */
  readonly shuffleReplyRoute: 'direct' | 'walk';
  /** A NEIGHBOR request not answered in this time counts as failed (the node is assumed dead). LAN 2 s, local 500 ms. */
  readonly neighborRequestTimeoutMs: number;
  /**
   * How long a request may wait for the transport to set up a connection to its target before
   * `neighborRequestTimeoutMs` starts to count: the driver holds messages to a peer it is still
   * connecting to, and a loaded peer that takes longer to accept is slow, not dead. The
   * transport's own handshake timeout ends a dial that fails. Ours: the handshake timeouts of
   * @foundation/channels, LAN 5 s, local 2 s.
   */
  readonly connectTimeoutMs: number;
  /** Back-off after a refused (low-priority) NEIGHBOR request before asking that peer again: initial, doubled per refusal up to the max. */
  readonly promotionBackoffInitialMs: number;
  readonly promotionBackoffMaxMs: number;
  /** Promotion attempts a node may have outstanding at once (never more than its free active slots; a starved node, with a quarter of its active view or less (one neighbour always counts), asks for every free slot). Ours: 2. */
  readonly maxPendingPromotions: number;
  /**
   * A joining node retries another seed after this long without a neighbour. Each further
   * retry waits twice as long (a random time between half that and all of it), up to
   * `joinRetryMaxMs`, so that a seed many nodes join through at once is not kept overloaded by
   * the retries themselves; the wait starts again from `joinRetryMs` once the node has a
   * neighbour. LAN 2 s and 30 s, local 500 ms and 5 s.
   */
  readonly joinRetryMs: number;
  readonly joinRetryMaxMs: number;
  /** JOIN messages accepted per source per second (token bucket), and the burst. Ours: 1/s, burst 3. */
  readonly joinRatePerSecond: number;
  readonly joinBurst: number;
  /** FORWARD_JOIN messages accepted per source per second, and the burst. Ours: 20/s, burst 40. */
  readonly forwardJoinRatePerSecond: number;
  readonly forwardJoinBurst: number;
  /**
   * NEIGHBOR requests taken per source per second from a peer not already in the active view,
   * and the burst. A high-priority request always gets a slot, evicting a neighbour when the view
   * is full, so without a bound one peer could churn a node's whole view. Ours: 5/s, burst 10.
   */
  readonly neighborRatePerSecond: number;
  readonly neighborBurst: number;
  /** SHUFFLE messages taken per sending neighbour per second (each one is forwarded or answered), and the burst. Ours: 20/s, burst 40. */
  readonly shuffleRatePerSecond: number;
  readonly shuffleBurst: number;
}

export interface PlumtreeConfig {
  /** Plumtree's timeout 1: wait this long after the first IHAVE for the message before sending GRAFT. LAN 300 ms, local 60 ms. */
  readonly ihaveTimeoutMs: number;
  /** Plumtree's timeout 2: after a GRAFT, wait this long before grafting the next announcer. LAN 150 ms, local 30 ms. */
  readonly graftTimeoutMs: number;
  /** IHAVE announcements are batched per peer and sent at most this often (the paper's lazy-push policy). LAN 50 ms, local 10 ms. */
  readonly lazyPushIntervalMs: number;
  /** Hops by which a lazy path must beat the eager one before the tree is rewired (paper §3.8 optimisation). Ours: 4. */
  readonly optimizationThreshold: number;
  /** Message ids remembered to drop duplicates: at most this many, for at most `seenTtlMs`. 100,000 / 5 min. */
  readonly maxSeenIds: number;
  readonly seenTtlMs: number;
  /** Payloads kept to answer GRAFTs and anti-entropy: at most this many, for at most `storeTtlMs`. 4,096 / 60 s. */
  readonly maxStoredMessages: number;
  readonly storeTtlMs: number;
  /**
   * ... and at most this many payload bytes in all (bytes and strings in UTF-8, measured as for
   * `maxPayloadBytes`), the oldest evicted first; a payload larger than this is delivered and
   * passed on but not kept. LAN 64 MiB, local 8 MiB.
   */
  readonly maxStoredBytes: number;
  /** When a neighbour comes up, recent message ids (received within this window) are announced to it, so broadcasts in flight during a topology change are not lost. 10 s. */
  readonly repairWindowMs: number;
  /** Period of anti-entropy between neighbours for the topics in `antiEntropyTopics`; 0 turns it off. LAN 10 s, local 1 s. */
  readonly antiEntropyIntervalMs: number;
  /** Topics that need eventual completeness (anti-entropy); `$` topics of the membership always have it. */
  readonly antiEntropyTopics: readonly string[];
  /** Largest payload accepted by `broadcast` (bytes, for Uint8Array and string payloads). 1 MiB. */
  readonly maxPayloadBytes: number;
  /** GRAFT requests accepted per source per second, and the burst. Ours: 200/s, burst 400. */
  readonly graftRatePerSecond: number;
  readonly graftBurst: number;
  /**
   * A stored message is sent to the same peer in answer to GRAFTs at most once per this long: a
   * repeat (the same id twice in one GRAFT included) is refused. Forgotten for a peer when its
   * link goes down (answers in flight may have been lost). 0 turns the check off. Ours: LAN 5 s,
   * local 1 s (at most the anti-entropy interval, whose digests may lead to a second GRAFT).
   */
  readonly graftRepeatMs: number;
  /**
   * Stored messages sent in answer to GRAFTs per peer per second, and the burst: what one peer can
   * make this node send, however many GRAFTs and ids it sends. The burst should hold a GRAFT's
   * 1,024 ids, so a new neighbour's repair is served at once. Ours: 1,000/s, burst 2,048.
   */
  readonly graftPayloadRatePerSecond: number;
  readonly graftPayloadBurst: number;
}

export interface FailureDetectionConfig {
  /** A heartbeat to every neighbour this often; 0 turns heartbeats off (transport `peer-down` only). LAN 1 s, local 100 ms. */
  readonly heartbeatIntervalMs: number;
  /** No heartbeat (or other message) for this long: the neighbour has failed. LAN 5 s, local 1 s. */
  readonly heartbeatTimeoutMs: number;
  /** φ above which a neighbour is reported as `member-suspect`. 8 — Hayashibara et al. 2004 use 1–8; Akka and Cassandra default to 8. */
  readonly phiThreshold: number;
  /** Heartbeat intervals kept per neighbour for φ. 100 (Akka keeps 1,000). */
  readonly phiWindow: number;
  /** Floor of the standard deviation of intervals, so a perfectly regular link does not make φ explode. LAN 100 ms, local 20 ms (Akka: 100 ms). */
  readonly phiMinStdDeviationMs: number;
  /** A pause tolerated on top of the mean interval before φ rises. LAN 1 s, local 100 ms (Akka: 3 s). */
  readonly phiAcceptablePauseMs: number;
}

export interface FullMeshConfig {
  /** Most members a full mesh holds; beyond it new members are ignored. Ours: 128 (the design's mesh is under 10 nodes). */
  readonly maxMembers: number;
  /** A random member receives this node's member list this often. LAN 2 s, local 300 ms. */
  readonly gossipIntervalMs: number;
  /** A failed or departed member is not re-added from third-party lists for this long. 60 s. */
  readonly tombstoneMs: number;
}

export type ClientServerRole = 'auto' | 'server' | 'client';

export interface ClientServerConfig {
  /** `auto` elects servers by a hash of the node id and the size estimate; `server` / `client` pin the role. */
  readonly role: ClientServerRole;
  /** Servers each client attaches to (k). Ours: 2. */
  readonly serversPerClient: number;
  /** Servers the election aims for: ceil(sqrt(n)) clamped to [minServers, maxServers]. Ours: 3 and 64. */
  readonly minServers: number;
  readonly maxServers: number;
  /** Clients one server accepts. Ours: 4,096. */
  readonly maxClientsPerServer: number;
  /** Servers announce themselves (a broadcast) this often; unseen for 3 periods they are dropped. LAN 10 s, local 500 ms. */
  readonly announceIntervalMs: number;
  /**
   * Hellos (`cs-hello`) answered per source per second (token bucket), and the burst; one over its
   * source's budget is dropped unanswered and counted (`hellosRateLimited`). Each is answered with
   * a server list and a sample of contacts, so without a bound any node could make a server (or a
   * client) do that work, and send that much, as often as it liked. An honest node asks a peer
   * again only once its earlier hello was answered or given up. Ours: 5/s, burst 10.
   */
  readonly helloRatePerSecond: number;
  readonly helloBurst: number;
}

export interface TopologyConfig {
  /** `auto` lets the manager choose; a mode pins it (a manual switch). Default `auto`. */
  readonly mode: 'auto' | TopologyMode;
  /** Full mesh below this many nodes. 10 — Foundation 2.0 design. */
  readonly fullMeshBelow: number;
  /** HyParView up to this many nodes, client-server beyond. 1,000 — Foundation 2.0 design. */
  readonly hyparviewUpTo: number;
  /**
   * Going back down needs the size to fall this fraction below a threshold; and once latency or
   * bandwidth use has been above its threshold, no size moves to a denser topology until that
   * signal has stayed this fraction below the threshold for `healthWindowMs`. Ours: 0.1.
   */
  readonly hysteresis: number;
  /** Least time between two automatic switches. 30 s — Foundation 2.0 design. */
  readonly cooldownMs: number;
  /** Sustained neighbour round trip above this is unhealthy. 100 ms — Foundation 2.0 design. */
  readonly latencyThresholdMs: number;
  /** More partition events (neighbour failures detected) than this within `healthWindowMs` is unhealthy. 5 — Foundation 2.0 design. */
  readonly partitionEventsThreshold: number;
  /** Bandwidth use (0–1, from `bandwidthUse`) above this is unhealthy. 0.8 — Foundation 2.0 design. */
  readonly bandwidthThreshold: number;
  /** How long a condition must hold to count as sustained, and the window partition events are counted in. Ours: 30 s. */
  readonly healthWindowMs: number;
  /** The manager evaluates this often. LAN 5 s, local 500 ms. */
  readonly evaluateIntervalMs: number;
  /** After a switch, the old service keeps carrying broadcasts this long. LAN 5 s, local 1 s. */
  readonly transitionMs: number;
  /** Size estimation (extrema propagation, Baquero et al. 2009): a new estimate every interval, from this many samples. LAN 30 s, local 2 s; 32 samples. */
  readonly sizeEstimateIntervalMs: number;
  readonly sizeEstimateSamples: number;
}

export interface MembershipConfig {
  readonly hyparview: HyParViewConfig;
  readonly plumtree: PlumtreeConfig;
  readonly failureDetection: FailureDetectionConfig;
  readonly fullMesh: FullMeshConfig;
  readonly clientServer: ClientServerConfig;
  readonly topology: TopologyConfig;
  /** Channel for membership control messages. Default `coordination` (a reliable channel of @foundation/channels). */
  readonly membershipChannel: string;
  /** Channel for broadcasts (Plumtree). Default `gossip`. */
  readonly broadcastChannel: string;
  /** Longest node id accepted from the wire. 256. */
  readonly maxNodeIdLength: number;
  /** `join()` rejects after this long without a neighbour (the node keeps trying). LAN 30 s, local 5 s. */
  readonly joinTimeoutMs: number;
  /** Seeds are re-resolved this often (DNS seeds; a static list is re-read too). LAN 30 s, local 1 s. */
  readonly seedRefreshMs: number;
  /**
   * Most seeds used from one answer of the seed source (a static list, DNS, a provider of one's
   * own), duplicates dropped first. 256 (ours; as `createDnsSeeds`' default).
   */
  readonly maxSeeds: number;
  /**
   * Overlays formed apart (seeds unreachable at boot, a long partition) merge through the seeds:
   * in HyParView and client-server, the nodes of an overlay send between them about one request
   * per interval to a seed they are not linked to (each node with probability 1 / the estimated
   * size), and a node not known to share an overlay with any of its seeds sends one every
   * interval. 0 turns it off. LAN 30 s, local 3 s (ours; a full mesh always contacts its seeds).
   */
  readonly seedRejoinIntervalMs: number;
  /** A connection opened for a one-off exchange (a shuffle reply, a refused NEIGHBOR) is closed after this long unused. LAN 10 s, local 1 s. */
  readonly connectionLingerMs: number;
  /** Messages held per peer while a connection to it is being set up. 64. */
  readonly maxQueuedPerPeer: number;
}

export type DeepPartial<T> = { readonly [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

const PAPER_HYPARVIEW = {
  activeViewSize: 5,
  passiveViewSize: 30,
  activeRandomWalkLength: 6,
  passiveRandomWalkLength: 3,
  shuffleActiveCount: 3,
  shufflePassiveCount: 4,
  shuffleRandomWalkLength: 6,
  maxPendingPromotions: 2,
  joinRatePerSecond: 1,
  joinBurst: 3,
  forwardJoinRatePerSecond: 20,
  forwardJoinBurst: 40,
  neighborRatePerSecond: 5,
  neighborBurst: 10,
  shuffleRatePerSecond: 20,
  shuffleBurst: 40,
} as const;

const LAN: MembershipConfig = {
  hyparview: {
    ...PAPER_HYPARVIEW,
    shuffleIntervalMs: 10_000,
    shuffleReplyRoute: 'walk',
    neighborRequestTimeoutMs: 2_000,
    connectTimeoutMs: 5_000,
    promotionBackoffInitialMs: 1_000,
    promotionBackoffMaxMs: 30_000,
    joinRetryMs: 2_000,
    joinRetryMaxMs: 30_000,
  },
  plumtree: {
    ihaveTimeoutMs: 300,
    graftTimeoutMs: 150,
    lazyPushIntervalMs: 50,
    optimizationThreshold: 4,
    maxSeenIds: 100_000,
    seenTtlMs: 300_000,
    maxStoredMessages: 4_096,
    storeTtlMs: 60_000,
    maxStoredBytes: 64 * 1024 * 1024,
    repairWindowMs: 10_000,
    antiEntropyIntervalMs: 10_000,
    antiEntropyTopics: [],
    maxPayloadBytes: 1024 * 1024,
    graftRatePerSecond: 200,
    graftBurst: 400,
    graftRepeatMs: 5_000,
    graftPayloadRatePerSecond: 1_000,
    graftPayloadBurst: 2_048,
  },
  failureDetection: {
    heartbeatIntervalMs: 1_000,
    heartbeatTimeoutMs: 5_000,
    phiThreshold: 8,
    phiWindow: 100,
    phiMinStdDeviationMs: 100,
    phiAcceptablePauseMs: 1_000,
  },
  fullMesh: { maxMembers: 128, gossipIntervalMs: 2_000, tombstoneMs: 60_000 },
  clientServer: {
    role: 'auto',
    serversPerClient: 2,
    minServers: 3,
    maxServers: 64,
    maxClientsPerServer: 4_096,
    announceIntervalMs: 10_000,
    helloRatePerSecond: 5,
    helloBurst: 10,
  },
  topology: {
    mode: 'auto',
    fullMeshBelow: 10,
    hyparviewUpTo: 1_000,
    hysteresis: 0.1,
    cooldownMs: 30_000,
    latencyThresholdMs: 100,
    partitionEventsThreshold: 5,
    bandwidthThreshold: 0.8,
    healthWindowMs: 30_000,
    evaluateIntervalMs: 5_000,
    transitionMs: 5_000,
    sizeEstimateIntervalMs: 30_000,
    sizeEstimateSamples: 32,
  },
  membershipChannel: 'coordination',
  broadcastChannel: 'gossip',
  maxNodeIdLength: 256,
  joinTimeoutMs: 30_000,
  seedRefreshMs: 30_000,
  maxSeeds: 256,
  seedRejoinIntervalMs: 30_000,
  connectionLingerMs: 10_000,
  maxQueuedPerPeer: 64,
};

const LOCAL: MembershipConfig = {
  ...LAN,
  hyparview: {
    ...LAN.hyparview,
    shuffleIntervalMs: 1_000,
    neighborRequestTimeoutMs: 500,
    connectTimeoutMs: 2_000,
    promotionBackoffInitialMs: 100,
    promotionBackoffMaxMs: 2_000,
    joinRetryMs: 500,
    joinRetryMaxMs: 5_000,
  },
  plumtree: { ...LAN.plumtree, ihaveTimeoutMs: 60, graftTimeoutMs: 30, lazyPushIntervalMs: 10, antiEntropyIntervalMs: 1_000, maxStoredBytes: 8 * 1024 * 1024, graftRepeatMs: 1_000 },
  failureDetection: {
    ...LAN.failureDetection,
    heartbeatIntervalMs: 100,
    heartbeatTimeoutMs: 1_000,
    phiMinStdDeviationMs: 20,
    phiAcceptablePauseMs: 100,
  },
  fullMesh: { ...LAN.fullMesh, gossipIntervalMs: 300, tombstoneMs: 10_000 },
  clientServer: { ...LAN.clientServer, announceIntervalMs: 500 },
  topology: {
    ...LAN.topology,
    cooldownMs: 30_000,
    healthWindowMs: 5_000,
    evaluateIntervalMs: 500,
    transitionMs: 1_000,
    sizeEstimateIntervalMs: 2_000,
  },
  joinTimeoutMs: 5_000,
  seedRefreshMs: 1_000,
  seedRejoinIntervalMs: 10_000,
  connectionLingerMs: 1_000,
};

function clone(config: MembershipConfig): MembershipConfig {
  return {
    ...config,
    hyparview: { ...config.hyparview },
    plumtree: { ...config.plumtree, antiEntropyTopics: [...config.plumtree.antiEntropyTopics] },
    failureDetection: { ...config.failureDetection },
    fullMesh: { ...config.fullMesh },
    clientServer: { ...config.clientServer },
    topology: { ...config.topology },
  };
}

/** Timings for a LAN cluster (the defaults of `createMembership`). */
export function defaultLanConfig(): MembershipConfig {
  return clone(LAN);
}

/** Fast timings for tests, simulations and single-machine demos; protocol parameters as on a LAN. */
export function defaultLocalConfig(): MembershipConfig {
  return clone(LOCAL);
}

export interface ViewSizes {
  readonly activeViewSize: number;
  readonly passiveViewSize: number;
}

/**
 * View sizes for an expected cluster size, as the HyParView paper sizes them (§4, §5): the
 * active view holds log10(n) + c peers (c = 1 gives the paper's 5 at 10,000 nodes), the passive
 * view k times that (k = 6 gives 30).
 */
export function sizeViews(expectedNodes: number, c = 1, k = 6): ViewSizes {
  if (!Number.isFinite(expectedNodes) || expectedNodes < 1) throw new MembershipConfigError('expectedNodes', 'must be a number ≥ 1');
  if (!Number.isFinite(c) || c < 0) throw new MembershipConfigError('c', 'must be a number ≥ 0');
  if (!Number.isFinite(k) || k < 1) throw new MembershipConfigError('k', 'must be a number ≥ 1');
  const activeViewSize = Math.max(1, Math.ceil(Math.log10(expectedNodes) + c));
  return { activeViewSize, passiveViewSize: Math.ceil(k * activeViewSize) };
}

type NumericRule = readonly [field: string, min: number, integer: boolean];

function checkNumber(field: string, value: unknown, min: number, integer: boolean): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new MembershipConfigError(field, `must be ${integer ? 'an integer' : 'a finite number'} ≥ ${min} (got ${String(value)})`);
  }
}

function checkSection(section: string, values: Record<string, unknown>, rules: readonly NumericRule[]): void {
  for (const [field, min, integer] of rules) checkNumber(`${section}.${field}`, values[field], min, integer);
}

/**
 * A copy of `base` (always a copy: a preset's own object may have a shape of its own) with the
 * defined values of `override`.
 */
function mergeSection<T extends object>(base: T, override: object | undefined, section: string): T {
  if (override !== undefined && (override === null || typeof override !== 'object')) throw new MembershipConfigError(section, 'must be an object');
  // Object.assign onto {} rather than a spread: see resolveConfig.
  const result: Record<string, unknown> = Object.assign({}, base as Record<string, unknown>);
  for (const [key, value] of Object.entries(override ?? {})) {
    if (!Object.prototype.hasOwnProperty.call(base, key)) throw new MembershipConfigError(`${section}.${key}`, 'is not a known option');
    if (value !== undefined) result[key] = value;
  }
  return result as T;
}

/** Merges `overrides` into `base` (a preset) and checks every value. */
export function resolveConfig(overrides: DeepPartial<MembershipConfig> | undefined, base: MembershipConfig = LAN): MembershipConfig {
  const o = overrides ?? {};
  // Built with Object.assign, never as `{ ...top, hyparview, ... }`: in Node 20's V8 an object
  // spread followed by more properties gets a map of its own, so every node's config would have a
  // different shape and every `config.x` read on a message path would be a megamorphic lookup
  // (measured: 1,993 shapes for 2,000 nodes; the runtime's property lookup was 5% of the
  // 10,000-node simulation). Properties added one by one to {} share one shape.
  const merged: MembershipConfig = Object.assign(
    {},
    mergeSection(
      {
        membershipChannel: base.membershipChannel,
        broadcastChannel: base.broadcastChannel,
        maxNodeIdLength: base.maxNodeIdLength,
        joinTimeoutMs: base.joinTimeoutMs,
        seedRefreshMs: base.seedRefreshMs,
        maxSeeds: base.maxSeeds,
        seedRejoinIntervalMs: base.seedRejoinIntervalMs,
        connectionLingerMs: base.connectionLingerMs,
        maxQueuedPerPeer: base.maxQueuedPerPeer,
      },
      Object.fromEntries(Object.entries(o).filter(([key]) => !['hyparview', 'plumtree', 'failureDetection', 'fullMesh', 'clientServer', 'topology'].includes(key))),
      'config',
    ),
    {
      hyparview: mergeSection(base.hyparview, o.hyparview, 'hyparview'),
      plumtree: mergeSection(base.plumtree, o.plumtree, 'plumtree'),
      failureDetection: mergeSection(base.failureDetection, o.failureDetection, 'failureDetection'),
      fullMesh: mergeSection(base.fullMesh, o.fullMesh, 'fullMesh'),
      clientServer: mergeSection(base.clientServer, o.clientServer, 'clientServer'),
      topology: mergeSection(base.topology, o.topology, 'topology'),
    },
  );
  const h = merged.hyparview;
  checkSection('hyparview', h as unknown as Record<string, unknown>, [
    ['activeViewSize', 1, true],
    ['passiveViewSize', 0, true],
    ['activeRandomWalkLength', 0, true],
    ['passiveRandomWalkLength', 0, true],
    ['shuffleActiveCount', 0, true],
    ['shufflePassiveCount', 0, true],
    ['shuffleRandomWalkLength', 0, true],
    ['shuffleIntervalMs', 1, false],
    ['neighborRequestTimeoutMs', 1, false],
    ['connectTimeoutMs', 0, false],
    ['promotionBackoffInitialMs', 0, false],
    ['promotionBackoffMaxMs', 0, false],
    ['maxPendingPromotions', 1, true],
    ['joinRetryMs', 1, false],
    ['joinRetryMaxMs', 1, false],
    ['joinRatePerSecond', 0, false],
    ['joinBurst', 1, false],
    ['forwardJoinRatePerSecond', 0, false],
    ['forwardJoinBurst', 1, false],
    ['neighborRatePerSecond', 0, false],
    ['neighborBurst', 1, false],
    ['shuffleRatePerSecond', 0, false],
    ['shuffleBurst', 1, false],
  ]);
  if (h.shuffleReplyRoute !== 'direct' && h.shuffleReplyRoute !== 'walk') throw new MembershipConfigError('hyparview.shuffleReplyRoute', 'must be "direct" or "walk"');
  if (h.passiveRandomWalkLength > h.activeRandomWalkLength) throw new MembershipConfigError('hyparview.passiveRandomWalkLength', 'must not exceed activeRandomWalkLength');
  if (h.promotionBackoffMaxMs < h.promotionBackoffInitialMs) throw new MembershipConfigError('hyparview.promotionBackoffMaxMs', 'must be ≥ promotionBackoffInitialMs');
  if (h.joinRetryMaxMs < h.joinRetryMs) throw new MembershipConfigError('hyparview.joinRetryMaxMs', 'must be ≥ joinRetryMs');
  const p = merged.plumtree;
  checkSection('plumtree', p as unknown as Record<string, unknown>, [
    ['ihaveTimeoutMs', 1, false],
    ['graftTimeoutMs', 1, false],
    ['lazyPushIntervalMs', 0, false],
    ['optimizationThreshold', 1, true],
    ['maxSeenIds', 16, true],
    ['seenTtlMs', 1, false],
    ['maxStoredMessages', 0, true],
    ['storeTtlMs', 0, false],
    ['maxStoredBytes', 0, true],
    ['repairWindowMs', 0, false],
    ['antiEntropyIntervalMs', 0, false],
    ['maxPayloadBytes', 1, true],
    ['graftRatePerSecond', 0, false],
    ['graftBurst', 1, false],
    ['graftRepeatMs', 0, false],
    ['graftPayloadRatePerSecond', 0, false],
    ['graftPayloadBurst', 1, false],
  ]);
  // A stored message can still be announced (repair, digests) until it leaves the store: its id
  // must be remembered at least as long and as many, or it is delivered a second time.
  if (p.seenTtlMs < p.storeTtlMs) throw new MembershipConfigError('plumtree.seenTtlMs', 'must be ≥ storeTtlMs (ids of stored messages must stay remembered)');
  if (p.maxSeenIds < p.maxStoredMessages) throw new MembershipConfigError('plumtree.maxSeenIds', 'must be ≥ maxStoredMessages');
  if (!Array.isArray(p.antiEntropyTopics) || p.antiEntropyTopics.some((topic) => typeof topic !== 'string')) {
    throw new MembershipConfigError('plumtree.antiEntropyTopics', 'must be an array of topic names');
  }
  const f = merged.failureDetection;
  checkSection('failureDetection', f as unknown as Record<string, unknown>, [
    ['heartbeatIntervalMs', 0, false],
    ['heartbeatTimeoutMs', 1, false],
    ['phiThreshold', 0, false],
    ['phiWindow', 2, true],
    ['phiMinStdDeviationMs', 0.001, false],
    ['phiAcceptablePauseMs', 0, false],
  ]);
  if (f.heartbeatIntervalMs > 0 && f.heartbeatTimeoutMs <= f.heartbeatIntervalMs) {
    throw new MembershipConfigError('failureDetection.heartbeatTimeoutMs', 'must be greater than heartbeatIntervalMs');
  }
  checkSection('fullMesh', merged.fullMesh as unknown as Record<string, unknown>, [
    ['maxMembers', 1, true],
    ['gossipIntervalMs', 1, false],
    ['tombstoneMs', 0, false],
  ]);
  const cs = merged.clientServer;
  if (!['auto', 'server', 'client'].includes(cs.role)) throw new MembershipConfigError('clientServer.role', 'must be "auto", "server" or "client"');
  checkSection('clientServer', cs as unknown as Record<string, unknown>, [
    ['serversPerClient', 1, true],
    ['minServers', 1, true],
    ['maxServers', 1, true],
    ['maxClientsPerServer', 1, true],
    ['announceIntervalMs', 1, false],
    ['helloRatePerSecond', 0, false],
    ['helloBurst', 1, false],
  ]);
  if (cs.maxServers < cs.minServers) throw new MembershipConfigError('clientServer.maxServers', 'must be ≥ minServers');
  const t = merged.topology;
  if (t.mode !== 'auto' && !TOPOLOGY_MODES.includes(t.mode)) throw new MembershipConfigError('topology.mode', `must be "auto" or one of ${TOPOLOGY_MODES.join(', ')}`);
  checkSection('topology', t as unknown as Record<string, unknown>, [
    ['fullMeshBelow', 1, false],
    ['hyparviewUpTo', 1, false],
    ['hysteresis', 0, false],
    ['cooldownMs', 0, false],
    ['latencyThresholdMs', 0, false],
    ['partitionEventsThreshold', 0, false],
    ['bandwidthThreshold', 0, false],
    ['healthWindowMs', 1, false],
    ['evaluateIntervalMs', 1, false],
    ['transitionMs', 0, false],
    ['sizeEstimateIntervalMs', 1, false],
    ['sizeEstimateSamples', 3, true],
  ]);
  if (t.hysteresis >= 1) throw new MembershipConfigError('topology.hysteresis', 'must be below 1');
  if (t.hyparviewUpTo < t.fullMeshBelow) throw new MembershipConfigError('topology.hyparviewUpTo', 'must be ≥ fullMeshBelow');
  for (const field of ['membershipChannel', 'broadcastChannel'] as const) {
    if (typeof merged[field] !== 'string' || merged[field].length === 0) throw new MembershipConfigError(field, 'must be a non-empty string');
  }
  checkNumber('maxNodeIdLength', merged.maxNodeIdLength, 1, true);
  checkNumber('joinTimeoutMs', merged.joinTimeoutMs, 1, false);
  checkNumber('seedRefreshMs', merged.seedRefreshMs, 1, false);
  checkNumber('maxSeeds', merged.maxSeeds, 1, true);
  checkNumber('seedRejoinIntervalMs', merged.seedRejoinIntervalMs, 0, false);
  checkNumber('connectionLingerMs', merged.connectionLingerMs, 0, false);
  checkNumber('maxQueuedPerPeer', merged.maxQueuedPerPeer, 1, true);
  // Frozen all the way down (as its types say), so that one resolved config can serve any
  // number of memberships: see isResolvedConfig.
  // A copy: the list may be the caller's own array, which freezing would freeze under it.
  (merged.plumtree as { antiEntropyTopics: readonly string[] }).antiEntropyTopics = Object.freeze([...merged.plumtree.antiEntropyTopics]);
  for (const section of [merged.hyparview, merged.plumtree, merged.failureDetection, merged.fullMesh, merged.clientServer, merged.topology]) Object.freeze(section);
  RESOLVED.add(Object.freeze(merged));
  return merged;
}

/** Configs that resolveConfig returned: checked, complete and frozen. */
const RESOLVED = new WeakSet<MembershipConfig>();

/**
 * True for a config that `resolveConfig` returned. A membership given one uses it as it is
 * instead of resolving a copy, so a cluster of memberships in one process (a simulation, a
 * test) shares a single config object.
 */
export function isResolvedConfig(config: unknown): config is MembershipConfig {
  return typeof config === 'object' && config !== null && RESOLVED.has(config as MembershipConfig);
}
