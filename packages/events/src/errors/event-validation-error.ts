import { FoundationError } from '@foundation/core';
import { EVENT_ERROR_CODES } from './event-error-codes';

/**
 * 1.x `validation_failed` (3203): a malformed event or query, or data larger than
 * `maxDataBytes` (then `size` and `maxBytes` say by how much).
 */
export class EventValidationError extends FoundationError {
  /** The field at fault: `type`, `data`, `correlationId`, `limit`... */
  readonly field: string;
  /**
   * For oversized data: its size in bytes (CBOR-encoded), and the limit. For data whose arrays
   * alone hold more items than the limit, a lower bound: it is refused before it is measured.
   */
  readonly size: number | undefined;
  readonly maxBytes: number | undefined;

  constructor(field: string, detail: string, sizes?: { readonly size: number; readonly maxBytes: number }) {
    super({
      type: 'validation_failed',
      code: EVENT_ERROR_CODES.validationFailed,
      message: `invalid event ${field}: ${detail}`,
      context: { field, ...(sizes === undefined ? {} : { size: sizes.size, maxBytes: sizes.maxBytes }) },
    });
    this.field = field;
    this.size = sizes?.size;
    this.maxBytes = sizes?.maxBytes;
  }
}
