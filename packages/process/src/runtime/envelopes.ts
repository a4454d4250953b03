// What a mailbox holds besides plain messages: call requests (with everything needed to reply),
// casts for behaviors that have `handleCast`, and messages with a transfer list for processes in
// worker threads. One class each, so the dispatcher tells them apart with `instanceof`, through
// the `is*` checks at the end: a plain message is whatever its sender passed, and `instanceof`
// runs a proxy's getPrototypeOf trap (and throws for a revoked proxy), so a bare `instanceof`
// would throw out of the run queue, an exit or an overflow for every process.
import type { TransferListItem } from 'node:worker_threads';
import type { DeadlineEntry } from '../core/deadline-queue';
import type { Pid } from '../core/pid';

export const CALLER_LOCAL = 0;
export const CALLER_REMOTE = 1;

/**
 * A call in flight. It is the mailbox entry, the deadline queue entry and the caller's pending
 * promise at once. `handleCall` never sees it: its `from` is an opaque ReplyHandle around it.
 */
export class CallEnvelope implements DeadlineEntry {
  /** True once answered, failed or timed out; later replies are dropped. */
  cancelled = false;
  resolve: ((value: unknown) => void) | null = null;
  reject: ((error: unknown) => void) | null = null;
  /** For a call that came from another node: where the reply goes. */
  replyNode: string | null = null;
  replyRef = 0;
  /** For a call that came from another node: the life of that node it came from (RemoteBridge.lifeOf). */
  replyLife = 0;
  /** For a call to another node: the node it went to (so node-down can fail it). */
  remoteNode: string | null = null;
  /** For a call a local process made to another node: that process, which drops the call if it exits first. */
  callerRecord: object | null = null;
  /** Set while the callee holds the call (async handler or deferred reply). */
  holder: object | null = null;
  transfer: readonly TransferListItem[] | undefined = undefined;
  /** The timeout the caller gave (0 without one), and whether the deadline queue holds this call. */
  timeoutMs = 0;
  inDeadlines = false;

  constructor(
    readonly caller: Pid | undefined,
    readonly request: unknown,
    /** The target, as text, for error messages. */
    readonly target: Pid | string,
    readonly origin: number,
  ) {}
}

export class CastEnvelope {
  constructor(readonly message: unknown) {}
}

/** A message with a transfer list, bound for a thread-isolated process. */
export class TransferEnvelope {
  constructor(
    readonly message: unknown,
    readonly transfer: readonly TransferListItem[],
    readonly cast: boolean,
  ) {}
}

/** A sender waiting for room in a full backpressure mailbox. */
export class WaitingSend {
  constructor(
    readonly message: unknown,
    readonly resolve: (() => void) | null,
    /** The sender's context, when the runtime carries contexts. */
    readonly context: unknown = undefined,
  ) {}
}

/** A mailbox entry with the context it was sent in (only when the runtime carries contexts). */
export class ContextEnvelope {
  constructor(
    readonly message: unknown,
    readonly context: unknown,
  ) {}
}

/**
 * `value instanceof type`, false where that throws: a value whose prototype chain cannot be read
 * is no envelope (envelopes are instances of the classes above, and nothing else).
 */
function instanceOf<T>(value: unknown, type: abstract new (...args: never[]) => T): value is T {
  try {
    return value instanceof type;
  } catch {
    return false;
  }
}

export const isCallEnvelope = (entry: unknown): entry is CallEnvelope => instanceOf(entry, CallEnvelope);
export const isCastEnvelope = (entry: unknown): entry is CastEnvelope => instanceOf(entry, CastEnvelope);
export const isTransferEnvelope = (entry: unknown): entry is TransferEnvelope => instanceOf(entry, TransferEnvelope);
export const isContextEnvelope = (entry: unknown): entry is ContextEnvelope => instanceOf(entry, ContextEnvelope);

/** The entry without its context. */
export function withoutContext(entry: unknown): unknown {
  return isContextEnvelope(entry) ? entry.message : entry;
}
