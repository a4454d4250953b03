// The public shapes of processes: behaviors, the `self` a behavior receives, options, and
// the system messages (exit, down) a process may receive.
import type { TransferListItem } from 'node:worker_threads';
import type { Pid } from '../core/pid';

/**
 * Why a process exited. `normal` and `shutdown` are clean exits; `kill` (sent with `exit`) cannot
 * be trapped and makes the target exit with `killed`, while a process that stops itself with
 * `kill` exits with `kill`, an ordinary reason to its links; `noproc` and `noconnection` are what links
 * and monitors report for a process that did not exist or a node that went away;
 * `system_limit` is what a link or monitor refused by a RemoteLimits bound reports. Any other
 * string, or an Error (a handler that threw), is an abnormal exit.
 */
export type ExitReason = 'normal' | 'shutdown' | 'kill' | 'killed' | 'noproc' | 'noconnection' | 'system_limit' | (string & {}) | Error;

/**
 * Opaque reference of a monitor, unique in the cluster: `#Ref<node.n>`, or `#Ref<node.tk:n>`
 * when a process in worker thread `k` made it. Compare references with `===`.
 */
export type MonitorRef = string;

/** A name registered on another node, `{ name, node }` (the BEAM's `{Name, Node}`). */
export interface RemoteName {
  readonly name: string;
  readonly node: string;
}

/** Where a message can go: a pid (local or remote), a locally registered name, or a name on another node. */
export type Destination = Pid | string | RemoteName;

/**
 * Where a reply goes: handed to `handleCall`, used with `self.reply` for a deferred reply. It is
 * opaque: only `caller` shows, and `reply` accepts only a `from` the runtime handed out.
 */
export interface ReplyTo {
  /** The calling process when the call came from one on this node; undefined otherwise. */
  readonly caller: Pid | undefined;
}

/** Returned by `handleCall` to reply later with `self.reply(from, value)`. */
export const NO_REPLY: unique symbol = Symbol.for('@foundation/process/no-reply') as never;
export type NoReply = typeof NO_REPLY;

export interface SendOptions {
  /**
   * ArrayBuffers (and MessagePorts) to move, not copy, to a thread-isolated process: after the
   * send the sender's buffers are detached. Ignored for processes on the main thread, where
   * messages are passed by reference anyway.
   */
  readonly transfer?: readonly TransferListItem[];
}

export interface CallOptions {
  /** Milliseconds to wait for the reply (default: the runtime's `callTimeoutMs`, 5 s); Infinity waits forever. */
  readonly timeout?: number;
  readonly transfer?: readonly TransferListItem[];
}

export type OverflowPolicy = 'drop-oldest' | 'drop-newest' | 'reject' | 'backpressure';

export interface MailboxOptions {
  /** Maximum number of queued messages; default unbounded. */
  readonly capacity?: number;
  /**
   * What happens to a message that arrives at a full mailbox. `drop-oldest` drops the oldest queued
   * one, `drop-newest` the arriving one (both reported as dead letters); `reject` throws
   * MailboxFullError to the sender; `backpressure` keeps the message waiting outside the mailbox,
   * in order, and `sendAsync` returns a promise that settles once it is in. Default `reject`.
   */
  readonly overflow?: OverflowPolicy;
  /**
   * `backpressure` only: how many messages (sends, `sendAsync`s and calls) may wait for room
   * outside the full mailbox. Beyond it `send` throws MailboxFullError, `sendAsync` and `call`
   * reject with it, and messages from other nodes are dead letters (`overflow`). Default 10 ×
   * `capacity`; `Infinity` lifts the bound.
   */
  readonly maxWaiting?: number;
}

/** The mailbox of a process as `processInfo` reports it. */
export interface MailboxInfo {
  readonly length: number;
  /** Age of the oldest queued message, in ms of the runtime's clock; 0 when empty. */
  readonly oldestAgeMs: number;
  /** Messages held back by a full `backpressure` mailbox. */
  readonly waiting: number;
  /** The most messages that may wait (`backpressure`); Infinity for other policies. */
  readonly maxWaiting: number;
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  /** Messages dropped by the overflow policy since the process started. */
  readonly dropped: number;
}

export interface ProcessSelf<State = unknown> {
  readonly pid: Pid;
  /** The node this process runs on. */
  readonly node: string;
  /** The process's state: what `init` returned. Handlers read it and may replace it. */
  state: State;
  /** The name this process is registered under, if any. */
  readonly name: string | undefined;
  /** Aborted when the process exits: lets an async handler stop work that outlived its process. */
  readonly signal: AbortSignal;
  send(to: Destination, message: unknown, options?: SendOptions): void;
  /** Like `send`, for a backpressure mailbox: settles once the message is in the target's mailbox. */
  sendAsync(to: Destination, message: unknown, options?: SendOptions): Promise<void>;
  /** Delivered to the target's `handleCast` (or `handleMessage` when it has none). */
  cast(to: Destination, message: unknown): void;
  /** Sends a request and waits for the reply; while an async handler awaits it, this process handles nothing else. */
  call<Reply = unknown>(to: Destination, request: unknown, options?: CallOptions): Promise<Reply>;
  /** Replies to a call whose `handleCall` returned NO_REPLY. A second reply, or one after the timeout, is dropped. */
  reply(to: ReplyTo, value: unknown): void;
  /** Starts a process; with `link: self.pid` it is linked to this one before its `init` runs. */
  spawn<S, A>(behavior: Behavior<S, A> | ProcessFunction<S> | ThreadBehavior, options?: SpawnOptions<A>): Pid;
  /** Links this process and `pid` (both ways). Linking to a process that does not exist delivers an exit signal `noproc`. */
  link(pid: Pid): void;
  unlink(pid: Pid): void;
  /** Monitors `pid`: one `down` message when it exits (at once, with `noproc`, if it already has). */
  monitor(pid: Pid): MonitorRef;
  demonitor(ref: MonitorRef): void;
  /** Sends an exit signal to `pid` (see ExitReason). */
  exit(pid: Pid, reason: ExitReason): void;
  /** Ends this process with `reason` (default `normal`) once the current handler returns. */
  stop(reason?: ExitReason): void;
  /** When true, exit signals arrive as `exit` messages instead of ending the process (except `kill`). */
  trapExits(enabled: boolean): void;
  register(name: string): void;
  unregister(): void;
  /** Sends `message` to `to` after `delayMs` of the runtime's clock; cancelled if this process exits first. */
  sendAfter(delayMs: number, to: Destination, message: unknown): { cancel(): void };
}

/** A process as a single function: every message (and every call, whose reply is the return value). */
export type ProcessFunction<State = unknown> = (message: unknown, self: ProcessSelf<State>) => unknown;

/**
 * What a process does. Every callback may be synchronous or return a promise; a process handles
 * one message at a time, in order, and an async callback holds the process until it settles.
 * A callback that throws (or rejects) ends the process with the error as its exit reason.
 */
export interface Behavior<State = unknown, Args = unknown> {
  /** Runs first, before any message; its result becomes `self.state`. */
  init?(args: Args, self: ProcessSelf<State>): State | Promise<State>;
  /** Messages from `send` (and from `cast` when there is no `handleCast`), and system messages. */
  handleMessage?(message: unknown, self: ProcessSelf<State>): void | Promise<void>;
  handleCast?(message: unknown, self: ProcessSelf<State>): void | Promise<void>;
  /** Requests from `call`: the result is the reply, unless it is NO_REPLY (then reply with `self.reply(from, value)`). */
  handleCall?(request: unknown, self: ProcessSelf<State>, from: ReplyTo): unknown;
  /** Runs when the process exits for any reason except `kill`; may be async (a supervisor's shutdown timeout bounds it). */
  terminate?(reason: ExitReason, self: ProcessSelf<State>): void | Promise<void>;
}

/**
 * A behavior that runs in a worker thread: the module that exports it (an absolute path, a
 * `file:` URL, or a package specifier the worker can import) and the export's name. Code cannot
 * be shipped between threads in Node, so the worker imports it.
 */
export interface ThreadBehavior {
  readonly module: string | URL;
  /** Default `default`. */
  readonly export?: string;
}

export interface ThreadSpawnOptions {
  /**
   * Limits for a worker of this process's own (instead of a shared pool worker); exceeding them
   * ends the worker and the process exits with WorkerCrashedError.
   */
  readonly resourceLimits?: {
    readonly maxOldGenerationSizeMb?: number;
    readonly maxYoungGenerationSizeMb?: number;
    readonly codeRangeSizeMb?: number;
    readonly stackSizeMb?: number;
  };
}

export interface SpawnOptions<Args = unknown> {
  readonly args?: Args;
  /** Registers the process under this name before `init` runs; fails if the name is taken. */
  readonly name?: string;
  /** Links the new process to this pid before `init` runs (spawn_link). */
  readonly link?: Pid;
  /** Initial value of the trap-exits flag (default false). */
  readonly trapExits?: boolean;
  readonly mailbox?: MailboxOptions;
  /** `thread` runs the behavior (a ThreadBehavior) in a worker thread. Default `none`. */
  readonly isolation?: 'none' | 'thread';
  readonly thread?: ThreadSpawnOptions;
}

export type ProcessStatus = 'starting' | 'running' | 'waiting' | 'exiting' | 'exited';

export interface ProcessInfo {
  readonly pid: Pid;
  readonly name: string | undefined;
  /** `running` is handling a message (or holding for an async handler); `waiting` has nothing to do. */
  readonly status: ProcessStatus;
  readonly mailbox: MailboxInfo;
  readonly links: readonly Pid[];
  /** Monitors this process holds on others. */
  readonly monitors: readonly Pid[];
  /** Processes (or observers) monitoring this one. */
  readonly monitoredBy: number;
  readonly trapExits: boolean;
  readonly messagesHandled: number;
  readonly isolation: 'none' | 'thread';
  /** Rough bytes held by the process: its record, its mailbox buffers and queued messages, its state. */
  readonly memoryEstimateBytes: number;
}
