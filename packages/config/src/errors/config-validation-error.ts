import { FoundationError } from '@foundation/core';
import { CONFIG_ERROR_CODES } from './config-error-codes';
import { formatPath } from '../format-path';

/** One problem the validator (or the plain-data rules) found, at a path of the whole config. */
export interface ConfigIssue {
  readonly path: readonly string[];
  readonly message: string;
  /** The validator's own code for the issue when it gives one (zod: `too_big`, `invalid_type`...). */
  readonly code?: string;
}

export interface ConfigValidationErrorOptions {
  /** The path being updated, or undefined when a whole config was validated. */
  readonly path: readonly string[] | undefined;
  readonly issues: readonly ConfigIssue[];
  /** True when every issue is a value out of its range: the error is then 1.x `range_error` (1203). */
  readonly range?: boolean;
  /** Where the offending values came from, e.g. `environment variable FOUNDATION_DEV__PORT`. */
  readonly origins?: readonly string[];
  readonly cause?: unknown;
}

/**
 * 1.x `invalid_config_value` (1201), or `range_error` (1203) when every issue is an out-of-range
 * value: a value the validator rejected. The config is unchanged when this is thrown.
 */
export class ConfigValidationError extends FoundationError {
  readonly path: readonly string[] | undefined;
  readonly issues: readonly ConfigIssue[];

  constructor(options: ConfigValidationErrorOptions) {
    const range = options.range === true;
    const where = options.path === undefined ? 'config' : `value for config path ${formatPath(options.path)}`;
    const samePath = (issuePath: readonly string[]): boolean =>
      options.path !== undefined && issuePath.length === options.path.length && issuePath.every((segment, index) => segment === options.path![index]);
    const details = options.issues
      .slice(0, 10)
      .map((issue) => (samePath(issue.path) ? issue.message : `${formatPath(issue.path)}: ${issue.message}`))
      .join('; ');
    const more = options.issues.length > 10 ? ` (and ${options.issues.length - 10} more)` : '';
    const origins = options.origins === undefined || options.origins.length === 0 ? '' : ` [from ${options.origins.join(', ')}]`;
    super({
      type: range ? 'range_error' : 'invalid_config_value',
      code: range ? CONFIG_ERROR_CODES.rangeError : CONFIG_ERROR_CODES.invalidValue,
      message: `invalid ${where}: ${details}${more}${origins}`,
      context: {
        ...(options.path === undefined ? {} : { path: [...options.path] }),
        issues: options.issues.slice(0, 50).map((issue) => ({ ...issue, path: [...issue.path] })),
        ...(options.origins === undefined ? {} : { origins: [...options.origins] }),
      },
      cause: options.cause,
    });
    this.path = options.path === undefined ? undefined : Object.freeze([...options.path]);
    this.issues = Object.freeze(options.issues.map((issue) => Object.freeze({ ...issue, path: Object.freeze([...issue.path]) })));
  }
}
