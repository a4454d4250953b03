// startNode: one Foundation node with every service, wired together. This is the only place
// that knows how the packages fit: each port another package declares is satisfied here.
import { join } from 'node:path';
import { FoundationError, createCryptoRandom, createSystemClock, sleep } from '@foundation/core';
import type { Random, Scheduler, Timer } from '@foundation/core';
import { NoResponderError, createTransport, defaultChannels, defaultLanConfig as channelsLan, defaultLocalConfig as channelsLocal } from '@foundation/channels';
import type { ChannelOptions, Transport } from '@foundation/channels';
import { createFlightRecorder, createPropagator } from '@foundation/context';
import type { FlightRecorder, Propagator } from '@foundation/context';
import { createConfig } from '@foundation/config';
import type { Config, ConfigCommand, ConfigPath } from '@foundation/config';
import { createEventStore } from '@foundation/events';
import type { EventStore } from '@foundation/events';
import { JoinTimeoutError, MEMBERSHIP_ERROR_CODES, createMembership, defaultLanConfig as membershipLan, defaultLocalConfig as membershipLocal } from '@foundation/membership-hyparview';
import type { Membership } from '@foundation/membership-hyparview';
import { Pid, RuntimeStoppedError, createRuntime, createTransportRouter } from '@foundation/process';
import type { Behavior, Runtime } from '@foundation/process';
import { createFileStorage } from '@foundation/raft';
import type { KvResult } from '@foundation/raft';
import { DEFAULT_LIMITS as DEFAULT_REGISTRY_LIMITS, compactRegistryCommands, createRegistry, defaultLanTimings, defaultLocalTimings } from '@foundation/registry';
import type { DiscoveryCriteria, Registry, RegistryCommand } from '@foundation/registry';
import { createTelemetry, mergeSnapshots, parseSnapshot } from '@foundation/telemetry';
import type { MetricsSnapshot, Telemetry } from '@foundation/telemetry';
import { createClusterConfig } from './cluster/cluster-config';
import { readNodeStatus } from './cluster/read-node-status';
import type { ClusterConfig } from './cluster/cluster-config';
import { createClusterEvents } from './cluster/cluster-events';
import type { ClusterEvents } from './cluster/cluster-events';
import { createClusterConsensus } from './consensus/cluster-consensus';
import type { ClusterConsensus, ConsensusLog } from './consensus/cluster-consensus';
import { createLockClient } from './coordination/distributed-lock';
import type { DistributedLocks } from './coordination/distributed-lock';
import { startSingleton, stopSingletons } from './coordination/singleton';
import type { Singleton, SingletonOptions } from './coordination/singleton';
import { FOUNDATION_ERROR_CODES } from './errors/codes';
import { NodeStopError } from './errors/node-stop-error';
import { StartAbortedError } from './errors/start-aborted-error';
import { resolveOptions, urlOf } from './options';
import type { ResolvedOptions, StartNodeOptions } from './options';
import { processContextCarrier, withContextPropagation } from './wiring/context-transport';
import { withEagerConnect } from './wiring/eager-transport';
import type { EagerTransport } from './wiring/eager-transport';
import { shareConnections } from './wiring/shared-connections';
import { createRequestRouter } from './wiring/request-router';
import { InvalidOptionsError } from './errors/invalid-options-error';
import { extend } from './wiring/extend';
import { keepLearnersToLiveNodes } from './wiring/learner-upkeep';
import { sweepEndedLocks } from './coordination/lock-sweep';
import { channelMultiplexer, membershipEventsFor, runtimeMonitor } from './wiring/adapters';
import { lockDataDir } from './wiring/data-dir-lock';
import { createStepRunner } from './wiring/step-runner';
import type { StepRunner } from './wiring/step-runner';

export const VERSION = '0.1.0';

/** The channels every Foundation node opens to its peers (both ends must agree on the set). */
export function foundationChannels(): Record<string, ChannelOptions> {
  const MIB = 1024 * 1024;
  return {
    // First, because a session's connection 0 carries the first channel's lane and the others open
    // only when their lanes are used: a one-off exchange of the membership (a shuffle reply or a
    // JOIN to a stranger) then opens one connection.
    membership: { priority: 8, parallelism: 1, maxMessageBytes: 256 * 1024, maxQueueMessages: 2_000, maxQueueBytes: 4 * MIB },
    ...defaultChannels(),
    raft: { priority: 8, parallelism: 1, maxMessageBytes: 4 * MIB, maxQueueMessages: 20_000, maxQueueBytes: 64 * MIB, windowBytes: 4 * MIB },
    broadcast: { priority: 2, parallelism: 1, maxMessageBytes: 4 * MIB, maxQueueMessages: 10_000, maxQueueBytes: 32 * MIB },
    // One lane: the runtime needs its signals to a node delivered in the order they were sent
    // (BEAM's ordering), and lanes are separate connections with no order between them.
    process: { priority: 4, parallelism: 1, reliable: true, maxMessageBytes: 16 * MIB, maxQueueMessages: 20_000, maxQueueBytes: 64 * MIB },
    registry: { priority: 2, parallelism: 1, maxMessageBytes: 4 * MIB, maxQueueMessages: 5_000, maxQueueBytes: 16 * MIB },
    control: { priority: 6, parallelism: 1, maxMessageBytes: 16 * MIB, maxQueueMessages: 5_000, maxQueueBytes: 32 * MIB },
  };
}

/** The replicated key-value store every node shares (through the cluster's Raft group). */
export interface ClusterKv {
  put(key: string, value: unknown): Promise<unknown>;
  get(key: string): Promise<unknown>;
  delete(key: string): Promise<boolean>;
  compareAndSet(key: string, expected: unknown, value: unknown): Promise<boolean>;
}

export interface NodeStatus {
  readonly id: string;
  readonly url: string;
  readonly uptimeMs: number;
  readonly version: string;
  readonly membership: { readonly members: readonly string[]; readonly activeView: readonly string[]; readonly passiveView: readonly string[]; readonly topology: string };
  readonly raft: { readonly role: string; readonly term: number; readonly leader: string | null; readonly commit: number; readonly applied: number; readonly voters: readonly string[]; readonly learners: readonly string[] };
  readonly processes: number;
  readonly services: number;
  readonly peers: readonly string[];
  /** Per channel, since start: messages and bytes out and in, and what waits to be sent now. */
  readonly channels: Readonly<Record<string, ChannelSummary>>;
  /** Heartbeat round trip to each connected peer, ms. */
  readonly rttMs: Readonly<Record<string, number>>;
  /**
   * What judges cluster-wide config writes here: `cluster`, a config of the defaults, schema and
   * allow-list alone, alike on every node; or `node`, this node's own config (file and
   * environment included), its fallback when the defaults do not validate without them, with
   * the code and message of that refusal. The fallback is also reported once as a node error,
   * but while startNode runs, before a handler can be attached. Absent from the status of nodes
   * of versions before it.
   */
  readonly configJudge?: { readonly judge: 'cluster' } | { readonly judge: 'node'; readonly code: number; readonly message: string };
}

export interface ChannelSummary {
  readonly messagesSent: number;
  readonly bytesSent: number;
  readonly messagesReceived: number;
  readonly bytesReceived: number;
  readonly queuedMessages: number;
  readonly queuedBytes: number;
}

/** One node's status as another node got it, or why it could not. */
export type ClusterNodeStatus = { readonly node: string; readonly status: NodeStatus } | { readonly node: string; readonly error: string };

export interface NodeHealth {
  readonly status: 'healthy' | 'degraded';
  readonly services: Readonly<Record<string, 'up' | 'degraded' | 'down'>>;
  readonly versions: Readonly<Record<string, string>>;
}

export interface FoundationNode {
  /** `name@host:port`. */
  readonly id: string;
  /** The WebSocket URL peers reach this node at. */
  readonly url: string;
  readonly transport: Transport;
  readonly runtime: Runtime;
  readonly membership: Membership;
  readonly consensus: ClusterConsensus;
  readonly config: Config<unknown> & Pick<ClusterConfig, 'setClusterWide' | 'getWithConsensus'>;
  readonly events: EventStore & ClusterEvents;
  readonly telemetry: Telemetry & { getClusterMetrics(options?: { readonly aggregation?: 'sum' | 'average' | 'min' | 'max' | 'last'; readonly timeoutMs?: number }): Promise<MetricsSnapshot> };
  readonly registry: Registry<unknown>;
  readonly locks: DistributedLocks;
  readonly kv: ClusterKv;
  readonly context: { readonly propagator: Propagator; readonly recorder: FlightRecorder };
  /** Names a behavior so other nodes can spawn it here (code cannot travel between nodes). */
  defineBehavior(name: string, behavior: Behavior): void;
  /** Spawns a defined behavior on `node` (this one included); resolves with its pid. */
  spawnOn(node: string, behavior: string, args?: unknown): Promise<Pid>;
  /** Spawns a defined behavior on a node the registry chooses: one offering `criteria`. */
  spawnWhere(criteria: DiscoveryCriteria, behavior: string, args?: unknown): Promise<Pid>;
  /**
   * One instance of `behavior` in the whole cluster, restarted elsewhere when its node dies.
   * Throws RuntimeStoppedError (5708) from stop() on, as spawns are refused.
   */
  singleton(options: SingletonOptions): Singleton;
  status(): NodeStatus;
  /** Every node's status (the nodes the registry knows), asked over the control channel. */
  clusterStatus(options?: { readonly timeoutMs?: number }): Promise<ClusterNodeStatus[]>;
  /** 1.x `available?()`: started and not stopping. */
  available(): boolean;
  health(): NodeHealth;
  version(): string;
  /**
   * Leaves the cluster and stops everything, in order. Every step runs even when one before it
   * fails; then it rejects with NodeStopError (6109), which lists each failed step (`failures`,
   * the first as `cause`). A second call returns the first call's promise.
   */
  stop(): Promise<void>;
}

/**
 * The telemetry event of an error that no caller receives: a cluster-wide config command this node
 * refuses (`source: 'cluster-config'`), an event from another node that does not decode
 * (`'cluster-events'`), a node that does not answer `getClusterMetrics` or whose metrics do not
 * decode (`'cluster-metrics'`), an error of the Raft node, such as the storage failure that stops
 * it (`'raft'`). Measurements `{ count: 1 }`; metadata `{ source, code, type,
 * message, error }`. Emitted with `emitCounter`, so the node's metrics count them as
 * `foundation.node.error`.
 */
const NODE_ERROR_EVENT = ['foundation', 'node', 'error'];

const NODE_SERVICE = 'foundation.node';
/** The registry's namespace on every node (its replication and its stream of the Raft log). */
const REGISTRY_NAMESPACE = 'production';

function timings(options: ResolvedOptions): { tickMs: number; electionTicks: number; heartbeatTicks: number; snapshotEvery?: number } {
  const ticks = options.timing === 'local' ? { tickMs: 10, electionTicks: 15, heartbeatTicks: 2 } : { tickMs: 50, electionTicks: 10, heartbeatTicks: 2 };
  return options.snapshotEvery === undefined ? ticks : { ...ticks, snapshotEvery: options.snapshotEvery };
}

/** The longest a control request may ask this node to wait on its peers: a peer's request holds no timer longer. */
const MAX_ASKED_TIMEOUT_MS = 60_000;

/**
 * The `timeoutMs` a control request carries (any peer with the secret may send anything): none
 * for the default, a whole number of ms from 0 bounded to MAX_ASKED_TIMEOUT_MS, else refused.
 */
function askedTimeoutMs(payload: unknown): number | undefined {
  const value = (payload as { timeoutMs?: unknown } | null)?.timeoutMs;
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new InvalidOptionsError('timeoutMs', `must be a whole number of ms, 0 or more (got ${typeof value === 'number' ? String(value) : typeof value})`);
  }
  return Math.min(value, MAX_ASKED_TIMEOUT_MS);
}

/**
 * What a failed `startNode` rejects with when stopping what it had started failed too: its own
 * error, with the clean-up's failures as `cleanupError`, reported as stop() reports them; or,
 * when the caller aborted the start, a StartAbortedError (6111) that carries them, the reason
 * its cause (the reason is the caller's object, and stays as the caller made it).
 */
export interface FailedStartCleanup {
  /** The clean-up's failed steps (`failures`, the first also as `cause`); the other steps ran. */
  readonly cleanupError: NodeStopError;
}

/**
 * The start's error with `cleanupError` on it, to reject with. The start's own errors are all
 * objects of its making that take it; an abort's reason is the caller's (and may not take it: a
 * string, a frozen object), so it is never written on, but goes as the cause of a
 * StartAbortedError that carries the clean-up's failures.
 */
function withCleanupError(error: unknown, cleanupError: NodeStopError, signal: AbortSignal | undefined, node: string): unknown {
  if (signal?.aborted === true && error === signal.reason) return new StartAbortedError(node, error, cleanupError);
  if ((typeof error === 'object' && error !== null) || typeof error === 'function') {
    Reflect.defineProperty(error, 'cleanupError', { value: cleanupError, enumerable: true, configurable: true, writable: true });
  }
  return error;
}

/**
 * Starts a node. With no options it runs alone on this machine (a loopback address, an
 * ephemeral port, in-memory events, Raft's log under `.foundation/`); with `seeds` it joins
 * the cluster they belong to.
 *
 * A start that fails stops what it had started and rejects with why it failed; when a step of that
 * clean-up fails too (Raft's files failing to close, say), the error carries `cleanupError`
 * (FailedStartCleanup): a NodeStopError (6109) listing the failed steps. A start aborted through
 * `signal` rejects with the signal's reason, or, when its clean-up fails, with a
 * StartAbortedError (6111) that carries `cleanupError`, the reason its cause: the reason itself
 * is never written on.
 */
export async function startNode(options: StartNodeOptions = {}): Promise<FoundationNode> {
  const resolved = await resolveOptions(options);
  const clock: Scheduler = options.clock ?? createSystemClock({ keepAlive: false });
  const random: Random = options.random ?? createCryptoRandom();
  const startedAt = clock.monotonic();
  const { nodeId } = resolved;
  const { signal } = options;
  /**
   * `step`, or the signal's reason once the caller aborts the start (`options.signal`): the steps
   * that wait (listening, joining) end at once, and what they had started is stopped by their
   * catch, as when they fail. The step itself is still handled when it settles later.
   */
  const unlessAborted = <T>(step: Promise<T>): Promise<T> => {
    if (signal === undefined) return step;
    return new Promise<T>((resolve, reject) => {
      // The reason as given, as fetch rejects: an AbortError unless the caller gave another.
      const abort = (): void => reject(signal.reason as Error);
      if (signal.aborted) abort();
      else signal.addEventListener('abort', abort, { once: true });
      step.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
    });
  };

  const telemetry = createTelemetry({ clock, node: nodeId });
  // Errors no caller is there to receive go to telemetry, counted and with the error in the
  // metadata for handlers; nothing keeps them here.
  const reporter =
    (source: 'cluster-config' | 'cluster-events' | 'cluster-metrics' | 'raft') =>
    (error: FoundationError): void =>
      telemetry.emitCounter(NODE_ERROR_EVENT, { source, code: error.code, type: error.type, message: error.message, error });
  const recorder = createFlightRecorder();
  const propagator = createPropagator({ nodeId, recorder, clock, random });

  // Made before the transport binds its port: they check what the caller gave them (config
  // defaults, event storage) and may throw, which must not leave the port bound.
  const config = createConfig<object>({ ...(options.config ?? { defaults: {} }), clock } as never);
  // The store is startNode's, and stop() closes it; a storage the caller passed in is theirs and
  // stays open (to read, to give to the next node, to close).
  const events = createEventStore({ node: nodeId, clock, random, ...(options.eventStorage === undefined ? {} : { storage: options.eventStorage, closesStorage: false }) });

  /**
   * The clean-up after a failed start, with the same runner as stop(): every step runs whatever
   * the others do (a step that threw, the transport's close say, ended it, and the data directory
   * stayed locked), and then the start's own error is thrown, since that is what the caller can
   * act on. What failed in the clean-up goes with it as its `cleanupError`: dropped, a caller
   * could not tell that Raft's storage or a socket was not let go.
   */
  const failStart = async (error: unknown, cleanUp: (steps: StepRunner) => Promise<void>): Promise<never> => {
    const steps = createStepRunner();
    await cleanUp(steps);
    if (steps.failures.length > 0) throw withCleanupError(error, new NodeStopError(nodeId, [...steps.failures]), signal, nodeId);
    throw error;
  };

  // Before anything reads or writes Raft's files, and let go of last: a live node's directory
  // is refused to any other (src/wiring/data-dir-lock.ts).
  const dataDirLock = await lockDataDir(resolved.dataDir).catch((error: unknown) => failStart(error, (steps) => steps.run('events', () => events.close())));
  /** The last steps of stop() and of the clean-up after a failed start: the store, then the directory. */
  const release = async (steps: StepRunner): Promise<void> => {
    await steps.run('events', () => events.close());
    // Whatever the store did: a directory left locked is refused to every later node.
    await steps.run('data-dir-lock', () => dataDirLock.release());
  };

  const channelsPreset = resolved.timing === 'local' ? channelsLocal() : channelsLan();
  let transport: Transport;
  try {
    transport = createTransport({
      nodeId,
      cluster: resolved.cluster,
      listen: { host: resolved.host, port: resolved.port },
      security: { secret: resolved.secret, maskFrames: resolved.maskFrames, ...(resolved.tls === undefined ? {} : { tls: resolved.tls }) },
      channels: foundationChannels(),
      timing: channelsPreset.timing,
      limits: channelsPreset.limits,
      resolveAddress: (id) => urlOf(id, resolved.tls !== undefined),
      clock,
      random,
    });
  } catch (error) {
    return failStart(error, release);
  }
  // A port in use, say: the transport does not close itself, and its heartbeat timer would run
  // for as long as the process lives.
  await unlessAborted(transport.ready()).catch((error: unknown) =>
    failStart(error, async (steps) => {
      await steps.run('transport', () => transport.close());
      await release(steps);
    }),
  );
  // Raft's replication and the membership's control traffic belong to no request: left plain.
  const contextual = withContextPropagation(transport, { propagator, plainChannels: ['raft', 'membership'] });
  // Links are shared by every part below: none may close one another still needs. The eager
  // links (processes, the registry, control requests) are made on demand: one that goes down is
  // not redialled for them, the next message to that node makes it again.
  const links = shareConnections(transport);
  const eager = withEagerConnect(links.owner('eager', contextual, { untilDown: true }), { clock });

  const membershipPreset = resolved.timing === 'local' ? membershipLocal() : membershipLan();
  // One attempt never outlasts the node's own joinTimeoutMs (startNode retries attempts until it).
  const membershipJoinMs = Math.min(membershipPreset.joinTimeoutMs, resolved.joinTimeoutMs);
  const membership = createMembership({
    nodeId,
    transport: links.membership(contextual),
    seeds: resolved.seeds,
    topology: options.topology ?? 'auto',
    clock,
    random,
    config: { ...membershipPreset, joinTimeoutMs: membershipJoinMs, membershipChannel: 'membership', broadcastChannel: 'broadcast' },
  });

  // Node ids are addresses and stay the same across restarts, and local ids start over at 1:
  // without a new creation per start, a pid kept from before a restart would reach whichever
  // new process got its id. With it, such a pid is `noproc`.
  const creation = random.uint32();
  // The runtime disconnects a node to break the link after a signal was lost on it (an exit, a
  // down or a reply the transport refused), so that both nodes hear noconnection: that ends the
  // shared link for every part. The eager view's own disconnect would only let go of the
  // processes' wish, leaving the link up for Raft and the runtime waiting for a nodeDown.
  const processTransport = Object.assign(Object.create(eager) as EagerTransport, { disconnect: (peer: string) => links.breakLink(peer) });
  const runtime = createRuntime({ nodeId, clock, creation, router: createTransportRouter(processTransport, { channel: 'process' }), telemetry, context: processContextCarrier() });

  const control = createRequestRouter(contextual, 'control');
  const raftTiming = timings(resolved);
  const consensus = createClusterConsensus({
    nodeId,
    voters: resolved.voters,
    contacts: [...resolved.voters, ...resolved.seeds],
    transport,
    forwarding: {
      request: (peer, _channel, payload, requestOptions) => eager.request(peer, 'control', payload, requestOptions),
      onRequest: (_channel, handler) => control.handle('foundation/consensus', handler),
    },
    persistence: createFileStorage(join(resolved.dataDir, 'raft')),
    clock,
    random,
    raft: raftTiming,
    joinTimeoutMs: resolved.joinTimeoutMs,
  });
  // The config stream's snapshots hold the cluster-wide values as the cluster accepted them (see
  // createClusterConfig), asked for when Raft takes one, once the cluster config below exists.
  const configLog: ConsensusLog<ConfigCommand> = consensus.log<ConfigCommand>('config', { retain: { state: () => clusterConfig.snapshotCommands() } });
  // The registry's commands are kept for nodes restored from a snapshot, compacted to the names
  // held and the release floors, so the stream does not grow with every claim ever made.
  // Raft stops by itself when it cannot go on (a write to its storage failed, say): only the
  // callers waiting on it then hear of it, so the node reports it, and health() and status()
  // show it failed (raft.failure()) rather than a healthy leader that can no longer write.
  consensus.raft.on('error', reporter('raft'));
  /**
   * The step `consensus` of stop() and of the clean-up after a failed start, the one step for
   * both, made when either begins. A Raft whose disk failed under a write made from then on (the
   * registry's departure, a leader's appends still arriving) stopped itself, and its stop()
   * resolves: that failure is the step's. One from before was told then (its error event,
   * health()), and is not. The clean-up had a step of its own that did not ask, so such a
   * failure was missing from its `cleanupError`.
   */
  const consensusStep = (): ((steps: StepRunner) => Promise<void>) => {
    const failedBefore = consensus.raft.failure() !== null;
    return (steps) =>
      steps.run('consensus', async () => {
        await consensus.stop();
        const failure = consensus.raft.failure();
        if (!failedBefore && failure !== null) throw failure;
      });
  };
  const registryLog = consensus.log<RegistryCommand>('registry', { retain: { compact: (history) => compactRegistryCommands(history, REGISTRY_NAMESPACE, DEFAULT_REGISTRY_LIMITS) } });
  // Cluster-wide writes are judged against what every node is started with alike (the defaults,
  // the schema, the allow-list), not this node's file and environment, so that every node takes
  // or refuses each one the same way.
  const { defaults, schema, updatablePaths } = options.config ?? { defaults: {} };
  const clusterConfig: ClusterConfig = createClusterConfig(config, configLog, reporter('cluster-config'), { defaults, schema, updatablePaths });
  // Reported while this function runs, where no handler can hear it yet: status() says it too.
  const judgeFallback = clusterConfig.judgeFallback();
  const registry = createRegistry<unknown>({
    nodeId,
    clock,
    random,
    timings: resolved.timing === 'local' ? defaultLocalTimings() : defaultLanTimings(),
    monitor: runtimeMonitor(runtime),
    monitorTargets: (target) => Pid.is(target),
    membership: membershipEventsFor(membership),
    broadcast: membership,
    transport: channelMultiplexer(eager, 'registry'),
    consensusLog: registryLog,
    namespace: REGISTRY_NAMESPACE,
  });
  const clusterEvents = createClusterEvents(events, membership, reporter('cluster-events'), { clock });
  const reportMetrics = reporter('cluster-metrics');
  const sleepOn = (ms: number, signal?: AbortSignal): Promise<void> => sleep(clock, ms, signal);
  const lockClient = createLockClient(consensus, { nodeId, clock, random, sleep: sleepOn });
  const { locks } = lockClient;

  /**
   * A membership join attempt (which lasts up to the membership's own joinTimeoutMs), rejected
   * with JoinTimeoutError once `deadline` passes, so the last attempt does not outlast the node's.
   */
  const joinedBy = async (attempt: Promise<void>, deadline: number): Promise<void> => {
    const leftMs = deadline - clock.monotonic();
    if (leftMs >= membershipJoinMs) return attempt;
    let timer: Timer | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = clock.setTimer(Math.max(0, leftMs), () => reject(new JoinTimeoutError(nodeId, resolved.joinTimeoutMs, resolved.seeds)));
    });
    try {
      // The race handles the attempt's rejection also when it comes after the deadline.
      await Promise.race([attempt, late]);
    } finally {
      timer?.cancel();
    }
  };

  // Control requests other nodes make of this one: metrics for a cluster view, remote spawns.
  const behaviors = new Map<string, Behavior>();
  // Requests can arrive while the node is still joining, before `node` exists: answered as
  // "no responder" (which callers retry) until then, not with a ReferenceError.
  let started = false;
  const once = <T>(answer: () => T): T => {
    if (!started) throw new NoResponderError(nodeId, 'control');
    return answer();
  };
  control.handle('foundation/metrics', () => telemetry.snapshot());
  control.handle('foundation/status', () => once(() => node.status()));
  // What the command line asks a node (src/cli): requests like any other node's, so the CLI
  // needs the cluster's secret and nothing else to reach a node.
  // The asker says how long it will wait (the CLI: what is left of its --timeout); the peers not
  // heard from by then are listed with their error, so the answer comes while it still waits.
  control.handle('foundation/cluster-status', ({ payload }) => {
    const timeoutMs = askedTimeoutMs(payload);
    return once(() => node.clusterStatus(timeoutMs === undefined ? {} : { timeoutMs }));
  });
  control.handle('foundation/services', () =>
    registry.listServices().flatMap((name) =>
      registry.lookupAll(name).map((instance) => ({ name, node: instance.node, health: instance.health, capabilities: instance.capabilities, mode: instance.mode, scope: instance.scope })),
    ),
  );
  control.handle('foundation/config/', async ({ payload }) => {
    once(() => undefined);
    const request = payload as { kind: string; path?: unknown; value?: unknown };
    const path = typeof request.path === 'string' && request.path.length > 0 ? request.path : undefined;
    switch (request.kind) {
      case 'foundation/config/get':
        return path === undefined ? node.config.get() : node.config.get(path as never);
      case 'foundation/config/get-with-consensus':
        if (path === undefined) throw new InvalidOptionsError('path', 'is required for a consensus read');
        return node.config.getWithConsensus(path);
      case 'foundation/config/set':
        if (path === undefined) throw new InvalidOptionsError('path', 'is required to set a value');
        await node.config.setClusterWide(path, request.value);
        return node.config.get(path as never);
      default:
        throw new InvalidOptionsError('kind', `unknown config request ${request.kind}`);
    }
  });
  control.handle('foundation/spawn', ({ payload }) => {
    const request = payload as { behavior?: unknown; args?: unknown };
    const behavior = typeof request.behavior === 'string' ? behaviors.get(request.behavior) : undefined;
    if (behavior === undefined) {
      throw new FoundationError({ type: 'unknown_behavior', code: FOUNDATION_ERROR_CODES.unknownBehavior, message: `no behavior named ${String(request.behavior)} on ${nodeId}` });
    }
    return runtime.spawn(behavior, request.args === undefined ? {} : { args: request.args }).toString();
  });

  // With no seeds the membership starts alone (and others join it); with seeds it waits for a
  // neighbour. It starts before consensus, whose learner join needs a route to a voter. Nodes
  // of a cluster often start together, so a seed may not listen yet: keep at it until
  // joinTimeoutMs. Both joins share that deadline: the membership's last attempt ends by it,
  // and Raft's join gets what is left. A node that cannot join leaves nothing running behind it.
  try {
    const joinBy = clock.monotonic() + resolved.joinTimeoutMs;
    for (;;) {
      try {
        await unlessAborted(joinedBy(membership.join(), joinBy));
        break;
      } catch (error) {
        if (signal?.aborted === true || !FoundationError.is(error) || error.code !== MEMBERSHIP_ERROR_CODES.joinTimeout || clock.monotonic() >= joinBy) throw error;
      }
    }
    await unlessAborted(consensus.start({ joinTimeoutMs: Math.max(0, joinBy - clock.monotonic()) }));
  } catch (error) {
    return failStart(error, async (steps) => {
      const stopConsensus = consensusStep();
      await steps.run('registry', () => registry.close({ announce: false }));
      await steps.run('control', () => control.close());
      await steps.run('membership', () => membership.leave());
      await steps.run('runtime', () => runtime.shutdown({ timeoutMs: 1000 }));
      await stopConsensus(steps);
      await steps.run('cluster-config', () => clusterConfig.close());
      await steps.run('transport', () => transport.close());
      await release(steps);
    });
  }
  // Raft's links are Raft's own: to every voter (as configured, and as the log has them) and every
  // learner, kept up (redialled) whatever the membership does with its links to the same nodes.
  const raftLinks = links.owner('raft');
  let raftPeers = new Set<string>();
  const keepRaftLinks = (members: { readonly voters: readonly string[]; readonly learners: readonly string[] }): void => {
    const next = new Set([...resolved.voters, ...members.voters, ...members.learners].filter((peer) => peer !== nodeId));
    for (const peer of next) if (!raftPeers.has(peer)) raftLinks.connect(peer);
    for (const peer of raftPeers) if (!next.has(peer)) raftLinks.disconnect(peer);
    raftPeers = next;
  };
  const offRaftMembership = consensus.raft.on('membership-change', keepRaftLinks);
  keepRaftLinks(consensus.raft.status().membership);
  registry.register(NODE_SERVICE, { id: nodeId, url: transport.address()!.url }, { capabilities: ['foundation-node'], mode: 'group' } as never);
  // Learners that left the cluster (the registry no longer lists them) leave the Raft group too,
  // and a live node the group lost is added back (src/wiring/learner-upkeep.ts).
  const stopLearnerUpkeep = keepLearnersToLiveNodes({
    nodeId,
    raft: consensus.raft,
    liveNodes: () => registry.lookupAll(NODE_SERVICE).map((instance) => instance.node),
    // A learner still joining registers only once it has caught up: its membership link says it is alive.
    linkedNodes: () => membership.members(),
    clock,
    ...(resolved.timing === 'local' ? { graceMs: 2_000, intervalMs: 250 } : { graceMs: 15_000, intervalMs: 1_000 }),
  });
  // Leases that ended a while ago leave the lock table, cleared by the leader
  // (src/coordination/lock-sweep.ts); the grace covers clocks that disagree.
  const stopLockSweep = sweepEndedLocks({
    raft: consensus.raft,
    locks: () => consensus.stateMachine.lockStates(),
    propose: (command, signal) => consensus.propose('locks', command, signal),
    clock,
    maxPerSweep: 128,
    ...(resolved.timing === 'local' ? { graceMs: 5_000, intervalMs: 1_000 } : { graceMs: 60_000, intervalMs: 10_000 }),
  });

  const singletons = new Set<Singleton>();
  let stopping: Promise<void> | null = null;
  let registryClosed = false;
  const spawnOn = async (node: string, behavior: string, args?: unknown): Promise<Pid> => {
    if (node === nodeId) {
      const local = behaviors.get(behavior);
      if (local === undefined) throw new FoundationError({ type: 'unknown_behavior', code: FOUNDATION_ERROR_CODES.unknownBehavior, message: `no behavior named ${behavior} on ${nodeId}` });
      return runtime.spawn(local, args === undefined ? {} : { args });
    }
    const reply = await eager.request(node, 'control', { kind: 'foundation/spawn', behavior, args }, { timeout: 5000 });
    return Pid.parse(reply);
  };
  const kvPropose = async (command: unknown): Promise<KvResult> => (await consensus.propose('kv', command)).value as KvResult;

  /**
   * The other nodes a cluster-wide request (status, metrics) asks: those in the registry, and
   * those the membership links that are not in it yet (a learner still joining registers only once
   * it has caught up), so that every such request counts the same nodes. Once stop() has closed
   * the registry, which then refuses queries, only the membership's: a stopping or stopped node's
   * clusterStatus() and getClusterMetrics() rejected with RegistryClosedError.
   */
  const otherNodes = (): string[] => {
    const others = new Set([...(registryClosed ? [] : registry.lookupAll(NODE_SERVICE).map((instance) => instance.node)), ...membership.members()]);
    others.delete(nodeId);
    return [...others].sort();
  };

  const node: FoundationNode = {
    id: nodeId,
    url: transport.address()!.url,
    transport: contextual,
    runtime,
    membership,
    consensus,
    // The cluster-wide operations only: closing the cluster config, or asking it for a
    // snapshot's values, is the node's own business (a closed one would stop Raft's snapshots).
    config: extend(config, {
      setClusterWide: (path: ConfigPath, value: unknown, options?: { readonly signal?: AbortSignal }) => clusterConfig.setClusterWide(path, value, options),
      getWithConsensus: (path: ConfigPath, options?: { readonly signal?: AbortSignal }) => clusterConfig.getWithConsensus(path, options),
    }),
    events: extend(events, clusterEvents),
    telemetry: extend(telemetry, {
      async getClusterMetrics(metricsOptions: { aggregation?: 'sum' | 'average' | 'min' | 'max' | 'last'; timeoutMs?: number } = {}) {
        const snapshots = await Promise.all(
          otherNodes().map(async (member) => {
            try {
              return parseSnapshot(await eager.request(member, 'control', { kind: 'foundation/metrics' }, { timeout: metricsOptions.timeoutMs ?? 2000 }));
            } catch (error) {
              reportMetrics(FoundationError.from(error));
              return null;
            }
          }),
        );
        const present = [telemetry.snapshot(), ...snapshots.filter((snapshot): snapshot is MetricsSnapshot => snapshot !== null)];
        return mergeSnapshots(present, metricsOptions.aggregation === undefined ? {} : { gauges: metricsOptions.aggregation });
      },
    }),
    registry,
    locks,
    kv: {
      put: async (key, value) => ((await kvPropose({ op: 'put', key, value })) as { previous: unknown }).previous,
      get: (key) => consensus.read({ kind: 'kv', query: { op: 'get', key } }),
      delete: async (key) => ((await kvPropose({ op: 'delete', key })) as { existed: boolean }).existed,
      compareAndSet: async (key, expected, value) => ((await kvPropose({ op: 'cas', key, expected, value })) as { ok: boolean }).ok,
    },
    context: { propagator, recorder },
    defineBehavior(name, behavior) {
      behaviors.set(name, behavior);
    },
    spawnOn,
    async spawnWhere(criteria, behavior, args) {
      // Refused as spawnOn() is once the node stops: the registry stop() closed would otherwise
      // answer first, with RegistryClosedError, an error no other call of a stopped node gives.
      if (registryClosed) throw new RuntimeStoppedError(nodeId, 'spawn');
      const candidates = registry.discover(criteria);
      if (candidates.length === 0) {
        throw new FoundationError({ type: 'no_candidate_node', code: FOUNDATION_ERROR_CODES.noCandidateNode, message: `no service matches ${JSON.stringify(criteria)}` });
      }
      const chosen = candidates.find((instance) => instance.node === nodeId) ?? candidates[random.int(0, candidates.length)]!;
      return spawnOn(chosen.node, behavior, args);
    },
    singleton(singletonOptions) {
      // Refused as spawns are from stop() on: stop() stops the singletons it has when it is
      // called, so one made later competed for its lock against the stopped Raft every renewal
      // period, for as long as the process lived.
      if (stopping !== null) throw new RuntimeStoppedError(nodeId, 'spawn');
      const singleton = startSingleton(locks, runtime, clock, sleepOn, singletonOptions);
      singletons.add(singleton);
      return singleton;
    },
    status() {
      const raft = consensus.raft.status();
      const raftFailed = consensus.raft.failure() !== null;
      const stats = transport.stats();
      const topology = membership.topology();
      return {
        id: nodeId,
        url: transport.address()!.url,
        uptimeMs: clock.monotonic() - startedAt,
        version: VERSION,
        membership: { members: membership.members(), activeView: membership.activeView(), passiveView: membership.passiveView(), topology: topology.mode },
        // A learner follows without a vote: shown as what it is. A Raft node that stopped on a
        // failure keeps the role and leader it last had: it is neither.
        raft: {
          role: raftFailed ? 'failed' : raft.role === 'follower' && raft.membership.learners.includes(nodeId) ? 'learner' : raft.role,
          term: raft.term,
          leader: raftFailed ? null : raft.leader,
          commit: raft.commit,
          applied: raft.applied,
          voters: raft.membership.voters,
          learners: raft.membership.learners,
        },
        processes: runtime.processes().length,
        // The registry refuses queries once stop() has closed it: a stopped node offers none.
        services: registryClosed ? 0 : registry.listServices().length,
        peers: transport.peers(),
        channels: Object.fromEntries(
          Object.entries(stats.channels).map(([name, channel]) => [
            name,
            {
              messagesSent: channel.messagesQueued,
              bytesSent: channel.bytesSent,
              messagesReceived: channel.messagesReceived,
              bytesReceived: channel.bytesReceived,
              queuedMessages: channel.queuedMessages,
              queuedBytes: channel.queuedBytes,
            },
          ]),
        ),
        rttMs: Object.fromEntries(stats.peers.filter((peer) => peer.state === 'up').map((peer) => [peer.peer, peer.rttAverageMs])),
        configJudge: judgeFallback === null ? { judge: 'cluster' } : { judge: 'node', code: judgeFallback.code, message: judgeFallback.message },
      };
    },
    async clusterStatus(statusOptions = {}) {
      const remote = await Promise.all(
        otherNodes().map(async (member): Promise<ClusterNodeStatus> => {
          try {
            return { node: member, status: readNodeStatus(await eager.request(member, 'control', { kind: 'foundation/status' }, { timeout: statusOptions.timeoutMs ?? 2000 }), member) };
          } catch (error) {
            return { node: member, error: FoundationError.from(error).message };
          }
        }),
      );
      return [{ node: nodeId, status: node.status() }, ...remote];
    },
    health() {
      const raft = consensus.raft.status();
      const services: Record<string, 'up' | 'degraded' | 'down'> = {
        transport: 'up',
        membership: resolved.seeds.length === 0 || membership.members().length > 0 ? 'up' : 'degraded',
        consensus: consensus.raft.failure() !== null ? 'down' : raft.leader === null ? 'degraded' : 'up',
        runtime: 'up',
        registry: 'up',
        config: 'up',
        events: 'up',
      };
      // From stop() on, every service is shutting down or shut: a health check that went on
      // hearing "healthy" kept sending work to a node that had closed its port.
      if (stopping !== null) for (const service of Object.keys(services)) services[service] = 'down';
      const status = Object.values(services).every((state) => state === 'up') ? 'healthy' : 'degraded';
      return { status, services, versions: { foundation: VERSION } };
    },
    version: () => VERSION,
    available: () => stopping === null,
    stop() {
      stopping ??= (async () => {
        // Every step runs, in order, whatever the ones before it did: a failure (Raft's files
        // failing to close, say) ended stop() there, and the node kept its port, its data
        // directory and its stores for as long as the process lived. The failures are reported
        // together at the end. The singletons stop together (src/coordination/singleton.ts).
        const steps = createStepRunner();
        const stopConsensus = consensusStep();
        await stopSingletons(singletons, steps);
        // Before the registry closes: the upkeep asks it which nodes are live, and a closed
        // registry refuses that question (RegistryClosedError from a timer).
        await steps.run('learner-upkeep', stopLearnerUpkeep);
        await steps.run('lock-sweep', stopLockSweep);
        // After the singletons, whose stop aborts an acquire in flight and so starts a take-back:
        // one in flight is aborted and waited for, so that none proposes into the rest of the stop.
        await steps.run('lock-take-backs', () => lockClient.stop());
        registryClosed = true;
        await steps.run('registry', () => registry.close({ announce: true }));
        await steps.run('control', () => control.close());
        // Leaving and shutting down fail as a matter of course (peers gone, a process that will
        // not stop in time): neither is a failure of stop().
        await membership.leave().catch(() => undefined);
        await runtime.shutdown({ timeoutMs: 2000 }).catch(() => undefined);
        await steps.run('raft-links', offRaftMembership);
        await stopConsensus(steps);
        // After Raft: it applies and may snapshot until it has stopped, and a snapshot asks the
        // cluster config for the values it holds (a closed one would miss what came meanwhile).
        await steps.run('cluster-config', () => clusterConfig.close());
        await steps.run('transport', () => transport.close());
        // Last: nothing that stores or reads events (cluster-wide events arriving over the
        // transport) runs any more, and Raft's files are closed.
        await release(steps);
        if (steps.failures.length > 0) throw new NodeStopError(nodeId, [...steps.failures]);
      })();
      return stopping;
    },
  };
  started = true;
  return node;
}
