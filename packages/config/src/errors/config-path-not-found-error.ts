import { FoundationError } from '@foundation/core';
import { formatPath } from '../format-path';
import { CONFIG_ERROR_CODES } from './config-error-codes';

/** 1.x `config_path_not_found` (1301): a path that leads nowhere in the current config. */
export class ConfigPathNotFoundError extends FoundationError {
  /** The path as an array of keys. */
  readonly path: readonly string[];

  constructor(path: readonly string[], detail?: string) {
    super({
      type: 'config_path_not_found',
      code: CONFIG_ERROR_CODES.pathNotFound,
      message: `config path ${formatPath(path)} not found${detail === undefined ? '' : `: ${detail}`}`,
      context: { path: [...path] },
    });
    this.path = Object.freeze([...path]);
  }
}
