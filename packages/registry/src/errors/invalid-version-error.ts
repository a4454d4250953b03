import { FoundationError } from '@foundation/core';
import { REGISTRY_ERROR_CODES } from './registry-error-codes';

/** Code 5602: a version that is not semantic versioning 2.0.0 (`1.4.2`, `2.0.0-rc.1+build.5`). */
export class InvalidVersionError extends FoundationError {
  readonly version: string;
  readonly reason: string;

  constructor(version: unknown, reason: string) {
    const text = typeof version === 'string' ? version.slice(0, 100) : String(typeof version);
    super({
      type: 'invalid_version',
      code: REGISTRY_ERROR_CODES.invalidVersion,
      category: 'data',
      message: `invalid version ${JSON.stringify(text)}: ${reason}`,
      context: { version: text, reason },
    });
    this.version = text;
    this.reason = reason;
  }
}
