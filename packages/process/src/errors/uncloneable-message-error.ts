import { PROCESS_ERROR_CODES } from './codes';
import { ProcessError } from './process-error';

/** What could not be copied to or from a worker thread. */
export type UncloneableKind = 'message' | 'call' | 'reply' | 'spawn-args';

/**
 * A value bound for another thread that structured clone cannot copy: a function, a symbol, an
 * object holding either, a class instance with private state. The clone error is the cause.
 * A message is dropped (a dead letter), a call fails with this error, and a reply that cannot
 * be copied reaches its caller as this error instead.
 */
export class UncloneableMessageError extends ProcessError {
  readonly target: string;
  readonly kind: UncloneableKind;

  constructor(target: string, kind: UncloneableKind, cause: unknown) {
    super({
      type: 'uncloneable_message',
      code: PROCESS_ERROR_CODES.uncloneableMessage,
      message: `the ${kind} for ${target} cannot be copied to another thread: ${cause instanceof Error ? cause.message : String(cause)}`,
      context: { target, kind },
      cause,
    });
    this.target = target;
    this.kind = kind;
  }
}
