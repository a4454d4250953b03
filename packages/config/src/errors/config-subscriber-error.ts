import { FoundationError } from '@foundation/core';
import { CONFIG_ERROR_CODES } from './config-error-codes';

/**
 * What a subscriber threw, as text. It may be anything, and turning it into text may itself throw
 * (an object without a prototype, a throwing toString or message): that must not stop the report.
 */
function describeCause(cause: unknown): string {
  try {
    return cause instanceof Error ? String(cause.message) : String(cause);
  } catch {
    return 'a thrown value that cannot be shown as text';
  }
}

/**
 * A subscriber threw, or the promise it returned rejected (5404). The error is reported to
 * `onSubscriberError`; the update that triggered it has already happened and other subscribers
 * still receive the notification.
 */
export class ConfigSubscriberError extends FoundationError {
  /** The notification the subscriber was handling. */
  readonly notification: string;

  constructor(notification: string, cause: unknown) {
    super({
      type: 'config_subscriber_failed',
      code: CONFIG_ERROR_CODES.subscriberFailed,
      category: 'config',
      subcategory: 'runtime',
      message: `a config subscriber failed on ${notification}: ${describeCause(cause)}`,
      context: { notification },
      cause,
    });
    this.notification = notification;
  }
}
