// The durability port of the driver: what must be on stable storage before messages that depend
// on it are sent. `createFileStorage` implements it with a write-ahead log and snapshot files;
// tests implement it in simulation with crashes that lose unsynced writes.
import type { Entry, HardState, Snapshot } from '../core/types';

/** What a node recovers at start-up. */
export interface PersistedState {
  readonly hardState: HardState;
  /** The newest durable snapshot, or null. */
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot, in order, without gaps. */
  readonly entries: readonly Entry[];
}

export interface PersistUpdate {
  readonly hardState?: HardState | undefined;
  /** Entries to append; an entry at an index already held replaces it and everything after. */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader: it replaces the whole log. */
  readonly snapshot?: Snapshot | undefined;
}

export interface RaftPersistence {
  /** Reads everything back; called once, before any save. */
  load(): Promise<PersistedState>;
  /** Makes the update durable; resolves only once it is (one sync per call: group commit). */
  save(update: PersistUpdate): Promise<void>;
  /**
   * Stores a snapshot of this node's own state machine durably, then may discard the log entries
   * it covers.
   */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  close(): Promise<void>;
}

/**
 * Whether `update` must be durable before the node acts on it: it carries entries, a snapshot, or
 * a new term or vote. An update that only moves the commit index need not be (a restarted node
 * learns the commit index again from the leader; etcd's raft decides the same in MustSync).
 */
export function mustSync(previous: HardState, update: PersistUpdate): boolean {
  if (update.entries.length > 0 || update.snapshot !== undefined) return true;
  const next = update.hardState;
  return next !== undefined && (next.term !== previous.term || next.vote !== previous.vote);
}

/** The starting state of a node that has never run: nothing in the log. */
export function emptyState(): PersistedState {
  return { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] };
}

/**
 * Volatile persistence: nothing survives the process. For tests and for nodes that are
 * restored from their peers anyway; a cluster of such nodes loses data if a majority restarts.
 */
export function createMemoryPersistence(): RaftPersistence {
  let state: { hardState: HardState; snapshot: Snapshot | null; entries: Entry[] } = { ...emptyState(), entries: [] };
  return {
    load: () => Promise.resolve({ hardState: state.hardState, snapshot: state.snapshot, entries: [...state.entries] }),
    save(update) {
      if (update.snapshot !== undefined) state = { ...state, snapshot: update.snapshot, entries: [] };
      if (update.entries.length > 0) {
        const first = update.entries[0]!.index;
        const base = state.snapshot?.meta.index ?? 0;
        state.entries = [...state.entries.slice(0, Math.max(0, first - base - 1)), ...update.entries];
      }
      if (update.hardState !== undefined) state.hardState = update.hardState;
      return Promise.resolve();
    },
    saveSnapshot(snapshot) {
      const kept = state.entries.filter((entry) => entry.index > snapshot.meta.index);
      state = { ...state, snapshot, entries: kept };
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
}
