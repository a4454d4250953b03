import { FoundationError } from '@foundation/core';
import { CHANNELS_ERROR_CODES } from './codes';

/** A payload (or header set) could not be encoded as CBOR. */
export class PayloadEncodingError extends FoundationError {
  readonly channel: string;

  constructor(channel: string, cause: unknown) {
    super({
      type: 'channels_payload_encoding',
      code: CHANNELS_ERROR_CODES.payloadEncoding,
      category: 'data',
      retryStrategy: 'no_retry',
      message: `payload for channel "${channel}" is not CBOR-encodable: ${cause instanceof Error ? cause.message : String(cause)}`,
      context: { channel },
      cause,
    });
    this.channel = channel;
  }
}
