import { FoundationError } from '@foundation/core';
import { REGISTRY_ERROR_CODES } from './registry-error-codes';

/** 1.x `timeout` (4301): `waitFor`, a health check or a wait on the consensus log ran out of time. */
export class RegistryTimeoutError extends FoundationError {
  readonly operation: string;
  readonly timeoutMs: number;

  constructor(operation: string, timeoutMs: number, detail?: string) {
    super({
      type: 'timeout',
      code: REGISTRY_ERROR_CODES.timeout,
      message: `${operation} did not complete within ${timeoutMs} ms${detail === undefined ? '' : `: ${detail}`}`,
      context: { operation, timeoutMs },
    });
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}
