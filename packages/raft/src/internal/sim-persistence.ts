// Persistence inside testkit's simulation, with the failure modes of a real disk: a save becomes
// durable only when its simulated fsync completes (a crash before that loses it), and a crash
// in the middle of a write can leave a torn batch: a prefix of its entries on disk, the rest
// and its hard state gone. State lives in the node's `durable` map, which survives crashes.
import type { Random, Scheduler } from '@foundation/core';
import type { Entry, HardState, Snapshot } from '../core/types';
import type { PersistUpdate, PersistedState, RaftPersistence } from '../storage/persistence';

interface DiskState {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

const KEY = 'raft-disk';

export interface SimPersistenceOptions {
  /** Simulated fsync time in ms, uniform in [min, max). Default 0.5–2 ms. */
  readonly syncMs?: { readonly min: number; readonly max: number };
  /** Probability that a write leaves part of its entries on disk before it syncs. Default 0.3. */
  readonly tornProbability?: number;
}

function appendTo(state: DiskState, entries: readonly Entry[]): void {
  if (entries.length === 0) return;
  const base = state.snapshot?.meta.index ?? 0;
  const kept = entries.filter((entry) => entry.index > base);
  if (kept.length === 0) return;
  // The batch replaces everything from its first index on.
  state.entries = [...state.entries.slice(0, kept[0]!.index - base - 1), ...kept];
}

export function createSimPersistence(durable: Map<string, unknown>, clock: Scheduler, random: Random, options: SimPersistenceOptions = {}): RaftPersistence {
  const sync = options.syncMs ?? { min: 0.5, max: 2 };
  const torn = options.tornProbability ?? 0.3;
  const disk = (): DiskState => {
    let state = durable.get(KEY) as DiskState | undefined;
    if (state === undefined) {
      state = { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] };
      durable.set(KEY, state);
    }
    return state;
  };
  const afterSync = (apply: () => void): Promise<void> =>
    new Promise((resolve) => {
      clock.setTimer(sync.min + random.float() * (sync.max - sync.min), () => {
        apply();
        resolve();
      });
    });
  return {
    load(): Promise<PersistedState> {
      const state = disk();
      return Promise.resolve({ hardState: state.hardState, snapshot: state.snapshot, entries: [...state.entries] });
    },
    save(update: PersistUpdate): Promise<void> {
      if (update.snapshot === undefined && update.entries.length > 1 && random.bool(torn)) {
        // Part of the batch reaches the disk at once; a crash now leaves exactly that.
        appendTo(disk(), update.entries.slice(0, random.int(1, update.entries.length)));
      }
      return afterSync(() => {
        const state = disk();
        if (update.snapshot !== undefined) {
          state.snapshot = update.snapshot;
          state.entries = [];
        }
        appendTo(state, update.entries);
        if (update.hardState !== undefined) state.hardState = update.hardState;
      });
    },
    saveSnapshot(snapshot: Snapshot): Promise<void> {
      return afterSync(() => {
        const state = disk();
        state.entries = state.entries.filter((entry) => entry.index > snapshot.meta.index);
        state.snapshot = snapshot;
      });
    },
    close: () => Promise.resolve(),
  };
}
