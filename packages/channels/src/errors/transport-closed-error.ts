import { FoundationError } from '@foundation/core';
import { CHANNELS_ERROR_CODES } from './codes';

/** The transport was closed (or is closing); nothing more is sent or received. */
export class TransportClosedError extends FoundationError {
  constructor(nodeId: string) {
    super({
      type: 'channels_transport_closed',
      code: CHANNELS_ERROR_CODES.transportClosed,
      category: 'system',
      retryStrategy: 'no_retry',
      message: `transport of ${nodeId} is closed`,
      context: { nodeId },
    });
  }
}
