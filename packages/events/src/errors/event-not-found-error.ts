import { FoundationError } from '@foundation/core';
import { EVENT_ERROR_CODES } from './event-error-codes';

/** 1.x `data_not_found` (3401): no stored event has this id (never stored, or pruned). */
export class EventNotFoundError extends FoundationError {
  readonly id: number;

  constructor(id: number) {
    super({ type: 'data_not_found', code: EVENT_ERROR_CODES.notFound, message: `event ${id} not found`, context: { id } });
    this.id = id;
  }
}
