import { FoundationError } from '@foundation/core';
import { REGISTRY_ERROR_CODES } from './registry-error-codes';

/**
 * 1.x `deserialization_failed` (3102): bytes from a peer that are not a registry message (not
 * bytes, too large, not UTF-8, not JSON, an unknown protocol version). Nothing of it is merged.
 */
export class PeerDecodeError extends FoundationError {
  readonly peer: string;
  readonly reason: string;

  constructor(peer: string, reason: string) {
    super({
      type: 'deserialization_failed',
      code: REGISTRY_ERROR_CODES.deserializationFailed,
      message: `message from "${peer.slice(0, 100)}" does not decode: ${reason}`,
      context: { peer: peer.slice(0, 255), reason },
    });
    this.peer = peer;
    this.reason = reason;
  }
}
