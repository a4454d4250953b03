// The cluster's Raft group, and the ConsensusLog views that config and the registry consume.
// Any node can append: a follower forwards the command to the leader and waits for its answer.
// Reads are linearizable on any node (Raft's ReadIndex, forwarded by the follower's Raft node).
import { FoundationError, createBackoff, createCryptoRandom, isWellFormed, sleep, systemClock, uuidV4 } from '@foundation/core';
import type { Random, Scheduler } from '@foundation/core';
import { CHANNELS_ERROR_CODES } from '@foundation/channels';
import { RAFT_ERROR_CODES, RaftTimeoutError, StoppedError, createRaftNode } from '@foundation/raft';
import type { Membership, RaftNode, RaftNodeOptions, RaftPersistence, RaftTransport } from '@foundation/raft';
import { ClusterStateMachine, MAX_COMMAND_DEPTH, sessionOf } from './cluster-state-machine';
import { ProposalResultForgottenError } from '../errors/proposal-result-forgotten-error';
import { nestsDeeperThan } from './nesting-depth';
import { unlessAborted } from './unless-aborted';
import type { AppliedCommand, ClusterCommand, ClusterQuery, ClusterResult, StreamOptions } from './cluster-state-machine';

export type ClusterRaftNode = RaftNode<ClusterCommand, ClusterResult, ClusterQuery, unknown>;

/** The port that config and the registry declare (the same shape in both packages). */
export interface ConsensusLog<Command> {
  append(command: Command, options?: { readonly signal?: AbortSignal | undefined }): Promise<number>;
  readIndex(options?: { readonly signal?: AbortSignal | undefined }): Promise<number>;
  appliedIndex(): number;
  onApplied(listener: (entry: { readonly index: number; readonly command: Command }) => void): () => void;
  onRestore(listener: () => void): () => void;
  onRestoreEnd(listener: (snapshotIndex: number) => void): () => void;
}

/** Request/reply to another node, for forwarding commands to the leader. */
export interface ForwardingTransport {
  request(peer: string, channel: string, payload: unknown, options: { readonly timeout: number }): Promise<unknown>;
  onRequest(channel: string, handler: (message: { readonly from: string; readonly payload: unknown }) => unknown): () => void;
}

export interface ClusterConsensusOptions {
  readonly nodeId: string;
  /** Voters of a new cluster (the same list on each of them); a node not listed joins as a learner. */
  readonly voters: readonly string[];
  /** How long `join()` keeps trying (a cluster starting together may still elect). Default 30,000 ms. */
  readonly joinTimeoutMs?: number;
  /** Nodes a joining learner may ask to add it (the leader, or a node that knows it). Default the voters. */
  readonly contacts?: readonly string[];
  readonly transport: RaftTransport;
  readonly forwarding: ForwardingTransport;
  readonly persistence: RaftPersistence;
  readonly clock?: Scheduler;
  readonly random?: Random;
  /** How long an append or read may take, including finding the leader. Default 5,000 ms. */
  readonly timeoutMs?: number;
  readonly raft?: Partial<Pick<RaftNodeOptions<ClusterCommand, ClusterResult, ClusterQuery, unknown>, 'tickMs' | 'electionTicks' | 'heartbeatTicks' | 'snapshotEvery' | 'readMode'>>;
}

export interface ClusterConsensus {
  readonly raft: ClusterRaftNode;
  readonly stateMachine: ClusterStateMachine;
  /**
   * Declares `stream` and returns a ConsensusLog over it; declare every stream before `start`,
   * with the same options on every node. Called again for a stream already declared, with the
   * same options (`retain` left out is `'all'`; a retention function or `{ compact }` function
   * only when it is the very same function), it returns another handle on the same stream. With
   * other options it throws StreamOptionsConflictError (6106), naming the stream and both
   * options, and the stream keeps the options it was first declared with.
   */
  log<Command>(stream: string, options?: StreamOptions): ConsensusLog<Command>;
  /** Proposes on a stream through whichever node leads; resolves once applied on the leader. */
  propose(stream: string, command: unknown, signal?: AbortSignal): Promise<ClusterResult>;
  /** A linearizable read of the replicated state. */
  read(query: ClusterQuery, signal?: AbortSignal): Promise<unknown>;
  /**
   * Asks the leader to add this node (a learner first), when it is not a voter of the bootstrap
   * list; keeps trying for `timeoutMs` (default the `joinTimeoutMs` option). Resolves with this
   * node's own view of the membership, once that lists the node: once it has caught up with
   * the log up to its addition.
   */
  join(options?: { readonly timeoutMs?: number }): Promise<Membership>;
  /** Starts Raft; a node not among the voters then joins, within `joinTimeoutMs` (default the option's). */
  start(options?: { readonly joinTimeoutMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

const FORWARD_CHANNEL = 'raft';
const FORWARD_KIND = 'foundation/consensus';

/**
 * Whether to try again (elsewhere): this node is not the leader, the leader dropped the
 * command (by chance: lost in a change of term, not refused for what it is), there was no one
 * to answer, there was no link to the leader, or the link went down while the forwarded
 * command was pending (requestInterrupted). The last can happen after the leader appended the
 * command; proposals carry a session (proposer, number) so that a second copy in the log is not
 * applied again (see ClusterCommand.session).
 */
function retryable(error: unknown): boolean {
  if (!FoundationError.is(error)) return false;
  return (
    error.code === RAFT_ERROR_CODES.notLeader ||
    // Not a command Raft refused for what it is (too large to replicate, say): every leader
    // refuses it alike, and each try encoded it again until the timeout.
    (error.code === RAFT_ERROR_CODES.dropped && (error.context as { refused?: unknown }).refused !== true) ||
    error.code === CHANNELS_ERROR_CODES.peerUnavailable ||
    error.code === CHANNELS_ERROR_CODES.requestInterrupted ||
    error.code === CHANNELS_ERROR_CODES.noResponder
  );
}

/**
 * Refuses a key or lock name holding a lone surrogate. The log holds commands as CBOR, whose
 * text is UTF-8, and the encoder writes U+FFFD in its place: '\uD800' and '\uDC00' were one key
 * in the log, and a read with the key as given (a query of this node's state) found nothing.
 * Checked where proposed and read only: what a log already holds applies as it always did.
 */
function refuseLoneSurrogate(key: unknown): void {
  if (typeof key !== 'string' || isWellFormed(key)) return;
  const shown = JSON.stringify(key).slice(1, -1);
  throw new FoundationError({ type: 'invalid_input', message: `the key ${shown} holds a lone surrogate, which the log cannot hold as it is (CBOR text is UTF-8)`, context: { key: shown } });
}

function leaderHint(error: unknown): string | null {
  if (!FoundationError.is(error)) return null;
  const hint = (error.context as { leaderHint?: unknown }).leaderHint;
  return typeof hint === 'string' ? hint : null;
}

export function createClusterConsensus(options: ClusterConsensusOptions): ClusterConsensus {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? createCryptoRandom();
  const timeoutMs = options.timeoutMs ?? 5000;
  const stateMachine = new ClusterStateMachine();
  const raft: ClusterRaftNode = createRaftNode({
    id: options.nodeId,
    peers: options.voters.includes(options.nodeId) ? options.voters : [],
    persistence: options.persistence,
    transport: options.transport,
    stateMachine,
    clock,
    random,
    requestTimeoutMs: timeoutMs,
    ...options.raft,
  });
  let unsubscribe: (() => void) | null = null;
  let stopped = false;
  // Proposal sessions: this incarnation's random id, a counter, and the lowest number still
  // waiting for an answer (the state machine forgets results below it).
  const proposer = uuidV4(random).replaceAll('-', '').slice(0, 16);
  let proposals = 0;
  let floor = 1;
  const inFlight = new Set<number>();

  /**
   * Runs `attempt` against a target node — null means this node — following leader hints and
   * retrying what certainly failed, until the timeout. `fallback` picks a target when there is
   * no hint (null: this node).
   */
  const withLeader = async <T>(
    attempt: (target: string | null) => Promise<T>,
    fallback: (round: number) => string | null,
    signal?: AbortSignal,
    alsoRetry: (error: unknown) => boolean = () => false,
    withinMs = timeoutMs,
  ): Promise<T> => {
    const deadline = clock.monotonic() + withinMs;
    const backoff = createBackoff({ initialMs: 10, maxMs: 200, random });
    let target = fallback(0);
    for (let round = 1; ; round += 1) {
      signal?.throwIfAborted();
      try {
        // An abort ends the wait at once; the attempt in flight goes on unheard (an append may
        // still commit, as one given up on at the timeout may).
        return await unlessAborted(attempt(target), signal);
      } catch (error) {
        if (signal?.aborted === true) throw error;
        if (!(retryable(error) || alsoRetry(error)) || clock.monotonic() > deadline) throw error;
        const hint = leaderHint(error);
        if (hint !== null && hint !== target) {
          target = hint === options.nodeId ? null : hint;
        } else {
          await sleep(clock, backoff.next(), signal);
          target = fallback(round);
        }
      }
    }
  };
  const local = (): null => null;

  /**
   * This node's own view of the membership, once it lists the node; rejects with
   * RaftTimeoutError if that takes longer than `withinMs`.
   */
  const countedIn = (withinMs: number): Promise<Membership> => {
    const counted = (membership: Membership): boolean => membership.voters.includes(options.nodeId) || membership.learners.includes(options.nodeId);
    const current = raft.status().membership;
    if (counted(current)) return Promise.resolve(current);
    return new Promise((resolve, reject) => {
      const timer = clock.setTimer(withinMs, () => {
        stopListening();
        reject(new RaftTimeoutError(`joining as a learner (${options.nodeId} was added, but has not caught up with its addition)`, withinMs));
      });
      const stopListening = raft.on('membership-change', (membership) => {
        if (!counted(membership)) return;
        stopListening();
        timer.cancel();
        resolve(membership);
      });
    });
  };

  const propose = async (stream: string, command: unknown, signal?: AbortSignal): Promise<ClusterResult> => {
    // The state machine refuses such a command with a null result, which no caller could tell
    // from a result; refused here instead, before it takes a place in the log. (The command goes
    // in as one level of { stream, command, session }.)
    if (nestsDeeperThan(command, MAX_COMMAND_DEPTH - 1)) {
      throw new FoundationError({
        type: 'invalid_input',
        message: `a command on stream ${stream} nests more than ${MAX_COMMAND_DEPTH - 1} levels deep, which the cluster state machine does not apply`,
        context: { stream, maxDepth: MAX_COMMAND_DEPTH - 1 },
      });
    }
    if (stream === 'kv' || stream === 'locks') refuseLoneSurrogate(stream === 'kv' ? (command as { key?: unknown } | null)?.key : (command as { name?: unknown } | null)?.name);
    proposals += 1;
    const seq = proposals;
    inFlight.add(seq);
    try {
      const result = await withLeader(async (target) => {
        const session = { proposer, seq, floor };
        if (target === null) return raft.propose({ stream, command, session }, { timeoutMs });
        const reply = await options.forwarding.request(target, FORWARD_CHANNEL, { kind: FORWARD_KIND, stream, command, session }, { timeout: timeoutMs });
        return reply as ClusterResult;
      }, local, signal);
      // A retried copy applied by an earlier one whose result the state machine no longer keeps.
      if (result.forgotten === true) throw new ProposalResultForgottenError(stream, result.index);
      return result;
    } finally {
      // Answered or given up: not retried again, so its result may be forgotten. (A proposal
      // given up on may still commit, unless a later proposal carried the raised floor into the
      // log first: the state machine then refuses it. Nothing waits for its result any more.)
      inFlight.delete(seq);
      while (floor <= proposals && !inFlight.has(floor)) floor += 1;
    }
  };

  const read = async (query: ClusterQuery, signal?: AbortSignal): Promise<unknown> => {
    if (query.kind === 'kv') refuseLoneSurrogate((query.query as { key?: unknown }).key);
    else if (query.kind === 'lock') refuseLoneSurrogate(query.name);
    return withLeader(() => raft.read(query, { timeoutMs }), local, signal);
  };

  return {
    raft,
    stateMachine,
    log<Command>(stream: string, streamOptions?: StreamOptions): ConsensusLog<Command> {
      stateMachine.registerStream(stream, streamOptions);
      return {
        append: async (command, callOptions) => (await propose(stream, command, callOptions?.signal)).index,
        readIndex: async (callOptions) => (await read({ kind: 'applied-index' }, callOptions?.signal)) as number,
        appliedIndex: () => stateMachine.appliedIndex(),
        onApplied: (listener) => stateMachine.onApplied(stream, listener as (entry: AppliedCommand) => void),
        onRestore: (listener) => stateMachine.onRestored(stream, listener),
        onRestoreEnd: (listener) => stateMachine.onReplayed(stream, listener),
      };
    },
    propose,
    read,
    async join(joinOptions = {}) {
      // The leader adds this node as a learner: it receives and applies everything, without a
      // vote. Promoting it to voter is an operator's decision (raft.addVoter on the leader).
      const others = [...new Set(options.contacts ?? options.voters)].filter((contact) => contact !== options.nodeId);
      const withinMs = Math.max(0, joinOptions.timeoutMs ?? options.joinTimeoutMs ?? 30_000);
      const joinBy = clock.monotonic() + withinMs;
      await withLeader(
        // No attempt waits past the join's deadline (but each gets at least a millisecond).
        async (target) =>
          (await options.forwarding.request(target ?? others[0]!, FORWARD_CHANNEL, { kind: `${FORWARD_KIND}/join`, node: options.nodeId }, { timeout: Math.max(1, Math.min(timeoutMs, joinBy - clock.monotonic())) })) as Membership,
        (round) => others[round % others.length] ?? null,
        undefined,
        // Learners joining together queue behind each other's membership changes. A join is
        // idempotent (a node already in the group is answered with the membership), so a request
        // that timed out, here or on a leader too busy to commit the addition in time, is asked
        // again while the join's deadline lasts: one unanswered request failed the whole start
        // of a node with most of its deadline left (20 nodes starting at once on two cores).
        (error) =>
          FoundationError.is(error) &&
          ((error.code === RAFT_ERROR_CODES.membershipChange && (error.context as { pending?: unknown }).pending === true) ||
            error.code === CHANNELS_ERROR_CODES.requestTimeout ||
            error.code === RAFT_ERROR_CODES.timeout),
        // A cluster starting all at once may still be electing its first leader.
        withinMs,
      );
      // The leader answers once it has committed the addition, but this node hears of it only
      // with the leader's next appends (a probe, then the log from the start, then a write to
      // disk). Until it has applied the addition its own view is the one it started with: no
      // term, no leader, not a member, none of the cluster's state. A node started then would
      // show all that in its status, so the join ends when the node counts itself in.
      return countedIn(Math.max(1, joinBy - clock.monotonic()));
    },
    async start(startOptions = {}) {
      // Once stopped, for good: Raft would give its first start's outcome again, and the
      // forwarding's router (the node's) is closed, so the node would look started and answer nothing.
      if (stopped) throw new StoppedError(options.nodeId);
      // Raft first: a forwarded request must never find it unstarted.
      await raft.start();
      if (stopped) throw new StoppedError(options.nodeId);
      unsubscribe = options.forwarding.onRequest(FORWARD_CHANNEL, ({ from, payload }) => {
        const request = payload as { kind?: unknown; stream?: unknown; command?: unknown; node?: unknown; session?: unknown };
        if (request.kind === FORWARD_KIND && typeof request.stream === 'string') {
          const session = sessionOf(request.session);
          return raft.propose(session === undefined ? { stream: request.stream, command: request.command } : { stream: request.stream, command: request.command, session }, { timeoutMs });
        }
        if (request.kind === `${FORWARD_KIND}/join` && typeof request.node === 'string') {
          // A node asks to join for itself (see join()): any member asking for another id, made
          // up or of any length, would have the leader replicate to it for good.
          if (request.node !== from) throw new FoundationError({ type: 'invalid_input', message: `${from} asked to add ${request.node.slice(0, 200)}: a node may only ask to add itself` });
          const membership = raft.status().membership;
          if (membership.voters.includes(request.node) || membership.learners.includes(request.node)) return membership;
          return raft.addLearner(request.node, { timeoutMs });
        }
        throw new FoundationError({ type: 'invalid_input', message: `unknown consensus request ${String(request.kind)}` });
      });
      if (!options.voters.includes(options.nodeId)) await this.join(startOptions.joinTimeoutMs === undefined ? {} : { timeoutMs: startOptions.joinTimeoutMs });
    },
    async stop() {
      stopped = true;
      unsubscribe?.();
      await raft.stop();
    },
  };
}
