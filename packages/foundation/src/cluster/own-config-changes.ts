// One party's changes of a config told apart from everyone else's, by the notifications the
// config sends: the cluster config sets the cluster's values on a node's config, and must hear
// when the node's own layers change (a local `update`, `updateMany`, `revert` or `reset`), not
// when it changes the config itself. The config delivers notifications in order, but not always
// within the call that made the change: a change made while it delivers others (from within a
// subscriber) is delivered once those are, after the call returned; one made otherwise is
// delivered before the call returns, its own notifications first, then what subscribers changed
// on hearing them. A change that writes a path without changing what is served there (a revert
// of a value the schema derives the same) is heard too, as a `config-written`: it replaced the
// value the party kept there, which a later change can make show.
import type { Config, ConfigNotification, ConfigWrite } from '@foundation/config';

/** What one party hears of the others' changes: each change, and each write that changed nothing served. */
export type ConfigChangeHeard<T> = ConfigNotification<T> | ConfigWrite<T>;

export interface OwnConfigChanges<T> {
  /** The config's calls that change it, made as this party's: their notifications are not others'. */
  readonly config: Pick<Config<T>, 'safeUpdate' | 'safeUpdateMany' | 'reset'>;
  /**
   * The notifications of the changes others made while one of this party's changes was being
   * delivered (a subscriber that changed the config on hearing this party's value), in order,
   * since the last call; clears them. Those are not told to `onOthers`: this party was in the
   * middle of its own change then.
   */
  takeOthersMeanwhile(): ConfigChangeHeard<T>[];
  /** Stops listening. */
  stop(): void;
}

/**
 * Calls `onOthers` with each notification of a change of `config` that this party did not make
 * through the returned `config`, when none of this party's calls is under way; `first` is true
 * for the first notification of its change (a change of several paths notifies once per path,
 * each with the same snapshot, and one after the other reaches every subscriber in turn).
 * Writes that change no value served are told too (`config-written`); changes that write nothing
 * notify nobody, and are not told.
 */
export function watchOwnConfigChanges<T>(config: Config<T>, onOthers: (notification: ConfigChangeHeard<T>, first: boolean) => void): OwnConfigChanges<T> {
  /** The snapshots of this party's updates whose notifications were still to come when its call returned. */
  const ownSnapshots = new WeakSet<object>();
  /** This party's resets whose notification was still to come (every reset notifies with the layers' snapshot). */
  let ownResets = 0;
  /** Whether one of this party's calls is under way. */
  let making = false;
  /** Within such a call: the snapshot of the first notification heard, which is the call's own. */
  let firstHeard: object | null = null;
  let othersMeanwhile: ConfigChangeHeard<T>[] = [];
  /** The snapshot of the last change of others told: a change of several paths notifies once per path, the first one first. */
  let lastTold: object | null = null;

  const unsubscribe = config.subscribe((notification: ConfigChangeHeard<T>) => {
    const snapshot = notification.config as object;
    if (making) {
      // Delivered within the call: nothing was being delivered when it began, so the call's own
      // notifications come first, all with its snapshot; any other is a subscriber's change,
      // and so is a reset after the first (a reset notifies once).
      if (firstHeard === null) firstHeard = snapshot;
      else if (snapshot !== firstHeard || notification.type === 'config-reset') othersMeanwhile.push(notification);
      return;
    }
    if (notification.type === 'config-reset') {
      if (ownResets > 0) {
        ownResets -= 1;
        return;
      }
    } else if (ownSnapshots.has(snapshot)) return;
    const first = notification.type === 'config-reset' || snapshot !== lastTold;
    lastTold = snapshot;
    onOthers(notification, first);
  }, { writes: true });

  const make = <R>(call: () => R, reset: boolean): R => {
    // A call made from within a subscriber that hears an outer one: kept apart, then restored.
    const outer = { making, firstHeard };
    const before = config.get();
    making = true;
    firstHeard = null;
    try {
      return call();
    } finally {
      if (firstHeard === null) {
        // Nothing heard within the call: its notifications, if any, are still to come, and
        // nobody changed the config since it did.
        if (reset) ownResets += 1;
        else {
          const after = config.get();
          if (after !== before) ownSnapshots.add(after as object);
        }
      }
      ({ making, firstHeard } = outer);
    }
  };

  return {
    config: {
      safeUpdate: (path, value) => make(() => config.safeUpdate(path, value), false),
      safeUpdateMany: (changes) => make(() => config.safeUpdateMany(changes), false),
      reset: () => make(() => config.reset(), true),
    },
    takeOthersMeanwhile() {
      const taken = othersMeanwhile;
      othersMeanwhile = [];
      return taken;
    },
    stop: unsubscribe,
  };
}
