// The Foundation 1.x error code table, carried over unchanged so that users of 1.x find the
// same codes and names. Codes are grouped by thousands: 1xxx config, 2xxx system, 3xxx data,
// 4xxx external; packages allocate their own ranges above 5000 (docs/architecture.md lists them).

export type Severity = 'low' | 'medium' | 'high' | 'critical';
export type ErrorCategory = 'config' | 'system' | 'data' | 'external' | 'unknown';
export type RetryStrategy = 'no_retry' | 'immediate' | 'fixed_delay' | 'exponential_backoff';

export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];
export const ERROR_CATEGORIES: readonly ErrorCategory[] = ['config', 'system', 'data', 'external', 'unknown'];
export const RETRY_STRATEGIES: readonly RetryStrategy[] = [
  'no_retry',
  'immediate',
  'fixed_delay',
  'exponential_backoff',
];

export interface ErrorCodeEntry {
  readonly code: number;
  readonly category: ErrorCategory;
  readonly subcategory: string;
  readonly severity: Severity;
}

function entry(code: number, category: ErrorCategory, subcategory: string, severity: Severity = 'medium'): ErrorCodeEntry {
  return Object.freeze({ code, category, subcategory, severity });
}

/** The 1.x table: error type name → code, category, subcategory and default severity. */
export const ERROR_CODES = Object.freeze({
  invalid_config_structure: entry(1101, 'config', 'structure'),
  missing_required_field: entry(1102, 'config', 'structure'),
  invalid_config_value: entry(1201, 'config', 'validation'),
  constraint_violation: entry(1202, 'config', 'validation'),
  range_error: entry(1203, 'config', 'validation'),
  config_not_found: entry(1301, 'config', 'access'),
  /** The name 1.x's Config service used for a missing path; same code as `config_not_found`. */
  config_path_not_found: entry(1301, 'config', 'access'),
  config_update_forbidden: entry(1401, 'config', 'runtime'),
  initialization_failed: entry(2101, 'system', 'initialization', 'high'),
  service_unavailable: entry(2102, 'system', 'initialization', 'high'),
  resource_exhausted: entry(2201, 'system', 'resources', 'high'),
  dependency_failed: entry(2301, 'system', 'dependencies', 'high'),
  internal_error: entry(2401, 'system', 'runtime', 'high'),
  serialization_failed: entry(3101, 'data', 'serialization'),
  deserialization_failed: entry(3102, 'data', 'serialization'),
  type_mismatch: entry(3201, 'data', 'validation'),
  format_error: entry(3202, 'data', 'validation'),
  validation_failed: entry(3203, 'data', 'validation'),
  invalid_input: entry(3204, 'data', 'validation'),
  data_corruption: entry(3301, 'data', 'integrity', 'critical'),
  data_not_found: entry(3401, 'data', 'access', 'low'),
  network_error: entry(4101, 'external', 'network'),
  external_service_error: entry(4201, 'external', 'service'),
  timeout: entry(4301, 'external', 'timeout'),
  authentication_failed: entry(4401, 'external', 'authentication', 'high'),
  unknown: entry(9999, 'unknown', 'unknown'),
} satisfies Record<string, ErrorCodeEntry>);

export type KnownErrorType = keyof typeof ERROR_CODES;

export const UNKNOWN_ERROR_CODE = 9999;

const typeByCode = new Map<number, KnownErrorType>();
for (const [name, value] of Object.entries(ERROR_CODES) as [KnownErrorType, ErrorCodeEntry][]) {
  // The first name listed for a code is its canonical name (config_not_found for 1301).
  if (!typeByCode.has(value.code)) typeByCode.set(value.code, name);
}

/** The table entry for an error type name, or undefined when the name is not in the 1.x table. */
export function lookupErrorType(type: string): ErrorCodeEntry | undefined {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, type) ? ERROR_CODES[type as KnownErrorType] : undefined;
}

/** The canonical 1.x type name for a code, or undefined for codes outside the table. */
export function errorTypeForCode(code: number): KnownErrorType | undefined {
  return typeByCode.get(code);
}

/** The category a code belongs to by its range; package ranges above 5000 are `unknown` here. */
export function categoryForCode(code: number): ErrorCategory {
  if (code >= 1000 && code < 2000) return 'config';
  if (code >= 2000 && code < 3000) return 'system';
  if (code >= 3000 && code < 4000) return 'data';
  if (code >= 4000 && code < 5000) return 'external';
  return 'unknown';
}

/**
 * The retry strategy 1.x inferred when none was given: timeouts and network errors back off
 * exponentially, external services are retried after a fixed delay, critical errors and
 * everything else are not retried.
 */
export function inferRetryStrategy(code: number, severity: Severity): RetryStrategy {
  if (severity === 'critical') return 'no_retry';
  if (code === ERROR_CODES.timeout.code || code === ERROR_CODES.network_error.code) return 'exponential_backoff';
  if (code === ERROR_CODES.external_service_error.code) return 'fixed_delay';
  return 'no_retry';
}

/** 1.x `retry_delay/2`: exponential min(1000·2^attempt, 30000) ms, fixed 1000 ms, immediate 0. */
export function retryDelayFor(strategy: RetryStrategy, attempt: number): number {
  switch (strategy) {
    case 'exponential_backoff': {
      // NaN and attempts below 0 count as the first; Infinity, like every large attempt, as the cap.
      const safeAttempt = attempt > 0 ? Math.floor(attempt) : 0;
      // 2^5 · 1000 already exceeds the cap; clamping the exponent avoids overflow to Infinity.
      return Math.min(1000 * 2 ** Math.min(safeAttempt, 16), 30_000);
    }
    case 'fixed_delay':
      return 1000;
    case 'immediate':
      return 0;
    case 'no_retry':
      return Number.POSITIVE_INFINITY;
  }
}
