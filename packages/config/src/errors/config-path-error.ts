import { FoundationError } from '@foundation/core';
import { CONFIG_ERROR_CODES } from './config-error-codes';

/** A path that is not a path: empty, too long, or with an empty or malformed segment (5406). */
export class ConfigPathError extends FoundationError {
  constructor(detail: string, received: unknown) {
    super({
      type: 'config_path_invalid',
      code: CONFIG_ERROR_CODES.invalidPath,
      category: 'config',
      subcategory: 'access',
      message: `invalid config path: ${detail}`,
      context: { received },
    });
  }
}
