import { FoundationError } from '@foundation/core';
import { REGISTRY_ERROR_CODES } from './registry-error-codes';

/** 1.x `resource_exhausted` (2201): this node already holds `limit` registrations. */
export class RegistryFullError extends FoundationError {
  readonly limit: number;

  constructor(limit: number) {
    super({
      type: 'resource_exhausted',
      code: REGISTRY_ERROR_CODES.resourceExhausted,
      message: `this node already holds ${limit} registrations (maxLocalServices)`,
      context: { limit },
    });
    this.limit = limit;
  }
}
