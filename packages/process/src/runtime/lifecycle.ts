// The life of one process, shared by the main thread's runtime and the worker-thread host: run
// `init`, hand each message to the callback that takes it, hold the process while an async
// callback runs, apply a `stop` asked for during a callback, and run `terminate`. What differs
// between the two (how an exit spreads, where a reply goes, what runs next) comes in through
// LifecycleHost.
//
// Each thread has one host type and one process type, so the host calls below stay monomorphic
// in each isolate and V8 inlines them as it did the runtime's own methods.
import type { Pid } from '../core/pid';
import { UnsupportedError } from '../errors/unsupported-error';
import { ReplyHandle } from './process-self';
import { NO_REPLY } from './types';
import type { Behavior, ExitReason, ProcessFunction, ProcessSelf } from './types';

export const STARTING = 0;
export const RUNNING = 1;
export const EXITING = 2;
export const DEAD = 3;

/** Marks "no value" for fields where undefined is a legitimate value. */
export const NONE: unique symbol = Symbol('none');

/**
 * The untrappable end that exit(pid, 'kill') brings, as runtime.terminate is told of it: apart
 * from the reason `kill`, which a process may stop itself with (OTP's exit(kill)) and which then
 * is an ordinary reason, as it is when it comes through a link.
 */
export const UNTRAPPABLE_KILL: unique symbol = Symbol('untrappable-kill');

/** Which callback a message is for. */
export const MESSAGE = 0;
export const CAST = 1;
export const CALL = 2;
export type MessageKind = typeof MESSAGE | typeof CAST | typeof CALL;

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** The part of a process the lifecycle reads and writes. */
export interface LifecycleProcess<Call> {
  readonly pid: Pid;
  readonly behavior: Behavior | null;
  readonly fn: ProcessFunction | null;
  /** What the callbacks receive as `self`. */
  readonly self: ProcessSelf;
  status: number;
  state: unknown;
  /** An async callback is pending: the process handles nothing else. */
  busy: boolean;
  /** A synchronous callback is on the stack: exits and stops wait until it returns. */
  inHandler: boolean;
  /** An exit that arrived during a callback (NONE when none). */
  pendingExit: unknown;
  /** A `stop` asked for during a callback (NONE when none). */
  stopReason: unknown;
  /** The call an async `handleCall` is working on. */
  current: Call | null;
  onSettled: ((value: unknown) => void) | null;
  onFailed: ((error: unknown) => void) | null;
}

/** What a host does at each step of a process's life. */
export interface LifecycleHost<Process extends LifecycleProcess<Call>, Call> {
  /** `init` finished: the process runs and may be told about it. */
  started(process: Process): void;
  /** Ends the process with `reason` (a callback threw or rejected, or it stopped). */
  terminate(process: Process, reason: unknown): void;
  /**
   * The synchronous callback on the stack threw (`inHandler` is still set), and `terminate`
   * with the error follows: the error is the process's exit reason, also over an exit held for
   * the callback, as a process that crashes on the BEAM exits with its exception.
   */
  callbackThrew(process: Process): void;
  /** An async callback settled: the process may handle its next message. */
  resume(process: Process): void;
  completeCall(call: Call, value: unknown): void;
  failCall(call: Call, error: unknown): void;
  /** The process holds `call` without answering yet (NO_REPLY, async, or it threw). */
  holdCall(process: Process, call: Call): void;
  /** The pid that made `call`, when a process on this node made it. */
  callerOf(call: Call): Pid | undefined;
  /** A message no callback takes (a behavior without `handleMessage`). */
  unhandled(process: Process, message: unknown): void;
  /** `terminate` threw or rejected; the process exits anyway. */
  terminateFailed(process: Process, error: unknown): void;
}

/** Runs `init` (inline when it is synchronous); its result becomes the state. */
export function runInit<Process extends LifecycleProcess<Call>, Call>(
  host: LifecycleHost<Process, Call>,
  process: Process,
  args: unknown,
): void {
  const behavior = process.behavior;
  let hasInit: boolean;
  try {
    // A behavior may be anything with callbacks, a proxy or an object with getters included:
    // one whose init cannot even be read fails to start, like one whose init throws.
    hasInit = behavior !== null && behavior.init !== undefined;
  } catch (error) {
    host.terminate(process, error);
    return;
  }
  if (!hasInit) {
    host.started(process);
    return;
  }
  let result: unknown;
  let thenable: boolean;
  process.inHandler = true;
  try {
    result = behavior!.init!(args, process.self);
    // Inside the try: a result whose `then` getter throws is init failing, not the runtime.
    thenable = isThenable(result);
  } catch (error) {
    host.callbackThrew(process);
    process.inHandler = false;
    host.terminate(process, error);
    return;
  }
  process.inHandler = false;
  if (thenable) {
    process.busy = true;
    // An exit signal that arrived during init's synchronous part (a link to a dead pid, an
    // exit(self, 'kill')) was held for the end of the callback: that is now, not when init
    // settles, which may be much later or never.
    if (afterCallback(host, process)) return;
    // Promise.resolve turns a thenable whose `then` throws into a rejection.
    Promise.resolve(result).then(
      (state) => {
        if (process.status !== STARTING) return;
        process.busy = false;
        process.state = state;
        host.started(process);
      },
      (error: unknown) => {
        if (process.status !== STARTING) return;
        process.busy = false;
        host.terminate(process, error);
      },
    );
    return;
  }
  process.state = result;
  host.started(process);
}

/** What dispatch gets from a call to a behavior without handleCall. */
const UNSUPPORTED_CALL: unique symbol = Symbol('unsupported-call');

/**
 * Hands one message to its callback: a call to `handleCall` (or the function), a cast to
 * `handleCast` when there is one, anything else to `handleMessage`. A result that is a promise
 * holds the process; a call is answered with the result unless it is NO_REPLY. `self` is the
 * process's own, passed in so that a run of messages reads it once.
 */
export function dispatch<Process extends LifecycleProcess<Call>, Call>(
  host: LifecycleHost<Process, Call>,
  process: Process,
  self: ProcessSelf,
  kind: MessageKind,
  body: unknown,
  call: Call | null,
): void {
  let result: unknown;
  let thenable: boolean;
  process.inHandler = true;
  try {
    if (kind === CALL) {
      if (process.fn !== null) result = process.fn(body, self);
      else if (process.behavior!.handleCall !== undefined) result = process.behavior!.handleCall(body, self, new ReplyHandle(call, host.callerOf(call!)));
      else result = UNSUPPORTED_CALL;
    } else if (process.fn !== null) {
      result = process.fn(body, self);
    } else if (kind === CAST && process.behavior!.handleCast !== undefined) {
      result = process.behavior!.handleCast(body, self);
    } else if (process.behavior!.handleMessage !== undefined) {
      result = process.behavior!.handleMessage(body, self);
    } else {
      result = undefined;
      host.unhandled(process, body);
    }
    // Inside the try: a result whose `then` getter throws is the handler failing.
    thenable = isThenable(result);
  } catch (error) {
    host.callbackThrew(process);
    process.inHandler = false;
    // Held, so that the exit this causes tells the caller (CallExitedError).
    if (call !== null) host.holdCall(process, call);
    host.terminate(process, error);
    return;
  }
  process.inHandler = false;
  if (call !== null) {
    if (thenable) hold(host, process, result as PromiseLike<unknown>, call);
    else if (result === NO_REPLY) host.holdCall(process, call);
    else if (result === UNSUPPORTED_CALL) host.failCall(call, new UnsupportedError(`${process.pid.toString()} has no handleCall`));
    else host.completeCall(call, result);
  } else if (thenable) {
    hold(host, process, result as PromiseLike<unknown>, null);
  }
  if (process.pendingExit !== NONE || process.stopReason !== NONE) afterCallback(host, process);
}

/** An async callback: the process handles nothing else until `promise` settles. */
function hold<Process extends LifecycleProcess<Call>, Call>(
  host: LifecycleHost<Process, Call>,
  process: Process,
  promise: PromiseLike<unknown>,
  call: Call | null,
): void {
  process.busy = true;
  process.current = call;
  if (call !== null) host.holdCall(process, call);
  if (process.onSettled === null) {
    process.onSettled = (value) => handlerSettled(host, process, value);
    process.onFailed = (error) => handlerFailed(host, process, error);
  }
  // Promise.resolve turns a thenable whose `then` throws into a rejection.
  void Promise.resolve(promise).then(process.onSettled, process.onFailed);
}

function handlerSettled<Process extends LifecycleProcess<Call>, Call>(host: LifecycleHost<Process, Call>, process: Process, value: unknown): void {
  if (process.status !== RUNNING || !process.busy) return;
  process.busy = false;
  const call = process.current;
  process.current = null;
  if (call !== null && value !== NO_REPLY) host.completeCall(call, value);
  if (afterCallback(host, process)) return;
  host.resume(process);
}

function handlerFailed<Process extends LifecycleProcess<Call>, Call>(host: LifecycleHost<Process, Call>, process: Process, error: unknown): void {
  if (process.status !== RUNNING || !process.busy) return;
  process.busy = false;
  process.current = null;
  host.terminate(process, error);
}

/** Applies an exit or a stop asked for while a callback ran; true if the process is exiting now. */
export function afterCallback<Process extends LifecycleProcess<Call>, Call>(host: LifecycleHost<Process, Call>, process: Process): boolean {
  if (process.pendingExit !== NONE) {
    const reason = process.pendingExit;
    process.pendingExit = NONE;
    host.terminate(process, reason);
    return true;
  }
  if (process.stopReason !== NONE && !process.busy) {
    const reason = process.stopReason;
    process.stopReason = NONE;
    host.terminate(process, reason);
    return true;
  }
  return false;
}

/** `self.stop(reason)`: at once, or once the running callback has returned or settled. */
export function requestStop<Process extends LifecycleProcess<Call>, Call>(
  host: LifecycleHost<Process, Call>,
  process: Process,
  reason: ExitReason,
): void {
  if (process.status >= EXITING) return;
  if (process.inHandler || process.busy) {
    if (process.stopReason === NONE) process.stopReason = reason;
    return;
  }
  host.terminate(process, reason);
}

/**
 * Runs `terminate` for a process that had started and was not killed (the caller decides: a
 * `killed` from a link is an ordinary reason, and terminate runs for it). Returns true when it
 * is async: `done` then runs once it settles (a rejection is reported first); otherwise the
 * caller goes on at once and `done` is not called.
 */
export function runTerminate<Process extends LifecycleProcess<Call>, Call>(
  host: LifecycleHost<Process, Call>,
  process: Process,
  reason: unknown,
  done: () => void,
): boolean {
  const behavior = process.behavior;
  if (behavior === null) return false;
  let hasTerminate: boolean;
  try {
    // Read inside a guard: this runs inside whoever sent the exit signal (a supervisor stopping
    // its child, say), and a terminate that cannot be read must not fail them.
    hasTerminate = behavior.terminate !== undefined;
  } catch (error) {
    host.terminateFailed(process, error);
    return false;
  }
  if (!hasTerminate) return false;
  let result: unknown;
  let thenable = false;
  process.inHandler = true;
  try {
    result = behavior.terminate!(reason as ExitReason, process.self);
    // Inside the try: a result whose `then` getter throws is terminate failing; thrown out of
    // here, it would reach whoever sent the exit and leave the process exiting for ever.
    thenable = isThenable(result);
  } catch (error) {
    host.terminateFailed(process, error);
  }
  process.inHandler = false;
  process.pendingExit = NONE;
  if (!thenable) return false;
  process.busy = true;
  // Promise.resolve turns a thenable whose `then` throws into a rejection.
  Promise.resolve(result).then(done, (error: unknown) => {
    host.terminateFailed(process, error);
    done();
  });
  return true;
}
