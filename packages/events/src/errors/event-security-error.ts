import { FoundationError } from '@foundation/core';
import { EVENT_ERROR_CODES } from './event-error-codes';

/**
 * A key in event data that could reach a prototype (`__proto__`, `constructor`, `prototype`),
 * in data given to `newEvent` or `store` or in bytes being decoded (5501). Refused before the
 * event is built or stored.
 */
export class EventSecurityError extends FoundationError {
  /** Where the key is inside the data, as far as it could be read. */
  readonly path: readonly string[];

  constructor(path: readonly string[], detail: string) {
    super({
      type: 'event_security_violation',
      code: EVENT_ERROR_CODES.securityViolation,
      category: 'data',
      subcategory: 'security',
      severity: 'high',
      message: `event data refused for security at ${path.length === 0 ? '(root)' : path.join('.')}: ${detail}`,
      context: { path: [...path] },
    });
    this.path = Object.freeze([...path]);
  }
}
