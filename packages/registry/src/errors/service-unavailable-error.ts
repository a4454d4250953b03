import { FoundationError } from '@foundation/core';
import { REGISTRY_ERROR_CODES } from './registry-error-codes';

/**
 * 1.x `service_unavailable` (2102): `route` found registered instances, but none it may route to
 * (all unhealthy, or none with a positive weight for `weighted`).
 */
export class ServiceUnavailableError extends FoundationError {
  readonly description: string;
  readonly registered: number;

  constructor(description: string, registered: number) {
    super({
      type: 'service_unavailable',
      code: REGISTRY_ERROR_CODES.serviceUnavailable,
      message: `no usable instance of ${description} (${registered} registered, none healthy or degraded)`,
      context: { description, registered },
    });
    this.description = description;
    this.registered = registered;
  }
}
