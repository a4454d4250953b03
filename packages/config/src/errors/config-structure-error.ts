import { FoundationError } from '@foundation/core';
import { CONFIG_ERROR_CODES } from './config-error-codes';

/** 1.x `invalid_config_structure` (1101): defaults or a source whose root is not a plain object. */
export class ConfigStructureError extends FoundationError {
  constructor(source: string, detail: string) {
    super({
      type: 'invalid_config_structure',
      code: CONFIG_ERROR_CODES.invalidStructure,
      message: `${source}: ${detail}`,
      context: { source },
    });
  }
}
