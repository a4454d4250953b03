import { FoundationError } from '@foundation/core';
import { EVENT_ERROR_CODES } from './event-error-codes';

/** 1.x `serialization_failed` (3101): an event that cannot be encoded. */
export class EventSerializationError extends FoundationError {
  constructor(detail: string, cause?: unknown) {
    super({ type: 'serialization_failed', code: EVENT_ERROR_CODES.serializationFailed, message: `cannot serialize event: ${detail}`, cause });
  }
}
