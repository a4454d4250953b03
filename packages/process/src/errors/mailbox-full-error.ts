import { PROCESS_ERROR_CODES } from './codes';
import { ProcessError } from './process-error';

/**
 * A bounded mailbox did not take a message: the `reject` policy refused it, or a drop policy
 * dropped a call request (whose caller is told at once rather than left to time out).
 */
export class MailboxFullError extends ProcessError {
  readonly target: string;
  readonly capacity: number;

  constructor(target: string, capacity: number, policy: string) {
    super({
      type: 'mailbox_full',
      code: PROCESS_ERROR_CODES.mailboxFull,
      message: `mailbox of ${target} is full (capacity ${capacity}, policy ${policy})`,
      retryStrategy: 'exponential_backoff',
      context: { target, capacity, policy },
    });
    this.target = target;
    this.capacity = capacity;
  }
}
