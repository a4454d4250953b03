import { FoundationError } from '@foundation/core';
import { CHANNELS_ERROR_CODES } from './codes';

/**
 * A payload (or header set) could not be encoded as CBOR, or, with `received`, one that node
 * `from` sent could not be decoded by node `to`, the node that builds this error.
 */
export class PayloadEncodingError extends FoundationError {
  readonly channel: string;

  constructor(channel: string, cause: unknown, received?: { from: string; to: string }) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super({
      type: 'channels_payload_encoding',
      code: CHANNELS_ERROR_CODES.payloadEncoding,
      category: 'data',
      retryStrategy: 'no_retry',
      message:
        received === undefined
          ? `payload for channel "${channel}" is not CBOR-encodable: ${reason}`
          : `payload for channel "${channel}" from node "${received.from}" could not be decoded at node "${received.to}": ${reason}`,
      context: received === undefined ? { channel } : { channel, from: received.from, to: received.to },
      cause,
    });
    this.channel = channel;
  }
}
