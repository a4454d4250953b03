// Runtime options, their defaults and where each default comes from.
import type { Scheduler } from '@foundation/core';
import { InvalidOptionError } from '../errors/invalid-option-error';
import type { RemoteRouter } from '../remote/router';
import type { RunQueueDriver } from './driver';
import type { Pid } from '../core/pid';
import type { MailboxOptions, OverflowPolicy } from './types';

/** The telemetry port: the shape of @foundation/telemetry's `execute` (1.x `:telemetry.execute/3`). */
export interface TelemetrySink {
  execute(event: readonly string[], measurements: Readonly<Record<string, number>>, metadata: Readonly<Record<string, unknown>>): void;
}

/**
 * Why a message was not delivered: no such process, dropped by a full mailbox, its node is
 * unreachable, the behavior has no handler for it, the runtime stopped first (a `sendAfter`
 * that had not fired), it could not be copied to a thread-isolated process (or from one, when a
 * worker's `sendAfter` fell due: the letter's message is then undefined, as it never left the
 * worker) or encoded for another node by its transport (`uncloneable` both), or it was an exit signal to one of the runtime's own processes (`refused`: the system
 * process and the root supervisor end only with the runtime's shutdown; the letter's message is
 * the signal as an `exit` message).
 */
export type DeadLetterReason = 'noproc' | 'overflow' | 'noconnection' | 'unhandled' | 'shutdown' | 'uncloneable' | 'refused';

/** A message that could not be delivered (or was dropped), as the dead-letter hook sees it. */
export interface DeadLetter {
  /** The destination as text: a pid, a name, or `name@node`. */
  readonly to: string;
  readonly message: unknown;
  readonly reason: DeadLetterReason;
  readonly from: Pid | undefined;
}

export interface SchedulingOptions {
  /**
   * Reductions (one per message handled, one per message sent) one slice may spend before the
   * run queue yields to the event loop. Default 10,000. With `sliceMs` this is the BEAM's
   * reduction budget made for an event loop.
   */
  readonly sliceMessages?: number;
  /** Milliseconds of handler time per slice before yielding. Default 5. */
  readonly sliceMs?: number;
  /**
   * Reductions (messages handled plus messages sent) one process may spend before the next
   * runnable process gets its turn. Default 2,000 (the Foundation design's "yield every 2,000
   * reductions").
   */
  readonly processMessages?: number;
  /** A handler running at least this long is reported as `long-handler`. Default 10 ms (the design's "no blocking operation over 10 ms"). */
  readonly longHandlerMs?: number;
}

export interface ThreadOptions {
  /** Pool size; default `os.availableParallelism()`. */
  readonly size?: number;
  /** The worker entry file; default the package's own `thread/worker-main` next to this module. */
  readonly entry?: string | URL;
  /** Node flags for workers, e.g. `['--import', 'tsx']` to load TypeScript sources. */
  readonly execArgv?: readonly string[];
  /** Environment for workers (default: shared with the main thread). */
  readonly env?: Readonly<Record<string, string>>;
  /** Limits for every pool worker; a worker that exceeds them crashes and its processes exit. */
  readonly resourceLimits?: {
    readonly maxOldGenerationSizeMb?: number;
    readonly maxYoungGenerationSizeMb?: number;
    readonly codeRangeSizeMb?: number;
    readonly stackSizeMb?: number;
  };
  /** Unacknowledged messages the main thread lets a worker process have in flight. Default 256. */
  readonly window?: number;
  /**
   * Milliseconds a thread-isolated process has to start: from its spawn to the worker's report
   * that `init` finished (or failed), worker boot and module load included. Past it the process
   * exits with ThreadStartTimeoutError (`runtime.start` rejects with it). Default 30,000;
   * Infinity waits for ever.
   */
  readonly startTimeoutMs?: number;
  /**
   * Milliseconds a pool worker has to confirm a `kill` it was sent. Until it does, no new process
   * is placed on it (a process spinning in a synchronous loop keeps a worker from reading its
   * messages); past it the worker is terminated and the processes still on it exit with
   * WorkerCrashedError. Default 5,000.
   */
  readonly killTimeoutMs?: number;
}

/**
 * Bounds on what processes on other nodes can make this node hold. A link or a monitor from
 * another node is one signal naming any pid there, and each one this node accepts is an entry
 * it keeps (and a signal it sends when the local process exits), so a buggy peer could grow
 * them without end. Past a bound the link or monitor is refused, never accepted without being
 * recorded: the process that asked for it gets what it would get if the other side were gone,
 * an exit signal (for a link) or a `down` (for a monitor), with reason `system_limit` (the
 * BEAM's reason for a system limit reached), and the refusal is counted in
 * `stats().remoteLimitRefusals` and reported as telemetry `remote-limit`. `Infinity` lifts a
 * bound. The BEAM sets no such bounds; the defaults leave room for far more remote links and
 * monitors per process than supervision trees, worker pools and registries make, while capping
 * the entries one peer can make this node keep, and the exit signals one exit sends.
 */
export interface RemoteLimits {
  /**
   * Links one local process may have with processes on other nodes, whichever side made them
   * (a link is one entry on each side; a link the local process unlinked counts until the other
   * node acknowledges the unlink). A local `link` past it is refused too. Default 10,000.
   */
  readonly maxLinksPerProcess?: number;
  /** Monitors that processes on other nodes may have on one local process. Default 10,000. */
  readonly maxMonitorsPerProcess?: number;
  /**
   * Links with, and monitors by, the processes of one other node, across all local processes.
   * Default 100,000 (a peer that reaches it can still reach every other node's room).
   */
  readonly maxPerNode?: number;
}

export interface ResolvedRemoteLimits {
  readonly maxLinksPerProcess: number;
  readonly maxMonitorsPerProcess: number;
  readonly maxPerNode: number;
}

export const DEFAULT_REMOTE_LIMITS: ResolvedRemoteLimits = Object.freeze({
  maxLinksPerProcess: 10_000,
  maxMonitorsPerProcess: 10_000,
  maxPerNode: 100_000,
});

/**
 * Carries a request context (such as @foundation/context's) from where a message is sent to
 * where it is handled: the mailbox is a queue, so the handler otherwise runs in whatever
 * context the run queue happens to have.
 */
export interface ContextCarrier {
  /** The context of the code sending now, or undefined when there is none worth carrying. */
  capture(): unknown;
  /** Runs `fn` inside a context `capture` returned; with `undefined`, outside any context. */
  run<Result>(context: unknown, fn: () => Result): Result;
}

export interface RuntimeOptions {
  /** This node's id: part of every pid. 1–255 characters of `[A-Za-z0-9_.:@+/-]`. */
  readonly nodeId: string;
  /** Time for call timeouts, restart windows, shutdown timeouts, mailbox ages and slice budgets. Default the system clock. */
  readonly clock?: Scheduler;
  /** This runtime's incarnation (0..2^32-1), part of every pid: pids of an earlier incarnation of the node are not this one's. Default 0. */
  readonly creation?: number;
  /** How the run queue gets the CPU. Default the event loop (microtasks, setImmediate between slices). */
  readonly driver?: RunQueueDriver;
  readonly scheduling?: SchedulingOptions;
  /** Default timeout of `call`, in ms. Default 5,000 (gen_server's). */
  readonly callTimeoutMs?: number;
  /** The port to other nodes. Without one, messages to remote pids are dead letters and links and monitors to them report `noconnection`. */
  readonly router?: RemoteRouter;
  /** Bounds on the links and monitors other nodes can make this node hold (see RemoteLimits). */
  readonly remoteLimits?: RemoteLimits;
  readonly telemetry?: TelemetrySink;
  /** Sees every message that could not be delivered: to a dead pid, dropped by a full mailbox, to an unreachable node. */
  readonly onDeadLetter?: (letter: DeadLetter) => void;
  readonly threads?: ThreadOptions;
  /**
   * Carries the sender's context to the handler of every message, cast and call (not to worker
   * threads, and not exit or down signals). Default none: handlers run outside any context.
   */
  readonly context?: ContextCarrier;
  /** Restart intensity of the root supervisor. Default 3 restarts in 5 s. */
  readonly rootIntensity?: { readonly maxRestarts?: number; readonly periodMs?: number };
}

export interface ResolvedScheduling {
  readonly sliceMessages: number;
  readonly sliceMs: number;
  readonly processMessages: number;
  readonly longHandlerMs: number;
}

function describeValue(value: unknown): string {
  return typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean' ? String(value) : typeof value;
}

export function positiveInteger(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(option, `must be a positive integer (got ${describeValue(value)})`);
  }
  return value;
}

export function positiveNumber(option: string, value: unknown, fallback: number, allowInfinity = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0 || (!allowInfinity && !Number.isFinite(value))) {
    throw new InvalidOptionError(option, `must be a positive number${allowInfinity ? ' or Infinity' : ''} (got ${describeValue(value)})`);
  }
  return value;
}

export function nonNegativeNumber(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidOptionError(option, `must be a finite number ≥ 0 (got ${describeValue(value)})`);
  }
  return value;
}

export function resolveScheduling(options: SchedulingOptions | undefined): ResolvedScheduling {
  return {
    sliceMessages: positiveInteger('scheduling.sliceMessages', options?.sliceMessages, 10_000),
    sliceMs: positiveNumber('scheduling.sliceMs', options?.sliceMs, 5),
    processMessages: positiveInteger('scheduling.processMessages', options?.processMessages, 2_000),
    longHandlerMs: positiveNumber('scheduling.longHandlerMs', options?.longHandlerMs, 10),
  };
}

const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ['drop-oldest', 'drop-newest', 'reject', 'backpressure'];

/** Default bound on messages waiting at a full `backpressure` mailbox, as a multiple of its capacity. */
export const DEFAULT_WAITING_PER_CAPACITY = 10;

export interface ResolvedMailbox {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  readonly maxWaiting: number;
}

/** The default mailbox (unbounded), shared by every process that asks for nothing else. */
export const UNBOUNDED_MAILBOX: ResolvedMailbox = Object.freeze({ capacity: Number.POSITIVE_INFINITY, overflow: 'reject', maxWaiting: Number.POSITIVE_INFINITY });

export function resolveMailbox(options: MailboxOptions | undefined): ResolvedMailbox {
  if (options === undefined) return UNBOUNDED_MAILBOX;
  const capacity = options?.capacity === undefined ? Number.POSITIVE_INFINITY : options.capacity;
  if (capacity !== Number.POSITIVE_INFINITY) positiveInteger('mailbox.capacity', capacity, 1);
  const overflow = options?.overflow ?? 'reject';
  if (!OVERFLOW_POLICIES.includes(overflow)) throw new InvalidOptionError('mailbox.overflow', `must be one of ${OVERFLOW_POLICIES.join(', ')}`);
  let maxWaiting = Number.POSITIVE_INFINITY;
  if (overflow === 'backpressure') {
    const requested = options?.maxWaiting;
    if (requested !== Number.POSITIVE_INFINITY) maxWaiting = positiveInteger('mailbox.maxWaiting', requested, capacity * DEFAULT_WAITING_PER_CAPACITY);
  } else if (options?.maxWaiting !== undefined) {
    throw new InvalidOptionError('mailbox.maxWaiting', "applies only to overflow: 'backpressure'");
  }
  return { capacity, overflow, maxWaiting };
}

function limit(option: string, value: unknown, fallback: number): number {
  return value === Number.POSITIVE_INFINITY ? value : positiveInteger(option, value, fallback);
}

export function resolveRemoteLimits(options: RemoteLimits | undefined): ResolvedRemoteLimits {
  if (options === undefined) return DEFAULT_REMOTE_LIMITS;
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('remoteLimits', 'must be an object');
  return {
    maxLinksPerProcess: limit('remoteLimits.maxLinksPerProcess', options.maxLinksPerProcess, DEFAULT_REMOTE_LIMITS.maxLinksPerProcess),
    maxMonitorsPerProcess: limit('remoteLimits.maxMonitorsPerProcess', options.maxMonitorsPerProcess, DEFAULT_REMOTE_LIMITS.maxMonitorsPerProcess),
    maxPerNode: limit('remoteLimits.maxPerNode', options.maxPerNode, DEFAULT_REMOTE_LIMITS.maxPerNode),
  };
}
