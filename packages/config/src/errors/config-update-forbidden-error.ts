import { FoundationError } from '@foundation/core';
import { CONFIG_ERROR_CODES } from './config-error-codes';
import { formatPath } from '../format-path';

/** 1.x `config_update_forbidden` (1401): the path is not on the update allow-list. */
export class ConfigUpdateForbiddenError extends FoundationError {
  readonly path: readonly string[];
  readonly updatablePaths: readonly (readonly string[])[];

  constructor(path: readonly string[], updatablePaths: readonly (readonly string[])[]) {
    const allowed = updatablePaths.length === 0 ? 'no path is updatable' : `updatable: ${updatablePaths.map(formatPath).join(', ')}`;
    super({
      type: 'config_update_forbidden',
      code: CONFIG_ERROR_CODES.updateForbidden,
      message: `config path ${formatPath(path)} may not be updated at runtime (${allowed})`,
      context: { path: [...path], updatablePaths: updatablePaths.map((entry) => [...entry]) },
    });
    this.path = Object.freeze([...path]);
    this.updatablePaths = Object.freeze(updatablePaths.map((entry) => Object.freeze([...entry])));
  }
}
