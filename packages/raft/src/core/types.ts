// The vocabulary of the Raft core: log entries, persistent state, membership and the messages
// servers exchange (Ongaro and Ousterhout, "In Search of an Understandable Consensus
// Algorithm", 2014, Figure 2; Ongaro's thesis, 2014, for pre-vote, leadership transfer,
// learners and single-server membership changes).

export type NodeId = string;

/** A change of membership, one server at a time (thesis §4.1). */
export type MembershipChange =
  | { readonly type: 'add-learner'; readonly node: NodeId }
  | { readonly type: 'add-voter'; readonly node: NodeId }
  | { readonly type: 'remove'; readonly node: NodeId };

export interface NormalEntry {
  readonly kind: 'normal';
  readonly index: number;
  readonly term: number;
  /** The command, opaque to the core; empty for the no-op a new leader appends. */
  readonly data: Uint8Array;
}

export interface MembershipEntry {
  readonly kind: 'membership';
  readonly index: number;
  readonly term: number;
  readonly change: MembershipChange;
  /**
   * The whole membership once the change applies: a node that joined later learns every
   * member from the entry itself, not from deltas it may never have seen the base of.
   */
  readonly membership: Membership;
}

export type Entry = NormalEntry | MembershipEntry;

/** Who takes part: voters make up quorums; learners receive the log but do not vote. */
export interface Membership {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** What must be on stable storage before any message that depends on it is sent. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
}

export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  /** Membership as of `index`. */
  readonly membership: Membership;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** The state machine's serialized state at `meta.index`. */
  readonly data: Uint8Array;
}

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/** RequestVote, or its pre-vote rehearsal (thesis §9.6) when `preVote` is set. */
export interface VoteRequest extends Envelope {
  readonly type: 'vote';
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly preVote: boolean;
  /** Set when a leadership transfer asked for this election: voters skip the lease check. */
  readonly transfer: boolean;
}

export interface VoteResponse extends Envelope {
  readonly type: 'vote-response';
  readonly granted: boolean;
  readonly preVote: boolean;
}

/** AppendEntries. */
export interface AppendRequest extends Envelope {
  readonly type: 'append';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

export interface AppendResponse extends Envelope {
  readonly type: 'append-response';
  readonly success: boolean;
  /** On success the follower's last matching index; on rejection the prevIndex it rejected. */
  readonly index: number;
  /** On rejection: the follower's last index at or below prevIndex whose term is at most prevTerm. */
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/** A heartbeat carries the commit index and, for ReadIndex, a request context. */
export interface Heartbeat extends Envelope {
  readonly type: 'heartbeat';
  readonly commit: number;
  readonly context: string | null;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: 'heartbeat-response';
  readonly context: string | null;
}

/** InstallSnapshot; the driver moves the data in chunks, the core sees it whole. */
export interface SnapshotRequest extends Envelope {
  readonly type: 'snapshot';
  readonly snapshot: Snapshot;
}

/** Leadership transfer: start an election now (thesis §3.10). */
export interface TimeoutNow extends Envelope {
  readonly type: 'timeout-now';
}

/** A follower forwards a linearizable read to the leader. */
export interface ReadIndexRequest extends Envelope {
  readonly type: 'read-index';
  readonly context: string;
}

export interface ReadIndexResponse extends Envelope {
  readonly type: 'read-index-response';
  readonly context: string;
  /** The commit index the read must wait for; -1 when the leader refused. */
  readonly index: number;
}

export type Message =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | Heartbeat
  | HeartbeatResponse
  | SnapshotRequest
  | TimeoutNow
  | ReadIndexRequest
  | ReadIndexResponse;

export type MessageType = Message['type'];

export const MESSAGE_TYPES: readonly MessageType[] = [
  'vote',
  'vote-response',
  'append',
  'append-response',
  'heartbeat',
  'heartbeat-response',
  'snapshot',
  'timeout-now',
  'read-index',
  'read-index-response',
];

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** A linearizable read that may proceed once the state machine has applied `index`. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}
