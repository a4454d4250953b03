import { FoundationError } from '@foundation/core';
import { REGISTRY_ERROR_CODES } from './registry-error-codes';

/** Code 5603: a version range outside the supported syntax (see the README's "Version ranges"). */
export class InvalidVersionRangeError extends FoundationError {
  readonly range: string;
  readonly reason: string;

  constructor(range: unknown, reason: string) {
    const text = typeof range === 'string' ? range.slice(0, 100) : String(typeof range);
    super({
      type: 'invalid_version_range',
      code: REGISTRY_ERROR_CODES.invalidVersionRange,
      category: 'data',
      message: `invalid version range ${JSON.stringify(text)}: ${reason}`,
      context: { range: text, reason },
    });
    this.range = text;
    this.reason = reason;
  }
}
