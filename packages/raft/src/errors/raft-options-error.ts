import { FoundationError } from '@foundation/core';
import { RAFT_ERROR_CODES } from './codes';

/** An option given to `createRaftNode`, or to one of its calls, cannot be run with; `option` names it. */
export class RaftOptionsError extends FoundationError {
  readonly option: string;

  constructor(option: string, reason: string) {
    super({
      type: 'raft_invalid_options',
      code: RAFT_ERROR_CODES.invalidOptions,
      category: 'config',
      subcategory: 'validation',
      severity: 'high',
      retryStrategy: 'no_retry',
      message: `option "${option}" ${reason}`,
      context: { option, reason },
    });
    this.option = option;
  }
}
