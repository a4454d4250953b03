import { FoundationError } from '@foundation/core';
import { TELEMETRY_ERROR_CODES } from './codes';

/** Measurements that are not an object, or a sample value that is not a finite number where one is required (a sketch, a gauge). */
export class InvalidMeasurementError extends FoundationError {
  constructor(message: string, context: Readonly<Record<string, unknown>> = {}) {
    super({
      type: 'telemetry_invalid_measurement',
      code: TELEMETRY_ERROR_CODES.invalidMeasurement,
      category: 'data',
      subcategory: 'validation',
      severity: 'medium',
      retryStrategy: 'no_retry',
      message,
      context,
    });
  }
}
