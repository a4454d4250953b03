import { PROCESS_ERROR_CODES } from './codes';
import { ProcessError } from './process-error';

/** A call got no reply within its timeout. A reply that arrives later is dropped. */
export class CallTimeoutError extends ProcessError {
  readonly target: string;
  readonly timeoutMs: number;

  constructor(target: string, timeoutMs: number) {
    super({
      type: 'call_timeout',
      code: PROCESS_ERROR_CODES.callTimeout,
      message: `call to ${target} got no reply within ${timeoutMs} ms`,
      category: 'external',
      retryStrategy: 'exponential_backoff',
      context: { target, timeoutMs },
    });
    this.target = target;
    this.timeoutMs = timeoutMs;
  }
}
