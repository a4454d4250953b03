import { FoundationError } from '@foundation/core';
import { REGISTRY_ERROR_CODES } from './registry-error-codes';

/**
 * 1.x `validation_failed` (3203): an option with the wrong shape, or a value over a limit
 * (metadata larger than `maxMetadataBytes`, more capabilities than `maxCapabilities`...). For a
 * limit, `limit` and `actual` say by how much.
 */
export class RegistryValidationError extends FoundationError {
  /** The option at fault: `metadata`, `capabilities`, `target`, `health.intervalMs`... */
  readonly field: string;
  readonly limit: number | undefined;
  readonly actual: number | undefined;

  constructor(field: string, detail: string, sizes?: { readonly limit: number; readonly actual: number }) {
    super({
      type: 'validation_failed',
      code: REGISTRY_ERROR_CODES.validationFailed,
      message: `invalid ${field}: ${detail}`,
      context: { field, ...(sizes === undefined ? {} : { limit: sizes.limit, actual: sizes.actual }) },
    });
    this.field = field;
    this.limit = sizes?.limit;
    this.actual = sizes?.actual;
  }
}
