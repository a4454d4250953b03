// The main-thread half of a thread-isolated process: a proxy process in the runtime's table
// whose behavior forwards its mailbox to the worker. Because the proxy is an ordinary process,
// links, monitors, names, exit signals, trapExits and calls behave exactly as for any other;
// the bridge only moves messages across and reports the worker's side of the lifecycle.
import type { TransferListItem } from 'node:worker_threads';
import { FoundationError } from '@foundation/core';
import type { Timer } from '@foundation/core';
import { Pid } from '../core/pid';
import { parseRef } from '../core/ref';
import { decodeReason, encodeReason } from '../core/signals';
import { decodeBody, encodeCheckedBody } from '../core/wire-body';
import { MailboxFullError } from '../errors/mailbox-full-error';
import { MalformedSignalError } from '../errors/malformed-signal-error';
import { ThreadStartTimeoutError } from '../errors/thread-start-timeout-error';
import { UncloneableMessageError } from '../errors/uncloneable-message-error';
import { isTransferEnvelope } from '../runtime/envelopes';
import type { CallEnvelope } from '../runtime/envelopes';
import { checkDestination, describeDestination } from '../runtime/delayed-sends';
import { DEAD, NONE } from '../runtime/lifecycle';
import { callOf, targetOf } from '../runtime/process-self';
import type { ProcessRecord, RecordBridge } from '../runtime/process-record';
import { isDownFor, isExitFor } from '../runtime/system-messages';
import { NO_REPLY } from '../runtime/types';
import type { Behavior, Destination } from '../runtime/types';
import type { FromWorker, ToWorker, WireDestination } from './protocol';

/** What the bridge needs from the worker it runs on. */
export interface BridgeWorker {
  readonly index: number;
  readonly threadId: number;
  post(message: ToWorker, transfer?: readonly TransferListItem[]): void;
  /** Registers a call forwarded into the worker; returns its reference. */
  registerCall(call: CallEnvelope, bridge: ThreadBridge): number;
  forgetCall(ref: number): void;
  detach(bridge: ThreadBridge): void;
}

export interface ThreadSpawnRequest {
  readonly module: string;
  readonly export: string;
  readonly args: unknown;
  readonly trapExits: boolean;
  readonly name: string | undefined;
}

export class ThreadBridge implements RecordBridge {
  private inFlight = 0;
  private waitingForCredit: (() => void) | null = null;
  /** The worker ended the process itself (crash, stop, init failure): no `exit` or `kill` to send. */
  exitedInWorker = false;
  /**
   * The reason of its own the worker said the process exits with (`exiting`), NONE before: the
   * worker runs terminate once `exit` tells it the reason the process exits with here.
   */
  private reasonInWorker: unknown = NONE;
  /**
   * The spawn was posted. A proxy can exit before (linked to a dead process at its spawn); a
   * kill then would stay in the worker for good, remembered for a spawn that never comes.
   */
  private spawned = false;
  private stopping: (() => void) | null = null;
  private starting: { resolve: (state: unknown) => void; reject: (reason: unknown) => void } | null = null;
  /** Fails the start once the worker has not answered the spawn within `startTimeoutMs`. */
  private startTimer: Timer | null = null;
  private readonly calls = new Set<number>();

  constructor(
    readonly worker: BridgeWorker,
    readonly record: ProcessRecord,
    private readonly request: ThreadSpawnRequest,
    private readonly window: number,
    private readonly startTimeoutMs: number,
  ) {}

  get id(): number {
    return this.record.pid.id;
  }

  start(): Promise<unknown> {
    try {
      this.worker.post({
        k: 'spawn',
        id: this.id,
        pid: this.record.pid.toString(),
        module: this.request.module,
        export: this.request.export,
        args: encodeCheckedBody(this.request.args),
        trapExits: this.request.trapExits,
        name: this.request.name,
      });
    } catch (error) {
      // Nothing reached the worker: init fails, and there is no hosted process to kill.
      this.exitedInWorker = true;
      throw new UncloneableMessageError(this.record.pid.toString(), 'spawn-args', error);
    }
    this.spawned = true;
    return new Promise((resolve, reject) => {
      this.starting = { resolve, reject };
      // A worker that never answers (stuck in a synchronous loop) would leave `start` pending for
      // good: the process exits with ThreadStartTimeoutError instead, and its kill, which the
      // worker does not confirm, has the pool terminate that worker after `killTimeoutMs`.
      this.startTimer = this.record.runtime.clock.setTimer(this.startTimeoutMs, () => {
        this.startTimer = null;
        const starting = this.starting;
        this.starting = null;
        starting?.reject(new ThreadStartTimeoutError(this.record.pid.toString(), this.worker.threadId, this.startTimeoutMs));
      });
    });
  }

  private clearStartTimer(): void {
    this.startTimer?.cancel();
    this.startTimer = null;
  }

  /**
   * Forwards one mailbox entry; returns a promise while the worker's window is full. A message
   * structured clone cannot copy (a function, say) never reaches the worker: it is reported as a
   * dead letter (`uncloneable`) and the process goes on with its next message.
   */
  forward(message: unknown, cast: boolean): void | Promise<void> {
    try {
      // Only the exits and downs the runtime delivered to this process become system messages,
      // which the worker rebuilds as genuine ones; a lookalike, or a genuine one passed on from
      // another mailbox, crosses as the ordinary message it is.
      if (isExitFor(message, this.record)) {
        this.worker.post({ k: 'system', id: this.id, body: { type: 'exit', from: message.from.toString(), reason: encodeReason(message.reason) } });
      } else if (isDownFor(message, this.record)) {
        this.worker.post({
          k: 'system',
          id: this.id,
          body: { type: 'down', ref: message.ref, pid: message.pid.toString(), reason: encodeReason(message.reason) },
        });
      } else if (isTransferEnvelope(message)) {
        this.worker.post({ k: 'message', id: this.id, body: encodeCheckedBody(message.message), cast: message.cast }, message.transfer);
      } else {
        this.worker.post({ k: 'message', id: this.id, body: encodeCheckedBody(message), cast });
      }
    } catch {
      const body = isTransferEnvelope(message) ? message.message : message;
      this.record.runtime.deadLetter(this.record.pid.toString(), body, 'uncloneable', undefined);
      return undefined;
    }
    return this.consumeCredit();
  }

  /** Forwards a call; one whose request cannot be copied fails at once with UncloneableMessageError. */
  forwardCall(call: CallEnvelope): void {
    // Timed out while it waited in the mailbox: the caller has its answer, the worker need not.
    if (call.cancelled) return;
    const ref = this.worker.registerCall(call, this);
    try {
      this.worker.post(
        { k: 'call', id: this.id, ref, body: encodeCheckedBody(call.request), caller: call.caller?.toString() },
        call.transfer,
      );
    } catch (error) {
      this.worker.forgetCall(ref);
      this.record.runtime.failCall(call, new UncloneableMessageError(this.record.pid.toString(), 'call', error));
      return;
    }
    this.calls.add(ref);
    this.inFlight += 1;
  }

  private consumeCredit(): void | Promise<void> {
    this.inFlight += 1;
    if (this.inFlight < this.window) return undefined;
    return new Promise<void>((resolve) => {
      this.waitingForCredit = resolve;
    });
  }

  /** The worker handled `count` entries. */
  acknowledge(count: number): void {
    this.inFlight = Math.max(0, this.inFlight - count);
    if (this.waitingForCredit !== null && this.inFlight < this.window) {
      const resume = this.waitingForCredit;
      this.waitingForCredit = null;
      resume();
    }
  }

  callSettled(ref: number): void {
    this.calls.delete(ref);
  }

  /**
   * terminate: ask the worker to run the behavior's terminate with `reason`, the one the process
   * exits with, and wait for it. A worker that said it exits with a reason of its own waits for
   * this too, so that its terminate runs with the reason that won here: its own, or an exit that
   * reached the proxy first or was held for the callback.
   */
  stop(reason: unknown): void | Promise<void> {
    if (this.exitedInWorker) return undefined;
    if (this.reasonInWorker !== NONE && reason === this.reasonInWorker) this.worker.post({ k: 'exit', id: this.id, reason: undefined, own: true });
    else this.worker.post({ k: 'exit', id: this.id, reason: encodeReason(reason), own: false });
    return new Promise<void>((resolve) => {
      this.stopping = resolve;
    });
  }

  /** The worker reports the process started. */
  started(): void {
    this.clearStartTimer();
    const starting = this.starting;
    this.starting = null;
    starting?.resolve(undefined);
  }

  /**
   * The worker reports that the process began to exit with `reason` of its own, and waits to
   * run its terminate. From now on the process is exiting with that reason, as a main-thread
   * process is once its terminate starts: exits that reach it are ignored, except the
   * untrappable kill, which still ends it at once (a terminate that never finishes stays
   * killable), and links and monitors see `reason` when `exited` comes. An exit that ended the
   * proxy before this crossed the thread boundary keeps its reason, as the first of two exits
   * does on the main thread, and so does an exit the callback's `release` let through; either
   * way the proxy's terminate (stop) tells the worker which reason its terminate runs with.
   */
  exiting(reason: unknown): void {
    this.reasonInWorker = reason;
    // The callback in the worker has returned (or thrown): no exit waits for it any more, and
    // one that waited already lost to this reason (a callback that threw exits with the error).
    this.record.workerInHandler = false;
    this.record.runtime.terminate(this.record, reason);
  }

  /** The worker reports the process ended, with `reason` (or the worker itself died). */
  exited(reason: unknown): void {
    this.exitedInWorker = true;
    this.clearStartTimer();
    // No callback of the process runs in the worker any more, and a worker that died in one
    // never sends its `release` (nor does one whose callback threw, or whose terminate asked
    // for a link: this reason wins): an exit held for it would wait for good.
    this.record.workerInHandler = false;
    if (this.stopping !== null) {
      const done = this.stopping;
      this.stopping = null;
      done();
      return;
    }
    if (this.starting !== null) {
      const starting = this.starting;
      this.starting = null;
      starting.reject(reason);
      return;
    }
    this.record.runtime.terminate(this.record, reason);
  }

  /** RecordBridge: the proxy is dead. */
  onExit(): void {
    this.clearStartTimer();
    if (this.spawned && !this.exitedInWorker) this.worker.post({ k: 'kill', id: this.id });
    for (const ref of this.calls) this.worker.forgetCall(ref);
    this.calls.clear();
    this.waitingForCredit = null;
    this.worker.detach(this);
  }

  /** Acts on a request the hosted process made of the main thread. */
  handle(message: FromWorker): void {
    const record = this.record;
    const runtime = record.runtime;
    if (record.status === DEAD) return;
    switch (message.k) {
      case 'started':
        this.started();
        return;
      case 'exiting':
        this.exiting(decodeReason(message.reason));
        return;
      case 'exited':
        this.exited(decodeReason(message.reason));
        return;
      case 'ack':
        this.acknowledge(message.count);
        return;
      case 'send': {
        const to = this.destination(message.to);
        const body = decodeBody(message.body);
        try {
          runtime.route(to, body, record.pid, message.cast, undefined);
        } catch (error) {
          // On the main thread a full mailbox throws to the sender; the worker's send has long
          // returned, so the message is a dead letter rather than vanishing as "malformed".
          if (!(error instanceof MailboxFullError)) throw error;
          runtime.deadLetter(describeDestination(to), body, 'overflow', record.pid);
        }
        return;
      }
      case 'dead-letter':
        // The worker's timer could not copy the message; checked here like any destination from
        // the worker, which would throw (a malformed message) rather than name garbage in the letter.
        runtime.deadLetter(describeDestination(checkDestination(this.destination(message.to))), undefined, message.reason, record.pid);
        return;
      case 'call': {
        const ref = message.ref;
        let reply: Promise<unknown>;
        try {
          const options = message.timeout > 0 ? { timeout: message.timeout } : {};
          reply = runtime.calls.call(record.pid, this.destination(message.to), decodeBody(message.body), options);
        } catch (error) {
          // A destination or body that does not decode: the worker's call fails instead of hanging.
          reply = Promise.reject(error instanceof Error ? error : new Error(String(error)));
        }
        reply.then(
          (value) => this.postReply(ref, true, value),
          (error: unknown) => this.postReply(ref, false, error),
        );
        return;
      }
      case 'link':
        runtime.links.link(record, Pid.parse(message.pid));
        return;
      case 'unlink':
        runtime.links.unlink(record, Pid.parse(message.pid));
        return;
      case 'monitor': {
        const ref = parseRef(message.ref);
        if (ref === undefined || ref.node !== record.pid.node || ref.thread !== this.worker.index) {
          throw new MalformedSignalError(`thread ${this.worker.threadId}`, 'monitor reference outside the worker namespace');
        }
        runtime.links.addMonitor(record, Pid.parse(message.pid), message.ref);
        return;
      }
      case 'demonitor':
        runtime.links.demonitorFrom(record, message.ref);
        return;
      case 'exit-signal':
        runtime.links.sendExit(record.pid, Pid.parse(message.pid), decodeReason(message.reason));
        return;
      case 'trap':
        record.trapping = message.enabled;
        return;
      case 'hold':
        record.workerInHandler = true;
        return;
      case 'release': {
        record.workerInHandler = false;
        // The exit that waited for the worker's callback, unless one of the proxy's own is on the stack.
        if (record.inHandler || record.pendingExit === NONE) return;
        const reason = record.pendingExit;
        record.pendingExit = NONE;
        runtime.terminate(record, reason);
        return;
      }
      case 'register':
        try {
          runtime.register(message.name, record.pid);
        } catch (error) {
          runtime.emit(['foundation', 'process', 'register-failed'], { count: 1 }, { pid: record.pid, name: message.name, error });
        }
        this.worker.post({ k: 'name', id: this.id, name: record.name });
        return;
      case 'unregister':
        record.unregister();
        this.worker.post({ k: 'name', id: this.id, name: record.name });
        return;
      default:
        return;
    }
  }

  /**
   * Answers a call the hosted process made. A reply that structured clone cannot copy (a
   * function, say) reaches the worker as UncloneableMessageError; nothing is thrown from here,
   * since this runs in a promise callback where a throw would be an unhandled rejection.
   */
  private postReply(ref: number, ok: boolean, value: unknown): void {
    try {
      if (ok) this.worker.post({ k: 'reply', ref, ok: true, body: encodeCheckedBody(value) });
      else this.worker.post({ k: 'reply', ref, ok: false, body: FoundationError.from(value).toJSON() });
      return;
    } catch (error) {
      const failure = new UncloneableMessageError(this.record.pid.toString(), 'reply', error);
      try {
        this.worker.post({ k: 'reply', ref, ok: false, body: failure.toJSON() });
      } catch (secondError) {
        this.record.runtime.emit(['foundation', 'process', 'thread-reply-failed'], { count: 1 }, { pid: this.record.pid, error: secondError });
      }
    }
  }

  private destination(to: WireDestination): Destination {
    if (typeof to === 'string') return to;
    if ('pid' in to) return Pid.parse(to.pid);
    if ('node' in to) return { name: to.name, node: to.node };
    return to.name;
  }
}

function bridgeOf(self: unknown): ThreadBridge {
  return (targetOf(self) as ProcessRecord).bridge as ThreadBridge;
}

/** @internal The behavior of every thread proxy on the main thread. */
export const threadProxyBehavior: Behavior<unknown, unknown> = {
  init(_args, self) {
    return bridgeOf(self).start();
  },
  handleMessage(message, self) {
    return bridgeOf(self).forward(message, false);
  },
  handleCast(message, self) {
    return bridgeOf(self).forward(message, true);
  },
  handleCall(_request, self, from) {
    bridgeOf(self).forwardCall(callOf(from) as CallEnvelope);
    return NO_REPLY;
  },
  terminate(reason, self) {
    return bridgeOf(self).stop(reason);
  },
};
