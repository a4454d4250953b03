import { FoundationError } from '@foundation/core';
import { CONFIG_ERROR_CODES } from './config-error-codes';
import { formatPath } from '../format-path';

export type ConfigSecurityReason =
  /** A path segment or object key is `__proto__`, `prototype` or `constructor`. */
  | 'unsafe-key'
  /** A function, symbol, class instance, proxy, accessor property or symbol-keyed property. */
  | 'non-plain-value'
  /** An object that contains itself. */
  | 'circular-value';

/**
 * A path or value that could reach a prototype or run code: refused before anything is touched
 * (code 5401). Nothing in the config changes when this is thrown.
 */
export class ConfigSecurityError extends FoundationError {
  readonly reason: ConfigSecurityReason;
  /** Where the offending segment or value is, as far as it could be read. */
  readonly path: readonly string[];

  constructor(reason: ConfigSecurityReason, path: readonly string[], detail: string) {
    super({
      type: 'config_security_violation',
      code: CONFIG_ERROR_CODES.securityViolation,
      category: 'config',
      subcategory: 'security',
      severity: 'high',
      message: `refused for security at ${formatPath(path)}: ${detail}`,
      context: { reason, path: [...path] },
    });
    this.reason = reason;
    this.path = Object.freeze([...path]);
  }
}
