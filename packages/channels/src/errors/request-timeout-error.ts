import { FoundationError } from '@foundation/core';
import { CHANNELS_ERROR_CODES } from './codes';

/** A request got no reply within its timeout. The peer may still have handled it. */
export class RequestTimeoutError extends FoundationError {
  readonly peer: string;
  readonly channel: string;
  readonly timeoutMs: number;

  constructor(peer: string, channel: string, timeoutMs: number) {
    super({
      type: 'channels_request_timeout',
      code: CHANNELS_ERROR_CODES.requestTimeout,
      category: 'external',
      subcategory: 'timeout',
      retryStrategy: 'exponential_backoff',
      message: `no reply from ${peer} on "${channel}" within ${timeoutMs} ms`,
      context: { peer, channel, timeoutMs },
    });
    this.peer = peer;
    this.channel = channel;
    this.timeoutMs = timeoutMs;
  }
}
