import { FoundationError } from '@foundation/core';
import { CONTEXT_ERROR_CODES } from './codes';
import { describeValue } from './describe-value';

/**
 * A value that a context cannot hold: a well-known field of the wrong type or size
 * (`correlationId` that is not a short printable string, a negative `hops`...), a baggage key
 * that is not an HTTP token, or baggage metadata outside the W3C grammar. Thrown on the sending
 * side only; the receiving side (`extract`) never throws and drops bad input instead.
 */
export class InvalidContextValueError extends FoundationError {
  readonly key: string;

  constructor(key: string, reason: string, value?: unknown) {
    super({
      type: 'context_invalid_value',
      code: CONTEXT_ERROR_CODES.invalidValue,
      category: 'data',
      subcategory: 'validation',
      severity: 'medium',
      retryStrategy: 'no_retry',
      message: `context value "${key}" ${reason}`,
      context: { key, reason, value: describeValue(value) },
    });
    this.key = key;
  }
}
