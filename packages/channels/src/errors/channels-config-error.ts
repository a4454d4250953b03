import { FoundationError } from '@foundation/core';
import { CHANNELS_ERROR_CODES } from './codes';

/** Transport or channel options are invalid. Thrown by `createTransport`; never retried. */
export class ChannelsConfigError extends FoundationError {
  readonly field: string;

  constructor(field: string, message: string) {
    super({
      type: 'channels_invalid_config',
      code: CHANNELS_ERROR_CODES.invalidConfig,
      category: 'config',
      severity: 'high',
      retryStrategy: 'no_retry',
      message: `${field}: ${message}`,
      context: { field },
    });
    this.field = field;
  }
}
