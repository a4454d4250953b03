import { FoundationError } from '@foundation/core';
import { EVENT_ERROR_CODES } from './event-error-codes';

/**
 * 1.x `deserialization_failed` (3102): bytes that are not a serialized event. Raised for damaged
 * and hostile input alike, before anything is built from it; `offset` locates the problem.
 */
export class EventDeserializationError extends FoundationError {
  readonly offset: number | undefined;

  constructor(detail: string, offset?: number, cause?: unknown) {
    super({
      type: 'deserialization_failed',
      code: EVENT_ERROR_CODES.deserializationFailed,
      message: `cannot deserialize event: ${detail}${offset === undefined ? '' : ` (at byte ${offset})`}`,
      context: { ...(offset === undefined ? {} : { offset }) },
      cause,
    });
    this.offset = offset;
  }
}
