// The runtime: the process table, the run queue, names, links and monitors, calls and their
// timeouts, and the root supervisor. Everything here runs on one thread; worker threads and
// other nodes are reached through the thread pool and the remote bridge.
//
// The hot path (send to a local pid, handle a message) allocates nothing for a plain message:
// the pid's local id finds the record in a Map, the message goes into the record's ring buffer,
// the record goes into the run queue once, and a slice hands messages to the handler in a loop.
import type { TransferListItem } from 'node:worker_threads';
import { systemClock } from '@foundation/core';
import type { Scheduler, Timer } from '@foundation/core';
import { DeadlineQueue } from '../core/deadline-queue';
import { decideExit, isNormalReason } from '../core/exit-signal';
import { estimateSize } from '../core/estimate-size';
import { checkName } from '../core/names';
import { MAX_CREATION, Pid, isValidNodeId } from '../core/pid';
import { RingQueue } from '../core/ring-queue';
import { CallExitedError } from '../errors/call-exited-error';
import { CallTimeoutError } from '../errors/call-timeout-error';
import { InvalidOptionError } from '../errors/invalid-option-error';
import { InvalidPidError } from '../errors/invalid-pid-error';
import { MailboxFullError } from '../errors/mailbox-full-error';
import { NameTakenError } from '../errors/name-taken-error';
import { NoConnectionError } from '../errors/no-connection-error';
import { NoProcessError } from '../errors/no-process-error';
import { RuntimeStoppedError } from '../errors/runtime-stopped-error';
import { RemoteBridge } from '../remote/remote-bridge';
import { cpuIntensive } from './cpu-intensive';
import type { CpuIntensiveOptions } from './cpu-intensive';
import { createEventLoopDriver } from './driver';
import type { RunQueueDriver } from './driver';
import { CALLER_LOCAL, CALLER_REMOTE, CallEnvelope, CastEnvelope, TransferEnvelope, WaitingSend } from './envelopes';
import { nonNegativeNumber, positiveNumber, resolveMailbox, resolveScheduling } from './options';
import type { DeadLetter, DeadLetterReason, ResolvedMailbox, ResolvedScheduling, RuntimeOptions, TelemetrySink, ThreadOptions } from './options';
import { CALL, CAST, DEAD, EXITING, MESSAGE, NONE, RUNNING, STARTING, afterCallback, dispatch, runInit, runTerminate } from './lifecycle';
import { ProcessRecord } from './process-record';
import { callOf } from './process-self';
import type { Watcher } from './process-record';
import { downMessage, exitMessage, isDownMessage, isSystemMessage } from './system-messages';
import type { DownMessage } from './system-messages';
import type {
  Behavior,
  CallOptions,
  Destination,
  ExitReason,
  MonitorRef,
  ProcessFunction,
  ProcessInfo,
  ProcessStatus,
  ReplyTo,
  SendOptions,
  SpawnOptions,
  ThreadBehavior,
} from './types';
import type { ThreadPool } from '../thread/thread-pool';
import { createThreadPool } from '../thread/thread-pool';
import { ecosystemInfo, spawnEcosystem } from '../supervisor/ecosystem';
import type { Ecosystem, EcosystemInfo, EcosystemSpec } from '../supervisor/ecosystem';
import {
  countChildren,
  deleteChild,
  restartChild,
  startChild,
  supervisorBehavior,
  terminateChild,
  whichChildren,
} from '../supervisor/supervisor';
import type { ChildCounts, ChildInfo, ChildSpec, RestartType, SupervisorSpec } from '../supervisor/types';
import { SupervisorError } from '../errors/supervisor-error';

/** Stride of clock reads in a slice grows while handlers are faster than this (ms per stride). */
const FAST_SEGMENT_MS = 0.05;
const MAX_STRIDE = 64;
/** Rough bytes of an idle process: its record, pid and empty mailbox (measured by the spawn benchmark). */
const PROCESS_BASE_BYTES = 420;
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5_000;

export type RuntimeStatus = 'running' | 'stopping' | 'stopped';

export interface RuntimeStats {
  readonly processes: number;
  readonly runQueueLength: number;
  readonly messagesHandled: number;
  readonly deadLetters: number;
  /** Calls waiting for a reply (local and remote) that have a deadline. */
  readonly pendingCallDeadlines: number;
  readonly pendingRemoteCalls: number;
  /** Signals from other nodes dropped because they did not validate. */
  readonly malformedSignals: number;
  readonly threadWorkers: number;
}

export interface StartSupervisorOptions {
  /** Child id under the parent; default `supervisor-N`. */
  readonly id?: string;
  /** Registered name of the supervisor. */
  readonly name?: string;
  /** The supervisor to start under; default the root supervisor. */
  readonly parent?: Pid;
  /** Restart type under the parent; default `permanent`. */
  readonly restart?: RestartType;
}

export interface ShutdownOptions {
  /** How long processes outside the supervision tree get to exit after `shutdown` before they are killed. Default 5,000 ms. */
  readonly timeoutMs?: number;
}

/** A node's process runtime. Create one with `createRuntime`. */
export interface Runtime {
  readonly nodeId: string;
  readonly creation: number;
  readonly clock: Scheduler;
  /** The root supervisor: `startSupervisor` and `startChild(runtime.rootSupervisor, ...)` put trees under it. */
  readonly rootSupervisor: Pid;
  readonly status: RuntimeStatus;
  /** Starts a process and returns its pid at once; `init` runs before any message. */
  spawn<State, Args>(behavior: Behavior<State, Args> | ProcessFunction<State> | ThreadBehavior, options?: SpawnOptions<Args>): Pid;
  /** Starts a process and waits for its `init`; rejects with init's error (the process has then exited). */
  start<State, Args>(behavior: Behavior<State, Args> | ProcessFunction<State> | ThreadBehavior, options?: SpawnOptions<Args>): Promise<Pid>;
  /** Sends a message. To a pid that does not exist it is a no-op, reported to the dead-letter hook. */
  send(to: Destination, message: unknown, options?: SendOptions): void;
  /** Sends, and settles once the message is in the mailbox: at once, unless a `backpressure` mailbox is full. */
  sendAsync(to: Destination, message: unknown, options?: SendOptions): Promise<void>;
  cast(to: Destination, message: unknown): void;
  /** Calls a process: resolves with its reply; rejects with NoProcessError, CallTimeoutError, CallExitedError, MailboxFullError. */
  call<Reply = unknown>(to: Destination, request: unknown, options?: CallOptions): Promise<Reply>;
  /** Replies to a call a handler deferred with NO_REPLY. */
  reply(to: ReplyTo, value: unknown): void;
  sendAfter(delayMs: number, to: Destination, message: unknown): Timer;
  /** Sends an exit signal to `pid` (from the runtime's system process). */
  exit(pid: Pid, reason: ExitReason): void;
  /** Calls `onDown` once when `pid` exits (at once with `noproc` if it is not alive). */
  monitor(pid: Pid, onDown: (down: DownMessage) => void): MonitorRef;
  demonitor(ref: MonitorRef): void;
  /** Resolves with the exit reason of `pid` once it has exited (`noproc` if it is not alive now). */
  whenExited(pid: Pid): Promise<ExitReason>;
  register(name: string, pid: Pid): void;
  unregister(name: string): void;
  whereis(name: string): Pid | undefined;
  registered(): string[];
  isAlive(pid: Pid): boolean;
  processInfo(pid: Pid): ProcessInfo | undefined;
  /** Pids of every live process on this runtime, in spawn order. */
  processes(): Pid[];
  /**
   * Starts a supervisor as a child of `parent` (default the root supervisor) and waits until its
   * children have started; `restart` is its restart type there (default `permanent`).
   */
  startSupervisor(spec: SupervisorSpec, options?: StartSupervisorOptions): Promise<Pid>;
  startChild(supervisor: Pid, spec: ChildSpec): Promise<Pid | undefined>;
  terminateChild(supervisor: Pid, id: string): Promise<void>;
  restartChild(supervisor: Pid, id: string): Promise<Pid | undefined>;
  deleteChild(supervisor: Pid, id: string): Promise<void>;
  whichChildren(supervisor: Pid): Promise<ChildInfo[]>;
  countChildren(supervisor: Pid): Promise<ChildCounts>;
  spawnEcosystem<CoordinatorArgs, WorkerArgs>(spec: EcosystemSpec<CoordinatorArgs, WorkerArgs>): Promise<Ecosystem>;
  ecosystemInfo(ecosystem: Ecosystem): EcosystemInfo;
  /** Maps `items` through `fn` in chunks, yielding to the event loop between chunks. */
  cpuIntensive<Item, Result>(items: readonly Item[], fn: (item: Item, index: number) => Result, options?: CpuIntensiveOptions): Promise<Result[]>;
  stats(): RuntimeStats;
  /** Stops the supervision tree in reverse start order, then every other process, then the thread pool. */
  shutdown(options?: ShutdownOptions): Promise<void>;
}

export function createRuntime(options: RuntimeOptions): Runtime {
  return new RuntimeImpl(options);
}

/** A rejected promise for something caught (our own errors are always Errors). */
function rejected(error: unknown): Promise<never> {
  return Promise.reject(error instanceof Error ? error : new Error('non-error thrown', { cause: error }));
}

function isThreadBehavior(value: unknown): value is ThreadBehavior {
  return typeof value === 'object' && value !== null && 'module' in value;
}



/** A `runtime.sendAfter` waiting for its timer. */
class PendingSend {
  timer: Timer | null = null;
  constructor(
    readonly to: Destination,
    readonly message: unknown,
  ) {}
}

const INERT_TIMER: Timer = Object.freeze({ cancel: () => undefined });

/** A destination as text, for dead letters. */
function describeDestination(to: Destination): string {
  if (to instanceof Pid || Pid.is(to)) return to.toString();
  if (typeof to === 'string') return to;
  return typeof to === 'object' && to !== null ? `${String(to.name)}@${String(to.node)}` : String(to);
}

interface ExitSignalItem {
  readonly target: ProcessRecord;
  readonly from: Pid;
  readonly reason: unknown;
  readonly fromLink: boolean;
}

/** @internal The runtime's implementation; the package exports only the `Runtime` interface. */
export class RuntimeImpl implements Runtime {
  readonly nodeId: string;
  readonly creation: number;
  readonly clock: Scheduler;
  readonly callTimeoutMs: number;
  readonly scheduling: ResolvedScheduling;
  private readonly driver: RunQueueDriver;
  private readonly telemetry: TelemetrySink | undefined;
  private readonly onDeadLetter: ((letter: DeadLetter) => void) | undefined;
  private readonly threadOptions: ThreadOptions | undefined;

  private readonly table = new Map<number, ProcessRecord>();
  private readonly names = new Map<string, ProcessRecord>();
  private nextId = 1;
  private refCounter = 0;

  private readonly runQueue = new RingQueue<ProcessRecord>(64);
  private inSlice = false;
  private sliceScheduled = false;
  /** Clock value of the latest read inside a slice; enqueue times inside a slice use it. */
  private sliceNow = 0;
  /** Messages and handler time since the run queue last yielded to the event loop. */
  private turnHandled = 0;
  private turnElapsed = 0;
  /**
   * Reductions: one per message handled and one per message sent. A process that sends a lot
   * uses up its turn sooner, as on the BEAM, so a producer cannot flood a consumer that has
   * not had a turn yet.
   */
  private reductions = 0;
  /** Outside slices, on the event loop: the clock read once per burst (see `outsideNow`). */
  private readonly cacheTime: boolean;
  private cachedTime = 0;
  private timeCached = false;
  /** A slice was scheduled with `soon` (a microtask) and has not started yet. */
  private soonPending = false;
  private readonly expireTime = (): void => {
    this.timeCached = false;
  };

  private readonly exitSignals = new RingQueue<ExitSignalItem>();
  private drainingSignals = false;

  private readonly deadlines = new DeadlineQueue<CallEnvelope>();
  private deadlineTimer: Timer | null = null;
  private armedDeadline = Number.POSITIVE_INFINITY;
  readonly remoteCalls = new Map<number, CallEnvelope>();
  private nextCallRef = 1;

  private readonly monitorCallbacks = new Map<MonitorRef, (down: DownMessage) => void>();
  /** `runtime.sendAfter` timers that have not fired or been cancelled. */
  private readonly pendingSends = new Set<PendingSend>();
  readonly remote: RemoteBridge | null;
  private threads: ThreadPool | null = null;

  messagesHandled = 0;
  deadLetters = 0;
  status: RuntimeStatus = 'running';
  private shutdownPromise: Promise<void> | null = null;

  readonly system: ProcessRecord;
  private readonly root: ProcessRecord;

  constructor(options: RuntimeOptions) {
    if (!isValidNodeId(options.nodeId)) {
      throw new InvalidOptionError('nodeId', 'must be 1–255 characters of [A-Za-z0-9_.:@+/-]');
    }
    const creation = options.creation ?? 0;
    if (!Number.isInteger(creation) || creation < 0 || creation > MAX_CREATION) {
      throw new InvalidOptionError('creation', `must be an integer in 0..${MAX_CREATION}`);
    }
    this.nodeId = options.nodeId;
    this.creation = creation;
    this.clock = options.clock ?? systemClock;
    this.driver = options.driver ?? createEventLoopDriver();
    this.cacheTime = options.driver === undefined;
    this.scheduling = resolveScheduling(options.scheduling);
    this.callTimeoutMs = positiveNumber('callTimeoutMs', options.callTimeoutMs, 5_000, true);
    this.telemetry = options.telemetry;
    this.onDeadLetter = options.onDeadLetter;
    this.threadOptions = options.threads;
    this.remote = options.router === undefined ? null : new RemoteBridge(this, options.router);

    // The system process: the sender of exit signals from outside any process, and the watcher
    // behind `runtime.monitor` callbacks (so callbacks run in a slice, never mid-bookkeeping).
    this.system = this.spawnProcess((message: unknown) => this.systemMessage(message), {}, null);
    this.system.trapping = true;
    this.root = this.spawnProcess(
      supervisorBehavior,
      {
        args: {
          spec: { strategy: 'one-for-one', intensity: options.rootIntensity ?? {} },
          onGiveUp: () => void this.shutdown(),
        },
        trapExits: true,
      },
      this.system,
    );
  }

  get rootSupervisor(): Pid {
    return this.root.pid;
  }

  // ---- time ---------------------------------------------------------------------------------

  /** The runtime's clock, cached inside a slice (where it is read at every stride). */
  now(): number {
    return this.inSlice ? this.sliceNow : this.outsideNow();
  }

  /**
   * The clock for an enqueue outside any slice. When a slice is already scheduled, one read
   * serves every enqueue of the current synchronous run: a slice started by a microtask forgets
   * the value when it starts (it runs before any other macrotask); behind a slice that yielded
   * (the run queue is busy), a microtask forgets it. A burst of sends costs one clock read, and
   * the error is bounded by the synchronous run, which holds the loop anyway. A lone send (the
   * run queue idle) reads the clock; so does every send with a custom driver (a simulated clock).
   */
  private outsideNow(): number {
    if (this.timeCached) return this.cachedTime;
    const now = this.clock.monotonic();
    if (this.cacheTime && this.sliceScheduled) {
      this.cachedTime = now;
      this.timeCached = true;
      if (!this.soonPending) queueMicrotask(this.expireTime);
    }
    return now;
  }

  // ---- spawning -----------------------------------------------------------------------------

  spawn<State, Args>(behavior: Behavior<State, Args> | ProcessFunction<State> | ThreadBehavior, options: SpawnOptions<Args> = {}): Pid {
    return this.spawnProcess(behavior, options, null).pid;
  }

  async start<State, Args>(
    behavior: Behavior<State, Args> | ProcessFunction<State> | ThreadBehavior,
    options: SpawnOptions<Args> = {},
  ): Promise<Pid> {
    const record = this.spawnProcess(behavior, options, null);
    await this.whenStarted(record);
    return record.pid;
  }

  /** Resolves once `record` has finished `init`; rejects with its exit reason if it exited first. */
  whenStarted(record: ProcessRecord): Promise<void> {
    if (record.status === RUNNING) return Promise.resolve();
    if (record.status !== STARTING) return Promise.reject(this.startFailure(record, record.exitReason));
    return new Promise<void>((resolve, reject) => {
      (record.startWaiters ??= []).push({ resolve, reject: (reason) => reject(this.startFailure(record, reason)) });
    });
  }

  private startFailure(record: ProcessRecord, reason: unknown): Error {
    return reason instanceof Error ? reason : new CallExitedError(record.pid.toString(), reason);
  }

  /** @internal Spawns a process; `parent` (a supervisor) is linked and may always shut it down. */
  spawnProcess(behavior: unknown, options: SpawnOptions<unknown>, parent: ProcessRecord | null): ProcessRecord {
    if (this.status === 'stopped') throw new RuntimeStoppedError(this.nodeId, 'spawn');
    const mailbox = resolveMailbox(options.mailbox);
    if (options.name !== undefined) this.checkNameFree(checkName(options.name));
    if (options.isolation === 'thread') {
      if (!isThreadBehavior(behavior)) throw new InvalidOptionError('isolation', "'thread' needs a ThreadBehavior ({ module, export })");
      return this.threadPool().spawn(behavior, options, parent);
    }
    if (options.isolation !== undefined && options.isolation !== 'none') {
      throw new InvalidOptionError('isolation', "must be 'none' or 'thread'");
    }
    let record: ProcessRecord;
    if (typeof behavior === 'function') {
      record = new ProcessRecord(this, new Pid(this.nodeId, this.nextId++, this.creation), null, behavior as ProcessFunction);
    } else if (isThreadBehavior(behavior)) {
      throw new InvalidOptionError('isolation', "a ThreadBehavior runs only with isolation: 'thread'");
    } else if (typeof behavior === 'object' && behavior !== null) {
      record = new ProcessRecord(this, new Pid(this.nodeId, this.nextId++, this.creation), behavior, null);
    } else {
      throw new InvalidOptionError('behavior', 'must be a behavior object or a function');
    }
    return this.installProcess(record, options, mailbox, parent, () => this.startRecord(record, options.args));
  }

  /** @internal Allocates a pid for a process whose record is built elsewhere (thread proxies). */
  allocatePid(): Pid {
    return new Pid(this.nodeId, this.nextId++, this.creation);
  }

  /** @internal Registers a new record (name, links, flags) and starts it with `start`. */
  installProcess(
    record: ProcessRecord,
    options: SpawnOptions<unknown>,
    mailbox: ResolvedMailbox,
    parent: ProcessRecord | null,
    start: () => void,
  ): ProcessRecord {
    record.capacity = mailbox.capacity;
    record.bounds = mailbox;
    record.trapping = options.trapExits === true;
    this.table.set(record.pid.id, record);
    if (options.name !== undefined) {
      this.names.set(options.name, record);
      record.name = options.name;
    }
    if (parent !== null) {
      record.parent = parent;
      this.addLocalLink(record, parent);
    }
    if (options.link !== undefined) this.linkProcess(record, options.link);
    this.drainExitSignals();
    start();
    return record;
  }

  /** @internal Runs `init` (inline when it is synchronous) and starts the process. */
  startRecord(record: ProcessRecord, args: unknown): void {
    if (record.status !== STARTING) return;
    runInit(this, record, args);
  }

  /** @internal LifecycleHost: init finished, the process runs, and whoever waited for it hears so. */
  started(record: ProcessRecord): void {
    record.status = RUNNING;
    const waiters = record.startWaiters;
    record.startWaiters = null;
    if (waiters !== null) for (const waiter of waiters) waiter.resolve();
    if (afterCallback(this, record)) return;
    if (record.mailbox.length > 0) this.makeRunnable(record);
  }

  /** @internal LifecycleHost: an async callback settled. */
  resume(record: ProcessRecord): void {
    if (record.mailbox.length > 0) this.makeRunnable(record);
  }

  /** @internal LifecycleHost. */
  callerOf(call: CallEnvelope): Pid | undefined {
    return call.caller;
  }

  /** @internal LifecycleHost: a message the behavior has no callback for is a dead letter. */
  unhandled(record: ProcessRecord, message: unknown): void {
    this.deadLetter(record.pid.toString(), message, 'unhandled', undefined);
  }

  /** @internal LifecycleHost. */
  terminateFailed(record: ProcessRecord, error: unknown): void {
    this.emit(['foundation', 'process', 'terminate-failed'], { count: 1 }, { pid: record.pid, error });
  }

  private threadPool(): ThreadPool {
    this.threads ??= createThreadPool(this, this.threadOptions ?? {});
    return this.threads;
  }

  // ---- the run queue ------------------------------------------------------------------------

  private makeRunnable(record: ProcessRecord): void {
    if (record.queued) return;
    record.queued = true;
    this.runQueue.push(record);
    if (!this.inSlice && !this.sliceScheduled) this.scheduleSlice();
  }

  private scheduleSlice(): void {
    this.sliceScheduled = true;
    const { sliceMessages, sliceMs } = this.scheduling;
    if (this.turnHandled >= sliceMessages || this.turnElapsed >= sliceMs) {
      this.driver.yield(this.runYieldedSlice);
    } else {
      this.soonPending = true;
      this.driver.soon(this.runSlice);
    }
  }

  private readonly runYieldedSlice = (): void => {
    this.turnHandled = 0;
    this.turnElapsed = 0;
    this.runSlice();
  };

  private readonly runSlice = (): void => {
    this.sliceScheduled = false;
    this.soonPending = false;
    this.timeCached = false;
    if (this.inSlice || this.status === 'stopped') return;
    this.inSlice = true;
    const clock = this.clock;
    const { sliceMessages, sliceMs, processMessages, longHandlerMs } = this.scheduling;
    const sliceStart = clock.monotonic();
    let now = sliceStart;
    this.sliceNow = now;
    /** Reductions spent in this slice, and messages handled. */
    let spent = 0;
    let handled = 0;
    try {
      while (this.runQueue.length > 0) {
        const record = this.runQueue.shift()!;
        record.queued = false;
        const mailbox = record.mailbox;
        const self = record.self;
        const reductionsAtStart = this.reductions;
        let count = 0;
        let stride = 1;
        let sinceRead = 0;
        let segmentStart = now;
        while (mailbox.length > 0 && record.status === RUNNING && !record.busy) {
          const message = mailbox.shift();
          if (record.waiting !== null) this.admitWaiting(record);
          if (message instanceof CallEnvelope) dispatch(this, record, self, CALL, message.request, message);
          else if (message instanceof CastEnvelope) dispatch(this, record, self, CAST, message.message, null);
          else dispatch(this, record, self, MESSAGE, message, null);
          record.handled += 1;
          count += 1;
          sinceRead += 1;
          if (sinceRead >= stride) {
            now = clock.monotonic();
            this.sliceNow = now;
            const elapsed = now - segmentStart;
            if (elapsed >= longHandlerMs) this.reportLongHandler(record, elapsed, sinceRead);
            stride = elapsed < FAST_SEGMENT_MS ? Math.min(stride * 2, MAX_STRIDE) : 1;
            segmentStart = now;
            sinceRead = 0;
            if (now - sliceStart >= sliceMs) break;
          }
          const used = count + this.reductions - reductionsAtStart;
          if (used >= processMessages || spent + used >= sliceMessages) break;
        }
        if (sinceRead > 0) {
          now = clock.monotonic();
          this.sliceNow = now;
          const elapsed = now - segmentStart;
          if (elapsed >= longHandlerMs) this.reportLongHandler(record, elapsed, sinceRead);
        }
        handled += count;
        spent += count + this.reductions - reductionsAtStart;
        if (mailbox.length > 0 && record.status === RUNNING && !record.busy && !record.queued) {
          record.queued = true;
          this.runQueue.push(record);
        }
        if (spent >= sliceMessages || now - sliceStart >= sliceMs) break;
      }
    } finally {
      this.inSlice = false;
      this.messagesHandled += handled;
      this.turnHandled += spent;
      this.turnElapsed += now - sliceStart;
    }
    if (this.runQueue.length > 0 && !this.sliceScheduled) this.scheduleSlice();
  };

  private reportLongHandler(record: ProcessRecord, durationMs: number, messages: number): void {
    this.emit(['foundation', 'process', 'long-handler'], { durationMs, messages }, { pid: record.pid, name: record.name });
  }

  /** @internal LifecycleHost: a call the process holds without answering yet; if it exits, the caller is told. */
  holdCall(record: ProcessRecord, call: CallEnvelope): void {
    if (call.cancelled && call.origin === CALLER_LOCAL) return;
    call.holder = record;
    (record.pendingReplies ??= new Set()).add(call);
  }

  // ---- delivery -----------------------------------------------------------------------------

  /** @internal Routes a message from `from` (undefined outside processes) to `to`. */
  route(to: Destination, message: unknown, from: Pid | undefined, cast: boolean, transfer: readonly TransferListItem[] | undefined): void {
    if (to instanceof Pid || Pid.is(to)) {
      if (to.node === this.nodeId) {
        const record = this.table.get(to.id);
        if (record === undefined || to.creation !== this.creation) {
          this.deadLetter(to.toString(), message, 'noproc', from);
          return;
        }
        this.deliver(record, this.wrap(record, message, cast, transfer));
        return;
      }
      this.sendRemote(to, to.node, message, from, cast);
      return;
    }
    if (typeof to === 'string') {
      const record = this.names.get(to);
      if (record === undefined) this.deadLetter(to, message, 'noproc', from);
      else this.deliver(record, this.wrap(record, message, cast, transfer));
      return;
    }
    const target = this.checkRemoteName(to);
    if (target.node === this.nodeId) {
      this.route(target.name, message, from, cast, transfer);
      return;
    }
    this.sendRemote(target, target.node, message, from, cast);
  }

  /** @internal `route`, waiting for room in a backpressure mailbox. */
  routeAsync(to: Destination, message: unknown, from: Pid | undefined, transfer: readonly TransferListItem[] | undefined): Promise<void> {
    let record: ProcessRecord | undefined;
    if ((to instanceof Pid || Pid.is(to)) && to.node === this.nodeId) {
      record = to.creation === this.creation ? this.table.get(to.id) : undefined;
    } else if (typeof to === 'string') {
      record = this.names.get(to);
    }
    if (record === undefined || record.bounds.overflow !== 'backpressure' || !this.isFull(record)) {
      try {
        this.route(to, message, from, false, transfer);
      } catch (error) {
        return rejected(error);
      }
      return Promise.resolve();
    }
    const target = record;
    if (target.waiting !== null && target.waiting.length >= target.bounds.maxWaiting) return rejected(this.waitingFull(target));
    const wrapped = this.wrap(target, message, false, transfer);
    return new Promise<void>((resolve) => {
      (target.waiting ??= new RingQueue<WaitingSend>()).push(new WaitingSend(wrapped, resolve));
    });
  }

  private checkRemoteName(to: unknown): { name: string; node: string } {
    if (typeof to !== 'object' || to === null) throw new InvalidPidError(`not a destination: ${to === null ? 'null' : typeof to}`);
    const { name, node } = to as { name?: unknown; node?: unknown };
    if (!isValidNodeId(node)) throw new InvalidPidError('a remote name needs a valid node id');
    return { name: checkName(name), node };
  }

  private wrap(record: ProcessRecord, message: unknown, cast: boolean, transfer: readonly TransferListItem[] | undefined): unknown {
    if (transfer !== undefined && record.bridge !== null) return new TransferEnvelope(message, transfer, cast);
    if (cast && record.behavior !== null && record.behavior.handleCast !== undefined) return new CastEnvelope(message);
    return message;
  }

  private isFull(record: ProcessRecord): boolean {
    return record.mailbox.length >= record.capacity || (record.waiting !== null && record.waiting.length > 0);
  }

  /** @internal Puts a message (or envelope) in a local mailbox, applying its overflow policy. */
  deliver(record: ProcessRecord, message: unknown): void {
    if (record.mailbox.length >= record.capacity || (record.waiting !== null && record.waiting.length > 0)) {
      this.overflow(record, message);
      return;
    }
    record.mailbox.push(message, this.inSlice ? this.sliceNow : this.outsideNow());
    this.reductions += 1;
    if (!record.queued && !record.busy && record.status === RUNNING) this.makeRunnable(record);
  }

  /** @internal System messages (exit, down) bypass the mailbox bound: they are never dropped. */
  enqueueSystem(record: ProcessRecord, message: unknown): void {
    if (record.status === DEAD) return;
    record.mailbox.push(message, this.now());
    if (!record.queued && !record.busy && record.status === RUNNING) this.makeRunnable(record);
  }

  private overflow(record: ProcessRecord, message: unknown): void {
    const target = record.pid.toString();
    switch (record.bounds.overflow) {
      case 'reject': {
        const error = new MailboxFullError(target, record.capacity, 'reject');
        if (message instanceof CallEnvelope) {
          this.failCall(message, error);
          return;
        }
        throw error;
      }
      case 'drop-newest':
        this.dropped(record, message);
        return;
      case 'drop-oldest': {
        // Exit and down messages are never dropped: the oldest ordinary message goes. With
        // none queued (a mailbox full of system messages), the arriving one is dropped.
        const mailbox = record.mailbox;
        let index = 0;
        while (index < mailbox.length && isSystemMessage(mailbox.at(index))) index += 1;
        if (index === mailbox.length) {
          this.dropped(record, message);
          return;
        }
        this.dropped(record, mailbox.removeAt(index));
        mailbox.push(message, this.now());
        if (!record.queued && !record.busy && record.status === RUNNING) this.makeRunnable(record);
        return;
      }
      case 'backpressure': {
        if (record.waiting !== null && record.waiting.length >= record.bounds.maxWaiting) {
          // The wait is bounded too: a sender that never waits (plain `send`, another node)
          // must not grow it without end.
          const error = this.waitingFull(record);
          if (message instanceof CallEnvelope) {
            this.failCall(message, error);
            return;
          }
          throw error;
        }
        (record.waiting ??= new RingQueue<WaitingSend>()).push(new WaitingSend(message, null));
        return;
      }
    }
  }

  private waitingFull(record: ProcessRecord): MailboxFullError {
    return new MailboxFullError(record.pid.toString(), record.capacity, 'backpressure', record.bounds.maxWaiting);
  }

  private dropped(record: ProcessRecord, message: unknown): void {
    record.dropped += 1;
    if (message instanceof CallEnvelope) {
      this.failCall(message, new MailboxFullError(record.pid.toString(), record.capacity, record.bounds.overflow));
      return;
    }
    this.deadLetter(record.pid.toString(), message instanceof CastEnvelope ? message.message : message, 'overflow', undefined);
  }

  private admitWaiting(record: ProcessRecord): void {
    const waiting = record.waiting!;
    while (waiting.length > 0 && record.mailbox.length < record.capacity) {
      const entry = waiting.shift()!;
      record.mailbox.push(entry.message, this.now());
      entry.resolve?.();
    }
    if (waiting.length === 0) record.waiting = null;
  }

  /** @internal Reports an undeliverable message to the dead-letter hook and telemetry. */
  deadLetter(to: string, message: unknown, reason: DeadLetterReason, from: Pid | undefined): void {
    this.deadLetters += 1;
    if (this.onDeadLetter !== undefined) {
      try {
        this.onDeadLetter({ to, message, reason, from });
      } catch {
        // A failing hook must not break delivery for everyone else.
      }
    }
    if (this.telemetry !== undefined) this.emit(['foundation', 'process', 'dead-letter'], { count: 1 }, { to, reason });
  }

  /** @internal Emits a telemetry event; a failing sink is ignored. */
  emit(event: readonly string[], measurements: Record<string, number>, metadata: Record<string, unknown>): void {
    if (this.telemetry === undefined) return;
    try {
      this.telemetry.execute(event, measurements, metadata);
    } catch {
      // Telemetry is best effort.
    }
  }

  send(to: Destination, message: unknown, options?: SendOptions): void {
    this.route(to, message, undefined, false, options?.transfer);
  }

  sendAsync(to: Destination, message: unknown, options?: SendOptions): Promise<void> {
    return this.routeAsync(to, message, undefined, options?.transfer);
  }

  cast(to: Destination, message: unknown): void {
    this.route(to, message, undefined, true, undefined);
  }

  sendAfter(delayMs: number, to: Destination, message: unknown): Timer {
    nonNegativeNumber('delayMs', delayMs, 0);
    if (this.status === 'stopped') {
      this.deadLetter(describeDestination(to), message, 'shutdown', undefined);
      return INERT_TIMER;
    }
    // Tracked, so that shutdown cancels what has not fired: a pending timer would keep Node
    // alive and later fire into a stopped runtime.
    const entry = new PendingSend(to, message);
    entry.timer = this.clock.setTimer(delayMs, () => {
      this.pendingSends.delete(entry);
      this.route(to, message, undefined, false, undefined);
    });
    this.pendingSends.add(entry);
    return {
      cancel: () => {
        if (this.pendingSends.delete(entry)) entry.timer!.cancel();
      },
    };
  }

  /** @internal `self.sendAfter`: the timer dies with the process. */
  sendAfterFrom(record: ProcessRecord, delayMs: number, to: Destination, message: unknown): Timer {
    nonNegativeNumber('delayMs', delayMs, 0);
    if (record.status === DEAD) return { cancel: () => undefined };
    const timers = (record.timers ??= new Set());
    const timer = this.clock.setTimer(delayMs, () => {
      timers.delete(timer);
      if (record.status !== DEAD) this.route(to, message, record.pid, false, undefined);
    });
    timers.add(timer);
    return {
      cancel: () => {
        timers.delete(timer);
        timer.cancel();
      },
    };
  }

  // ---- calls --------------------------------------------------------------------------------

  call<Reply = unknown>(to: Destination, request: unknown, options?: CallOptions): Promise<Reply> {
    return this.callFrom(undefined, to, request, options) as Promise<Reply>;
  }

  /** @internal A call from `caller` (undefined outside processes). */
  callFrom(caller: Pid | undefined, to: Destination, request: unknown, options?: CallOptions): Promise<unknown> {
    const timeout = options?.timeout ?? this.callTimeoutMs;
    if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout <= 0) {
      return Promise.reject(new InvalidOptionError('timeout', `must be a positive number of ms or Infinity (got ${String(timeout)})`));
    }
    if (this.status === 'stopped') return Promise.reject(new RuntimeStoppedError(this.nodeId, 'call'));
    let record: ProcessRecord | undefined;
    let remote: { node: string; target: Pid | { name: string; node: string } } | undefined;
    let label: Pid | string;
    try {
      if (to instanceof Pid || Pid.is(to)) {
        label = to;
        if (to.node === this.nodeId) record = to.creation === this.creation ? this.table.get(to.id) : undefined;
        else remote = { node: to.node, target: to };
      } else if (typeof to === 'string') {
        label = to;
        record = this.names.get(to);
      } else {
        const target = this.checkRemoteName(to);
        label = `${target.name}@${target.node}`;
        if (target.node === this.nodeId) record = this.names.get(target.name);
        else remote = { node: target.node, target };
      }
    } catch (error) {
      return rejected(error);
    }
    if (record === undefined && remote === undefined) return Promise.reject(new NoProcessError(String(label)));
    const call = new CallEnvelope(caller, request, label, CALLER_LOCAL);
    const promise = new Promise<unknown>((resolve, reject) => {
      call.resolve = resolve;
      call.reject = reject;
    });
    if (options?.transfer !== undefined) call.transfer = options.transfer;
    if (timeout !== Number.POSITIVE_INFINITY) this.addDeadline(call, timeout);
    if (record !== undefined) {
      try {
        this.deliver(record, call);
      } catch (error) {
        this.failCall(call, error);
      }
    } else {
      this.sendRemoteCall(call, remote!.node, remote!.target, request);
    }
    return promise;
  }

  private sendRemoteCall(call: CallEnvelope, node: string, target: Pid | { name: string; node: string }, request: unknown): void {
    if (this.remote === null) {
      this.failCall(call, new NoConnectionError(node, 'no RemoteRouter is configured'));
      return;
    }
    const ref = this.nextCallRef++;
    call.remoteNode = node;
    call.replyRef = ref;
    this.remoteCalls.set(ref, call);
    if (!this.remote.sendCall(node, target, ref, request)) {
      this.failCall(call, new NoConnectionError(node, 'the router did not accept the call'));
    }
  }

  reply(to: ReplyTo, value: unknown): void {
    const call = callOf(to);
    if (!(call instanceof CallEnvelope)) throw new InvalidOptionError('reply', 'the first argument must be the `from` handed to handleCall');
    this.completeCall(call, value);
  }

  private releaseCall(call: CallEnvelope): boolean {
    if (call.cancelled) return false;
    if (call.inDeadlines) {
      call.inDeadlines = false;
      this.deadlines.cancel(call);
    } else {
      call.cancelled = true;
    }
    if (call.holder !== null) {
      (call.holder as ProcessRecord).pendingReplies?.delete(call);
      call.holder = null;
    }
    if (call.remoteNode !== null) this.remoteCalls.delete(call.replyRef);
    return true;
  }

  /** @internal Answers a call; a second answer, or one after the timeout, is dropped. */
  completeCall(call: CallEnvelope, value: unknown): void {
    if (!this.releaseCall(call)) return;
    if (call.origin === CALLER_REMOTE) this.remote?.sendReply(call.replyNode!, call.replyRef, true, value);
    else call.resolve!(value);
  }

  /** @internal Fails a call with `error`. */
  failCall(call: CallEnvelope, error: unknown): void {
    if (!this.releaseCall(call)) return;
    if (call.origin === CALLER_REMOTE) this.remote?.sendReply(call.replyNode!, call.replyRef, false, error);
    else call.reject!(error);
  }

  private addDeadline(call: CallEnvelope, timeout: number): void {
    const deadline = this.clock.monotonic() + timeout;
    call.timeoutMs = timeout;
    call.inDeadlines = true;
    this.deadlines.push(deadline, call);
    if (deadline < this.armedDeadline) this.armDeadline(deadline);
  }

  private armDeadline(deadline: number): void {
    this.deadlineTimer?.cancel();
    this.armedDeadline = deadline;
    const delay = Math.max(0, deadline - this.clock.monotonic());
    this.deadlineTimer = this.clock.setTimer(delay, this.onDeadline);
  }

  private readonly onDeadline = (): void => {
    this.deadlineTimer = null;
    this.armedDeadline = Number.POSITIVE_INFINITY;
    const expired = this.deadlines.popExpired(this.clock.monotonic());
    for (const call of expired) {
      call.inDeadlines = false;
      this.failCall(call, new CallTimeoutError(String(call.target), call.timeoutMs));
    }
    const next = this.deadlines.peekDeadline();
    if (next !== Number.POSITIVE_INFINITY && this.status !== 'stopped') this.armDeadline(next);
  };

  // ---- exits, links, monitors ---------------------------------------------------------------

  exit(pid: Pid, reason: ExitReason): void {
    this.sendExit(this.system.pid, pid, reason);
  }

  /** @internal An exit signal from `from` to `to` (exit/2, not a link). */
  sendExit(from: Pid, to: Pid, reason: unknown): void {
    if (!Pid.is(to)) throw new InvalidPidError('exit needs a pid');
    if (to.node !== this.nodeId) {
      this.remote?.sendExit(from, to, reason, false);
      return;
    }
    const record = to.creation === this.creation ? this.table.get(to.id) : undefined;
    if (record === undefined) return;
    this.queueExitSignal(record, from, reason, false);
    this.drainExitSignals();
  }

  /** @internal Queues an exit signal; `drainExitSignals` delivers them without recursion. */
  queueExitSignal(target: ProcessRecord, from: Pid, reason: unknown, fromLink: boolean): void {
    this.exitSignals.push({ target, from, reason, fromLink });
  }

  /** @internal Delivers queued exit signals; cascades through links iterate here, never recurse. */
  drainExitSignals(): void {
    if (this.drainingSignals) return;
    this.drainingSignals = true;
    try {
      while (this.exitSignals.length > 0) {
        const signal = this.exitSignals.shift()!;
        const target = signal.target;
        if (target.status === DEAD) continue;
        const decision = decideExit(
          {
            reason: signal.reason,
            fromLink: signal.fromLink,
            fromSelf: signal.from.equals(target.pid),
            fromParent: target.parent !== null && signal.from.equals(target.parent.pid),
          },
          target.trapping,
        );
        if (decision.action === 'message') this.enqueueSystem(target, exitMessage(signal.from, signal.reason as ExitReason));
        else if (decision.action === 'terminate') this.terminate(target, decision.reason);
      }
    } finally {
      this.drainingSignals = false;
    }
  }

  private addLocalLink(a: ProcessRecord, b: ProcessRecord): void {
    (a.links ??= new Set()).add(b);
    (b.links ??= new Set()).add(a);
  }

  /** @internal `self.link(pid)`. */
  linkProcess(record: ProcessRecord, pid: Pid): void {
    if (!Pid.is(pid)) throw new InvalidPidError('link needs a pid');
    if (pid.equals(record.pid)) return;
    if (pid.node !== this.nodeId) {
      if (this.remote === null) {
        this.queueExitSignal(record, pid, 'noconnection', true);
        this.drainExitSignals();
        return;
      }
      this.remote.link(record, pid);
      return;
    }
    const target = pid.creation === this.creation ? this.table.get(pid.id) : undefined;
    if (target === undefined || target.status === DEAD) {
      this.queueExitSignal(record, pid, 'noproc', true);
      this.drainExitSignals();
      return;
    }
    this.addLocalLink(record, target);
  }

  /** @internal `self.unlink(pid)`. */
  unlinkProcess(record: ProcessRecord, pid: Pid): void {
    if (pid.node !== this.nodeId) {
      this.remote?.unlink(record, pid);
      return;
    }
    const target = this.table.get(pid.id);
    if (target === undefined) return;
    record.links?.delete(target);
    target.links?.delete(record);
  }

  /** @internal A new monitor reference, unique on this node. */
  newRef(): MonitorRef {
    this.refCounter += 1;
    return `#Ref<${this.nodeId}.${this.refCounter}>`;
  }

  /** @internal `self.monitor(pid)`. */
  monitorFrom(watcher: ProcessRecord, pid: Pid): MonitorRef {
    if (!Pid.is(pid)) throw new InvalidPidError('monitor needs a pid');
    const ref = this.newRef();
    this.addMonitor(watcher, pid, ref);
    return ref;
  }

  /** @internal Adds a monitor with a given reference (thread processes bring their own). */
  addMonitor(watcher: ProcessRecord, pid: Pid, ref: MonitorRef): void {
    if (watcher.status === DEAD) return;
    if (pid.node !== this.nodeId) {
      if (this.remote === null) {
        this.enqueueSystem(watcher, downMessage(ref, pid, 'noconnection'));
        return;
      }
      (watcher.monitorsOut ??= new Map()).set(ref, pid);
      this.remote.monitor(watcher, pid, ref);
      return;
    }
    const target = pid.creation === this.creation ? this.table.get(pid.id) : undefined;
    if (target === undefined || target.status === DEAD) {
      this.enqueueSystem(watcher, downMessage(ref, pid, 'noproc'));
      return;
    }
    (watcher.monitorsOut ??= new Map()).set(ref, pid);
    (target.monitorsIn ??= new Map()).set(ref, watcher);
  }

  /** @internal `self.demonitor(ref)`. */
  demonitorFrom(watcher: ProcessRecord, ref: MonitorRef): void {
    const pid = watcher.monitorsOut?.get(ref);
    if (pid === undefined) return;
    watcher.monitorsOut!.delete(ref);
    if (pid.node !== this.nodeId) {
      this.remote?.demonitor(watcher, pid, ref);
      return;
    }
    this.table.get(pid.id)?.monitorsIn?.delete(ref);
  }

  monitor(pid: Pid, onDown: (down: DownMessage) => void): MonitorRef {
    const ref = this.newRef();
    this.monitorCallbacks.set(ref, onDown);
    this.addMonitor(this.system, pid, ref);
    return ref;
  }

  demonitor(ref: MonitorRef): void {
    this.monitorCallbacks.delete(ref);
    this.demonitorFrom(this.system, ref);
  }

  private systemMessage(message: unknown): void {
    if (!isDownMessage(message)) return;
    const callback = this.monitorCallbacks.get(message.ref);
    if (callback === undefined) return;
    this.monitorCallbacks.delete(message.ref);
    try {
      callback(message);
    } catch (error) {
      this.emit(['foundation', 'process', 'monitor-callback-failed'], { count: 1 }, { ref: message.ref, error });
    }
  }

  whenExited(pid: Pid): Promise<ExitReason> {
    if (pid.node === this.nodeId) {
      const record = pid.creation === this.creation ? this.table.get(pid.id) : undefined;
      if (record === undefined || record.status === DEAD) return Promise.resolve('noproc');
      return new Promise((resolve) => {
        (record.exitWaiters ??= []).push((reason) => resolve(reason as ExitReason));
      });
    }
    return new Promise((resolve) => this.monitor(pid, (down) => resolve(down.reason)));
  }

  /**
   * @internal Ends a process with `reason`: runs `terminate` (unless killed), then `finalize`.
   * A process whose callback is on the stack exits as soon as the callback returns.
   */
  terminate(record: ProcessRecord, reason: unknown): void {
    if (record.status === DEAD) return;
    if (reason === 'kill') reason = 'killed';
    if (record.status === EXITING) {
      // Only `kill` cuts an async terminate short.
      if (reason === 'killed' && record.busy && !record.inHandler) {
        record.exitReason = 'killed';
        this.finalize(record);
      }
      return;
    }
    if (record.inHandler) {
      if (record.pendingExit === NONE || reason === 'killed') record.pendingExit = reason;
      return;
    }
    const initialized = record.status === RUNNING;
    record.status = EXITING;
    record.exitReason = reason;
    record.busy = false;
    record.current = null;
    if (initialized && runTerminate(this, record, reason, () => record.status === EXITING && this.finalize(record))) return;
    this.finalize(record);
  }

  /** The process is gone: free its name, fail its calls, fire its links and monitors. */
  private finalize(record: ProcessRecord): void {
    record.status = DEAD;
    record.busy = false;
    const reason = record.exitReason;
    const pid = record.pid;
    this.table.delete(pid.id);
    if (record.name !== undefined && this.names.get(record.name) === record) this.names.delete(record.name);
    if (record.controller !== null) record.controller.abort(reason);
    if (record.timers !== null) {
      for (const timer of record.timers) timer.cancel();
      record.timers = null;
    }
    const target = pid.toString();
    if (record.mailbox.length > 0) {
      for (const message of record.mailbox.drain()) {
        if (message instanceof CallEnvelope) this.failCall(message, new CallExitedError(target, reason));
      }
    }
    if (record.pendingReplies !== null) {
      for (const call of record.pendingReplies) {
        call.holder = null;
        this.failCall(call, new CallExitedError(target, reason));
      }
      record.pendingReplies = null;
    }
    if (record.waiting !== null) {
      for (const entry of record.waiting.drain()) {
        if (entry.message instanceof CallEnvelope) this.failCall(entry.message, new CallExitedError(target, reason));
        else this.deadLetter(target, entry.message, 'noproc', undefined);
        entry.resolve?.();
      }
      record.waiting = null;
    }
    if (record.links !== null) {
      for (const linked of record.links) {
        linked.links?.delete(record);
        this.queueExitSignal(linked, pid, reason, true);
      }
      record.links = null;
    }
    if (record.remoteLinks !== null) {
      for (const remotePid of record.remoteLinks.values()) this.remote?.sendExit(pid, remotePid, reason, true);
      record.remoteLinks = null;
    }
    if (record.monitorsIn !== null) {
      for (const [ref, watcher] of record.monitorsIn) this.notifyDown(watcher, ref, pid, reason);
      record.monitorsIn = null;
    }
    if (record.monitorsOut !== null) {
      for (const [ref, watched] of record.monitorsOut) {
        if (watched.node === this.nodeId) this.table.get(watched.id)?.monitorsIn?.delete(ref);
        else this.remote?.demonitor(record, watched, ref);
      }
      record.monitorsOut = null;
    }
    this.remote?.forget(record);
    if (record.bridge !== null) record.bridge.onExit(reason);
    if (record.exitWaiters !== null) {
      for (const waiter of record.exitWaiters) waiter(reason);
      record.exitWaiters = null;
    }
    if (record.startWaiters !== null) {
      for (const waiter of record.startWaiters) waiter.reject(reason);
      record.startWaiters = null;
    }
    if (!isNormalReason(reason) && this.telemetry !== undefined) {
      this.emit(['foundation', 'process', 'exit'], { count: 1 }, { pid, name: record.name, reason });
    }
    this.drainExitSignals();
  }

  /** @internal Tells a watcher that the process `pid` it monitored is down. */
  notifyDown(watcher: Watcher, ref: MonitorRef, pid: Pid, reason: unknown): void {
    if (watcher instanceof ProcessRecord) {
      watcher.monitorsOut?.delete(ref);
      this.enqueueSystem(watcher, downMessage(ref, pid, reason as ExitReason));
    } else {
      this.remote?.sendDown(watcher, ref, pid, reason);
    }
  }

  // ---- remote glue --------------------------------------------------------------------------

  private sendRemote(to: Pid | { name: string; node: string }, node: string, message: unknown, from: Pid | undefined, cast: boolean): void {
    const label = Pid.is(to) ? to.toString() : `${to.name}@${to.node}`;
    if (this.remote === null) {
      this.deadLetter(label, message, 'noconnection', from);
      return;
    }
    if (!this.remote.sendMessage(node, to, message, from, cast)) this.deadLetter(label, message, 'noconnection', from);
  }

  /** @internal The local process for a pid or name arriving from the wire, if alive. */
  lookupLocal(target: Pid | { name: string }): ProcessRecord | undefined {
    if (Pid.is(target)) {
      if (target.node !== this.nodeId || target.creation !== this.creation) return undefined;
      const record = this.table.get(target.id);
      return record === undefined || record.status === DEAD ? undefined : record;
    }
    return this.names.get(target.name);
  }

  /** @internal Delivers a message that arrived from another node. Overflow never throws back to the transport. */
  deliverInbound(record: ProcessRecord, message: unknown, cast: boolean): void {
    try {
      this.deliver(record, this.wrap(record, message, cast, undefined));
    } catch (error) {
      if (!(error instanceof MailboxFullError)) throw error;
      record.dropped += 1;
      this.deadLetter(record.pid.toString(), message, 'overflow', undefined);
    }
  }

  /** @internal A call that arrived from another node. */
  deliverInboundCall(record: ProcessRecord, request: unknown, replyNode: string, replyRef: number): void {
    const call = new CallEnvelope(undefined, request, record.pid, CALLER_REMOTE);
    call.replyNode = replyNode;
    call.replyRef = replyRef;
    this.deliver(record, call);
  }

  // ---- names --------------------------------------------------------------------------------

  private checkNameFree(name: string): void {
    const holder = this.names.get(name);
    if (holder !== undefined && holder.status !== DEAD) throw new NameTakenError(name, holder.pid.toString(), 'name-taken');
  }

  register(name: string, pid: Pid): void {
    checkName(name);
    const record = Pid.is(pid) ? this.lookupLocal(pid) : undefined;
    if (record === undefined) throw new NoProcessError(Pid.is(pid) ? pid.toString() : String(pid));
    if (record.name === name) return;
    this.checkNameFree(name);
    if (record.name !== undefined) throw new NameTakenError(record.name, pid.toString(), 'already-named');
    this.names.set(name, record);
    record.name = name;
  }

  unregister(name: string): void {
    const record = this.names.get(name);
    if (record === undefined) return;
    this.names.delete(name);
    record.name = undefined;
  }

  whereis(name: string): Pid | undefined {
    return this.names.get(name)?.pid;
  }

  registered(): string[] {
    return [...this.names.keys()];
  }

  // ---- inspection ---------------------------------------------------------------------------

  /** @internal The live record of a local pid. */
  record(pid: Pid): ProcessRecord | undefined {
    return this.lookupLocal(pid);
  }

  isAlive(pid: Pid): boolean {
    return this.lookupLocal(pid) !== undefined;
  }

  processes(): Pid[] {
    const pids: Pid[] = [];
    for (const record of this.table.values()) if (record.status !== DEAD) pids.push(record.pid);
    return pids;
  }

  processInfo(pid: Pid): ProcessInfo | undefined {
    const record = this.lookupLocal(pid);
    if (record === undefined) return undefined;
    return this.describe(record);
  }

  /** @internal Info for a live record. */
  describe(record: ProcessRecord): ProcessInfo {
    const mailbox = record.mailbox;
    const oldest = mailbox.oldestTime();
    let status: ProcessStatus;
    if (record.status === STARTING) status = 'starting';
    else if (record.status === EXITING) status = 'exiting';
    else if (record.status === DEAD) status = 'exited';
    else status = record.busy || record.queued || record.inHandler ? 'running' : 'waiting';
    const links: Pid[] = [];
    if (record.links !== null) for (const linked of record.links) links.push(linked.pid);
    if (record.remoteLinks !== null) links.push(...record.remoteLinks.values());
    return {
      pid: record.pid,
      name: record.name,
      status,
      mailbox: {
        length: mailbox.length,
        oldestAgeMs: Number.isNaN(oldest) ? 0 : Math.max(0, this.clock.monotonic() - oldest),
        waiting: record.waiting?.length ?? 0,
        maxWaiting: record.bounds.maxWaiting,
        capacity: record.capacity,
        overflow: record.bounds.overflow,
        dropped: record.dropped,
      },
      links,
      monitors: record.monitorsOut === null ? [] : [...record.monitorsOut.values()],
      monitoredBy: record.monitorsIn?.size ?? 0,
      trapExits: record.trapping,
      messagesHandled: record.handled,
      isolation: record.bridge === null ? 'none' : 'thread',
      memoryEstimateBytes: this.memoryEstimate(record),
    };
  }

  /** @internal Rough bytes held by a process. */
  memoryEstimate(record: ProcessRecord): number {
    let bytes = PROCESS_BASE_BYTES + record.mailbox.retainedBytes();
    const sample = Math.min(record.mailbox.length, 32);
    if (sample > 0) {
      let sampled = 0;
      for (let index = 0; index < sample; index += 1) sampled += estimateSize(record.mailbox.at(index), 200);
      bytes += Math.round((sampled / sample) * record.mailbox.length);
    }
    return bytes + estimateSize(record.state, 1000);
  }

  stats(): RuntimeStats {
    return {
      processes: this.table.size,
      runQueueLength: this.runQueue.length,
      messagesHandled: this.messagesHandled,
      deadLetters: this.deadLetters,
      pendingCallDeadlines: this.deadlines.size,
      pendingRemoteCalls: this.remoteCalls.size,
      malformedSignals: this.remote?.malformed ?? 0,
      threadWorkers: this.threads?.workerCount() ?? 0,
    };
  }

  // ---- supervisors --------------------------------------------------------------------------

  async startSupervisor(spec: SupervisorSpec, options: StartSupervisorOptions = {}): Promise<Pid> {
    const parent = options.parent ?? this.root.pid;
    const id = options.id ?? `supervisor-${this.nextId}`;
    let pid: Pid | undefined;
    try {
      pid = await startChild(this, parent, {
        id,
        supervisor: spec,
        ...(options.name === undefined ? {} : { name: options.name }),
        ...(options.restart === undefined ? {} : { restart: options.restart }),
      });
    } catch (error) {
      // The supervisor itself failed to start: what the caller wants is why (its child's failure).
      if (error instanceof SupervisorError && error.kind === 'start-failed' && error.childId === id && error.cause instanceof SupervisorError) {
        throw error.cause;
      }
      throw error;
    }
    if (pid === undefined) throw new NoProcessError(`supervisor ${id}`);
    return pid;
  }

  startChild(supervisor: Pid, spec: ChildSpec): Promise<Pid | undefined> {
    return startChild(this, supervisor, spec);
  }

  terminateChild(supervisor: Pid, id: string): Promise<void> {
    return terminateChild(this, supervisor, id);
  }

  restartChild(supervisor: Pid, id: string): Promise<Pid | undefined> {
    return restartChild(this, supervisor, id);
  }

  deleteChild(supervisor: Pid, id: string): Promise<void> {
    return deleteChild(this, supervisor, id);
  }

  whichChildren(supervisor: Pid): Promise<ChildInfo[]> {
    return whichChildren(this, supervisor);
  }

  countChildren(supervisor: Pid): Promise<ChildCounts> {
    return countChildren(this, supervisor);
  }

  spawnEcosystem<CoordinatorArgs, WorkerArgs>(spec: EcosystemSpec<CoordinatorArgs, WorkerArgs>): Promise<Ecosystem> {
    return spawnEcosystem(this, spec);
  }

  ecosystemInfo(ecosystem: Ecosystem): EcosystemInfo {
    return ecosystemInfo(this, ecosystem);
  }

  cpuIntensive<Item, Result>(
    items: readonly Item[],
    fn: (item: Item, index: number) => Result,
    options: CpuIntensiveOptions = {},
  ): Promise<Result[]> {
    return cpuIntensive(items, fn, { driver: this.driver, clock: this.clock, ...options });
  }

  // ---- shutdown -----------------------------------------------------------------------------

  shutdown(options: ShutdownOptions = {}): Promise<void> {
    this.shutdownPromise ??= this.stop(nonNegativeNumber('timeoutMs', options.timeoutMs, DEFAULT_SHUTDOWN_TIMEOUT_MS));
    return this.shutdownPromise;
  }

  private async stop(timeoutMs: number): Promise<void> {
    this.status = 'stopping';
    // 1. The supervision tree, in reverse start order (the root supervisor's terminate does it).
    if (this.root.status !== DEAD) {
      const rootExited = this.whenExited(this.root.pid);
      this.sendExit(this.system.pid, this.root.pid, 'shutdown');
      await rootExited;
    }
    // 2. Every other process, newest first: ended with `shutdown` (as a parent would end it, so
    //    trapping exits does not keep it alive), then killed if it has not exited by the timeout.
    const others = [...this.table.values()].filter((record) => record !== this.system && record.status !== DEAD).reverse();
    if (others.length > 0) {
      const exited = Promise.all(others.map((record) => this.whenExited(record.pid)));
      for (const record of others) this.terminate(record, 'shutdown');
      let timer: Timer | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = this.clock.setTimer(timeoutMs, resolve);
      });
      await Promise.race([exited, timedOut]);
      timer?.cancel();
      for (const record of others) if (record.status !== DEAD) this.sendExit(this.system.pid, record.pid, 'kill');
    }
    this.terminate(this.system, 'shutdown');
    // 3. Whatever is still waiting for a reply fails, timers that have not fired are cancelled
    //    (their messages are dead letters); workers and the router are released.
    this.deadlineTimer?.cancel();
    this.deadlineTimer = null;
    for (const entry of [...this.pendingSends]) {
      this.pendingSends.delete(entry);
      entry.timer!.cancel();
      this.deadLetter(describeDestination(entry.to), entry.message, 'shutdown', undefined);
    }
    for (const call of [...this.remoteCalls.values()]) this.failCall(call, new RuntimeStoppedError(this.nodeId, 'wait for a reply'));
    for (const call of this.deadlines.popExpired(Number.POSITIVE_INFINITY)) {
      call.inDeadlines = false;
      this.failCall(call, new RuntimeStoppedError(this.nodeId, 'wait for a reply'));
    }
    this.status = 'stopped';
    this.remote?.close();
    if (this.threads !== null) await this.threads.close();
  }

  /** @internal Whether `record` is this runtime's root supervisor. */
  isRoot(record: ProcessRecord): boolean {
    return record === this.root;
  }
}
