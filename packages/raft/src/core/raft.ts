// The Raft state machine: synchronous, deterministic, no I/O. Inputs are `tick()`, `step(message)`
// and client requests; outputs accumulate and are taken with `ready()`: state and entries to
// persist, messages to send (only after persisting), committed entries to apply, read states.
// `advance(ready)` reports that the driver did all of it.
//
// Rules quoted in comments refer to Figure 2 and §5–6 of Ongaro and Ousterhout (2014), and to
// Ongaro's thesis (2014) for pre-vote (§9.6), check-quorum (§6.2), leadership transfer (§3.10),
// ReadIndex (§6.4) and single-server membership changes (§4.1).
import type { Random } from '@foundation/core';
import { isQuorum, quorumIndex, ReadOnlyQueue } from './read-only';
import type { ReleasedRead } from './read-only';
import { Progress } from './progress';
import { RaftLog } from './raft-log';
import { entrySize } from './log-storage';
import type { LogStorage } from './log-storage';
import type {
  AppendRequest,
  AppendResponse,
  Entry,
  HardState,
  Heartbeat,
  HeartbeatResponse,
  Membership,
  MembershipChange,
  Message,
  NodeId,
  ReadIndexRequest,
  ReadState,
  Role,
  Snapshot,
  SnapshotRequest,
  VoteRequest,
  VoteResponse,
} from './types';

export interface RaftCoreOptions {
  readonly id: NodeId;
  /** The durable log as of start-up (with the hard state and snapshot it holds). */
  readonly storage: LogStorage;
  readonly hardState: HardState;
  /** Membership at the storage's snapshot (or the bootstrap membership of a new cluster). */
  readonly membership: Membership;
  /** Index the state machine has already applied (its snapshot), default the snapshot index. */
  readonly applied?: number;
  readonly random: Random;
  /** Ticks without hearing from a leader before an election; randomised in [n, 2n). Default 10. */
  readonly electionTicks?: number;
  /** Ticks between heartbeats. Default 1. */
  readonly heartbeatTicks?: number;
  /** Rehearse elections before disrupting a term (thesis §9.6). Default true. */
  readonly preVote?: boolean;
  /** Leaders step down when they stop hearing from a quorum (thesis §6.2). Default true. */
  readonly checkQuorum?: boolean;
  /** Byte budget of the entries in one append. Default 1 MiB. */
  readonly maxBytesPerMessage?: number;
  /**
   * Entries in one append at most, whatever their bytes: what followers accept (the wire's
   * `maxEntriesPerMessage`). Default 65,536, the wire's default. At least 1 (RangeError
   * otherwise); Infinity leaves only the byte budget.
   */
  readonly maxEntriesPerMessage?: number;
  /** Appends in flight to one follower in replicate state. Default 256. */
  readonly maxInflight?: number;
  /** Byte budget of committed entries handed out per ready. Default 64 MiB. */
  readonly maxApplyBytes?: number;
  /**
   * `safe`: ReadIndex confirms leadership with a heartbeat round. `lease`: the leader answers
   * reads at once while it holds a lease from a quorum-acknowledged heartbeat round (clock-
   * dependent: correct only while the nodes' clocks run at nearly the same rate and no process
   * pauses longer than the margin; requires checkQuorum). Default `safe`.
   */
  readonly readMode?: 'safe' | 'lease';
}

/** A proposal's outcome at the core: its position, or why it was refused. */
export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | { readonly ok: false; readonly reason: 'not-leader' | 'transferring' | 'membership-pending' | 'invalid-membership'; readonly leader: NodeId | null };

export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId | null;
  readonly term: number;
}

/** Everything the driver must do, in this order: persist, send, apply; then advance. */
export interface Ready {
  /** Changed soft state (role, leader), for events; nothing to persist. */
  readonly softState: SoftState | null;
  /** Changed hard state, to persist before sending any message. */
  readonly hardState: HardState | null;
  /** Entries to append to stable storage (replacing any conflicting suffix). */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader: persist it and install it in the state machine. */
  readonly snapshot: Snapshot | null;
  /** Messages to send once the above is durable. */
  readonly messages: readonly Message[];
  /** Entries to apply, in order, after the snapshot (if any) is installed. */
  readonly committedEntries: readonly Entry[];
  /** Reads that may proceed once the state machine has applied their index. */
  readonly readStates: readonly ReadState[];
  /** Local reads refused because leadership was lost before they were confirmed. */
  readonly droppedReads: readonly string[];
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  /** The index the log is compacted through (0 before any snapshot): older entries only travel as a snapshot. */
  readonly snapshotIndex: number;
  readonly membership: Membership;
  readonly progress: Readonly<Record<NodeId, { readonly match: number; readonly next: number; readonly state: string }>>;
  readonly transferee: NodeId | null;
}

const EMPTY = new Uint8Array(0);

/** The membership after one single-server change. */
export function applyChange(membership: Membership, change: MembershipChange): Membership {
  const voters = membership.voters.filter((node) => node !== change.node);
  const learners = membership.learners.filter((node) => node !== change.node);
  if (change.type === 'add-voter') voters.push(change.node);
  else if (change.type === 'add-learner') learners.push(change.node);
  return { voters, learners };
}

type WithoutFrom<M> = M extends unknown ? Omit<M, 'from'> : never;
/** A message as the core composes it; `send` adds the sender. */
type Outgoing = WithoutFrom<Message>;

/**
 * Merges messages that say the same thing twice to one peer: contiguous appends (the second
 * often carries only a newer commit index) and successive successful acknowledgements (only
 * the highest index matters). Under load this halves the traffic between leader and followers.
 */
export function mergeMessages(messages: readonly Message[], maxBytes: number, maxEntries = Number.POSITIVE_INFINITY): Message[] {
  const merged: Message[] = [];
  const lastTo = new Map<NodeId, number>();
  for (const message of messages) {
    const at = lastTo.get(message.to);
    const previous = at === undefined ? undefined : merged[at];
    if (previous !== undefined && previous.term === message.term) {
      if (previous.type === 'append' && message.type === 'append' && previous.prevIndex + previous.entries.length === message.prevIndex) {
        const bytes = [...previous.entries, ...message.entries].reduce((sum, entry) => sum + entrySize(entry), 0);
        if (message.entries.length === 0 || (bytes <= maxBytes && previous.entries.length + message.entries.length <= maxEntries)) {
          merged[at!] = { ...previous, entries: [...previous.entries, ...message.entries], commit: Math.max(previous.commit, message.commit) };
          continue;
        }
      }
      if (previous.type === 'append-response' && message.type === 'append-response' && previous.success && message.success) {
        merged[at!] = previous.index >= message.index ? previous : message;
        continue;
      }
    }
    lastTo.set(message.to, merged.length);
    merged.push(message);
  }
  return merged;
}

export class RaftCore {
  readonly id: NodeId;
  private readonly random: Random;
  private readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly maxBytesPerMessage: number;
  private readonly maxEntriesPerMessage: number;
  private readonly maxInflight: number;
  private readonly maxApplyBytes: number;
  /** The last Ready handed out a membership entry, and `advance` has not been called since. */
  private membershipHandedOut = false;
  private readonly readMode: 'safe' | 'lease';

  readonly log: RaftLog;
  term: number;
  vote: NodeId | null;
  role: Role = 'follower';
  leader: NodeId | null = null;
  private voters: NodeId[];
  private learners: NodeId[];
  private readonly progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** Pre-vote campaigns since this node last followed a leader or led (see refusesPreVoteOf). */
  private campaignsWithoutLeader = 0;
  /** Index of the newest membership entry not yet applied; no second change until it is. */
  private pendingMembershipIndex = 0;
  private transferee: NodeId | null = null;
  /**
   * Ticks since the transfer to `transferee` started. A timer of its own: check-quorum's
   * election timer must not restart with each transfer, or asking for transfers would keep a
   * cut-off leader from stepping down.
   */
  private transferElapsed = 0;
  /** Ticks while leader; the lease is measured in them. */
  private leaderTicks = 0;
  private leaseUntil = 0;
  /**
   * Set once this leader sent TimeoutNow in its term. The transferee's election skips the
   * voters' lease check, and the message may arrive late, after the transfer was abandoned here:
   * no lease this leader holds afterwards keeps another leader out, so lease reads stop until
   * the next term.
   */
  private leaseRevoked = false;
  private leaseRound = 0;
  private readonly leaseRounds = new Map<string, { readonly sentAt: number; readonly acks: Set<NodeId> }>();
  private readonly reads = new ReadOnlyQueue();
  /** Reads that arrived before this leader committed an entry of its term. */
  private readsBeforeCommit: { context: string; requester: NodeId | null }[] = [];

  private messages: Message[] = [];
  private readStates: ReadState[] = [];
  private droppedReads: string[] = [];
  private lastHardState: HardState;
  private lastSoftState: SoftState;

  constructor(options: RaftCoreOptions) {
    this.id = options.id;
    this.random = options.random;
    this.electionTicks = options.electionTicks ?? 10;
    this.heartbeatTicks = options.heartbeatTicks ?? 1;
    if (!(this.heartbeatTicks >= 1 && this.electionTicks > this.heartbeatTicks)) {
      throw new RangeError('electionTicks must be greater than heartbeatTicks, and heartbeatTicks at least 1');
    }
    this.preVote = options.preVote ?? true;
    this.checkQuorum = options.checkQuorum ?? true;
    this.maxBytesPerMessage = options.maxBytesPerMessage ?? 1024 * 1024;
    this.maxEntriesPerMessage = options.maxEntriesPerMessage ?? 65_536;
    // Below 1 (or NaN) every append went out empty: the leader replicated nothing, not even its
    // no-op, and said nothing about why.
    if (!(this.maxEntriesPerMessage >= 1)) throw new RangeError(`maxEntriesPerMessage must be at least 1 (got ${this.maxEntriesPerMessage})`);
    this.maxInflight = options.maxInflight ?? 256;
    this.maxApplyBytes = options.maxApplyBytes ?? 64 * 1024 * 1024;
    this.readMode = options.readMode ?? 'safe';
    if (this.readMode === 'lease' && !this.checkQuorum) throw new RangeError('lease reads need checkQuorum');
    this.log = new RaftLog(options.storage);
    this.voters = [...options.membership.voters];
    this.learners = [...options.membership.learners];
    const { hardState } = options;
    // Figure 2's currentTerm is the latest term this server has seen, so no entry it holds is of
    // a later one. A write that tore after its entries reached the disk but before its hard state
    // did (sim-persistence's disk does that) leaves a log that breaks this: the node would ask
    // for votes in a term below its own last entry's, which the wire refuses (a candidate's last
    // term is at most its term), and peers that never answered it never taught it the term.
    // Such a node takes its last entry's term, with no vote: any vote it had sent in that term
    // was durable before it was sent, so a hard state of an older term means it sent none.
    const lastTerm = this.log.lastTerm();
    this.term = Math.max(hardState.term, lastTerm);
    this.vote = lastTerm > hardState.term ? null : hardState.vote;
    if (hardState.commit > 0) this.log.commitTo(Math.min(hardState.commit, this.log.lastIndex()));
    if (options.applied !== undefined) this.log.appliedTo(options.applied);
    // As loaded, so that a term taken from the log is persisted with the first Ready.
    this.lastHardState = { term: hardState.term, vote: hardState.vote, commit: this.log.committed };
    this.lastSoftState = { role: this.role, leader: this.leader, term: this.term };
    this.becomeFollower(this.term, null);
  }

  // ---- inputs ---------------------------------------------------------------------------

  /** One logical clock tick: elections on followers, heartbeats and check-quorum on leaders. */
  tick(): void {
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed += 1;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.startElection();
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed += 1;
    this.electionElapsed += 1;
    this.leaderTicks += 1;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      // §6.2: a leader that has not heard from a quorum within an election timeout steps down.
      if (this.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, null);
        return;
      }
      for (const [id, progress] of this.progress) if (id !== this.id) progress.recentActive = false;
    }
    // §3.10: a transfer that did not finish within an election timeout is abandoned.
    if (this.transferee !== null && ++this.transferElapsed >= this.electionTicks) this.transferee = null;
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat(this.reads.last());
    }
  }

  /** Starts an election now (used by leadership transfer and by tests). */
  campaign(): void {
    if (this.role !== 'leader' && this.promotable()) this.startElection();
  }

  step(message: Message): void {
    // Figure 2, all servers: if a message carries a higher term, set currentTerm to it and
    // convert to follower — with the exceptions below that protect a healthy leader.
    if (message.term > this.term) {
      if (message.type === 'vote') {
        // Thesis §4.2.3: a server that heard from a leader within the minimum election timeout
        // ignores vote requests, so a removed or partitioned server cannot disrupt the cluster.
        // Leadership transfer explicitly overrides this.
        const inLease = this.checkQuorum && this.leader !== null && this.electionElapsed < this.electionTicks;
        if (!message.transfer && inLease) return;
        if (message.preVote) {
          // A pre-vote never changes our term.
          this.handleVote(message);
          return;
        }
        this.becomeFollower(message.term, null);
      } else if (message.type === 'vote-response' && message.preVote && message.granted) {
        // Granted pre-votes carry the term we would campaign at: not a reason to step down.
      } else if (message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot') {
        this.becomeFollower(message.term, message.from);
      } else {
        this.becomeFollower(message.term, null);
      }
    } else if (message.term < this.term) {
      this.handleStale(message);
      return;
    }

    switch (message.type) {
      case 'vote':
        this.handleVote(message);
        return;
      case 'vote-response':
        this.handleVoteResponse(message);
        return;
      case 'append':
        this.becomeFollowerOf(message.from);
        this.handleAppend(message);
        return;
      case 'heartbeat':
        this.becomeFollowerOf(message.from);
        this.handleHeartbeat(message);
        return;
      case 'snapshot':
        this.becomeFollowerOf(message.from);
        this.handleSnapshot(message);
        return;
      case 'append-response':
        this.handleAppendResponse(message);
        return;
      case 'heartbeat-response':
        this.handleHeartbeatResponse(message);
        return;
      case 'timeout-now':
        // §3.10: the transferee starts an election at once, without pre-vote.
        if (this.role !== 'leader' && this.promotable()) this.runElection(true);
        return;
      case 'read-index':
        this.handleForwardedRead(message);
        return;
      case 'read-index-response':
        if (message.index >= 0) this.readStates.push({ index: message.index, context: message.context });
        else this.droppedReads.push(message.context);
        return;
    }
  }

  /**
   * Figure 2, AppendEntries and RequestVote receivers, rule 1: "Reply false if term <
   * currentTerm". The reply carries our term, so a stale leader or candidate learns it and steps
   * down. Stale responses are ignored.
   */
  private handleStale(message: Message): void {
    if (message.type === 'append' || message.type === 'heartbeat') {
      this.send({ type: 'append-response', to: message.from, term: this.term, success: false, index: 0, hintIndex: 0, hintTerm: 0 });
    } else if (message.type === 'vote') {
      this.send({ type: 'vote-response', to: message.from, term: this.term, granted: false, preVote: message.preVote });
    } else if (message.type === 'read-index') {
      // A read forwarded by a node still in an older term: refused at once (with this term, which
      // the requester then learns), not left to its driver's timeout.
      this.send({ type: 'read-index-response', to: message.from, term: this.term, context: message.context, index: -1 });
    }
  }

  /** Appends a command if this node leads; the entry commits once a quorum stores it. */
  propose(data: Uint8Array): ProposeResult {
    if (this.role !== 'leader') return { ok: false, reason: 'not-leader', leader: this.leader };
    if (this.transferee !== null) return { ok: false, reason: 'transferring', leader: this.leader };
    const index = this.log.lastIndex() + 1;
    this.appendOwn([{ kind: 'normal', index, term: this.term, data }]);
    return { ok: true, index, term: this.term };
  }

  /**
   * Appends several commands at once, at consecutive positions from the returned `index`: one
   * append message per follower carries them all, where as many `propose` calls would send one
   * each (and get one acknowledgement each). All or none: a refusal appends nothing.
   */
  proposeBatch(data: readonly Uint8Array[]): ProposeResult {
    if (this.role !== 'leader') return { ok: false, reason: 'not-leader', leader: this.leader };
    if (this.transferee !== null) return { ok: false, reason: 'transferring', leader: this.leader };
    const index = this.log.lastIndex() + 1;
    const term = this.term;
    if (data.length > 0) this.appendOwn(data.map((command, offset) => ({ kind: 'normal', index: index + offset, term, data: command })));
    return { ok: true, index, term };
  }

  /**
   * Proposes a one-server membership change (thesis §4.1). Refused while another change is
   * pending or before this leader's first entry (the no-op of its term) is applied — the rule
   * that makes single-server changes safe across leader changes.
   */
  proposeMembershipChange(change: MembershipChange): ProposeResult {
    if (this.role !== 'leader') return { ok: false, reason: 'not-leader', leader: this.leader };
    if (this.transferee !== null) return { ok: false, reason: 'transferring', leader: this.leader };
    if (this.pendingMembershipIndex > this.log.applied) return { ok: false, reason: 'membership-pending', leader: this.leader };
    if (!this.changeMakesSense(change)) return { ok: false, reason: 'invalid-membership', leader: this.leader };
    const index = this.log.lastIndex() + 1;
    this.appendOwn([{ kind: 'membership', index, term: this.term, change, membership: applyChange(this.membership(), change) }]);
    this.pendingMembershipIndex = index;
    return { ok: true, index, term: this.term };
  }

  private changeMakesSense(change: MembershipChange): boolean {
    const isVoter = this.voters.includes(change.node);
    const isLearner = this.learners.includes(change.node);
    switch (change.type) {
      case 'add-learner':
        return !isVoter && !isLearner;
      case 'add-voter':
        return !isVoter;
      case 'remove':
        return (isVoter && this.voters.length > 1) || isLearner;
    }
  }

  /**
   * Requests a linearizable read. The read state (the index to wait for) arrives in a later
   * ready; a follower forwards the request to the leader. Returns false when no leader is
   * known (the caller should retry).
   */
  readIndex(context: string): boolean {
    if (this.role === 'leader') {
      this.serveRead(context, null);
      return true;
    }
    if (this.leader === null) return false;
    this.send({ type: 'read-index', to: this.leader, term: this.term, context });
    return true;
  }

  private handleForwardedRead(message: ReadIndexRequest): void {
    if (this.role !== 'leader') {
      this.send({ type: 'read-index-response', to: message.from, term: this.term, context: message.context, index: -1 });
      return;
    }
    this.serveRead(message.context, message.from);
  }

  private serveRead(context: string, requester: NodeId | null): void {
    // §6.4 step 1: the leader must have committed an entry of its own term, so its commit index
    // is at least as large as any previously committed one.
    if (this.log.term(this.log.committed) !== this.term) {
      this.readsBeforeCommit.push({ context, requester });
      return;
    }
    const index = this.log.committed;
    if (this.voters.length === 1 && this.voters[0] === this.id) {
      this.releaseRead({ index, context, requester });
      return;
    }
    if (this.readMode === 'lease' && this.leaderTicks < this.leaseUntil && this.transferee === null && !this.leaseRevoked) {
      // Within the lease no other leader can exist (see holdLease); otherwise, and during a
      // transfer (whose votes skip the voters' lease check), fall back to ReadIndex.
      this.releaseRead({ index, context, requester });
      return;
    }
    this.reads.add(index, context, requester, this.id);
    this.broadcastHeartbeat(context);
  }

  private releaseRead(read: ReleasedRead): void {
    if (read.requester === null || read.requester === this.id) this.readStates.push({ index: read.index, context: read.context });
    else this.send({ type: 'read-index-response', to: read.requester, term: this.term, context: read.context, index: read.index });
  }

  /** Hands leadership to `target` (thesis §3.10); proposals are refused until it completes. */
  transferLeadership(target: NodeId): boolean {
    if (this.role !== 'leader' || target === this.id || !this.voters.includes(target)) return false;
    const progress = this.progress.get(target);
    if (progress === undefined) return false;
    if (this.transferee !== target) {
      // The transfer gets one election timeout from when it starts; asking again for the same
      // target does not extend it. Its timer is not check-quorum's (see transferElapsed).
      this.transferee = target;
      this.transferElapsed = 0;
    }
    if (progress.match === this.log.lastIndex()) this.sendTimeoutNow(target);
    else this.sendAppend(target);
    return true;
  }

  private sendTimeoutNow(target: NodeId): void {
    this.leaseRevoked = true;
    this.send({ type: 'timeout-now', to: target, term: this.term });
  }

  /** The driver could not deliver to `node`: fall back to probing it. */
  reportUnreachable(node: NodeId): void {
    const progress = this.progress.get(node);
    if (this.role === 'leader' && progress !== undefined && progress.state === 'replicate') progress.becomeProbe();
  }

  /** The driver finished (or failed) sending a snapshot to `node`. */
  reportSnapshot(node: NodeId, success: boolean): void {
    const progress = this.progress.get(node);
    if (this.role !== 'leader' || progress === undefined || progress.state !== 'snapshot') return;
    if (!success) progress.pendingSnapshot = 0;
    // Wait for the follower's append response before sending more (probe, paused).
    progress.becomeProbe();
    progress.probeSent = true;
  }

  // ---- role changes ---------------------------------------------------------------------

  private resetTerm(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = null;
    }
    this.leader = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    // §5.2: election timeouts are chosen randomly from a fixed interval.
    this.randomizedElectionTimeout = this.electionTicks + this.random.int(0, this.electionTicks);
    this.votes.clear();
    this.transferee = null;
    this.leaseUntil = 0;
    this.leaseRevoked = false;
    this.leaseRounds.clear();
    const waiting = this.readsBeforeCommit;
    this.readsBeforeCommit = [];
    for (const read of [...waiting, ...this.reads.clear()]) this.dropRead(read.context, read.requester);
  }

  private dropRead(context: string, requester: NodeId | null): void {
    if (requester === null || requester === this.id) this.droppedReads.push(context);
    else this.send({ type: 'read-index-response', to: requester, term: this.term, context, index: -1 });
  }

  private becomeFollower(term: number, leader: NodeId | null): void {
    this.resetTerm(term);
    this.role = 'follower';
    this.leader = leader;
    if (leader !== null) this.campaignsWithoutLeader = 0;
    this.progress.clear();
  }

  /** Any server that hears from the current term's leader follows it. */
  private becomeFollowerOf(leader: NodeId): void {
    if (this.role !== 'follower') this.becomeFollower(this.term, leader);
    this.leader = leader;
    this.electionElapsed = 0;
    this.campaignsWithoutLeader = 0;
  }

  private promotable(): boolean {
    return this.voters.includes(this.id);
  }

  /**
   * Whether committed membership entries wait to be applied. Membership takes effect when
   * applied, so until then this node may not know who votes: it must not campaign (etcd's guard).
   */
  private membershipPending(): boolean {
    if (this.log.applied >= this.log.committed) return false;
    const pending = this.log.slice(this.log.applied + 1, this.log.committed + 1, Number.POSITIVE_INFINITY) ?? [];
    return pending.some((entry) => entry.kind === 'membership');
  }

  /** An election timeout ran out: rehearse with a pre-vote if enabled, else run for real. */
  private startElection(): void {
    if (this.membershipPending()) return;
    if (!this.preVote) {
      this.runElection(false);
      return;
    }
    // §9.6: a pre-candidate asks whether it could win before disrupting anyone's term.
    this.resetTerm(this.term);
    this.role = 'pre-candidate';
    this.campaignsWithoutLeader += 1;
    this.requestVotes(true, false);
  }

  /** §5.2: increment currentTerm, vote for self, reset the election timer, send RequestVote. */
  private runElection(transfer: boolean): void {
    if (this.membershipPending()) return;
    this.resetTerm(this.term + 1);
    this.role = 'candidate';
    this.vote = this.id;
    this.requestVotes(false, transfer);
  }

  private requestVotes(preVote: boolean, transfer: boolean): void {
    const term = preVote ? this.term + 1 : this.term;
    this.votes.set(this.id, true);
    if (this.electionDecided(preVote)) return;
    for (const voter of this.voters) {
      if (voter === this.id) continue;
      this.send({
        type: 'vote',
        to: voter,
        term,
        lastIndex: this.log.lastIndex(),
        lastTerm: this.log.lastTerm(),
        preVote,
        transfer,
      });
    }
  }

  /** Counts votes; moves on when the election is won or lost. Returns true once decided. */
  private electionDecided(preVote: boolean): boolean {
    let granted = 0;
    let rejected = 0;
    for (const voter of this.voters) {
      const vote = this.votes.get(voter);
      if (vote === true) granted += 1;
      else if (vote === false) rejected += 1;
    }
    if (isQuorum(granted, this.voters.length)) {
      if (preVote) this.runElection(false);
      else this.becomeLeader();
      return true;
    }
    if (isQuorum(rejected, this.voters.length)) {
      this.becomeFollower(this.term, null);
      return true;
    }
    return false;
  }

  private becomeLeader(): void {
    this.resetTerm(this.term);
    this.role = 'leader';
    this.leader = this.id;
    this.campaignsWithoutLeader = 0;
    const next = this.log.lastIndex() + 1;
    for (const node of [...this.voters, ...this.learners]) {
      const progress = new Progress(next, this.maxInflight, this.learners.includes(node));
      progress.recentActive = true;
      this.progress.set(node, progress);
    }
    const own = this.progress.get(this.id);
    if (own !== undefined) {
      // Only what is durable counts toward a quorum; advance() raises this as writes land.
      own.match = this.log.persistedLastIndex();
      own.becomeReplicate();
    }
    // No membership change until the entries before this term are applied (thesis §4.1 fix).
    this.pendingMembershipIndex = this.log.lastIndex() + 1;
    // §5.4.2 and §8: a leader commits a no-op entry of its own term at the start of its term.
    this.appendOwn([{ kind: 'normal', index: this.log.lastIndex() + 1, term: this.term, data: EMPTY }]);
  }

  // ---- votes ------------------------------------------------------------------------------

  /**
   * RequestVote receiver (Figure 2): grant if votedFor is null or the candidate, and the
   * candidate's log is at least as up-to-date as ours (§5.4.1). Pre-votes are granted on the
   * same log test to a candidate for a later term, without recording a vote.
   */
  private handleVote(message: VoteRequest): void {
    const canVote =
      !(message.preVote && this.refusesPreVoteOf(message)) &&
      (this.vote === message.from || (this.vote === null && this.leader === null) || (message.preVote && message.term > this.term));
    if (canVote && this.log.isUpToDate(message.lastIndex, message.lastTerm)) {
      this.send({ type: 'vote-response', to: message.from, term: message.preVote ? message.term : this.term, granted: true, preVote: message.preVote });
      if (!message.preVote) {
        this.electionElapsed = 0;
        this.vote = message.from;
      }
    } else {
      this.send({ type: 'vote-response', to: message.from, term: this.term, granted: false, preVote: message.preVote });
    }
  }

  /**
   * Two pre-candidates whose logs are equally up to date would grant each other's pre-vote,
   * both campaign for the same term, each vote for itself, and split: nobody wins until another
   * randomized timeout runs out (measured: 3 of 12 failovers of the 3-node benchmark took
   * 525–752 ms instead of about 250). So in its first pre-vote campaign since it lost its
   * leader, a pre-candidate refuses the pre-vote of a smaller id campaigning for the same term
   * with the same log: the greater id goes first. Only the first campaign: a greater id that
   * cannot win (cut off from a majority) must not keep refusing one that can. Pre-votes decide
   * nothing for safety.
   */
  private refusesPreVoteOf(message: VoteRequest): boolean {
    return (
      this.role === 'pre-candidate' &&
      this.campaignsWithoutLeader === 1 &&
      message.term === this.term + 1 &&
      message.from < this.id &&
      message.lastIndex === this.log.lastIndex() &&
      message.lastTerm === this.log.lastTerm()
    );
  }

  private handleVoteResponse(message: VoteResponse): void {
    const expecting = (this.role === 'pre-candidate' && message.preVote) || (this.role === 'candidate' && !message.preVote);
    if (!expecting || !this.voters.includes(message.from)) return;
    if (!this.votes.has(message.from)) this.votes.set(message.from, message.granted);
    this.electionDecided(message.preVote);
  }

  // ---- replication, follower side -----------------------------------------------------------

  private handleAppend(message: AppendRequest): void {
    if (message.prevIndex < this.log.committed) {
      // Everything up to our commit index already matches the leader's log.
      this.respondAppend(message.from, true, this.log.committed, 0, 0);
      return;
    }
    const lastNew = this.log.maybeAppend(message.prevIndex, message.prevTerm, message.commit, message.entries);
    if (lastNew !== null) {
      this.respondAppend(message.from, true, lastNew, 0, 0);
      return;
    }
    // Figure 2 rule 2: reply false if the log has no entry at prevIndex with prevTerm. The hint
    // lets the leader skip every entry of the conflicting term at once.
    const hint = this.log.findConflictByTerm(message.prevIndex, message.prevTerm);
    this.respondAppend(message.from, false, message.prevIndex, hint.index, hint.term);
  }

  private respondAppend(to: NodeId, success: boolean, index: number, hintIndex: number, hintTerm: number): void {
    this.send({ type: 'append-response', to, term: this.term, success, index, hintIndex, hintTerm });
  }

  private handleHeartbeat(message: Heartbeat): void {
    // The leader sends min(follower's match, commit), so this never passes our log's end.
    this.log.commitTo(Math.min(message.commit, this.log.lastIndex()));
    this.send({ type: 'heartbeat-response', to: message.from, term: this.term, context: message.context });
  }

  /** InstallSnapshot receiver (Figure 13): adopt the snapshot unless our log already covers it. */
  private handleSnapshot(message: SnapshotRequest): void {
    const { meta } = message.snapshot;
    if (meta.index <= this.log.committed) {
      this.respondAppend(message.from, true, this.log.committed, 0, 0);
      return;
    }
    if (this.log.matchTerm(meta.index, meta.term)) {
      // We already hold the entry the snapshot ends at: keep the log beyond it, commit to it.
      this.log.commitTo(meta.index);
      this.respondAppend(message.from, true, meta.index, 0, 0);
      return;
    }
    this.log.restore(message.snapshot);
    this.voters = [...meta.membership.voters];
    this.learners = [...meta.membership.learners];
    this.pendingMembershipIndex = 0;
    this.respondAppend(message.from, true, meta.index, 0, 0);
  }

  // ---- replication, leader side -------------------------------------------------------------

  private appendOwn(entries: Entry[]): void {
    this.log.append(entries);
    // The leader's own entries count toward a quorum only once they are durable: advance()
    // updates its match after the driver persisted them.
    this.broadcastAppend();
  }

  private broadcastAppend(): void {
    for (const node of this.progress.keys()) if (node !== this.id) this.sendAppend(node);
  }

  private sendAppend(to: NodeId, allowEmpty = true): boolean {
    const progress = this.progress.get(to);
    if (progress === undefined || progress.isPaused()) return false;
    const prevIndex = progress.next - 1;
    const prevTerm = this.log.term(prevIndex);
    // Small entries fit the byte budget by the tens of thousands: the count is capped too, as
    // followers refuse an append of more than they accept, and a leader that sent it again at
    // every retry replicated nothing more.
    const entries = this.log.slice(progress.next, Math.min(this.log.lastIndex(), prevIndex + this.maxEntriesPerMessage) + 1, this.maxBytesPerMessage);
    if (prevTerm === null || entries === null) return this.sendSnapshot(to, progress);
    if (entries.length === 0 && !allowEmpty) return false;
    this.send({ type: 'append', to, term: this.term, prevIndex, prevTerm, entries, commit: this.log.committed });
    progress.sentEntries(prevIndex + entries.length, entries.length);
    return true;
  }

  /** The entries a follower needs are compacted: send the latest snapshot instead (§7). */
  private sendSnapshot(to: NodeId, progress: Progress): boolean {
    if (!progress.recentActive) return false;
    const snapshot = this.log.storage.snapshot();
    if (snapshot === null) return false;
    progress.becomeSnapshot(snapshot.meta.index);
    this.send({ type: 'snapshot', to, term: this.term, snapshot });
    return true;
  }

  private handleAppendResponse(message: AppendResponse): void {
    if (this.role !== 'leader') return;
    const progress = this.progress.get(message.from);
    if (progress === undefined) return;
    progress.recentActive = true;
    if (!message.success) {
      // Figure 2, leaders: if AppendEntries fails because of log inconsistency, decrement
      // nextIndex and retry (skipping a whole term with the follower's hint).
      if (progress.maybeDecreaseTo(message.index, message.hintIndex)) {
        if (progress.state === 'replicate') progress.becomeProbe();
        this.sendAppend(message.from);
      }
      return;
    }
    const wasPaused = progress.isPaused();
    const updated = progress.maybeUpdate(message.index);
    // A probe answered at the index we already knew still tells us where the logs agree.
    if (!updated && !(progress.state === 'probe' && progress.match === message.index)) return;
    if (progress.state === 'probe') progress.becomeReplicate();
    else if (progress.state === 'snapshot' && progress.match >= progress.pendingSnapshot) progress.becomeProbe();
    else if (progress.state === 'replicate') progress.inflights.freeTo(message.index);

    if (this.maybeCommit()) {
      this.broadcastAppend();
    } else if (wasPaused) {
      // It may have missed commit updates while paused: an append (empty if need be) carries
      // the current commit index.
      this.sendAppend(message.from);
    }
    while (progress.next <= this.log.lastIndex() && this.sendAppend(message.from, false)) {
      // Keep the pipeline full while the window allows.
    }
    if (message.from === this.transferee && progress.match === this.log.lastIndex()) this.sendTimeoutNow(message.from);
  }

  private handleHeartbeatResponse(message: HeartbeatResponse): void {
    if (this.role !== 'leader') return;
    const progress = this.progress.get(message.from);
    if (progress === undefined) return;
    progress.recentActive = true;
    progress.probeSent = false;
    // A full window that a live follower answers heartbeats behind: the appends in it may all
    // have been lost (a cut, a dropped connection), and no acknowledgement or rejection will
    // ever free it. Letting one more append out settles it: the follower acknowledges it, or
    // rejects it for the gap, which sends this follower back to probing (etcd's rule).
    if (progress.state === 'replicate' && progress.inflights.full()) progress.inflights.freeFirst();
    if (progress.match < this.log.lastIndex()) this.sendAppend(message.from);
    if (message.context === null || !this.voters.includes(message.from)) return;
    if (this.readMode === 'lease') this.holdLease(message.from, message.context);
    const acks = this.reads.ack(message.from, message.context);
    const voterAcks = [...this.reads.acks(message.context)].filter((node) => this.voters.includes(node)).length;
    if (acks > 0 && isQuorum(voterAcks, this.voters.length)) {
      for (const read of this.reads.release(message.context)) this.releaseRead(read);
    }
  }

  /**
   * A lease (thesis §6.4.1): once a quorum answered a heartbeat round sent at leader tick t, none
   * of those voters grants a vote before an election timeout after they heard it, so no other
   * leader can exist before t + electionTicks on their clocks. The lease ends a margin earlier,
   * for clocks that run at slightly different rates.
   */
  private holdLease(from: NodeId, context: string): void {
    const round = this.leaseRounds.get(context);
    if (round === undefined) return;
    round.acks.add(from);
    const voterAcks = [...round.acks].filter((node) => this.voters.includes(node)).length;
    if (!isQuorum(voterAcks, this.voters.length)) return;
    const margin = Math.max(1, Math.floor(this.electionTicks / 4));
    this.leaseUntil = Math.max(this.leaseUntil, round.sentAt + this.electionTicks - margin);
    for (const [key, candidate] of this.leaseRounds) if (candidate.sentAt <= round.sentAt) this.leaseRounds.delete(key);
  }

  private broadcastHeartbeat(requested: string | null): void {
    let context = requested;
    if (this.readMode === 'lease') {
      context ??= `lease/${this.term}/${++this.leaseRound}`;
      // A read's context is sent again each tick until the read is confirmed: the round keeps
      // its first send. Moved forward, a slow answer to the first send counted as one to the
      // last, and the lease outlived what that voter had promised.
      if (!this.leaseRounds.has(context)) this.leaseRounds.set(context, { sentAt: this.leaderTicks, acks: new Set([this.id]) });
      if (this.leaseRounds.size > 16) this.leaseRounds.delete(this.leaseRounds.keys().next().value!);
    }
    for (const [node, progress] of this.progress) {
      if (node === this.id) continue;
      this.send({ type: 'heartbeat', to: node, term: this.term, commit: Math.min(progress.match, this.log.committed), context });
    }
  }

  /**
   * Figure 2, leaders: if there is an N > commitIndex held by a majority of matchIndex values
   * and log[N].term == currentTerm, set commitIndex = N. Entries of earlier terms are never
   * committed by counting (§5.4.2); they commit along with one of the current term.
   */
  private maybeCommit(): boolean {
    const index = quorumIndex(this.voters, (node) => this.progress.get(node)?.match ?? 0);
    if (index <= this.log.committed || this.log.term(index) !== this.term) return false;
    const firstOfTerm = this.log.term(this.log.committed) !== this.term;
    this.log.commitTo(index);
    if (firstOfTerm) {
      const waiting = this.readsBeforeCommit;
      this.readsBeforeCommit = [];
      for (const read of waiting) this.serveRead(read.context, read.requester);
    }
    return true;
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const voter of this.voters) {
      if (voter === this.id || this.progress.get(voter)?.recentActive === true) active += 1;
    }
    return isQuorum(active, this.voters.length);
  }

  // ---- membership ---------------------------------------------------------------------------

  private applyMembership(membership: Membership): void {
    const voters = [...membership.voters];
    const learners = [...membership.learners];
    this.voters = voters;
    this.learners = learners;
    if (this.role !== 'leader') return;
    for (const member of [...voters, ...learners]) {
      const existing = this.progress.get(member);
      if (existing === undefined) {
        const progress = new Progress(this.log.lastIndex() + 1, this.maxInflight, learners.includes(member));
        progress.recentActive = true;
        this.progress.set(member, progress);
      } else {
        existing.isLearner = learners.includes(member);
      }
    }
    for (const member of [...this.progress.keys()]) {
      if (!voters.includes(member) && !learners.includes(member)) this.progress.delete(member);
    }
    if (!voters.includes(this.id)) {
      // A leader removed from the membership steps down once the change is applied.
      this.becomeFollower(this.term, null);
      return;
    }
    if (this.transferee !== null && !voters.includes(this.transferee)) this.transferee = null;
    if (this.maybeCommit()) this.broadcastAppend();
    else for (const member of this.progress.keys()) if (member !== this.id && this.progress.get(member)!.match === 0) this.sendAppend(member);
  }

  membership(): Membership {
    return { voters: [...this.voters], learners: [...this.learners] };
  }

  // ---- output -------------------------------------------------------------------------------

  private send(message: Outgoing): void {
    // Every call site passes a fresh literal, so adding the sender to it needs no copy.
    (message as { from?: NodeId }).from = this.id;
    this.messages.push(message as Message);
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private softState(): SoftState {
    return { role: this.role, leader: this.leader, term: this.term };
  }

  hasReady(): boolean {
    const hard = this.lastHardState;
    const soft = this.lastSoftState;
    return (
      this.messages.length > 0 ||
      this.readStates.length > 0 ||
      this.droppedReads.length > 0 ||
      this.log.unstableEntries().length > 0 ||
      this.log.pendingSnapshot() !== null ||
      this.log.hasNextCommitted() ||
      hard.term !== this.term ||
      hard.vote !== this.vote ||
      hard.commit !== this.log.committed ||
      soft.role !== this.role ||
      soft.leader !== this.leader
    );
  }

  /**
   * Takes the queued appends, heartbeats and snapshots of a leader, leaving everything else for
   * the next Ready. They depend on nothing the leader has yet to persist, so a driver that is
   * busy writing can send them at once and keep its followers from timing out.
   */
  takeLeaderMessages(): Message[] {
    if (this.role !== 'leader') return [];
    const taken: Message[] = [];
    const kept: Message[] = [];
    for (const message of this.messages) {
      if (message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot') taken.push(message);
      else kept.push(message);
    }
    this.messages = kept;
    return taken;
  }

  /**
   * Committed entries not yet handed out, for a driver that applies them while a Ready is still
   * being persisted. Committed means stored durably by a quorum (this node's own entries count
   * only once persisted), so applying them need not wait for this node's disk (thesis §10.2.1).
   * Stops before a membership entry: only a Ready hands those out, as `advance` changes the
   * configuration; and after index `upTo`. Report the entries with `appliedTo` once applied.
   */
  takeCommitted(upTo = Number.POSITIVE_INFINITY): Entry[] {
    // Nor past a membership entry that the Ready in flight handed out: until `advance`, the
    // configuration is the old one, and `membershipPending` would no longer see the entry.
    if (this.membershipHandedOut) return [];
    const entries = this.log.nextCommitted(this.maxApplyBytes);
    const end = entries.findIndex((entry) => entry.kind !== 'normal' || entry.index > upTo);
    const taken = end < 0 ? entries : entries.slice(0, end);
    const last = taken[taken.length - 1];
    if (last !== undefined) this.log.applying = last.index;
    return taken;
  }

  /** The driver applied what `takeCommitted` handed out, up to `index`. */
  appliedTo(index: number): void {
    this.log.appliedTo(index);
  }

  /** Takes everything the driver must do now. Call `advance(ready)` once it is done. */
  ready(): Ready {
    const hard = this.hardState();
    const soft = this.softState();
    const last = this.lastHardState;
    const hardChanged = hard.term !== last.term || hard.vote !== last.vote || hard.commit !== last.commit;
    const softChanged = soft.role !== this.lastSoftState.role || soft.leader !== this.lastSoftState.leader || soft.term !== this.lastSoftState.term;
    const committedEntries = this.log.nextCommitted(this.maxApplyBytes);
    const lastCommitted = committedEntries[committedEntries.length - 1];
    if (lastCommitted !== undefined) this.log.applying = lastCommitted.index;
    this.membershipHandedOut = committedEntries.some((entry) => entry.kind === 'membership');
    const ready: Ready = {
      softState: softChanged ? soft : null,
      hardState: hardChanged ? hard : null,
      entries: [...this.log.unstableEntries()],
      snapshot: this.log.pendingSnapshot(),
      messages: mergeMessages(this.messages, this.maxBytesPerMessage, this.maxEntriesPerMessage),
      committedEntries,
      readStates: this.readStates,
      droppedReads: this.droppedReads,
    };
    this.messages = [];
    this.readStates = [];
    this.droppedReads = [];
    if (hardChanged) this.lastHardState = hard;
    if (softChanged) this.lastSoftState = soft;
    return ready;
  }

  /** The driver persisted, sent and applied everything in `ready`. */
  advance(ready: Ready): void {
    this.membershipHandedOut = false;
    const lastEntry = ready.entries[ready.entries.length - 1];
    if (lastEntry !== undefined) this.log.stableTo(lastEntry.index, lastEntry.term);
    if (ready.snapshot !== null) this.log.stableSnapshotTo(ready.snapshot.meta.index);
    for (const entry of ready.committedEntries) {
      this.log.appliedTo(entry.index);
      // A snapshot stepped since this Ready was taken covers the entry, and brought a newer
      // configuration than the one the entry holds: applied, the older one replaced it.
      if (entry.kind === 'membership' && entry.index >= this.log.firstIndex()) this.applyMembership(entry.membership);
    }
    // Entries still in the log as persisted (same index and term) are durable, and by the Log
    // Matching Property so is everything before them: they count toward the leader's quorum.
    if (this.role === 'leader' && lastEntry !== undefined && this.log.term(lastEntry.index) === lastEntry.term) {
      const own = this.progress.get(this.id);
      if (own !== undefined && own.maybeUpdate(lastEntry.index) && this.maybeCommit()) this.broadcastAppend();
    }
  }

  status(): RaftStatus {
    const progress: Record<NodeId, { match: number; next: number; state: string }> = {};
    for (const [node, entry] of this.progress) progress[node] = { match: entry.match, next: entry.next, state: entry.state };
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      snapshotIndex: this.log.firstIndex() - 1,
      membership: this.membership(),
      progress,
      transferee: this.transferee,
    };
  }
}
