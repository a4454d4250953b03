import { FoundationError } from '@foundation/core';
import { CHANNELS_ERROR_CODES } from './codes';

/** The peer is not connected, or went down while a request or queued message waited for it. */
export class PeerUnavailableError extends FoundationError {
  readonly peer: string;

  constructor(peer: string, reason: string) {
    super({
      type: 'channels_peer_unavailable',
      code: CHANNELS_ERROR_CODES.peerUnavailable,
      category: 'external',
      subcategory: 'network',
      retryStrategy: 'exponential_backoff',
      message: `peer ${peer} is unavailable: ${reason}`,
      context: { peer, reason },
    });
    this.peer = peer;
  }
}
