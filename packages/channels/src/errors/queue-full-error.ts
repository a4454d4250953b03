import { FoundationError } from '@foundation/core';
import { CHANNELS_ERROR_CODES } from './codes';

/** The bounded queue for this peer and channel is full; wait for `drained` or use `sendAsync`. */
export class QueueFullError extends FoundationError {
  readonly peer: string;
  readonly channel: string;

  constructor(peer: string, channel: string) {
    super({
      type: 'channels_queue_full',
      code: CHANNELS_ERROR_CODES.queueFull,
      category: 'system',
      subcategory: 'resources',
      retryStrategy: 'exponential_backoff',
      message: `queue to ${peer} on channel "${channel}" is full`,
      context: { peer, channel },
    });
    this.peer = peer;
    this.channel = channel;
  }
}
