import { FoundationError } from '@foundation/core';
import { EVENT_ERROR_CODES } from './event-error-codes';

/**
 * 1.x `resource_exhausted` (2201): the store has no id left to give a new event, because its
 * storage already holds `Number.MAX_SAFE_INTEGER` (ids above it would not be exact). Only a file
 * whose ids were set from outside can get there: foreign events above `MAX_FOREIGN_EVENT_ID` are
 * refused. Nothing was made; no id is ever repeated.
 */
export class EventIdsExhaustedError extends FoundationError {
  /** The highest id the store has handed out or stored. */
  readonly highestId: number;

  constructor(highestId: number) {
    super({
      type: 'resource_exhausted',
      code: EVENT_ERROR_CODES.idsExhausted,
      message: `no event ids are left: this store has reached id ${highestId}, the largest safe integer`,
      context: { highestId },
    });
    this.highestId = highestId;
  }
}
