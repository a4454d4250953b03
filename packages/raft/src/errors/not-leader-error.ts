import { FoundationError } from '@foundation/core';
import { RAFT_ERROR_CODES } from './codes';

/** This node is not the leader; `leaderHint` names the leader it knows of, if any. */
export class NotLeaderError extends FoundationError {
  constructor(
    readonly nodeId: string,
    readonly leaderHint: string | null,
  ) {
    super({
      type: 'raft_not_leader',
      code: RAFT_ERROR_CODES.notLeader,
      category: 'system',
      retryStrategy: 'immediate',
      message: leaderHint === null ? `${nodeId} is not the leader and knows of none` : `${nodeId} is not the leader; try ${leaderHint}`,
      context: { nodeId, leaderHint },
    });
  }
}
