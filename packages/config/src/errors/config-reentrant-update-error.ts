import { FoundationError } from '@foundation/core';
import { CONFIG_ERROR_CODES } from './config-error-codes';

/**
 * `update`, `updateMany`, `revert` or `reset` (or their safe forms) called while the schema was
 * validating a new config (5405). Updates from subscribers are fine (they are queued in
 * order); only the validator may not change the config it is validating.
 */
export class ConfigReentrantUpdateError extends FoundationError {
  constructor(operation: string) {
    super({
      type: 'config_update_reentrant',
      code: CONFIG_ERROR_CODES.reentrantUpdate,
      category: 'config',
      subcategory: 'runtime',
      message: `config ${operation} called from inside the schema's validation; the validator may not change the config`,
      context: { operation },
    });
  }
}
