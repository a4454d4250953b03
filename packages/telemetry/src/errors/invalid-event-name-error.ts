import { FoundationError } from '@foundation/core';
import { TELEMETRY_ERROR_CODES } from './codes';

/** An event name that is not a non-empty array of non-empty strings. Thrown by `execute`, `attach`, `span` and the `emit` functions: a programming error, reported where it is made. */
export class InvalidEventNameError extends FoundationError {
  constructor(message: string, context: Readonly<Record<string, unknown>> = {}) {
    super({
      type: 'telemetry_invalid_event_name',
      code: TELEMETRY_ERROR_CODES.invalidEventName,
      category: 'data',
      subcategory: 'validation',
      severity: 'medium',
      retryStrategy: 'no_retry',
      message,
      context,
    });
  }
}
