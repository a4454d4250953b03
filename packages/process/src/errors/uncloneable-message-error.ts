import { PROCESS_ERROR_CODES } from './codes';
import { ProcessError } from './process-error';

/** What could not be copied to or from a worker thread. */
export type UncloneableKind = 'message' | 'call' | 'reply' | 'spawn-args';

/**
 * A value bound for another thread that structured clone cannot copy: a function, a symbol, an
 * object holding either, a class instance with private state. The clone error is the cause.
 * A message is dropped (a dead letter), a call fails with this error, and a reply that cannot
 * be copied reaches its caller as this error instead.
 *
 * With `node`, a call for a process on that node whose request the transport cannot encode
 * (channels' CBOR holds no function or symbol); the transport's error is the cause. Where the
 * called process runs, a worker thread or another node, the caller handles one error.
 */
export class UncloneableMessageError extends ProcessError {
  readonly target: string;
  readonly kind: UncloneableKind;
  /** The node the value was bound for; undefined for a worker thread. */
  readonly node: string | undefined;

  constructor(target: string, kind: UncloneableKind, cause: unknown, node?: string) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super({
      type: 'uncloneable_message',
      code: PROCESS_ERROR_CODES.uncloneableMessage,
      message:
        node === undefined
          ? `the ${kind} for ${target} cannot be copied to another thread: ${detail}`
          : `the ${kind} for ${target} cannot be encoded for node ${node}: ${detail}`,
      context: node === undefined ? { target, kind } : { target, kind, node },
      cause,
    });
    this.target = target;
    this.kind = kind;
    this.node = node;
  }
}
