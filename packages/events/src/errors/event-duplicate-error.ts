import { FoundationError } from '@foundation/core';
import { EVENT_ERROR_CODES } from './event-error-codes';

/** An event whose id is already stored, or appears twice in one batch (5502). Nothing was stored. */
export class EventDuplicateError extends FoundationError {
  readonly id: number;

  constructor(id: number) {
    super({
      type: 'event_duplicate_id',
      code: EVENT_ERROR_CODES.duplicateId,
      category: 'data',
      subcategory: 'integrity',
      message: `event ${id} is already stored`,
      context: { id },
    });
    this.id = id;
  }
}
