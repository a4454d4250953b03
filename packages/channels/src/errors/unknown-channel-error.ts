import { FoundationError } from '@foundation/core';
import { CHANNELS_ERROR_CODES } from './codes';

/** A channel name that this transport was not configured with (a programming error). */
export class UnknownChannelError extends FoundationError {
  readonly channel: string;

  constructor(channel: string, known: readonly string[]) {
    super({
      type: 'channels_unknown_channel',
      code: CHANNELS_ERROR_CODES.unknownChannel,
      category: 'config',
      severity: 'medium',
      retryStrategy: 'no_retry',
      message: `unknown channel "${channel}" (configured: ${known.join(', ')})`,
      context: { channel, known: [...known] },
    });
    this.channel = channel;
  }
}
