import { PROCESS_ERROR_CODES } from './codes';
import { ProcessError } from './process-error';

/**
 * A bounded mailbox did not take a message: the `reject` policy refused it, a drop policy
 * dropped a call request (whose caller is told at once rather than left to time out), or a
 * `backpressure` mailbox already had `maxWaiting` messages waiting for room.
 */
export class MailboxFullError extends ProcessError {
  readonly target: string;
  readonly capacity: number;
  /** For `backpressure`: the bound on waiting messages that was reached. */
  readonly maxWaiting: number | undefined;

  constructor(target: string, capacity: number, policy: string, maxWaiting?: number) {
    super({
      type: 'mailbox_full',
      code: PROCESS_ERROR_CODES.mailboxFull,
      message:
        maxWaiting === undefined
          ? `mailbox of ${target} is full (capacity ${capacity}, policy ${policy})`
          : `mailbox of ${target} is full and ${maxWaiting} messages already wait for room (capacity ${capacity}, policy ${policy})`,
      retryStrategy: 'exponential_backoff',
      context: { target, capacity, policy, ...(maxWaiting === undefined ? {} : { maxWaiting }) },
    });
    this.target = target;
    this.capacity = capacity;
    this.maxWaiting = maxWaiting;
  }
}
