// Discovery criteria: what callers write, checked once and compiled into a matcher. The same
// compiled form serves `discover`, `route` and `watch`.
import { InvalidNameError } from '../errors/invalid-name-error';
import { RegistryValidationError } from '../errors/registry-validation-error';
import type { VersionRange } from '../semver/range';
import { parseRange } from '../semver/range';
import type { SemVer } from '../semver/version';
import type { RegistryLimits } from './limits';
import type { NameKind } from '../errors/invalid-name-error';
import { checkName, nodeIdProblem } from './names';
import { PlainJsonProblem, copyPlainJson, plainJsonEqual } from './plain-json';
import type { HealthStatus, RegistrationScope, ServiceInstance } from './types';
import { HEALTH_STATUSES } from './types';

export interface DiscoveryCriteria {
  /** Only instances registered under this name. */
  readonly name?: string;
  /** All of these capabilities (the 2.0 rule: a service matches when it has all requested). */
  readonly capabilities?: readonly string[];
  /** At least one of these capabilities. */
  readonly anyCapabilities?: readonly string[];
  readonly serviceType?: string;
  /** A semantic version range (`^1.2.0`, `>=2 <3 || 4.x`); instances without a version do not match. */
  readonly version?: string;
  /** Sub-match: every key given must be present with an equal value (objects match recursively, arrays exactly). */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** Health to accept: one status, several, or `any`. Default `healthy`. */
  readonly health?: HealthStatus | readonly HealthStatus[] | 'any';
  /** Only instances on this node (or these nodes). */
  readonly node?: string | readonly string[];
  readonly zone?: string;
  /** `cluster` (CRDT) or `global` (consensus) registrations only. Default both. */
  readonly scope?: RegistrationScope;
}

/** Criteria, checked and ready to match. */
export interface CompiledCriteria {
  readonly name: string | undefined;
  readonly capabilities: readonly string[];
  readonly anyCapabilities: readonly string[];
  readonly serviceType: string | undefined;
  readonly range: VersionRange | undefined;
  readonly metadata: Readonly<Record<string, unknown>> | undefined;
  /** Bit set over HEALTH_STATUSES; 7 = any. */
  readonly healthMask: number;
  readonly nodes: readonly string[] | undefined;
  readonly zone: string | undefined;
  readonly scope: RegistrationScope | undefined;
  /** Whether `health` was given (routing falls back to degraded instances only when it was not). */
  readonly healthGiven: boolean;
  /** A stable text form, used to key round-robin counters (computed on first use). */
  readonly key: string;
}

class Compiled implements CompiledCriteria {
  private text: string | undefined;

  constructor(
    readonly name: string | undefined,
    readonly capabilities: readonly string[],
    readonly anyCapabilities: readonly string[],
    readonly serviceType: string | undefined,
    readonly range: VersionRange | undefined,
    readonly metadata: Readonly<Record<string, unknown>> | undefined,
    readonly healthMask: number,
    readonly nodes: readonly string[] | undefined,
    readonly zone: string | undefined,
    readonly scope: RegistrationScope | undefined,
    readonly healthGiven: boolean,
  ) {}

  get key(): string {
    this.text ??= JSON.stringify([this.name, this.capabilities, this.anyCapabilities, this.serviceType, this.range?.raw, this.metadata, this.healthMask, this.nodes, this.zone, this.scope]);
    return this.text;
  }
}

/** The same criteria accepting other health statuses (routing's fallback to degraded instances). */
export function withHealth(criteria: CompiledCriteria, healthMask: number): CompiledCriteria {
  return new Compiled(
    criteria.name,
    criteria.capabilities,
    criteria.anyCapabilities,
    criteria.serviceType,
    criteria.range,
    criteria.metadata,
    healthMask,
    criteria.nodes,
    criteria.zone,
    criteria.scope,
    criteria.healthGiven,
  );
}

const HEALTH_BITS: Record<HealthStatus, number> = { healthy: 1, degraded: 2, unhealthy: 4 };

export function healthBit(status: HealthStatus): number {
  return HEALTH_BITS[status];
}

const CRITERIA_KEYS = new Set(['name', 'capabilities', 'anyCapabilities', 'serviceType', 'version', 'metadata', 'health', 'node', 'zone', 'scope']);

/** Parsed ranges are cached: discovery by the same range should not reparse it. */
const rangeCache = new Map<string, VersionRange>();
const RANGE_CACHE_SIZE = 512;

function cachedRange(text: string): VersionRange {
  let range = rangeCache.get(text);
  if (range === undefined) {
    range = parseRange(text);
    if (rangeCache.size >= RANGE_CACHE_SIZE) rangeCache.delete(rangeCache.keys().next().value!);
    rangeCache.set(text, range);
  }
  return range;
}

const NONE: readonly string[] = Object.freeze([]);

/**
 * A list criterion may not be empty, whatever the field: an empty any-of list (`anyCapabilities`,
 * `health`, `node`) matches nothing, and an empty all-of list (`capabilities`) everything, and
 * either is almost always a list that came out empty by mistake (a `route` by it went to any
 * service at all). Leaving the field out is how a caller says "no filter".
 */
function nonEmpty(list: readonly unknown[], field: string, expected: string, instead = `leave ${field} out to not filter on it`): void {
  if (list.length === 0) throw new RegistryValidationError(field, `expected ${expected}, got an empty list (${instead})`);
}

function nameList(kind: NameKind, value: unknown, field: string, limits: RegistryLimits): string[] {
  if (!Array.isArray(value)) throw new RegistryValidationError(field, 'expected an array of capabilities');
  nonEmpty(value, field, 'at least one capability');
  if (value.length > limits.maxCapabilities) {
    throw new RegistryValidationError(field, `more than ${limits.maxCapabilities} capabilities`, { limit: limits.maxCapabilities, actual: value.length });
  }
  const result: string[] = [];
  for (const item of value as unknown[]) {
    const name = checkName(kind, item, limits.maxCapabilityLength);
    if (!result.includes(name)) result.push(name);
  }
  return result;
}

/** Checks and compiles criteria; throws InvalidNameError (3204), RegistryValidationError (3203) or InvalidVersionRangeError (5603). */
export function compileCriteria(criteria: DiscoveryCriteria | undefined, limits: RegistryLimits): CompiledCriteria {
  const given: DiscoveryCriteria = criteria ?? {};
  if (typeof given !== 'object' || given === null) throw new RegistryValidationError('criteria', 'expected an object');
  for (const key in given) {
    if (Object.prototype.hasOwnProperty.call(given, key) && !CRITERIA_KEYS.has(key)) throw new RegistryValidationError('criteria', `unknown criterion "${key}"`);
  }
  const name = given.name === undefined ? undefined : checkName('service name', given.name, limits.maxNameLength);
  const capabilities = given.capabilities === undefined ? NONE : nameList('capability', given.capabilities, 'capabilities', limits);
  const anyCapabilities = given.anyCapabilities === undefined ? NONE : nameList('capability', given.anyCapabilities, 'anyCapabilities', limits);
  const serviceType = given.serviceType === undefined ? undefined : checkName('service type', given.serviceType, limits.maxNameLength);
  const zone = given.zone === undefined ? undefined : checkName('zone', given.zone, limits.maxNameLength);
  const range = given.version === undefined ? undefined : cachedRange(given.version);
  let metadata: Readonly<Record<string, unknown>> | undefined;
  if (given.metadata !== undefined) {
    try {
      const copy = copyPlainJson(given.metadata, 'metadata', 10_000);
      if (typeof copy !== 'object' || copy === null || Array.isArray(copy)) throw new PlainJsonProblem('metadata', 'expected an object');
      metadata = copy as Record<string, unknown>;
    } catch (error) {
      if (error instanceof PlainJsonProblem) throw new RegistryValidationError(error.path, error.reason);
      throw error;
    }
  }
  let healthMask = HEALTH_BITS.healthy;
  const health = given.health;
  if (health !== undefined) {
    if (health === 'any') healthMask = 7;
    else {
      const list = typeof health === 'string' ? [health] : health;
      if (!Array.isArray(list)) throw new RegistryValidationError('health', 'expected a status, a non-empty list of statuses or "any"');
      nonEmpty(list, 'health', 'a status, a non-empty list of statuses or "any"', '"any" accepts every status');
      healthMask = 0;
      for (const status of list as unknown[]) {
        if (!HEALTH_STATUSES.includes(status as HealthStatus)) throw new RegistryValidationError('health', `unknown status ${JSON.stringify(status)}`);
        healthMask |= HEALTH_BITS[status as HealthStatus];
      }
    }
  }
  let nodes: string[] | undefined;
  if (given.node !== undefined) {
    const list = typeof given.node === 'string' ? [given.node] : given.node;
    if (!Array.isArray(list)) throw new RegistryValidationError('node', 'expected a node id or a list of them');
    nonEmpty(list, 'node', 'a node id or a non-empty list of them');
    nodes = list.map((node: unknown) => {
      const problem = nodeIdProblem(node);
      if (problem !== undefined) throw new InvalidNameError('node id', node, problem);
      return node as string;
    });
  }
  const scope = given.scope;
  if (scope !== undefined && scope !== 'cluster' && scope !== 'global') throw new RegistryValidationError('scope', 'expected "cluster" or "global"');
  return new Compiled(name, capabilities, anyCapabilities, serviceType, range, metadata, healthMask, nodes, zone, scope, health !== undefined);
}

/** Sub-match: every key of `expected` matches in `actual`; objects recursively, arrays and primitives exactly. */
export function metadataMatches(actual: unknown, expected: unknown): boolean {
  if (expected === null || typeof expected !== 'object') return actual === expected;
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return false;
    for (let index = 0; index < expected.length; index += 1) if (!plainJsonEqual(actual[index], expected[index])) return false;
    return true;
  }
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
  const record = actual as Record<string, unknown>;
  for (const key of Object.keys(expected)) {
    if (!Object.prototype.hasOwnProperty.call(record, key)) return false;
    if (!metadataMatches(record[key], (expected as Record<string, unknown>)[key])) return false;
  }
  return true;
}

/** `list.includes(value)` as a plain loop: `includes` has no fast path for frozen arrays. */
function contains(list: readonly string[], value: string): boolean {
  for (let index = 0; index < list.length; index += 1) if (list[index] === value) return true;
  return false;
}

/**
 * Whether `instance` matches the criteria. `version` is the instance's parsed version (null
 * when it has none); `allOfChecked` skips the all-of capabilities an index already checked.
 */
export function matches(criteria: CompiledCriteria, instance: ServiceInstance, version: SemVer | null, allOfChecked = false): boolean {
  if ((criteria.healthMask & HEALTH_BITS[instance.health]) === 0) return false;
  if (criteria.name !== undefined && instance.name !== criteria.name) return false;
  if (criteria.serviceType !== undefined && instance.serviceType !== criteria.serviceType) return false;
  if (criteria.zone !== undefined && instance.zone !== criteria.zone) return false;
  if (criteria.scope !== undefined && instance.scope !== criteria.scope) return false;
  if (criteria.nodes !== undefined && !criteria.nodes.includes(instance.node)) return false;
  if (!allOfChecked) for (const capability of criteria.capabilities) if (!contains(instance.capabilities, capability)) return false;
  if (criteria.anyCapabilities.length > 0) {
    let any = false;
    for (const capability of criteria.anyCapabilities) {
      if (contains(instance.capabilities, capability)) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  if (criteria.range !== undefined && (version === null || !criteria.range.test(version))) return false;
  if (criteria.metadata !== undefined && !metadataMatches(instance.metadata, criteria.metadata)) return false;
  return true;
}
