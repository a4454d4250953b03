import { FoundationError } from '@foundation/core';
import { CONTEXT_ERROR_CODES } from './codes';

/** Hop records that arrived from elsewhere (another node's flight recorder) do not decode. */
export class InvalidHopRecordsError extends FoundationError {
  constructor(reason: string, index?: number) {
    super({
      type: 'context_invalid_hop_records',
      code: CONTEXT_ERROR_CODES.invalidHopRecords,
      category: 'data',
      subcategory: 'serialization',
      severity: 'medium',
      retryStrategy: 'no_retry',
      message: index === undefined ? `hop records: ${reason}` : `hop record ${index}: ${reason}`,
      context: { reason, ...(index === undefined ? {} : { index }) },
    });
  }
}
