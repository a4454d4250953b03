import { FoundationError } from '@foundation/core';
import { EVENT_ERROR_CODES } from './event-error-codes';

/** The column that holds a row's place in a query's order: its sequence number, its id, or its timestamp. */
export type EventPlaceColumn = 'sequence' | 'id' | 'timestamp';

/**
 * 1.x `data_corruption` (3301): a stored event that no longer decodes; the cause says why. It
 * names the row by its id (undefined when the id itself is not one an event has) and, when read
 * in the order of storage, by its sequence number there. `place` is set when what is damaged is
 * the row's place in the query's order: no cursor can be past such a row, so a page cannot leave
 * it out (`skipCorrupt`) and go on.
 */
export class EventDataCorruptionError extends FoundationError {
  readonly id: number | undefined;
  /** The row's sequence number in the order of storage, when it was read in that order and has one. */
  readonly sequence: number | undefined;
  /** The damaged column that holds the row's place in the query's order, when that is the damage. */
  readonly place: EventPlaceColumn | undefined;

  constructor(id: number | undefined, detail: string, cause?: unknown, sequence?: number, place?: EventPlaceColumn) {
    super({
      type: 'data_corruption',
      code: EVENT_ERROR_CODES.dataCorruption,
      message: `stored event ${id === undefined ? '(unknown id)' : id}${sequence === undefined ? '' : ` (number ${sequence} in the order of storage)`} is corrupt: ${detail}`,
      context: { ...(id === undefined ? {} : { id }), ...(sequence === undefined ? {} : { sequence }), ...(place === undefined ? {} : { place }) },
      cause,
    });
    this.id = id;
    this.sequence = sequence;
    this.place = place;
  }
}
