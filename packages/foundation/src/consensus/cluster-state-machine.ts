// The one replicated state machine of a Foundation cluster's Raft group. Commands arrive on
// named streams: `locks` and `kv` keep their state here; every other stream (config, registry)
// is a log that its consumer applies through the ConsensusLog port. So that a node restored
// from a snapshot still learns everything, each stream keeps what it needs of its history —
// every command, or the newest per key — and hands it to its listeners again after a restore.
import { Encoder } from 'cbor-x';
import { createKvStateMachine } from '@foundation/raft';
import type { KvCommand, KvQuery, KvResult, StateMachine } from '@foundation/raft';
import { LockTable } from './locks';
import type { LockCommand, LockResult, LockState } from './locks';

export interface ClusterCommand {
  readonly stream: string;
  readonly command: unknown;
  /**
   * Unique per proposal, the same on every retry of it. A proposal can reach the log twice: a
   * follower forwards it, the leader appends it, and the reply is lost with the link, so the
   * follower tries again (the Raft dissertation, §6.3). The second copy is not applied: it
   * answers with the first copy's result.
   */
  readonly id?: string;
}

export type ClusterResult = { readonly index: number; readonly value: unknown };

export type ClusterQuery =
  | { readonly kind: 'applied-index' }
  | { readonly kind: 'lock'; readonly name: string }
  | { readonly kind: 'kv'; readonly query: KvQuery };

export interface AppliedCommand {
  readonly index: number;
  readonly command: unknown;
}

export interface StreamOptions {
  /**
   * What of the stream survives log compaction: `all` of it, or the newest command per key
   * (for example per configuration path). Default `all`.
   */
  readonly retain?: 'all' | ((command: unknown) => string);
}

interface Stream {
  readonly retain: 'all' | ((command: unknown) => string);
  history: AppliedCommand[];
  byKey: Map<string, AppliedCommand>;
  readonly listeners: Set<(entry: AppliedCommand) => void>;
}

const codec = new Encoder({ useRecords: false, structuredClone: false });
const BUILT_IN = new Set(['locks', 'kv']);
/**
 * Results remembered for de-duplication, oldest evicted first. A retry arrives within a
 * proposal's timeout (seconds) of the first copy, so this covers retries at up to ~10,000
 * commits/s; a retry that comes after its first copy was evicted would be applied again.
 */
export const REMEMBERED_PROPOSALS = 65_536;
/** Longest proposal id accepted; a longer one is not remembered. */
export const MAX_PROPOSAL_ID_LENGTH = 64;

export class ClusterStateMachine implements StateMachine<ClusterCommand, ClusterResult, ClusterQuery, unknown> {
  private readonly streams = new Map<string, Stream>();
  private readonly locks = new LockTable();
  private readonly kv = createKvStateMachine();
  /** Proposal id → the result of its first application, in order of application. */
  private readonly proposals = new Map<string, ClusterResult>();
  private applied = 0;

  /** Declares a stream; its listeners hear every command applied on it, in log order. */
  registerStream(name: string, options: StreamOptions = {}): void {
    if (BUILT_IN.has(name)) throw new RangeError(`stream ${name} is built in`);
    if (this.streams.has(name)) return;
    this.streams.set(name, { retain: options.retain ?? 'all', history: [], byKey: new Map(), listeners: new Set() });
  }

  onApplied(stream: string, listener: (entry: AppliedCommand) => void): () => void {
    const entry = this.streams.get(stream);
    if (entry === undefined) throw new RangeError(`unknown stream ${stream}`);
    entry.listeners.add(listener);
    return () => entry.listeners.delete(listener);
  }

  appliedIndex(): number {
    return this.applied;
  }

  lock(name: string): LockState | null {
    return this.locks.get(name);
  }

  apply(command: ClusterCommand, index: number): ClusterResult {
    this.applied = index;
    const id = typeof command.id === 'string' && command.id.length <= MAX_PROPOSAL_ID_LENGTH ? command.id : undefined;
    if (id === undefined) return this.applyOnce(command, index);
    const earlier = this.proposals.get(id);
    if (earlier !== undefined) return earlier;
    const result = this.applyOnce(command, index);
    this.proposals.set(id, result);
    if (this.proposals.size > REMEMBERED_PROPOSALS) this.proposals.delete(this.proposals.keys().next().value!);
    return result;
  }

  private applyOnce(command: ClusterCommand, index: number): ClusterResult {
    if (command.stream === 'locks') return { index, value: this.locks.apply(command.command as LockCommand, index) satisfies LockResult };
    if (command.stream === 'kv') return { index, value: this.kv.apply(command.command as KvCommand, index) satisfies KvResult };
    const stream = this.streams.get(command.stream);
    if (stream === undefined) return { index, value: null };
    const entry = { index, command: command.command };
    if (stream.retain === 'all') stream.history.push(entry);
    else {
      const key = stream.retain(command.command);
      // Re-setting a key moves it to the end, so replaying keeps the order that matters.
      stream.byKey.delete(key);
      stream.byKey.set(key, entry);
    }
    for (const listener of stream.listeners) listener(entry);
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
    const streams = [...this.streams.entries()].map(([name, stream]) => [name, stream.retain === 'all' ? stream.history : [...stream.byKey.entries()]]);
    return codec.encode({ applied: this.applied, streams, locks: this.locks.entries(), kv: this.kv.snapshot(), proposals: [...this.proposals.entries()] });
  }

  restore(data: Uint8Array): void {
    const decoded = codec.decode(data) as {
      applied: number;
      streams: [string, AppliedCommand[] | [string, AppliedCommand][]][];
      locks: LockState[];
      kv: Uint8Array;
      proposals?: [string, ClusterResult][];
    };
    this.applied = decoded.applied;
    this.proposals.clear();
    for (const [id, result] of decoded.proposals ?? []) this.proposals.set(id, result);
    this.locks.restore(decoded.locks);
    this.kv.restore(decoded.kv);
    for (const [name, retained] of decoded.streams) {
      const stream = this.streams.get(name);
      if (stream === undefined) continue;
      if (stream.retain === 'all') {
        stream.history = retained as AppliedCommand[];
        for (const entry of stream.history) for (const listener of stream.listeners) listener(entry);
      } else {
        stream.byKey = new Map(retained as [string, AppliedCommand][]);
        for (const entry of stream.byKey.values()) for (const listener of stream.listeners) listener(entry);
      }
    }
  }
}
