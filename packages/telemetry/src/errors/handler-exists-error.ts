import { FoundationError } from '@foundation/core';
import { TELEMETRY_ERROR_CODES } from './codes';

/** `attach` was called with a handler id that is already attached (as :telemetry's `{error, already_exists}`). */
export class HandlerExistsError extends FoundationError {
  constructor(message: string, context: Readonly<Record<string, unknown>> = {}) {
    super({
      type: 'telemetry_handler_exists',
      code: TELEMETRY_ERROR_CODES.handlerExists,
      category: 'config',
      subcategory: 'runtime',
      severity: 'medium',
      retryStrategy: 'no_retry',
      message,
      context,
    });
  }
}
