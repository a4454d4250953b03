import type { Clock, FoundationError } from '@foundation/core';
import type { ConfigSubscriberError } from './errors/config-subscriber-error';
import type { ConfigPath } from './path';
import type { EnvironmentSourceOptions } from './sources/environment';
import type { FileSourceOptions } from './sources/json-file';

type Primitive = string | number | boolean | bigint | symbol | null | undefined;

/** A value that cannot be changed through any of its references: what `get` returns. */
export type DeepReadonly<T> = T extends Primitive | ((...args: never[]) => unknown)
  ? T
  : T extends readonly (infer Item)[]
    ? readonly DeepReadonly<Item>[]
    : { readonly [Key in keyof T]: DeepReadonly<T[Key]> };

/** `T` with every property optional, at every depth: what defaults may leave out. */
export type DeepPartial<T> = T extends Primitive | readonly unknown[] | ((...args: never[]) => unknown)
  ? T
  : { [Key in keyof T]?: DeepPartial<T[Key]> };

type Depth = [never, 0, 1, 2, 3, 4, 5, 6, 7];

/** Every dotted path into `T` (objects only; arrays end a path), for typed `get`. */
export type ConfigPathOf<T, Level extends number = 8> = [Level] extends [never]
  ? never
  : T extends Primitive | readonly unknown[] | ((...args: never[]) => unknown)
    ? never
    : { [Key in keyof T & string]: Key | `${Key}.${ConfigPathOf<NonNullable<T[Key]>, Depth[Level]>}` }[keyof T & string];

/** The type at a dotted path of `T`. */
export type ConfigValueAt<T, Path extends string> = Path extends `${infer Head}.${infer Rest}`
  ? Head extends keyof T
    ? ConfigValueAt<NonNullable<T[Head]>, Rest>
    : unknown
  : Path extends keyof T
    ? T[Path]
    : unknown;

/** A change, as subscribers receive it (1.x: `{config_updated, path, new_value}`, `{config_reset, config}`). */
export type ConfigNotification<T> =
  | {
      readonly type: 'config-updated';
      /** The updated path, as an array of keys. */
      readonly path: readonly string[];
      /**
       * The value now at `path` (after the validator's transforms, if any); undefined when nothing
       * is served there, as beneath an object a transform returns.
       */
      readonly value: unknown;
      /** The value that was at `path` before, or undefined if the key is new. */
      readonly previous: unknown;
      /** The whole config after the update. */
      readonly config: DeepReadonly<T>;
    }
  | {
      readonly type: 'config-reset';
      /** The whole config after the reset. */
      readonly config: DeepReadonly<T>;
    };

export type ConfigListener<T> = (notification: ConfigNotification<T>) => unknown;

/**
 * A change the config keeps without telling subscribers, told only to those that ask for writes
 * (`subscribe(listener, { writes: true })`): the runtime updates changed at `path`, and the value
 * served there did not (the schema derives the same value, or a transform hides the path). The
 * value served there can then still differ after a later change, of another path that it is
 * derived from, say.
 */
export interface ConfigWrite<T> {
  readonly type: 'config-written';
  /** The path written, as an array of keys. */
  readonly path: readonly string[];
  /** The whole config after the change. */
  readonly config: DeepReadonly<T>;
}

/** A listener of `subscribe(listener, { writes: true })`: the changes, and the writes among them. */
export type ConfigWriteListener<T> = (notification: ConfigNotification<T> | ConfigWrite<T>) => unknown;

/** One change of `updateMany`: a value to set, or a path to take back to the layers. */
export type ConfigChange = { readonly path: ConfigPath; readonly value: unknown; readonly revert?: undefined } | { readonly path: ConfigPath; readonly revert: true; readonly value?: undefined };

/** 1.x `{:ok, value} | {:error, %Error{}}`, for the calls that return instead of throwing. */
export type ConfigResult<Value> = { readonly ok: true; readonly value: Value } | { readonly ok: false; readonly error: FoundationError };

export interface ConfigStatus {
  readonly namespace: string;
  /** Milliseconds since the config was created (monotonic). */
  readonly uptimeMs: number;
  /** Successful runtime updates since creation. */
  readonly updateCount: number;
  readonly resetCount: number;
  readonly subscriberCount: number;
  /** Subscriber callbacks that threw or rejected since creation. */
  readonly subscriberFailures: number;
  /** Wall-clock time of the last update or reset, or undefined if there was none. */
  readonly lastChangeAt: number | undefined;
  readonly updatablePaths: readonly (readonly string[])[];
}

export interface ConfigSources {
  /** A JSON file over the defaults: a path, or `{ path, optional, maxBytes }`. */
  readonly file?: string | FileSourceOptions | undefined;
  /** Environment variables over the file, e.g. `{ prefix: 'FOUNDATION' }` for FOUNDATION_DEV__DEBUG_MODE. */
  readonly environment?: EnvironmentSourceOptions | undefined;
}

export interface ConfigOptionsBase {
  /**
   * Paths that `update` may change; a path also allows everything beneath it. Default: none
   * (a config without an allow-list is read-only at runtime, as 1.x's was outside its list).
   */
  readonly updatablePaths?: readonly ConfigPath[] | undefined;
  readonly sources?: ConfigSources | undefined;
  /** Reads uptime and change times. Default the system clock; tests pass a simulated one. */
  readonly clock?: Clock | undefined;
  /** 1.x's namespace (`:production`, `{:test, ref}`): a label for status and reports. Default `production`. */
  readonly namespace?: string | undefined;
  /**
   * Receives every subscriber failure. Default: `process.emitWarning(error)`, which prints it
   * once and never stops the process.
   */
  readonly onSubscriberError?: ((error: ConfigSubscriberError) => void) | undefined;
}

/** A layered, validated configuration with an update allow-list. */
export interface Config<T> {
  readonly namespace: string;
  /** The whole config: a deeply frozen snapshot, the same object until the next change. */
  get(): DeepReadonly<T>;
  /** The value at `path`; throws ConfigPathNotFoundError (1301) when there is none. */
  get<Path extends ConfigPathOf<T>>(path: Path): DeepReadonly<ConfigValueAt<T, Path>>;
  get(path: ConfigPath): unknown;
  /** The value at `path`, or `fallback` when the path leads nowhere. Unsafe paths still throw. */
  getWithDefault<Path extends ConfigPathOf<T>, Fallback>(path: Path, fallback: Fallback): DeepReadonly<ConfigValueAt<T, Path>> | Fallback;
  getWithDefault(path: ConfigPath, fallback: unknown): unknown;
  /**
   * Sets `path` to `value` at runtime and returns the value now there. In order, and before
   * anything changes: the path and value are checked for security (ConfigSecurityError), the
   * path against the allow-list (ConfigUpdateForbiddenError, 1401), its parents for existence
   * (ConfigPathNotFoundError, 1301), then the whole new config against the schema
   * (ConfigValidationError, 1201/1203). Any failure leaves the config unchanged.
   */
  update(path: ConfigPath, value: unknown): unknown;
  /** `update` that returns `{ ok: true, value }` or `{ ok: false, error }` instead of throwing. */
  safeUpdate(path: ConfigPath, value: unknown): ConfigResult<unknown>;
  /** Every check `update` makes, without applying or notifying: what the value at `path` would be. */
  checkUpdate(path: ConfigPath, value: unknown): ConfigResult<unknown>;
  /** 1.x `validate(config)`: whether `candidate` would be a valid whole config (the schema's output if so). */
  validate(candidate: unknown): ConfigResult<DeepReadonly<T>>;
  /** The allow-list, as arrays of keys. */
  updatablePaths(): readonly (readonly string[])[];
  /** Whether `update(path, ...)` passes the allow-list. */
  isUpdatable(path: ConfigPath): boolean;
  /**
   * Takes `path` back to what defaults < file < environment give it (their value there, or no
   * value when they have none) and keeps every other runtime update. A path into an array takes
   * the whole (outermost) array back, as arrays are whole values in the layering; the root path
   * is `reset()`. Checked like `update` (path security, allow-list, parents, the schema); a path
   * with nothing there in either is left alone. Notifies `config-updated` at the path taken back
   * when the runtime tree changed; returns the value now at `path` (undefined when none).
   */
  revert(path: ConfigPath): unknown;
  /** `revert` that returns `{ ok: true, value }` or `{ ok: false, error }` instead of throwing. */
  safeRevert(path: ConfigPath): ConfigResult<unknown>;
  /**
   * Several updates and reverts as one change: each is checked as `update` or `revert` checks
   * it (on the tree the changes before it made), then the schema validates the end result once,
   * so values that are only valid together can change together. All or nothing. Subscribers hear
   * `config-updated` once for each path whose value the batch changed, in order, with its value
   * before and after the whole batch; a batch that changes no value changes nothing. The root
   * path cannot be taken back in a batch (TypeError: that is `reset()`). Returns the whole config.
   */
  updateMany(changes: readonly ConfigChange[]): DeepReadonly<T>;
  /** `updateMany` that returns `{ ok: true, value }` or `{ ok: false, error }` instead of throwing. */
  safeUpdateMany(changes: readonly ConfigChange[]): ConfigResult<DeepReadonly<T>>;
  /** Drops every runtime update: back to defaults < file < environment. Notifies `config-reset`. */
  reset(): DeepReadonly<T>;
  /** Receives every change made after this call, in order (none made before it that is still being delivered); returns the function that unsubscribes. */
  subscribe(listener: ConfigListener<T>): () => void;
  /**
   * `subscribe`, and `listener` also hears each `config-written`, in order with the changes (a
   * batch's in the order of its paths): for a party that must know where the runtime updates
   * changed, not only where what is served did.
   */
  subscribe(listener: ConfigWriteListener<T>, options: { readonly writes: true }): () => void;
  status(): ConfigStatus;
}
