import { FoundationError } from '@foundation/core';
import { EVENT_ERROR_CODES } from './event-error-codes';

/**
 * What a subscriber threw, as text. A subscriber may throw anything: a value String() cannot
 * convert (no usable toString, a revoked proxy) or an Error whose message getter throws would
 * make building this report throw, and the failure would go unreported.
 */
function describeCause(cause: unknown): string {
  try {
    return cause instanceof Error ? String(cause.message) : String(cause);
  } catch {
    return 'a value that cannot be shown as text';
  }
}

/**
 * A live subscriber threw, or its promise rejected (5505). Reported to `onSubscriberError`; the
 * event is stored and the other subscribers still receive it.
 */
export class EventSubscriberError extends FoundationError {
  readonly eventId: number;
  readonly eventType: string;

  constructor(eventId: number, eventType: string, cause: unknown) {
    super({
      type: 'event_subscriber_failed',
      code: EVENT_ERROR_CODES.subscriberFailed,
      category: 'system',
      subcategory: 'runtime',
      message: `an event subscriber failed on event ${eventId} (${eventType}): ${describeCause(cause)}`,
      context: { eventId, eventType },
      cause,
    });
    this.eventId = eventId;
    this.eventType = eventType;
  }
}
