// Public entry of @foundation/raft: everything users may import is exported here, by name.
export { RaftCore, applyChange } from './core/raft';
export type { ProposeResult, RaftCoreOptions, RaftStatus, Ready, SoftState } from './core/raft';
export { MemoryStorage, entrySize } from './core/log-storage';
export type { LogStorage } from './core/log-storage';
export { MESSAGE_TYPES } from './core/types';
export type {
  AppendRequest,
  AppendResponse,
  Entry,
  HardState,
  Heartbeat,
  HeartbeatResponse,
  Membership,
  MembershipChange,
  MembershipEntry,
  Message,
  MessageType,
  NodeId,
  NormalEntry,
  ReadIndexRequest,
  ReadIndexResponse,
  ReadState,
  Role,
  Snapshot,
  SnapshotMeta,
  SnapshotRequest,
  TimeoutNow,
  VoteRequest,
  VoteResponse,
} from './core/types';
export { createRaftNode } from './driver/raft-node';
export type { CallOptions, LeaderChange, RaftNode, RaftNodeEvent, RaftNodeOptions, RaftNodeStats, RaftNodeStatus, RaftTransport, SnapshotRefusal } from './driver/raft-node';
export type { CommandCodec, StateMachine } from './driver/state-machine';
export { cborCodec } from './driver/cbor-codec';
export { parseWireMessage } from './driver/wire';
export type { SnapshotChunk, SnapshotChunkAck, WireLimits, WireMessage } from './driver/wire';
export { createKvStateMachine } from './kv/kv-state-machine';
export type { KvCommand, KvQuery, KvQueryResult, KvResult, KvStateMachine } from './kv/kv-state-machine';
export { createFileStorage } from './storage/file-storage';
export type { FileStorageOptions } from './storage/file-storage';
export { createMemoryPersistence, emptyState } from './storage/persistence';
export type { PersistUpdate, PersistedState, RaftPersistence } from './storage/persistence';
export { RAFT_ERROR_CODES } from './errors/codes';
export { CompactedError } from './errors/compacted-error';
export { CorruptLogError } from './errors/corrupt-log-error';
export { DroppedError } from './errors/dropped-error';
export { InvalidMessageError } from './errors/invalid-message-error';
export { MembershipChangeError } from './errors/membership-change-error';
export { NotLeaderError } from './errors/not-leader-error';
export { NotStartedError } from './errors/not-started-error';
export { RaftOptionsError } from './errors/raft-options-error';
export { RaftTimeoutError } from './errors/raft-timeout-error';
export { SnapshotRefusedError } from './errors/snapshot-refused-error';
export { StoppedError } from './errors/stopped-error';
export { StorageInUseError } from './errors/storage-in-use-error';
export { UnusableStorageError } from './errors/unusable-storage-error';
