import { FoundationError } from '@foundation/core';
import { MEMBERSHIP_ERROR_CODES } from './codes';

/** An option of `createMembership` (or of a preset, a seed provider) is invalid. */
export class MembershipConfigError extends FoundationError {
  readonly field: string;

  constructor(field: string, problem: string) {
    super({
      type: 'membership_invalid_config',
      code: MEMBERSHIP_ERROR_CODES.invalidConfig,
      category: 'config',
      severity: 'high',
      retryStrategy: 'no_retry',
      message: `membership option "${field}" ${problem}`,
      context: { field, problem },
    });
    this.field = field;
  }
}
