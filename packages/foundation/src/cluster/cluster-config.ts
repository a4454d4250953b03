// Cluster-wide configuration (2.0's set_cluster_wide / get_with_consensus): a value is set by
// committing it through the cluster's Raft group, then every node applies it to its own config,
// so subscribers everywhere hear of it. Reads with consensus wait until this node has applied
// everything committed before the read began. A node that restores a Raft snapshot (it fell too
// far behind, or restarts from one) ends with the config the snapshot's commands give, and its
// subscribers hear what that changed.
import { FoundationError } from '@foundation/core';
import { StoppedError } from '@foundation/raft';
import { parsePath } from '@foundation/config';
import type { Config, ConfigChange, ConfigCommand, ConfigPath } from '@foundation/config';
import type { ConsensusLog } from '../consensus/cluster-consensus';
import { ConfigOverlay } from './config-overlay';
import { foldConfigCommands } from './fold-config-commands';
import type { ConfigAssignment } from './fold-config-commands';

export interface ClusterConfig {
  /**
   * Commits `value` at `path` cluster-wide; resolves once this node has applied it, and rejects
   * with the config's error when the committed value was refused where it was applied (another
   * write committed just before it made it invalid): then no node holds it.
   */
  setClusterWide(path: ConfigPath, value: unknown, options?: { readonly signal?: AbortSignal }): Promise<void>;
  /** The value at `path`, reflecting every cluster-wide set that completed before the call. */
  getWithConsensus(path: ConfigPath, options?: { readonly signal?: AbortSignal }): Promise<unknown>;
  /**
   * What a Raft snapshot keeps of the config stream: the cluster-wide values this node holds at
   * the index it has applied, as config-sets in the order that sets them again (see
   * createClusterConfig). Throws once the cluster config has closed and the log has applied
   * more since: a snapshot would lose what it did not hear.
   */
  snapshotCommands(): ConfigCommand[];
  /** Stops applying cluster-wide changes. */
  close(): void;
}

/** One key per path, whatever its segments hold. */
const keyOf = (path: readonly string[]): string => JSON.stringify(path);

const MAX_REMEMBERED_REFUSALS = 1_024;

/**
 * Applies `changes` in order, in the longest runs the config takes at once: a run it refuses is
 * split in two halves, tried in turn, down to single changes, whose refusals go to `refused`;
 * `applied` hears each change taken. Each try validates the whole config, so a few refusals
 * among many changes cost a few tries per refusal (about twice the depth of the halving), where
 * one try per change cost a restore of 20,000 paths with one refused minutes of Raft's time.
 */
function applyInRuns<T, Change extends ConfigChange>(config: Config<T>, changes: readonly Change[], applied: (change: Change) => void, refused: (error: FoundationError) => void): void {
  // Runs still to try, as [start, end) of `changes`, the next one on top.
  const pending: [number, number][] = changes.length === 0 ? [] : [[0, changes.length]];
  for (let run = pending.pop(); run !== undefined; run = pending.pop()) {
    const [start, end] = run;
    const result = config.safeUpdateMany(changes.slice(start, end));
    if (result.ok) {
      for (let position = start; position < end; position += 1) applied(changes[position]!);
    } else if (end - start === 1) refused(result.error);
    else {
      const middle = start + Math.floor((end - start) / 2);
      pending.push([middle, end], [start, middle]);
    }
  }
}

/**
 * Applies the config stream of `log` to `config`, and keeps the cluster-wide values it accepts
 * (its overlay) for Raft's snapshots. Declare the stream so that its snapshots hold them,
 * before the Raft node starts, and close the cluster config only once it has stopped:
 *
 *     const log = consensus.log<ConfigCommand>('config', { retain: { state: () => clusterConfig.snapshotCommands() } });
 *     const clusterConfig = createClusterConfig(config, log, report);
 *
 * Commands are applied as they commit. A restored snapshot's commands are gathered while they
 * are heard again and applied at the end of the replay, as one change from the config this node
 * had to the one the snapshot gives: subscribers hear each value that differs, once, and nothing
 * of the values that stay. A path this node set from the log and the snapshot no longer sets
 * goes back to the config's layers, so the value from the log is gone as on a node started from
 * that snapshot, and local updates (`update`) outside that path stay. Reverts and the snapshot's
 * values go in as one `updateMany` when the config takes them together; otherwise in smaller
 * runs (applyInRuns), and only a path that cannot go back even with the snapshot's values in
 * resets the whole config to its layers. A snapshot from an older version holds the newest
 * command per path instead of the values, and is restored as those versions restored it:
 * folded, with the commands the fold finds no place for set last (which cannot tell every
 * history apart: see the README). `report` receives every command this node refuses, and the
 * refusal that forced a reset.
 */
export function createClusterConfig<T>(config: Config<T>, log: ConsensusLog<ConfigCommand>, report: (error: FoundationError) => void): ClusterConfig {
  const waiting: { index: number; resolve: () => void; reject: (error: unknown) => void }[] = [];
  /** The index applied when the cluster config closed: it heard nothing after it. */
  let closedAt: number | null = null;
  const release = (applied: number): void => {
    for (let position = waiting.length - 1; position >= 0; position -= 1) {
      if (waiting[position]!.index <= applied) waiting.splice(position, 1)[0]!.resolve();
    }
  };
  /** The values committed config-sets put here, as the config accepted them. */
  const overlay = new ConfigOverlay();
  /** Between a restore and its end: the snapshot's commands, heard again in order. */
  let replayed: ConfigAssignment[] | null = null;

  /**
   * Why this node refused the command applied at an index, for the writer waiting on it: every
   * replica applies the same commands through the same checks, so a refusal here is the
   * cluster's. Kept for the most recent refusals only (the writer looks as soon as it is told).
   */
  const refusals = new Map<number, FoundationError>();
  const applyLive = (command: ConfigCommand, index: number): void => {
    const result = config.safeUpdate(command.path, command.value);
    if (!result.ok) {
      report(result.error);
      refusals.set(index, result.error);
      if (refusals.size > MAX_REMEMBERED_REFUSALS) refusals.delete(refusals.keys().next().value!);
      return;
    }
    overlay.set(parsePath(command.path), command.value); // accepted by safeUpdate, so a path
  };

  const applyRestored = (commands: readonly ConfigAssignment[]): void => {
    const { assignments, refused } = foldConfigCommands(commands);
    const setHere = new Set(assignments.map((assignment) => keyOf(assignment.path)));
    const stillSet = (path: readonly string[]): boolean => {
      for (let length = 0; length <= path.length; length += 1) if (setHere.has(keyOf(path.slice(0, length)))) return true;
      return false;
    };
    /**
     * Sets each value, reporting refusals if asked. Also one that reads the same already: the
     * config stores it without telling anyone, and it must be stored (a value the schema derived
     * from another path would otherwise follow that path from now on).
     */
    const assign = (values: readonly ConfigAssignment[], reportRefusals: boolean): void => {
      applyInRuns(
        config,
        values.map(({ path, value }) => ({ path, value })),
        ({ path, value }) => overlay.set(path, value),
        (error) => {
          if (reportRefusals) report(error);
        },
      );
    };
    /** What the log set here and the snapshot no longer sets. */
    const dropped = (): ConfigAssignment[] => overlay.assignments().filter(({ path }) => !stillSet(path));
    /** Takes back each dropped path; the last refusal, if any. */
    const revertDropped = (): FoundationError | undefined => {
      let refusal: FoundationError | undefined;
      applyInRuns(
        config,
        dropped().map(({ path }) => ({ path, revert: true as const })),
        ({ path }) => overlay.remove(path),
        (error) => {
          refusal = error;
        },
      );
      return refusal;
    };
    // Dropped paths go back to the layers (`revert`), so local updates elsewhere stay. The usual
    // case is one batch with the snapshot's values: subscribers hear each value that changed
    // once, with its final value, and the schema sees only the end result.
    const droppedNow = dropped();
    const batch = config.safeUpdateMany([...droppedNow.map(({ path }) => ({ path, revert: true as const })), ...assignments.map(({ path, value }) => ({ path, value }))]);
    if (batch.ok) {
      overlay.clear();
      for (const { path, value } of assignments) overlay.set(path, value);
      assign(refused, true);
      return;
    }
    // Something in the batch is refused: in smaller runs down to single changes (applyInRuns),
    // so that each refusal is reported and the rest still applies. A revert the schema refuses
    // on the way (it needs a value the snapshot changes) is tried again once the snapshot's
    // values are in. One that still cannot go back resets the config to its layers, as on a node
    // started from the snapshot, and the snapshot's values go on top.
    const everything = [...assignments, ...refused];
    const firstRefusal = revertDropped();
    assign(everything, true);
    if (firstRefusal === undefined) return;
    const refusal = revertDropped();
    if (refusal === undefined) {
      assign(everything, false); // a path taken back may have held some of them
      return;
    }
    report(refusal);
    config.reset();
    overlay.clear();
    assign(everything, true);
  };

  const unsubscribers = [
    log.onApplied(({ index, command }) => {
      // A config-set's path is a list of keys, as setClusterWide writes it; nodes of earlier
      // versions refused any other, and so does this one, or the two would differ.
      if (command?.type !== 'config-set' || !Array.isArray(command.path)) {
        if (replayed === null) release(index);
        return;
      }
      if (replayed === null) {
        applyLive(command, index);
        release(index);
        return;
      }
      try {
        replayed.push({ path: parsePath(command.path), value: command.value });
      } catch (error) {
        report(FoundationError.from(error)); // refused, as it was when applied live
      }
    }),
    log.onRestore(() => {
      replayed = [];
    }),
    log.onRestoreEnd((snapshotIndex) => {
      const commands = replayed ?? [];
      replayed = null;
      try {
        applyRestored(commands);
      } catch (error) {
        report(FoundationError.from(error)); // the state machine would drop it unseen
      }
      release(snapshotIndex);
    }),
  ];
  const appliedUpTo = (index: number): Promise<void> => {
    if (log.appliedIndex() >= index) return Promise.resolve();
    if (closedAt !== null) return Promise.reject(new StoppedError('this node'));
    return new Promise((resolve, reject) => waiting.push({ index, resolve, reject }));
  };
  return {
    async setClusterWide(path, value, options) {
      const segments = parsePath(path).map(String);
      // Every node would refuse an invalid value: refuse it here, before it reaches the log.
      const check = config.checkUpdate(segments, value);
      if (!check.ok) throw check.error;
      const index = await log.append({ type: 'config-set', path: segments, value }, options);
      await appliedUpTo(index);
      // Checked here before it went out, the value can still be refused where it is applied: a
      // write committed just before it (by another node, say) changed what it is checked against.
      const refusal = refusals.get(index);
      if (refusal !== undefined) {
        refusals.delete(index);
        throw refusal;
      }
    },
    async getWithConsensus(path, options) {
      const index = await log.readIndex(options);
      await appliedUpTo(index);
      return config.get(path as never);
    },
    snapshotCommands() {
      if (closedAt !== null && log.appliedIndex() !== closedAt) {
        throw new Error(`the cluster config closed at log index ${closedAt} and the log has applied up to ${log.appliedIndex()} since: a snapshot would lose the cluster-wide values set meanwhile`);
      }
      return overlay.assignments().map(({ path, value }) => ({ type: 'config-set', path: [...path], value }));
    },
    close() {
      if (closedAt !== null) return;
      closedAt = log.appliedIndex();
      for (const unsubscribe of unsubscribers) unsubscribe();
      // Only the applied entries released them: waiting on after close, they would never settle
      // (a learner's setClusterWide while its node stops, say).
      for (const waiter of waiting.splice(0)) waiter.reject(new StoppedError('this node'));
    },
  };
}
