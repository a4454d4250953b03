import { FoundationError } from '@foundation/core';
import { FOUNDATION_ERROR_CODES } from './codes';

/** `startNode` was given options it cannot use; `option` names the first one at fault. */
export class InvalidOptionsError extends FoundationError {
  constructor(
    readonly option: string,
    reason: string,
    cause?: unknown,
  ) {
    super({
      ...(cause === undefined ? {} : { cause }),
      type: 'invalid_config_value',
      code: FOUNDATION_ERROR_CODES.invalidOptions,
      category: 'config',
      message: `startNode: ${option} ${reason}`,
      context: { option, reason },
    });
  }
}
