import { FoundationError } from '@foundation/core';
import { TELEMETRY_ERROR_CODES } from './codes';

/** A metric definition that is incomplete or contradictory, clashes with another metric, or has a name or tags that the Prometheus exposition cannot carry (set `prometheus: false` to keep such a metric out of it). */
export class InvalidMetricDefinitionError extends FoundationError {
  constructor(message: string, context: Readonly<Record<string, unknown>> = {}) {
    super({
      type: 'telemetry_invalid_metric_definition',
      code: TELEMETRY_ERROR_CODES.invalidMetricDefinition,
      category: 'config',
      subcategory: 'validation',
      severity: 'medium',
      retryStrategy: 'no_retry',
      message,
      context,
    });
  }
}
