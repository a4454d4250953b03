// Sequential specifications for the checker: a register and a key-value map. A model says how
// an operation changes the state and whether its observed result is possible from a state.
import { malformed } from './history';
import type { Operation } from './history';

/** Returned by `step` when an operation's observed result is impossible from a state. */
export const INCONSISTENT: unique symbol = Symbol('inconsistent');

export interface Model<State> {
  readonly name: string;
  init(): State;
  /**
   * The state after `operation`, or INCONSISTENT when its result cannot come from `state`. For
   * an `info` operation the result is unknown: return the state it would produce if it took
   * effect, or INCONSISTENT if it could not take effect here (skipping it is then the only way).
   */
  step(state: State, operation: Operation): State | typeof INCONSISTENT;
  /** A canonical key of a state, for memoising the search. */
  key(state: State): string;
  /**
   * Splits operations into independent groups, each checked alone (P-compositionality:
   * Horn and Kroening, 2015). A history is linearizable when every group is.
   */
  partition?(operations: readonly Operation[]): Map<unknown, Operation[]>;
  /** True for operations that never change the state (reads). */
  readOnly?(operation: Operation): boolean;
  /** Values the operation's result depends on (what a read returned, what a cas expected). */
  observes?(operation: Operation): readonly unknown[];
  /** The value the operation writes when it takes effect; undefined for reads. */
  writes?(operation: Operation): { readonly value: unknown } | undefined;
  /** A short description of an operation, for explanations. */
  describe?(operation: Operation): string;
}

/**
 * A canonical text for a value: objects with sorted keys, and null for "absent". Two values
 * with the same text are the same value to the models (`-0` is `0`, as CBOR carries it; NaN is
 * NaN). Maps, sets and dates are told apart by their contents, not only by their (usually
 * empty) own keys; other class instances are compared by their own enumerable fields.
 */
export function canonical(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value instanceof Map) {
    const entries = [...value].map(([key, entry]) => `${canonical(key)}=>${canonical(entry)}`).sort();
    return `Map{${entries.join(',')}}`;
  }
  if (value instanceof Set) return `Set[${[...value].map(canonical).sort().join(',')}]`;
  if (value instanceof Date) return `Date(${value.getTime()})`;
  if (typeof value === 'object') {
    const keys = Object.keys(value).sort();
    if (keys.length === 0 && !isPlain(value)) return `${Object.prototype.toString.call(value)}(${describeOpaque(value)})`;
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`).join(',')}}`;
  }
  return typeof value === 'symbol' ? value.toString() : `[${typeof value}]`;
}

/** The text of an object with no fields of its own (a regular expression, a boxed value...). */
function describeOpaque(value: object): string {
  try {
    return (value as { toString(): string }).toString();
  } catch {
    return '?';
  }
}

function isPlain(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === null || prototype === Object.prototype;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if ((a === undefined || a === null) && (b === undefined || b === null)) return true;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  return canonical(a) === canonical(b);
}

const READ = new Set(['read', 'get']);
const WRITE = new Set(['write', 'put']);

function casArguments(operation: Operation): [unknown, unknown] {
  const input = operation.input;
  if (!Array.isArray(input) || input.length !== 2) {
    throw malformed(`cas needs [expected, new] as its value (got ${canonical(input)})`, operation.call);
  }
  return [input[0], input[1]];
}

/** One value's sequential behaviour: read/get, write/put, delete, cas. */
function stepValue(state: unknown, operation: Operation): unknown {
  const { f } = operation;
  if (READ.has(f)) return operation.status === 'info' || sameValue(state, operation.output) ? state : INCONSISTENT;
  if (WRITE.has(f)) return operation.input ?? null;
  if (f === 'delete') return null;
  if (f === 'cas') {
    const [expected, next] = casArguments(operation);
    return sameValue(state, expected) ? (next ?? null) : INCONSISTENT;
  }
  throw malformed(`unknown operation "${f}" (known: read, get, write, put, delete, cas)`, operation.call);
}

function describeOperation(operation: Operation): string {
  const key = operation.key === undefined ? '' : ` ${canonical(operation.key)}`;
  const input = operation.input === undefined ? '' : ` ${canonical(operation.input)}`;
  const output = operation.status === 'info' ? ' → ?' : operation.output === undefined ? '' : ` → ${canonical(operation.output)}`;
  return `process ${String(operation.process)}: ${operation.f}${key}${input}${output}`;
}

const valueObservations = {
  readOnly: (operation: Operation): boolean => READ.has(operation.f),
  observes: (operation: Operation): readonly unknown[] => {
    if (READ.has(operation.f)) return [operation.output ?? null];
    if (operation.f === 'cas') return [casArguments(operation)[0] ?? null];
    return [];
  },
  writes: (operation: Operation): { readonly value: unknown } | undefined => {
    if (WRITE.has(operation.f)) return { value: operation.input ?? null };
    if (operation.f === 'delete') return { value: null };
    if (operation.f === 'cas') return { value: casArguments(operation)[1] ?? null };
    return undefined;
  },
  describe: describeOperation,
};

/**
 * A single register: `read` (result: the value), `write` (value: the new value), `cas` (value:
 * [expected, new]; `ok` means it applied, `fail` that it did not). Starts at `initial` (null).
 */
export function registerModel(initial: unknown = null): Model<unknown> {
  return {
    name: 'register',
    init: () => initial,
    step: stepValue,
    key: canonical,
    ...valueObservations,
  };
}

/**
 * A key-value map: `get` (result: the value, null when absent), `put`, `delete`, `cas` on
 * [expected, new], each with a `key` (an operation without one is a malformed history; `null`
 * is a key like any other). Keys are independent, so the checker splits the history
 * by key and checks each alone.
 */
export function kvModel(): Model<unknown> {
  return {
    name: 'kv',
    init: () => null,
    step: stepValue,
    key: canonical,
    partition(operations) {
      const groups = new Map<unknown, Operation[]>();
      const byCanonicalKey = new Map<string, Operation[]>();
      for (const operation of operations) {
        // Without a key the operation would fall in with null's; null itself is a key.
        if (operation.key === undefined) throw malformed(`a key-value operation needs a key (${operation.f} has none)`, operation.call);
        const text = canonical(operation.key);
        let group = byCanonicalKey.get(text);
        if (group === undefined) {
          group = [];
          byCanonicalKey.set(text, group);
          groups.set(operation.key, group);
        }
        group.push(operation);
      }
      return groups;
    },
    ...valueObservations,
  };
}
