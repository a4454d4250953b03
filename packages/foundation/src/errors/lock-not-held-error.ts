import { FoundationError } from '@foundation/core';
import { FOUNDATION_ERROR_CODES } from './codes';

/** A lock operation needed the lock, and this holder no longer has it (expired or taken over). */
export class LockNotHeldError extends FoundationError {
  constructor(
    readonly lockName: string,
    readonly token: number,
  ) {
    super({
      type: 'lock_not_held',
      code: FOUNDATION_ERROR_CODES.lockNotHeld,
      category: 'system',
      message: `lock ${lockName} is no longer held with token ${token}`,
      context: { name: lockName, token },
    });
  }
}
