import { FoundationError } from '@foundation/core';
import { TELEMETRY_ERROR_CODES } from './codes';

/** Options out of range: a quantile outside [0, 1], a relative accuracy outside (0, 1), a non-positive series limit... */
export class InvalidOptionsError extends FoundationError {
  constructor(message: string, context: Readonly<Record<string, unknown>> = {}) {
    super({
      type: 'telemetry_invalid_options',
      code: TELEMETRY_ERROR_CODES.invalidOptions,
      category: 'config',
      subcategory: 'validation',
      severity: 'medium',
      retryStrategy: 'no_retry',
      message,
      context,
    });
  }
}
