// The runtime: the process table, the run queue and delivery (the hot path), and the public API.
// Each other concern has its own module, which the runtime owns one of: calls and their
// deadlines (call-table.ts), links, monitors and exit signals (links-and-monitors.ts), names
// (name-registry.ts), delayed sends (delayed-sends.ts), inspection (inspection.ts) and shutdown
// (shutdown.ts); the life of one process is lifecycle.ts. Everything here runs on one thread;
// worker threads and other nodes are reached through the thread pool and the remote bridge.
//
// The hot path (send to a local pid, handle a message) allocates nothing for a plain message:
// the pid's local id finds the record in a Map, the message goes into the record's ring buffer,
// the record goes into the run queue once, and a slice hands messages to the handler in a loop.
import type { TransferListItem } from 'node:worker_threads';
import { systemClock } from '@foundation/core';
import type { Scheduler, Timer } from '@foundation/core';
import { isNormalReason } from '../core/exit-signal';
import { checkName, checkRemoteName } from '../core/names';
import { MAX_CREATION, Pid, isValidNodeId } from '../core/pid';
import { RingQueue } from '../core/ring-queue';
import { CallExitedError } from '../errors/call-exited-error';
import { errorOf } from '../errors/describe-reason';
import { InvalidOptionError } from '../errors/invalid-option-error';
import { InvalidPidError } from '../errors/invalid-pid-error';
import { MailboxFullError } from '../errors/mailbox-full-error';
import { NoProcessError } from '../errors/no-process-error';
import { RuntimeStoppedError } from '../errors/runtime-stopped-error';
import { RemoteBridge } from '../remote/remote-bridge';
import { CallTable, rejected } from './call-table';
import { cpuIntensive } from './cpu-intensive';
import type { CpuIntensiveOptions } from './cpu-intensive';
import { DelayedSends } from './delayed-sends';
import { createEventLoopDriver } from './driver';
import type { RunQueueDriver } from './driver';
import {
  CALLER_REMOTE,
  CallEnvelope,
  CastEnvelope,
  ContextEnvelope,
  TransferEnvelope,
  WaitingSend,
  isCallEnvelope,
  isCastEnvelope,
  isContextEnvelope,
  withoutContext,
} from './envelopes';
import type { ProcessHandle } from './process-self';
import { nonNegativeNumber, positiveNumber, resolveMailbox, resolveRemoteLimits, resolveScheduling } from './options';
import type { ContextCarrier, DeadLetter, DeadLetterReason, ResolvedMailbox, ResolvedScheduling, RuntimeOptions, TelemetrySink, ThreadOptions } from './options';
import { CALL, CAST, DEAD, EXITING, MESSAGE, NONE, RUNNING, STARTING, UNTRAPPABLE_KILL, afterCallback, dispatch, runInit, runTerminate } from './lifecycle';
import { describeProcess, livePids, runtimeStats } from './inspection';
import type { RuntimeStats } from './inspection';
import { LinksAndMonitors } from './links-and-monitors';
import { NameRegistry } from './name-registry';
import { ProcessRecord } from './process-record';
import { addressTo, isSystemMessageFor } from './system-messages';
import type { DownMessage, ExitMessage } from './system-messages';
import type {
  Behavior,
  CallOptions,
  Destination,
  ExitReason,
  MonitorRef,
  ProcessFunction,
  ProcessInfo,
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
import { normalizeSupervisor } from '../supervisor/child-spec';
import type { NormalizedSupervisorSpec } from '../supervisor/child-spec';
import { stopRuntime } from './shutdown';

/** Stride of clock reads in a slice grows while handlers are faster than this (ms per stride). */
const FAST_SEGMENT_MS = 0.05;
const MAX_STRIDE = 64;
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5_000;

export type RuntimeStatus = 'running' | 'stopping' | 'stopped';

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

function isThreadBehavior(value: unknown): value is ThreadBehavior {
  return typeof value === 'object' && value !== null && 'module' in value;
}

/** @internal The runtime's implementation; the package exports only the `Runtime` interface. */
/**
 * Whether a cast to `behavior` goes to its `handleCast`. Read in the sender's call: a behavior
 * whose `handleCast` cannot be read is the target's fault, so the cast is delivered as one and
 * the target fails when it reads the callback, inside its own handler (lifecycle.ts).
 */
function castHandled(behavior: Behavior<unknown, unknown>): boolean {
  try {
    return behavior.handleCast !== undefined;
  } catch {
    return true;
  }
}

export class RuntimeImpl implements Runtime {
  readonly nodeId: string;
  readonly creation: number;
  readonly clock: Scheduler;
  readonly callTimeoutMs: number;
  readonly scheduling: ResolvedScheduling;
  private readonly driver: RunQueueDriver;
  private readonly telemetry: TelemetrySink | undefined;
  private readonly onDeadLetter: ((letter: DeadLetter) => void) | undefined;
  private readonly contextCarrier: ContextCarrier | null;
  private readonly threadOptions: ThreadOptions | undefined;

  /** @internal Every process not yet finalized, by its pid's local id. */
  readonly table = new Map<number, ProcessRecord>();
  /** @internal Local names. */
  readonly names = new NameRegistry();
  /** @internal Calls in flight, their deadlines and answers. */
  readonly calls = new CallTable(this);
  /** @internal Links, monitors and exit signals. */
  readonly links = new LinksAndMonitors(this);
  /** @internal `sendAfter` timers. */
  readonly delayedSends = new DelayedSends(this);
  private nextId = 1;

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

  readonly remote: RemoteBridge | null;
  /** @internal The worker pool, started on the first thread-isolated spawn. */
  threads: ThreadPool | null = null;

  messagesHandled = 0;
  deadLetters = 0;
  status: RuntimeStatus = 'running';
  /** Set once shutdown starts stopping the processes outside the supervision tree: no spawn after it. */
  spawnsClosed = false;
  private shutdownPromise: Promise<void> | null = null;

  /** @internal The sender of exit signals from outside processes, and the watcher behind `monitor` callbacks. */
  readonly system: ProcessRecord;
  /** @internal The root supervisor. */
  readonly root: ProcessRecord;

  constructor(options: RuntimeOptions) {
    if (!isValidNodeId(options.nodeId)) {
      throw new InvalidOptionError('nodeId', 'must be 1–255 characters of [A-Za-z0-9_.:@+/-]');
    }
    const creation = options.creation ?? 0;
    if (!Number.isInteger(creation) || creation < 0 || creation > MAX_CREATION) {
      throw new InvalidOptionError('creation', `must be an integer in 0..${MAX_CREATION}`);
    }
    // Checked before anything is set up, not in the root's init: a spec the root cannot start
    // with would leave the runtime running without a root supervisor.
    let rootSpec: NormalizedSupervisorSpec;
    try {
      rootSpec = normalizeSupervisor({ strategy: 'one-for-one', intensity: options.rootIntensity ?? {} });
    } catch (error) {
      throw new InvalidOptionError('rootIntensity', error instanceof Error ? error.message : String(error));
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
    this.contextCarrier = options.context ?? null;
    this.threadOptions = options.threads;
    const remoteLimits = resolveRemoteLimits(options.remoteLimits);
    this.remote = options.router === undefined ? null : new RemoteBridge(this, options.router, remoteLimits);

    // The system process: the sender of exit signals from outside any process, and the watcher
    // behind `runtime.monitor` callbacks (so callbacks run in a slice, never mid-bookkeeping).
    this.system = this.spawnProcess((message: unknown) => this.links.systemMessage(message), {}, null);
    this.system.trapping = true;
    this.root = this.spawnProcess(
      supervisorBehavior,
      {
        args: {
          spec: rootSpec,
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
    return errorOf(reason) ?? new CallExitedError(record.pid.toString(), reason);
  }

  /** @internal Spawns a process; `parent` (a supervisor) is linked and may always shut it down. */
  spawnProcess(behavior: unknown, options: SpawnOptions<unknown>, parent: ProcessRecord | null): ProcessRecord {
    if (this.status === 'stopped' || this.spawnsClosed) throw new RuntimeStoppedError(this.nodeId, 'spawn');
    const mailbox = resolveMailbox(options.mailbox);
    if (options.name !== undefined) this.names.checkFree(checkName(options.name));
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
    // Checked before the record is in the table: a spawn that throws leaves nothing behind (a
    // record stuck in `starting` would keep its name).
    if (options.link !== undefined && !(options.link instanceof Pid || Pid.is(options.link))) throw new InvalidPidError('the link option must be a pid');
    record.capacity = mailbox.capacity;
    record.bounds = mailbox;
    record.trapping = options.trapExits === true;
    this.table.set(record.pid.id, record);
    if (options.name !== undefined) {
      try {
        this.names.claim(options.name, record);
      } catch (error) {
        this.table.delete(record.pid.id);
        throw error;
      }
    }
    if (parent !== null) {
      record.parent = parent;
      this.links.addLocalLink(record, parent);
    }
    if (options.link !== undefined) this.links.link(record, options.link);
    this.links.drainExitSignals();
    start();
    return record;
  }

  /** @internal Runs `init` (inline when it is synchronous) and starts the process. */
  startRecord(record: ProcessRecord, args: unknown): void {
    if (record.status !== STARTING) return;
    runInit(this, record, args);
  }

  /**
   * @internal LifecycleHost: nothing to do here, since terminate comes with the error once
   * inHandler is cleared, and an exit held for the callback (pendingExit) is only applied by
   * afterCallback, which a callback that threw never reaches.
   */
  callbackThrew(): void {}

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

  /** @internal LifecycleHost: a call the process holds without answering yet; if it exits, the caller is told. */
  holdCall(record: ProcessRecord, call: CallEnvelope): void {
    this.calls.hold(record, call);
  }

  /** @internal LifecycleHost: answers a call; a second answer, or one after the timeout, is dropped. */
  completeCall(call: CallEnvelope, value: unknown): void {
    this.calls.complete(call, value);
  }

  /** @internal LifecycleHost: fails a call with `error`. */
  failCall(call: CallEnvelope, error: unknown): void {
    this.calls.fail(call, error);
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

  private dispatchEntry(record: ProcessRecord, self: ProcessHandle, message: unknown): void {
    if (isCallEnvelope(message)) dispatch(this, record, self, CALL, message.request, message);
    else if (isCastEnvelope(message)) dispatch(this, record, self, CAST, message.message, null);
    else dispatch(this, record, self, MESSAGE, message, null);
  }

  /**
   * With a context carrier, a slice runs outside any context (whatever context scheduled it is
   * not the context of the messages it handles); each carried message brings its own.
   */
  private readonly runSlice = (): void => {
    if (this.contextCarrier === null) this.runSliceBody();
    else this.contextCarrier.run(undefined, this.runSliceBody);
  };

  private readonly runSliceBody = (): void => {
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
          if (isContextEnvelope(message)) this.contextCarrier!.run(message.context, () => this.dispatchEntry(record, self, message.message));
          else this.dispatchEntry(record, self, message);
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
    const target = checkRemoteName(to);
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
      (target.waiting ??= new RingQueue<WaitingSend>()).push(new WaitingSend(wrapped, resolve, this.contextCarrier?.capture()));
    });
  }

  private wrap(record: ProcessRecord, message: unknown, cast: boolean, transfer: readonly TransferListItem[] | undefined): unknown {
    if (transfer !== undefined && record.bridge !== null) return new TransferEnvelope(message, transfer, cast);
    if (cast && record.behavior !== null && castHandled(record.behavior)) return new CastEnvelope(message);
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
    record.mailbox.push(this.contextCarrier === null ? message : this.inContext(message, this.contextCarrier.capture()), this.inSlice ? this.sliceNow : this.outsideNow());
    this.reductions += 1;
    if (!record.queued && !record.busy && record.status === RUNNING) this.makeRunnable(record);
  }

  /**
   * @internal System messages (exit, down) bypass the mailbox bound: they are never dropped. But
   * they keep their place behind messages already waiting at a full backpressure mailbox, or a
   * process's EXIT would overtake its last messages (the BEAM keeps signals between two
   * processes in order); they are admitted from the wait past the bound. The message counts as
   * a system message in this mailbox only (system-messages.ts).
   */
  enqueueSystem(record: ProcessRecord, message: ExitMessage | DownMessage): void {
    if (record.status === DEAD) return;
    addressTo(message, record);
    if (record.waiting !== null && record.waiting.length > 0) {
      record.waiting.push(new WaitingSend(message, null));
      return;
    }
    record.mailbox.push(message, this.now());
    if (!record.queued && !record.busy && record.status === RUNNING) this.makeRunnable(record);
  }

  private inContext(message: unknown, context: unknown): unknown {
    return context === undefined ? message : new ContextEnvelope(message, context);
  }

  private overflow(record: ProcessRecord, message: unknown): void {
    const target = record.pid.toString();
    switch (record.bounds.overflow) {
      case 'reject': {
        const error = new MailboxFullError(target, record.capacity, 'reject');
        if (isCallEnvelope(message)) {
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
        while (index < mailbox.length && isSystemMessageFor(mailbox.at(index), record)) index += 1;
        if (index === mailbox.length) {
          this.dropped(record, message);
          return;
        }
        this.dropped(record, withoutContext(mailbox.removeAt(index)));
        mailbox.push(this.contextCarrier === null ? message : this.inContext(message, this.contextCarrier.capture()), this.now());
        if (!record.queued && !record.busy && record.status === RUNNING) this.makeRunnable(record);
        return;
      }
      case 'backpressure': {
        if (record.waiting !== null && record.waiting.length >= record.bounds.maxWaiting) {
          // The wait is bounded too: a sender that never waits (plain `send`, another node)
          // must not grow it without end.
          const error = this.waitingFull(record);
          if (isCallEnvelope(message)) {
            this.failCall(message, error);
            return;
          }
          throw error;
        }
        (record.waiting ??= new RingQueue<WaitingSend>()).push(new WaitingSend(message, null, this.contextCarrier?.capture()));
        return;
      }
    }
  }

  private waitingFull(record: ProcessRecord): MailboxFullError {
    return new MailboxFullError(record.pid.toString(), record.capacity, 'backpressure', record.bounds.maxWaiting);
  }

  private dropped(record: ProcessRecord, message: unknown): void {
    record.dropped += 1;
    if (isCallEnvelope(message)) {
      this.failCall(message, new MailboxFullError(record.pid.toString(), record.capacity, record.bounds.overflow));
      return;
    }
    this.deadLetter(record.pid.toString(), isCastEnvelope(message) ? message.message : message, 'overflow', undefined);
  }

  private admitWaiting(record: ProcessRecord): void {
    const waiting = record.waiting!;
    while (waiting.length > 0 && (record.mailbox.length < record.capacity || isSystemMessageFor(waiting.at(0)!.message, record))) {
      const entry = waiting.shift()!;
      record.mailbox.push(this.inContext(entry.message, entry.context), this.now());
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

  /** @internal Runs `callback` once the work under way is done, through the run-queue driver (the simulated clock in tests). */
  soon(callback: () => void): void {
    this.driver.soon(callback);
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
    return this.delayedSends.sendAfter(delayMs, to, message);
  }

  // ---- calls, exit signals and monitors (call-table.ts, links-and-monitors.ts) -------------

  call<Reply = unknown>(to: Destination, request: unknown, options?: CallOptions): Promise<Reply> {
    return this.calls.call(undefined, to, request, options) as Promise<Reply>;
  }

  reply(to: ReplyTo, value: unknown): void {
    this.calls.reply(to, value);
  }

  exit(pid: Pid, reason: ExitReason): void {
    this.links.sendExit(this.system.pid, pid, reason);
  }

  monitor(pid: Pid, onDown: (down: DownMessage) => void): MonitorRef {
    return this.links.monitor(pid, onDown);
  }

  demonitor(ref: MonitorRef): void {
    this.links.demonitor(ref);
  }

  whenExited(pid: Pid): Promise<ExitReason> {
    return this.links.whenExited(pid);
  }

  // ---- the end of a process -----------------------------------------------------------------

  /**
   * @internal Ends a process with `reason`: runs `terminate`, then `finalize`. A process whose
   * callback is on the stack exits as soon as the callback returns. UNTRAPPABLE_KILL is the
   * end exit(pid, 'kill') brings: the process exits with `killed` at once, without `terminate`.
   * A `kill` passed here (a process stopping itself with it, or one that came through a link) and
   * a `killed` (from a link) are ordinary reasons, as on the BEAM.
   */
  terminate(record: ProcessRecord, reason: unknown): void {
    if (record.status === DEAD) return;
    const killing = reason === UNTRAPPABLE_KILL;
    if (record.status === EXITING) {
      // Only the untrappable kill cuts an async terminate short.
      if (killing && record.busy && !record.inHandler) {
        record.exitReason = 'killed';
        this.finalize(record);
      }
      return;
    }
    // A worker's callback that has not returned cannot be waited for with the untrappable kill:
    // it may never return (a dedicated worker is ended with its process).
    if (record.inHandler || (record.workerInHandler && !killing)) {
      if (record.pendingExit === NONE || killing) {
        // A held link exit that a thread proxy's own callback handed back here (it cleared
        // pendingExit and kept the held exits) while the worker's callback still runs: an
        // unlink may still take it back. Anything else is not from a link.
        const handedBack = record.pendingExit === NONE && record.heldLinkExits !== null && record.heldLinkExits.pendingFromLink;
        record.pendingExit = reason;
        if (record.heldLinkExits !== null && !handedBack) record.heldLinkExits.pendingFromLink = false;
      }
      return;
    }
    record.heldLinkExits = null;
    // A supervisor stopped while its init is still starting children has children to stop, in
    // reverse order and by their shutdown policies: its terminate runs once init has set its state.
    const initialized = record.status === RUNNING || (record.behavior === supervisorBehavior && record.state !== undefined);
    record.status = EXITING;
    record.exitReason = killing ? 'killed' : reason;
    record.busy = false;
    record.current = null;
    if (initialized && !killing && runTerminate(this, record, reason, () => record.status === EXITING && this.finalize(record))) return;
    this.finalize(record);
  }

  /** The process is gone: free its name, fail its calls, fire its links and monitors. */
  private finalize(record: ProcessRecord): void {
    record.status = DEAD;
    record.busy = false;
    const reason = record.exitReason;
    const pid = record.pid;
    this.table.delete(pid.id);
    this.names.release(record);
    if (record.controller !== null) record.controller.abort(reason);
    if (record.timers !== null) {
      for (const timer of record.timers) timer.cancel();
      record.timers = null;
    }
    const target = pid.toString();
    if (record.mailbox.length > 0) {
      for (const entry of record.mailbox.drain()) {
        const message = withoutContext(entry);
        if (isCallEnvelope(message)) this.failCall(message, new CallExitedError(target, reason));
      }
    }
    if (record.pendingReplies !== null) {
      for (const call of record.pendingReplies) {
        call.holder = null;
        this.failCall(call, new CallExitedError(target, reason));
      }
      record.pendingReplies = null;
    }
    this.calls.callerExited(record);
    if (record.waiting !== null) {
      for (const entry of record.waiting.drain()) {
        if (isCallEnvelope(entry.message)) this.failCall(entry.message, new CallExitedError(target, reason));
        else this.deadLetter(target, entry.message, 'noproc', undefined);
        entry.resolve?.();
      }
      record.waiting = null;
    }
    this.links.processExited(record, reason);
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
    this.links.drainExitSignals();
    if (this.status === 'running' && this.isInternal(record)) this.internalExited(record, reason);
  }

  /**
   * The system process or the root supervisor ended while the runtime ran. Nothing but shutdown
   * should end them (exit signals to them are refused), so this is a failure nobody foresaw; the
   * runtime cannot work without them, and stops, as it does when the root supervisor gives up,
   * rather than run on without its tree or its monitor callbacks.
   */
  private internalExited(record: ProcessRecord, reason: unknown): void {
    const process = record === this.root ? 'root-supervisor' : 'system';
    this.emit(['foundation', 'process', 'internal-exit'], { count: 1 }, { pid: record.pid, process, reason });
    void this.shutdown();
  }

  // ---- remote glue --------------------------------------------------------------------------

  private sendRemote(to: Pid | { name: string; node: string }, node: string, message: unknown, from: Pid | undefined, cast: boolean): void {
    const label = Pid.is(to) ? to.toString() : `${to.name}@${to.node}`;
    if (this.remote === null) {
      this.deadLetter(label, message, 'noconnection', from);
      return;
    }
    const unsent = this.remote.sendMessage(node, to, message, from, cast);
    if (unsent !== undefined) this.deadLetter(label, message, unsent, from);
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
    call.replyLife = this.remote!.lifeOf(replyNode);
    this.deliver(record, call);
  }

  // ---- names --------------------------------------------------------------------------------

  register(name: string, pid: Pid): void {
    checkName(name);
    const record = Pid.is(pid) ? this.lookupLocal(pid) : undefined;
    if (record === undefined) throw new NoProcessError(Pid.is(pid) ? pid.toString() : String(pid));
    this.names.register(name, record, pid);
  }

  unregister(name: string): void {
    this.names.unregister(name);
  }

  whereis(name: string): Pid | undefined {
    return this.names.whereis(name);
  }

  registered(): string[] {
    return this.names.registered();
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
    return livePids(this);
  }

  processInfo(pid: Pid): ProcessInfo | undefined {
    const record = this.lookupLocal(pid);
    if (record === undefined) return undefined;
    return describeProcess(record, this.clock.monotonic());
  }

  /** @internal The run queue's length, for stats. */
  get runQueueLength(): number {
    return this.runQueue.length;
  }

  stats(): RuntimeStats {
    return runtimeStats(this);
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
    this.shutdownPromise ??= stopRuntime(this, nonNegativeNumber('timeoutMs', options.timeoutMs, DEFAULT_SHUTDOWN_TIMEOUT_MS));
    return this.shutdownPromise;
  }

  /**
   * @internal Whether `record` is one of the runtime's own processes (the system process, the
   * root supervisor): exit signals do not reach them, only shutdown ends them.
   */
  isInternal(record: ProcessRecord): boolean {
    return record === this.system || record === this.root;
  }
}
