import { FoundationError } from '@foundation/core';
import { CHANNELS_ERROR_CODES } from './codes';

/**
 * Two live processes present the same node id to this node: it heard from one incarnation of
 * `nodeId` after another had appeared, which a restart never does (each process start draws a
 * new incarnation, and the old one is never seen again). Messages for that id go to the process
 * that holds the session: the first one without certificates that name the id (the second is
 * refused while the first answers), and in any case not one that a newer one replaced (refused
 * with 4022 when it asks again). Give each process its own node id.
 */
export class DuplicateNodeIdError extends FoundationError {
  readonly nodeId: string;
  /** Where the two processes were seen from (a remote address, or the URL this node dialed). */
  readonly remoteAddresses: readonly string[];

  constructor(nodeId: string, remoteAddresses: readonly string[], detail: string) {
    super({
      type: 'channels_duplicate_node_id',
      code: CHANNELS_ERROR_CODES.duplicateNodeId,
      category: 'config',
      severity: 'high',
      retryStrategy: 'no_retry',
      message: `node id ${nodeId} is used by two live processes (seen from ${remoteAddresses.join(' and ')}): ${detail}`,
      context: { nodeId, remoteAddresses, detail },
    });
    this.nodeId = nodeId;
    this.remoteAddresses = remoteAddresses;
  }
}
