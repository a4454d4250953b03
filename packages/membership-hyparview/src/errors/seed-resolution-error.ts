import { FoundationError } from '@foundation/core';
import { MEMBERSHIP_ERROR_CODES } from './codes';

/** Seeds could not be resolved; reported as a `seed-error` event, the last good list stays in use. */
export class SeedResolutionError extends FoundationError {
  readonly seedName: string;

  constructor(name: string, reason: string, cause?: unknown) {
    super({
      type: 'membership_seed_resolution_failed',
      code: MEMBERSHIP_ERROR_CODES.seedResolution,
      category: 'external',
      severity: 'medium',
      retryStrategy: 'exponential_backoff',
      message: `seeds "${name}" could not be resolved: ${reason}`,
      context: { name, reason },
      cause,
    });
    this.seedName = name;
  }
}
