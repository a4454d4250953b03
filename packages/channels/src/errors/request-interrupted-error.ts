import { FoundationError } from '@foundation/core';
import { CHANNELS_ERROR_CODES } from './codes';

/**
 * The peer went down while a request to it was pending. The request may have reached it and been
 * handled; only the reply is known to be lost. Retry only what is safe to do twice (idempotent,
 * or de-duplicated by the receiver).
 */
export class RequestInterruptedError extends FoundationError {
  readonly peer: string;

  constructor(peer: string, reason: string) {
    super({
      type: 'channels_request_interrupted',
      code: CHANNELS_ERROR_CODES.requestInterrupted,
      category: 'external',
      subcategory: 'network',
      retryStrategy: 'no_retry',
      message: `request to ${peer} interrupted, outcome unknown: ${reason}`,
      context: { peer, reason },
    });
    this.peer = peer;
  }
}
