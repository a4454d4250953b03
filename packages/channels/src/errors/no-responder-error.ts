import { FoundationError } from '@foundation/core';
import { CHANNELS_ERROR_CODES } from './codes';

/** The peer received the request but has no `onRequest` handler for its channel. */
export class NoResponderError extends FoundationError {
  constructor(peer: string, channel: string) {
    super({
      type: 'channels_no_responder',
      code: CHANNELS_ERROR_CODES.noResponder,
      category: 'system',
      retryStrategy: 'no_retry',
      message: `${peer} has no request handler on channel "${channel}"`,
      context: { peer, channel },
    });
  }
}
