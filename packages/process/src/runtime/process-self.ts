// What a behavior is handed: `self`, a facade with exactly the documented API, and `from`, an
// opaque reply address. The objects behind them (a process's record on the main thread, a hosted
// process in a worker, a call in flight) stay out of reach: their fields live in ES private
// slots, which no property lookup, `Object.getOwnPropertyNames` or prototype walk can see, and
// only this package's own modules read them back (through `targetOf` and `callOf`).
//
// The same facade serves both threads. In each thread only one kind of object sits behind it
// (records on the main thread, hosted processes in a worker), so every forwarding call stays
// monomorphic there and V8 inlines it into the caller.
import type { Pid } from '../core/pid';
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

let readTarget: (self: object) => ProcessSelf | undefined;
let readCall: (from: object) => unknown;

/** The `self` of a process: forwards each documented operation to the process behind it. */
export class ProcessHandle<State = unknown> implements ProcessSelf<State> {
  readonly #target: ProcessSelf;

  constructor(target: ProcessSelf) {
    this.#target = target;
  }

  static {
    readTarget = (self) => (#target in self ? (self as ProcessHandle).#target : undefined);
  }

  get pid(): Pid {
    return this.#target.pid;
  }

  get node(): string {
    return this.#target.node;
  }

  get state(): State {
    return this.#target.state as State;
  }

  set state(value: State) {
    this.#target.state = value;
  }

  get name(): string | undefined {
    return this.#target.name;
  }

  get signal(): AbortSignal {
    return this.#target.signal;
  }

  send(to: Destination, message: unknown, options?: SendOptions): void {
    this.#target.send(to, message, options);
  }

  sendAsync(to: Destination, message: unknown, options?: SendOptions): Promise<void> {
    return this.#target.sendAsync(to, message, options);
  }

  cast(to: Destination, message: unknown): void {
    this.#target.cast(to, message);
  }

  call<Reply = unknown>(to: Destination, request: unknown, options?: CallOptions): Promise<Reply> {
    return this.#target.call<Reply>(to, request, options);
  }

  reply(to: ReplyTo, value: unknown): void {
    this.#target.reply(to, value);
  }

  spawn<S, A>(behavior: Behavior<S, A> | ProcessFunction<S> | ThreadBehavior, options?: SpawnOptions<A>): Pid {
    return this.#target.spawn(behavior, options);
  }

  link(pid: Pid): void {
    this.#target.link(pid);
  }

  unlink(pid: Pid): void {
    this.#target.unlink(pid);
  }

  monitor(pid: Pid): MonitorRef {
    return this.#target.monitor(pid);
  }

  demonitor(ref: MonitorRef): void {
    this.#target.demonitor(ref);
  }

  exit(pid: Pid, reason: ExitReason): void {
    this.#target.exit(pid, reason);
  }

  stop(reason?: ExitReason): void {
    this.#target.stop(reason);
  }

  trapExits(enabled: boolean): void {
    this.#target.trapExits(enabled);
  }

  register(name: string): void {
    this.#target.register(name);
  }

  unregister(): void {
    this.#target.unregister();
  }

  sendAfter(delayMs: number, to: Destination, message: unknown): { cancel(): void } {
    return this.#target.sendAfter(delayMs, to, message);
  }
}

/** The `from` handed to `handleCall`: who called, and (privately) the call to answer. */
export class ReplyHandle implements ReplyTo {
  readonly #call: unknown;
  readonly caller: Pid | undefined;

  constructor(call: unknown, caller: Pid | undefined) {
    this.#call = call;
    this.caller = caller;
  }

  static {
    readCall = (from) => (#call in from ? from.#call : undefined);
  }
}

/** @internal The process behind a `self` this package made; undefined for anything else. */
export function targetOf(self: unknown): ProcessSelf | undefined {
  return typeof self === 'object' && self !== null ? readTarget(self) : undefined;
}

/** @internal The call behind a `from` this package made; undefined for anything else. */
export function callOf(from: unknown): unknown {
  return typeof from === 'object' && from !== null ? readCall(from) : undefined;
}
