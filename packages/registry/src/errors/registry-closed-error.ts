import { FoundationError } from '@foundation/core';
import { REGISTRY_ERROR_CODES } from './registry-error-codes';

/** Code 5605: the registry was closed; it takes no registrations, answers no waits and no queries. */
export class RegistryClosedError extends FoundationError {
  constructor(operation: string) {
    super({
      type: 'registry_closed',
      code: REGISTRY_ERROR_CODES.registryClosed,
      category: 'system',
      message: `${operation}: the registry is closed`,
      context: { operation },
    });
  }
}
