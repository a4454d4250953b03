// The immutable request context: well-known Foundation fields (correlation id, request id,
// origin node, hop count, deadline), the W3C trace position and baggage, and local values of any
// type under string or symbol keys. Every "setter" returns a new Context; nothing mutates.
import { systemClock } from '@foundation/core';
import type { Clock } from '@foundation/core';
import type { SpanContext } from '@opentelemetry/api';
import { createBaggageEntry, isBaggageKey, normaliseBaggageMetadata } from './core/baggage';
import type { Baggage, BaggageEntry } from './core/baggage';
import { MAX_COUNTER_VALUE, MAX_IDENTIFIER_LENGTH, isCounter, isIdentifier } from './core/fields';
import { isWritableTraceParent } from './core/trace-context';
import { checkClock, isObjectArgument } from './arguments';
import { DeadlineExceededError } from './errors/deadline-exceeded-error';
import { describeValue } from './errors/describe-value';
import { InvalidContextValueError } from './errors/invalid-context-value-error';

/** A typed key for local values; create one with `createContextKey`. */
export type ContextKey<T> = symbol & { readonly __contextValue?: T };

/** Creates a key that no other code can collide with (a fresh symbol). */
export function createContextKey<T>(description: string): ContextKey<T> {
  return Symbol(description);
}

/**
 * Values accepted by `withContext` and `Context.with`: the well-known fields by name, and any
 * other string key as a local value. `undefined` removes a key, except `deadline`, which can
 * only be shortened: a later deadline, or `undefined`, leaves the current one in place.
 */
export interface ContextValues {
  readonly correlationId?: string | undefined;
  readonly requestId?: string | undefined;
  readonly originNode?: string | undefined;
  readonly hops?: number | undefined;
  /** Absolute deadline in milliseconds of the node's monotonic clock (see `withTimeout`). */
  readonly deadline?: number | undefined;
  readonly [key: string]: unknown;
}

/** The names of the well-known fields, which `getValue` and `setValue` route to typed slots. */
export const WELL_KNOWN_KEYS = Object.freeze(['correlationId', 'requestId', 'originNode', 'hops', 'deadline'] as const);
export type WellKnownKey = (typeof WELL_KNOWN_KEYS)[number];

const CONTEXT_MARKER: unique symbol = Symbol.for('@foundation/context/Context') as never;
const EMPTY_BAGGAGE: Baggage = new Map();
const MAX_BAGGAGE_VALUE_LENGTH = 8192;

/**
 * Local values, newest first: each `setValue` or `with` adds one link in front of the older ones
 * and shares them, instead of copying a map (a context usually gets one or two values per
 * `withContext`, and copying a Map cost more than all the rest of deriving a context). Past
 * MAX_CHAIN links, and on a removal, the chain is folded into one TABLE link holding a Map, so a
 * lookup walks at most MAX_CHAIN links.
 */
interface ValueLink {
  readonly key: string | symbol;
  readonly value: unknown;
  readonly older: ValueLink | undefined;
  /** Links from this one down, this one included. */
  readonly depth: number;
}

/** The key of a folded link, whose value is a Map of every value below it. Never a user key. */
const TABLE: unique symbol = Symbol('folded context values') as never;
const MAX_CHAIN = 8;

function lookUp(link: ValueLink | undefined, key: string | symbol): unknown {
  for (; link !== undefined; link = link.older) {
    if (link.key === key) return link.value;
    if (link.key === TABLE) return (link.value as ReadonlyMap<string | symbol, unknown>).get(key);
  }
  return undefined;
}

/** Every value of the chain in a Map, in the order a Map would have after the same sets. */
function unfold(link: ValueLink | undefined): Map<string | symbol, unknown> {
  const links: ValueLink[] = [];
  for (; link !== undefined; link = link.older) links.push(link);
  const values = new Map<string | symbol, unknown>();
  for (let index = links.length - 1; index >= 0; index -= 1) {
    const { key, value } = links[index]!;
    if (key === TABLE) (value as ReadonlyMap<string | symbol, unknown>).forEach((tableValue, tableKey) => values.set(tableKey, tableValue));
    else values.set(key, value);
  }
  return values;
}

/**
 * `older` with `key` set to `value` in front. A removal (undefined) folds the chain instead, so
 * that the removed value is no longer reachable from the new context and can be collected.
 */
function pushValue(older: ValueLink | undefined, key: string | symbol, value: unknown): ValueLink | undefined {
  if (older === undefined) return value === undefined ? undefined : { key, value, older, depth: 1 };
  if (value !== undefined && older.depth < MAX_CHAIN) return { key, value, older, depth: older.depth + 1 };
  const values = unfold(older);
  if (value === undefined) values.delete(key);
  else values.set(key, value);
  return values.size === 0 ? undefined : { key: TABLE, value: values, older: undefined, depth: 1 };
}

interface ContextState {
  readonly values: ValueLink | undefined;
  readonly correlationId: string | undefined;
  readonly requestId: string | undefined;
  readonly originNode: string | undefined;
  readonly hops: number;
  readonly deadline: number | undefined;
  readonly trace: SpanContext | undefined;
  readonly baggage: Baggage;
}

/** True for a Context, including one created by another copy of this package. */
export function isContext(value: unknown): value is Context {
  return typeof value === 'object' && value !== null && (value as { [CONTEXT_MARKER]?: unknown })[CONTEXT_MARKER] === true;
}

/**
 * An immutable request context. Obtain one with `createContext`, `currentContext()` or
 * `extract`; derive new ones with `with`, `setValue`, `withTimeout`, `setBaggage`...
 */
export class Context {
  /** Correlates everything done for one request, across nodes. */
  readonly correlationId: string | undefined;
  /** Identifies one request (one call) within a correlation. */
  readonly requestId: string | undefined;
  /** The node where the request entered the cluster. */
  readonly originNode: string | undefined;
  /** How many node boundaries the context has crossed. */
  readonly hops: number;
  /** Absolute deadline, in milliseconds of the local monotonic clock; undefined: none. */
  readonly deadline: number | undefined;
  /** The W3C trace position (an OpenTelemetry SpanContext), if any. */
  readonly trace: SpanContext | undefined;
  /** W3C baggage: string entries that travel with the context to other nodes. */
  readonly baggage: Baggage;
  readonly #values: ValueLink | undefined;
  declare readonly [CONTEXT_MARKER]: true;

  /** @internal Use `createContext` or derive from an existing context. */
  constructor(state: ContextState) {
    this.#values = state.values;
    this.correlationId = state.correlationId;
    this.requestId = state.requestId;
    this.originNode = state.originNode;
    this.hops = state.hops;
    this.deadline = state.deadline;
    this.trace = state.trace;
    this.baggage = state.baggage;
  }

  /** A well-known field by name, or a local value by string or symbol key. */
  getValue<T>(key: ContextKey<T>): T | undefined;
  getValue<K extends WellKnownKey>(key: K): Context[K];
  getValue(key: string | symbol): unknown;
  getValue(key: string | symbol): unknown {
    switch (key) {
      case 'correlationId':
        return this.correlationId;
      case 'requestId':
        return this.requestId;
      case 'originNode':
        return this.originNode;
      case 'hops':
        return this.hops;
      case 'deadline':
        return this.deadline;
      default:
        return lookUp(this.#values, key);
    }
  }

  /** A new context with `key` set (or removed, for `undefined`). Well-known fields are validated. */
  setValue<T>(key: ContextKey<T>, value: T | undefined): Context;
  setValue(key: string | symbol, value: unknown): Context;
  setValue(key: string | symbol, value: unknown): Context {
    const state = this.#state();
    if (!assignWellKnown(state, key, value)) state.values = pushValue(this.#values, key, value);
    return new Context(state);
  }

  /** A new context without `key`. */
  deleteValue(key: string | symbol): Context {
    return this.setValue(key, undefined);
  }

  /** A new context with every entry of `values` set (well-known fields validated). */
  with(values: ContextValues): Context {
    // Object.keys would throw for null, and take a string's characters as keys.
    if (!isObjectArgument(values)) throw new InvalidContextValueError('values', 'must be an object of context values', values);
    const state = this.#state();
    for (const key of Object.keys(values)) {
      const value = values[key];
      if (!assignWellKnown(state, key, value)) state.values = pushValue(state.values, key, value);
    }
    return new Context(state);
  }

  /** The keys of local values (well-known fields excluded). */
  keys(): (string | symbol)[] {
    return [...unfold(this.#values).keys()];
  }

  /**
   * A new context whose deadline is `timeoutMs` from now on `clock`, or the current deadline if
   * that is earlier: a callee can shorten its caller's deadline, never extend it.
   */
  withTimeout(timeoutMs: number, clock: Clock = systemClock): Context {
    if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0) {
      throw new InvalidContextValueError('timeoutMs', 'must be a non-negative number of milliseconds', timeoutMs);
    }
    checkClock(clock);
    return this.withDeadline(clock.monotonic() + timeoutMs);
  }

  /** A new context with the earlier of `deadline` (monotonic ms) and the current deadline. */
  withDeadline(deadline: number): Context {
    if (typeof deadline !== 'number' || Number.isNaN(deadline)) {
      throw new InvalidContextValueError('deadline', 'must be a number of monotonic milliseconds', deadline);
    }
    if (this.deadline !== undefined && this.deadline <= deadline) return this;
    const state = this.#state();
    state.deadline = deadline;
    return new Context(state);
  }

  /** Milliseconds left before the deadline on `clock` (negative when past); Infinity without one. */
  remainingTime(clock: Clock = systemClock): number {
    checkClock(clock);
    return this.deadline === undefined ? Number.POSITIVE_INFINITY : this.deadline - clock.monotonic();
  }

  /** True when the context has a deadline and it has passed on `clock`. */
  isExpired(clock: Clock = systemClock): boolean {
    checkClock(clock);
    return this.deadline !== undefined && this.deadline <= clock.monotonic();
  }

  /** Throws `DeadlineExceededError` (code 5202) when the deadline has passed on `clock`. */
  throwIfExpired(clock: Clock = systemClock): void {
    checkClock(clock);
    if (this.deadline === undefined) return;
    const overdue = clock.monotonic() - this.deadline;
    if (overdue >= 0) throw new DeadlineExceededError(overdue, this.correlationId);
  }

  /** A new context at the given trace position (or without one, for `undefined`). */
  withTrace(trace: SpanContext | undefined): Context {
    if (trace !== undefined && !isObjectArgument(trace)) throw new InvalidContextValueError('trace', 'must be a SpanContext object or undefined', trace);
    if (trace !== undefined && !isWritableTraceParent(trace.traceId, trace.spanId, trace.traceFlags)) {
      throw new InvalidContextValueError('trace', 'must have a 32-hex trace id, a 16-hex span id (not all zero) and flags in 0..255', trace.traceId);
    }
    const state = this.#state();
    state.trace = trace;
    return new Context(state);
  }

  /** One baggage entry, if present. */
  getBaggage(key: string): BaggageEntry | undefined {
    return this.baggage.get(key);
  }

  /**
   * A new context with a baggage entry. The key must be an HTTP token; the value any string
   * (percent-encoded on the wire); `metadata` W3C properties such as `ttl=60;internal`.
   */
  setBaggage(key: string, value: string, metadata?: string): Context {
    if (!isBaggageKey(key)) throw new InvalidContextValueError(`baggage.${typeof key === 'string' ? key : describeValue(key)}`, 'must be an HTTP token (RFC 7230 tchar)', key);
    const malformedValue = () => new InvalidContextValueError(`baggage.${key}`, `must be a well-formed string of at most ${MAX_BAGGAGE_VALUE_LENGTH} characters`, value);
    if (typeof value !== 'string' || value.length > MAX_BAGGAGE_VALUE_LENGTH) throw malformedValue();
    let normalised: string | undefined;
    if (metadata !== undefined && typeof metadata !== 'string') throw new InvalidContextValueError(`baggage.${key}`, 'has metadata that is not a string', metadata);
    if (metadata !== undefined && metadata !== '') {
      normalised = normaliseBaggageMetadata(metadata);
      if (normalised === undefined) throw new InvalidContextValueError(`baggage.${key}`, 'has metadata outside the W3C property grammar', metadata);
    }
    const entry = createBaggageEntry(key, value, normalised);
    if (entry === undefined) throw malformedValue();
    const baggage = new Map(this.baggage);
    baggage.delete(key);
    baggage.set(key, entry);
    const state = this.#state();
    state.baggage = baggage;
    return new Context(state);
  }

  /** A new context without the baggage entry `key`. */
  deleteBaggage(key: string): Context {
    if (!this.baggage.has(key)) return this;
    const baggage = new Map(this.baggage);
    baggage.delete(key);
    const state = this.#state();
    state.baggage = baggage;
    return new Context(state);
  }

  /** The fields worth logging: well-known ones, the trace ids and baggage (no local values). */
  toJSON(): Record<string, unknown> {
    const fields: Record<string, unknown> = { hops: this.hops };
    if (this.correlationId !== undefined) fields.correlationId = this.correlationId;
    if (this.requestId !== undefined) fields.requestId = this.requestId;
    if (this.originNode !== undefined) fields.originNode = this.originNode;
    if (this.deadline !== undefined) fields.deadline = this.deadline;
    if (this.trace !== undefined) {
      fields.traceId = this.trace.traceId;
      fields.spanId = this.trace.spanId;
    }
    if (this.baggage.size > 0) fields.baggage = Object.fromEntries([...this.baggage].map(([key, entry]) => [key, entry.value]));
    return fields;
  }

  #state(): { -readonly [K in keyof ContextState]: ContextState[K] } {
    return {
      values: this.#values,
      correlationId: this.correlationId,
      requestId: this.requestId,
      originNode: this.originNode,
      hops: this.hops,
      deadline: this.deadline,
      trace: this.trace,
      baggage: this.baggage,
    };
  }
}

// The marker lives on the prototype: recognising a context costs no per-instance property.
Object.defineProperty(Context.prototype, CONTEXT_MARKER, { value: true, enumerable: false });

function assignWellKnown(state: { -readonly [K in keyof ContextState]: ContextState[K] }, key: string | symbol, value: unknown): boolean {
  switch (key) {
    case 'correlationId':
    case 'requestId':
    case 'originNode':
      if (value !== undefined && !isIdentifier(value)) {
        throw new InvalidContextValueError(key, `must be 1–${MAX_IDENTIFIER_LENGTH} visible ASCII characters`, value);
      }
      state[key] = value;
      return true;
    case 'hops':
      if (value === undefined) state.hops = 0;
      else if (isCounter(value)) state.hops = value;
      else throw new InvalidContextValueError(key, `must be an integer in 0..${MAX_COUNTER_VALUE}`, value);
      return true;
    case 'deadline':
      if (value !== undefined && (typeof value !== 'number' || Number.isNaN(value))) {
        throw new InvalidContextValueError(key, 'must be a number of monotonic milliseconds', value);
      }
      // Deadlines only shrink going down, as with `withDeadline`: a callee that sets a later
      // deadline, or removes it, keeps its caller's, so it cannot work on after the caller gave up.
      if (value !== undefined && (state.deadline === undefined || value < state.deadline)) state.deadline = value;
      return true;
    default:
      return false;
  }
}

/** The context with nothing in it; `currentContext()` outside any `withContext`. */
export const EMPTY_CONTEXT: Context = new Context({
  values: undefined,
  correlationId: undefined,
  requestId: undefined,
  originNode: undefined,
  hops: 0,
  deadline: undefined,
  trace: undefined,
  baggage: EMPTY_BAGGAGE,
});

/** A context holding `values` (see `ContextValues`). */
export function createContext(values: ContextValues = {}): Context {
  return EMPTY_CONTEXT.with(values);
}
