import { FoundationError } from '@foundation/core';
import { CONFIG_ERROR_CODES } from './config-error-codes';

/** The schema is not a Standard Schema v1 validator, or it validated asynchronously (5403). */
export class ConfigSchemaError extends FoundationError {
  constructor(detail: string, cause?: unknown) {
    super({
      type: 'config_schema_unsupported',
      code: CONFIG_ERROR_CODES.schemaUnsupported,
      category: 'config',
      subcategory: 'validation',
      message: `config schema: ${detail}`,
      cause,
    });
  }
}
