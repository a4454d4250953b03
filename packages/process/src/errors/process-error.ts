import { FoundationError } from '@foundation/core';
import type { ErrorCategory, RetryStrategy, Severity } from '@foundation/core';

export interface ProcessErrorInit {
  readonly type: string;
  readonly code: number;
  readonly message: string;
  readonly category?: ErrorCategory;
  readonly severity?: Severity;
  readonly retryStrategy?: RetryStrategy;
  readonly context?: Readonly<Record<string, unknown>>;
  readonly cause?: unknown;
}

/**
 * The base of every error this package throws: a FoundationError with a code in 5700–5799.
 * Each concrete error has its own class and file; this one only fills in shared defaults.
 */
export class ProcessError extends FoundationError {
  constructor(init: ProcessErrorInit) {
    super({
      type: init.type,
      code: init.code,
      message: init.message,
      category: init.category ?? 'system',
      severity: init.severity ?? 'medium',
      retryStrategy: init.retryStrategy ?? 'no_retry',
      ...(init.context === undefined ? {} : { context: init.context }),
      ...(init.cause === undefined ? {} : { cause: init.cause }),
    });
  }
}
