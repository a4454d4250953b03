// Cluster-wide configuration (2.0's set_cluster_wide / get_with_consensus): a value is set by
// committing it through the cluster's Raft group, then every node applies it to its own config,
// so subscribers everywhere hear of it. Whether the cluster takes a value is judged against what
// every node holds alike (the defaults, the schema and the cluster's values), never a node's own
// layers. Reads with consensus wait until this node has applied everything committed before the
// read began. A node that restores a Raft snapshot (it fell too far behind, or restarts from one)
// ends with the config the snapshot's commands give, and its subscribers hear what that changed.
import { FoundationError } from '@foundation/core';
import { StoppedError } from '@foundation/raft';
import { createConfig, parsePath } from '@foundation/config';
import type { Config, ConfigChange, ConfigCommand, ConfigPath, StandardSchemaV1 } from '@foundation/config';
import type { ConsensusLog } from '../consensus/cluster-consensus';
import { unlessAborted } from '../consensus/unless-aborted';
import { ClusterWriteOutcomeUnknownError } from '../errors/cluster-write-outcome-unknown-error';
import { ConfigOverlay, comparePaths } from './config-overlay';
import { foldConfigCommands } from './fold-config-commands';
import { watchOwnConfigChanges } from './own-config-changes';
import type { ConfigChangeHeard } from './own-config-changes';
import type { ConfigAssignment } from './fold-config-commands';

export interface ClusterConfig {
  /**
   * Commits `value` at `path` cluster-wide; resolves once this node has applied it, and rejects
   * with the config's error when the cluster refused the committed value (another write
   * committed just before it made it invalid): then no node holds it. Checked, and judged, the
   * same whichever node is asked (see createClusterConfig): a value this node's own layers
   * refuse is the cluster's all the same, and this node reports that it does not hold it. When
   * this node installs a Raft snapshot past the write's entry instead of applying it (it fell far
   * behind), it cannot tell whether the cluster took the value: it rejects with
   * ClusterWriteOutcomeUnknownError (6110), and reading the value back tells. `signal` ends the
   * wait at once: aborted before the write began, it rejects with the signal's reason and
   * nothing is written; aborted later, the entry may be in the log (committed, or on its way),
   * and it rejects with ClusterWriteOutcomeUnknownError, the reason as its cause. An outcome
   * this node already knows when the signal aborts is told as usual, also when the abort comes
   * from within the entry's apply here (a subscriber hearing the value).
   */
  setClusterWide(path: ConfigPath, value: unknown, options?: { readonly signal?: AbortSignal }): Promise<void>;
  /**
   * The value at `path` in this node's config, reflecting every cluster-wide set that completed
   * before the call (but one this node's own layers refused). `signal` ends the wait at once,
   * rejecting with its reason, unless this node had applied what the read waits for by then.
   */
  getWithConsensus(path: ConfigPath, options?: { readonly signal?: AbortSignal }): Promise<unknown>;
  /**
   * What a Raft snapshot keeps of the config stream: the cluster-wide values the cluster accepted
   * up to the index this node has applied (the same on every node), as config-sets in the order
   * that sets them again (see createClusterConfig). Throws once the cluster config has closed
   * and the log has applied more since: a snapshot would lose what it did not hear.
   */
  snapshotCommands(): ConfigCommand[];
  /**
   * Why this node judges cluster-wide writes with its own config: the refusal of the rules'
   * defaults, which do not validate without the file and environment (reported once, when the
   * cluster config was made). Null when a config of the rules alone judges, or no rules were
   * given.
   */
  judgeFallback(): FoundationError | null;
  /** Stops applying cluster-wide changes. */
  close(): void;
}

/**
 * What every node of a cluster starts its config with alike: the config's options without its
 * file and environment, which are each node's own.
 */
export interface ClusterConfigRules {
  readonly defaults: object;
  readonly schema?: StandardSchemaV1 | undefined;
  readonly updatablePaths?: readonly ConfigPath[] | undefined;
}

/** One key per path, whatever its segments hold. */
const keyOf = (path: readonly string[]): string => JSON.stringify(path);

/**
 * A setClusterWide in flight, and what this node saw of the entries that may be its own. Kept
 * per write rather than per index in a bounded map: a follower catching up applies a whole
 * batch of entries before a released writer looks, so a bounded map could lose the writer's
 * refusal to a thousand others and tell it the cluster took its value.
 */
interface WriteInFlight {
  /** The index this node had applied when the write began: its entry comes after it. */
  readonly after: number;
  /** Its entry's index, once the append answers. */
  index: number | null;
  /**
   * The judge's refusals by index: of every entry past `after` until the index is known (only
   * what this node applies while the append waits, which its timeout bounds), then of its own.
   */
  readonly refusals: Map<number, FoundationError>;
  /**
   * The log indexes this node skipped by installing a snapshot while the write was in flight,
   * each range as (after, upTo]: an entry of the stream in one was never judged here, and the
   * snapshot keeps the values the cluster accepted, not what it made of each command, so a
   * writer whose entry is in one cannot be told whether the cluster refused it.
   */
  readonly skipped: { readonly after: number; readonly upTo: number }[];
}

/**
 * Applies `changes` in order, in the longest runs the config takes at once: a run it refuses is
 * split in two halves, tried in turn, down to single changes, whose refusals go to `refused`;
 * `applied` hears each change taken, `refused` each refusal with its change. Each try validates the whole config, so a few refusals
 * among many changes cost a few tries per refusal (about twice the depth of the halving), where
 * one try per change cost a restore of 20,000 paths with one refused minutes of Raft's time.
 */
function applyInRuns<T, Change extends ConfigChange>(config: Pick<Config<T>, 'safeUpdateMany'>, changes: readonly Change[], applied: (change: Change) => void, refused: (error: FoundationError, change: Change) => void): void {
  // Runs still to try, as [start, end) of `changes`, the next one on top.
  const pending: [number, number][] = changes.length === 0 ? [] : [[0, changes.length]];
  for (let run = pending.pop(); run !== undefined; run = pending.pop()) {
    const [start, end] = run;
    const result = config.safeUpdateMany(changes.slice(start, end));
    if (result.ok) {
      for (let position = start; position < end; position += 1) applied(changes[position]!);
    } else if (end - start === 1) refused(result.error, changes[start]!);
    else {
      const middle = start + Math.floor((end - start) / 2);
      pending.push([middle, end], [start, middle]);
    }
  }
}

/**
 * Applies the config stream of `log` to `config`, and keeps the cluster-wide values the cluster
 * accepts (the overlay) for Raft's snapshots. Declare the stream so that its snapshots hold them,
 * before the Raft node starts, and close the cluster config only once it has stopped:
 *
 *     const log = consensus.log<ConfigCommand>('config', { retain: { state: () => clusterConfig.snapshotCommands() } });
 *     const clusterConfig = createClusterConfig(config, log, report, { defaults, schema, updatablePaths });
 *
 * Each command is judged, as it commits, by a config of its own made from `rules` (the options
 * `config` was made with, less the file and environment), which only the cluster's commands
 * change: every node holds it alike, so every node accepts and refuses the same commands, and
 * its accepted values (the overlay, what snapshots keep) are the same everywhere. A value the
 * cluster accepts is then set on `config`; when this node's own layers (a local `update`, its
 * file or environment) refuse it there, that refusal is reported and this node goes on without
 * it, the cluster's values unchanged: what it held from the cluster at or under that path (or
 * whole above it) goes back to its layers (where the schema lets it), as on a node started from
 * the cluster's values, since the cluster no longer sets it. A value set under a cluster value
 * this node does not hold goes in folded into that value, whole, or not at all. The cluster's
 * values sit above this node's own layers: a local change that takes one this node holds away (a
 * `reset`, or a `revert`, `update` or `updateMany` at, under or above its path) sets the layers'
 * value there, and the cluster's is set again on top of it, or held back and reported where the
 * layers now refuse it; also a change that serves the same value there (a revert to a value the
 * schema derives alike), which the config tells only to listeners of its writes: the value
 * served would otherwise follow the layers' from the next change on. What this node does not
 * hold is tried again after every write the cluster takes, and after every change of this node's
 * own layers (heard through `config`'s notifications and writes), since either can lift what
 * refused it (a higher rate under a capped burst), and a node started from the cluster's values
 * would hold it then; and once at the end of a restore, which sets the values in runs that can
 * put such a value before the one that makes it valid. Two cluster values this node's layers take one at a time but refuse together
 * are a limit: live, it keeps the one written first; a node restored or started from the
 * cluster's values keeps the one the overlay's order (by path) sets first, as the snapshot keeps
 * values, not their history.
 *
 * A write of the whole config (the root path) replaces this node's runtime tree, the file's and
 * environment's values under it included, with the very tree the judge accepted, so no node's
 * layers refuse one. Only a `config` made with other options than `rules` (fewer updatable
 * paths, say) can; such a node then takes a later write under it onto its own values (the root
 * is never folded into nor given back), where a node started from the cluster's values refuses
 * that write folded into the root value. Without `rules`, or when the defaults do not validate
 * without the file and environment (reported once, here), `config` judges, as before rules
 * existed: nodes whose layers differ can then disagree.
 *
 * A restored snapshot's commands are gathered while they are heard again and applied at the end
 * of the replay: the judge goes back to its layers with the snapshot's values on top, as on a
 * node started from it, and `config` takes one change from the cluster values it held to those:
 * subscribers hear each value that differs, once, and nothing of the values that stay. A path
 * this node set from the log and the snapshot no longer sets goes back to the config's layers,
 * so the value from the log is gone as on a node started from that snapshot, and local updates
 * (`update`) outside that path stay. Reverts and the snapshot's values go in as one
 * `updateMany` when the config takes them together; otherwise in smaller runs (applyInRuns),
 * and only a path that cannot go back even with the snapshot's values in resets the whole
 * config to its layers. A snapshot from an older version holds the newest command per path
 * instead of the values, and is restored as those versions restored it: folded, with the
 * commands the fold finds no place for set last (which cannot tell every history apart: see the
 * README). `report` receives every command the cluster refuses, every value it accepted that
 * `config` refuses, and the refusal that forced a reset.
 */
export function createClusterConfig<T>(config: Config<T>, log: ConsensusLog<ConfigCommand>, report: (error: FoundationError) => void, rules?: ClusterConfigRules): ClusterConfig {
  const waiting: { index: number; resolve: () => void; reject: (error: Error) => void }[] = [];
  /** The index applied when the cluster config closed: it heard nothing after it. */
  let closedAt: number | null = null;
  const release = (applied: number): void => {
    for (let position = waiting.length - 1; position >= 0; position -= 1) {
      if (waiting[position]!.index <= applied) waiting.splice(position, 1)[0]!.resolve();
    }
  };
  /** Why `config` judges though rules were given (see judgeFallback). */
  let fallback: FoundationError | null = null;
  // Of the same schema as `config`, the judge's values have the same type.
  const judge: Config<T> =
    rules === undefined
      ? config
      : (createJudge<T>(rules, (error) => {
          fallback = error;
          report(error);
        }) ?? config);
  /** Whether the judge is a config of its own: otherwise `config` judges, and holds all it accepts. */
  const judgedApart = judge !== config;
  /** The values committed config-sets put in the cluster's config, as the judge accepted them. */
  const overlay = new ConfigOverlay();
  /** The cluster's values `config` holds: all of the overlay but what this node's layers refused. */
  const held = judgedApart ? new ConfigOverlay() : overlay;
  /** Between a restore and its end: the snapshot's commands, heard again in order. */
  let replayed: ConfigAssignment[] | null = null;
  /** The index of the last entry of the stream applied here, or of the last snapshot installed. */
  let appliedHere = log.appliedIndex();
  /**
   * The writes in flight. Only those can have their entry skipped by a restore or refused
   * unseen (a later write commits past what this node has applied), so nothing is kept once
   * none is.
   */
  const writes = new Set<WriteInFlight>();
  /**
   * Paths of cluster values this node's layers refused, or gave back, or a local change took
   * away, by key: a later cluster write, or a change of this node's own layers, can make them
   * valid here (it lifts what the layers capped), and a node started from the cluster's values
   * would then hold them, so each is tried again after every write the cluster takes and every
   * change of those layers. A path a later value replaced, or that is held again, leaves.
   */
  const notHeld = new Map<string, readonly string[]>();
  /**
   * The keys of `notHeld` that a local change took from this node (it held them): the cluster's
   * value goes back on top of that change where the layers allow it, and their refusal, where
   * they do not, is reported as any other, once. A key leaves once its value is taken, its
   * refusal reported, or it leaves `notHeld`.
   */
  const displaced = new Set<string>();
  const markNotHeld = (paths: readonly (readonly string[])[]): void => {
    for (const path of paths) {
      const from = overlay.outermostAssigned(path) ?? path;
      notHeld.set(keyOf(from), from);
      displaced.delete(keyOf(from)); // the caller reported why
    }
  };
  /**
   * The keys of the cluster values a retry set again on top of a local change in this turn of
   * the event loop, and of those a local change then took away again in it (both cleared at its
   * end): a subscriber that answers the cluster's value by setting one of its own (a clamp)
   * would otherwise trade it with this node for ever, each hearing the other's change. Such a
   * value is left to the node's layers for the rest of the turn and set again once at its end (a
   * microtask), where a second local change in the same turn (a `reset` and then an `update`)
   * gets it back; taken away again then, it stays with the layers until the next change or
   * cluster write.
   */
  const takenBackThisTurn = new Set<string>();
  const leftThisTurn = new Set<string>();
  /** Whether the retry at a turn's end is under way: the turn it begins ends without one. */
  let retryingLeft = false;
  const noteTakenBack = (key: string): void => {
    if (takenBackThisTurn.size === 0) {
      const retryAtEnd = !retryingLeft;
      queueMicrotask(() => {
        const left = leftThisTurn.size > 0;
        takenBackThisTurn.clear();
        leftThisTurn.clear();
        if (!retryAtEnd || !left || closedAt !== null || busy > 0 || !retryable()) return;
        retryingLeft = true;
        try {
          retryNotHeld();
        } catch {
          // Only `report` throws here, and it is the one that would be told.
        } finally {
          retryingLeft = false;
        }
      });
    }
    takenBackThisTurn.add(key);
  };
  /**
   * The keys taken since the first notification of the change of the layers being heard: its
   * later notifications (the other paths of an `updateMany`) tell of what came before those
   * values were set again, and take nothing from them.
   */
  const takenSinceChange = new Set<string>();
  /** Whether something in `notHeld` may be tried now. */
  const retryable = (): boolean => {
    for (const key of notHeld.keys()) if (!leftThisTurn.has(key)) return true;
    return false;
  };
  /**
   * Moves the cluster values this node holds where `notification` says its layers changed (at,
   * under or above its path, each whole from its outermost path; all of them for a reset) to
   * those it does not hold: that change put the layers' value where the cluster's was, and the
   * cluster's values sit above the layers (a node started from them serves the cluster's there),
   * so each is set again, on top. Keys in `since` are left alone. Whether it moved any.
   */
  const displace = (notification: ConfigChangeHeard<T>, since?: ReadonlySet<string>): boolean => {
    const groups = new Map<string, readonly string[]>();
    const add = (path: readonly string[]): void => {
      // A held value of the whole config counts here (alone): a change anywhere took it away.
      const from = held.outermostAssigned(path, { includeRoot: true }) ?? path;
      groups.set(keyOf(from), from);
    };
    if (notification.type === 'config-reset') for (const { path } of held.assignments()) add(path);
    else {
      if (held.outermostAssigned(notification.path, { includeRoot: true }) !== undefined) add(notification.path);
      for (const { path } of held.assignmentsUnder(notification.path)) add(path);
    }
    let moved = false;
    for (const path of groups.values()) {
      const from = overlay.outermostAssigned(path) ?? path;
      const key = keyOf(from);
      if (since?.has(key) === true) continue;
      held.remove(path);
      notHeld.set(key, from);
      displaced.add(key);
      if (takenBackThisTurn.has(key)) leftThisTurn.add(key);
      moved = true;
    }
    return moved;
  };
  /**
   * How deep this node is in setting the cluster's values on `config` (applyLive, a restore's
   * end, a retry): a change of its layers heard meanwhile (a handler of a refusal reported on the
   * way that changes the config) only asks for a retry (`pendingRetry`), made once, at the end
   * of the outermost, so that nothing is set, taken back and set again in the middle of it.
   */
  let busy = 0;
  let pendingRetry = false;
  /**
   * Where this node's own layers change (a local `update`, `updateMany`, `revert` or `reset`),
   * apart from what the cluster config sets: a change there can lift what refused a cluster
   * value (a local rate raised above the cluster's burst), or put the layers' value where this
   * node held the cluster's (displace), and a node started from the cluster's values with those
   * layers would hold it, so what this node does not hold is tried again then, as after a
   * cluster write. Each notification of the change is heard, and each path it wrote where what
   * is served stayed the same (config-written): a later one of the same change
   * tries again only where it took a value away. Nothing is tried when nothing is held back, nor
   * during a restore (its end sets the cluster's values again). The cluster config changes
   * `config` only through `here`, whose changes are not heard as the layers'. Without a judge of
   * its own, `config` holds every value the cluster takes: nothing to watch.
   */
  const ownChanges = judgedApart
    ? watchOwnConfigChanges(config, (notification, first) => {
        if (replayed !== null) return;
        if (first) takenSinceChange.clear();
        const tookAway = displace(notification, takenSinceChange);
        if (!(first || tookAway) || !retryable()) return;
        if (busy > 0) pendingRetry = true;
        else retryNotHeld();
      })
    : null;
  const here = ownChanges?.config ?? config;
  /** Moves what the changes others made within this node's own (its subscribers') took away; whether there were any. */
  const takeChangesMeanwhile = (): boolean => {
    const changes = ownChanges?.takeOthersMeanwhile() ?? [];
    for (const notification of changes) displace(notification);
    return changes.length > 0;
  };
  /** Runs `work`, which sets the cluster's values on `config`, then, at the end of the outermost, the retry asked for meanwhile. */
  const applying = (work: () => void): void => {
    busy += 1;
    try {
      work();
    } finally {
      busy -= 1;
    }
    if (busy > 0) return;
    if (takeChangesMeanwhile()) pendingRetry = true;
    if (pendingRetry && retryable()) retryNotHeld();
    pendingRetry = false;
  };

  /**
   * Sets again the cluster values this node does not hold, each whole at its outermost path in
   * the cluster's values (as a node started from them sets it), in the longest runs the config
   * takes. Refusals are reported only for values a local change took away (the others' were,
   * when first refused). Again while this node's layers change meanwhile (a subscriber that
   * heard a value taken changed them on hearing it, a handler of a refusal reported): each round
   * that goes again took a value or reported a refusal, a value is taken back over a local
   * change once a turn (takenBackThisTurn) and reported once, so the rounds end.
   */
  const retryNotHeld = (): void => {
    busy += 1;
    try {
      takeChangesMeanwhile(); // this round tries with the layers as they are now
      do {
        pendingRetry = false;
        retryNotHeldOnce();
        if (takeChangesMeanwhile()) pendingRetry = true;
      } while (pendingRetry && retryable());
    } finally {
      busy -= 1;
    }
  };
  const retryNotHeldOnce = (): void => {
    const groups = new Map<string, readonly string[]>();
    for (const path of notHeld.values()) {
      // None: the cluster no longer sets anything at or above it (a value of the whole config
      // replaced it), and it leaves.
      const from = overlay.outermostAssigned(path);
      if (from !== undefined) groups.set(keyOf(from), from);
    }
    notHeld.clear();
    // The whole config's value, where the cluster set one, holds every other: set alone.
    const whole = groups.get(keyOf([]));
    const changes: { key: string; path: readonly string[]; value: unknown; under: ConfigAssignment[] }[] = [];
    for (const [key, path] of whole === undefined ? groups : new Map([[keyOf([]), whole]])) {
      const under = overlay.assignmentsUnder(path);
      const heldUnder = held.assignmentsUnder(path);
      if (heldUnder.length === under.length && heldUnder.every((assignment, position) => keyOf(assignment.path) === keyOf(under[position]!.path))) continue;
      notHeld.set(key, path);
      if (!leftThisTurn.has(key)) changes.push({ key, path, value: foldConfigCommands(under).assignments[0]!.value, under });
    }
    for (const key of displaced) if (!notHeld.has(key)) displaced.delete(key);
    // In the order a node started from the cluster's values sets them (array indices ascending).
    changes.sort((first, second) => comparePaths(first.path, second.path));
    applyInRuns(
      here,
      changes,
      ({ key, under }) => {
        for (const assignment of under) held.set(assignment.path, assignment.value);
        notHeld.delete(key);
        if (displaced.delete(key)) noteTakenBack(key);
        takenSinceChange.add(key);
      },
      (error, { key }) => {
        if (displaced.delete(key)) report(error);
      },
    );
  };

  const applyLive = (command: ConfigCommand, index: number): void => applying(() => applyLiveNow(command, index));
  const applyLiveNow = (command: ConfigCommand, index: number): void => {
    const result = judge.safeUpdate(command.path, command.value);
    if (!result.ok) {
      report(result.error);
      // Why the judge refused it, for the writer whose entry it may be: every replica's judge
      // holds the same values under the same rules, so a refusal here is the cluster's.
      for (const write of writes) {
        if (write.index === null ? index > write.after : index === write.index) write.refusals.set(index, result.error);
      }
      return;
    }
    const path = parsePath(command.path); // accepted by safeUpdate, so a path
    overlay.set(path, command.value);
    if (!judgedApart) return;
    // The cluster holds it now. This node's own layers can still refuse it: that is this node's
    // to report, and it goes on without the value.
    const outermost = overlay.outermostAssigned(path) ?? path;
    if (outermost.length < path.length && keyOf(held.outermostAssigned(path) ?? []) !== keyOf(outermost)) {
      // The value goes into a cluster value above it that this node does not hold (it refused
      // it, or gave it back): set on this node's layers instead, it would make a value the
      // cluster never held. A node started from the cluster's values folds the two and takes the
      // whole, or refuses it: so does this one.
      const under = overlay.assignmentsUnder(outermost);
      const whole = foldConfigCommands(under).assignments[0]!;
      const taken = here.safeUpdate(outermost, whole.value);
      if (taken.ok) for (const assignment of under) held.set(assignment.path, assignment.value);
      else {
        report(taken.error);
        giveBack([outermost]);
      }
    } else {
      const taken = here.safeUpdate(path, command.value);
      if (taken.ok) held.set(path, command.value);
      else {
        report(taken.error);
        giveBack([path]);
      }
    }
    pendingRetry = true; // the write can have lifted what refused others: once it is all in
  };

  /**
   * Takes back to the layers the cluster values `config` holds at, under or above `paths`, where
   * the cluster now holds values this node refused: the cluster no longer sets what this node
   * held there, and a node started from the cluster's values holds its layers' there. A value
   * held above such a path goes whole: the cluster's value there now holds the refused one (a
   * node started from it folds the two, and refuses it whole). Kept, and reported, where the
   * schema needs them.
   */
  const giveBack = (paths: readonly (readonly string[])[]): void => {
    markNotHeld(paths);
    const outermost = new Map<string, readonly string[]>();
    for (const path of paths) {
      const from = held.outermostAssigned(path) ?? path;
      outermost.set(keyOf(from), from);
    }
    const stale = [...outermost.values()].flatMap((path) => held.assignmentsUnder(path));
    applyInRuns(
      here,
      stale.map(({ path }) => ({ path, revert: true as const })),
      ({ path }) => held.remove(path),
      (error) => report(error),
    );
  };

  /**
   * Sets the judge to what a node started from the snapshot's commands holds: its layers and
   * those values, in one batch (values a live judge took in another order may be valid only
   * together). A snapshot from an older version that the batch refuses is folded and set in runs,
   * as those versions restored it, each refusal reported.
   */
  const restoreJudge = (commands: readonly ConfigAssignment[]): void => {
    judge.reset();
    overlay.clear();
    if (judge.safeUpdateMany(commands.map(({ path, value }) => ({ path, value }))).ok) {
      for (const { path, value } of commands) overlay.set(path, value);
      return;
    }
    const { assignments, refused } = foldConfigCommands(commands);
    const record = ({ path, value }: ConfigAssignment): void => overlay.set(path, value);
    if (judge.safeUpdateMany(assignments.map(({ path, value }) => ({ path, value }))).ok) {
      assignments.forEach(record);
      applyInRuns(judge, refused, record, report);
    } else applyInRuns(judge, [...assignments, ...refused], record, report);
  };

  /**
   * Takes `config` from the cluster values it holds to `commands` (the snapshot's, or what the
   * judge made of them), as one change where it can. Returns the paths of the values `config`
   * refused in the end. `retryRefused`: the values refused are tried once more at the end, before
   * the caller gives anything back, since a run can try one (a burst) before the value that makes
   * it valid here (the higher rate); taken then, it goes from what this node held straight to the
   * cluster's value, where given back first it went to the layers' value on the way.
   */
  const restoreHere = (commands: readonly ConfigAssignment[], retryRefused = false): (readonly string[])[] => {
    const { assignments, refused } = foldConfigCommands(commands);
    /** The values refused so far, by path: one refused and then taken (after a revert) leaves. */
    const refusedHere = new Map<string, readonly string[]>();
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
        here,
        values.map(({ path, value }) => ({ path, value })),
        ({ path, value }) => {
          held.set(path, value);
          refusedHere.delete(keyOf(path));
        },
        (error, { path }) => {
          refusedHere.set(keyOf(path), path);
          if (reportRefusals) report(error);
        },
      );
    };
    const everything = [...assignments, ...refused];
    /** The paths still refused, once those refused were tried again (retryRefused). */
    const stillRefused = (): (readonly string[])[] => {
      if (retryRefused && refusedHere.size > 0) assign(everything.filter(({ path }) => refusedHere.has(keyOf(path))), false);
      return [...refusedHere.values()];
    };
    /** What the log set here and the snapshot no longer sets. */
    const dropped = (): ConfigAssignment[] => held.assignments().filter(({ path }) => !stillSet(path));
    /** Takes back each dropped path; the last refusal, if any. */
    const revertDropped = (): FoundationError | undefined => {
      let refusal: FoundationError | undefined;
      applyInRuns(
        here,
        dropped().map(({ path }) => ({ path, revert: true as const })),
        ({ path }) => held.remove(path),
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
    const batch = here.safeUpdateMany([...droppedNow.map(({ path }) => ({ path, revert: true as const })), ...assignments.map(({ path, value }) => ({ path, value }))]);
    if (batch.ok) {
      held.clear();
      for (const { path, value } of assignments) held.set(path, value);
      assign(refused, true);
      return stillRefused();
    }
    // Something in the batch is refused: in smaller runs down to single changes (applyInRuns),
    // so that each refusal is reported and the rest still applies. A revert the schema refuses
    // on the way (it needs a value the snapshot changes) is tried again once the snapshot's
    // values are in. One that still cannot go back resets the config to its layers, as on a node
    // started from the snapshot, and the snapshot's values go on top.
    const firstRefusal = revertDropped();
    assign(everything, true);
    if (firstRefusal === undefined) return stillRefused();
    const refusal = revertDropped();
    if (refusal === undefined) {
      assign(everything, false); // a path taken back may have held some of them
      return stillRefused();
    }
    report(refusal);
    here.reset();
    held.clear();
    refusedHere.clear();
    assign(everything, true);
    return stillRefused();
  };

  const unsubscribers = [
    log.onApplied(({ index, command }) => {
      if (replayed === null) appliedHere = index;
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
      if (snapshotIndex > appliedHere) for (const write of writes) write.skipped.push({ after: appliedHere, upTo: snapshotIndex });
      appliedHere = Math.max(appliedHere, snapshotIndex);
      try {
        applying(() => {
          if (judgedApart) {
            notHeld.clear();
            displaced.clear();
            restoreJudge(commands);
            // What this node held where the snapshot sets values it refuses goes, as when it
            // refuses them live.
            // A value refused in a run before the one holding what makes it valid here (a burst
            // before the higher rate) is taken at the end of restoreHere, as a live node takes it
            // after that write; tried before anything is given back, so that subscribers hear it
            // go from the value this node held straight to the cluster's. What giving back lifts
            // is tried after, once all is in.
            giveBack(restoreHere(overlay.assignments(), true));
            pendingRetry = true;
          } else restoreHere(commands);
        });
      } catch (error) {
        report(FoundationError.from(error)); // the state machine would drop it unseen
      }
      release(snapshotIndex);
    }),
  ];
  /**
   * Resolves once this node has applied `index`. When `signal` aborts first, rejects with what
   * `aborted` makes of its reason, and forgets the wait: the entry's apply later releases no one.
   * An abort while this node applies the entry (a subscriber that hears its value, a handler of
   * its refusal) comes once the entry is judged: it resolves, so the outcome is told.
   */
  const appliedUpTo = (index: number, signal: AbortSignal | undefined, aborted: (reason: unknown) => Error = asGiven): Promise<void> => {
    // An entry the log applied after the close was never heard here (nor judged, nor set on the
    // config): only those applied before it count.
    if (closedAt !== null && index > closedAt) return Promise.reject(new StoppedError('this node'));
    if (log.appliedIndex() >= index) return Promise.resolve();
    if (signal?.aborted === true) return Promise.reject(aborted(signal.reason));
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const position = waiting.indexOf(waiter);
        if (position !== -1) waiting.splice(position, 1);
        if (appliedHere >= index) resolve();
        else reject(aborted(signal?.reason));
      };
      const stopListening = (): void => signal?.removeEventListener('abort', onAbort);
      const waiter = {
        index,
        resolve: (): void => {
          stopListening();
          resolve();
        },
        reject: (error: Error): void => {
          stopListening();
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      waiting.push(waiter);
    });
  };
  return {
    async setClusterWide(path, value, options) {
      const signal = options?.signal;
      signal?.throwIfAborted(); // nothing written: the reason as it is
      const segments = parsePath(path).map(String);
      // Every node's judge would refuse an invalid value: refuse it here, before it reaches the
      // log. A value only this node's own layers refuse goes on: the cluster takes it.
      const check = judge.checkUpdate(segments, value);
      if (!check.ok) throw check.error;
      const write: WriteInFlight = { after: log.appliedIndex(), index: null, refusals: new Map(), skipped: [] };
      writes.add(write);
      // From here the entry may reach the log whatever the caller does, so an abort cannot say
      // that nothing happened. The caller stops waiting at once all the same (a node far behind
      // can take long to apply its entry), and the write is forgotten here: its entry, when it
      // applies, is applied as any other.
      const outcomeUnknown = (reason: unknown): ClusterWriteOutcomeUnknownError => new ClusterWriteOutcomeUnknownError(segments, write.index, null, { cause: reason });
      try {
        const index = await unlessAborted(log.append({ type: 'config-set', path: segments, value }, options), signal, outcomeUnknown);
        write.index = index;
        for (const refused of write.refusals.keys()) if (refused !== index) write.refusals.delete(refused);
        await appliedUpTo(index, signal, outcomeUnknown);
        // Released by a snapshot past its entry, the write was never judged here: whether the
        // cluster took it is not this node's to say (resolving told the caller it had).
        const skip = write.skipped.find(({ after, upTo }) => after < index && index <= upTo);
        if (skip !== undefined) throw new ClusterWriteOutcomeUnknownError(segments, index, skip.upTo);
        // Checked here before it went out, the value can still be refused when it is applied: a
        // write committed just before it (by another node, say) changed what it is checked against.
        const refusal = write.refusals.get(index);
        if (refusal !== undefined) throw refusal;
      } finally {
        writes.delete(write);
      }
    },
    async getWithConsensus(path, options) {
      const signal = options?.signal;
      const index = await unlessAborted(log.readIndex(options), signal, asGiven);
      await appliedUpTo(index, signal);
      return config.get(path as never);
    },
    snapshotCommands() {
      if (closedAt !== null && log.appliedIndex() !== closedAt) {
        throw new Error(`the cluster config closed at log index ${closedAt} and the log has applied up to ${log.appliedIndex()} since: a snapshot would lose the cluster-wide values set meanwhile`);
      }
      return overlay.assignments().map(({ path, value }) => ({ type: 'config-set', path: [...path], value }));
    },
    judgeFallback: () => fallback,
    close() {
      if (closedAt !== null) return;
      closedAt = log.appliedIndex();
      for (const unsubscribe of unsubscribers) unsubscribe();
      ownChanges?.stop();
      // Only the applied entries released them: waiting on after close, they would never settle
      // (a learner's setClusterWide while its node stops, say).
      for (const waiter of waiting.splice(0)) waiter.reject(new StoppedError('this node'));
    },
  };
}

/** An abort's reason, rejected with as the caller gave it (as AbortSignal's own users do). */
function asGiven(reason: unknown): Error {
  return reason as Error;
}

/**
 * The judge of cluster-wide writes: a config of `rules` alone, which only the cluster's commands
 * update. Undefined, with the reason reported, when the defaults do not validate without the
 * file and environment (a value only those give, such as a secret): every write would be refused
 * against them, so each node's own config judges instead (on every node of the cluster alike,
 * as their defaults and schema are the same).
 */
function createJudge<T>(rules: ClusterConfigRules, report: (error: FoundationError) => void): Config<T> | undefined {
  try {
    return createConfig({ defaults: rules.defaults, schema: rules.schema, updatablePaths: rules.updatablePaths, namespace: 'cluster-wide' } as never) as Config<T>;
  } catch (error) {
    report(FoundationError.from(error));
    return undefined;
  }
}
