import { FoundationError } from '@foundation/core';
import { TELEMETRY_ERROR_CODES } from './codes';

/** A metrics snapshot or sketch snapshot that does not decode. Snapshots come from other nodes and are treated as hostile. */
export class InvalidSnapshotError extends FoundationError {
  constructor(message: string, context: Readonly<Record<string, unknown>> = {}) {
    super({
      type: 'telemetry_invalid_snapshot',
      code: TELEMETRY_ERROR_CODES.invalidSnapshot,
      category: 'data',
      subcategory: 'serialization',
      severity: 'medium',
      retryStrategy: 'no_retry',
      message,
      context,
    });
  }
}
