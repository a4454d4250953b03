import { FoundationError } from '@foundation/core';
import { CONFIG_ERROR_CODES } from './config-error-codes';

export type ConfigSourceKind = 'file' | 'environment';

/** The JSON file or the environment could not be read or parsed (5402); the cause says why. */
export class ConfigSourceError extends FoundationError {
  readonly source: ConfigSourceKind;
  /** The file path or the environment variable's name. */
  readonly location: string;

  constructor(source: ConfigSourceKind, location: string, detail: string, cause?: unknown) {
    super({
      type: 'config_source_failed',
      code: CONFIG_ERROR_CODES.sourceFailed,
      category: 'config',
      subcategory: 'source',
      message: `config ${source === 'file' ? 'file' : 'environment variable'} ${location}: ${detail}`,
      context: { source, location },
      cause,
    });
    this.source = source;
    this.location = location;
  }
}
