// One process: its identity, mailbox, flags, links and monitors, and the implementation of the
// `self` API. Behaviors never see the record: they get `self`, a facade (process-self.ts) made on
// first use, so an idle process that never ran a callback costs one object (plus its pid and an
// empty mailbox); collections are created on first use and dropped when emptied.
import type { Timer } from '@foundation/core';
import { MailboxBuffer } from '../core/mailbox-buffer';
import type { Pid } from '../core/pid';
import type { RingQueue } from '../core/ring-queue';
import type { CallEnvelope, WaitingSend } from './envelopes';
import { DEAD, NONE, STARTING, requestStop } from './lifecycle';
import type { LifecycleProcess } from './lifecycle';
import { UNBOUNDED_MAILBOX } from './options';
import type { ResolvedMailbox } from './options';
import { ProcessHandle } from './process-self';
import type { RuntimeImpl } from './runtime';
import type {
  Behavior,
  CallOptions,
  Destination,
  ExitReason,
  MonitorRef,
  ProcessFunction,
  ProcessSelf,
  ReplyTo,
  SendOptions,
  SpawnOptions,
  ThreadBehavior,
} from './types';


/** A link in the unlinking state: the id its unlink carried, which the ack must bring back. */
export interface RemoteUnlinking {
  readonly pid: Pid;
  readonly id: number;
}

/** Exit signals from links waiting for a callback to return, in arrival order. */
export interface HeldLinkExits {
  readonly exits: { readonly from: Pid; readonly reason: unknown }[];
  /** `pendingExit` is the first of `exits` (not an exit/2 or `kill` that came first), so an unlink may take it back. */
  pendingFromLink: boolean;
}

/** Who watches a monitored process: a local process, or (by pid) a process on another node. */
export type Watcher = ProcessRecord | Pid;

/** Hooks a thread-isolated process's bridge needs from the record. */
export interface RecordBridge {
  /** Called once the process is dead; the bridge tells the worker. */
  onExit(reason: unknown): void;
}

export class ProcessRecord implements ProcessSelf, LifecycleProcess<CallEnvelope> {
  state: unknown = undefined;
  name: string | undefined = undefined;
  status = STARTING;
  /** An async callback (init, handler, terminate) is pending: the process handles nothing else. */
  busy = false;
  /** In the run queue. */
  queued = false;
  /** A synchronous callback of this process is on the stack; exits wait until it returns. */
  inHandler = false;
  /**
   * A thread process's callback in its worker asked for a link, unlink or exit signal and has
   * not returned yet (the worker's `hold` ... `release`): exits wait for it, as for inHandler.
   */
  workerInHandler = false;
  trapping = false;
  capacity = Number.POSITIVE_INFINITY;
  /** The mailbox's bound, overflow policy and waiting bound (`capacity` is also kept above, for the hot path). */
  bounds: ResolvedMailbox = UNBOUNDED_MAILBOX;
  dropped = 0;
  handled = 0;
  readonly mailbox = new MailboxBuffer();
  waiting: RingQueue<WaitingSend> | null = null;
  links: Set<ProcessRecord> | null = null;
  remoteLinks: Map<string, Pid> | null = null;
  /**
   * Links to processes on other nodes this process has unlinked and whose unlink the other node
   * has not acknowledged yet (remote-bridge.ts): gone for this process, still held and counted.
   */
  remoteUnlinking: Map<string, RemoteUnlinking> | null = null;
  monitorsOut: Map<MonitorRef, Pid> | null = null;
  monitorsIn: Map<MonitorRef, Watcher> | null = null;
  /** Calls taken from the mailbox and not yet answered (async or deferred replies). */
  pendingReplies: Set<CallEnvelope> | null = null;
  /** Calls this process made to other nodes that wait for their reply. */
  remoteCalls: Set<CallEnvelope> | null = null;
  /** The call an async handleCall is working on. */
  current: CallEnvelope | null = null;
  parent: ProcessRecord | null = null;
  pendingExit: unknown = NONE;
  /**
   * Exit signals from links that arrived during a synchronous callback and wait for it to
   * return (null when none): an unlink before then takes its link's signal back, since OTP's
   * unlink guarantees the link has no effect after it. One field, so an idle process costs no more.
   */
  heldLinkExits: HeldLinkExits | null = null;
  stopReason: unknown = NONE;
  exitReason: unknown = undefined;
  controller: AbortController | null = null;
  timers: Set<Timer> | null = null;
  exitWaiters: ((reason: unknown) => void)[] | null = null;
  startWaiters: { resolve: () => void; reject: (reason: unknown) => void }[] | null = null;
  onSettled: ((value: unknown) => void) | null = null;
  onFailed: ((error: unknown) => void) | null = null;
  bridge: RecordBridge | null = null;
  private handle: ProcessHandle | null = null;

  constructor(
    readonly runtime: RuntimeImpl,
    readonly pid: Pid,
    readonly behavior: Behavior | null,
    readonly fn: ProcessFunction | null,
  ) {}

  get node(): string {
    return this.pid.node;
  }

  /** What the behavior's callbacks receive as `self`. */
  get self(): ProcessHandle {
    return (this.handle ??= new ProcessHandle(this));
  }

  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.status === DEAD) this.controller.abort(this.exitReason);
    }
    return this.controller.signal;
  }

  get alive(): boolean {
    return this.status !== DEAD;
  }

  send(to: Destination, message: unknown, options?: SendOptions): void {
    if (this.status === DEAD) return;
    this.runtime.route(to, message, this.pid, false, options?.transfer);
  }

  sendAsync(to: Destination, message: unknown, options?: SendOptions): Promise<void> {
    if (this.status === DEAD) return Promise.resolve();
    return this.runtime.routeAsync(to, message, this.pid, options?.transfer);
  }

  cast(to: Destination, message: unknown): void {
    if (this.status === DEAD) return;
    this.runtime.route(to, message, this.pid, true, undefined);
  }

  call<Reply = unknown>(to: Destination, request: unknown, options?: CallOptions): Promise<Reply> {
    return this.runtime.calls.call(this.status === DEAD ? undefined : this.pid, to, request, options) as Promise<Reply>;
  }

  reply(to: ReplyTo, value: unknown): void {
    this.runtime.reply(to, value);
  }

  spawn<S, A>(behavior: Behavior<S, A> | ProcessFunction<S> | ThreadBehavior, options?: SpawnOptions<A>): Pid {
    // Async work a process left running goes on after it exits. Its sends, links, monitors and
    // timers are ignored then; its spawns started a process nothing supervised or linked, once
    // per call. It gets the pid of a process that never runs instead, as a spawn on a node that
    // is down does on the BEAM: monitored it is noproc, and what is sent to it is dead letters.
    // (Thrown, it ended a leftover timer's callback as an uncaught exception, and the node with it.)
    if (this.status === DEAD) return this.runtime.allocatePid();
    return this.runtime.spawn(behavior, options);
  }

  link(pid: Pid): void {
    if (this.status === DEAD) return;
    this.runtime.links.link(this, pid);
  }

  unlink(pid: Pid): void {
    if (this.status === DEAD) return;
    this.runtime.links.unlink(this, pid);
  }

  monitor(pid: Pid): MonitorRef {
    return this.runtime.links.monitorFrom(this, pid);
  }

  demonitor(ref: MonitorRef): void {
    this.runtime.links.demonitorFrom(this, ref);
  }

  exit(pid: Pid, reason: ExitReason): void {
    if (this.status === DEAD) return;
    this.runtime.links.sendExit(this.pid, pid, reason);
  }

  stop(reason: ExitReason = 'normal'): void {
    requestStop(this.runtime, this, reason);
  }

  trapExits(enabled: boolean): void {
    this.trapping = enabled;
  }

  register(name: string): void {
    this.runtime.register(name, this.pid);
  }

  unregister(): void {
    if (this.name !== undefined) this.runtime.unregister(this.name);
  }

  sendAfter(delayMs: number, to: Destination, message: unknown): { cancel(): void } {
    return this.runtime.delayedSends.sendAfterFrom(this, delayMs, to, message);
  }

  toString(): string {
    return this.pid.toString();
  }
}
