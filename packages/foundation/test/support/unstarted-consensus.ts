// A cluster consensus whose Raft node is never started: its streams (`log`) and its real state
// machine, for tests that apply commands and restore snapshots on the state machine directly,
// as Raft would.
import { createMemoryPersistence } from '@foundation/raft';
import { createClusterConsensus } from '../../src/consensus/cluster-consensus';
import type { ClusterConsensus } from '../../src/consensus/cluster-consensus';

export function createUnstartedConsensus(nodeId = 'follower'): ClusterConsensus {
  return createClusterConsensus({
    nodeId,
    voters: ['leader'],
    transport: { send: () => false, onMessage: () => () => undefined },
    forwarding: {
      request: () => Promise.reject(new Error('not used: Raft is not started')),
      onRequest: () => () => undefined,
    },
    persistence: createMemoryPersistence(),
  });
}

/** Applies `commands` on `stream` of `consensus`'s state machine, each at the next log index, as Raft would. */
export function applyInOrder(consensus: Pick<ClusterConsensus, 'stateMachine'>, stream: string, commands: readonly unknown[]): void {
  for (const command of commands) consensus.stateMachine.apply({ stream, command }, consensus.stateMachine.appliedIndex() + 1);
}
