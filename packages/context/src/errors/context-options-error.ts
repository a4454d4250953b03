import { FoundationError } from '@foundation/core';
import { CONTEXT_ERROR_CODES } from './codes';

/** Options given to `createPropagator`, `configurePropagation`, `createFlightRecorder` or `parseHopRecords` are invalid. */
export class ContextOptionsError extends FoundationError {
  readonly option: string;

  constructor(option: string, reason: string) {
    super({
      type: 'context_invalid_options',
      code: CONTEXT_ERROR_CODES.invalidOptions,
      category: 'config',
      subcategory: 'validation',
      severity: 'medium',
      retryStrategy: 'no_retry',
      message: `option "${option}" ${reason}`,
      context: { option, reason },
    });
    this.option = option;
  }
}
