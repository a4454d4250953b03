// Calls: where a call goes (a local process, or another node through the remote bridge), their
// deadlines on the runtime's clock, the calls a process holds without answering yet, and their
// answers. A call is answered once: a second answer, or one after its timeout, is dropped.
import type { Timer } from '@foundation/core';
import { DeadlineQueue } from '../core/deadline-queue';
import { checkRemoteName } from '../core/names';
import { incarnationBase } from '../core/ref';
import { Pid } from '../core/pid';
import { CallTimeoutError } from '../errors/call-timeout-error';
import { InvalidOptionError } from '../errors/invalid-option-error';
import { NoConnectionError } from '../errors/no-connection-error';
import { NoProcessError } from '../errors/no-process-error';
import { RuntimeStoppedError } from '../errors/runtime-stopped-error';
import { callNotSent } from '../remote/call-not-sent';
import { CALLER_LOCAL, CALLER_REMOTE, CallEnvelope } from './envelopes';
import type { ProcessRecord } from './process-record';
import { callOf } from './process-self';
import type { RuntimeImpl } from './runtime';
import type { CallOptions, Destination, ReplyTo } from './types';

/** A rejected promise for something caught (our own errors are always Errors). */
export function rejected(error: unknown): Promise<never> {
  return Promise.reject(error instanceof Error ? error : new Error('non-error thrown', { cause: error }));
}

export class CallTable {
  private readonly deadlines = new DeadlineQueue<CallEnvelope>();
  private deadlineTimer: Timer | null = null;
  private armedDeadline = Number.POSITIVE_INFINITY;
  /** Calls this node made to other nodes, by the reference their reply carries. */
  readonly remote = new Map<number, CallEnvelope>();
  private nextRef = 1;

  constructor(private readonly runtime: RuntimeImpl) {}

  /** A call reference no call will use, for a call the remote bridge makes itself (its capability probe). */
  reserveRef(): number {
    return incarnationBase(this.runtime.creation) + this.nextRef++;
  }

  /** Calls with a deadline, waiting for a reply. */
  get pendingDeadlines(): number {
    return this.deadlines.live;
  }

  /** A call from `caller` (undefined outside processes). */
  call(caller: Pid | undefined, to: Destination, request: unknown, options?: CallOptions): Promise<unknown> {
    const runtime = this.runtime;
    const timeout = options?.timeout ?? runtime.callTimeoutMs;
    if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout <= 0) {
      return Promise.reject(new InvalidOptionError('timeout', `must be a positive number of ms or Infinity (got ${String(timeout)})`));
    }
    if (runtime.status === 'stopped') return Promise.reject(new RuntimeStoppedError(runtime.nodeId, 'call'));
    let record: ProcessRecord | undefined;
    let remote: { node: string; target: Pid | { name: string; node: string } } | undefined;
    let label: Pid | string;
    try {
      if (to instanceof Pid || Pid.is(to)) {
        label = to;
        if (to.node === runtime.nodeId) record = to.creation === runtime.creation ? runtime.table.get(to.id) : undefined;
        else remote = { node: to.node, target: to };
      } else if (typeof to === 'string') {
        label = to;
        record = runtime.names.get(to);
      } else {
        const target = checkRemoteName(to);
        label = `${target.name}@${target.node}`;
        if (target.node === runtime.nodeId) record = runtime.names.get(target.name);
        else remote = { node: target.node, target };
      }
    } catch (error) {
      return rejected(error);
    }
    if (record === undefined && remote === undefined) return Promise.reject(new NoProcessError(String(label)));
    // A process waiting on its own call never handles it: fail at once (gen_server's calling_self)
    // rather than at the timeout, or never with an infinite one.
    if (record !== undefined && caller !== undefined && record.pid.id === caller.id && caller.node === runtime.nodeId) {
      return Promise.reject(new InvalidOptionError('to', `${String(label)} is the calling process: it would wait for its own reply`));
    }
    const call = new CallEnvelope(caller, request, label, CALLER_LOCAL);
    const promise = new Promise<unknown>((resolve, reject) => {
      call.resolve = resolve;
      call.reject = reject;
    });
    if (options?.transfer !== undefined) call.transfer = options.transfer;
    if (timeout !== Number.POSITIVE_INFINITY) this.addDeadline(call, timeout);
    if (record !== undefined) {
      try {
        runtime.deliver(record, call);
      } catch (error) {
        this.fail(call, error);
      }
    } else {
      this.sendRemote(call, remote!.node, remote!.target, request);
    }
    return promise;
  }

  private sendRemote(call: CallEnvelope, node: string, target: Pid | { name: string; node: string }, request: unknown): void {
    const bridge = this.runtime.remote;
    if (bridge === null) {
      this.fail(call, new NoConnectionError(node, 'no RemoteRouter is configured'));
      return;
    }
    const ref = incarnationBase(this.runtime.creation) + this.nextRef++;
    call.remoteNode = node;
    call.replyRef = ref;
    this.remote.set(ref, call);
    const caller = call.caller === undefined ? undefined : this.runtime.lookupLocal(call.caller);
    if (caller !== undefined) {
      call.callerRecord = caller;
      (caller.remoteCalls ??= new Set()).add(call);
    }
    const outcome = bridge.sendCall(node, target, ref, request);
    if (outcome === true) return;
    this.fail(call, outcome === false ? new NoConnectionError(node, 'the router did not accept the call') : callNotSent(call, node, outcome.thrown));
  }

  /** `reply(from, value)`: only a `from` the runtime handed to handleCall is accepted. */
  reply(to: ReplyTo, value: unknown): void {
    const call = callOf(to);
    if (!(call instanceof CallEnvelope)) throw new InvalidOptionError('reply', 'the first argument must be the `from` handed to handleCall');
    this.complete(call, value);
  }

  /** A call the process holds without answering yet; if the process exits, the caller is told. */
  hold(record: ProcessRecord, call: CallEnvelope): void {
    // Answered already (self.reply before handleCall returned NO_REPLY or its promise settled),
    // failed or timed out: nothing left to tell the caller, whichever node or thread it is on.
    if (call.cancelled) return;
    call.holder = record;
    (record.pendingReplies ??= new Set()).add(call);
  }

  private release(call: CallEnvelope): boolean {
    if (call.cancelled) return false;
    if (call.inDeadlines) {
      call.inDeadlines = false;
      this.deadlines.cancel(call);
      // The last call with a deadline is answered: its timer goes too, or it would keep Node
      // running for the rest of the timeout (the default is seconds, a caller's may be hours).
      if (this.deadlines.live === 0) this.disarmDeadline();
    } else {
      call.cancelled = true;
    }
    if (call.holder !== null) {
      (call.holder as ProcessRecord).pendingReplies?.delete(call);
      call.holder = null;
    }
    if (call.remoteNode !== null) this.remote.delete(call.replyRef);
    if (call.callerRecord !== null) {
      (call.callerRecord as ProcessRecord).remoteCalls?.delete(call);
      call.callerRecord = null;
    }
    return true;
  }

  /**
   * `record` has exited: the calls it made to other nodes go, with their deadlines, rather than
   * wait for a reply or the node's going down (for ever, for a call without a timeout to a node
   * that stays up). As on the BEAM, where a reply to a process that is gone is dropped, nobody is
   * told: the caller runs no more code, so its promise is left unsettled and goes with the entry.
   * A reply that comes later finds no entry and is dropped as a late one.
   */
  callerExited(record: ProcessRecord): void {
    const calls = record.remoteCalls;
    if (calls === null) return;
    record.remoteCalls = null;
    for (const call of calls) {
      call.callerRecord = null;
      this.release(call);
    }
  }

  /** Answers a call; a second answer, or one after the timeout, is dropped. */
  complete(call: CallEnvelope, value: unknown): void {
    if (!this.release(call)) return;
    if (call.origin === CALLER_REMOTE) this.runtime.remote?.sendReply(call.replyNode!, call.replyRef, true, value, call.replyLife);
    else call.resolve!(value);
  }

  /** Fails a call with `error`. */
  fail(call: CallEnvelope, error: unknown): void {
    if (!this.release(call)) return;
    if (call.origin === CALLER_REMOTE) this.runtime.remote?.sendReply(call.replyNode!, call.replyRef, false, error, call.replyLife);
    else call.reject!(error);
  }

  private addDeadline(call: CallEnvelope, timeout: number): void {
    const deadline = this.runtime.clock.monotonic() + timeout;
    call.timeoutMs = timeout;
    call.inDeadlines = true;
    this.deadlines.push(deadline, call);
    if (deadline < this.armedDeadline) this.armDeadline(deadline);
  }

  private disarmDeadline(): void {
    this.deadlineTimer?.cancel();
    this.deadlineTimer = null;
    this.armedDeadline = Number.POSITIVE_INFINITY;
  }

  private armDeadline(deadline: number): void {
    const clock = this.runtime.clock;
    this.deadlineTimer?.cancel();
    this.armedDeadline = deadline;
    const delay = Math.max(0, deadline - clock.monotonic());
    this.deadlineTimer = clock.setTimer(delay, this.onDeadline);
  }

  private readonly onDeadline = (): void => {
    this.deadlineTimer = null;
    this.armedDeadline = Number.POSITIVE_INFINITY;
    const expired = this.deadlines.popExpired(this.runtime.clock.monotonic());
    for (const call of expired) {
      call.inDeadlines = false;
      this.fail(call, new CallTimeoutError(String(call.target), call.timeoutMs));
    }
    const next = this.deadlines.peekDeadline();
    if (next !== Number.POSITIVE_INFINITY && this.runtime.status !== 'stopped') this.armDeadline(next);
  };

  /** Shutdown: stops the deadline timer and fails every call still waiting for a reply. */
  failAll(): void {
    this.disarmDeadline();
    const nodeId = this.runtime.nodeId;
    for (const call of [...this.remote.values()]) this.fail(call, new RuntimeStoppedError(nodeId, 'wait for a reply'));
    for (const call of this.deadlines.popExpired(Number.POSITIVE_INFINITY)) {
      call.inDeadlines = false;
      this.fail(call, new RuntimeStoppedError(nodeId, 'wait for a reply'));
    }
  }
}
