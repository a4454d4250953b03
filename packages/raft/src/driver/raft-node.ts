// The driver: an async shell around the pure core. It owns the I/O and keeps the core's contract
// (persist, then send, then apply, then advance), one Ready at a time: whatever arrives while a
// batch is being written lands in the next batch, which is what makes the fsync a group commit.
import { FoundationError, createCryptoRandom, systemClock } from '@foundation/core';
import type { Random, Scheduler, Timer } from '@foundation/core';
import { MemoryStorage } from '../core/log-storage';
import { RaftCore } from '../core/raft';
import type { ProposeResult, RaftStatus, Ready } from '../core/raft';
import type { Entry, Membership, MembershipChange, Message, NodeId, Snapshot } from '../core/types';
import { DroppedError } from '../errors/dropped-error';
import { MembershipChangeError } from '../errors/membership-change-error';
import { NotLeaderError } from '../errors/not-leader-error';
import { NotStartedError } from '../errors/not-started-error';
import { RaftTimeoutError } from '../errors/raft-timeout-error';
import { SnapshotRefusedError } from '../errors/snapshot-refused-error';
import { StoppedError } from '../errors/stopped-error';
import { mustSync } from '../storage/persistence';
import type { PersistedState, PersistUpdate, RaftPersistence } from '../storage/persistence';
import { cborCodec } from './cbor-codec';
import { checkMilliseconds, checkNodeOptions } from './node-options';
import type { CommandCodec, StateMachine } from './state-machine';
import { parseWireMessage } from './wire';
import type { SnapshotChunk, SnapshotChunkAck, WireLimits } from './wire';

/** The transport port: what the driver needs from a network (channels, or testkit's). */
export interface RaftTransport {
  send(peer: string, channel: string, payload: unknown): boolean;
  onMessage(channel: string, handler: (message: { readonly from: string; readonly payload: unknown }) => void): () => void;
}

export interface RaftNodeOptions<Command, Result, Query, QueryResult> {
  readonly id: NodeId;
  /**
   * The voters of a new cluster, this node included, identical on every initial member. A node
   * joining an existing cluster passes `[]` and is then added by the leader (`addLearner`).
   * Ignored once the node has state on disk: its first start records this membership there.
   */
  readonly peers: readonly NodeId[];
  readonly persistence: RaftPersistence;
  readonly transport: RaftTransport;
  readonly stateMachine: StateMachine<Command, Result, Query, QueryResult>;
  readonly clock?: Scheduler;
  readonly random?: Random;
  readonly codec?: CommandCodec<Command>;
  /** Channel name on the transport. Default `raft`. */
  readonly channel?: string;
  /** Milliseconds per logical tick. Default 20. */
  readonly tickMs?: number;
  /** Election timeout in ticks, randomised in [n, 2n). Default 10 (200–400 ms). */
  readonly electionTicks?: number;
  /** Heartbeat interval in ticks. Default 2 (40 ms). */
  readonly heartbeatTicks?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  /** `safe` (ReadIndex, default) or `lease` (clock-dependent, see the README). */
  readonly readMode?: 'safe' | 'lease';
  readonly maxInflight?: number;
  readonly maxBytesPerMessage?: number;
  /** Take a snapshot once this many entries were applied since the last one. Default 10,000. */
  readonly snapshotEvery?: number;
  /** Snapshot chunk size on the wire. Default 1 MiB. */
  readonly snapshotChunkBytes?: number;
  /** Default timeout of propose, read and membership calls. Default 5,000 ms. */
  readonly requestTimeoutMs?: number;
  readonly limits?: Partial<WireLimits>;
}

export interface CallOptions {
  readonly timeoutMs?: number;
}

export type RaftNodeEvent = 'leader-change' | 'membership-change' | 'snapshot-refused' | 'error';

/**
 * A follower refused the snapshot this leader sent it: it is larger than the follower's
 * `limits.maxSnapshotBytes`. The leader tries again (the snapshot may have shrunk, or the
 * follower been restarted with a higher limit) after `retryInMs`, which doubles with each
 * refusal in a row.
 */
export interface SnapshotRefusal {
  readonly follower: NodeId;
  /** The snapshot's size. */
  readonly bytes: number;
  /** The most the follower takes (its `limits.maxSnapshotBytes`). */
  readonly limit: number;
  /** The snapshot's last index and term. */
  readonly index: number;
  readonly term: number;
  /** Refusals in a row from this follower while this node leads. */
  readonly refusals: number;
  /** How long until the next attempt. */
  readonly retryInMs: number;
}

/** The core's status, and what the driver knows besides. */
export interface RaftNodeStatus extends RaftStatus {
  /** On a leader, the followers whose last snapshot was refused for its size, until one is taken. */
  readonly snapshotRefusals: Readonly<Record<NodeId, SnapshotRefusal>>;
}

export interface LeaderChange {
  readonly leader: NodeId | null;
  readonly term: number;
  readonly role: RaftStatus['role'];
}

export interface RaftNodeStats {
  readonly invalidMessages: number;
  readonly proposalsCommitted: number;
  readonly snapshotsTaken: number;
  readonly snapshotsInstalled: number;
  /** Snapshots received from other nodes that the state machine's `checkSnapshot` refused. */
  readonly snapshotsRefused: number;
  /**
   * Snapshot chunks from the leader refused because their snapshot is above this node's
   * `limits.maxSnapshotBytes`, each answered with the limit (the leader then backs off). Not
   * invalid messages: the limit is this node's own, and the leader's snapshot may outgrow it.
   * (One from a node that may not send this node a snapshot is an invalid message.)
   */
  readonly snapshotChunksTooLarge: number;
}

export interface RaftNode<Command, Result, Query, QueryResult> {
  readonly id: NodeId;
  /**
   * Loads durable state and joins the cluster. A second call gets the first's promise. Fails with
   * StoppedError once `stop()` was called; until it resolves, calls fail with NotStartedError.
   */
  start(): Promise<void>;
  /** Replicates `command`; resolves with the state machine's result once it is applied here. */
  propose(command: Command, options?: CallOptions): Promise<Result>;
  /** A linearizable read: reflects every write acknowledged before it was called. */
  read(query: Query, options?: CallOptions): Promise<QueryResult>;
  addLearner(node: NodeId, options?: CallOptions): Promise<Membership>;
  addVoter(node: NodeId, options?: CallOptions): Promise<Membership>;
  removeMember(node: NodeId, options?: CallOptions): Promise<Membership>;
  /** Asks the current leader (this node) to hand leadership to `node`. */
  transferLeadership(node: NodeId): boolean;
  /**
   * Starts an election now (for operators and tests). It does not take leadership from a healthy
   * leader: with check-quorum on, voters that heard from a leader within an election timeout
   * refuse it (thesis 4.2.3), and the first append of a new leader ends it. To move leadership,
   * `transferLeadership` on the leader.
   */
  campaign(): void;
  status(): RaftNodeStatus;
  stats(): RaftNodeStats;
  on(event: 'leader-change', listener: (change: LeaderChange) => void): () => void;
  on(event: 'membership-change', listener: (membership: Membership) => void): () => void;
  /** On a leader: a follower refused a snapshot for its size (see SnapshotRefusal). */
  on(event: 'snapshot-refused', listener: (refusal: SnapshotRefusal) => void): () => void;
  on(event: 'error', listener: (error: FoundationError) => void): () => void;
  /**
   * The error this node stopped on by itself (a write to its storage failed, say), after which it
   * refuses every call and `error` has been emitted with it; null while it runs and after a plain
   * `stop()`. An `error` listener can tell from it whether the node carries on.
   */
  failure(): FoundationError | null;
  /** Stops ticking and listening; pending calls fail with StoppedError. */
  stop(): Promise<void>;
}

interface Pending<T> {
  readonly term: number;
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
  /** When it times out, on the clock's monotonic time (Infinity: never). */
  readonly deadline: number;
  readonly timeoutMs: number;
}

/** A proposal waiting for the end of the current turn, to go to the core with the others made in it. */
interface QueuedProposal<Result> {
  readonly data: Uint8Array;
  readonly timeoutMs: number;
  readonly resolve: (value: Result) => void;
  readonly reject: (error: unknown) => void;
}

interface QueuedRead<QueryResult> {
  readonly query: unknown;
  readonly timeoutMs: number;
  readonly resolve: (value: QueryResult) => void;
  readonly reject: (error: unknown) => void;
}

interface PendingRead<QueryResult> {
  readonly query: unknown;
  readonly resolve: (value: QueryResult) => void;
  readonly reject: (error: unknown) => void;
  readonly deadline: number;
  readonly timeoutMs: number;
}

/** The reads of one turn, confirmed by one ReadIndex round: answered once `index` is applied. */
interface ReadBatch<QueryResult> {
  index: number;
  readonly reads: Set<PendingRead<QueryResult>>;
  /** The term this node was in when it forwarded the round to the leader; null when it led. */
  readonly forwardedIn: number | null;
}

interface OutgoingTransfer {
  readonly id: string;
  readonly message: Extract<Message, { type: 'snapshot' }>;
  started: boolean;
  sent: number;
  acked: number;
  lastProgress: number;
  /** When the unacknowledged chunks were last sent again (see checkTransfers). */
  resentAt: number;
  /** When the follower last answered a chunk, whether or not the answer was progress. */
  lastAnswer: number;
  /** The longest the follower took to answer again while nothing was sent again (see receiveAck). */
  slowestAnswer: number;
  /** Times sent again since the follower last answered twice in a row without a resend between. */
  unansweredResends: number;
  /** Refused by the follower for its size: nothing more is sent, and the core is told at this time (monotonic ms). */
  refusedUntil: number | null;
}

/** A follower's refusals of snapshots for their size, while this node leads in `leaderTerm`. */
interface RefusalRecord {
  readonly leaderTerm: number;
  refusal: SnapshotRefusal;
  retryAt: number;
}

interface IncomingTransfer {
  readonly from: NodeId;
  readonly id: string;
  readonly meta: SnapshotChunk['meta'];
  readonly term: number;
  /** The size the sender announced; `buffer` grows towards it as chunks arrive. */
  readonly total: number;
  buffer: Uint8Array;
  received: number;
}

const TRANSFER_WINDOW = 4;
/**
 * Transfers a follower remembers having finished or given up for a newer one. A sender never
 * starts a transfer over under the same id, so a chunk with one of these ids is a late copy
 * (duplicated, reordered or sent again) and must not displace the transfer being assembled.
 */
const RETIRED_TRANSFERS = 16;

export function createRaftNode<Command, Result, Query, QueryResult>(
  options: RaftNodeOptions<Command, Result, Query, QueryResult>,
): RaftNode<Command, Result, Query, QueryResult> {
  checkNodeOptions(options);
  return new RaftNodeImpl(options);
}

/**
 * `bytes`, or a copy of them when they are a view of a larger buffer. cbor-x, the default codec,
 * encodes into one buffer shared by every encoder of the process (channels' messages among them)
 * and returns a view of it; the log keeps an entry until the next snapshot (10,000 entries by
 * default), and a view would keep that buffer, mostly other and long gone encodings, alive with
 * it (in a soak run, a leader's log of under 10,000 entries kept 25 MB of them).
 */
function ownBytes(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : Uint8Array.prototype.slice.call(bytes);
}

class RaftNodeImpl<Command, Result, Query, QueryResult> implements RaftNode<Command, Result, Query, QueryResult> {
  readonly id: NodeId;
  private readonly options: RaftNodeOptions<Command, Result, Query, QueryResult>;
  private readonly clock: Scheduler;
  private readonly random: Random;
  private readonly codec: CommandCodec<Command>;
  private readonly channel: string;
  private readonly limits: WireLimits;
  /**
   * The limits messages are parsed with: a snapshot chunk's total is checked in receiveChunk
   * instead, which answers the sender with the refusal (parseWireMessage's refusal is silent).
   */
  private readonly parseLimits: WireLimits;
  private readonly requestTimeoutMs: number;
  private readonly snapshotEvery: number;
  private readonly chunkBytes: number;
  private core: RaftCore | null = null;
  private storage: MemoryStorage | null = null;
  private ticker: Timer | null = null;
  private unsubscribe: (() => void) | null = null;
  private processing: Promise<void> | null = null;
  private stopped = false;
  private starting: Promise<void> | undefined;
  private failed: FoundationError | null = null;
  private stopping: Promise<void> | undefined;
  /** The persistence's load in flight (settled, never rejected): the storage closes only after it. */
  private loading: Promise<unknown> = Promise.resolve();
  /** The persistence's close, once begun by stop() or by a failure: stop() resolves only after it. */
  private closing: Promise<void> | null = null;
  /** The membership the last `membership-change` told (or the one the node started with), as JSON. */
  private toldMembership = '';
  private queued: QueuedProposal<Result>[] = [];
  private readonly proposals = new Map<number, Pending<Result>>();
  private readonly changes = new Map<number, Pending<Membership>>();
  private queuedReads: QueuedRead<QueryResult>[] = [];
  /** Read batches by their ReadIndex context. */
  private readonly reads = new Map<string, ReadBatch<QueryResult>>();
  private readSequence = 0;
  /** Distinguishes this run's read contexts from a previous run's, which the leader may still hold. */
  private readonly incarnation: string;
  private transferSequence = 0;
  private readonly outgoing = new Map<NodeId, OutgoingTransfer>();
  /** Followers that refused this leader's snapshots for their size (see receiveAck). */
  private readonly refusals = new Map<NodeId, RefusalRecord>();
  /** The one snapshot transfer being assembled, if any. */
  private incoming: IncomingTransfer | null = null;
  /** The latest RETIRED_TRANSFERS transfers finished or replaced, oldest first. */
  private readonly retired: { readonly from: NodeId; readonly id: string; readonly received: number }[] = [];
  /**
   * A snapshot fully received while the Ready loop was waiting on the disk. Stepping it then
   * would restore the core's log under the Ready in progress (its committed entries, reads and
   * membership would be applied on top of a state machine not yet restored), so it waits for the
   * loop to finish. A newer one replaces it.
   */
  private heldSnapshot: Extract<Message, { type: 'snapshot' }> | null = null;
  private readonly listeners = new Map<RaftNodeEvent, Set<(value: never) => void>>();
  private lastSnapshotIndex = 0;
  /** The last entry the state machine applied (ahead of the core's count while a Ready is in flight). */
  private appliedIndex = 0;
  /** The last entry the Ready in flight writes (0: none). */
  private writing = 0;
  private snapshotting = false;
  private snapshotWrite: Promise<void> = Promise.resolve();
  /** The write of a batch that only moved the commit index, which the Ready loop does not wait for. */
  private commitWrite: Promise<void> = Promise.resolve();
  /** The log write the Ready loop waits for (settled, never rejected): the storage closes only after it. */
  private logWrite: Promise<void> = Promise.resolve();
  private counters = { invalidMessages: 0, proposalsCommitted: 0, snapshotsTaken: 0, snapshotsInstalled: 0, snapshotsRefused: 0, snapshotChunksTooLarge: 0 };
  /** The last snapshot refused (sender, index and term), told once however often it is sent again. */
  private refusedSnapshot = '';
  /**
   * One timer for the deadlines of every proposal, membership change and read, set for the
   * earliest. A timer each cost a timer object and a closure per request (and a cancel when it
   * was answered, which most are, long before their deadline).
   */
  private deadlineTimer: Timer | null = null;
  private deadlineAt = Number.POSITIVE_INFINITY;

  constructor(options: RaftNodeOptions<Command, Result, Query, QueryResult>) {
    this.options = options;
    this.id = options.id;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? createCryptoRandom();
    this.codec = options.codec ?? cborCodec<Command>();
    this.incarnation = this.random.uint32().toString(36) + this.random.uint32().toString(36);
    this.channel = options.channel ?? 'raft';
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    this.snapshotEvery = options.snapshotEvery ?? 10_000;
    // A chunk above the limit would be refused by every node with the same limits, so the default
    // size keeps within it (an explicit one above it is refused by checkNodeOptions).
    this.chunkBytes = options.snapshotChunkBytes ?? Math.min(1024 * 1024, options.limits?.maxChunkBytes ?? Number.POSITIVE_INFINITY);
    this.limits = {
      maxEntriesPerMessage: options.limits?.maxEntriesPerMessage ?? 65_536,
      maxEntryBytes: options.limits?.maxEntryBytes ?? 64 * 1024 * 1024,
      maxSnapshotBytes: options.limits?.maxSnapshotBytes ?? 1024 * 1024 * 1024,
      maxChunkBytes: options.limits?.maxChunkBytes ?? Math.max(this.chunkBytes, 1024 * 1024) * 2,
    };
    this.parseLimits = { ...this.limits, maxSnapshotBytes: Number.MAX_SAFE_INTEGER };
  }

  // ---- lifecycle --------------------------------------------------------------------------

  start(): Promise<void> {
    // A second call gets the first's promise, as stop() does: loading the storage twice would
    // open it twice.
    // A start that fails lets go of the storage it opened (a file storage holds its directory):
    // the caller may open it again, without a stop() it had no reason to think it owed.
    this.starting ??= this.startUp().catch(async (error: unknown) => {
      await this.stop().catch(() => undefined);
      throw error;
    });
    return this.starting;
  }

  private async startUp(): Promise<void> {
    // Stopped before it started: the storage is closed (or closing), and loading it now would
    // open it again (a file storage opens, truncates and syncs its log) with nothing to close it.
    if (this.stopped) throw new StoppedError(this.id);
    const initialMembership: Membership = { voters: [...this.options.peers], learners: [] };
    const load = this.load(initialMembership);
    this.loading = load.catch(() => undefined);
    const state = await load;
    const storage = new MemoryStorage(state.snapshot?.meta.membership ?? initialMembership);
    if (state.snapshot !== null) {
      storage.applySnapshot(state.snapshot);
      const { meta } = state.snapshot;
      try {
        this.options.stateMachine.restore(state.snapshot.data);
      } catch (error) {
        // The snapshot holds committed state the log no longer has: starting without it would
        // lose that state, so the node does not start, and says which snapshot it is.
        throw new SnapshotRefusedError(meta.index, meta.term, null, error);
      }
      this.lastSnapshotIndex = meta.index;
    }
    storage.append(state.entries);
    storage.hardState = state.hardState;
    this.storage = storage;
    this.appliedIndex = storage.firstIndex() - 1;
    this.core = new RaftCore({
      id: this.id,
      storage,
      hardState: state.hardState,
      membership: storage.snapshotMembership(),
      applied: storage.firstIndex() - 1,
      random: this.random,
      ...(this.options.electionTicks === undefined ? { electionTicks: 10 } : { electionTicks: this.options.electionTicks }),
      ...(this.options.heartbeatTicks === undefined ? { heartbeatTicks: 2 } : { heartbeatTicks: this.options.heartbeatTicks }),
      ...(this.options.preVote === undefined ? {} : { preVote: this.options.preVote }),
      ...(this.options.checkQuorum === undefined ? {} : { checkQuorum: this.options.checkQuorum }),
      ...(this.options.readMode === undefined ? {} : { readMode: this.options.readMode }),
      ...(this.options.maxInflight === undefined ? {} : { maxInflight: this.options.maxInflight }),
      ...(this.options.maxBytesPerMessage === undefined ? {} : { maxBytesPerMessage: this.options.maxBytesPerMessage }),
      maxEntriesPerMessage: this.limits.maxEntriesPerMessage,
    });
    this.toldMembership = JSON.stringify(this.core.membership());
    if (this.stopped) return;
    this.unsubscribe = this.options.transport.onMessage(this.channel, ({ from, payload }) => this.receive(from, payload));
    this.ticker = this.clock.setRepeatingTimer(this.options.tickMs ?? 20, () => this.tick());
    this.kick();
  }

  /**
   * Loads the durable state; a node that has never run first records the membership it starts
   * with. `peers` is ignored once a node has state on disk, but only a snapshot carries a
   * membership: before its first one (every 10,000 entries by default), a restart took `peers`
   * again, and given others (only itself, say) the node counted other voters than the cluster,
   * and could elect itself and lead a term beside the real leader. So the membership goes to
   * disk as a snapshot of the state at index 0, before any entry (a node that started under an
   * earlier version without one still takes `peers` until its first snapshot).
   */
  private async load(initialMembership: Membership): Promise<PersistedState> {
    const state = await this.options.persistence.load();
    const { hardState } = state;
    const blank = state.snapshot === null && state.entries.length === 0 && hardState.term === 0 && hardState.vote === null && hardState.commit === 0;
    if (blank && !this.stopped) {
      await this.options.persistence.saveSnapshot({ meta: { index: 0, term: 0, membership: initialMembership }, data: this.options.stateMachine.snapshot() });
    }
    return state;
  }

  stop(): Promise<void> {
    // A second call, also one made while the first waits for the disk, gets the first's promise:
    // it resolves only once the storage is closed (a caller may reopen the files then).
    this.stopping ??= this.shutDown();
    return this.stopping;
  }

  private async shutDown(): Promise<void> {
    // A node that failed stopped itself and is closing its storage: the caller may reopen the
    // files once stop() resolves, so not before that close (and the writes it waits for) is done.
    if (this.stopped) return this.closing?.catch(() => undefined);
    this.stopped = true;
    this.ticker?.cancel();
    this.unsubscribe?.();
    // A stop() while start() loads: the load opens the storage, so it closes after that.
    await this.loading;
    await this.processing;
    await this.snapshotWrite;
    await this.commitWrite;
    this.failAll(null);
    await this.closePersistence();
  }

  private closePersistence(): Promise<void> {
    // After the snapshot being written (never rejected: its failure is the node's): a failure
    // closed the storage while it was still writing, and the storage then renamed the file and
    // compacted its log after the close, perhaps under a caller that had reopened the files.
    // And after the log writes in flight (the Ready loop's, a commit index's in the background):
    // a failure elsewhere (a snapshot's write, the state machine) closed the storage under them,
    // which a storage whose own close() does not wait for its writes may not survive.
    this.closing ??= Promise.all([this.snapshotWrite, this.logWrite, this.commitWrite]).then(() => this.options.persistence.close());
    return this.closing;
  }

  private fail(error: unknown): void {
    // Once: the writes in flight when the disk went (a commit index written in the background,
    // the batch waiting on it) each fail in turn, and each emitted error for the one failure.
    if (this.failed !== null) return;
    const failure = FoundationError.from(error, { type: 'internal_error', message: `raft node ${this.id} failed` });
    this.failed = failure;
    this.stopped = true;
    this.ticker?.cancel();
    this.unsubscribe?.();
    this.failAll(failure);
    // Let go of the files; the node cannot continue on this storage anyway. Before the `error`
    // event: a listener that calls stop() waits for this close (and may reopen the files after).
    void this.closePersistence().catch(() => undefined);
    this.emit('error', failure);
  }

  /**
   * Ends every pending call as the node stops (`failure` null) or fails. Proposals and membership
   * changes waiting here are in the log: the rest of the cluster may still commit them, so they
   * end with an outcome unknown, never as if they had no effect. Reads had none.
   */
  private failAll(failure: FoundationError | null): void {
    const reads = [...this.reads.values()].flatMap((batch) => [...batch.reads]);
    this.deadlineTimer?.cancel();
    this.deadlineTimer = null;
    this.deadlineAt = Number.POSITIVE_INFINITY;
    const proposal = new StoppedError(this.id, 'proposal', failure ?? undefined);
    for (const pending of this.proposals.values()) pending.reject(proposal);
    const change = new StoppedError(this.id, 'membership change', failure ?? undefined);
    for (const pending of this.changes.values()) pending.reject(change);
    const read = failure ?? new StoppedError(this.id);
    for (const pending of reads) pending.reject(read);
    this.proposals.clear();
    this.changes.clear();
    this.reads.clear();
  }

  private requireCore(): RaftCore {
    if (this.failed !== null) throw this.failed;
    if (this.stopped) throw new StoppedError(this.id);
    if (this.core === null) throw new NotStartedError(this.id);
    return this.core;
  }

  // ---- inputs -------------------------------------------------------------------------------

  private tick(): void {
    if (this.stopped || this.core === null) return;
    this.core.tick();
    this.checkTransfers();
    this.kick();
  }

  private receive(from: string, payload: unknown): void {
    if (this.stopped || this.core === null) return;
    let message;
    try {
      message = parseWireMessage(payload, from, this.id, this.parseLimits);
    } catch {
      this.counters.invalidMessages += 1;
      return;
    }
    // Commands the codec cannot read are refused with their message, before they enter the log:
    // applying one stopped the node, and again at every start, since the log kept it (one append
    // of a later term, its commit index past the entry, did it). Only a buggy or hostile sender
    // writes such bytes; refused, they leave this node behind that sender, not stopped. A
    // follower thus decodes each command twice: here, and when it applies it.
    if (message.type === 'append' && !this.decodable(message.entries)) {
      this.counters.invalidMessages += 1;
      return;
    }
    try {
      if (message.type === 'snapshot-chunk') this.receiveChunk(message);
      else if (message.type === 'snapshot-chunk-ack') this.receiveAck(message);
      else this.core.step(message);
    } catch (error) {
      // Nothing a peer sends may take the node down; a failure here is the node's own bug.
      this.emit('error', FoundationError.from(error, { type: 'internal_error', message: `raft node ${this.id} failed to handle a ${message.type} from ${from}` }));
    }
    this.kick();
  }

  /** Whether the codec reads the command of every entry that holds one (a no-op holds none). */
  private decodable(entries: readonly Entry[]): boolean {
    for (const entry of entries) {
      if (entry.kind !== 'normal' || entry.data.byteLength === 0) continue;
      try {
        this.codec.decode(entry.data);
      } catch {
        return false;
      }
    }
    return true;
  }

  propose(command: Command, options: CallOptions = {}): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.requireCore();
      checkMilliseconds('timeoutMs', options.timeoutMs, true);
      // Here, before the log: whatever the state machine refuses never reaches any node, so every
      // node refuses it alike (and `apply` still takes whatever an older version logged).
      try {
        this.options.stateMachine.checkCommand?.(command);
      } catch (error) {
        // FoundationError.from describes any thrown value without throwing itself (String() of an
        // object without a prototype does), so the refusal is never lost to a TypeError.
        reject(new DroppedError(`the state machine refused the command: ${FoundationError.from(error).message}`, { refused: true, cause: error }));
        return;
      }
      const data = ownBytes(this.codec.encode(command));
      // An empty entry is the leader's no-op (applyCommand), and followers refuse entries over
      // maxEntryBytes: such a command would be skipped, or wedge replication behind it.
      if (data.byteLength === 0) {
        reject(new DroppedError('the command encodes to no bytes: an empty entry is a leader\'s no-op', { refused: true }));
        return;
      }
      if (data.byteLength > this.limits.maxEntryBytes) {
        reject(new DroppedError(`the command encodes to ${data.byteLength} bytes, more than limits.maxEntryBytes (${this.limits.maxEntryBytes}) that followers accept`, { refused: true }));
        return;
      }
      // Proposals made in the same turn of the event loop reach the core as one batch, which
      // goes to each follower as one append message (and comes back as one acknowledgement)
      // instead of one per proposal.
      if (this.queued.length === 0) queueMicrotask(() => this.proposeQueued());
      this.queued.push({ data, timeoutMs: options.timeoutMs ?? this.requestTimeoutMs, resolve, reject });
    });
  }

  private proposeQueued(): void {
    const batch = this.queued;
    this.queued = [];
    let outcome: ProposeResult;
    try {
      outcome = this.requireCore().proposeBatch(batch.map((queued) => queued.data));
    } catch (error) {
      for (const queued of batch) queued.reject(error);
      return;
    }
    if (!outcome.ok) {
      for (const queued of batch) queued.reject(outcome.reason === 'not-leader' ? this.notLeader(outcome.leader) : new DroppedError(`the leader refused it (${outcome.reason})`));
      return;
    }
    const now = this.clock.monotonic();
    let earliest = Number.POSITIVE_INFINITY;
    for (let offset = 0; offset < batch.length; offset += 1) {
      const { timeoutMs, resolve, reject } = batch[offset]!;
      const deadline = now + timeoutMs;
      if (deadline < earliest) earliest = deadline;
      this.track(this.proposals, outcome.index + offset, { term: outcome.term, resolve, reject, deadline, timeoutMs });
    }
    this.watchDeadline(earliest);
    this.kick();
  }

  read(query: Query, options: CallOptions = {}): Promise<QueryResult> {
    return new Promise<QueryResult>((resolve, reject) => {
      this.requireCore();
      checkMilliseconds('timeoutMs', options.timeoutMs, true);
      this.options.stateMachine.checkQuery?.(query);
      // Reads made in the same turn share one ReadIndex round (one heartbeat to each follower):
      // its index is taken after all of them were made, so each sees every write acknowledged
      // before it.
      if (this.queuedReads.length === 0) queueMicrotask(() => this.readQueued());
      this.queuedReads.push({ query, timeoutMs: options.timeoutMs ?? this.requestTimeoutMs, resolve, reject });
    });
  }

  private readQueued(): void {
    const queued = this.queuedReads;
    this.queuedReads = [];
    const context = `${this.id}/${this.incarnation}/${++this.readSequence}`;
    try {
      if (!this.requireCore().readIndex(context)) {
        for (const read of queued) read.reject(this.notLeader(null));
        return;
      }
    } catch (error) {
      for (const read of queued) read.reject(error);
      return;
    }
    const batch: ReadBatch<QueryResult> = { index: -1, reads: new Set(), forwardedIn: this.core!.role === 'leader' ? null : this.core!.term };
    const now = this.clock.monotonic();
    let earliest = Number.POSITIVE_INFINITY;
    for (const { query, timeoutMs, resolve, reject } of queued) {
      const deadline = now + timeoutMs;
      if (deadline < earliest) earliest = deadline;
      batch.reads.add({ query, resolve, reject, deadline, timeoutMs });
    }
    this.reads.set(context, batch);
    this.watchDeadline(earliest);
    this.kick();
  }

  addLearner(node: NodeId, options?: CallOptions): Promise<Membership> {
    return this.changeMembership({ type: 'add-learner', node }, options);
  }

  addVoter(node: NodeId, options?: CallOptions): Promise<Membership> {
    return this.changeMembership({ type: 'add-voter', node }, options);
  }

  removeMember(node: NodeId, options?: CallOptions): Promise<Membership> {
    return this.changeMembership({ type: 'remove', node }, options);
  }

  private changeMembership(change: MembershipChange, options: CallOptions = {}): Promise<Membership> {
    return new Promise<Membership>((resolve, reject) => {
      const core = this.requireCore();
      checkMilliseconds('timeoutMs', options.timeoutMs, true);
      const outcome = core.proposeMembershipChange(change);
      if (!outcome.ok) {
        if (outcome.reason === 'not-leader') reject(this.notLeader(outcome.leader));
        else if (outcome.reason === 'transferring') reject(new DroppedError('a leadership transfer is in progress'));
        else if (outcome.reason === 'membership-pending') {
          // The core refuses a change until the previous one is applied, and on a new leader until
          // the first entry of its term is (the rule that keeps single-server changes safe across
          // leader changes): everything it applied before then is of earlier terms.
          const fresh = core.log.term(core.log.applied) !== core.term;
          reject(new MembershipChangeError(fresh ? 'this leader has not applied the first entry of its term yet, and takes no membership change before it' : 'another membership change is still pending', true));
        }
        else reject(new MembershipChangeError(`${change.type} ${change.node} does not apply to ${JSON.stringify(core.membership())}`));
        return;
      }
      const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
      const deadline = this.clock.monotonic() + timeoutMs;
      this.track(this.changes, outcome.index, { term: outcome.term, resolve, reject, deadline, timeoutMs });
      this.watchDeadline(deadline);
      this.kick();
    });
  }

  /**
   * The refusal of a node that does not lead. The core keeps following a leader until it hears
   * of another or its election timer runs out, also one whose removal it has applied (a leader
   * that removed itself): that node is no member and knows of no leader, so it is no hint.
   */
  private notLeader(leader: NodeId | null): NotLeaderError {
    const hint = leader !== null && leader !== this.id && this.core !== null && this.core.membership().voters.includes(leader) ? leader : null;
    return new NotLeaderError(this.id, hint);
  }

  transferLeadership(node: NodeId): boolean {
    const started = this.requireCore().transferLeadership(node);
    this.kick();
    return started;
  }

  campaign(): void {
    this.requireCore().campaign();
    this.kick();
  }

  status(): RaftNodeStatus {
    if (this.core === null) throw new NotStartedError(this.id);
    const snapshotRefusals: Record<NodeId, SnapshotRefusal> = {};
    const now = this.clock.monotonic();
    const members = this.refusals.size === 0 ? null : this.members();
    for (const [peer, record] of this.refusals) {
      if (record.leaderTerm === this.core.term && this.core.role === 'leader' && members!.has(peer)) snapshotRefusals[peer] = { ...record.refusal, retryInMs: Math.max(0, record.retryAt - now) };
    }
    return { ...this.core.status(), snapshotRefusals };
  }

  stats(): RaftNodeStats {
    return { ...this.counters };
  }

  failure(): FoundationError | null {
    return this.failed;
  }

  on(event: RaftNodeEvent, listener: (value: never) => void): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  private emit(event: 'leader-change', value: LeaderChange): void;
  private emit(event: 'membership-change', value: Membership): void;
  private emit(event: 'snapshot-refused', value: SnapshotRefusal): void;
  private emit(event: 'error', value: FoundationError): void;
  private emit(event: RaftNodeEvent, value: unknown): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        (listener as (argument: unknown) => void)(value);
      } catch {
        // A listener's failure is its own; the node carries on.
      }
    }
  }

  // ---- the Ready loop -------------------------------------------------------------------------

  /** Makes sure the loop runs if the core has work. */
  private kick(): void {
    if (this.stopped || this.core === null) return;
    if (this.processing !== null) {
      // The loop is waiting on the disk: a leader's replication traffic need not wait with it,
      // unless the term it carries is not durable yet (see processLoop).
      if (this.core.term === this.storage!.hardState.term) {
        try {
          for (const message of this.core.takeLeaderMessages()) this.send(message);
          // Nor does applying what followers' acknowledgements have committed meanwhile.
          if (this.core.role === 'leader') this.applyCommitted();
        } catch (error) {
          // As in the Ready loop: a state machine that throws stops the node. Caught nowhere,
          // it skipped the rest of the batch (already taken from the core) and the leader went
          // on serving a state its followers do not have.
          this.fail(error);
        }
      }
      return;
    }
    if (this.heldSnapshot !== null) {
      const snapshot = this.heldSnapshot;
      this.heldSnapshot = null;
      try {
        this.core.step(snapshot);
      } catch (error) {
        this.emit('error', FoundationError.from(error, { type: 'internal_error', message: `raft node ${this.id} failed to install a snapshot from ${snapshot.from}` }));
      }
    }
    if (!this.core.hasReady()) return;
    this.processing = this.processLoop().finally(() => {
      this.processing = null;
      this.kick();
    });
  }

  private async processLoop(): Promise<void> {
    const core = this.core!;
    const storage = this.storage!;
    try {
      while (!this.stopped && core.hasReady()) {
        const ready = core.ready();
        // A leader's appends, heartbeats and snapshots depend on nothing it has yet to persist
        // (its own entries count toward a quorum only after advance), so they go out now and its
        // disk write overlaps the followers' (thesis §10.2.1). Everything else waits.
        // Not in a term this batch makes durable, though: a node that leads without asking
        // anyone (a single voter, with learners) and crashed before the write could win the same
        // term again after a restart and send other entries under it.
        const later: Message[] = [];
        const termDurable = ready.hardState === null || ready.hardState.term === storage.hardState.term;
        for (const message of ready.messages) {
          if (termDurable && (message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot')) this.send(message);
          else later.push(message);
        }
        // Committed entries are durable on a quorum already, whatever this batch holds, so they
        // are applied before its write rather than after: entries committed while the write is in
        // flight can then be applied as their acknowledgements arrive (see kick), in order.
        // Not when the batch installs a snapshot: those entries follow it.
        const applyFirst = ready.snapshot === null;
        if (applyFirst) this.applyEntries(ready.committedEntries);
        this.writing = ready.entries[ready.entries.length - 1]?.index ?? 0;
        // 1. Persist: nothing below may depend on state that is not durable yet. A batch that
        //    only moves the commit index is the exception: nothing depends on it being durable
        //    (a restarted node learns the commit index again from the leader), so it is written
        //    in the background and committed entries are applied without waiting on the disk.
        if (ready.hardState !== null || ready.entries.length > 0 || ready.snapshot !== null) {
          const update: PersistUpdate = { hardState: ready.hardState ?? undefined, entries: ready.entries, snapshot: ready.snapshot ?? undefined };
          if (mustSync(storage.hardState, update)) {
            await this.commitWrite; // writes reach the disk in the order they were made
            // That write failed: the node stopped and is closing the storage, under which this
            // batch would be written.
            if (this.stopped) return;
            const write = this.options.persistence.save(update);
            this.logWrite = write.then(
              () => undefined,
              () => undefined,
            );
            await write;
          } else {
            // Not once one queued before it failed: the node is closing its storage by then.
            this.commitWrite = this.commitWrite
              .then(() => (this.failed === null ? this.options.persistence.save(update) : undefined))
              .catch((error: unknown) => this.fail(error));
          }
        }
        if (this.stopped) return;
        if (ready.snapshot !== null) this.installSnapshot(ready.snapshot);
        storage.append(ready.entries);
        if (ready.hardState !== null) storage.hardState = ready.hardState;
        // 2. Send the rest: votes, acknowledgements and answers that rely on the durable state.
        for (const message of later) this.send(message);
        // 3. Apply.
        if (!applyFirst) this.applyEntries(ready.committedEntries);
        this.settleReads(ready);
        // 4. Advance, then report.
        core.advance(ready);
        this.afterAdvance(ready);
        this.maybeSnapshot();
        this.cancelDeadlineIfIdle();
      }
    } catch (error) {
      // A storage failure leaves the node unable to keep its promises: stop, loudly.
      this.fail(error);
    }
  }

  private installSnapshot(snapshot: Snapshot): void {
    this.storage!.applySnapshot(snapshot);
    this.options.stateMachine.restore(snapshot.data);
    this.lastSnapshotIndex = snapshot.meta.index;
    this.appliedIndex = snapshot.meta.index;
    this.counters.snapshotsInstalled += 1;
    // Proposals and membership changes inside the snapshot: whether they are in it is unknown
    // from here. (Changes too: left waiting, one without a deadline never settled.)
    for (const [index, pending] of this.proposals) {
      if (index > snapshot.meta.index) continue;
      pending.reject(new RaftTimeoutError('proposal (its log position was replaced by a snapshot; outcome unknown)', 0));
      this.proposals.delete(index);
    }
    for (const [index, pending] of this.changes) {
      if (index > snapshot.meta.index) continue;
      pending.reject(new RaftTimeoutError('membership change (its log position was replaced by a snapshot; outcome unknown)', 0));
      this.changes.delete(index);
    }
    this.releaseReads(snapshot.meta.index);
  }

  private applyEntries(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.kind === 'normal') {
        this.applyCommand(entry);
        // A membership change waiting on this position lost it to a command of a new leader.
        this.dropAt(this.changes, entry.index, entry.term);
      } else {
        this.settle(this.changes, entry.index, entry.term, () => entry.membership);
        // And a proposal waiting on it lost it to a membership entry.
        this.dropAt(this.proposals, entry.index, entry.term);
      }
      this.appliedIndex = entry.index;
    }
  }

  /** Applies entries committed since the Ready in progress was taken (a leader waiting on its disk). */
  private applyCommitted(): void {
    // Only entries the Ready in flight writes (or the log storage holds): entries proposed since
    // wait for the next one, so that when a Ready is done the storage holds everything applied,
    // and a snapshot of the state machine can always be taken then.
    const entries = this.core!.takeCommitted(Math.max(this.writing, this.storage!.lastIndex()));
    if (entries.length === 0) return;
    this.applyEntries(entries);
    this.core!.appliedTo(this.appliedIndex);
    this.releaseReads(this.appliedIndex);
    this.cancelDeadlineIfIdle();
  }

  private settleReads(ready: Ready): void {
    for (const read of ready.readStates) {
      const batch = this.reads.get(read.context);
      if (batch !== undefined) batch.index = read.index;
    }
    for (const context of ready.droppedReads) {
      const batch = this.reads.get(context);
      if (batch === undefined) continue;
      this.reads.delete(context);
      for (const pending of batch.reads) {
        pending.reject(new DroppedError('leadership changed before the read was confirmed'));
      }
    }
    // A round forwarded in an older term waits for an answer that cannot count any more: the
    // core ignores one from an older term as stale, and the leader may be gone. (A leader's own
    // rounds are dropped by the core when it loses its term.)
    const term = this.core!.term;
    for (const [context, batch] of this.reads) {
      if (batch.forwardedIn === null || batch.forwardedIn === term || batch.index >= 0) continue;
      this.reads.delete(context);
      for (const pending of batch.reads) {
        pending.reject(new DroppedError('a new term began before the leader it was forwarded to confirmed the read'));
      }
    }
    this.releaseReads(this.appliedIndex);
  }

  private applyCommand(entry: Extract<Entry, { kind: 'normal' }>): void {
    if (entry.data.byteLength === 0) {
      // A leader's no-op: a proposal that expected this position was overwritten.
      this.settle(this.proposals, entry.index, entry.term, () => undefined as never);
      return;
    }
    const result = this.options.stateMachine.apply(this.codec.decode(entry.data), entry.index);
    this.counters.proposalsCommitted += 1;
    this.settle(this.proposals, entry.index, entry.term, () => result);
  }

  /** Makes sure the deadline timer fires by `deadline`. */
  private watchDeadline(deadline: number): void {
    if (deadline >= this.deadlineAt || this.stopped) return;
    this.deadlineTimer?.cancel();
    this.deadlineAt = deadline;
    this.deadlineTimer = this.clock.setTimer(Math.max(0, deadline - this.clock.monotonic()), this.expireDue);
  }

  /**
   * Cancels the deadline timer once no call waits. Left to fire at the deadline of a call long
   * answered, it outlived every call by up to their timeout (5 s by default, as long as a caller
   * asked for otherwise), an hour's timer for nothing after an hour's timeout.
   */
  private cancelDeadlineIfIdle(): void {
    if (this.deadlineTimer === null || this.proposals.size > 0 || this.changes.size > 0 || this.reads.size > 0) return;
    this.deadlineTimer.cancel();
    this.deadlineTimer = null;
    this.deadlineAt = Number.POSITIVE_INFINITY;
  }

  /** Fails what is past its deadline and sets the timer for the earliest of the rest. */
  private readonly expireDue = (): void => {
    this.deadlineTimer = null;
    this.deadlineAt = Number.POSITIVE_INFINITY;
    const now = this.clock.monotonic();
    let next = Number.POSITIVE_INFINITY;
    const expire = <K>(entries: Iterable<[K, Pick<Pending<unknown>, 'deadline' | 'timeoutMs' | 'reject'>]>, remove: (key: K) => unknown, what: string): void => {
      for (const [key, waiting] of entries) {
        if (waiting.deadline > now) {
          if (waiting.deadline < next) next = waiting.deadline;
          continue;
        }
        remove(key);
        waiting.reject(new RaftTimeoutError(what, waiting.timeoutMs));
      }
    };
    expire(this.proposals.entries(), (index) => this.proposals.delete(index), 'proposal');
    expire(this.changes.entries(), (index) => this.changes.delete(index), 'membership change');
    for (const [context, batch] of this.reads) {
      expire(batch.reads.entries(), (read) => batch.reads.delete(read), 'read');
      if (batch.reads.size === 0) this.reads.delete(context);
    }
    this.watchDeadline(next);
  };

  /**
   * Waits on `index`. An earlier proposal at the same index belongs to an entry this node's log
   * no longer holds (a leader's shorter log replaced it before this node led again). That does
   * not mean it failed: another node may still hold it and, as leader, commit it. So it ends
   * with an unknown outcome rather than being left unanswered.
   */
  private track<T>(pending: Map<number, Pending<T>>, index: number, entry: Pending<T>): void {
    const earlier = pending.get(index);
    if (earlier !== undefined) {
      earlier.reject(new RaftTimeoutError(`proposal (its log position ${index} was truncated on this node and reused; outcome unknown)`, 0));
    }
    pending.set(index, entry);
  }

  private settle<T>(pending: Map<number, Pending<T>>, index: number, term: number, value: () => T): void {
    const waiting = pending.get(index);
    if (waiting === undefined) return;
    pending.delete(index);
    if (waiting.term === term) waiting.resolve(value());
    else waiting.reject(new DroppedError(`another entry (term ${term}) took log position ${index}`));
  }

  /** What waits on log position `index` for an entry of the other kind: another entry took it. */
  private dropAt<T>(pending: Map<number, Pending<T>>, index: number, term: number): void {
    const waiting = pending.get(index);
    if (waiting === undefined) return;
    pending.delete(index);
    waiting.reject(new DroppedError(`another entry (term ${term}) took log position ${index}`));
  }

  /** Answers reads whose index the state machine has reached. */
  private releaseReads(applied: number): void {
    for (const [context, batch] of this.reads) {
      if (batch.index < 0 || batch.index > applied) continue;
      this.reads.delete(context);
      for (const pending of batch.reads) {
        try {
          pending.resolve(this.options.stateMachine.query(pending.query as Query));
        } catch (error) {
          pending.reject(error);
        }
      }
    }
  }

  private afterAdvance(ready: Ready): void {
    if (ready.softState !== null) this.emit('leader-change', { leader: ready.softState.leader, term: ready.softState.term, role: ready.softState.role });
    // Against the membership last told, not the one before this Ready: a snapshot from the
    // leader changes it while it is stepped, before any Ready is taken.
    const after = this.core!.membership();
    const text = JSON.stringify(after);
    if (text === this.toldMembership) return;
    this.toldMembership = text;
    this.emit('membership-change', after);
  }

  /**
   * Snapshots the state machine once enough entries were applied. Writing the snapshot does not
   * hold up the Ready loop: the in-memory log is compacted at once (the snapshot can be sent to
   * followers from memory), the file is written in the background, and no second snapshot starts
   * before it is durable. A state machine that serialises in pieces (`snapshotPieces`) gives one
   * piece per turn of the event loop, so the node goes on with its other work meanwhile; the log
   * is compacted once the last piece is in.
   */
  private maybeSnapshot(): void {
    const core = this.core!;
    const applied = this.appliedIndex;
    // The storage holds everything applied once a Ready is done (see applyCommitted); the
    // check keeps a snapshot from ever reflecting entries the storage lacks.
    if (this.snapshotting || applied - this.lastSnapshotIndex < this.snapshotEvery || applied <= this.storage!.firstIndex() - 1 || applied > this.storage!.lastIndex()) return;
    const stateMachine = this.options.stateMachine;
    const membership = core.membership();
    this.lastSnapshotIndex = applied;
    this.snapshotting = true;
    if (stateMachine.snapshotPieces === undefined) this.saveSnapshot(this.storage!.createSnapshot(applied, membership, stateMachine.snapshot()));
    else this.snapshotWrite = this.snapshotInPieces(applied, membership, stateMachine.snapshotPieces());
  }

  /** Takes the pieces one per 1 ms timer (what a 0 ms timer is in Node; in a simulation it lets time pass), then saves. */
  private async snapshotInPieces(applied: number, membership: Membership, pieces: Iterator<Uint8Array>): Promise<void> {
    const parts: Uint8Array[] = [];
    try {
      for (let next = pieces.next(); next.done !== true; next = pieces.next()) {
        parts.push(next.value);
        await new Promise<void>((done) => this.clock.setTimer(1, done));
        if (this.stopped) return; // a node that stops gives up the snapshot
      }
    } catch (error) {
      this.fail(error);
      return;
    }
    // Entries committed after `applied` were written meanwhile, none before it can have gone
    // (they are committed), unless a snapshot from the leader replaced the log past it.
    if (applied <= this.storage!.firstIndex() - 1) {
      this.snapshotting = false;
      return;
    }
    this.saveSnapshot(this.storage!.createSnapshot(applied, membership, Buffer.concat(parts)));
    await this.snapshotWrite;
  }

  private saveSnapshot(snapshot: Snapshot): void {
    this.counters.snapshotsTaken += 1;
    this.snapshotWrite = this.options.persistence.saveSnapshot(snapshot).then(
      () => {
        this.snapshotting = false;
      },
      (error: unknown) => this.fail(error),
    );
  }

  // ---- the network --------------------------------------------------------------------------

  private send(message: Message): void {
    if (message.type === 'snapshot') {
      this.startTransfer(message);
      return;
    }
    const accepted = this.options.transport.send(message.to, this.channel, message);
    if (!accepted && message.type === 'append') this.core!.reportUnreachable(message.to);
  }

  private startTransfer(message: Extract<Message, { type: 'snapshot' }>): void {
    const transfer: OutgoingTransfer = {
      id: `${this.id}/${message.term}/${message.snapshot.meta.index}/${++this.transferSequence}`,
      message,
      started: false,
      sent: 0,
      acked: 0,
      lastProgress: this.clock.monotonic(),
      resentAt: this.clock.monotonic(),
      lastAnswer: this.clock.monotonic(),
      slowestAnswer: 0,
      unansweredResends: 0,
      refusedUntil: null,
    };
    this.outgoing.set(message.to, transfer);
    this.pumpTransfer(transfer);
  }

  private pumpTransfer(transfer: OutgoingTransfer): void {
    const { message } = transfer;
    const data = message.snapshot.data;
    const total = data.byteLength;
    // One chunk until the follower has acknowledged some: every chunk announces the total, and a
    // follower whose limits.maxSnapshotBytes it exceeds refuses the first one it gets. A full
    // window sent before that answer put TRANSFER_WINDOW - 1 more chunks on the wire for nothing
    // at every attempt (each refused again, and counted again on the follower).
    const windowBytes = (transfer.acked === 0 ? 1 : TRANSFER_WINDOW) * this.chunkBytes;
    // An empty snapshot still travels as one (empty) chunk.
    while ((transfer.sent < total || (total === 0 && !transfer.started)) && transfer.sent - transfer.acked < windowBytes) {
      const end = Math.min(total, transfer.sent + this.chunkBytes);
      const chunk: SnapshotChunk = {
        type: 'snapshot-chunk',
        from: this.id,
        to: message.to,
        term: message.term,
        id: transfer.id,
        meta: message.snapshot.meta,
        offset: transfer.sent,
        total,
        data: data.subarray(transfer.sent, end),
      };
      if (!this.options.transport.send(message.to, this.channel, chunk)) break;
      transfer.started = true;
      transfer.sent = end;
    }
  }

  private receiveAck(ack: SnapshotChunkAck): void {
    const transfer = this.outgoing.get(ack.from);
    if (transfer === undefined || transfer.id !== ack.id || transfer.refusedUntil !== null) return;
    if (ack.maxSnapshotBytes !== undefined) {
      // A follower refuses only a snapshot above its limit: a refusal naming a limit that holds
      // this one contradicts itself (a buggy or hostile peer), and is dropped as invalid.
      if (ack.maxSnapshotBytes >= transfer.message.snapshot.data.byteLength) this.counters.invalidMessages += 1;
      else this.refused(transfer, ack.maxSnapshotBytes);
      return;
    }
    // How long the follower takes to answer the next chunk: on a link slower than an election
    // timeout per chunk, this is what a silence must outlast before what it has not acknowledged
    // counts as lost (see checkTransfers). An answer that follows a resend is not measured (it
    // may answer the first copy or the second), as TCP measures its round trips (Karn).
    const now = this.clock.monotonic();
    if (transfer.resentAt <= transfer.lastAnswer) {
      transfer.slowestAnswer = Math.max(transfer.slowestAnswer, now - transfer.lastAnswer);
      transfer.unansweredResends = 0;
    }
    transfer.lastAnswer = now;
    // An acknowledgement of nothing new (a copy, or the answer to a chunk sent again) is no
    // progress: it holds off sending again, but only progress keeps a transfer from being
    // abandoned.
    const progressed = ack.received > transfer.acked;
    if (progressed) {
      transfer.acked = ack.received;
      transfer.sent = Math.max(transfer.sent, transfer.acked);
      transfer.lastProgress = now;
    }
    if (transfer.acked >= transfer.message.snapshot.data.byteLength) {
      this.outgoing.delete(ack.from);
      this.refusals.delete(ack.from);
      this.core!.reportSnapshot(ack.from, true);
      return;
    }
    if (progressed) this.pumpTransfer(transfer);
  }

  /**
   * Sends again what a follower has not acknowledged, and abandons transfers that stopped making
   * progress (the leader retries later). A follower takes chunks in order only, so one lost or
   * overtaken by the next leaves those after it dropped and unacknowledged: without going back
   * to the last acknowledged offset the transfer could only stall and start over, which on a
   * network that reorders often it did every time. Only after a silence, though: any answer,
   * progress or not, shows the follower is still receiving what was sent, and the silence must
   * outlast an election timeout and twice the longest the follower took to answer again, and
   * twice that again for each resend not yet followed by a measured answer. A follower
   * progressing slowly (a chunk taking longer than an election timeout to cross its link) was
   * otherwise sent a window of copies with every chunk, and the copies, queued ahead of what it
   * needed, kept it from ever receiving the snapshot.
   */
  private checkTransfers(): void {
    const electionTimeout = this.electionTimeoutMs();
    const stall = 20 * electionTimeout;
    const now = this.clock.monotonic();
    const core = this.core!;
    // A node removed from the membership is sent nothing more, and its refusals are forgotten:
    // they stayed in status() for as long as this node led, and the transfer went on resending.
    const members = this.refusals.size === 0 && this.outgoing.size === 0 ? null : this.members();
    for (const [peer, record] of this.refusals) if (core.role !== 'leader' || core.term !== record.leaderTerm || !members!.has(peer)) this.refusals.delete(peer);
    for (const [peer, transfer] of this.outgoing) {
      if (core.role !== 'leader' || core.term !== transfer.message.term || !members!.has(peer)) {
        // Sent in a term this node no longer leads (followers drop its chunks, and the core
        // has no use for the outcome), or to a node no longer a member.
        this.outgoing.delete(peer);
      } else if (transfer.refusedUntil !== null) {
        // Refused for its size: the core, which holds the follower in its snapshot state
        // meanwhile (no appends, no new snapshot), hears of the failure only once the wait is
        // over, and then sends the latest snapshot again.
        if (now >= transfer.refusedUntil) {
          this.outgoing.delete(peer);
          core.reportSnapshot(peer, false);
        }
      } else if (now - transfer.lastProgress >= stall) {
        this.outgoing.delete(peer);
        this.core!.reportSnapshot(peer, false);
      } else if (now - Math.max(transfer.lastAnswer, transfer.resentAt) >= Math.max(electionTimeout, 2 * transfer.slowestAnswer) * 2 ** transfer.unansweredResends) {
        transfer.unansweredResends += 1;
        transfer.sent = transfer.acked;
        transfer.started = transfer.acked > 0;
        transfer.resentAt = now;
        this.pumpTransfer(transfer);
      }
    }
  }

  /** The voters and learners of the membership the core holds now. */
  private members(): Set<NodeId> {
    const { voters, learners } = this.core!.membership();
    return new Set([...voters, ...learners]);
  }

  private electionTimeoutMs(): number {
    return (this.options.tickMs ?? 20) * (this.options.electionTicks ?? 10);
  }

  /**
   * The follower refused `transfer` for its size. Without an answer (as a follower of an
   * earlier version still does) the leader sent the snapshot again at every silence and again
   * after every abandoned transfer, for as long as it led, and only the follower's
   * invalidMessages counter showed why. Now the refusal is told (the `snapshot-refused` event,
   * `status().snapshotRefusals`) and the next attempt waits two election timeouts, doubling with
   * each refusal in a row up to 80 (16 s with the default timings): the snapshot may shrink, or
   * the follower come back with a higher limit.
   */
  private refused(transfer: OutgoingTransfer, limit: number): void {
    const follower = transfer.message.to;
    const { meta, data } = transfer.message.snapshot;
    const previous = this.refusals.get(follower);
    const leaderTerm = transfer.message.term;
    const refusals = previous !== undefined && previous.leaderTerm === leaderTerm ? previous.refusal.refusals + 1 : 1;
    const electionTimeout = this.electionTimeoutMs();
    const retryInMs = Math.min(80 * electionTimeout, electionTimeout * 2 ** Math.min(refusals, 16));
    const refusal: SnapshotRefusal = { follower, bytes: data.byteLength, limit, index: meta.index, term: meta.term, refusals, retryInMs };
    const retryAt = this.clock.monotonic() + retryInMs;
    this.refusals.set(follower, { leaderTerm, refusal, retryAt });
    transfer.refusedUntil = retryAt;
    this.emit('snapshot-refused', refusal);
  }

  private receiveChunk(chunk: SnapshotChunk): void {
    const core = this.core!;
    const tooLarge = chunk.total > this.limits.maxSnapshotBytes;
    // Only the leader of the current term, or a sender of a newer one, may send this node a
    // snapshot, and only one transfer is assembled at a time. A chunk above the limit from any
    // other sender is an invalid message.
    if (chunk.term < core.term || (core.leader !== null && core.leader !== chunk.from && chunk.term === core.term)) {
      if (tooLarge) this.counters.invalidMessages += 1;
      return;
    }
    // From a sender that may send it a snapshot, a chunk above this node's limit is answered with
    // the limit, so that the sender can tell and stop sending, and counted on its own: counted as
    // invalid, it looked like a hostile peer's doing, where the limit is too low for the state.
    if (tooLarge) {
      this.counters.snapshotChunksTooLarge += 1;
      const refusal: SnapshotChunkAck = { type: 'snapshot-chunk-ack', from: this.id, to: chunk.from, id: chunk.id, received: 0, maxSnapshotBytes: this.limits.maxSnapshotBytes };
      this.options.transport.send(chunk.from, this.channel, refusal);
      return;
    }
    let transfer = this.incoming;
    // The core learns a newer leader's term from its other messages, not from its chunks (it
    // steps a snapshot only once whole): until then the term of the transfer being assembled is
    // the newest this node knows, and a deposed leader's chunk must not displace it.
    if (transfer !== null && chunk.term < transfer.term) return;
    if (transfer === null || transfer.from !== chunk.from || transfer.id !== chunk.id) {
      const retired = this.retired.find(({ from, id }) => from === chunk.from && id === chunk.id);
      if (retired !== undefined) {
        // Answered with what arrived of it: a sender that lost the last acknowledgement and
        // went back to send the end again learns that it is done.
        this.acknowledge(chunk, retired.received);
        return;
      }
      if (chunk.offset !== 0) return;
      if (transfer !== null) this.retire(transfer);
      transfer = { from: chunk.from, id: chunk.id, meta: chunk.meta, term: chunk.term, total: chunk.total, buffer: new Uint8Array(0), received: 0 };
      this.incoming = transfer;
    }
    if (chunk.total !== transfer.total) return;
    if (chunk.offset !== transfer.received) {
      // A copy, or a chunk that overtook one lost or late: say what is here, so that a sender
      // that went back to send again continues from it (see checkTransfers).
      this.acknowledge(chunk, transfer.received);
      return;
    }
    const end = transfer.received + chunk.data.byteLength;
    if (end > transfer.buffer.byteLength) {
      // The buffer grows with what arrives (doubling, up to the announced total), never to the
      // total a chunk merely claims: a sender with a higher term, which anyone can claim, would
      // otherwise make this node allocate up to limits.maxSnapshotBytes with one small chunk.
      const grown = new Uint8Array(Math.min(transfer.total, Math.max(end, 2 * transfer.buffer.byteLength)));
      grown.set(transfer.buffer.subarray(0, transfer.received));
      transfer.buffer = grown;
    }
    transfer.buffer.set(chunk.data, chunk.offset);
    transfer.received = end;
    this.acknowledge(chunk, transfer.received);
    if (transfer.received < transfer.total) return;
    this.retire(transfer);
    this.incoming = null;
    const snapshot: Extract<Message, { type: 'snapshot' }> = { type: 'snapshot', from: chunk.from, to: this.id, term: transfer.term, snapshot: { meta: transfer.meta, data: transfer.buffer } };
    if (!this.readable(snapshot)) return;
    if (this.processing !== null) this.heldSnapshot = snapshot; // stepped by kick() once the loop is done
    else this.core!.step(snapshot);
  }

  /**
   * Whether the state machine can restore `snapshot`, asked before the core steps it: once
   * stepped, the snapshot has replaced the core's log, and the Ready loop writes it to disk
   * before `restore` runs, so a `restore` that throws then stopped the node, and it failed again
   * at every start on the snapshot it wrote. Refused here, it is as if it never arrived: the
   * term, log and state stay as they were, and no append response tells the sender it was taken
   * (the acknowledgement of its last chunk says only that the bytes arrived), so the leader,
   * which finds this node still behind, sends a snapshot again. Counted each time, told once.
   */
  private readable(snapshot: Extract<Message, { type: 'snapshot' }>): boolean {
    const { stateMachine } = this.options;
    if (stateMachine.checkSnapshot === undefined) return true;
    try {
      stateMachine.checkSnapshot(snapshot.snapshot.data);
      return true;
    } catch (error) {
      const { index, term } = snapshot.snapshot.meta;
      this.counters.snapshotsRefused += 1;
      const refused = JSON.stringify([snapshot.from, index, term]);
      if (refused !== this.refusedSnapshot) {
        this.refusedSnapshot = refused;
        this.emit('error', new SnapshotRefusedError(index, term, snapshot.from, error));
      }
      return false;
    }
  }

  private acknowledge(chunk: SnapshotChunk, received: number): void {
    const ack: SnapshotChunkAck = { type: 'snapshot-chunk-ack', from: this.id, to: chunk.from, id: chunk.id, received };
    this.options.transport.send(chunk.from, this.channel, ack);
  }

  private retire(transfer: IncomingTransfer): void {
    this.retired.push({ from: transfer.from, id: transfer.id, received: transfer.received });
    if (this.retired.length > RETIRED_TRANSFERS) this.retired.shift();
  }
}
