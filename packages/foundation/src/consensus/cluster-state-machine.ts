// The one replicated state machine of a Foundation cluster's Raft group. Commands arrive on
// named streams: `locks` and `kv` keep their state here; every other stream (config, registry)
// is a log that its consumer applies through the ConsensusLog port. So that a node restored
// from a snapshot still learns everything, each stream keeps what it needs of its history —
// every command, the newest per key, or commands its consumer gives for the state it holds —
// and hands it to its listeners again after a restore.
import { Encoder } from 'cbor-x';
import { isPlainObject } from '@foundation/core';
import { createKvStateMachine } from '@foundation/raft';
import type { KvCommand, KvQuery, KvResult, StateMachine } from '@foundation/raft';
import { StreamOptionsConflictError } from '../errors/stream-options-conflict-error';
import { UnreadableSnapshotError } from '../errors/unreadable-snapshot-error';
import { LockTable } from './locks';
import { nestsDeeperThan } from './nesting-depth';
import { addToRanges, dropRangesBelow, isRanges, rangesHold } from './number-ranges';
import type { LockCommand, LockResult, LockState } from './locks';

export interface ClusterCommand {
  readonly stream: string;
  readonly command: unknown;
  /**
   * Who proposed it, for de-duplication. A proposal can reach the log twice: a follower
   * forwards it, the leader appends it, and the reply is lost with the link, so the follower
   * tries again (the Raft dissertation, §6.3). The second copy is not applied: it answers with
   * the first copy's result; once that result is forgotten, below the proposer's floor, with a
   * null value (the proposer waits for no answer there), and at or above it (the result was
   * dropped to keep memory bounded) with `forgotten`.
   */
  readonly session?: ProposalSession;
}

export interface ProposalSession {
  /** The proposing node's incarnation (random per start). */
  readonly proposer: string;
  /** This proposal's number, the same on every retry of it. */
  readonly seq: number;
  /**
   * The proposer's lowest proposal still waiting for an answer: it will never retry anything
   * below, so their results are forgotten. Remembered results are what is in flight.
   */
  readonly floor: number;
}

export interface ClusterResult {
  readonly index: number;
  readonly value: unknown;
  /**
   * Set (with a null value, and the index of this copy) when the proposal was applied by an
   * earlier copy whose result is no longer kept, at or above the proposer's floor: this copy is
   * not applied. The proposer rejects with ProposalResultForgottenError (6112). A node of the
   * previous version reads it as a null value.
   */
  readonly forgotten?: true;
}

export type ClusterQuery =
  | { readonly kind: 'applied-index' }
  | { readonly kind: 'lock'; readonly name: string }
  | { readonly kind: 'kv'; readonly query: KvQuery };

export interface AppliedCommand {
  readonly index: number;
  readonly command: unknown;
}

/**
 * Shortens a stream's history to one that replays to the same state (a pure function: every
 * node may call it at a different point of the log).
 */
export type CompactHistory = (history: readonly AppliedCommand[]) => AppliedCommand[];

/**
 * Commands that bring a stream's consumer, replayed to it from the start, to the state it holds
 * now: for a consumer that keeps its own state, when what a command does depends on that state
 * (the config accepts a value or refuses it), so that no list of the commands themselves,
 * shortened, replays to it.
 */
export type StreamState = () => readonly unknown[];

/**
 * What of a stream survives log compaction: `all` of it, the newest command per key, what
 * `compact` keeps of it (run whenever the history has doubled since the last time), or what its
 * consumer's `state` gives when Raft takes a snapshot. With `state`, the state machine keeps
 * none of the stream's commands: the consumer must listen from before Raft starts until it has
 * stopped, and `state` must answer for exactly the commands applied so far (it may throw when it
 * cannot: Raft then stops rather than write a snapshot without them).
 */
export type StreamRetention = 'all' | ((command: unknown) => string) | { readonly compact: CompactHistory } | { readonly state: StreamState };

export interface StreamOptions {
  /** Default `all`. */
  readonly retain?: StreamRetention;
}

/** Commands a compacted stream holds before it compacts at all. */
const COMPACT_AFTER = 256;

interface Stream {
  readonly retain: StreamRetention;
  /** Every command, or what compaction kept of them (none when retained by key or by the consumer's state). */
  history: AppliedCommand[];
  /** History length at which a compacted stream compacts next. */
  compactAt: number;
  byKey: Map<string, AppliedCommand>;
  readonly listeners: Set<(entry: AppliedCommand) => void>;
  /** Told before a snapshot's commands are replayed to `listeners`. */
  readonly restoreListeners: Set<() => void>;
  /** Told after that replay, with the snapshot's index. */
  readonly replayedListeners: Set<(snapshotIndex: number) => void>;
}

const codec = new Encoder({ useRecords: false, structuredClone: false });
const BUILT_IN = new Set(['locks', 'kv']);
/**
 * Proposers whose results are remembered; past it, the one heard from least recently keeps only
 * its floor and the numbers it had results for (see MAX_FORGOTTEN_PROPOSERS).
 */
export const MAX_PROPOSERS = 1_024;
/**
 * Proposers remembered beyond MAX_PROPOSERS without their results: a retried copy of one of their
 * proposals is answered `forgotten`, not applied again. Past it, the one heard from least recently
 * is forgotten altogether (a node that restarted long ago), and a copy of its proposals would be
 * applied again: that takes proposals of MAX_PROPOSERS + MAX_FORGOTTEN_PROPOSERS (17,408) other
 * proposers applied since it was last heard, while its retry is on the way (a retry gives up
 * after the proposer's timeout, 5 s by default). Kept in snapshots apart from the sessions (which
 * a node of the previous version refuses beyond MAX_PROPOSERS), in a part that it ignores: such
 * a node applies a copy again where this version answers `forgotten`, so while both versions run
 * their replicas can differ on that command's effect.
 */
export const MAX_FORGOTTEN_PROPOSERS = 16_384;
/**
 * Results remembered per proposer, as a bound on what a proposer's floor lets through. Past it,
 * the oldest result is dropped and its number kept (see MAX_FORGOTTEN_RANGES): a retried copy is
 * answered `forgotten`, not applied again.
 */
export const MAX_RESULTS_PER_PROPOSER = 16_384;
/**
 * Ranges of numbers kept per proposer whose results were dropped, at or above its floor. Past
 * it, the two lowest ranges become one: a proposal numbered in the gap between them that was not
 * applied yet is answered `forgotten` too, refused rather than ever applied twice. Numbers whose
 * results are dropped in order make one range; each gap is a proposal still on its way.
 */
export const MAX_FORGOTTEN_RANGES = 64;
/** Longest proposer id accepted; a command with a longer one is applied without de-duplication. */
export const MAX_PROPOSER_LENGTH = 64;
/**
 * Deepest nesting of a command applied (the command itself is the first level); a deeper one is
 * refused. A result can hold a command's value, and every snapshot encodes it again a few levels
 * deeper than the proposer did: near the depth the encoder's recursion reaches, the snapshot
 * threw on every replica. Far below that, and far above what any stream writes.
 */
export const MAX_COMMAND_DEPTH = 256;

/** What the state machine remembers of one proposer. */
interface Session {
  /** The highest floor it has sent: it waits for nothing below. */
  floor: number;
  /** Results of its proposals by number, from the floor up (none once the proposer is evicted). */
  readonly results: Map<number, ClusterResult>;
  /** Numbers at or above the floor that were applied and whose results were dropped (number-ranges.ts). */
  readonly forgotten: number[];
}

/**
 * The commands a snapshot retains of one stream, in log order, whatever retention it was taken
 * with: a list of commands (`all`, compacted) or pairs of a key and its newest command (by key).
 * Anything else was not written by a state machine of this kind, and is refused rather than
 * handed to the stream's listeners as commands.
 */
function retainedCommands(stream: string, retained: unknown): AppliedCommand[] {
  if (!Array.isArray(retained)) throw new UnreadableSnapshotError(stream, 'holds no list of commands');
  return retained.map((item: unknown) => {
    const entry: unknown = Array.isArray(item) && item.length === 2 && typeof item[0] === 'string' ? item[1] : item;
    if (typeof entry !== 'object' || entry === null || !Number.isSafeInteger((entry as { index?: unknown }).index)) {
      throw new UnreadableSnapshotError(stream, 'holds something other than a command with its log index');
    }
    return entry as AppliedCommand;
  });
}

/**
 * The newest command per key of `commands`, in the order applying them one by one leaves. A
 * command whose key cannot be read is left out, as applying it refuses it.
 */
function byKeyOf(key: (command: unknown) => string, commands: readonly AppliedCommand[]): Map<string, AppliedCommand> {
  const byKey = new Map<string, AppliedCommand>();
  for (const entry of commands) {
    let name: string;
    try {
      name = key(entry.command);
    } catch {
      continue;
    }
    byKey.delete(name);
    byKey.set(name, entry);
  }
  return byKey;
}

/** A snapshot's parts, each read and checked before any of it is restored. */
interface SnapshotParts {
  readonly applied: number;
  /** Each stream's retained commands, as written: checked against the stream's retention when restored. */
  readonly streams: ReadonlyMap<string, unknown>;
  readonly locks: readonly LockState[];
  readonly kv: Uint8Array;
  readonly sessions: ReadonlyMap<string, Session>;
  /** Proposers evicted from `sessions`, least recently heard first. */
  readonly evicted: ReadonlyMap<string, Session>;
}

const isIndex = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/**
 * Reads a snapshot as hostile input (it comes from the leader): every part must have the shape
 * and stay within the bounds that `apply` and `snapshot` give it, or the whole snapshot is
 * refused with UnreadableSnapshotError, naming the part, before anything changes.
 */
function readSnapshot(data: Uint8Array): SnapshotParts {
  const refuse = (part: string, reason: string): never => {
    throw new UnreadableSnapshotError('', reason, part);
  };
  let decoded: unknown;
  try {
    decoded = codec.decode(data);
  } catch (error) {
    refuse('the snapshot', `is not CBOR (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!isPlainObject(decoded)) return refuse('the snapshot', 'is not a map of its parts');
  const { applied, streams, locks, kv, sessions, forgotten } = decoded;
  if (!isIndex(applied)) refuse('the applied index', 'is not a log index');
  if (!Array.isArray(streams)) return refuse('the streams', 'are not a list');
  const retained = new Map<string, unknown>();
  for (const stream of streams as unknown[]) {
    if (!Array.isArray(stream) || stream.length !== 2 || typeof stream[0] !== 'string') return refuse('the streams', 'hold something other than a stream name with its commands');
    retained.set(stream[0], stream[1]);
  }
  if (!Array.isArray(locks)) return refuse('the lock table', 'is not a list');
  for (const lock of locks as unknown[]) {
    // An expiry may be Infinity (granted before such leases were refused), never NaN.
    // The owner too: holder() hands it out, and an acquire compares it with its own.
    if (!isPlainObject(lock) || typeof lock.name !== 'string' || typeof lock.owner !== 'string' || !isIndex(lock.token) || typeof lock.expiresAt !== 'number' || Number.isNaN(lock.expiresAt)) {
      refuse('the lock table', 'holds something other than a lock with a name, an owner, a token and an expiry');
    }
  }
  if (!(kv instanceof Uint8Array)) return refuse('the key-value map', 'is not bytes');
  // A snapshot written before sessions were kept has none.
  const known = new Map<string, Session>();
  if (sessions !== undefined) {
    if (!Array.isArray(sessions)) return refuse('the proposal sessions', 'are not a list');
    if (sessions.length > MAX_PROPOSERS) refuse('the proposal sessions', `are ${sessions.length}, more than the ${MAX_PROPOSERS} ever kept`);
    for (const session of sessions as unknown[]) {
      if (!Array.isArray(session) || session.length < 2 || session.length > 3) return refuse('the proposal sessions', 'hold something other than a proposer with its results');
      const [proposer, results, floor] = session as unknown[];
      if (typeof proposer !== 'string' || proposer.length === 0 || proposer.length > MAX_PROPOSER_LENGTH) return refuse('the proposal sessions', `hold a proposer id that is not a string of 1 to ${MAX_PROPOSER_LENGTH} characters`);
      // A snapshot written before floors were kept has none: 0 refuses nothing until the
      // proposer's next command brings its floor.
      if (floor !== undefined && !isIndex(floor)) refuse('the proposal sessions', 'hold a floor that is not a proposal number');
      if (!Array.isArray(results)) return refuse('the proposal sessions', 'hold results that are not a list');
      if (results.length > MAX_RESULTS_PER_PROPOSER) refuse('the proposal sessions', `hold ${results.length} results of one proposer, more than the ${MAX_RESULTS_PER_PROPOSER} ever kept`);
      const byNumber = new Map<number, ClusterResult>();
      for (const pair of results as unknown[]) {
        if (!Array.isArray(pair) || pair.length !== 2 || !isIndex(pair[0]) || !isPlainObject(pair[1]) || !isIndex(pair[1].index)) {
          return refuse('the proposal sessions', 'hold something other than a proposal number with its result');
        }
        byNumber.set(pair[0], pair[1] as unknown as ClusterResult);
      }
      known.set(proposer, { floor: (floor as number | undefined) ?? 0, results: byNumber, forgotten: [] });
    }
  }
  // A snapshot written before forgotten results were kept has none (a node of that version
  // ignores the part: see MAX_FORGOTTEN_PROPOSERS).
  const evicted = new Map<string, Session>();
  if (forgotten !== undefined) {
    if (!Array.isArray(forgotten)) return refuse('the forgotten proposals', 'are not a list');
    if (forgotten.length > MAX_PROPOSERS + MAX_FORGOTTEN_PROPOSERS) refuse('the forgotten proposals', `are ${forgotten.length}, more than the ${MAX_PROPOSERS + MAX_FORGOTTEN_PROPOSERS} ever kept`);
    const seen = new Set<string>();
    for (const entry of forgotten as unknown[]) {
      if (!Array.isArray(entry) || entry.length !== 3) return refuse('the forgotten proposals', 'hold something other than a proposer with its floor and numbers');
      const [proposer, floor, numbers] = entry as unknown[];
      if (typeof proposer !== 'string' || proposer.length === 0 || proposer.length > MAX_PROPOSER_LENGTH) return refuse('the forgotten proposals', `hold a proposer id that is not a string of 1 to ${MAX_PROPOSER_LENGTH} characters`);
      if (seen.has(proposer)) return refuse('the forgotten proposals', 'hold a proposer twice');
      seen.add(proposer);
      if (!isIndex(floor)) return refuse('the forgotten proposals', 'hold a floor that is not a proposal number');
      if (!isRanges(numbers, MAX_FORGOTTEN_RANGES) || (numbers.length > 0 && numbers[0]! < floor)) {
        return refuse('the forgotten proposals', `hold numbers that are not at most ${MAX_FORGOTTEN_RANGES} ascending ranges from the floor up`);
      }
      const session = known.get(proposer);
      if (session === undefined) evicted.set(proposer, { floor, results: new Map(), forgotten: numbers });
      else {
        // Written with the session's own floor; the higher one holds whatever wrote it.
        session.floor = Math.max(session.floor, floor);
        session.forgotten.push(...numbers);
        dropRangesBelow(session.forgotten, session.floor);
      }
    }
    if (evicted.size > MAX_FORGOTTEN_PROPOSERS) refuse('the forgotten proposals', `hold ${evicted.size} proposers without results, more than the ${MAX_FORGOTTEN_PROPOSERS} ever kept`);
  }
  return { applied: applied as number, streams: retained, locks: locks as LockState[], kv, sessions: known, evicted };
}

/** The function of a `{ compact }` or `{ state }` retention, by its kind. */
function retentionFunction(retain: StreamRetention): { readonly kind: 'compact' | 'state'; readonly run: CompactHistory | StreamState } | undefined {
  if (typeof retain !== 'object') return undefined;
  return 'compact' in retain ? { kind: 'compact', run: retain.compact } : { kind: 'state', run: retain.state };
}

/** Whether two retentions keep the same commands: functions only when they are the same function. */
function sameRetention(first: StreamRetention, second: StreamRetention): boolean {
  if (first === second) return true;
  const [one, other] = [retentionFunction(first), retentionFunction(second)];
  return one !== undefined && other !== undefined && one.kind === other.kind && one.run === other.run;
}

const functionName = (run: { readonly name: string }): string => `function ${run.name === '' ? 'without a name' : run.name}`;

/** A retention as text, for an error that names it. */
function describeRetention(retain: StreamRetention): string {
  if (retain === 'all') return "retain 'all'";
  if (typeof retain === 'function') return `retain by key (${functionName(retain)})`;
  const { kind, run } = retentionFunction(retain)!;
  return `retain { ${kind} } (${functionName(run)})`;
}

/** The session of a command, or undefined when it has none or it is not well formed. */
export function sessionOf(value: unknown): ProposalSession | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { proposer, seq, floor } = value as Record<string, unknown>;
  if (typeof proposer !== 'string' || proposer.length === 0 || proposer.length > MAX_PROPOSER_LENGTH) return undefined;
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(floor) || (floor as number) < 0 || (floor as number) > (seq as number)) return undefined;
  return { proposer, seq: seq as number, floor: floor as number };
}

export class ClusterStateMachine implements StateMachine<ClusterCommand, ClusterResult, ClusterQuery, unknown> {
  private readonly streams = new Map<string, Stream>();
  private locks = new LockTable();
  private kv = createKvStateMachine();
  /** Proposer → its session, least recently heard first. */
  private readonly sessions = new Map<string, Session>();
  /** Proposers evicted from `sessions`, without their results, least recently heard first. */
  private readonly evicted = new Map<string, Session>();
  private applied = 0;

  /**
   * Declares a stream; its listeners hear every command applied on it, in log order. Declaring
   * it again with the same options (`retain` left out is `'all'`; a function is the same only if
   * it is the very same function) changes nothing. Declaring it again with other options throws
   * StreamOptionsConflictError (6106) and changes nothing: the stream keeps the options it was
   * first declared with, which every node must declare alike.
   */
  registerStream(name: string, options: StreamOptions = {}): void {
    if (BUILT_IN.has(name)) throw new RangeError(`stream ${name} is built in`);
    const retain = options.retain ?? 'all';
    const existing = this.streams.get(name);
    if (existing !== undefined) {
      if (sameRetention(existing.retain, retain)) return;
      const declared = describeRetention(existing.retain);
      const requested = describeRetention(retain);
      throw new StreamOptionsConflictError(name, declared, requested === declared ? `${requested}, another function of that name` : requested);
    }
    this.streams.set(name, { retain, history: [], compactAt: COMPACT_AFTER, byKey: new Map(), listeners: new Set(), restoreListeners: new Set(), replayedListeners: new Set() });
  }

  onApplied(stream: string, listener: (entry: AppliedCommand) => void): () => void {
    const entry = this.streams.get(stream);
    if (entry === undefined) throw new RangeError(`unknown stream ${stream}`);
    entry.listeners.add(listener);
    return () => entry.listeners.delete(listener);
  }

  /** `listener` hears that a snapshot replaced the state, before its commands are replayed on `stream`. */
  onRestored(stream: string, listener: () => void): () => void {
    const entry = this.streams.get(stream);
    if (entry === undefined) throw new RangeError(`unknown stream ${stream}`);
    entry.restoreListeners.add(listener);
    return () => entry.restoreListeners.delete(listener);
  }

  /**
   * `listener` hears that a snapshot's commands have all been replayed on `stream`, with the log
   * index the snapshot was taken at: a command of the stream at or below it that was not
   * replayed was compacted away, and will not be heard.
   */
  onReplayed(stream: string, listener: (snapshotIndex: number) => void): () => void {
    const entry = this.streams.get(stream);
    if (entry === undefined) throw new RangeError(`unknown stream ${stream}`);
    entry.replayedListeners.add(listener);
    return () => entry.replayedListeners.delete(listener);
  }

  appliedIndex(): number {
    return this.applied;
  }

  lock(name: string): LockState | null {
    return this.locks.get(name);
  }

  /** Every lease the lock table holds, ended ones included (it keeps a lease until it is taken, given back or cleared). */
  lockStates(): IterableIterator<LockState> {
    return this.locks.values();
  }

  apply(command: ClusterCommand, index: number): ClusterResult {
    this.applied = index;
    if (typeof command !== 'object' || command === null) return { index, value: null };
    const session = sessionOf(command.session);
    if (session === undefined) return this.applyOnce(command, index);
    const hot = this.sessions.get(session.proposer);
    let known = hot ?? this.evicted.get(session.proposer);
    const earlier = known?.results.get(session.seq);
    if (earlier !== undefined) return earlier;
    // Below the highest floor the proposer has sent, a proposal is one it no longer waits for:
    // answered (this is a late copy whose first result was forgotten) or given up on. Applying
    // it now would apply a command twice, or long after its caller was told its outcome is
    // unknown, over whatever was written since.
    if (known !== undefined && session.seq < known.floor) return { index, value: null };
    // At or above it, the proposer may still wait for this one (a retry): its result was dropped
    // to keep memory bounded, and the proposer is told so, rather than given a null it would take
    // for the result, or the command applied twice.
    if (known !== undefined && rangesHold(known.forgotten, session.seq)) return { index, value: null, forgotten: true };
    const result = this.applyOnce(command, index);
    if (known === undefined) known = { floor: session.floor, results: new Map(), forgotten: [] };
    else {
      if (session.floor > known.floor) {
        known.floor = session.floor;
        dropRangesBelow(known.forgotten, known.floor);
      }
      // Results arrive almost in number order: purge from the oldest and stop at the first one
      // still in flight (a straggler below the floor goes when it reaches the front, or by the cap).
      for (const seq of known.results.keys()) {
        if (seq >= known.floor) break;
        known.results.delete(seq);
      }
    }
    // Re-inserted: most recently heard last.
    if (hot !== undefined) this.sessions.delete(session.proposer);
    else {
      this.evicted.delete(session.proposer);
      if (this.sessions.size >= MAX_PROPOSERS) this.evict();
    }
    this.sessions.set(session.proposer, known);
    known.results.set(session.seq, result);
    if (known.results.size > MAX_RESULTS_PER_PROPOSER) {
      const oldest = known.results.keys().next().value!;
      known.results.delete(oldest);
      if (oldest >= known.floor) addToRanges(known.forgotten, oldest, MAX_FORGOTTEN_RANGES);
    }
    return result;
  }

  /**
   * Moves the proposer heard from least recently out of `sessions`, keeping its floor and the
   * numbers it had results for; past MAX_FORGOTTEN_PROPOSERS, the one of those heard from least
   * recently is forgotten altogether.
   */
  private evict(): void {
    const [proposer, known] = this.sessions.entries().next().value!;
    this.sessions.delete(proposer);
    const numbers = [...known.results.keys()].filter((seq) => seq >= known.floor).sort((one, other) => one - other);
    for (const seq of numbers) addToRanges(known.forgotten, seq, MAX_FORGOTTEN_RANGES);
    known.results.clear();
    if (this.evicted.size >= MAX_FORGOTTEN_PROPOSERS) this.evicted.delete(this.evicted.keys().next().value!);
    this.evicted.set(proposer, known);
  }

  /**
   * Applies one command. A command nested deeper than MAX_COMMAND_DEPTH, or one that makes its
   * stream throw (malformed, from a buggy or hostile proposer: peers forward commands to the
   * leader), is refused with a null value instead: an exception here would stop Raft on every
   * replica, and again at every restart, since the entry stays in the log. Every replica refuses
   * the same command the same way.
   */
  private applyOnce(command: ClusterCommand, index: number): ClusterResult {
    if (nestsDeeperThan(command, MAX_COMMAND_DEPTH)) return { index, value: null };
    try {
      return this.applyStream(command, index);
    } catch {
      return { index, value: null };
    }
  }

  private applyStream(command: ClusterCommand, index: number): ClusterResult {
    if (command.stream === 'locks') return { index, value: this.locks.apply(command.command as LockCommand, index) satisfies LockResult };
    if (command.stream === 'kv') return { index, value: this.kv.apply(command.command as KvCommand, index) satisfies KvResult };
    const stream = this.streams.get(command.stream);
    if (stream === undefined) return { index, value: null };
    const entry = { index, command: command.command };
    if (typeof stream.retain === 'function') {
      const key = stream.retain(command.command);
      // Re-setting a key moves it to the end, so replaying keeps the order that matters.
      stream.byKey.delete(key);
      stream.byKey.set(key, entry);
    } else if (stream.retain === 'all' || 'compact' in stream.retain) {
      stream.history.push(entry);
      if (stream.retain !== 'all' && stream.history.length >= stream.compactAt) {
        try {
          stream.history = stream.retain.compact(stream.history);
        } catch {
          // A compaction that fails keeps the whole history; it is tried again at twice the length.
        }
        stream.compactAt = Math.max(COMPACT_AFTER, 2 * stream.history.length);
      }
    }
    for (const listener of stream.listeners) {
      try {
        listener(entry);
      } catch {
        // A listener that cannot take this command refuses it alone; the others still apply it.
      }
    }
    return { index, value: null };
  }

  query(query: ClusterQuery): unknown {
    switch (query.kind) {
      case 'applied-index':
        return this.applied;
      case 'lock':
        return this.locks.get(query.name);
      case 'kv':
        return this.kv.query(query.query);
    }
  }

  snapshot(): Uint8Array {
    const streams = [...this.streams.entries()].map(([name, stream]) => [name, this.retained(stream)]);
    return codec.encode({
      applied: this.applied,
      streams,
      locks: this.locks.entries(),
      kv: this.kv.snapshot(),
      // As a node of the previous version reads them: at most MAX_PROPOSERS of [proposer, results, floor].
      sessions: [...this.sessions].map(([proposer, known]) => [proposer, [...known.results], known.floor]),
      // A part of its own, which a node of the previous version ignores: the numbers whose results
      // were dropped, of the proposers above that have any, then every evicted proposer.
      forgotten: [...[...this.sessions].filter(([, known]) => known.forgotten.length > 0), ...this.evicted].map(([proposer, known]) => [proposer, known.floor, known.forgotten]),
    });
  }

  /**
   * What a snapshot holds of `stream`. A consumer's state is written as commands at the index
   * applied, as a list like a history, which a node of an older version, retaining by key or
   * compacting, reads as such.
   */
  private retained(stream: Stream): unknown[] {
    const { retain } = stream;
    if (typeof retain === 'function') return [...stream.byKey.entries()];
    if (retain !== 'all' && 'state' in retain) return retain.state().map((command) => ({ index: this.applied, command }));
    return stream.history;
  }

  /**
   * Throws what `restore` would throw for `data`, and changes nothing: Raft asks before it
   * takes a snapshot from another node, so that one this node cannot read is refused (and sent
   * again) rather than written to disk, where it would stop the node at every start.
   */
  checkSnapshot(data: Uint8Array): void {
    this.prepare(data);
  }

  /**
   * Replaces the state with a snapshot's, then replays each stream's retained commands to its
   * listeners (none to a stream the snapshot does not hold: its listeners hear the restore and
   * its end, with nothing between). Every part is read before anything changes, and everything
   * has changed before a listener hears of it: a part that cannot be restored throws with the
   * state as it was, and no listener sees a state that is half the snapshot's.
   */
  restore(data: Uint8Array): void {
    const { snapshot, locks, kv, restored } = this.prepare(data);
    this.applied = snapshot.applied;
    this.sessions.clear();
    for (const [proposer, known] of snapshot.sessions) this.sessions.set(proposer, known);
    this.evicted.clear();
    for (const [proposer, known] of snapshot.evicted) this.evicted.set(proposer, known);
    this.locks = locks;
    this.kv = kv;
    for (const { stream, history, byKey } of restored) {
      stream.history = history;
      stream.byKey = byKey;
      stream.compactAt = Math.max(COMPACT_AFTER, 2 * history.length);
    }

    for (const { stream, replay } of restored) {
      this.tell(stream.restoreListeners, undefined);
      for (const entry of replay) this.tell(stream.listeners, entry);
      this.tell(stream.replayedListeners, snapshot.applied);
    }
  }

  /** Everything `restore` makes of `data` before it changes anything; throws what cannot be restored. */
  private prepare(data: Uint8Array) {
    const snapshot = readSnapshot(data);
    const locks = new LockTable();
    locks.restore(snapshot.locks);
    const kv = createKvStateMachine();
    kv.restore(snapshot.kv);
    // Every stream declared here is restored. One the snapshot does not hold was not declared
    // where it was taken, which kept none of its commands: it starts empty here too, or this node
    // would hold, at the snapshot's index, commands the others do not. The commands a stream
    // retains are kept in the retention declared here, whatever the one they were kept with (a
    // node of another version, or this node's own snapshot from before an upgrade): by key, the
    // newest of each; otherwise all of them, as a later compaction would find them.
    // A stream whose consumer keeps its state hears the commands as they are, and keeps none.
    const restored: { stream: Stream; history: AppliedCommand[]; byKey: Map<string, AppliedCommand>; replay: Iterable<AppliedCommand> }[] = [];
    for (const [name, stream] of this.streams) {
      const commands = retainedCommands(name, snapshot.streams.get(name) ?? []);
      const { retain } = stream;
      if (typeof retain === 'function') {
        const byKey = byKeyOf(retain, commands);
        restored.push({ stream, history: [], byKey, replay: byKey.values() });
      } else if (retain !== 'all' && 'state' in retain) restored.push({ stream, history: [], byKey: new Map(), replay: commands });
      else restored.push({ stream, history: commands, byKey: new Map(), replay: commands });
    }
    return { snapshot, locks, kv, restored };
  }

  /**
   * Calls each listener with `value`. A listener's failure is its own, as when a command is
   * applied: the others still hear it, and the restore goes on (a throw out of `restore` stops
   * the Raft node).
   */
  private tell<Value>(listeners: ReadonlySet<(value: Value) => void>, value: Value): void {
    for (const listener of listeners) {
      try {
        listener(value);
      } catch {
        // Its own.
      }
    }
  }
}
