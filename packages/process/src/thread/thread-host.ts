// The worker side of thread isolation: hosts the behaviors of thread-isolated processes. Each
// hosted process handles its messages one at a time, in order, exactly as on the main thread;
// everything it does to other processes (send, call, link, monitor, exit, names) is posted to
// the main thread, which owns the process table, links and monitors and acts on the process's
// behalf. The main thread sends messages with a credit window; the host acknowledges what it
// handled so the main thread's mailbox is where messages wait.
import type { TransferListItem } from 'node:worker_threads';
import { FoundationError, systemClock } from '@foundation/core';
import type { Timer } from '@foundation/core';
import { Pid } from '../core/pid';
import { incarnationBase, workerRef } from '../core/ref';
import { decodeReason, encodeReason } from '../core/signals';
import { decodeBody, encodeCheckedBody } from '../core/wire-body';
import { UncloneableMessageError } from '../errors/uncloneable-message-error';
import { UnsupportedError } from '../errors/unsupported-error';
import { CALL, CAST, DEAD, EXITING, MESSAGE, NONE, RUNNING, STARTING, afterCallback, dispatch, requestStop, runInit, runTerminate } from '../runtime/lifecycle';
import type { LifecycleHost, LifecycleProcess } from '../runtime/lifecycle';
import { checkDestination, describeDestination } from '../runtime/delayed-sends';
import { nonNegativeNumber } from '../runtime/options';
import { ProcessHandle, callOf } from '../runtime/process-self';
import { downMessage, exitMessage } from '../runtime/system-messages';
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
} from '../runtime/types';
import type { FromWorker, SystemBody, ToWorker, WireDestination } from './protocol';

/** The port the host talks on (`parentPort` in a worker). */
export interface HostPort {
  postMessage(message: unknown, transfer?: readonly TransferListItem[]): void;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

export interface HostContext {
  readonly nodeId: string;
  /** Unique per worker within the main runtime: refs made here are `#Ref<node.t<index>:n>` (ref.ts). */
  readonly index: number;
  /** The main runtime's incarnation: refs made here count from its base, as the runtime's own do (ref.ts). */
  readonly creation: number;
}

const ACK_EVERY = 32;

type QueueItem =
  | { readonly kind: 'message'; readonly body: unknown; readonly cast: boolean }
  | { readonly kind: 'system'; readonly body: unknown }
  | { readonly kind: 'call'; readonly from: HostedCall; readonly body: unknown };

/** A call to a hosted process; its handler sees it only through an opaque ReplyHandle. */
class HostedCall {
  done = false;
  constructor(
    readonly ref: number,
    readonly caller: Pid | undefined,
    /** The called process, for errors. */
    readonly callee: Pid,
  ) {}
}

function encodeDestination(to: Destination): WireDestination {
  if (Pid.is(to)) return { pid: to.toString() };
  if (typeof to === 'string') return to;
  return { name: to.name, node: to.node };
}

function encodeError(error: unknown): unknown {
  return FoundationError.from(error).toJSON();
}

class HostedProcess implements ProcessSelf, LifecycleProcess<HostedCall> {
  state: unknown = undefined;
  name: string | undefined;
  status = STARTING;
  busy = false;
  /** A synchronous callback is on the stack (`inHandler`). */
  private handling = false;
  /** The main thread was told `hold` during the running callback, and is told `release` when it returns. */
  private holdingExits = false;
  /** Exits come from the main thread as messages, never during a callback: this stays NONE. */
  pendingExit: unknown = NONE;
  /**
   * The reason of its own the process began to exit with (told to the main thread as
   * `exiting`), NONE otherwise: its terminate waits for the main thread's `exit`, which says
   * whether this reason or another one won there.
   */
  ownExit: unknown = NONE;
  /**
   * The sends of timers that came due while the process waited for that answer. A process that
   * stopped itself on the main thread runs terminate at once, and its timers go with it unless
   * terminate is async; so these are sent once an async terminate runs, and dropped otherwise.
   */
  dueWhileWaiting: (() => void)[] | null = null;
  stopReason: unknown = NONE;
  current: HostedCall | null = null;
  onSettled: ((value: unknown) => void) | null = null;
  onFailed: ((error: unknown) => void) | null = null;
  unacked = 0;
  private readonly queue: QueueItem[] = [];
  private head = 0;
  private controller: AbortController | null = null;
  private timers: Set<Timer> | null = null;
  private trapping: boolean;
  /** What the behavior's callbacks receive as `self`. */
  readonly self: ProcessHandle = new ProcessHandle(this);

  constructor(
    private readonly host: ThreadHost,
    readonly id: number,
    readonly pid: Pid,
    readonly behavior: Behavior | null,
    readonly fn: ProcessFunction | null,
    trapExits: boolean,
    name: string | undefined,
  ) {
    this.trapping = trapExits;
    this.name = name;
  }

  get inHandler(): boolean {
    return this.handling;
  }

  set inHandler(value: boolean) {
    this.handling = value;
    if (!value && this.holdingExits) {
      this.holdingExits = false;
      // Not from its terminate: the process is exiting with its own reason, which `exited`
      // brings and which ends the hold; an exit released before would end it with another, where
      // on the main thread exits reaching a process in its terminate are ignored.
      if (this.status < EXITING) this.host.post({ k: 'release', id: this.id });
    }
  }

  get node(): string {
    return this.pid.node;
  }

  /**
   * The running callback threw: its error, which `exited` brings, is the process's exit reason,
   * so `release` is not sent. The main thread holds exits until `exited` (the bridge's exited
   * ends the hold), where a `release` before it would end the process there with a held exit's
   * reason, whereas on the main thread the error wins.
   */
  callbackThrew(): void {
    this.holdingExits = false;
  }

  /**
   * A link, unlink or exit signal asked for during a callback: exits that reach the process on
   * the main thread from now on wait for the callback to return, as they do for a main-thread
   * process, so that an unlink later in the callback takes back an exit from that link.
   */
  private holdExits(): void {
    if (!this.handling || this.holdingExits) return;
    this.holdingExits = true;
    this.host.post({ k: 'hold', id: this.id });
  }

  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.status === DEAD) this.controller.abort();
    }
    return this.controller.signal;
  }

  send(to: Destination, message: unknown, options?: SendOptions): void {
    if (this.status === DEAD) return;
    this.host.postSend(this.id, to, message, false, options?.transfer);
  }

  sendAsync(to: Destination, message: unknown, options?: SendOptions): Promise<void> {
    this.send(to, message, options);
    return Promise.resolve();
  }

  cast(to: Destination, message: unknown): void {
    if (this.status === DEAD) return;
    this.host.postSend(this.id, to, message, true, undefined);
  }

  call<Reply = unknown>(to: Destination, request: unknown, options?: CallOptions): Promise<Reply> {
    return this.host.call(this, to, request, options) as Promise<Reply>;
  }

  reply(to: ReplyTo, value: unknown): void {
    const call = callOf(to);
    if (call instanceof HostedCall) this.host.completeCall(call, value);
  }

  spawn(): Pid {
    throw new UnsupportedError('spawn from a thread-isolated process; ask a process on the main thread to spawn');
  }

  link(pid: Pid): void {
    if (this.status === DEAD) return;
    const text = Pid.from(pid).toString();
    this.holdExits();
    this.host.post({ k: 'link', id: this.id, pid: text });
  }

  unlink(pid: Pid): void {
    if (this.status === DEAD) return;
    const text = Pid.from(pid).toString();
    this.holdExits();
    this.host.post({ k: 'unlink', id: this.id, pid: text });
  }

  monitor(pid: Pid): MonitorRef {
    const ref = this.host.newRef();
    if (this.status !== DEAD) this.host.post({ k: 'monitor', id: this.id, pid: Pid.from(pid).toString(), ref });
    return ref;
  }

  demonitor(ref: MonitorRef): void {
    if (this.status !== DEAD) this.host.post({ k: 'demonitor', id: this.id, ref });
  }

  exit(pid: Pid, reason: ExitReason): void {
    if (this.status === DEAD) return;
    const message: FromWorker = { k: 'exit-signal', id: this.id, pid: Pid.from(pid).toString(), reason: encodeReason(reason) };
    this.holdExits();
    this.host.post(message);
  }

  stop(reason: ExitReason = 'normal'): void {
    requestStop(this.host, this, reason);
  }

  trapExits(enabled: boolean): void {
    this.trapping = enabled;
    if (this.status !== DEAD) this.host.post({ k: 'trap', id: this.id, enabled });
  }

  register(name: string): void {
    if (this.status !== DEAD) this.host.post({ k: 'register', id: this.id, name });
  }

  unregister(): void {
    if (this.status !== DEAD) this.host.post({ k: 'unregister', id: this.id });
  }

  /**
   * As on the main thread: the delay and the destination are checked at the call, which throws
   * what the main thread's would; the timer (on the system clock, which chains delays past
   * Node's 2^31 − 1 ms limit) dies with the process. The destination crosses as it was checked.
   */
  sendAfter(delayMs: number, to: Destination, message: unknown): { cancel(): void } {
    nonNegativeNumber('delayMs', delayMs, 0);
    const destination = encodeDestination(checkDestination(to));
    if (this.status === DEAD) return { cancel: () => undefined };
    const timers = (this.timers ??= new Set());
    const timer = systemClock.setTimer(delayMs, () => {
      timers.delete(timer);
      if (this.status === DEAD) return;
      const send = (): void => this.host.postDelayedSend(this.id, destination, message);
      if (this.ownExit !== NONE) (this.dueWhileWaiting ??= []).push(send);
      else send();
    });
    timers.add(timer);
    return {
      cancel: () => {
        timers.delete(timer);
        timer.cancel();
      },
    };
  }

  enqueue(item: QueueItem): void {
    this.queue.push(item);
    this.drain();
  }

  /** Handles queued items in order while the process runs and no async callback holds it. */
  drain(): void {
    while (this.head < this.queue.length && this.status === RUNNING && !this.busy) {
      const item = this.queue[this.head]!;
      this.queue[this.head] = undefined as never;
      this.head += 1;
      this.dispatch(item);
      this.unacked += 1;
      if (this.unacked >= ACK_EVERY) this.ack();
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
    if (this.unacked > 0 && (this.head === this.queue.length || this.status !== RUNNING)) this.ack();
  }

  private ack(): void {
    if (this.status !== DEAD) this.host.post({ k: 'ack', id: this.id, count: this.unacked });
    this.unacked = 0;
  }

  private dispatch(item: QueueItem): void {
    if (item.kind === 'call') dispatch(this.host, this, this.self, CALL, item.body, item.from);
    else dispatch(this.host, this, this.self, item.kind === 'message' && item.cast ? CAST : MESSAGE, item.body, null);
  }

  /** Drops everything the process holds once it is gone. */
  dispose(reason: unknown): void {
    this.status = DEAD;
    this.dueWhileWaiting = null;
    this.controller?.abort(reason);
    if (this.timers !== null) for (const timer of this.timers) timer.cancel();
    this.timers = null;
    this.queue.length = 0;
    this.head = 0;
  }
}

export class ThreadHost implements LifecycleHost<HostedProcess, HostedCall> {
  private readonly processes = new Map<number, HostedProcess>();
  /** Processes killed while their module was still loading. */
  private readonly killedEarly = new Set<number>();
  private readonly calls = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  private callCounter = 0;
  private refCounter = 0;

  constructor(
    private readonly port: HostPort,
    private readonly context: HostContext,
  ) {
    port.on('message', (message) => this.receive(message as ToWorker));
    this.post({ k: 'ready' });
  }

  post(message: FromWorker, transfer?: readonly TransferListItem[]): void {
    this.port.postMessage(message, transfer);
  }

  /** A send from a hosted process; a message structured clone cannot copy throws UncloneableMessageError to the sender. */
  postSend(id: number, to: Destination, message: unknown, cast: boolean, transfer: readonly TransferListItem[] | undefined): void {
    try {
      this.post({ k: 'send', id, to: encodeDestination(to), body: encodeCheckedBody(message), cast }, transfer);
    } catch (error) {
      throw new UncloneableMessageError(describeDestination(to), 'message', error);
    }
  }

  /**
   * Sends a due `sendAfter` message. Nobody waits on the timer to learn that it failed, and an
   * exception here would escape the timer and end the worker with every process on it, so a
   * message structured clone cannot copy becomes a dead letter (`uncloneable`) on the main
   * thread, as a failed delayed delivery does there; the letter cannot carry the message.
   */
  postDelayedSend(id: number, to: WireDestination, message: unknown): void {
    try {
      this.post({ k: 'send', id, to, body: encodeCheckedBody(message), cast: false });
    } catch {
      this.post({ k: 'dead-letter', id, to, reason: 'uncloneable' });
    }
  }

  /**
   * Answers a call made to a hosted process. A reply structured clone cannot copy (a function,
   * say) reaches the caller as UncloneableMessageError; the worker and its processes go on.
   */
  postReply(ref: number, ok: boolean, value: unknown, pid: Pid): void {
    try {
      this.post({ k: 'reply', ref, ok, body: ok ? encodeCheckedBody(value) : encodeError(value) });
    } catch (error) {
      this.post({ k: 'reply', ref, ok: false, body: encodeError(new UncloneableMessageError(pid.toString(), 'reply', error)) });
    }
  }

  newRef(): MonitorRef {
    this.refCounter += 1;
    // From the incarnation's base, as the runtime's own: every incarnation's worker 1 would
    // otherwise make `#Ref<node.t1:1>` first, and a node still holding that reference from an
    // earlier incarnation would refuse the monitor that reuses it.
    return workerRef(this.context.nodeId, this.context.index, incarnationBase(this.context.creation) + this.refCounter);
  }

  call(process: HostedProcess, to: Destination, request: unknown, options: CallOptions | undefined): Promise<unknown> {
    if (process.status === DEAD) return Promise.reject(new UnsupportedError('call from a process that has exited'));
    const ref = ++this.callCounter;
    const promise = new Promise<unknown>((resolve, reject) => this.calls.set(ref, { resolve, reject }));
    try {
      this.post(
        { k: 'call', id: process.id, to: encodeDestination(to), ref, body: encodeCheckedBody(request), timeout: options?.timeout ?? -1 },
        options?.transfer,
      );
    } catch (error) {
      this.calls.delete(ref);
      return Promise.reject(new UncloneableMessageError(describeDestination(to), 'call', error));
    }
    return promise;
  }

  private receive(message: ToWorker): void {
    switch (message.k) {
      case 'spawn':
        void this.spawn(message);
        return;
      case 'message':
        this.processes.get(message.id)?.enqueue({ kind: 'message', body: decodeBody(message.body), cast: message.cast });
        return;
      case 'system':
        this.processes.get(message.id)?.enqueue({ kind: 'system', body: this.systemMessage(message.body) });
        return;
      case 'call': {
        const process = this.processes.get(message.id);
        if (process === undefined) return;
        const caller = message.caller === undefined ? undefined : Pid.parse(message.caller);
        process.enqueue({ kind: 'call', from: new HostedCall(message.ref, caller, process.pid), body: decodeBody(message.body) });
        return;
      }
      case 'exit': {
        const process = this.processes.get(message.id);
        if (process === undefined) return;
        if (process.ownExit !== NONE) {
          // The answer to its `exiting`: terminate runs now, with the reason that won.
          const reason = message.own ? process.ownExit : decodeReason(message.reason);
          const due = process.dueWhileWaiting;
          process.ownExit = NONE;
          process.dueWhileWaiting = null;
          this.finish(process, reason, true);
          // Still exiting: its terminate is async and runs on, as the timers would have on the
          // main thread. Otherwise the process is gone, and the timers with it.
          if (due !== null && process.status !== DEAD) for (const send of due) send();
          return;
        }
        this.end(process, decodeReason(message.reason), true);
        return;
      }
      case 'kill': {
        // Confirmed whatever it finds: the main thread waits for this to learn that the worker
        // still reads its messages (a process spinning in a synchronous loop stops it doing so).
        this.post({ k: 'killed', id: message.id });
        const process = this.processes.get(message.id);
        if (process === undefined) {
          this.killedEarly.add(message.id);
          return;
        }
        this.processes.delete(message.id);
        process.dispose('killed');
        return;
      }
      case 'reply': {
        const pending = this.calls.get(message.ref);
        if (pending === undefined) return;
        this.calls.delete(message.ref);
        if (message.ok) pending.resolve(decodeBody(message.body));
        else pending.reject(decodeReason({ error: message.body }));
        return;
      }
      case 'name': {
        const process = this.processes.get(message.id);
        if (process !== undefined) process.name = message.name;
        return;
      }
    }
  }

  private systemMessage(body: SystemBody): unknown {
    if (body.type === 'exit') return exitMessage(Pid.parse(body.from), decodeReason(body.reason) as ExitReason);
    return downMessage(body.ref, Pid.parse(body.pid), decodeReason(body.reason) as ExitReason);
  }

  private async spawn(message: Extract<ToWorker, { k: 'spawn' }>): Promise<void> {
    let process: HostedProcess;
    try {
      const loaded = (await import(message.module)) as Record<string, unknown>;
      const exported = loaded[message.export];
      const pid = Pid.parse(message.pid);
      if (typeof exported === 'function') {
        process = new HostedProcess(this, message.id, pid, null, exported as ProcessFunction, message.trapExits, message.name);
      } else if (typeof exported === 'object' && exported !== null) {
        process = new HostedProcess(this, message.id, pid, exported, null, message.trapExits, message.name);
      } else {
        throw new UnsupportedError(`export "${message.export}" of ${message.module} is not a behavior (an object or a function)`);
      }
    } catch (error) {
      if (!this.killedEarly.delete(message.id)) this.post({ k: 'exited', id: message.id, reason: encodeReason(error) });
      return;
    }
    if (this.killedEarly.delete(message.id)) return;
    this.processes.set(message.id, process);
    let args: unknown;
    try {
      args = decodeBody(message.args);
    } catch (error) {
      this.terminate(process, error);
      return;
    }
    runInit(this, process, args);
  }

  // ---- LifecycleHost ------------------------------------------------------------------------

  started(process: HostedProcess): void {
    if (process.status !== STARTING) return;
    process.status = RUNNING;
    this.post({ k: 'started', id: process.id });
    if (!afterCallback(this, process)) process.drain();
  }

  /** Ends a hosted process for a reason of its own (it stopped, or a callback threw or rejected). */
  terminate(process: HostedProcess, reason: unknown): void {
    this.end(process, reason, false);
  }

  /** Ends a hosted process: runs `terminate` (unless it never started or was killed), then reports. */
  private end(process: HostedProcess, reason: unknown, askedByMainThread: boolean): void {
    if (process.status >= EXITING) return;
    const initialized = process.status === RUNNING;
    process.status = EXITING;
    process.busy = false;
    process.current = null;
    // The main thread learns that the process is exiting with this reason before its terminate
    // runs, so that exits reaching it meanwhile are ignored there, as they are for a main-thread
    // process in its terminate; otherwise the first of them would end it with its own reason.
    // The terminate waits for the main thread's answer: an exit may have won there already (one
    // posted here that crossed this, or one held for the callback that its `release` let
    // through), and terminate must run with the reason the process exits with. One the main
    // thread ended knows already; one that never started runs no terminate.
    if (initialized && !askedByMainThread) {
      process.ownExit = reason;
      this.post({ k: 'exiting', id: process.id, reason: encodeReason(reason) });
      return;
    }
    this.finish(process, reason, initialized);
  }

  /** Runs `terminate` with the reason the process exits with (unless it never started), then reports. */
  private finish(process: HostedProcess, reason: unknown, initialized: boolean): void {
    const finish = (): void => {
      if (process.status === DEAD) return;
      process.dispose(reason);
      this.processes.delete(process.id);
      this.post({ k: 'exited', id: process.id, reason: encodeReason(reason) });
    };
    if (initialized && runTerminate(this, process, reason, finish)) return;
    finish();
  }

  resume(process: HostedProcess): void {
    process.drain();
  }

  callbackThrew(process: HostedProcess): void {
    process.callbackThrew();
  }

  completeCall(call: HostedCall, value: unknown): void {
    if (call.done) return;
    call.done = true;
    this.postReply(call.ref, true, value, call.callee);
  }

  failCall(call: HostedCall, error: unknown): void {
    if (call.done) return;
    call.done = true;
    this.postReply(call.ref, false, error, call.callee);
  }

  /** The main thread holds every call to a thread process (its proxy does), and fails it if the process exits. */
  holdCall(): void {}

  callerOf(call: HostedCall): Pid | undefined {
    return call.caller;
  }

  /** A message without a callback is dropped, as it was handed over already. */
  unhandled(): void {}

  /** A failing terminate does not stop the exit; the worker has no telemetry of its own. */
  terminateFailed(): void {}
}

/** Starts the host on `port`; the worker entry calls this. */
export function startThreadHost(port: HostPort, context: HostContext): ThreadHost {
  return new ThreadHost(port, context);
}
