// Worker threads for thread-isolated processes: a pool sized to the cores, started lazily, each
// worker hosting any number of processes (placed on the least loaded worker), plus dedicated
// workers for processes that ask for their own resource limits. A worker that dies (uncaught
// error, out of memory, exit) takes its processes with it: each exits with WorkerCrashedError,
// so links and monitors fire and supervisors restart them, and the pool replaces the worker on
// the next spawn.
//
// A worker confirms every `kill` it reads (`killed`). One with a kill not yet confirmed may be
// stuck, a process on it spinning in a synchronous loop, and takes no new process: the pool
// starts another instead, as such a worker does not count towards the size. One that still has
// not confirmed after `killTimeoutMs` is terminated, and the processes on it exit with
// WorkerCrashedError. One that confirms while the pool has its size without it retires: it
// takes no new process and stops once the last of its own has gone.
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ResourceLimits, TransferListItem } from 'node:worker_threads';
import type { Timer } from '@foundation/core';
import { InvalidOptionError } from '../errors/invalid-option-error';
import { UnsupportedError } from '../errors/unsupported-error';
import { WorkerCrashedError } from '../errors/worker-crashed-error';
import { decodeBody } from '../core/wire-body';
import { decodeReason } from '../core/signals';
import type { CallEnvelope } from '../runtime/envelopes';
import { positiveInteger, positiveNumber, resolveMailbox } from '../runtime/options';
import type { ThreadOptions } from '../runtime/options';
import { ProcessRecord } from '../runtime/process-record';
import type { RuntimeImpl } from '../runtime/runtime';
import type { SpawnOptions, ThreadBehavior } from '../runtime/types';
import { readFromWorker } from './protocol';
import type { FromWorker, ToWorker } from './protocol';
import { ThreadBridge, threadProxyBehavior } from './thread-bridge';
import type { BridgeWorker } from './thread-bridge';
import type { HostContext } from './thread-host';
import { defaultWorkerEntry } from './worker-entry';

export interface ThreadPool {
  spawn(behavior: ThreadBehavior, options: SpawnOptions<unknown>, parent: ProcessRecord | null): ProcessRecord;
  workerCount(): number;
  close(): Promise<void>;
}

const MAX_EXPORT_LENGTH = 255;

/** The module specifier a worker can import for `behavior.module`. */
export function resolveBehaviorModule(behavior: ThreadBehavior): { module: string; export: string } {
  const exportName = behavior.export ?? 'default';
  if (typeof exportName !== 'string' || exportName.length === 0 || exportName.length > MAX_EXPORT_LENGTH) {
    throw new InvalidOptionError('behavior.export', 'must be an export name of 1–255 characters');
  }
  const { module } = behavior;
  if (module instanceof URL) return { module: module.href, export: exportName };
  if (typeof module !== 'string' || module.length === 0) throw new InvalidOptionError('behavior.module', 'must be a path, a URL or a package name');
  if (/^[a-z][a-z0-9+.-]*:/i.test(module) && !/^[a-z]:[\\/]/i.test(module)) return { module, export: exportName };
  if (isAbsolute(module)) return { module: pathToFileURL(module).href, export: exportName };
  if (module.startsWith('.')) {
    throw new InvalidOptionError('behavior.module', 'a relative path would resolve from the worker entry; pass an absolute path or a URL (new URL("./x.js", import.meta.url))');
  }
  return { module, export: exportName };
}

/** Calls registered with a worker before the first sweep of those that timed out. */
const MIN_CALL_SWEEP = 256;

class PoolWorker implements BridgeWorker {
  readonly worker: Worker;
  readonly threadId: number;
  readonly bridges = new Map<number, ThreadBridge>();
  private readonly calls = new Map<number, { call: CallEnvelope; bridge: ThreadBridge }>();
  /** Size of `calls` at which the ones already settled on this side (timed out) are swept. */
  private sweepCallsAt = MIN_CALL_SWEEP;
  private nextCallRef = 1;
  private failure: unknown = undefined;
  /** Why the pool terminated this worker while it hosted processes (their crash detail). */
  private terminatedFor: string | undefined = undefined;
  /** Processes this worker was told to kill and has not confirmed (`killed`) yet. */
  private readonly unconfirmedKills = new Set<number>();
  /** Terminates the worker once the kills it has not confirmed are `killTimeoutMs` old. */
  private killTimer: Timer | null = null;
  /** The worker posted `ready`: its entry is loaded and it reads its messages. */
  private ready = false;
  alive = true;
  /** A pool worker the pool has more than its size without: it takes no new process and stops once empty. */
  retiring = false;
  private referenced = false;

  constructor(
    private readonly pool: ThreadPoolImpl,
    readonly index: number,
    readonly dedicated: boolean,
    resourceLimits: ResourceLimits | undefined,
  ) {
    const { entry, typescript, execArgv, env } = pool.workerSetup;
    const workerData: HostContext = { nodeId: pool.runtime.nodeId, index, creation: pool.runtime.creation };
    const options = {
      workerData,
      ...(execArgv === undefined ? {} : { execArgv: [...execArgv] }),
      ...(env === undefined ? {} : { env: { ...env } }),
      ...(resourceLimits === undefined ? {} : { resourceLimits }),
    };
    if (typescript) {
      // Node 20 cannot start a worker from a .ts file even with a loader flag; register tsx first.
      const code = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(pathToFileURL(entry).href)}); });`;
      this.worker = new Worker(code, { ...options, eval: true });
    } else {
      this.worker = new Worker(entry, options);
    }
    this.threadId = this.worker.threadId;
    this.worker.unref();
    this.worker.on('message', (data: unknown) => this.receive(data));
    this.worker.on('error', (error: unknown) => {
      this.failure ??= error;
    });
    this.worker.on('messageerror', (error: unknown) => {
      this.pool.runtime.emit(['foundation', 'process', 'thread-message-error'], { count: 1 }, { threadId: this.threadId, error });
    });
    this.worker.on('exit', (code: number) => this.exited(code));
  }

  post(message: ToWorker, transfer?: readonly TransferListItem[]): void {
    if (!this.alive) return;
    // The transfer list moves ArrayBuffers: after this call they are detached in the sender.
    this.worker.postMessage(message, transfer === undefined ? undefined : [...transfer]);
    if (message.k === 'kill') {
      this.unconfirmedKills.add(message.id);
      this.armKillTimer();
    }
  }

  /**
   * Counts from the kill, or from the worker's `ready` if it was still booting (loading its entry
   * through tsx, say), since only then does it read its messages.
   */
  private armKillTimer(): void {
    if (!this.ready || this.killTimer !== null || !this.draining) return;
    this.killTimer = this.pool.runtime.clock.setTimer(this.pool.killTimeoutMs, () => this.killUnconfirmed());
  }

  /** A kill is not yet confirmed: the worker may be stuck, and takes no new process. */
  get draining(): boolean {
    return this.unconfirmedKills.size > 0;
  }

  /** Takes new processes: neither a kill to confirm nor retiring. */
  get accepting(): boolean {
    return this.alive && !this.draining && !this.retiring;
  }

  private clearKillTimer(): void {
    this.killTimer?.cancel();
    this.killTimer = null;
  }

  private killConfirmed(id: number): void {
    if (!this.unconfirmedKills.delete(id)) return;
    this.clearKillTimer();
    // The worker reads its messages: those kills still to confirm were posted after this one,
    // and get a whole deadline from now.
    if (this.draining) {
      this.armKillTimer();
      return;
    }
    this.pool.recovered(this);
  }

  private killUnconfirmed(): void {
    this.killTimer = null;
    if (!this.alive) return;
    this.terminatedFor = `did not confirm a kill within ${this.pool.killTimeoutMs} ms (stuck in a synchronous loop?), terminated`;
    this.pool.runtime.emit(['foundation', 'process', 'worker-unresponsive'], { processes: this.bridges.size }, { threadId: this.threadId });
    void this.terminate();
  }

  registerCall(call: CallEnvelope, bridge: ThreadBridge): number {
    // A call that timed out here stays registered until the worker answers it, which a process
    // that never replies does not: sweep the settled ones whenever the table has doubled since
    // the last sweep, so it stays within twice the calls open at once (or MIN_CALL_SWEEP).
    if (this.calls.size >= this.sweepCallsAt) {
      for (const [ref, pending] of this.calls) {
        if (!pending.call.cancelled) continue;
        this.calls.delete(ref);
        pending.bridge.callSettled(ref);
      }
      this.sweepCallsAt = Math.max(MIN_CALL_SWEEP, 2 * this.calls.size);
    }
    const ref = this.nextCallRef++;
    this.calls.set(ref, { call, bridge });
    return ref;
  }

  forgetCall(ref: number): void {
    this.calls.delete(ref);
  }

  /** @internal Calls registered and not yet answered by the worker (for tests). */
  openCalls(): number {
    return this.calls.size;
  }

  attach(bridge: ThreadBridge): void {
    this.bridges.set(bridge.id, bridge);
    if (!this.referenced) {
      this.worker.ref();
      this.referenced = true;
    }
  }

  detach(bridge: ThreadBridge): void {
    this.bridges.delete(bridge.id);
    if (this.bridges.size === 0 && this.referenced) {
      this.worker.unref();
      this.referenced = false;
      if (this.dedicated || (this.retiring && !this.draining)) void this.terminate();
    }
  }

  terminate(): Promise<number> {
    this.alive = false;
    this.clearKillTimer();
    this.pool.forget(this);
    return this.worker.terminate();
  }

  private receive(data: unknown): void {
    const message = readFromWorker(data);
    if (message === undefined) {
      this.pool.runtime.emit(['foundation', 'process', 'thread-message-malformed'], { count: 1 }, { threadId: this.threadId });
      return;
    }
    try {
      this.dispatch(message);
    } catch (error) {
      this.pool.runtime.emit(['foundation', 'process', 'thread-message-malformed'], { count: 1 }, { threadId: this.threadId, error });
    }
  }

  private dispatch(message: FromWorker): void {
    if (message.k === 'ready') {
      this.ready = true;
      this.armKillTimer();
      return;
    }
    if (message.k === 'killed') {
      this.killConfirmed(message.id);
      return;
    }
    if (message.k === 'reply') {
      const pending = this.calls.get(message.ref);
      if (pending === undefined) return;
      this.calls.delete(message.ref);
      pending.bridge.callSettled(message.ref);
      const runtime = this.pool.runtime;
      if (!message.ok) {
        runtime.failCall(pending.call, decodeReason({ error: message.body }));
        return;
      }
      let value: unknown;
      try {
        value = decodeBody(message.body);
      } catch (error) {
        // A reply that names no pid where it says it does (the worker's own code posted it): the
        // call is forgotten here already, so it fails now rather than at its timeout, or never.
        runtime.failCall(pending.call, error);
        return;
      }
      runtime.completeCall(pending.call, value);
      return;
    }
    const bridge = this.bridges.get(message.id);
    if (bridge !== undefined) {
      bridge.handle(message);
      return;
    }
    // The process's proxy has ended, and the worker made this call before it read the kill (or
    // the exit) for it: no proxy makes the call, and the worker would wait for its reply for
    // good. It fails, as a call the worker refuses itself from a process that has exited does.
    if (message.k === 'call') {
      const error = new UnsupportedError('call from a process that has exited');
      this.post({ k: 'reply', ref: message.ref, ok: false, body: error.toJSON() });
    }
  }

  private exited(code: number): void {
    const wasAlive = this.alive;
    this.alive = false;
    this.clearKillTimer();
    this.pool.forget(this);
    const bridges = [...this.bridges.values()];
    this.bridges.clear();
    this.calls.clear();
    if (bridges.length === 0) return;
    const detail = this.failure !== undefined ? describe(this.failure) : (this.terminatedFor ?? (wasAlive ? `exited with code ${code}` : 'terminated'));
    const reason = new WorkerCrashedError(this.threadId, detail, {
      exitCode: code,
      ...(this.failure === undefined ? {} : { cause: this.failure }),
    });
    this.pool.runtime.emit(['foundation', 'process', 'worker-crash'], { processes: bridges.length }, { threadId: this.threadId, detail });
    for (const bridge of bridges) bridge.exited(reason);
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

interface WorkerSetup {
  readonly entry: string;
  readonly typescript: boolean;
  readonly execArgv: readonly string[] | undefined;
  readonly env: Readonly<Record<string, string>> | undefined;
}

class ThreadPoolImpl implements ThreadPool {
  readonly workerSetup: WorkerSetup;
  private readonly size: number;
  private readonly window: number;
  readonly startTimeoutMs: number;
  readonly killTimeoutMs: number;
  private readonly resourceLimits: ResourceLimits | undefined;
  private readonly workers: PoolWorker[] = [];
  private readonly dedicated = new Set<PoolWorker>();
  private nextIndex = 1;
  private closed = false;

  constructor(
    readonly runtime: RuntimeImpl,
    options: ThreadOptions,
  ) {
    this.size = positiveInteger('threads.size', options.size, Math.max(1, availableParallelism()));
    this.window = positiveInteger('threads.window', options.window, 256);
    this.startTimeoutMs = positiveNumber('threads.startTimeoutMs', options.startTimeoutMs, 30_000, true);
    this.killTimeoutMs = positiveNumber('threads.killTimeoutMs', options.killTimeoutMs, 5_000);
    this.resourceLimits = options.resourceLimits;
    const fallback = defaultWorkerEntry();
    const entry = options.entry === undefined ? fallback.entry : options.entry instanceof URL ? fileURLToPath(options.entry) : options.entry;
    this.workerSetup = {
      entry,
      typescript: options.entry === undefined ? fallback.typescript : entry.endsWith('.ts'),
      execArgv: options.execArgv,
      env: options.env,
    };
  }

  spawn(behavior: ThreadBehavior, options: SpawnOptions<unknown>, parent: ProcessRecord | null): ProcessRecord {
    if (this.closed) throw new InvalidOptionError('isolation', 'the thread pool is closed');
    const target = resolveBehaviorModule(behavior);
    const mailbox = resolveMailbox(options.mailbox);
    const limits = options.thread?.resourceLimits;
    const worker = limits === undefined ? this.pick() : this.start(true, limits);
    const runtime = this.runtime;
    const record = new ProcessRecord(runtime, runtime.allocatePid(), threadProxyBehavior, null);
    const bridge = new ThreadBridge(
      worker,
      record,
      { module: target.module, export: target.export, args: options.args, trapExits: options.trapExits === true, name: options.name },
      this.window,
      this.startTimeoutMs,
    );
    record.bridge = bridge;
    worker.attach(bridge);
    try {
      return runtime.installProcess(record, options, mailbox, parent, () => runtime.startRecord(record, undefined));
    } catch (error) {
      // Refused before it started (a link option that is not a pid, a name taken meanwhile):
      // the bridge goes, or it would keep the worker referenced and counted for ever.
      worker.detach(bridge);
      throw error;
    }
  }

  /**
   * The least loaded pool worker that takes new processes, starting one while fewer than the
   * size do: a worker with a kill not yet confirmed (draining) or retiring counts for nothing.
   */
  private pick(): PoolWorker {
    let best: PoolWorker | undefined;
    let accepting = 0;
    for (const worker of this.workers) {
      if (!worker.accepting) continue;
      accepting += 1;
      if (best === undefined || worker.bridges.size < best.bridges.size) best = worker;
    }
    if (best === undefined || accepting < this.size) return this.start(false, this.resourceLimits);
    return best;
  }

  /**
   * `worker` confirmed its last kill. A pool already at its size without it (a worker was started
   * in its place) retires it: it takes no new process, and stops now if empty, else once it is.
   * One that retired already stops now if empty, whatever the others: its last process may have
   * gone while that kill was unconfirmed, when `detach` leaves it be, and a retiring worker
   * takes no process again, so nothing else would ever stop it.
   */
  recovered(worker: PoolWorker): void {
    if (worker.dedicated || !worker.alive) return;
    if (worker.retiring) {
      if (worker.bridges.size === 0) void worker.terminate();
      return;
    }
    let others = 0;
    for (const other of this.workers) if (other !== worker && other.accepting) others += 1;
    if (others < this.size) return;
    worker.retiring = true;
    if (worker.bridges.size === 0) void worker.terminate();
  }

  private start(dedicated: boolean, limits: ResourceLimits | undefined): PoolWorker {
    const worker = new PoolWorker(this, this.nextIndex++, dedicated, limits);
    if (dedicated) this.dedicated.add(worker);
    else this.workers.push(worker);
    return worker;
  }

  forget(worker: PoolWorker): void {
    const index = this.workers.indexOf(worker);
    if (index >= 0) this.workers.splice(index, 1);
    this.dedicated.delete(worker);
  }

  workerCount(): number {
    return this.workers.length + this.dedicated.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.workers, ...this.dedicated];
    await Promise.all(all.map((worker) => worker.terminate()));
  }
}

export function createThreadPool(runtime: RuntimeImpl, options: ThreadOptions): ThreadPool {
  return new ThreadPoolImpl(runtime, options);
}
