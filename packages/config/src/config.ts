// createConfig: the Config service. Layers (defaults < JSON file < environment < runtime
// updates) are merged once at creation; runtime updates are applied copy-on-write to the merged
// tree, the whole candidate is validated, and only then is it swapped in, so every change is
// atomic. Reads are served from a frozen snapshot and a flat index of its dotted paths.
import { isDeepStrictEqual } from 'node:util';
import { FoundationError, createPublisher, systemClock } from '@foundation/core';
import type { Clock } from '@foundation/core';
import { ConfigPathNotFoundError } from './errors/config-path-not-found-error';
import { ConfigReentrantUpdateError } from './errors/config-reentrant-update-error';
import { ConfigStructureError } from './errors/config-structure-error';
import { ConfigSubscriberError } from './errors/config-subscriber-error';
import { ConfigUpdateForbiddenError } from './errors/config-update-forbidden-error';
import { ConfigValidationError } from './errors/config-validation-error';
import { buildPathIndex } from './internal/path-index';
import { deepFreeze, freezeSnapshot, inspectPlainCopy, isRecord, pathKeyProblem, toPlainCopy } from './internal/plain-data';
import { checkSchema, runSchema } from './internal/run-schema';
import { isSameServedValue } from './internal/same-served-value';
import type { ValueOrigin } from './internal/run-schema';
import { ABSENT, deepMerge, removeAt, replacedPaths, setAt, valueAt, walk } from './internal/tree';
import type { OwnedNodes } from './internal/tree';
import { isPrefixOf, parsePath } from './path';
import type { ConfigPath } from './path';
import { applyEnvironment } from './sources/environment';
import { readJsonFile } from './sources/json-file';
import type { InferSchemaInput, InferSchemaOutput, StandardSchemaV1 } from './standard-schema';
import type { Config, ConfigChange, ConfigNotification, ConfigOptionsBase, ConfigResult, ConfigStatus, ConfigWrite, DeepPartial } from './types';

/** Options with a schema: the config's type is the schema's output. */
export interface ConfigOptionsWithSchema<Schema extends StandardSchemaV1> extends ConfigOptionsBase {
  /** The lowest layer; the file, the environment and updates go over it. */
  readonly defaults: DeepPartial<InferSchemaInput<Schema>>;
  /** A Standard Schema v1 validator (zod, valibot, arktype...) for the whole config. */
  readonly schema: Schema;
}

/** Options without a schema: the config's type is the defaults' type, and values are only checked to be plain data. */
export interface ConfigOptionsWithoutSchema<T extends object> extends ConfigOptionsBase {
  readonly defaults: T;
  readonly schema?: undefined;
}

export type ConfigOptions<T extends object = Record<string, unknown>> = ConfigOptionsWithoutSchema<T> | ConfigOptionsWithSchema<StandardSchemaV1<unknown, T>>;

/** A path changed in a working tree: the tree after it, and whether it changed anything. */
interface TreeChange {
  readonly segments: readonly string[];
  readonly next: unknown;
  readonly changed: boolean;
}

function defaultReport(error: ConfigSubscriberError): void {
  process.emitWarning(error);
}

/**
 * Freezes a raw tree the config built, in place, and makes the schema's output for it a frozen
 * snapshot without freezing anything the config does not own (see freezeSnapshot). Without a
 * schema the output is the raw tree itself, and nothing is copied.
 */
function freezeBoth<Raw, Output>(raw: Raw, output: Output): { raw: Raw; snapshot: Output } {
  const built = new Set<object>();
  deepFreeze(raw, built);
  return { raw, snapshot: freezeSnapshot(output, built) };
}

/** A change of `updateMany`, checked: `{ path, value }` or `{ path, revert: true }`, nothing else. */
function shapeOf(change: unknown): { path: ConfigPath; revert: boolean } {
  const shape = 'each change is { path, value } or { path, revert: true }';
  if (typeof change !== 'object' || change === null) throw new TypeError(shape);
  const { revert: back, value } = change as { revert?: unknown; value?: unknown };
  const hasValue = Object.prototype.hasOwnProperty.call(change, 'value');
  // A revert's type allows `value: undefined`, as a value's allows `revert: undefined`: a change
  // built field by field has both keys. A revert with a value is ambiguous, and refused.
  if (back === true ? value !== undefined : back !== undefined || !hasValue) throw new TypeError(shape);
  return { path: (change as { path: ConfigPath }).path, revert: back === true };
}

/**
 * Creates a config: defaults < JSON file < environment variables < runtime updates, validated
 * as a whole by the schema at creation and on every change.
 *
 * Throws at creation, like 1.x's `initialize`: ConfigStructureError (1101) when the defaults
 * or the file are not an object, ConfigSourceError (5402) when a source cannot be read,
 * ConfigSecurityError (5401) for keys that could reach a prototype, ConfigSchemaError (5403) for
 * a schema that is not Standard Schema v1, ConfigValidationError (1201/1203) when the layered
 * config does not validate (naming the file or variable the bad value came from).
 */
export function createConfig<Schema extends StandardSchemaV1>(options: ConfigOptionsWithSchema<Schema>): Config<InferSchemaOutput<Schema>>;
export function createConfig<T extends object>(options: ConfigOptionsWithoutSchema<T>): Config<T>;
export function createConfig(options: ConfigOptions<object>): Config<unknown> {
  if (options === null || typeof options !== 'object') throw new TypeError('createConfig needs an options object');
  const clock: Clock = options.clock ?? systemClock;
  const namespace = options.namespace ?? 'production';
  const schema = checkSchema(options.schema);
  const onSubscriberError = options.onSubscriberError ?? defaultReport;

  const paths = options.updatablePaths ?? [];
  // A single path given without its array failed with "….map is not a function".
  if (!Array.isArray(paths)) throw new TypeError('updatablePaths must be an array of paths');
  const allowList = Object.freeze(paths.map((path) => Object.freeze([...parsePath(path)])));

  // The layers below runtime updates, merged.
  if (!isRecord(options.defaults)) throw new ConfigStructureError('config defaults', 'the defaults must be a plain object');
  let base = toPlainCopy(options.defaults, [], 'the defaults') as Record<string, unknown>;
  // What each source set, in order, to name it when a value it gave fails validation: the file
  // only where its values replace the defaults' (not everywhere: the rest is the defaults').
  const origins: ValueOrigin[] = [];
  const fileSource = options.sources?.file;
  if (fileSource !== undefined) {
    const fromFile = readJsonFile(fileSource);
    if (fromFile !== undefined) {
      const label = `config file ${typeof fileSource === 'string' ? fileSource : fileSource.path}`;
      for (const path of replacedPaths(base, fromFile)) origins.push({ path, label });
      base = deepMerge(base, fromFile) as Record<string, unknown>;
    }
  }
  const environmentSource = options.sources?.environment;
  if (environmentSource !== undefined) {
    const { config, assignments } = applyEnvironment(base, environmentSource);
    base = config;
    for (const assignment of assignments) {
      for (const path of assignment.setPaths) origins.push({ path, label: `environment variable ${assignment.variable}` });
    }
  }
  const { snapshot: baseSnapshot } = freezeBoth(base, runSchema(schema, base, { origins }));

  let raw: unknown = base;
  let snapshot: unknown = baseSnapshot;
  let index = buildPathIndex(snapshot);
  let validating = false;
  let updateCount = 0;
  let resetCount = 0;
  let subscriberFailures = 0;
  let lastChangeAt: number | undefined;
  const startedAt = clock.monotonic();

  // Ordered, isolated delivery (core's publisher). A failing onSubscriberError is dropped there,
  // so a subscriber's failure never becomes the updater's. The publisher also gives a listener
  // only the changes published after it subscribed: one added from a listener hears neither the
  // rest of the batch being delivered nor changes queued before it. Writes that change nothing
  // served go through it too, in order with the changes, and only to listeners that ask for them.
  const notifier = createPublisher<ConfigNotification<unknown> | ConfigWrite<unknown>>({
    onError: (error, notification) => {
      subscriberFailures += 1;
      onSubscriberError(new ConfigSubscriberError(notification.type, error));
    },
  });

  const isUpdatablePath = (segments: readonly string[]): boolean => allowList.some((allowed) => isPrefixOf(allowed, segments));

  /**
   * `tree` with `value` at `path`, after every check of `update` but the schema's. In the
   * README's order: security (the path, then the whole value), the allow-list, the parent, the
   * plain-data rules. `owned`: the nodes a batch made, written in place (see setAt).
   */
  const withValue = (operation: string, tree: unknown, path: ConfigPath, value: unknown, owned?: OwnedNodes): TreeChange => {
    const segments = parsePath(path);
    const { copy, problem } = inspectPlainCopy(value, segments);
    if (!isUpdatablePath(segments)) throw new ConfigUpdateForbiddenError(segments, allowList);
    if (validating) throw new ConfigReentrantUpdateError(operation);
    const next = setAt(tree, segments, copy, owned);
    // The path's own keys first: they come before anything in the value.
    const keyProblem = pathKeyProblem(segments);
    if (keyProblem !== undefined) throw keyProblem;
    if (problem !== undefined) throw problem;
    return { segments, next, changed: true };
  };

  /**
   * `tree` with `path` taken back to the layers (see `revert`), after every check but the
   * schema's; `segments` is the path taken back (a whole array for a path into one). `changed`
   * is false, and `next` is `tree` itself, when there was nothing to take back. Not the root
   * path: that is `reset`. `owned` as for `withValue`.
   */
  const withoutUpdate = (operation: string, tree: unknown, path: ConfigPath, owned?: OwnedNodes): TreeChange => {
    const requested = parsePath(path);
    if (requested.length === 0) throw new TypeError(`${operation} cannot take the root path back: that is reset()`);
    if (!isUpdatablePath(requested)) throw new ConfigUpdateForbiddenError(requested, allowList);
    if (validating) throw new ConfigReentrantUpdateError(operation);
    let segments = requested;
    for (let length = 1; length < requested.length; length += 1) {
      const prefix = requested.slice(0, length);
      if (Array.isArray(valueAt(tree, prefix)) || Array.isArray(valueAt(base, prefix))) {
        segments = prefix;
        break;
      }
    }
    if (!isUpdatablePath(segments)) throw new ConfigUpdateForbiddenError(segments, allowList);
    const layered = valueAt(base, segments);
    if (valueAt(tree, segments) === layered) return { segments, next: tree, changed: false };
    const next = layered === ABSENT ? removeAt(tree, segments, owned) : setAt(tree, segments, layered, owned);
    return { segments, next, changed: true };
  };

  /** Everything `update` checks, without changing anything: the new raw tree and snapshot. */
  const prepare = (operation: string, path: ConfigPath, value: unknown): { segments: readonly string[]; nextRaw: unknown; nextSnapshot: unknown } => {
    const { segments, next } = withValue(operation, raw, path, value);
    return { segments, nextRaw: next, nextSnapshot: validateChange(segments, next) };
  };

  /** The schema's output for `nextRaw`, a change at `segments`; throws what validation finds. */
  const validateChange = (segments: readonly string[] | undefined, nextRaw: unknown): unknown => {
    if (!isRecord(nextRaw)) {
      throw new ConfigValidationError({ path: segments, issues: [{ path: segments ?? [], message: 'the whole config must be a plain object' }] });
    }
    validating = true;
    try {
      return runSchema(schema, nextRaw, { path: segments });
    } finally {
      validating = false;
    }
  };

  const commit = (nextRaw: unknown, nextSnapshot: unknown): void => {
    // Everything that can throw comes before the first assignment: a change applies whole or not at all.
    const frozen = freezeBoth(nextRaw, nextSnapshot);
    const nextIndex = buildPathIndex(frozen.snapshot);
    ({ raw, snapshot } = frozen);
    index = nextIndex;
    lastChangeAt = clock.now();
  };

  const read = (path: unknown): unknown => {
    if (path === undefined) return snapshot;
    if (typeof path === 'string') {
      const hit = index.get(path);
      if (hit !== undefined || index.has(path)) return hit;
    } else if (Array.isArray(path)) {
      const value = walk(snapshot, path);
      if (value !== ABSENT) return value;
    }
    // Misses, unsafe segments and malformed paths: parse for the precise error.
    const segments = parsePath(path);
    const value = valueAt(snapshot, segments);
    if (value === ABSENT) throw new ConfigPathNotFoundError(segments);
    return value;
  };

  /** The value now at `segments`, or undefined. */
  const valueNow = (segments: readonly string[]): unknown => {
    const current = valueAt(snapshot, segments);
    return current === ABSENT ? undefined : current;
  };

  /**
   * Makes a checked tree current, counts the changes and tells subscribers of each, in order,
   * with the value at its path before and after: every notification is made from this change's
   * snapshot before any is delivered, so a subscriber that changes the config meanwhile does not
   * show through them. A change whose value ends the same as it was (deeply equal plain data; an
   * object a transform returns, the same object) is neither counted nor told, whether it came from `update`, `updateMany` or `revert`: subscribers react to
   * changes (a reconnect, a cache flush), not to writes. When none is left, the change is still
   * committed if it changed the runtime tree at one of its paths: a value the schema derives the
   * same now (from another key, which a transform may read) is what the caller set, and must
   * hold once that other key changes; a write of the value already there commits nothing. Each
   * path written and not told is told as a `config-written` to the listeners that ask for writes.
   * Returns the value at `read` (default: the first path) right after this change, undefined
   * when none.
   */
  const commitChanges = (changed: readonly (readonly string[])[], nextRaw: unknown, nextSnapshot: unknown, read = changed[0]!): unknown => {
    const previous = changed.map((segments) => valueAt(snapshot, segments));
    const after = changed.map((segments) => valueAt(nextSnapshot, segments));
    // The runtime tree is plain data, compared by its contents: unchanged at a path, it is a
    // write of what was already there.
    const written = changed.map((segments) => !isDeepStrictEqual(valueAt(raw, segments), valueAt(nextRaw, segments)));
    // Where it changed, an object a transform returns is the same only when it is the very same
    // one: its state may be private (a secret wrapper's), and a deep comparison would call two
    // different secrets equal. Where it did not, only a value derived anew from another key can
    // differ, and a fresh object equal to the old one is no change.
    const kept = changed.map((segments, position) => {
      if (!written[position]) return !isDeepStrictEqual(previous[position], after[position]);
      if (previous[position] !== ABSENT || after[position] !== ABSENT) return !isSameServedValue(previous[position], after[position]);
      // Nothing is served at the path, before or after: it lies beneath an object the schema
      // transformed (into a class instance, or into other keys). The change shows, if at all,
      // in the closest ancestor served on both sides.
      for (let length = segments.length - 1; length >= 0; length -= 1) {
        const before = valueAt(snapshot, segments.slice(0, length));
        const now = valueAt(nextSnapshot, segments.slice(0, length));
        if (before !== ABSENT && now !== ABSENT) return !isSameServedValue(before, now);
      }
      return false;
    });
    if (!kept.includes(true) && !written.includes(true)) return valueNow(read);
    commit(nextRaw, nextSnapshot);
    const messages: (ConfigNotification<unknown> | ConfigWrite<unknown>)[] = [];
    changed.forEach((segments, position) => {
      if (!kept[position]) {
        if (written[position]) messages.push({ type: 'config-written', path: segments, config: snapshot as object });
        return;
      }
      const before = previous[position];
      const current = valueAt(snapshot, segments);
      messages.push({
        type: 'config-updated',
        path: segments,
        value: current === ABSENT ? undefined : current,
        previous: before === ABSENT ? undefined : before,
        config: snapshot as object,
      });
    });
    updateCount += kept.filter(Boolean).length;
    const result = valueNow(read);
    notifier.publishAll(messages);
    return result;
  };

  const update = (path: ConfigPath, value: unknown): unknown => {
    const { segments, nextRaw, nextSnapshot } = prepare('update', path, value);
    return commitChanges([segments], nextRaw, nextSnapshot);
  };

  /** Drops every runtime update. */
  const reset = (): unknown => {
    if (validating) throw new ConfigReentrantUpdateError('reset');
    raw = base;
    snapshot = baseSnapshot;
    index = buildPathIndex(snapshot);
    lastChangeAt = clock.now();
    resetCount += 1;
    notifier.publish({ type: 'config-reset', config: snapshot as object });
    return snapshot;
  };

  /**
   * `path` back to what the layers below runtime updates give it: their value there, or none.
   * Other runtime updates stay. A path into an array reverts the whole (outermost) array, as
   * arrays are whole values in the layering; the root path is `reset`. Checked like `update`
   * (path security, allow-list, parents, the schema); notifies `config-updated` at the reverted
   * path when the runtime tree changed. Returns the value now at `path`.
   */
  const revert = (path: ConfigPath): unknown => {
    const requested = parsePath(path);
    if (requested.length === 0) {
      // `reset()`, checked like an update of the root: only where the whole config is updatable.
      if (!isUpdatablePath(requested)) throw new ConfigUpdateForbiddenError(requested, allowList);
      return reset();
    }
    const { segments, next, changed } = withoutUpdate('revert', raw, requested);
    // Unchanged: never updated, reverted already, or nothing there in either.
    if (!changed) return valueNow(requested);
    return commitChanges([segments], next, validateChange(segments, next), requested);
  };

  /**
   * Several updates and reverts as one change: each is checked as `update` or `revert` checks
   * it, on the tree the ones before it made, and the schema validates the end result once.
   * Subscribers hear each path whose value the batch changed, once, in order, with its value
   * before and after the whole batch.
   */
  const updateMany = (changes: readonly ConfigChange[]): unknown => {
    if (!Array.isArray(changes)) throw new TypeError('updateMany needs an array of changes');
    if (validating) throw new ConfigReentrantUpdateError('updateMany');
    let tree = raw;
    // What this batch copied: changed in place by its later changes (raw is frozen, never in it).
    const owned: OwnedNodes = new WeakSet();
    const changed = new Map<string, readonly string[]>(); // each path once, where it first changed
    for (const change of changes as readonly unknown[]) {
      const { path, revert: back } = shapeOf(change);
      const step = back ? withoutUpdate('updateMany', tree, path, owned) : withValue('updateMany', tree, path, (change as { value: unknown }).value, owned);
      // JSON, not the keys joined: a key may hold any character, the joiner included.
      const key = JSON.stringify(step.segments);
      if (step.changed && !changed.has(key)) changed.set(key, step.segments);
      tree = step.next;
    }
    if (changed.size === 0) return snapshot;
    const paths = [...changed.values()];
    // The whole config as this batch left it, not as a subscriber changed it after.
    return commitChanges(paths, tree, validateChange(paths.length === 1 ? paths[0] : undefined, tree), []);
  };

  const toResult = <Value>(action: () => Value): ConfigResult<Value> => {
    try {
      return { ok: true, value: action() };
    } catch (error) {
      return { ok: false, error: FoundationError.from(error) };
    }
  };

  const config = {
    namespace,
    get: (path?: ConfigPath): unknown => read(path),
    getWithDefault(path: ConfigPath, fallback: unknown): unknown {
      if (typeof path === 'string') {
        const hit = index.get(path);
        if (hit !== undefined || index.has(path)) return hit;
      } else if (Array.isArray(path)) {
        const hit = walk(snapshot, path);
        if (hit !== ABSENT) return hit;
      }
      const value = valueAt(snapshot, parsePath(path));
      return value === ABSENT ? fallback : value;
    },
    update,
    safeUpdate: (path: ConfigPath, value: unknown) => toResult(() => update(path, value)),
    checkUpdate: (path: ConfigPath, value: unknown) =>
      toResult(() => {
        const { segments, nextRaw, nextSnapshot } = prepare('checkUpdate', path, value);
        const result = valueAt(nextSnapshot, segments);
        return result === ABSENT ? undefined : freezeBoth(nextRaw, result).snapshot;
      }),
    validate: (candidate: unknown) =>
      toResult(() => {
        const copy = toPlainCopy(candidate);
        if (!isRecord(copy)) throw new ConfigStructureError('config', 'a whole config must be a plain object');
        return freezeBoth(copy, runSchema(schema, copy)).snapshot;
      }),
    updatablePaths: () => allowList,
    isUpdatable: (path: ConfigPath) => isUpdatablePath(parsePath(path)),
    revert,
    safeRevert: (path: ConfigPath) => toResult(() => revert(path)),
    updateMany,
    safeUpdateMany: (changes: readonly ConfigChange[]) => toResult(() => updateMany(changes)),
    reset,
    subscribe(listener: (notification: ConfigNotification<unknown> | ConfigWrite<unknown>) => unknown, options?: { readonly writes?: boolean }): () => void {
      if (typeof listener !== 'function') throw new TypeError('subscribe needs a function');
      // Only changes made after this call: none made before it, though still being delivered
      // (the publisher's guarantee; a change is published as soon as it is made).
      if (options?.writes === true) return notifier.subscribe(listener);
      return notifier.subscribe((notification) => (notification.type === 'config-written' ? undefined : listener(notification)));
    },
    status: (): ConfigStatus => ({
      namespace,
      uptimeMs: clock.monotonic() - startedAt,
      updateCount,
      resetCount,
      subscriberCount: notifier.size(),
      subscriberFailures,
      lastChangeAt,
      updatablePaths: allowList,
    }),
  };
  return config as Config<unknown>;
}

