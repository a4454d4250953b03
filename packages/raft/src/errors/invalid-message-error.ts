import { FoundationError } from '@foundation/core';
import { RAFT_ERROR_CODES } from './codes';

/** A message from the network failed validation; it is dropped and counted. */
export class InvalidMessageError extends FoundationError {
  constructor(reason: string) {
    super({
      type: 'raft_invalid_message',
      code: RAFT_ERROR_CODES.invalidMessage,
      category: 'data',
      severity: 'low',
      message: `invalid raft message: ${reason}`,
      context: { reason },
    });
  }
}
