// The environment layer: variables named PREFIX + KEY + (SEPARATOR + KEY)*, for example
// FOUNDATION_DEV__DEBUG_MODE=true with prefix "FOUNDATION" sets dev.debugMode. Keys match the
// config's existing keys case-insensitively and ignoring "_" and "-" (DEBUG_MODE finds debugMode
// or debug_mode); a key that matches nothing becomes camelCase (debugMode). Values are parsed
// by the type of the value they replace, then validated with the rest of the config; a JSON
// object merges into the object below it, as the layers merge.
import { isUnsafeKey } from '@foundation/core';
import { ConfigSecurityError } from '../errors/config-security-error';
import { ConfigSourceError } from '../errors/config-source-error';
import { describeKind } from '../internal/describe-kind';
import { describeJsonSyntaxProblem } from '../internal/json-syntax';
import { isRecord, pathKeyProblem, toPlainCopy } from '../internal/plain-data';
import { ABSENT, childOf, deepMerge, replacedPaths } from '../internal/tree';
import { MAX_SEGMENTS, MAX_SEGMENT_LENGTH } from '../path';

export interface EnvironmentSourceOptions {
  /** Variables whose name starts with this (case-insensitively) are read, e.g. `FOUNDATION`. */
  readonly prefix: string;
  /** Separates nested keys. Default `__`. */
  readonly separator?: string | undefined;
  /** Where to read variables from. Default `process.env`. */
  readonly variables?: Readonly<Record<string, string | undefined>> | undefined;
}

/** One variable's contribution: where it lands, what it says, and the paths whose values it gave. */
export interface EnvironmentAssignment {
  readonly variable: string;
  readonly path: readonly string[];
  readonly value: unknown;
  /**
   * The paths at which the variable's value stands whole: its own path, or, for a JSON object
   * merged into an object, the paths inside it that it set. What to name it for in errors.
   */
  readonly setPaths: readonly (readonly string[])[];
}

const MAX_VARIABLE_BYTES = 1024 * 1024;
const NUMBER_PATTERN = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** A JSON number: no sign but `-`, no leading zeros, digits on both sides of a point. */
const JSON_NUMBER_PATTERN = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

/** Decimal notation of a number a double can hold: `1e999` would be Infinity, which no config value may be. */
function isFiniteNumber(text: string): boolean {
  return NUMBER_PATTERN.test(text) && Number.isFinite(Number(text));
}

function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[_-]/g, '');
}

function camelCase(segment: string): string {
  const words = segment.toLowerCase().split(/[_-]+/).filter((word) => word !== '');
  return words.map((word, index) => (index === 0 ? word : `${word[0]!.toUpperCase()}${word.slice(1)}`)).join('');
}

/**
 * The variable's text as JSON. A failure says where and why but quotes none of the text, and
 * keeps no parser error as its cause: the parser's message quotes the text near the mistake, and
 * a variable may hold a secret while the error goes to a log.
 */
function parseJson(variable: string, text: string, path: readonly string[]): unknown {
  const trimmed = text.trim();
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    // Positions count from the text as written, leading spaces included.
    throw new ConfigSourceError('environment', variable, describeJsonSyntaxProblem(text, text.length - text.trimStart().length));
  }
  return toPlainCopy(parsed, path, `environment variable ${variable}`);
}

/**
 * The variable's text as the type of the value it replaces: a (finite) number for a number, a boolean
 * (true/false, 1/0, yes/no, on/off) for a boolean, JSON for an object or array, the text itself
 * for a string. With nothing to replace, JSON literals (true, false, null, numbers, objects,
 * arrays) are read as JSON and anything else stays text. Text that does not parse as the
 * expected type stays text, so the validator reports it with the variable's name.
 */
export function parseVariableValue(variable: string, text: string, current: unknown, path: readonly string[]): unknown {
  const trimmed = text.trim();
  if (typeof current === 'string') return text;
  if (typeof current === 'number') return isFiniteNumber(trimmed) ? Number(trimmed) : text;
  if (typeof current === 'boolean') {
    const word = trimmed.toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    return text;
  }
  if (Array.isArray(current) || isRecord(current)) {
    return trimmed.startsWith('{') || trimmed.startsWith('[') ? parseJson(variable, text, path) : text;
  }
  if (trimmed === 'true') return true;
  if (trimmed === 'false') return false;
  if (trimmed === 'null') return null;
  // JSON numbers only: `0755` or `+5` is text that merely looks numeric (a mode, a code).
  if (JSON_NUMBER_PATTERN.test(trimmed) && isFiniteNumber(trimmed)) return Number(trimmed);
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return parseJson(variable, text, path);
  return text;
}

/** The keys of a plain object by their normalized form, to find the one a segment names. */
type KeysByName = Map<string, string[]>;

/** The key under `node` that a variable's segment names. */
function resolveKey(variable: string, node: unknown, segment: string, path: readonly string[], keysOf: (node: Record<string, unknown>) => KeysByName): string {
  if (Array.isArray(node)) {
    if (!/^(0|[1-9][0-9]*)$/.test(segment)) throw new ConfigSourceError('environment', variable, `"${segment}" indexes an array, so it must be a number`);
    return segment;
  }
  const matches = isRecord(node) ? (keysOf(node).get(normalizeKey(segment)) ?? []) : [];
  if (matches.length > 1) {
    throw new ConfigSourceError('environment', variable, `"${segment}" matches several keys (${matches.join(', ')}); rename one of them`);
  }
  const key = matches[0] ?? camelCase(segment);
  if (key === '') throw new ConfigSourceError('environment', variable, `"${segment}" does not name a key`);
  if (isUnsafeKey(key)) throw new ConfigSecurityError('unsafe-key', [...path, key], `key "${key}" could reach a prototype (in environment variable ${variable})`);
  return key;
}

/**
 * A working copy of a config that variables are written into: each object or array is copied
 * the first time a variable writes into it (never changing the tree it started from) and
 * changed in place after that, and each object's keys are indexed by their normalized form.
 * So n variables cost about n steps, not n² (each copying, and comparing its name with every
 * key of, the object it lands in).
 */
function createWorkingCopy(base: Record<string, unknown>) {
  const owned = new WeakSet<object>();
  const keyIndexes = new WeakMap<object, KeysByName>();
  const root: Record<string, unknown> = { ...base };
  owned.add(root);

  const keysOf = (node: Record<string, unknown>): KeysByName => {
    let keys = keyIndexes.get(node);
    if (keys === undefined) {
      keys = new Map();
      for (const key of Object.keys(node)) {
        const name = normalizeKey(key);
        const same = keys.get(name);
        if (same === undefined) keys.set(name, [key]);
        else same.push(key);
      }
      keyIndexes.set(node, keys);
    }
    return keys;
  };

  const setKey = (node: Record<string, unknown>, key: string, value: unknown): void => {
    if (!Object.prototype.hasOwnProperty.call(node, key)) {
      const keys = keyIndexes.get(node);
      if (keys !== undefined) {
        const name = normalizeKey(key);
        const same = keys.get(name);
        if (same === undefined) keys.set(name, [key]);
        else same.push(key);
      }
    }
    node[key] = value;
  };

  /**
   * The child to write beneath, owned: a copy of an object or array met for the first time, a
   * new object for a missing key or a null (a config's "no value", which takes keys as a missing
   * one does), else an error naming the scalar in the way.
   */
  const ownChild = (variable: string, path: readonly string[], depth: number, child: unknown): unknown[] | Record<string, unknown> => {
    if (child === undefined || child === null) {
      const created: Record<string, unknown> = {};
      owned.add(created);
      return created;
    }
    if (Array.isArray(child) || isRecord(child)) {
      if (owned.has(child)) return child;
      const copy = Array.isArray(child) ? child.slice() : { ...child };
      owned.add(copy);
      return copy;
    }
    throw new ConfigSourceError('environment', variable, `${path.slice(0, depth).join('.')} is not an object, so ${path[depth]!} cannot be set inside it`);
  };

  /** Writes `value` at `path`, creating missing objects on the way. */
  const assign = (variable: string, path: readonly string[], value: unknown): void => {
    let node: unknown[] | Record<string, unknown> = root;
    for (let depth = 0; depth < path.length; depth += 1) {
      const key = path[depth]!;
      const last = depth === path.length - 1;
      if (Array.isArray(node)) {
        const index = Number(key);
        if (index > node.length) throw new ConfigSourceError('environment', variable, `index ${key} is past the end of the array at ${path.slice(0, depth).join('.')}`);
        if (last) node[index] = value;
        else node = node[index] = ownChild(variable, path, depth + 1, node[index]);
      } else if (last) {
        setKey(node, key, value);
      } else {
        // Own properties only: `valueOf` of a plain object is Object.prototype's function, not a child.
        const child = childOf(node, key);
        const next = ownChild(variable, path, depth + 1, child === ABSENT ? undefined : child);
        setKey(node, key, next);
        node = next;
      }
    }
  };

  return { root, keysOf, assign };
}

const INDEX = /^(0|[1-9][0-9]*)$/;

/** Orders two variables' key paths segment by segment: numerically where both are indexes, else by text. */
function compareSegments(left: readonly string[], right: readonly string[]): number {
  for (let index = 0; index < Math.min(left.length, right.length); index += 1) {
    const a = left[index]!;
    const b = right[index]!;
    if (a === b) continue;
    if (INDEX.test(a) && INDEX.test(b)) return Number(a) - Number(b);
    return a < b ? -1 : 1;
  }
  return left.length - right.length;
}

/** An object whose own keys are variable names, as process.env is: not an array or a Map, whose entries are not keys. */
function isVariableTable(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Map);
}

/**
 * Reads the variables under `options.prefix` and applies them over `base` (which is not
 * changed). Shallower paths apply before deeper ones, then by name, so the result does not
 * depend on the environment's order.
 */
export function applyEnvironment(
  base: Record<string, unknown>,
  options: EnvironmentSourceOptions,
): { readonly config: Record<string, unknown>; readonly assignments: readonly EnvironmentAssignment[] } {
  // The options come from JavaScript callers too, so their types are checked before anything is
  // read: a wrong one would otherwise surface as a TypeError from deep inside, or be misread.
  if (typeof options !== 'object' || options === null) {
    throw new ConfigSourceError('environment', '*', `the environment source must be an object such as { prefix: 'FOUNDATION' }, not ${describeKind(options)}`);
  }
  const { prefix, separator = '__' } = options;
  if (typeof prefix !== 'string' || prefix === '') throw new ConfigSourceError('environment', String(prefix), 'the prefix must be a non-empty string');
  if (typeof separator !== 'string' || separator === '') throw new ConfigSourceError('environment', prefix, 'the separator must be a non-empty string');
  if (options.variables !== undefined && !isVariableTable(options.variables)) {
    throw new ConfigSourceError('environment', `${prefix}*`, `variables must be an object of names to strings, as process.env is, not ${describeKind(options.variables)}`);
  }
  const variables: Readonly<Record<string, unknown>> = options.variables ?? process.env;
  const upperPrefix = prefix.toUpperCase();
  const candidates: { variable: string; text: string; segments: string[] }[] = [];
  for (const variable of Object.keys(variables)) {
    const text = variables[variable];
    if (text === undefined || !variable.toUpperCase().startsWith(upperPrefix)) continue;
    // Only variables under the prefix are read, so only they must be text (the value itself is
    // not shown: it may be a secret).
    if (typeof text !== 'string') throw new ConfigSourceError('environment', variable, `must be a string (or undefined), not ${describeKind(text)}`);
    // FOUNDATION_DEV matches the prefix FOUNDATION or FOUNDATION_; FOUNDATIONS_DEV matches neither.
    let rest = variable.slice(prefix.length);
    if (!prefix.endsWith('_')) {
      if (!rest.startsWith('_')) continue;
      rest = rest.slice(1);
    }
    if (rest === '') continue;
    if (Buffer.byteLength(text, 'utf8') > MAX_VARIABLE_BYTES) {
      throw new ConfigSourceError('environment', variable, `is longer than ${MAX_VARIABLE_BYTES} bytes`);
    }
    const segments = rest.split(separator);
    if (segments.some((segment) => segment === '')) throw new ConfigSourceError('environment', variable, `has an empty key between "${separator}" separators`);
    // A path no config path could name: unreadable, and (thousands of keys deep) past the stack.
    if (segments.length > MAX_SEGMENTS) throw new ConfigSourceError('environment', variable, `names ${segments.length} nested keys, more than the ${MAX_SEGMENTS} a config path may have`);
    if (segments.some((segment) => segment.length > MAX_SEGMENT_LENGTH)) {
      throw new ConfigSourceError('environment', variable, `has a key longer than the ${MAX_SEGMENT_LENGTH} characters a config path allows`);
    }
    candidates.push({ variable, text, segments });
  }
  // Shallow paths first; then key by key, indexes by number, so that HOSTS__2 comes before
  // HOSTS__10 and an array grows one element at a time.
  candidates.sort((a, b) => a.segments.length - b.segments.length || compareSegments(a.segments, b.segments) || (a.variable < b.variable ? -1 : a.variable > b.variable ? 1 : 0));

  const working = createWorkingCopy(base);
  const assignments: EnvironmentAssignment[] = [];
  for (const { variable, text, segments } of candidates) {
    const path: string[] = [];
    let node: unknown = working.root;
    for (const segment of segments) {
      const key = resolveKey(variable, node, segment, path, working.keysOf);
      path.push(key);
      node = childOf(node, key);
      if (node === ABSENT) node = undefined;
    }
    const value = parseVariableValue(variable, text, node, path);
    // A name or text UTF-8 cannot hold (a Windows environment can) is refused as in JSON text.
    const keyProblem = pathKeyProblem(path, `environment variable ${variable}`);
    if (keyProblem !== undefined) throw keyProblem;
    if (typeof value === 'string') toPlainCopy(value, path, `environment variable ${variable}`);
    // A JSON object over an object merges key by key, as every layer does ("plain objects merge
    // key by key"): FOUNDATION_SERVER='{"port": 6000}' changes the port and keeps the host the
    // file gave. Arrays and scalars inside it replace, as they do between layers.
    working.assign(variable, path, isRecord(value) && isRecord(node) ? deepMerge(node, value) : value);
    const setPaths = replacedPaths(node, value).map((inside) => [...path, ...inside]);
    assignments.push({ variable, path, value, setPaths });
  }
  return { config: working.root, assignments };
}
