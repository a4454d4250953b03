// Public entry of the foundation meta-package: startNode and the wiring pieces, by name, plus
// the packages' most used entry points re-exported by name.
export { VERSION, foundationChannels, startNode } from './start-node';
export type { ChannelSummary, ClusterKv, ClusterNodeStatus, FailedStartCleanup, FoundationNode, NodeHealth, NodeStatus } from './start-node';
export { parseNodeId, urlOf } from './options';
export type { TlsOptions } from '@foundation/channels';
export type { StartNodeOptions } from './options';
export { createClusterConsensus } from './consensus/cluster-consensus';
export type { ClusterConsensus, ClusterConsensusOptions, ClusterRaftNode, ConsensusLog, ForwardingTransport } from './consensus/cluster-consensus';
export { ClusterStateMachine } from './consensus/cluster-state-machine';
export type { AppliedCommand, ClusterCommand, ClusterQuery, ClusterResult, CompactHistory, StreamOptions, StreamRetention } from './consensus/cluster-state-machine';
export type { LockCommand, LockResult, LockState } from './consensus/locks';
export { createClusterConfig } from './cluster/cluster-config';
export type { ClusterConfig } from './cluster/cluster-config';
export { createClusterEvents } from './cluster/cluster-events';
export type { ClusterEvents, ClusterEventsOptions } from './cluster/cluster-events';
export { createDistributedLocks } from './coordination/distributed-lock';
export type { AcquireOptions, DistributedLocks, LockBackend, LockLease } from './coordination/distributed-lock';
export { startSingleton } from './coordination/singleton';
export type { Singleton, SingletonEvent, SingletonOptions } from './coordination/singleton';
export { processContextCarrier, withContextPropagation } from './wiring/context-transport';
export type { ContextTransportOptions } from './wiring/context-transport';
export { withEagerConnect } from './wiring/eager-transport';
export { shareConnections } from './wiring/shared-connections';
export type { SharedConnections } from './wiring/shared-connections';
export type { EagerTransport, EagerTransportOptions, HeldMessage } from './wiring/eager-transport';
export { channelMultiplexer, membershipEventsFor, runtimeMonitor } from './wiring/adapters';
export { FOUNDATION_ERROR_CODES } from './errors/codes';
export { InvalidOptionsError } from './errors/invalid-options-error';
export { LockNotHeldError } from './errors/lock-not-held-error';
export { UnreadableSnapshotError } from './errors/unreadable-snapshot-error';
export { StreamOptionsConflictError } from './errors/stream-options-conflict-error';
export { DataDirInUseError } from './errors/data-dir-in-use-error';
export { DataDirUnusableError } from './errors/data-dir-unusable-error';
export { NodeStopError } from './errors/node-stop-error';
export { ClusterWriteOutcomeUnknownError } from './errors/cluster-write-outcome-unknown-error';
export { StartAbortedError } from './errors/start-aborted-error';
export { ProposalResultForgottenError } from './errors/proposal-result-forgotten-error';
export type { StopStepFailure } from './errors/node-stop-error';
export { createRuntime, Pid } from '@foundation/process';
// The errors a node's `runtime` produces that callers catch or meet as exit reasons; those that
// crossed a thread or a node are rebuilt, so test them by code (PROCESS_ERROR_CODES).
export {
  PROCESS_ERROR_CODES,
  ProcessError,
  NoProcessError,
  CallTimeoutError,
  CallExitedError,
  MailboxFullError,
  NameTakenError,
  RuntimeStoppedError,
  SupervisorError,
  WorkerCrashedError,
  ThreadStartTimeoutError,
  NoConnectionError,
  UncloneableMessageError,
} from '@foundation/process';
export { createTransport } from '@foundation/channels';
export { createConfig } from '@foundation/config';
export { createEventStore } from '@foundation/events';
export { createTelemetry } from '@foundation/telemetry';
export { createRegistry } from '@foundation/registry';
export { createMembership } from '@foundation/membership-hyparview';
export { createRaftNode, createKvStateMachine, createFileStorage } from '@foundation/raft';
export { currentContext, withContext, createPropagator } from '@foundation/context';
export { FoundationError } from '@foundation/core';
