import { FoundationError } from '@foundation/core';
import { REGISTRY_ERROR_CODES } from './registry-error-codes';

/**
 * Code 5604: a message from a peer that decoded but breaks the protocol or its bounds (a field
 * of the wrong type, an invalid name, too many entries, a version out of range, an entry for
 * another namespace). The whole message is refused: nothing of it is merged.
 */
export class InvalidPeerMessageError extends FoundationError {
  readonly peer: string;
  /** Where in the message: `entries[3].capabilities`, `summary`, `namespace`... */
  readonly path: string;
  readonly reason: string;

  constructor(peer: string, path: string, reason: string) {
    super({
      type: 'invalid_peer_message',
      code: REGISTRY_ERROR_CODES.invalidPeerMessage,
      category: 'data',
      message: `message from "${peer.slice(0, 100)}" refused: ${path}: ${reason}`,
      context: { peer: peer.slice(0, 255), path, reason },
    });
    this.peer = peer;
    this.path = path;
    this.reason = reason;
  }
}
