// The registry: the local API (register, lookup, discover, route, waitFor, watch, health) over
// the replicated state and the indexed view, plus the drivers for health timers, monitors,
// replication and consensus-held names. Time comes from the injected Scheduler and randomness
// from the injected Random, so a registry runs the same in the simulator as on a real node.
import type { Random, Scheduler, Timer } from '@foundation/core';
import { FoundationError, backoffDelay, createCryptoRandom, createSystemClock, utf8Length } from '@foundation/core';
import type { DiscoveryCriteria, CompiledCriteria } from './core/criteria';
import { compileCriteria, withHealth } from './core/criteria';
import type { RegistryCommand } from './core/global-names';
import { GlobalNames, claimData } from './core/global-names';
import { HealthTracker } from './core/health-tracker';
import type { HealthPolicy } from './core/health-tracker';
import type { RegistryLimits } from './core/limits';
import { DEFAULT_LIMITS, MAX_INCARNATION, MAX_NAMESPACE_LENGTH } from './core/limits';
import { checkName, nodeIdProblem } from './core/names';
import { PlainJsonProblem, copyPlainJson, plainJsonEqual } from './core/plain-json';
import type { DepartureRecord, OwnEntryFields, ReplicaChange, Slot } from './core/replica';
import { Replica, newSlot } from './core/replica';
import type { RoutingStrategy } from './core/routing';
import { ROUTING_STRATEGIES, choose } from './core/routing';
import type { Conflict, DownReason, ViewEvent } from './core/service-view';
import { ServiceView } from './core/service-view';
import type { HealthStatus, RegistrationMode, ServiceInstance } from './core/types';
import { HEALTH_STATUSES } from './core/types';
import { entryBytes, entryRoom } from './core/wire';
import { Replication } from './driver/replication';
import { AlreadyRegisteredError } from './errors/already-registered-error';
import { ConsensusFailedError } from './errors/consensus-failed-error';
import { ConsensusNotConfiguredError } from './errors/consensus-not-configured-error';
import { InvalidNameError } from './errors/invalid-name-error';
import { RegistryClosedError } from './errors/registry-closed-error';
import { RegistryFullError } from './errors/registry-full-error';
import { RegistryTimeoutError } from './errors/registry-timeout-error';
import { RegistryValidationError } from './errors/registry-validation-error';
import { ServiceNotFoundError } from './errors/service-not-found-error';
import { ServiceUnavailableError } from './errors/service-unavailable-error';
import { parseVersion } from './semver/version';
import type { Broadcast } from './ports/broadcast';
import type { AppliedEntry, ConsensusLog } from './ports/consensus-log';
import type { MembershipEvents } from './ports/membership-events';
import type { Monitor } from './ports/monitor';
import type { PeerTransport } from './ports/peer-transport';

// ---- options and public types ---------------------------------------------------------------

/** Timings of the cluster protocol. See `defaultLanTimings` and `defaultLocalTimings`. */
export interface ClusterTimings {
  /** Anti-entropy round period (one digest to one random member per round); 0 turns rounds off. */
  readonly antiEntropyIntervalMs: number;
  /** Delay before own changes are published; changes within it go in one delta. */
  readonly publishDelayMs: number;
  /** How long a removal is remembered after it is settled, to tell peers that are behind. */
  readonly tombstoneRetentionMs: number;
  /** How long a departure record is replicated. */
  readonly departureRetentionMs: number;
}

/**
 * LAN defaults: a round a second (a late joiner or a healed partition converges in O(log n)
 * rounds), deltas published in the turn they happen, removals remembered for a minute and
 * departures for an hour (Serf keeps left members 24 h; an hour bounds the state kept here).
 */
export function defaultLanTimings(): ClusterTimings {
  return { antiEntropyIntervalMs: 1000, publishDelayMs: 0, tombstoneRetentionMs: 60_000, departureRetentionMs: 3_600_000 };
}

/** Fast timings for tests and local clusters. */
export function defaultLocalTimings(): ClusterTimings {
  return { antiEntropyIntervalMs: 100, publishDelayMs: 0, tombstoneRetentionMs: 5_000, departureRetentionMs: 60_000 };
}

export interface RegistryOptions<Target = unknown> {
  /** This node's id (1–255 characters of `[A-Za-z0-9_.:@+/-]`). */
  readonly nodeId: string;
  /** Isolates registries from each other, as 1.x's `:production` and `{:test, ref}`. Default `production`. */
  readonly namespace?: string;
  /** This node's zone, for `local-first` routing and as the default zone of registrations. */
  readonly zone?: string;
  readonly clock?: Scheduler;
  readonly random?: Random;
  /** Distinguishes this start of the node from earlier ones. Default: the clock's wall time in ms. */
  readonly incarnation?: number;
  readonly limits?: Partial<RegistryLimits>;
  readonly timings?: Partial<ClusterTimings>;
  /** What happens to this node's registration when it loses a unique name on merge. Default `unregister`. */
  readonly nameConflict?: 'unregister' | 'keep';
  /** Watches registered targets; they are unregistered when they exit. */
  readonly monitor?: Monitor<Target>;
  /** Which targets to monitor by default. Default: pid-like values (an object with a string `node` and a numeric `id`). */
  readonly monitorTargets?: (target: Target) => boolean;
  readonly membership?: MembershipEvents;
  readonly broadcast?: Broadcast;
  readonly transport?: PeerTransport;
  /** For `registerGlobal`. Create the registry before the log applies entries: it does not replay history. */
  readonly consensusLog?: ConsensusLog<RegistryCommand>;
  /** Default timeout of `registerGlobal`, `unregisterGlobal` and consistent global lookups. Default 5,000 ms. */
  readonly consensusTimeoutMs?: number;
  /** A departed node's global names are released after a random delay up to this, by whichever node gets there first. Default 1,000 ms. */
  readonly releaseJitterMs?: number;
}

export interface HealthOptions<Target = unknown> {
  /** Status until the first check or heartbeat says otherwise. Default `healthy`. */
  readonly initial?: HealthStatus;
  /** An active check: true or `healthy` passes; false, `unhealthy`, a throw or a timeout fails; `degraded` degrades. */
  readonly check?: (target: Target) => boolean | HealthStatus | Promise<boolean | HealthStatus>;
  /** Default 10,000 ms. */
  readonly intervalMs?: number;
  /** Default 2,000 ms. */
  readonly timeoutMs?: number;
  /** Consecutive failures to become `unhealthy` (fewer make it `degraded`). Default 3. */
  readonly failureThreshold?: number;
  /** Consecutive successes to become `healthy` again. Default 1. */
  readonly recoveryThreshold?: number;
  /** Passive TTL: without a `heartbeat()` for this long, `degraded`. */
  readonly ttlMs?: number;
  /** After `ttlMs + graceMs` without a heartbeat, `unhealthy`. Default `ttlMs`. */
  readonly graceMs?: number;
}

export interface RegisterOptions<Target = unknown> {
  /** `unique` (default, 1.x semantics) or `group` (many instances under one name). */
  readonly mode?: RegistrationMode;
  readonly capabilities?: readonly string[];
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly version?: string;
  readonly serviceType?: string;
  readonly zone?: string;
  /** For `weighted` routing. Default 1. */
  readonly weight?: number;
  /** Initial reported load. Default 0. */
  readonly load?: number;
  readonly health?: HealthOptions<Target>;
  /** Monitor the target (unregister it when it exits). Default: `monitorTargets(target)` when a monitor is configured. */
  readonly monitor?: boolean;
}

/**
 * Options of `registerGlobal`: those of `register` less `health` and `load`, which a global name
 * cannot honour (see `checkGlobalOptions`), and with `mode` only `unique`.
 */
export interface GlobalRegisterOptions<Target = unknown> extends Omit<RegisterOptions<Target>, 'mode' | 'health' | 'load'> {
  /** Always `unique`: a global name has one holder. */
  readonly mode?: 'unique';
  /** Default `consensusTimeoutMs`. */
  readonly timeoutMs?: number;
}

/** A handle on one of this node's registrations. */
export interface Registration<Target = unknown> {
  readonly id: string;
  readonly name: string;
  /** The registration as it is now; undefined once it is gone. */
  instance(): ServiceInstance<Target> | undefined;
  /** A passive health heartbeat. False when the registration is gone or the registry closed. */
  heartbeat(): boolean;
  reportLoad(load: number): boolean;
  setHealth(status: HealthStatus): boolean;
  updateMetadata(metadata: Readonly<Record<string, unknown>>): boolean;
  /** False when it was already gone, or the registry closed. */
  unregister(): boolean;
}

export interface GlobalRegistration<Target = unknown> {
  readonly id: string;
  readonly name: string;
  readonly instance: ServiceInstance<Target>;
  /** Releases the name through the log; false when this node no longer held it. */
  release(options?: { readonly timeoutMs?: number }): Promise<boolean>;
}

export type WatchEvent<Target = unknown> =
  | { readonly type: 'service-up'; readonly instance: ServiceInstance<Target> }
  | { readonly type: 'service-down'; readonly instance: ServiceInstance<Target>; readonly reason: DownReason | 'health' | 'changed' }
  | { readonly type: 'service-change'; readonly instance: ServiceInstance<Target>; readonly previous: ServiceInstance<Target> };

export interface WatchOptions {
  /** Also deliver `service-up` for instances that match now. Default false. */
  readonly initial?: boolean;
}

export interface RouteOptions {
  /** Default `round-robin`. */
  readonly strategy?: RoutingStrategy;
  /** The key for `consistent-hash`. */
  readonly key?: string;
}

export interface WaitForOptions {
  /** Default 5,000 ms (1.x `wait_for_service`). */
  readonly timeout?: number;
  readonly signal?: AbortSignal;
}

export interface NameConflictEvent<Target = unknown> {
  readonly name: string;
  /** This node's registration, which lost. */
  readonly loser: ServiceInstance<Target>;
  readonly winner: ServiceInstance<Target>;
  /** What this node did about it (`nameConflict` option). */
  readonly action: 'unregistered' | 'kept';
}

export interface RegistryEventMap<Target = unknown> {
  'name-conflict': NameConflictEvent<Target>;
  'health-change': { readonly instance: ServiceInstance<Target>; readonly previous: HealthStatus };
  'message-reject': { readonly peer: string; readonly error: FoundationError };
  'node-purge': { readonly node: string; readonly incarnation: number };
  'incarnation-change': { readonly incarnation: number; readonly reason: string };
  'global-release': { readonly instance: ServiceInstance<Target> };
  'consensus-error': { readonly operation: string; readonly error: FoundationError };
  'handler-error': { readonly source: string; readonly error: unknown };
}

export type RegistryEvent = keyof RegistryEventMap;

export interface RegistryStats {
  readonly nodeId: string;
  readonly namespace: string;
  readonly incarnation: number;
  /** Names with a visible instance. */
  readonly names: number;
  /** Visible instances, own and replicated. */
  readonly instances: number;
  readonly localServices: number;
  /** Nodes whose state is held, including this one. */
  readonly nodes: number;
  readonly tombstones: number;
  readonly departures: number;
  readonly globalNames: number;
  /** This node's global claims whose append failed, so that whether they commit is unknown (at most 1,000 are kept). */
  readonly globalClaimsInDoubt: number;
  readonly digest: string;
  readonly deltasPublished: number;
  readonly messagesReceived: number;
  readonly messagesRejected: number;
  readonly antiEntropyRounds: number;
}

export interface Registry<Target = unknown> {
  readonly nodeId: string;
  readonly namespace: string;
  readonly incarnation: number;
  /** Registers `target` under `name`. Throws AlreadyRegisteredError (5601) for a taken unique name. */
  register(name: string, target: Target, options?: RegisterOptions<Target>): Registration<Target>;
  /** Removes this node's registrations of `name` (only those of `target` when given); returns how many. */
  unregister(name: string, target?: Target): number;
  /** The target `name` resolves to; throws ServiceNotFoundError (3401). */
  lookup(name: string): Target;
  /** The instance `name` resolves to (healthier, then local, then oldest first), or undefined. */
  find(name: string): ServiceInstance<Target> | undefined;
  /** Every visible instance of `name`, oldest first. */
  lookupAll(name: string): ServiceInstance<Target>[];
  /** Names with at least one visible instance, sorted. */
  listServices(): string[];
  discover(criteria?: DiscoveryCriteria, options?: { readonly limit?: number }): ServiceInstance<Target>[];
  route(nameOrCriteria: string | DiscoveryCriteria, options?: RouteOptions): ServiceInstance<Target>;
  waitFor(name: string, options?: WaitForOptions): Promise<ServiceInstance<Target>>;
  watch(criteria: string | DiscoveryCriteria, handler: (event: WatchEvent<Target>) => void, options?: WatchOptions): () => void;
  /** 1.x `health_check`: runs `check` against the instance `name` resolves to, within `timeout` (default 2,000 ms). */
  healthCheck(name: string, check: (target: Target) => boolean | HealthStatus | Promise<boolean | HealthStatus>, options?: { readonly timeout?: number }): Promise<HealthStatus>;
  registerGlobal(name: string, target: Target, options?: GlobalRegisterOptions<Target>): Promise<GlobalRegistration<Target>>;
  unregisterGlobal(name: string, options?: { readonly timeoutMs?: number }): Promise<boolean>;
  /** The global holder of `name`; `consistent` waits for a linearizable point of the log first. */
  lookupGlobal(name: string, options?: { readonly consistent?: boolean; readonly timeoutMs?: number }): Promise<ServiceInstance<Target> | undefined>;
  /** Subscribes `handler` to `event`; returns its unsubscribe. Each call is a subscription of its own: the same function subscribed twice hears each event twice. */
  on<Event extends RegistryEvent>(event: Event, handler: (payload: RegistryEventMap<Target>[Event]) => void): () => void;
  /** Starts an anti-entropy exchange with `peer` now. */
  syncWith(peer: string): void;
  /** Publishes pending own changes now instead of after `publishDelayMs`. */
  flush(): void;
  /** A 64-bit digest of the replicated state (16 hex digits): equal digests, equal state. */
  digest(): string;
  stats(): RegistryStats;
  /**
   * Stops timers, monitors, watches and subscriptions; with `announce` (default true) peers purge
   * this node at once, and a release of each of this node's global names is appended to the log
   * (best effort, not waited for). Calls made afterwards, queries included, throw RegistryClosedError (5605); `digest()`
   * and `stats()` still describe the state as it was left.
   */
  close(options?: { readonly announce?: boolean }): void;
}

// ---- implementation -------------------------------------------------------------------------

interface OwnRecord<Target> {
  readonly id: string;
  readonly name: string;
  readonly target: Target;
  readonly targetJson: string;
  readonly tracker: HealthTracker;
  readonly check: HealthOptions<Target>['check'];
  readonly checkIntervalMs: number;
  readonly checkTimeoutMs: number;
  monitorReference: unknown;
  monitored: boolean;
  /** The monitor reported the target gone before the registration was in place. */
  exitedEarly: boolean;
  checkTimer: Timer | undefined;
  ttlTimer: Timer | undefined;
  checkInFlight: boolean;
  /** Gives up the check in flight, and its timeout timer, once the registration is gone. */
  abandonCheck: (() => void) | undefined;
}

interface Watcher<Target> {
  readonly criteria: CompiledCriteria;
  readonly handler: (event: WatchEvent<Target>) => void;
  /** Set by its stop function: events go to a copy of the watchers, which may still hold it. */
  stopped: boolean;
  /** The view's first event after the watch began: earlier ones, told late, it has seen already. */
  readonly since: number;
  /** While its initial matches are told: what it is to hear, in order (later changes queue behind). */
  backlog: WatchEvent<Target>[] | undefined;
}

interface Waiter<Target> {
  readonly resolve: (instance: ServiceInstance<Target>) => void;
  readonly reject: (error: Error) => void;
  readonly cleanup: () => void;
}

const DEFAULT_NAMESPACE = 'production';
/** The health policy of registrations without health options (shared: one object for all). */
const DEFAULT_HEALTH_POLICY: HealthPolicy = Object.freeze({ initial: 'healthy', failureThreshold: 3, recoveryThreshold: 1, ttlMs: undefined, graceMs: 0 });
const DEFAULT_WAIT_MS = 5000;
/** How often a wait for the log to reach an index checks the log's own applied index. */
const APPLIED_POLL_MS = 5;
const ROUTE_COUNTERS_KEPT = 10_000;
/**
 * Claims in doubt kept (see `RegistryImpl.inDoubt`); the oldest is let go first. Nothing the log
 * says tells when a claim whose append failed can no longer commit, so the table is bounded.
 */
const CLAIMS_IN_DOUBT_KEPT = 1_000;

function isPidLike(target: unknown): boolean {
  return typeof target === 'object' && target !== null && typeof (target as { node?: unknown }).node === 'string' && typeof (target as { id?: unknown }).id === 'number';
}

function positiveInteger(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new RegistryValidationError(field, 'expected a positive integer');
  return value;
}

function nonNegative(value: unknown, field: string, allowZero = true): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new RegistryValidationError(field, allowZero ? 'expected a finite number ≥ 0' : 'expected a finite number > 0');
  }
  return value;
}

/** A call's options object (the default `{}` covers only undefined; null and others failed with a TypeError). */
function checkOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) throw new RegistryValidationError('options', 'expected an object');
}

/**
 * Refuses the options of `register` that a global name cannot honour. Its health and load are
 * fixed where its claim is applied, alike on every replica (healthy, load 0), and its handle
 * reports neither later: keeping them current would take a log entry per check or report.
 * Taken and dropped, they were a trap: a check never ran, `initial: 'unhealthy'` showed
 * healthy, a bad `intervalMs` passed, and `mode: 'group'` became unique.
 */
function checkGlobalOptions(options: object): void {
  const given = options as { readonly health?: unknown; readonly load?: unknown; readonly mode?: unknown };
  // Null is absent, as `register` reads it (`??`); a null load is refused there too, as not a number.
  if (given.health !== undefined && given.health !== null) {
    throw new RegistryValidationError('health', 'a global name has no health checks or status of its own: it shows healthy while held (register a cluster name to have it checked)');
  }
  if (given.load !== undefined) throw new RegistryValidationError('load', 'a global name reports no load: it shows 0 while held');
  if (given.mode !== undefined && given.mode !== null && given.mode !== 'unique') throw new RegistryValidationError('mode', 'a global name is always unique');
}

/** A limit on results: a whole number ≥ 0, or Infinity. */
function resultLimit(value: unknown): number {
  if (typeof value !== 'number' || value < 0 || !(Number.isInteger(value) || value === Number.POSITIVE_INFINITY)) {
    throw new RegistryValidationError('limit', 'expected a whole number ≥ 0');
  }
  return value;
}

/** A timeout in ms: a number ≥ 0, Infinity for none. */
function timeoutOrInfinity(value: unknown, field: string): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) throw new RegistryValidationError(field, 'expected a number of milliseconds ≥ 0');
  return value;
}

/** Whether nothing reachable from `value` can change: frozen objects of data properties, all the way down (criteria nest a few levels). */
function frozenThrough(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null) return true;
  if (depth > 10 || !Object.isFrozen(value)) return false;
  for (const descriptor of Object.values(Object.getOwnPropertyDescriptors(value))) {
    if (!('value' in descriptor) || !frozenThrough(descriptor.value, depth + 1)) return false;
  }
  return true;
}

function isAbortSignal(value: unknown): value is AbortSignal {
  if (typeof value !== 'object' || value === null) return false;
  const signal = value as Partial<AbortSignal>;
  return typeof signal.aborted === 'boolean' && typeof signal.addEventListener === 'function' && typeof signal.removeEventListener === 'function';
}

/**
 * A load with the longest JSON text `checkLoad` lets through, 24 characters: 17 significant
 * digits after "0.00000" (smaller numbers are written with an exponent, larger ones need fewer zeros).
 */
const LONGEST_LOAD = 0.000_001_234_567_890_123_456_7;

function asError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown), { cause: thrown });
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error('aborted', { cause: reason });
}

class RegistryImpl<Target> implements Registry<Target> {
  readonly nodeId: string;
  readonly namespace: string;
  private readonly zone: string | undefined;
  private readonly clock: Scheduler;
  private readonly random: Random;
  private readonly limits: RegistryLimits;
  private readonly timings: ClusterTimings;
  private readonly options: RegistryOptions<Target>;
  private readonly replica: Replica;
  private readonly view: ServiceView;
  private readonly replication: Replication | undefined;
  private globals: GlobalNames;
  private readonly own = new Map<string, OwnRecord<Target>>();
  /** name → target JSON → this node's registration (a name's own targets are distinct: see `register`). */
  private readonly ownByName = new Map<string, Map<string, OwnRecord<Target>>>();
  private readonly watchersByName = new Map<string, Set<Watcher<Target>>>();
  private readonly watchersOther = new Set<Watcher<Target>>();
  private readonly waiters = new Map<string, Set<Waiter<Target>>>();
  private readonly handlers = new Map<string, Set<(payload: never) => void>>();
  private readonly routeCounters = new Map<string, number>();
  private readonly compiledByName = new Map<string, CompiledCriteria>();
  private readonly compiledByObject = new WeakMap<object, CompiledCriteria>();
  /** Callers of `registerGlobal` waiting for their claim to be applied (undefined: see `finishRestore`). */
  private readonly claimWaiters = new Map<string, (outcome: ClaimOutcome | undefined) => void>();
  private readonly appliedWaiters = new Set<{ index: number; resolve: () => void; reject: (error: Error) => void; operation: string }>();
  /** Calls under a timeout still running (a health check, a wait on the log), each with its way to give up. */
  private readonly running = new Set<{ operation: string; abandon: (error: Error) => void }>();
  /**
   * This node's claims: pending, held, or of unknown outcome (a timeout or a failed append may
   * still commit). One that commits holds the name for its target, monitored as asked.
   */
  private readonly ownGlobals = new Map<string, OwnGlobal>();
  /**
   * Those of `ownGlobals` whose append failed before their index was known, oldest first. One
   * of them may still commit, at any later index: a log that gave up on a command does not say
   * whether some leader still holds it. One is settled when it is applied here (or a restored
   * snapshot holds it), and forgotten when the log has released this node's incarnation (it
   * would be refused) or when CLAIMS_IN_DOUBT_KEPT newer ones are in doubt. One forgotten that
   * commits after all holds its name for this node under none of this registry's claims, and
   * `releaseOrphan` releases it as a name of an earlier start.
   */
  private readonly inDoubt = new Map<string, OwnGlobal>();
  /** The view's records of names held through consensus (the replica holds the others). */
  private readonly globalSlots = new Map<string, Slot>();
  /**
   * Releases under way (retried until they land or are no longer needed), by key: the timer of
   * one waiting for its jitter or its next try, null while it is being appended. close() cancels
   * the timers.
   */
  private readonly releasing = new Map<string, Timer | null>();
  private readonly unsubscribers: (() => void)[] = [];
  private sequence = 0;
  /**
   * This start's part of its global claim ids, drawn at its first claim. Claims live in the log
   * beyond the process that made them, and a node may start again under an incarnation it had
   * before (a clock that repeats, a counter restored from an old copy): without it, a new start
   * would number its claims as the earlier one did, and a command about an earlier claim (its
   * release committing late, the release of it as a name of an earlier start) would act on the
   * new one that has its id, or be skipped as this start's own.
   */
  private claimStart: string | undefined;
  private closed = false;
  /** While close() runs: the events it raises are told (see `emit`). */
  private closing = false;
  private appliedIndex = 0;
  /** The log index of the newest snapshot restored here: every claim up to it is settled. */
  private restoredThrough = 0;
  /**
   * Whether a snapshot's commands are being heard again (between `onRestore` and
   * `onRestoreEnd`): `globals` is rebuilt from them while the view, and so every watcher, still
   * sees the names as they were; `finishRestore` then shows only the difference.
   */
  private replaying = false;
  /**
   * During such a replay, the global names as they were before it, as the view shows them:
   * lookups read them until `finishRestore`, not `globals` half rebuilt (where a name the replay
   * has not reached yet looks free, and a name it will take away still looks held).
   */
  private globalsBeforeReplay: GlobalNames | undefined;

  constructor(options: RegistryOptions<Target>) {
    this.options = options;
    const nodeProblem = nodeIdProblem(options.nodeId);
    if (nodeProblem !== undefined) throw new InvalidNameError('node id', options.nodeId, nodeProblem);
    this.nodeId = options.nodeId;
    this.namespace = checkName('namespace', options.namespace ?? DEFAULT_NAMESPACE, MAX_NAMESPACE_LENGTH);
    this.limits = Object.freeze({ ...DEFAULT_LIMITS, ...options.limits });
    for (const [key, value] of Object.entries(this.limits)) positiveInteger(value, `limits.${key}`);
    this.timings = Object.freeze({ ...defaultLanTimings(), ...options.timings });
    for (const [key, value] of Object.entries(this.timings)) nonNegative(value, `timings.${key}`);
    this.zone = options.zone === undefined ? undefined : checkName('zone', options.zone, this.limits.maxNameLength);
    // Checked here, not where used: both are read in timers and promise handlers, where a bad
    // value threw into a rejection nobody handled.
    if (options.consensusTimeoutMs !== undefined) nonNegative(options.consensusTimeoutMs, 'consensusTimeoutMs', false);
    if (options.releaseJitterMs !== undefined) nonNegative(options.releaseJitterMs, 'releaseJitterMs');
    if (options.nameConflict !== undefined && options.nameConflict !== 'unregister' && options.nameConflict !== 'keep') {
      throw new RegistryValidationError('nameConflict', 'expected "unregister" or "keep"');
    }
    this.clock = options.clock ?? createSystemClock({ keepAlive: false });
    this.random = options.random ?? createCryptoRandom();
    const incarnation = options.incarnation ?? Math.max(0, Math.floor(this.clock.now()));
    if (!Number.isSafeInteger(incarnation) || incarnation < 0 || incarnation > MAX_INCARNATION) {
      throw new RegistryValidationError('incarnation', `expected an integer in 0..${MAX_INCARNATION}`);
    }
    const globalSlots = this.globalSlots;
    const replicaRef = (): Replica => this.replica;
    this.view = new ServiceView(
      this.nodeId,
      {
        *all() {
          yield* replicaRef().slots();
          yield* globalSlots.values();
        },
        *ofNode(node) {
          yield* replicaRef().slotsOf(node);
          for (const slot of globalSlots.values()) if (slot.instance.node === node) yield slot;
        },
        countOfNode: (node) => replicaRef().countOf(node) + globalSlots.size,
      },
      (event, sequence) => this.onViewEvent(event, sequence),
      (conflict) => this.onConflict(conflict),
    );
    // Drawn at every start, so that peers tell this start from an earlier one under the same
    // incarnation (see ReplicaOptions.life): 53 random bits in base 36.
    const life = ((this.random.uint32() % 2 ** 21) * 2 ** 32 + this.random.uint32()).toString(36);
    this.replica = new Replica({
      nodeId: this.nodeId,
      incarnation,
      life,
      maxNodes: this.limits.maxNodes,
      maxServicesPerNode: this.limits.maxServicesPerNode,
      tombstoneRetentionMs: this.timings.tombstoneRetentionMs,
      maxStableTombstones: 10_000,
      departureRetentionMs: this.timings.departureRetentionMs,
      maxRememberedDepartures: 10_000,
      onChange: (change) => this.onReplicaChange(change),
      replicated: options.broadcast !== undefined || options.transport !== undefined || options.membership !== undefined,
      onRefute: (next, reason) => this.emit('incarnation-change', { incarnation: next, reason }),
    });
    this.globals = new GlobalNames(this.namespace, this.limits);
    if (options.broadcast !== undefined || options.transport !== undefined || options.membership !== undefined) {
      this.replication = new Replication({
        namespace: this.namespace,
        replica: this.replica,
        limits: this.limits,
        clock: this.clock,
        random: this.random,
        broadcast: options.broadcast,
        transport: options.transport,
        membership: options.membership,
        antiEntropyIntervalMs: this.timings.antiEntropyIntervalMs,
        publishDelayMs: this.timings.publishDelayMs,
        onReject: (peer, error) => this.emit('message-reject', { peer, error }),
        onMemberLeave: (node, record) => this.memberLeft(node, record),
        // A peer's departure record: the node that declared it releases the global names (or the
        // node itself, closing). A retired incarnation: not a departure, so no global name is
        // released, the node lives on under a new incarnation.
        onPurge: (node, incarnation) => this.emit('node-purge', { node, incarnation }),
      });
      this.replication.start();
    }
    if (options.consensusLog !== undefined) {
      const log = options.consensusLog;
      this.appliedIndex = log.appliedIndex();
      this.unsubscribers.push(log.onApplied((entry) => this.onApplied(entry)));
      // Without the end of a replay, the view cannot wait for it: it follows the replay as it goes.
      const hearsEnd = log.onRestoreEnd !== undefined;
      if (log.onRestore !== undefined) this.unsubscribers.push(log.onRestore(() => this.restartGlobals(hearsEnd)));
      if (log.onRestoreEnd !== undefined) this.unsubscribers.push(log.onRestoreEnd((index) => this.finishRestore(index)));
    }
  }

  get incarnation(): number {
    return this.replica.incarnation;
  }

  // ---- events --------------------------------------------------------------------------------

  on<Event extends RegistryEvent>(event: Event, handler: (payload: RegistryEventMap<Target>[Event]) => void): () => void {
    let set = this.handlers.get(event);
    if (set === undefined) {
      set = new Set();
      this.handlers.set(event, set);
    }
    // A wrapper per call, as core's createPublisher does: two subscribers passing the same
    // function are two subscriptions, and either's unsubscribe removes its own alone (kept by
    // the function itself, they shared one slot and the first unsubscribe silenced both).
    const subscription = (payload: RegistryEventMap<Target>[Event]): void => handler(payload);
    set.add(subscription);
    return () => set.delete(subscription);
  }

  private emit<Event extends RegistryEvent>(event: Event, payload: RegistryEventMap<Target>[Event]): void {
    // Once closed, nothing is told: neither what the view still held when a handler closed the
    // registry, nor an append still running that fails later. What close() itself raises (a
    // Monitor that fails to stop) is, while its caller is still in close().
    if (this.closed && !this.closing) return;
    const set = this.handlers.get(event);
    if (set === undefined) return;
    for (const handler of [...set]) {
      // One removed by an earlier handler of this event hears nothing more, nor does any once
      // an earlier one has closed the registry (as a watcher does not).
      if (!set.has(handler) || (this.closed && !this.closing)) continue;
      try {
        (handler as (value: RegistryEventMap<Target>[Event]) => void)(payload);
      } catch (error) {
        if (event !== 'handler-error') this.emit('handler-error', { source: event, error });
      }
    }
  }

  // ---- local registration ----------------------------------------------------------------------

  private checkOpen(operation: string): void {
    if (this.closed) throw new RegistryClosedError(operation);
  }

  private encodeTarget(target: Target): string {
    let text: string | undefined;
    try {
      text = JSON.stringify(target);
    } catch (error) {
      throw new RegistryValidationError('target', `does not encode as JSON (${error instanceof Error ? error.message : String(error)})`);
    }
    if (text === undefined) throw new RegistryValidationError('target', 'does not encode as JSON (undefined, a function or a symbol)');
    const size = utf8Length(text);
    if (size > this.limits.maxTargetBytes) {
      throw new RegistryValidationError('target', `${size} bytes as JSON, more than maxTargetBytes`, { limit: this.limits.maxTargetBytes, actual: size });
    }
    try {
      copyPlainJson(JSON.parse(text), 'target', 10_000);
    } catch (error) {
      if (error instanceof PlainJsonProblem) throw new RegistryValidationError(error.path, error.reason);
      throw error;
    }
    return text;
  }

  /** Checks registration options; returns the entry fields other than id, name, target and timestamps. */
  private fieldsFor(options: RegisterOptions<Target>): Omit<OwnEntryFields, 'id' | 'name' | 'target' | 'registeredAt' | 'scope'> {
    const limits = this.limits;
    if (typeof options !== 'object' || options === null) throw new RegistryValidationError('options', 'expected an object');
    const mode = options.mode ?? 'unique';
    if (mode !== 'unique' && mode !== 'group') throw new RegistryValidationError('mode', 'expected "unique" or "group"');
    const capabilityList = options.capabilities ?? [];
    if (!Array.isArray(capabilityList)) throw new RegistryValidationError('capabilities', 'expected an array');
    if (capabilityList.length > limits.maxCapabilities) {
      throw new RegistryValidationError('capabilities', `more than ${limits.maxCapabilities} capabilities`, { limit: limits.maxCapabilities, actual: capabilityList.length });
    }
    const capabilities = Object.freeze([...new Set(capabilityList.map((capability) => checkName('capability', capability, limits.maxCapabilityLength)))]);
    const metadata = this.checkMetadata(options.metadata ?? {});
    let version: string | undefined;
    if (options.version !== undefined) version = parseVersion(options.version).text;
    const serviceType = options.serviceType === undefined ? undefined : checkName('service type', options.serviceType, limits.maxNameLength);
    const zone = options.zone === undefined ? this.zone : checkName('zone', options.zone, limits.maxNameLength);
    const weight = options.weight === undefined ? 1 : nonNegative(options.weight, 'weight');
    if (weight > 1_000_000) throw new RegistryValidationError('weight', 'at most 1,000,000', { limit: 1_000_000, actual: weight });
    const load = options.load === undefined ? 0 : this.checkLoad(options.load);
    const initial = options.health?.initial ?? 'healthy';
    if (!HEALTH_STATUSES.includes(initial)) throw new RegistryValidationError('health.initial', `unknown status ${JSON.stringify(initial)}`);
    return { mode, capabilities, metadata, version, serviceType, zone, weight, health: initial, load };
  }

  private checkMetadata(metadata: unknown): Readonly<Record<string, unknown>> {
    let copy: unknown;
    try {
      copy = copyPlainJson(metadata, 'metadata', 10_000);
    } catch (error) {
      if (error instanceof PlainJsonProblem) throw new RegistryValidationError(error.path, error.reason);
      throw error;
    }
    if (typeof copy !== 'object' || copy === null || Array.isArray(copy)) throw new RegistryValidationError('metadata', 'expected an object');
    const size = utf8Length(JSON.stringify(copy));
    if (size > this.limits.maxMetadataBytes) {
      throw new RegistryValidationError('metadata', `${size} bytes as JSON, more than maxMetadataBytes`, { limit: this.limits.maxMetadataBytes, actual: size });
    }
    return copy as Readonly<Record<string, unknown>>;
  }

  /**
   * Refuses, when this registry replicates, an entry too large to go out in one message of
   * `maxMessageBytes`: sent anyway, every peer would refuse it on every round and it would never
   * replicate. Each field is within its own limit, but those limits together (names,
   * capabilities, metadata, target) can pass a `maxMessageBytes` set low. Measured with the
   * fields that change later (health, load, revision) at their longest, so that no heartbeat or
   * load report takes it past the bound afterwards.
   */
  private checkWireSize(fields: Omit<OwnEntryFields, 'health' | 'load'>): void {
    if (this.replication === undefined) return;
    const widest: ServiceInstance = { ...fields, health: 'unhealthy', load: LONGEST_LOAD, node: this.nodeId, incarnation: MAX_INCARNATION, revision: Number.MAX_SAFE_INTEGER };
    const size = entryBytes(widest);
    const room = Math.floor(entryRoom(this.nodeId, fields.id, this.limits.maxMessageBytes));
    if (size > room) {
      throw new RegistryValidationError('registration', `${size} bytes on the wire, more than the ${room} that fit in one message of maxMessageBytes (${this.limits.maxMessageBytes})`, {
        limit: room,
        actual: size,
      });
    }
  }

  private checkLoad(load: unknown): number {
    const value = nonNegative(load, 'load');
    if (value > 1e12) throw new RegistryValidationError('load', 'at most 1e12', { limit: 1e12, actual: value });
    return value;
  }

  private healthPolicy(health: HealthOptions<Target> | undefined): {
    tracker: HealthTracker;
    check: HealthOptions<Target>['check'];
    intervalMs: number;
    timeoutMs: number;
  } {
    const options = health ?? {};
    if (options.check !== undefined && typeof options.check !== 'function') throw new RegistryValidationError('health.check', 'expected a function');
    const intervalMs = options.intervalMs === undefined ? 10_000 : nonNegative(options.intervalMs, 'health.intervalMs', false);
    const timeoutMs = options.timeoutMs === undefined ? 2_000 : nonNegative(options.timeoutMs, 'health.timeoutMs', false);
    const failureThreshold = options.failureThreshold === undefined ? 3 : positiveInteger(options.failureThreshold, 'health.failureThreshold');
    const recoveryThreshold = options.recoveryThreshold === undefined ? 1 : positiveInteger(options.recoveryThreshold, 'health.recoveryThreshold');
    const ttlMs = options.ttlMs === undefined ? undefined : nonNegative(options.ttlMs, 'health.ttlMs', false);
    const graceMs = options.graceMs === undefined ? (ttlMs ?? 0) : nonNegative(options.graceMs, 'health.graceMs');
    const policy =
      health === undefined ? DEFAULT_HEALTH_POLICY : Object.freeze({ initial: options.initial ?? 'healthy', failureThreshold, recoveryThreshold, ttlMs, graceMs });
    const tracker = new HealthTracker(policy, this.clock.now());
    return { tracker, check: options.check, intervalMs, timeoutMs };
  }

  /**
   * Refuses one more registration past `maxLocalServices`: this node's cluster registrations
   * and its global claims (held, pending or in doubt) together, as both are held here.
   */
  private checkRoom(): void {
    if (this.own.size + this.ownGlobals.size >= this.limits.maxLocalServices) throw new RegistryFullError(this.limits.maxLocalServices);
  }

  private holderError(name: string, holder: ServiceInstance): AlreadyRegisteredError {
    const scope = holder.scope === 'global' ? 'global' : holder.node === this.nodeId ? 'local' : 'cluster';
    return new AlreadyRegisteredError(name, holder.target, holder.node, scope);
  }

  register(name: string, target: Target, options: RegisterOptions<Target> = {}): Registration<Target> {
    this.checkOpen('register');
    checkName('service name', name, this.limits.maxNameLength);
    const fields = this.fieldsFor(options);
    const targetJson = this.encodeTarget(target);
    const policy = this.healthPolicy(options.health);
    const monitor = this.shouldMonitor(target, options.monitor);
    // Without a scan of the name's instances (a member of a group of n cost O(n) to register):
    // a unique or global holder is the only visible instance; otherwise every visible one is a
    // group member, and this node's registrations of the name are indexed by target.
    const holder = this.view.lookup(name);
    if (holder !== undefined && (fields.mode === 'unique' || holder.mode === 'unique' || holder.scope === 'global')) throw this.holderError(name, holder);
    const same = this.ownByName.get(name)?.get(targetJson);
    if (same !== undefined) throw new AlreadyRegisteredError(name, same.target, this.nodeId, 'local');
    this.checkRoom();
    const id = `${this.nodeId}/${this.replica.incarnation}/${this.sequence + 1}`;
    const registeredAt = this.clock.now();
    this.checkWireSize({ ...fields, id, name, target, scope: 'cluster', registeredAt });
    this.sequence += 1;
    const record: OwnRecord<Target> = {
      id,
      name,
      target,
      targetJson,
      tracker: policy.tracker,
      check: policy.check,
      checkIntervalMs: policy.intervalMs,
      checkTimeoutMs: policy.timeoutMs,
      monitorReference: undefined,
      monitored: false,
      exitedEarly: false,
      checkTimer: undefined,
      ttlTimer: undefined,
      checkInFlight: false,
      abandonCheck: undefined,
    };
    // The target is watched before anything is registered: a Monitor that refuses it (the
    // process runtime throws for a value that is not a Pid) refuses the registration, which
    // then has changed nothing. Asked afterwards, it left the name taken with no handle.
    if (monitor) this.startMonitor(record);
    this.own.set(id, record);
    let byName = this.ownByName.get(name);
    if (byName === undefined) {
      byName = new Map();
      this.ownByName.set(name, byName);
    }
    byName.set(targetJson, record);
    this.replica.putOwn({ ...fields, id, name, target, scope: 'cluster', registeredAt, health: policy.tracker.status });
    this.startHealth(record);
    this.replication?.changed();
    // A target already gone when the monitor was asked goes now, as after any exit.
    if (record.exitedEarly) this.removeOwn(record.id, 'process-exit');
    return this.handle(record);
  }

  private handle(record: OwnRecord<Target>): Registration<Target> {
    return {
      id: record.id,
      name: record.name,
      instance: () => this.replica.ownEntry(record.id) as ServiceInstance<Target> | undefined,
      // Nothing once closed: close() stopped the timers, which a heartbeat would arm again.
      heartbeat: () => {
        if (this.closed || !this.own.has(record.id)) return false;
        this.applyHealth(record, record.tracker.heartbeat(this.clock.now()));
        this.scheduleTtl(record);
        return true;
      },
      reportLoad: (load) => {
        const value = this.checkLoad(load);
        // The load already reported changes nothing: a new revision would go out to every peer
        // and tell watchers of a change, every tick of a service that reports on a timer. Nothing
        // rides on a revision here (health TTLs are kept by heartbeat(), liveness by membership).
        if (!this.closed && this.replica.ownEntry(record.id)?.load === value) return true;
        return this.updateOwn(record.id, { load: value });
      },
      setHealth: (status) => {
        if (!HEALTH_STATUSES.includes(status)) throw new RegistryValidationError('health', `unknown status ${JSON.stringify(status)}`);
        if (this.closed || !this.own.has(record.id)) return false;
        this.applyHealth(record, record.tracker.setManual(status));
        return true;
      },
      updateMetadata: (metadata) => {
        const checked = this.checkMetadata(metadata);
        const current = this.replica.ownEntry(record.id);
        // Metadata equal to the current (key order aside) changes nothing, as for reportLoad: a
        // new revision would go out to every peer and tell watchers of a change that changed nothing.
        if (!this.closed && current !== undefined && plainJsonEqual(current.metadata, checked)) return true;
        if (current !== undefined) this.checkWireSize({ ...current, metadata: checked });
        return this.updateOwn(record.id, { metadata: checked });
      },
      // As registry.unregister, which refuses once closed: the state is frozen then.
      unregister: () => !this.closed && this.removeOwn(record.id, 'unregistered'),
    };
  }

  private updateOwn(id: string, patch: Partial<OwnEntryFields>): boolean {
    if (this.closed) return false;
    const current = this.replica.ownEntry(id);
    if (current === undefined) return false;
    const { node: _node, incarnation: _incarnation, revision: _revision, ...fields } = current;
    this.replica.putOwn({ ...fields, ...patch });
    this.replication?.changed();
    return true;
  }

  private removeOwn(id: string, reason: DownReason): boolean {
    const record = this.own.get(id);
    if (record === undefined) return false;
    this.own.delete(id);
    this.forgetOwnByName(record);
    this.stopRecord(record);
    const removed = this.replica.removeOwn(id, this.clock.now(), reason);
    this.replication?.changed();
    return removed;
  }

  private stopRecord(record: OwnRecord<Target>): void {
    record.checkTimer?.cancel();
    record.ttlTimer?.cancel();
    record.checkTimer = undefined;
    record.ttlTimer = undefined;
    // A check still in flight answers nobody now; its timeout would stay armed until it fired.
    record.abandonCheck?.();
    if (record.monitored) {
      record.monitored = false;
      this.demonitor(record.monitorReference);
    }
  }

  /** Stops a monitor; a Monitor that throws is reported, never thrown into the registry's bookkeeping. */
  private demonitor(reference: unknown): void {
    try {
      this.options.monitor?.demonitor(reference);
    } catch (error) {
      this.emit('handler-error', { source: 'monitor.demonitor', error });
    }
  }

  unregister(name: string, target?: Target): number {
    this.checkOpen('unregister');
    checkName('service name', name, this.limits.maxNameLength);
    const targetJson = target === undefined ? undefined : this.encodeTarget(target);
    const byName = this.ownByName.get(name);
    if (byName === undefined) return 0;
    const records = targetJson === undefined ? [...byName.values()] : [byName.get(targetJson)];
    let count = 0;
    for (const record of records) if (record !== undefined && this.removeOwn(record.id, 'unregistered')) count += 1;
    return count;
  }

  private forgetOwnByName(record: OwnRecord<Target>): void {
    const byName = this.ownByName.get(record.name);
    if (byName?.get(record.targetJson) !== record) return;
    byName.delete(record.targetJson);
    if (byName.size === 0) this.ownByName.delete(record.name);
  }

  // ---- monitors --------------------------------------------------------------------------------

  private shouldMonitor(target: Target, explicit: boolean | undefined): boolean {
    if (this.options.monitor === undefined) {
      if (explicit === true) throw new RegistryValidationError('monitor', 'no Monitor was given to createRegistry');
      return false;
    }
    if (explicit !== undefined) return explicit;
    return (this.options.monitorTargets ?? isPidLike)(target);
  }

  /** Watches a registration's target, before it is registered (see `register`). */
  private startMonitor(record: OwnRecord<Target>): void {
    record.monitored = true;
    try {
      record.monitorReference = this.options.monitor!.monitor(record.target, () => {
        if (!record.monitored) return;
        record.monitored = false;
        // The callback may run at once (a target that is already gone), before the registration
        // is in place: `register` removes it then.
        if (this.own.has(record.id)) this.removeOwn(record.id, 'process-exit');
        else record.exitedEarly = true;
      });
    } catch (error) {
      record.monitored = false;
      throw error;
    }
  }

  // ---- health ----------------------------------------------------------------------------------

  private applyHealth(record: OwnRecord<Target>, status: HealthStatus): void {
    const current = this.replica.ownEntry(record.id);
    if (current !== undefined && current.health !== status) this.updateOwn(record.id, { health: status });
  }

  private startHealth(record: OwnRecord<Target>): void {
    if (record.check !== undefined) {
      record.checkTimer = this.clock.setRepeatingTimer(record.checkIntervalMs, () => this.runCheck(record));
    }
    this.scheduleTtl(record);
  }

  private scheduleTtl(record: OwnRecord<Target>): void {
    const ttl = record.tracker.policy.ttlMs;
    if (ttl === undefined || record.ttlTimer !== undefined || !this.own.has(record.id)) return;
    const { nextCheckAt } = record.tracker.expire(this.clock.now());
    if (nextCheckAt === undefined) return;
    record.ttlTimer = this.clock.setTimer(Math.max(0, nextCheckAt - this.clock.now()), () => {
      record.ttlTimer = undefined;
      if (!this.own.has(record.id)) return;
      this.applyHealth(record, record.tracker.expire(this.clock.now()).status);
      this.scheduleTtl(record);
    });
  }

  private runCheck(record: OwnRecord<Target>): void {
    if (record.checkInFlight || !this.own.has(record.id)) return;
    record.checkInFlight = true;
    const operation = `health check of "${record.name}"`;
    void this.runWithTimeout(() => record.check!(record.target), record.checkTimeoutMs, operation, (abandon) => {
      record.abandonCheck = () => abandon(new RegistryClosedError(operation));
    }).then(
      (result) => this.finishCheck(record, result),
      () => this.finishCheck(record, false),
    );
  }

  private finishCheck(record: OwnRecord<Target>, result: boolean | HealthStatus): void {
    record.checkInFlight = false;
    record.abandonCheck = undefined;
    if (!this.own.has(record.id)) return;
    const verdict = result === true || result === false || HEALTH_STATUSES.includes(result) ? result : false;
    this.applyHealth(record, record.tracker.recordCheck(verdict));
  }

  /**
   * Runs `work`, settling with its result or a RegistryTimeoutError after `timeoutMs`.
   * `onStart` receives a function that settles it at once with an error, timer cancelled.
   */
  private runWithTimeout<Result>(
    work: () => Result | Promise<Result>,
    timeoutMs: number,
    operation: string,
    onStart?: (abandon: (error: Error) => void) => void,
  ): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      let settled = false;
      const timer = this.clock.setTimer(timeoutMs, () => {
        if (settled) return;
        settled = true;
        this.running.delete(run);
        reject(new RegistryTimeoutError(operation, timeoutMs));
      });
      const finish = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        this.running.delete(run);
        outcome();
      };
      // close() gives up every call still running: it would otherwise answer only at its
      // timeout, with a RegistryTimeoutError, and keep its timer until then.
      const run = { operation, abandon: (error: Error) => finish(() => reject(error)) };
      this.running.add(run);
      onStart?.(run.abandon);
      try {
        Promise.resolve(work()).then(
          (value) => finish(() => resolve(value)),
          (error: unknown) => finish(() => reject(asError(error))),
        );
      } catch (error) {
        finish(() => reject(asError(error)));
      }
    });
  }

  async healthCheck(
    name: string,
    check: (target: Target) => boolean | HealthStatus | Promise<boolean | HealthStatus>,
    options: { readonly timeout?: number } = {},
  ): Promise<HealthStatus> {
    this.checkOpen('healthCheck');
    // Called anyway, a check that is not a function threw a TypeError that counted as a failure.
    if (typeof check !== 'function') throw new RegistryValidationError('check', 'expected a function');
    checkOptions(options);
    const instance = this.find(name);
    if (instance === undefined) throw new ServiceNotFoundError(name, this.namespace);
    const timeout = options.timeout === undefined ? 2_000 : nonNegative(options.timeout, 'timeout', false);
    const record = this.own.get(instance.id);
    let result: boolean | HealthStatus;
    try {
      result = await this.runWithTimeout(() => check(instance.target), timeout, `health check of "${name}"`);
    } catch (error) {
      if (record !== undefined && this.own.has(record.id)) this.applyHealth(record, record.tracker.recordCheck(false));
      throw error;
    }
    const verdict: HealthStatus = result === true ? 'healthy' : result === false ? 'unhealthy' : HEALTH_STATUSES.includes(result) ? result : 'unhealthy';
    if (record !== undefined && this.own.has(record.id)) this.applyHealth(record, record.tracker.recordCheck(verdict));
    return verdict;
  }

  // ---- replicated changes → view → watchers ----------------------------------------------------------

  private onReplicaChange(change: ReplicaChange): void {
    if (change.type === 'put') this.view.put(change.slot, change.previous);
    else {
      this.view.delete(change.slot, change.reason);
      if (change.instance.node === this.nodeId && change.reason !== 'restarted') {
        const record = this.own.get(change.instance.id);
        if (record !== undefined) {
          this.own.delete(record.id);
          this.forgetOwnByName(record);
          this.stopRecord(record);
        }
      }
    }
  }

  private onViewEvent(event: ViewEvent, sequence: number): void {
    // Closed by a handler while the view still held events: no watcher, waiter or handler is left to tell.
    if (this.closed) return;
    // A change in place, or an entry re-indexed under its id that was shown before and is again
    // (its old form told going just before): either may bring a new health.
    if ((event.type === 'change' || event.type === 'up') && event.previous !== undefined && event.previous.health !== event.instance.health) {
      this.emit('health-change', { instance: event.instance as ServiceInstance<Target>, previous: event.previous.health });
    }
    if (event.type === 'up') {
      const waiting = this.waiters.get(event.instance.name);
      if (waiting !== undefined) {
        this.waiters.delete(event.instance.name);
        for (const waiter of waiting) {
          waiter.cleanup();
          waiter.resolve(event.instance as ServiceInstance<Target>);
        }
      }
    }
    const named = this.watchersByName.get(event.instance.name);
    if (named !== undefined) for (const watcher of [...named]) this.notify(watcher, event, sequence);
    for (const watcher of [...this.watchersOther]) this.notify(watcher, event, sequence);
  }

  private notify(watcher: Watcher<Target>, event: ViewEvent, sequence: number): void {
    if (watcher.stopped || sequence < watcher.since) return;
    let delivered: WatchEvent<Target> | undefined;
    const instance = event.instance as ServiceInstance<Target>;
    if (event.type === 'up') {
      if (this.view.matches(watcher.criteria, instance)) delivered = { type: 'service-up', instance };
    } else if (event.type === 'down') {
      // The old form of an entry re-indexed under its id: nothing was unregistered, so it is told
      // as a change in place would be ('health' when the health alone took it out of the
      // criteria); a watcher of the new form too hears it come up again at once.
      const next = event.next;
      if (this.view.matches(watcher.criteria, instance)) {
        const reason = next === undefined ? event.reason : !this.view.matches(watcher.criteria, next) && this.leftForHealth(watcher.criteria, instance, next) ? 'health' : 'changed';
        delivered = { type: 'service-down', instance, reason };
      }
    } else {
      const before = this.view.matches(watcher.criteria, event.previous);
      const after = this.view.matches(watcher.criteria, instance);
      const previous = event.previous as ServiceInstance<Target>;
      if (before && after) delivered = { type: 'service-change', instance, previous };
      else if (after) delivered = { type: 'service-up', instance };
      // 'health' only when the health alone took it out of the criteria: a change heard from a
      // peer may bring a new health and new metadata at once, and a watcher that accepts any
      // health was told 'health' when the metadata had moved it out.
      else if (before) delivered = { type: 'service-down', instance, reason: this.leftForHealth(watcher.criteria, previous, instance) ? 'health' : 'changed' };
    }
    if (delivered === undefined) return;
    if (watcher.backlog !== undefined) watcher.backlog.push(delivered);
    else this.deliver(watcher, delivered);
  }

  /** Whether `instance` would still match `criteria` with the health it had before. */
  private leftForHealth(criteria: CompiledCriteria, previous: ServiceInstance, instance: ServiceInstance): boolean {
    return previous.health !== instance.health && this.view.matches(criteria, { ...instance, health: previous.health });
  }

  private deliver(watcher: Watcher<Target>, event: WatchEvent<Target>): void {
    // Stopped by its handler, another one's, or close(): the events queued for it are dropped.
    if (watcher.stopped) return;
    try {
      watcher.handler(event);
    } catch (error) {
      this.emit('handler-error', { source: 'watch', error });
    }
  }

  private onConflict(conflict: Conflict): void {
    // As onViewEvent: the unregistering timer would be armed after close() stopped the others.
    if (this.closed) return;
    const loser = conflict.loser;
    if (loser.node !== this.nodeId || loser.scope !== 'cluster' || !this.own.has(loser.id)) return;
    const action = this.options.nameConflict === 'keep' ? 'kept' : 'unregistered';
    if (action === 'unregistered') {
      // Not in the middle of the view's own bookkeeping: right after it.
      this.clock.setTimer(0, () => {
        if (this.closed || !this.own.has(loser.id) || this.replica.ownSlot(loser.id)?.visible === true) return;
        this.removeOwn(loser.id, 'name-conflict');
      });
    }
    this.emit('name-conflict', { name: loser.name, loser: loser as ServiceInstance<Target>, winner: conflict.winner as ServiceInstance<Target>, action });
  }

  private memberLeft(node: string, record: DepartureRecord | undefined): void {
    // Without a record nothing of the node was purged here: it was never heard of (or is gone
    // already, and this is a detector reporting it again), and a purge event would tell of
    // nothing (its incarnation unknown).
    if (record !== undefined) this.emit('node-purge', { node, incarnation: record.incarnation });
    if (this.options.consensusLog === undefined) return;
    const held = [...this.globals.all()].filter((holder) => holder.node === node);
    // The incarnation declared gone when there is a departure record: a later one (a quick
    // restart whose registrations have not reached this node yet) is alive, and releasing up
    // to it left that node unable to claim a name until it restarted again.
    const incarnation = record?.incarnation ?? (held.length === 0 ? undefined : Math.max(...held.map((holder) => holder.incarnation)));
    if (incarnation === undefined) return;
    // Released even when the node holds nothing here yet: a claim of it still on its way would
    // commit afterwards, and only the release floor refuses it then; nothing else would ever
    // release that name. Until the floor covers the incarnation, also once the names it held
    // are gone: released one by one (its own releases committing late), they set no floor.
    const needed = (): boolean => (this.globals.releasedFloor(node) ?? -1) < incarnation;
    this.releaseUntilDone(
      `node ${node}#${incarnation}`,
      { type: 'registry-release-node', namespace: this.namespace, node, incarnation },
      'release a departed node',
      needed,
      this.random.float() * (this.options.releaseJitterMs ?? 1000),
    );
  }

  /**
   * A claim that holds a name for a node seen to leave before anything of it was heard here
   * names the incarnation that left (see Replica.identifyDeparture): it is declared departed and
   * released as if it had been known then. Sent before the node left, the claim would otherwise
   * hold the name for a node that is gone, for good.
   */
  private claimOfUnheard(holder: ServiceInstance): void {
    const record = this.replica.identifyDeparture(holder.node, holder.incarnation, this.clock.now());
    if (record === undefined) return;
    this.replication?.publishDepartures([record]);
    this.memberLeft(record.node, record);
  }

  /**
   * Appends a release after `delayMs`, and again with backoff while appends fail, until it lands
   * or `needed` says it no longer matters. A release lost to a moment without a leader would
   * leave the name held by a process or node that is gone, for good.
   */
  private releaseUntilDone(key: string, command: RegistryCommand, operation: string, needed: () => boolean, delayMs: number): void {
    if (this.releasing.has(key)) return;
    const attempt = (count: number, delay: number): void => {
      if (this.closed) return;
      const timer = this.clock.setTimer(delay, () => {
        this.releasing.set(key, null);
        if (this.closed || !needed()) {
          this.releasing.delete(key);
          return;
        }
        this.appendCommand(command, operation).then(
          () => this.releasing.delete(key),
          // At least the first delay: backoff refuses a ceiling below it, and a throw here would
          // reject a promise nobody handles and end the retries.
          () => attempt(count + 1, backoffDelay(count, { initialMs: 100, maxMs: Math.max(100, this.options.consensusTimeoutMs ?? 5000), random: this.random })),
        );
      });
      this.releasing.set(key, timer);
    };
    attempt(0, delayMs);
  }

  // ---- queries ------------------------------------------------------------------------------------
  // Refused once closed, as every other call is: nothing updates the view then (no peer, monitor
  // or health check), so an answer would name services that may be long gone.

  lookup(name: string): Target {
    this.checkOpen('lookup');
    const target = this.view.target(name);
    if (target === undefined) {
      if (typeof name !== 'string') checkName('service name', name, this.limits.maxNameLength);
      throw new ServiceNotFoundError(name, this.namespace);
    }
    return target as Target;
  }

  // A name that is not a string is refused (3204) by lookup, find and lookupAll alike, as by
  // every other call that takes a name (find answered undefined and lookupAll [] where lookup
  // refused it); checked on a miss only, since a hit is a registered name. A string that breaks
  // the naming rules is only not found by them, as lookup has always answered it.
  find(name: string): ServiceInstance<Target> | undefined {
    this.checkOpen('find');
    const instance = this.view.lookup(name);
    if (instance === undefined && typeof name !== 'string') checkName('service name', name, this.limits.maxNameLength);
    return instance as ServiceInstance<Target> | undefined;
  }

  lookupAll(name: string): ServiceInstance<Target>[] {
    this.checkOpen('lookupAll');
    if (typeof name !== 'string') checkName('service name', name, this.limits.maxNameLength);
    return this.view.lookupAll(name) as ServiceInstance<Target>[];
  }

  listServices(): string[] {
    this.checkOpen('listServices');
    return this.view.nameList();
  }

  private compile(criteria: string | DiscoveryCriteria | undefined): CompiledCriteria {
    if (typeof criteria === 'string') {
      let compiled = this.compiledByName.get(criteria);
      if (compiled === undefined) {
        compiled = compileCriteria({ name: criteria }, this.limits);
        if (this.compiledByName.size >= ROUTE_COUNTERS_KEPT) this.compiledByName.clear();
        this.compiledByName.set(criteria, compiled);
      }
      return compiled;
    }
    if (criteria === undefined) return compileCriteria(undefined, this.limits);
    if (typeof criteria !== 'object' || criteria === null) throw new RegistryValidationError('criteria', 'expected a name or an object');
    // Criteria frozen through and through cannot change, so they are compiled once; others on
    // every call. Freezing is shallow: a frozen object's capability list or metadata may change.
    let compiled = this.compiledByObject.get(criteria);
    if (compiled !== undefined) return compiled;
    compiled = compileCriteria(criteria, this.limits);
    // Once frozen through, always: what is in the cache was, and stays so.
    if (Object.isFrozen(criteria) && frozenThrough(criteria, 0)) this.compiledByObject.set(criteria, compiled);
    return compiled;
  }

  discover(criteria?: DiscoveryCriteria, options: { readonly limit?: number } = {}): ServiceInstance<Target>[] {
    this.checkOpen('discover');
    checkOptions(options);
    const limit = options.limit === undefined ? Number.POSITIVE_INFINITY : resultLimit(options.limit);
    return this.view.discover(this.compile(criteria), limit) as ServiceInstance<Target>[];
  }

  route(nameOrCriteria: string | DiscoveryCriteria, options: RouteOptions = {}): ServiceInstance<Target> {
    this.checkOpen('route');
    checkOptions(options);
    const strategy = options.strategy ?? 'round-robin';
    if (!ROUTING_STRATEGIES.includes(strategy)) throw new RegistryValidationError('strategy', `expected one of ${ROUTING_STRATEGIES.join(', ')}`);
    if (strategy === 'consistent-hash' && typeof options.key !== 'string') throw new RegistryValidationError('key', 'consistent-hash routing needs a string key');
    const criteria = this.compile(nameOrCriteria);
    let candidates = this.view.discover(criteria);
    if (candidates.length === 0 && !criteria.healthGiven) candidates = this.view.discover(withHealth(criteria, 2));
    const description = typeof nameOrCriteria === 'string' ? `"${nameOrCriteria}"` : `services matching ${criteria.key}`;
    if (candidates.length === 0) {
      const registered = this.view.discover(withHealth(criteria, 7)).length;
      if (registered > 0) throw new ServiceUnavailableError(description, registered);
      throw new ServiceNotFoundError(typeof nameOrCriteria === 'string' ? nameOrCriteria : description, this.namespace);
    }
    if (strategy === 'round-robin' || strategy === 'weighted') candidates.sort((left, right) => (left.id < right.id ? -1 : left.id > right.id ? 1 : 0));
    let counter = 0;
    if (strategy === 'round-robin') {
      counter = this.routeCounters.get(criteria.key) ?? 0;
      if (this.routeCounters.size >= ROUTE_COUNTERS_KEPT && !this.routeCounters.has(criteria.key)) this.routeCounters.clear();
      this.routeCounters.set(criteria.key, (counter + 1) % Number.MAX_SAFE_INTEGER);
    }
    const chosen = choose(strategy, candidates, { random: this.random, nodeId: this.nodeId, zone: this.zone, key: options.key, counter });
    if (chosen === undefined) throw new ServiceUnavailableError(`${description} (no positive weight)`, candidates.length);
    return chosen as ServiceInstance<Target>;
  }

  waitFor(name: string, options: WaitForOptions = {}): Promise<ServiceInstance<Target>> {
    let timeout: number;
    let signal: AbortSignal | undefined;
    try {
      this.checkOpen('waitFor');
      checkName('service name', name, this.limits.maxNameLength);
      // Checked before anything is set up: the clock refused a bad timeout only once the name's
      // waiters were mapped, and a signal that is not one failed once the timer was armed.
      if (typeof options !== 'object' || options === null) throw new RegistryValidationError('options', 'expected an object');
      timeout = options.timeout === undefined ? DEFAULT_WAIT_MS : timeoutOrInfinity(options.timeout, 'timeout');
      signal = options.signal;
      if (signal !== undefined && !isAbortSignal(signal)) throw new RegistryValidationError('signal', 'expected an AbortSignal');
    } catch (error) {
      return Promise.reject(asError(error));
    }
    const found = this.find(name);
    if (found !== undefined) return Promise.resolve(found);
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<ServiceInstance<Target>>((resolve, reject) => {
      let set = this.waiters.get(name);
      if (set === undefined) {
        set = new Set();
        this.waiters.set(name, set);
      }
      const waiters = set;
      // The name's entry goes with its last waiter, or every name ever waited for stays mapped.
      const forget = (): void => {
        waiters.delete(waiter);
        if (waiters.size === 0 && this.waiters.get(name) === waiters) this.waiters.delete(name);
      };
      const onAbort = (): void => {
        waiter.cleanup();
        forget();
        reject(abortReason(signal!));
      };
      const timer = this.clock.setTimer(timeout, () => {
        forget();
        waiter.cleanup();
        reject(new RegistryTimeoutError(`waitFor("${name}")`, timeout));
      });
      const waiter: Waiter<Target> = {
        resolve,
        reject,
        cleanup: () => {
          timer.cancel();
          signal?.removeEventListener('abort', onAbort);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      waiters.add(waiter);
    });
  }

  watch(criteria: string | DiscoveryCriteria, handler: (event: WatchEvent<Target>) => void, options: WatchOptions = {}): () => void {
    this.checkOpen('watch');
    if (typeof handler !== 'function') throw new RegistryValidationError('handler', 'expected a function');
    checkOptions(options);
    const compiled = typeof criteria === 'string' ? compileCriteria({ name: criteria, health: 'any' }, this.limits) : compileCriteria(criteria, this.limits);
    const watcher: Watcher<Target> = { criteria: compiled, handler, stopped: false, since: this.view.nextSequence, backlog: undefined };
    if (compiled.name !== undefined) {
      let set = this.watchersByName.get(compiled.name);
      if (set === undefined) {
        set = new Set();
        this.watchersByName.set(compiled.name, set);
      }
      set.add(watcher);
    } else this.watchersOther.add(watcher);
    if (options.initial === true) {
      // The current matches first; a change a handler makes meanwhile is told after them, in
      // order (told at once, a service unregistered before its turn went down, then came up).
      const backlog: WatchEvent<Target>[] = this.view.discover(compiled).map((instance) => ({ type: 'service-up', instance: instance as ServiceInstance<Target> }));
      watcher.backlog = backlog;
      // deliver() skips the rest once the watcher is stopped (a handler that closed the registry).
      for (let index = 0; index < backlog.length; index += 1) this.deliver(watcher, backlog[index]!);
      watcher.backlog = undefined;
    }
    return () => {
      watcher.stopped = true;
      if (compiled.name !== undefined) {
        const set = this.watchersByName.get(compiled.name);
        set?.delete(watcher);
        if (set?.size === 0) this.watchersByName.delete(compiled.name);
      } else this.watchersOther.delete(watcher);
    };
  }

  // ---- names held through consensus ----------------------------------------------------------------

  private log(operation: string): ConsensusLog<RegistryCommand> {
    const log = this.options.consensusLog;
    if (log === undefined) throw new ConsensusNotConfiguredError(operation);
    return log;
  }

  /**
   * The log's state was replaced by a snapshot, whose commands are about to be heard again from
   * the first: the global names start over, or the replay would meet the state the earlier
   * commands left (a release floor refusing the claim that won, so a refused one wins here).
   * This node's own claims are kept: the replay links them to their names again, and those it
   * does not are settled when it ends.
   *
   * With a log that says when the replay ends (`hearsEnd`), the view keeps the names as they
   * were until then, so that a name the snapshot still gives to the same claim is not shown
   * going and coming back. Otherwise the names leave the view now and the replay brings them
   * back one by one, as it did before the log could say so.
   */
  private restartGlobals(hearsEnd: boolean): void {
    if (hearsEnd) this.globalsBeforeReplay ??= this.globals;
    this.globals = new GlobalNames(this.namespace, this.limits);
    if (hearsEnd) {
      this.replaying = true;
      return;
    }
    for (const slot of this.globalSlots.values()) this.view.delete(slot, 'unregistered');
    this.globalSlots.clear();
  }

  /**
   * The replay of a snapshot taken at log index `snapshotIndex` is over.
   *
   * The view goes from the names as they were before the snapshot to the names the replay left,
   * with the events a live apply of the difference gives: a name whose claim went away is shown
   * going ('service-down', reason `unregistered`), then a claim that took a name is shown coming
   * ('service-up'). A name still held by the same claim (same id, same log index) stays as it
   * is: its watchers hear nothing, and a registration it hides is not told of a conflict again.
   *
   * A claim of this node applied at or below `snapshotIndex` is settled in the snapshot: if the
   * replay did not bring it back, it no longer holds its name (it lost, or it was released in
   * commands compacted away with it), and it will never be heard again. Its monitor stops and,
   * if it held the name here, 'global-release' is emitted, as when a release is applied.
   *
   * A claim whose index is not known yet (its append has not answered, or failed) is kept
   * whatever the snapshot: it may commit after the snapshot's index and then hold the name for
   * its target, as the README promises of a claim whose call timed out. Dropping it would make
   * such a claim look like one of an earlier start, released as an orphan. One whose append
   * failed stays in doubt (see `inDoubt`).
   */
  private finishRestore(snapshotIndex: number): void {
    this.restoredThrough = Math.max(this.restoredThrough, snapshotIndex);
    this.appliedIndex = Math.max(this.appliedIndex, snapshotIndex);
    if (!this.replaying) {
      for (const [id, own] of [...this.ownGlobals]) this.settleIfRestoredAway(id, own);
      this.forgetRefusedClaims();
      this.outliveRelease();
      return;
    }
    this.replaying = false;
    this.globalsBeforeReplay = undefined;
    const holders = new Map<string, ServiceInstance>();
    for (const holder of this.globals.all()) holders.set(holder.id, holder);
    // Removals first, as a live release comes before the claim that takes the name next.
    for (const [id, slot] of [...this.globalSlots]) {
      if (holders.get(id)?.revision === slot.instance.revision) continue;
      this.globalSlots.delete(id);
      this.view.delete(slot, 'unregistered');
    }
    for (const [id, own] of [...this.ownGlobals]) this.settleIfRestoredAway(id, own);
    for (const holder of holders.values()) {
      const own = this.ownGlobals.get(holder.id);
      if (own !== undefined) own.held = holder;
      if (!this.globalSlots.has(holder.id)) this.showGlobal(holder, own);
      if (own !== undefined) this.monitorGlobal(own);
      else this.releaseOrphan(holder);
    }
    this.forgetRefusedClaims();
    this.outliveRelease();
  }

  /**
   * The log released this node's own incarnation (or a later one) while it lives: a node took it
   * for gone, or a buggy or hostile peer said so. It moves past the release, as it does past a
   * departure record of itself (Replica.applyDeparture), since every claim of a released
   * incarnation is refused: it claimed no name again until it restarted, and for good when the
   * release named an incarnation above any its restarts take (they start at the clock's ms).
   */
  private outliveRelease(): void {
    if (this.closed) return;
    const floor = this.globals.releasedFloor(this.nodeId);
    if (floor === undefined || floor < this.replica.incarnation || floor >= MAX_INCARNATION) return;
    this.replica.refute(floor + 1, 'released by the consensus log');
    this.replication?.changed();
  }

  /** Takes in a claim whose append failed before its index was known (see `inDoubt`). */
  private doubt(id: string, own: OwnGlobal): void {
    if (this.ownGlobals.get(id) !== own || own.index !== undefined) return;
    this.inDoubt.set(id, own);
    this.forgetRefusedClaims();
    for (const [oldest] of this.inDoubt) {
      if (this.inDoubt.size <= CLAIMS_IN_DOUBT_KEPT) break;
      this.inDoubt.delete(oldest);
      this.ownGlobals.delete(oldest);
    }
  }

  /**
   * Forgets the claims in doubt that the log would refuse wherever they commit: a release of
   * this node's incarnation (it was declared gone) refuses every later claim of that
   * incarnation or an earlier one (see GlobalNames).
   */
  private forgetRefusedClaims(): void {
    if (this.inDoubt.size === 0) return;
    const floor = this.globals.releasedFloor(this.nodeId);
    if (floor === undefined) return;
    for (const [id, own] of this.inDoubt) {
      if (own.record.incarnation > floor) continue;
      this.inDoubt.delete(id);
      this.ownGlobals.delete(id);
    }
  }

  /** Forgets `own` if its claim is settled by a restored snapshot that does not hold it. */
  private settleIfRestoredAway(id: string, own: OwnGlobal): void {
    if (own.index === undefined || own.index > this.restoredThrough) return;
    if (this.globals.holder(own.record.name)?.id === id) return;
    this.forgetOwnGlobal(id, own, own.held);
  }

  /** The claim no longer holds its name here: stop watching its target, and tell if it held it. */
  private forgetOwnGlobal(id: string, own: OwnGlobal, released: ServiceInstance | undefined): void {
    this.ownGlobals.delete(id);
    if (own.monitored) {
      own.monitored = false;
      this.demonitor(own.monitorReference);
    }
    if (released !== undefined) this.emit('global-release', { instance: released as ServiceInstance<Target> });
    const waiter = this.claimWaiters.get(id);
    if (waiter !== undefined) {
      this.claimWaiters.delete(id);
      waiter(undefined);
    }
  }

  /** The global names lookups read: during a replay, those from before it (`globalsBeforeReplay`). */
  private shownGlobals(): GlobalNames {
    return this.globalsBeforeReplay ?? this.globals;
  }

  /** Shows a name held through consensus in the view. */
  private showGlobal(holder: ServiceInstance, own: OwnGlobal | undefined): void {
    // On this node the target is the registered value itself, as for cluster registrations.
    const shown = own !== undefined ? Object.freeze({ ...holder, target: own.record.target }) : holder;
    const slot = newSlot(shown);
    this.globalSlots.set(shown.id, slot);
    this.view.put(slot, undefined);
  }

  private onApplied(entry: AppliedEntry<RegistryCommand>): void {
    this.appliedIndex = Math.max(this.appliedIndex, entry.index);
    try {
      const outcome = this.globals.apply(entry.command, entry.index);
      // During a replay the names change in `globals` only; `finishRestore` shows the result.
      if (!this.replaying) {
        for (const removed of outcome.removed) {
          const slot = this.globalSlots.get(removed.id);
          if (slot !== undefined) {
            this.globalSlots.delete(removed.id);
            this.view.delete(slot, 'unregistered');
          }
          const ownGlobal = this.ownGlobals.get(removed.id);
          if (ownGlobal !== undefined) this.forgetOwnGlobal(removed.id, ownGlobal, removed);
        }
        if (outcome.added !== undefined) {
          const own = this.ownGlobals.get(outcome.added.id);
          if (own !== undefined) own.held = outcome.added;
          this.showGlobal(outcome.added, own);
          if (own !== undefined) this.monitorGlobal(own);
          else this.releaseOrphan(outcome.added);
        }
      }
      if (outcome.added !== undefined) this.claimOfUnheard(outcome.added);
      if (outcome.claim !== undefined) {
        const own = this.ownGlobals.get(outcome.claim.id);
        if (own !== undefined) own.index ??= entry.index;
        this.inDoubt.delete(outcome.claim.id);
        // A claim of this node that lost is forgotten, whether or not its caller still waits.
        if (!outcome.claim.won) this.ownGlobals.delete(outcome.claim.id);
        const waiter = this.claimWaiters.get(outcome.claim.id);
        if (waiter !== undefined) {
          this.claimWaiters.delete(outcome.claim.id);
          // A caller told that its claim won during a replay hears 'global-release' if the
          // replay ends without the claim holding the name.
          if (own !== undefined && outcome.claim.won) own.held ??= outcome.claim.holder;
          waiter({ won: outcome.claim.won, holder: outcome.claim.holder });
        }
      }
      if (!this.replaying) {
        this.forgetRefusedClaims();
        this.outliveRelease();
      }
    } catch (error) {
      this.emit('consensus-error', { operation: 'apply', error: FoundationError.from(error) });
    }
    for (const waiter of [...this.appliedWaiters]) {
      if (waiter.index <= entry.index) {
        this.appliedWaiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  /**
   * A name held for this node by no claim of this registry (one of an earlier start of the
   * node: that process is gone) is released, by its id alone. Releasing the whole earlier
   * incarnation would also take names that claims of this registry hold under it, after the
   * node moved to a new incarnation. The jitter lets a replay of the log reach the name's own
   * release first, if it has one.
   */
  private releaseOrphan(holder: ServiceInstance): void {
    if (holder.node !== this.nodeId || this.ownGlobals.has(holder.id)) return;
    this.releaseUntilDone(
      holder.id,
      { type: 'registry-release', namespace: this.namespace, name: holder.name, id: holder.id },
      'release a name of an earlier start',
      () => this.globals.holder(holder.name)?.id === holder.id && !this.ownGlobals.has(holder.id),
      this.random.float() * (this.options.releaseJitterMs ?? 1000),
    );
  }

  /** Watches a held name's target, if its claim asked for that: the name goes when it exits. */
  private monitorGlobal(own: OwnGlobal): void {
    if (!own.monitor || own.monitored || this.options.monitor === undefined) return;
    const { id, name, target } = own.record;
    own.monitored = true;
    try {
      // The callback may run at once (a target that is already gone).
      own.monitorReference = this.options.monitor.monitor(target as Target, () => {
        if (!own.monitored) return;
        own.monitored = false;
        this.releaseUntilDone(
          id,
          { type: 'registry-release', namespace: this.namespace, name, id },
          `release "${name}" after its process exited`,
          () => this.globals.holder(name)?.id === id,
          0,
        );
      });
    } catch (error) {
      // Called while the log's entry is applied: thrown, it cut the apply short and left the
      // claim's caller unanswered while the name was held for it. The name is held, unwatched.
      own.monitored = false;
      this.emit('handler-error', { source: 'monitor.monitor', error });
    }
  }

  private async appendCommand(command: RegistryCommand, operation: string): Promise<number> {
    try {
      return await this.log(operation).append(command);
    } catch (error) {
      const failure = FoundationError.is(error) && error.code === 5606 ? error : new ConsensusFailedError(operation, error);
      this.emit('consensus-error', { operation, error: failure });
      throw failure;
    }
  }

  /**
   * Waits until the log has applied `index` here. The registry hears only its own commands, but
   * a log shared with other streams (as in the `foundation` meta-package) may have its last
   * entries, and the index a readIndex names, in another stream: so the log's own applied index
   * counts too, checked now and every few milliseconds while waiting.
   */
  private waitApplied(index: number, timeoutMs: number, operation: string): Promise<void> {
    const log = this.options.consensusLog;
    const reached = (): boolean => this.appliedIndex >= index || (log !== undefined && log.appliedIndex() >= index);
    if (reached()) return Promise.resolve();
    // Closed meanwhile (between the append's answer and this wait): the log is no longer heard.
    if (this.closed) return Promise.reject(new RegistryClosedError(operation));
    return new Promise<void>((resolve, reject) => {
      const poll = this.clock.setRepeatingTimer(APPLIED_POLL_MS, () => {
        if (reached()) waiter.resolve();
      });
      const timer = this.clock.setTimer(timeoutMs, () => {
        poll.cancel();
        this.appliedWaiters.delete(waiter);
        reject(new RegistryTimeoutError(operation, timeoutMs, `log index ${index} not applied`));
      });
      const settle = (outcome: () => void): void => {
        timer.cancel();
        poll.cancel();
        this.appliedWaiters.delete(waiter);
        outcome();
      };
      const waiter = {
        index,
        operation,
        resolve: () => settle(resolve),
        reject: (error: Error) => settle(() => reject(error)),
      };
      this.appliedWaiters.add(waiter);
    });
  }

  async registerGlobal(name: string, target: Target, options: GlobalRegisterOptions<Target> = {}): Promise<GlobalRegistration<Target>> {
    this.checkOpen('registerGlobal');
    this.log('registerGlobal');
    checkName('service name', name, this.limits.maxNameLength);
    checkOptions(options);
    checkGlobalOptions(options);
    const fields = this.fieldsFor({ ...options, mode: 'unique' });
    this.encodeTarget(target);
    const timeoutMs = options.timeoutMs === undefined ? (this.options.consensusTimeoutMs ?? 5000) : nonNegative(options.timeoutMs, 'timeoutMs', false);
    const monitor = this.shouldMonitor(target, options.monitor);
    const holder = this.view.lookup(name);
    if (holder !== undefined) throw this.holderError(name, holder);
    this.checkRoom();
    this.sequence += 1;
    this.claimStart ??= [this.random.uint32(), this.random.uint32()].map((word) => word.toString(16).padStart(8, '0')).join('');
    const id = `${this.nodeId}/${this.replica.incarnation}/${this.claimStart}/g${this.sequence}`;
    const plainTarget = JSON.parse(JSON.stringify(target)) as unknown;
    const instance: ServiceInstance = Object.freeze({
      ...fields,
      id,
      name,
      node: this.nodeId,
      scope: 'global' as const,
      target: plainTarget,
      registeredAt: this.clock.now(),
      incarnation: this.replica.incarnation,
      revision: 0,
    });
    const own: OwnGlobal = { record: Object.freeze({ ...instance, target }), monitor, monitorReference: undefined, monitored: false, index: undefined, held: undefined };
    this.ownGlobals.set(id, own);
    const outcome = new Promise<ClaimOutcome | undefined>((resolve) => this.claimWaiters.set(id, resolve));
    const operation = `registerGlobal("${name}")`;
    let result: ClaimOutcome | undefined;
    try {
      // A timeout or a failed append leaves the outcome unknown: the claim stays this node's,
      // so if it commits later the name is held for `target` (and monitored) until released.
      result = await this.runWithTimeout(
        async () => {
          let index: number;
          try {
            index = await this.appendCommand({ type: 'registry-claim', namespace: this.namespace, claim: claimData(instance) }, operation);
          } catch (error) {
            this.doubt(id, own);
            throw error;
          }
          // Known also when the call timed out meanwhile. A snapshot restored here may already
          // have settled the claim at that index without it being heard.
          if (this.ownGlobals.get(id) === own) {
            own.index = index;
            this.settleIfRestoredAway(id, own);
          }
          return outcome;
        },
        timeoutMs,
        operation,
      );
    } finally {
      this.claimWaiters.delete(id);
    }
    if (result === undefined) {
      throw new ConsensusFailedError(operation, new Error('its log position is inside a snapshot restored here, in which it holds no name'));
    }
    if (!result.won && result.holder.id === id) {
      // Refused by a release of this node's incarnation, applied before the claim: the cluster
      // declared this node gone. Nobody holds the name because of it; a retry after the node
      // rejoined (under a new incarnation) can take it.
      throw new ConsensusFailedError(operation, new Error('refused: the log had released this node (it was declared gone) before the claim; retry once it has rejoined'));
    }
    if (!result.won) throw this.holderError(name, result.holder);
    // A release applied in the same batch as the claim (the node was declared gone) may have
    // taken the name already; the caller hears it as a 'global-release' like any later one.
    const current = (this.globalSlots.get(id)?.instance ?? result.holder) as ServiceInstance<Target>;
    return {
      id,
      name,
      instance: current,
      release: (releaseOptions) => this.releaseGlobal(name, id, releaseOptions?.timeoutMs),
    };
  }

  /** A call's `timeoutMs` for the log, checked as registerGlobal's is, or the configured default. */
  private consensusTimeout(timeoutMs: number | undefined): number {
    return timeoutMs === undefined ? (this.options.consensusTimeoutMs ?? 5000) : nonNegative(timeoutMs, 'timeoutMs', false);
  }

  private async releaseGlobal(name: string, id: string, timeoutMs: number | undefined): Promise<boolean> {
    this.checkOpen('unregisterGlobal');
    const wait = this.consensusTimeout(timeoutMs);
    const holder = this.shownGlobals().holder(name);
    if (holder === undefined || holder.id !== id) return false;
    const operation = `unregisterGlobal("${name}")`;
    const index = await this.runWithTimeout(() => this.appendCommand({ type: 'registry-release', namespace: this.namespace, name, id }, operation), wait, operation);
    await this.waitApplied(index, wait, operation);
    return this.globals.holder(name)?.id !== id;
  }

  async unregisterGlobal(name: string, options: { readonly timeoutMs?: number } = {}): Promise<boolean> {
    this.checkOpen('unregisterGlobal');
    this.log('unregisterGlobal');
    checkName('service name', name, this.limits.maxNameLength);
    checkOptions(options);
    this.consensusTimeout(options.timeoutMs);
    const holder = this.shownGlobals().holder(name);
    if (holder === undefined || holder.node !== this.nodeId) return false;
    return this.releaseGlobal(name, holder.id, options.timeoutMs);
  }

  async lookupGlobal(name: string, options: { readonly consistent?: boolean; readonly timeoutMs?: number } = {}): Promise<ServiceInstance<Target> | undefined> {
    this.checkOpen('lookupGlobal');
    const log = this.log('lookupGlobal');
    checkName('service name', name, this.limits.maxNameLength);
    checkOptions(options);
    if (options.consistent === true) {
      const timeoutMs = this.consensusTimeout(options.timeoutMs);
      const operation = `lookupGlobal("${name}")`;
      let index: number;
      try {
        index = await this.runWithTimeout(() => log.readIndex(), timeoutMs, operation);
      } catch (error) {
        if (error instanceof RegistryTimeoutError || error instanceof RegistryClosedError) throw error;
        throw new ConsensusFailedError(operation, error);
      }
      await this.waitApplied(index, timeoutMs, `lookupGlobal("${name}")`);
    }
    const holder = this.shownGlobals().holder(name);
    return holder === undefined ? undefined : ((this.globalSlots.get(holder.id)?.instance ?? holder) as ServiceInstance<Target>);
  }

  // ---- cluster -------------------------------------------------------------------------------------

  syncWith(peer: string): void {
    this.replication?.syncWith(peer);
  }

  flush(): void {
    this.replication?.flush();
  }

  digest(): string {
    return this.replica.digest();
  }

  stats(): RegistryStats {
    const counts = this.replica.counts();
    const replication = this.replication?.stats;
    return {
      nodeId: this.nodeId,
      namespace: this.namespace,
      incarnation: this.replica.incarnation,
      names: this.view.nameList().length,
      instances: this.view.size,
      localServices: this.own.size,
      nodes: counts.origins,
      tombstones: counts.tombstones,
      departures: counts.departed,
      globalNames: [...this.shownGlobals().all()].length,
      globalClaimsInDoubt: this.inDoubt.size,
      digest: this.replica.digest(),
      deltasPublished: replication?.deltasPublished ?? 0,
      messagesReceived: replication?.messagesReceived ?? 0,
      messagesRejected: replication?.messagesRejected ?? 0,
      antiEntropyRounds: replication?.antiEntropyRounds ?? 0,
    };
  }

  /**
   * Appends a release of each of this node's claims (held, still waiting, or in doubt), as
   * unregisterGlobal would: without it the log holds the names for a closed registry until
   * peers see the node leave, and a registry without membership, never. Best effort, and
   * close() waits for none: nothing is retried, a failure is dropped (nobody hears events
   * after close), and a log that never answers holds the appends, not this registry. A release
   * of a claim that does not hold its name when applied changes nothing.
   */
  private releaseOwnGlobals(): void {
    const log = this.options.consensusLog;
    if (log === undefined) return;
    for (const [id, own] of [...this.ownGlobals]) {
      const command: RegistryCommand = { type: 'registry-release', namespace: this.namespace, name: own.record.name, id };
      try {
        log.append(command).catch(() => undefined);
      } catch {
        // A log that throws instead of rejecting (stopped already): nothing more to do here.
      }
    }
  }

  close(options: { readonly announce?: boolean } = {}): void {
    checkOptions(options);
    if (this.closed) return;
    this.closing = true;
    try {
      this.closeNow(options.announce !== false);
    } finally {
      this.closing = false;
    }
  }

  private closeNow(announce: boolean): void {
    if (announce) {
      this.replication?.publishDepartures([{ node: this.nodeId, incarnation: this.replica.incarnation, at: this.clock.now() }], true);
    }
    this.replication?.close();
    this.closed = true;
    for (const record of this.own.values()) this.stopRecord(record);
    for (const timer of this.releasing.values()) timer?.cancel();
    this.releasing.clear();
    for (const own of this.ownGlobals.values()) {
      if (own.monitored) {
        own.monitored = false;
        this.demonitor(own.monitorReference);
      }
    }
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    // Every watch ends: closed inside a handler, the events the view still holds for watchers
    // (the rest of an initial list, changes queued behind the one being told) go to nobody.
    for (const set of this.watchersByName.values()) for (const watcher of set) watcher.stopped = true;
    for (const watcher of this.watchersOther) watcher.stopped = true;
    this.watchersByName.clear();
    this.watchersOther.clear();
    for (const [name, set] of this.waiters) {
      for (const waiter of set) {
        waiter.cleanup();
        waiter.reject(new RegistryClosedError(`waitFor("${name}")`));
      }
    }
    this.waiters.clear();
    // Nothing applied will be heard now: a wait for the log fails rather than answer from a
    // state that stopped changing (a consistent lookup, a release told it did not happen).
    for (const waiter of [...this.appliedWaiters]) waiter.reject(new RegistryClosedError(waiter.operation));
    for (const run of [...this.running]) run.abandon(new RegistryClosedError(run.operation));
    // Last, once the log is no longer heard: a log that applies at once (the local one) would
    // otherwise tell this closing registry its own releases.
    if (announce) this.releaseOwnGlobals();
  }
}

interface OwnGlobal {
  /** The claim, with the target as registered (not its JSON copy). */
  readonly record: ServiceInstance;
  /** Whether to monitor the target once the claim holds the name. */
  readonly monitor: boolean;
  monitorReference: unknown;
  monitored: boolean;
  /** The claim's log index, once its append answered or it was applied here. */
  index: number | undefined;
  /** The name as the log holds it for this claim, once applied here and won. */
  held: ServiceInstance | undefined;
}

/** A claim as it was applied: whether it won, and who holds the name. */
interface ClaimOutcome {
  readonly won: boolean;
  readonly holder: ServiceInstance;
}

/** A service registry for one node and namespace; pass the ports to make it cluster-wide. */
export function createRegistry<Target = unknown>(options: RegistryOptions<Target>): Registry<Target> {
  if (typeof options !== 'object' || options === null) throw new RegistryValidationError('options', 'expected an object');
  return new RegistryImpl<Target>(options);
}
