// A Foundation node process inside a lab namespace: start it (`ip netns exec NS node …`, which
// execs node in place, so the pid we hold is the node's own), call it over IPC, and hurt it:
// SIGKILL, SIGSTOP/SIGCONT, restart with the same name, data directory and port.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isNodeInNamespace } from '../lab/network-lab';

/** Where this app lives: found from the working directory (the repository root or the app). */
export function appDirectory(start = process.cwd()): string {
  for (let directory = resolve(start); ; directory = dirname(directory)) {
    if (existsSync(join(directory, 'apps', 'chaos', 'src', 'cluster', 'node-entry.ts'))) return join(directory, 'apps', 'chaos');
    if (existsSync(join(directory, 'src', 'cluster', 'node-entry.ts')) && existsSync(join(directory, 'package.json'))) return directory;
    if (dirname(directory) === directory) throw new Error(`cannot find apps/chaos from ${start}: run from the repository`);
  }
}

/** The node answered with an error: the operation failed there, with this code. */
export class RemoteError extends Error {
  constructor(
    readonly node: string,
    message: string,
    readonly code: number | undefined,
    readonly type: string | undefined,
  ) {
    super(`${node}: ${message}`);
    this.name = 'RemoteError';
  }
}

/** No answer in time (the node may be paused, partitioned or slow): the outcome is unknown. */
export class CallTimeoutError extends Error {
  constructor(
    readonly node: string,
    readonly op: string,
    readonly timeoutMs: number,
  ) {
    super(`${node}: no answer to ${op} within ${timeoutMs} ms`);
    this.name = 'CallTimeoutError';
  }
}

/** The node was not running, so the request never left: the operation certainly did not happen. */
export class NotSentError extends Error {
  constructor(
    readonly node: string,
    readonly op: string,
  ) {
    super(`${node} is not running (${op} not sent)`);
    this.name = 'NotSentError';
  }
}

/** The process was gone before it answered: the outcome is unknown. */
export class NodeDownError extends Error {
  constructor(
    readonly node: string,
    readonly op: string,
  ) {
    super(`${node} is down (${op} unanswered)`);
    this.name = 'NodeDownError';
  }
}

export type NodeState = 'stopped' | 'starting' | 'up' | 'paused';

/** What the harness sets on a node beyond startNode's options. */
export interface HarnessSettings {
  /** Raft takes a snapshot every this many applied entries (startNode keeps Raft's 10,000 otherwise). */
  readonly snapshotEvery?: number;
}

export interface NodeSpec {
  /** Short name (`n1`), also the lab host name. */
  readonly name: string;
  /** `n1@10.213.0.11:7000`. */
  readonly id: string;
  readonly namespace: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** startNode's options, as JSON-able data. */
  readonly startOptions: Record<string, unknown>;
  readonly harness: HarnessSettings;
}

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
  readonly op: string;
}

interface Reply {
  readonly id?: number;
  readonly ok?: boolean;
  readonly value?: unknown;
  readonly error?: { readonly message: string; readonly code?: number; readonly type?: string };
  readonly event?: string;
  readonly pid?: number;
  readonly message?: string;
}

export class ChaosNode {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readonly pending = new Map<number, Pending>();
  private nextCall = 1;
  private currentState: NodeState = 'stopped';
  private nodePid: number | null = null;
  /** How many times the process was started. */
  incarnation = 0;
  /** Replies that came after their call had timed out. */
  lateReplies = 0;

  constructor(
    readonly spec: NodeSpec,
    private readonly entry: string,
    private readonly tsconfig: string,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  get id(): string {
    return this.spec.id;
  }

  get state(): NodeState {
    return this.currentState;
  }

  /** The node process's pid (the one signals go to), or null when it is not running. */
  get pid(): number | null {
    return this.nodePid;
  }

  /** Starts the process and resolves once the node reports ready (it has joined the cluster). */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.child !== null) throw new Error(`${this.name} is already running`);
    const log = openSync(this.spec.logFile, 'a');
    this.incarnation += 1;
    this.currentState = 'starting';
    const child = spawn(
      'ip',
      ['netns', 'exec', this.spec.namespace, process.execPath, '--import', 'tsx', this.entry, JSON.stringify(this.spec.startOptions), JSON.stringify(this.spec.harness)],
      {
        stdio: ['ignore', log, log, 'ipc'],
        env: { ...process.env, TSX_TSCONFIG_PATH: this.tsconfig },
        // Its own process group: a Ctrl-C at the terminal reaches the orchestrator, which stops nodes in order.
        detached: true,
      },
    );
    closeSync(log);
    this.child = child;
    this.nodePid = child.pid ?? null;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} did not start within ${timeoutMs} ms (log: ${this.spec.logFile})`)), timeoutMs);
      child.on('message', (message: Reply) => {
        if (message.event === 'ready') {
          clearTimeout(timer);
          // `ip netns exec` execs node in place: the pid the node reports is the one we spawned.
          const reported = message.pid;
          if (reported === undefined || reported !== child.pid) {
            reject(new Error(`${this.name}: node reports pid ${String(reported)} but we spawned ${String(child.pid)}: signals would miss it`));
            return;
          }
          if (!isNodeInNamespace(reported, this.spec.namespace)) {
            reject(new Error(`${this.name}: pid ${reported} is not a node process in namespace ${this.spec.namespace}`));
            return;
          }
          resolve();
        } else if (message.event === 'start-failed') {
          clearTimeout(timer);
          reject(new Error(`${this.name} failed to start: ${message.message ?? ''} (log: ${this.spec.logFile})`));
        } else {
          this.onReply(message);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited while starting (code ${String(code)}, signal ${String(signal)}; log: ${this.spec.logFile})`));
      });
    });
    child.once('exit', () => {
      this.child = null;
      this.nodePid = null;
      this.currentState = 'stopped';
      for (const [id, waiter] of this.pending) {
        clearTimeout(waiter.timer);
        waiter.reject(new NodeDownError(this.name, waiter.op));
        this.pending.delete(id);
      }
    });
    try {
      await ready;
    } catch (error) {
      await this.kill();
      throw error;
    }
    this.currentState = 'up';
  }

  private onReply(message: Reply): void {
    if (typeof message.id !== 'number') return;
    const waiter = this.pending.get(message.id);
    if (waiter === undefined) {
      this.lateReplies += 1;
      return;
    }
    this.pending.delete(message.id);
    clearTimeout(waiter.timer);
    if (message.ok === true) waiter.resolve(message.value);
    else waiter.reject(new RemoteError(this.name, message.error?.message ?? 'failed', message.error?.code, message.error?.type));
  }

  /** Asks the node; rejects with RemoteError, CallTimeoutError, NotSentError or NodeDownError. */
  call<T>(op: string, args: readonly unknown[], timeoutMs: number): Promise<T> {
    const child = this.child;
    if (child === null || this.currentState === 'starting' || !child.connected) return Promise.reject(new NotSentError(this.name, op));
    const id = this.nextCall++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new CallTimeoutError(this.name, op, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer, op });
      child.send({ id, op, args }, (error) => {
        if (error === null || !this.pending.has(id)) return;
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new NodeDownError(this.name, op));
      });
    });
  }

  /**
   * Sends `signal` to this node's current process, only while it has not exited: once Node has
   * reaped it (its `exit`), its pid may belong to another process, so it is never signalled
   * again. False when there was no such process to signal (never started, exited, ESRCH).
   */
  private signal(signal: NodeJS.Signals): boolean {
    const child = this.child;
    if (child === null || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return false;
    try {
      process.kill(child.pid, signal);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
      throw error;
    }
  }

  /** SIGKILL: no goodbye. Resolves once the process is gone; false when there was none to kill. */
  async kill(): Promise<boolean> {
    if (this.child === null) return false;
    const sent = this.signal('SIGKILL');
    await this.exited;
    return sent;
  }

  /** SIGSTOP, to a node that is up; false (nothing done) when it is not running or not up. */
  pause(): boolean {
    if (this.currentState !== 'up' || !this.signal('SIGSTOP')) return false;
    this.currentState = 'paused';
    return true;
  }

  /** SIGCONT, to a paused node; false when it is not paused (or its process is gone). */
  resume(): boolean {
    if (this.currentState !== 'paused') return false;
    this.currentState = 'up';
    return this.signal('SIGCONT');
  }

  /** A graceful stop (the node leaves the cluster); SIGKILL if it takes longer than `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.child === null) return;
    if (this.currentState === 'paused') this.resume();
    const timer = setTimeout(() => void this.kill(), timeoutMs);
    await this.call('stop', [], timeoutMs).catch(() => undefined);
    await this.exited;
    clearTimeout(timer);
  }
}
