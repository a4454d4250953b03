import { FoundationError } from '@foundation/core';
import { TELEMETRY_ERROR_CODES } from './codes';

/** Two sketches cannot be merged: their relative accuracy (bucket width) differs, so the merged sketch would not keep the error bound. */
export class IncompatibleSketchError extends FoundationError {
  constructor(message: string, context: Readonly<Record<string, unknown>> = {}) {
    super({
      type: 'telemetry_incompatible_sketch',
      code: TELEMETRY_ERROR_CODES.incompatibleSketch,
      category: 'data',
      subcategory: 'validation',
      severity: 'medium',
      retryStrategy: 'no_retry',
      message,
      context,
    });
  }
}
