import { FoundationError } from '@foundation/core';
import { CHANNELS_ERROR_CODES } from './codes';

/**
 * The bounded queue for this peer and channel is full; wait for `drained` or use `sendAsync`.
 * As an error reply (`queue: 'replies'`): the replier's replies to `peer` (the requester) held
 * `limits.maxReplyBytes`, so it answered with this error instead of the reply.
 */
export class QueueFullError extends FoundationError {
  readonly peer: string;
  readonly channel: string;
  readonly queue: 'messages' | 'replies';

  constructor(peer: string, channel: string, queue: 'messages' | 'replies' = 'messages') {
    super({
      type: 'channels_queue_full',
      code: CHANNELS_ERROR_CODES.queueFull,
      category: 'system',
      subcategory: 'resources',
      retryStrategy: 'exponential_backoff',
      message: queue === 'messages' ? `queue to ${peer} on channel "${channel}" is full` : `replies waiting for ${peer} fill the reply bound; the request on channel "${channel}" was not answered`,
      context: { peer, channel, queue },
    });
    this.peer = peer;
    this.channel = channel;
    this.queue = queue;
  }
}
