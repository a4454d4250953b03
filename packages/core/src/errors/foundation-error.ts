import {
  ERROR_CATEGORIES,
  RETRY_STRATEGIES,
  SEVERITIES,
  UNKNOWN_ERROR_CODE,
  categoryForCode,
  errorTypeForCode,
  inferRetryStrategy,
  lookupErrorType,
  retryDelayFor,
} from './codes';
import type { ErrorCategory, RetryStrategy, Severity } from './codes';
import { isPlainObject, toPlainData } from './plain-data';

/**
 * The marker that identifies a FoundationError. `Symbol.for` makes it the same symbol in every
 * copy of this package loaded into one process, so `FoundationError.is` recognises errors
 * created by another copy, where `instanceof` would not.
 */
const FOUNDATION_ERROR_MARKER: unique symbol = Symbol.for('@foundation/core/FoundationError') as never;

/** The tag that marks the wire form; its value is the format version. */
export const SERIALIZED_ERROR_TAG = '$foundationError';
const SERIALIZED_ERROR_VERSION = 1;

const MAX_MESSAGE_LENGTH = 16_384;
const MAX_NAME_LENGTH = 200;
const MAX_CAUSE_DEPTH = 8;
const MAX_RECOVERY_ACTIONS = 32;
const TYPE_PATTERN = /^[A-Za-z0-9_.:/-]{1,200}$/;

export interface FoundationErrorOptions {
  /** Stable machine-readable name, e.g. `config_update_forbidden` or a package's own type. */
  readonly type: string;
  readonly message: string;
  /** Defaults to the 1.x table's code for `type`, else 9999. */
  readonly code?: number;
  readonly severity?: Severity;
  readonly category?: ErrorCategory;
  readonly subcategory?: string;
  /** Defaults to the strategy 1.x inferred from the code and severity. */
  readonly retryStrategy?: RetryStrategy;
  readonly context?: Readonly<Record<string, unknown>>;
  readonly cause?: unknown;
  readonly correlationId?: string;
  readonly recoveryActions?: readonly string[];
  /** Wall-clock milliseconds; defaults to now. */
  readonly timestamp?: number;
}

/** A cause that was not a FoundationError, as it travels on the wire. */
export interface SerializedPlainCause {
  readonly name: string;
  readonly message: string;
}

/** The wire form of a FoundationError: plain, tagged data. */
export interface SerializedFoundationError {
  readonly [SERIALIZED_ERROR_TAG]: number;
  readonly name: string;
  readonly code: number;
  readonly type: string;
  readonly message: string;
  readonly severity: Severity;
  readonly category: ErrorCategory;
  readonly subcategory?: string;
  readonly retryStrategy: RetryStrategy;
  readonly context: Record<string, unknown>;
  readonly correlationId?: string;
  readonly recoveryActions?: readonly string[];
  readonly timestamp: number;
  readonly cause?: SerializedFoundationError | SerializedPlainCause;
}

/**
 * The one base class of every Foundation error: a stable `code` and `type`, a severity, a
 * category, a retry strategy, structured `context` and a `cause`. Packages subclass it, one
 * class per file under `src/errors/`.
 */
export class FoundationError extends Error {
  readonly code: number;
  readonly type: string;
  readonly severity: Severity;
  readonly category: ErrorCategory;
  readonly subcategory: string | undefined;
  readonly retryStrategy: RetryStrategy;
  readonly context: Readonly<Record<string, unknown>>;
  readonly correlationId: string | undefined;
  readonly recoveryActions: readonly string[];
  readonly timestamp: number;
  declare readonly [FOUNDATION_ERROR_MARKER]: true;

  constructor(options: FoundationErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    const known = lookupErrorType(options.type);
    const code = options.code ?? known?.code ?? UNKNOWN_ERROR_CODE;
    this.name = new.target.name;
    this.type = options.type;
    this.code = code;
    this.severity = options.severity ?? known?.severity ?? 'medium';
    this.category = options.category ?? known?.category ?? categoryForCode(code);
    this.subcategory = options.subcategory ?? known?.subcategory;
    this.retryStrategy = options.retryStrategy ?? inferRetryStrategy(code, this.severity);
    this.context = Object.freeze({ ...(options.context ?? {}) });
    this.correlationId = options.correlationId;
    this.recoveryActions = Object.freeze([...(options.recoveryActions ?? [])]);
    this.timestamp = options.timestamp ?? Date.now();
    Object.defineProperty(this, FOUNDATION_ERROR_MARKER, { value: true, enumerable: false });
  }

  /** True for any FoundationError, including one from another copy of this package. */
  static is(value: unknown): value is FoundationError {
    if (typeof value !== 'object' || value === null) return false;
    try {
      return (value as { [FOUNDATION_ERROR_MARKER]?: unknown })[FOUNDATION_ERROR_MARKER] === true;
    } catch {
      // A proxy (a revoked one, or one whose trap throws) is anything but a FoundationError.
      return false;
    }
  }

  /** True when `value` is a FoundationError of the given type (or code). */
  static hasType(value: unknown, typeOrCode: string | number): value is FoundationError {
    if (!FoundationError.is(value)) return false;
    return typeof typeOrCode === 'number' ? value.code === typeOrCode : value.type === typeOrCode;
  }

  /**
   * Whatever was thrown, as a FoundationError: FoundationErrors are returned as they are,
   * anything else is wrapped (as `internal_error` unless told otherwise) and kept as the cause.
   */
  static from(value: unknown, fallback?: Partial<FoundationErrorOptions>): FoundationError {
    if (FoundationError.is(value)) return value;
    const message = fallback?.message ?? (isError(value) ? causeText(() => value.message, describe) : `non-error value thrown: ${describe(value)}`);
    return new FoundationError({ ...fallback, type: fallback?.type ?? 'internal_error', message, cause: value });
  }

  /**
   * Rebuilds an error from its wire form. Input is untrusted: anything that is not a valid
   * serialized error yields a `deserialization_failed` error (code 3102) describing what was
   * wrong. This method never throws.
   */
  static fromJSON(data: unknown): FoundationError {
    try {
      return decode(data, 0);
    } catch (error) {
      const reason = error instanceof WireFormatError ? error.message : 'unreadable input';
      return new FoundationError({
        type: 'deserialization_failed',
        message: `not a serialized FoundationError: ${reason}`,
        context: { reason },
      });
    }
  }

  /** Delay before retry number `attempt` (0-based), in ms; Infinity when not retryable. */
  retryDelay(attempt: number): number {
    return retryDelayFor(this.retryStrategy, attempt);
  }

  isRetryable(): boolean {
    return this.retryStrategy !== 'no_retry';
  }

  /** The wire form: plain data, bounded in size, safe to encode as JSON or CBOR. */
  toJSON(): SerializedFoundationError {
    return encode(this, 0);
  }
}

/** `instanceof Error`, which throws for a revoked proxy, as a plain yes or no. */
function isError(value: unknown): value is Error {
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}

/**
 * A property of an Error that is not ours (its name or message) as text: it may hold anything,
 * and reading it may throw (a getter). What is not a string is described.
 */
function causeText(read: () => unknown, otherwise: (value: unknown) => string): string {
  let value: unknown;
  try {
    value = read();
  } catch {
    return '[unreadable]';
  }
  return typeof value === 'string' ? value : otherwise(value);
}

function describe(value: unknown): string {
  try {
    const text = typeof value === 'string' ? value : JSON.stringify(toPlainData(value));
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  } catch {
    return typeof value;
  }
}

/** `text` in at most `max` characters, the ellipsis included (fromJSON refuses longer ones). */
function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * The type as fromJSON reads it: characters outside [A-Za-z0-9_.:/-] become `_`, at most 200 of
 * them, `unknown` for none. The constructor takes any text, and such a type went out as given
 * for the other side to refuse the whole error as deserialization_failed.
 */
function wireType(type: string): string {
  const text = type.replace(/[^A-Za-z0-9_.:/-]/g, '_').slice(0, MAX_NAME_LENGTH);
  return text === '' ? 'unknown' : text;
}

function encode(error: FoundationError, depth: number): SerializedFoundationError {
  let cause: SerializedFoundationError | SerializedPlainCause | undefined;
  if (error.cause !== undefined && depth < MAX_CAUSE_DEPTH) {
    if (FoundationError.is(error.cause)) cause = encode(error.cause, depth + 1);
    else if (isError(error.cause)) {
      const plain = error.cause;
      cause = {
        name: truncate(causeText(() => plain.name, () => 'Error'), MAX_NAME_LENGTH),
        message: truncate(causeText(() => plain.message, describe), MAX_MESSAGE_LENGTH),
      };
    }
    else cause = { name: 'thrown', message: describe(error.cause) };
  }
  return {
    [SERIALIZED_ERROR_TAG]: SERIALIZED_ERROR_VERSION,
    name: truncate(error.name, MAX_NAME_LENGTH),
    // A code or timestamp fromJSON would refuse goes out as the unknown code and time 0.
    code: Number.isInteger(error.code) && error.code >= 0 && error.code <= 99_999 ? error.code : UNKNOWN_ERROR_CODE,
    type: wireType(error.type),
    message: truncate(error.message, MAX_MESSAGE_LENGTH),
    severity: error.severity,
    category: error.category,
    // Each text held to the bound fromJSON reads it with, so that the wire form stays bounded and
    // reads back whatever the error was built with.
    ...(error.subcategory === undefined ? {} : { subcategory: truncate(error.subcategory, MAX_NAME_LENGTH) }),
    retryStrategy: error.retryStrategy,
    context: toPlainData(error.context) as Record<string, unknown>,
    ...(error.correlationId === undefined ? {} : { correlationId: truncate(error.correlationId, MAX_NAME_LENGTH) }),
    ...(error.recoveryActions.length === 0
      ? {}
      : { recoveryActions: error.recoveryActions.slice(0, MAX_RECOVERY_ACTIONS).map((action) => truncate(action, MAX_NAME_LENGTH)) }),
    timestamp: Number.isFinite(error.timestamp) ? error.timestamp : 0,
    ...(cause === undefined ? {} : { cause }),
  };
}

class WireFormatError extends Error {}

function fail(reason: string): never {
  throw new WireFormatError(reason);
}

function readString(record: Record<string, unknown>, key: string, max: number, optional = false): string | undefined {
  const value = record[key];
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'string') fail(`field "${key}" must be a string`);
  if (value.length > max) fail(`field "${key}" is longer than ${max} characters`);
  return value;
}

function readMember<T extends string>(record: Record<string, unknown>, key: string, allowed: readonly T[]): T {
  const value = record[key];
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    fail(`field "${key}" must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function decode(data: unknown, depth: number): FoundationError {
  if (!isPlainObject(data)) fail('expected an object');
  if (data[SERIALIZED_ERROR_TAG] !== SERIALIZED_ERROR_VERSION) fail(`missing or unsupported "${SERIALIZED_ERROR_TAG}" tag`);
  const code = data.code;
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 0 || code > 99_999) fail('field "code" must be an integer in 0..99999');
  const type = readString(data, 'type', MAX_NAME_LENGTH)!;
  if (!TYPE_PATTERN.test(type)) fail('field "type" has characters outside [A-Za-z0-9_.:/-]');
  const message = readString(data, 'message', MAX_MESSAGE_LENGTH)!;
  const name = readString(data, 'name', MAX_NAME_LENGTH, true) ?? 'FoundationError';
  const subcategory = readString(data, 'subcategory', MAX_NAME_LENGTH, true);
  const correlationId = readString(data, 'correlationId', MAX_NAME_LENGTH, true);
  const timestamp = data.timestamp;
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) fail('field "timestamp" must be a finite number');
  if (data.context !== undefined && !isPlainObject(data.context)) fail('field "context" must be an object');
  let recoveryActions: string[] | undefined;
  if (data.recoveryActions !== undefined) {
    const actions = data.recoveryActions;
    if (!Array.isArray(actions) || actions.length > MAX_RECOVERY_ACTIONS || actions.some((action) => typeof action !== 'string')) {
      fail(`field "recoveryActions" must be at most ${MAX_RECOVERY_ACTIONS} strings`);
    }
    recoveryActions = (actions as string[]).map((action) => truncate(action, MAX_NAME_LENGTH));
  }
  let cause: unknown;
  if (data.cause !== undefined) {
    if (depth >= MAX_CAUSE_DEPTH) fail(`causes nested deeper than ${MAX_CAUSE_DEPTH}`);
    if (isPlainObject(data.cause) && data.cause[SERIALIZED_ERROR_TAG] !== undefined) {
      cause = decode(data.cause, depth + 1);
    } else if (isPlainObject(data.cause)) {
      const causeName = readString(data.cause, 'name', MAX_NAME_LENGTH)!;
      const causeMessage = readString(data.cause, 'message', MAX_MESSAGE_LENGTH)!;
      const plain = new Error(causeMessage);
      plain.name = causeName;
      cause = plain;
    } else {
      fail('field "cause" must be an object');
    }
  }
  const error = new FoundationError({
    type,
    message,
    code,
    severity: readMember(data, 'severity', SEVERITIES),
    category: readMember(data, 'category', ERROR_CATEGORIES),
    retryStrategy: readMember(data, 'retryStrategy', RETRY_STRATEGIES),
    context: (data.context === undefined ? {} : toPlainData(data.context)) as Record<string, unknown>,
    timestamp,
    ...(subcategory === undefined ? {} : { subcategory }),
    ...(correlationId === undefined ? {} : { correlationId }),
    ...(recoveryActions === undefined ? {} : { recoveryActions }),
    ...(cause === undefined ? {} : { cause }),
  });
  error.name = name;
  return error;
}

/** The canonical 1.x name for a code, for messages and logs. */
export function describeCode(code: number): string {
  return errorTypeForCode(code) ?? `code_${code}`;
}

/** `retryDelay` for anything thrown: Infinity unless it is a retryable FoundationError. */
export function retryDelay(error: unknown, attempt: number): number {
  return FoundationError.is(error) ? error.retryDelay(attempt) : Number.POSITIVE_INFINITY;
}

/** True when `error` is a FoundationError whose strategy allows a retry. */
export function isRetryable(error: unknown): boolean {
  return FoundationError.is(error) && error.isRetryable();
}
