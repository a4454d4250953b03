import { FoundationError } from '@foundation/core';
import { EVENT_ERROR_CODES } from './event-error-codes';

/** 1.x `data_corruption` (3301): a stored event that no longer decodes; the cause says why. */
export class EventDataCorruptionError extends FoundationError {
  readonly id: number | undefined;

  constructor(id: number | undefined, detail: string, cause?: unknown) {
    super({
      type: 'data_corruption',
      code: EVENT_ERROR_CODES.dataCorruption,
      message: `stored event ${id === undefined ? '(unknown id)' : id} is corrupt: ${detail}`,
      context: { ...(id === undefined ? {} : { id }) },
      cause,
    });
    this.id = id;
  }
}
