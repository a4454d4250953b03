import { FoundationError } from '@foundation/core';
import { EVENT_ERROR_CODES } from './event-error-codes';

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
      message: `an event subscriber failed on event ${eventId} (${eventType}): ${cause instanceof Error ? cause.message : String(cause)}`,
      context: { eventId, eventType },
      cause,
    });
    this.eventId = eventId;
    this.eventType = eventType;
  }
}
