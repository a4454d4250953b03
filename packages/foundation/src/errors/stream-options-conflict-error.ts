import { FoundationError } from '@foundation/core';
import { FOUNDATION_ERROR_CODES } from './codes';

/**
 * A stream of the cluster's Raft group was declared a second time with options other than its
 * first declaration's. Both are named (`declared`, `requested`), as text: a stream keeps the
 * options it was first declared with, and its commands are retained by them on every node.
 */
export class StreamOptionsConflictError extends FoundationError {
  constructor(
    readonly stream: string,
    readonly declared: string,
    readonly requested: string,
  ) {
    super({
      type: 'stream_options_conflict',
      code: FOUNDATION_ERROR_CODES.streamOptionsConflict,
      category: 'config',
      message: `stream ${stream} is already declared with ${declared}; declaring it again with ${requested} is refused`,
      context: { stream, declared, requested },
    });
  }
}
