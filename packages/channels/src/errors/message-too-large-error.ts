import { FoundationError } from '@foundation/core';
import { CHANNELS_ERROR_CODES } from './codes';

/** A payload encodes to more bytes than its channel's `maxMessageBytes`. */
export class MessageTooLargeError extends FoundationError {
  readonly channel: string;
  readonly bytes: number;
  readonly maxBytes: number;

  constructor(channel: string, bytes: number, maxBytes: number) {
    super({
      type: 'channels_message_too_large',
      code: CHANNELS_ERROR_CODES.messageTooLarge,
      category: 'data',
      retryStrategy: 'no_retry',
      message: `message of ${bytes} bytes exceeds maxMessageBytes ${maxBytes} of channel "${channel}"`,
      context: { channel, bytes, maxBytes },
    });
    this.channel = channel;
    this.bytes = bytes;
    this.maxBytes = maxBytes;
  }
}
