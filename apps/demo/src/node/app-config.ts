// The demo application's configuration: the limits the kv workers enforce, how requests are
// routed to them, and the background traffic. Every part is updatable at runtime, cluster-wide
// (PUT /api/config/<path> → node.config.setClusterWide), and the whole config is validated on
// every change by a small Standard Schema v1 validator written here (no schema library needed).

export type Routing = 'round-robin' | 'least-loaded' | 'local-first' | 'random';

export interface DemoConfig {
  readonly kv: {
    /** Largest value a worker accepts, in bytes of its JSON text. */
    readonly maxValueBytes: number;
    /** How the HTTP handler picks a worker among those offering the `kv` capability. */
    readonly routing: Routing;
  };
  readonly traffic: {
    /** The background writer (a cluster singleton) that keeps the dashboard moving. */
    readonly enabled: boolean;
    readonly intervalMs: number;
  };
}

export const ROUTINGS: readonly Routing[] = ['round-robin', 'least-loaded', 'local-first', 'random'];

export function demoDefaults(traffic: boolean): DemoConfig {
  return { kv: { maxValueBytes: 1024, routing: 'round-robin' }, traffic: { enabled: traffic, intervalMs: 1500 } };
}

interface Issue {
  readonly message: string;
  readonly path: readonly string[];
}

function integer(value: unknown, path: string[], min: number, max: number, issues: Issue[]): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    issues.push({ message: `must be an integer from ${min} to ${max}`, path });
  }
}

/**
 * A name the config does not have is an issue: the updatable paths are whole subtrees, so
 * without this a misspelt path (`kv.maxValuebytes`) was committed cluster-wide as a new setting,
 * and any name under `kv` or `traffic` could hold a value of its own, kept for good.
 */
function unknownNames(record: Record<string, unknown>, known: readonly string[], path: string[], issues: Issue[]): void {
  const owner = path.length === 0 ? 'the config' : path.join('.');
  for (const name of Object.keys(record)) {
    if (!known.includes(name)) issues.push({ message: `is not a setting (${owner} has ${known.join(', ')})`, path: [...path, name] });
  }
}

/** Checks a whole candidate config; the issues name the path of each problem. */
export function checkDemoConfig(candidate: unknown): Issue[] {
  const issues: Issue[] = [];
  const record = (value: unknown): Record<string, unknown> | null => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null);
  const root = record(candidate);
  if (root === null) return [{ message: 'must be an object', path: [] }];
  unknownNames(root, ['kv', 'traffic'], [], issues);
  const kv = record(root.kv);
  if (kv === null) issues.push({ message: 'must be an object', path: ['kv'] });
  else {
    unknownNames(kv, ['maxValueBytes', 'routing'], ['kv'], issues);
    integer(kv.maxValueBytes, ['kv', 'maxValueBytes'], 1, 65_536, issues);
    if (!ROUTINGS.includes(kv.routing as Routing)) issues.push({ message: `must be one of ${ROUTINGS.join(', ')}`, path: ['kv', 'routing'] });
  }
  const traffic = record(root.traffic);
  if (traffic === null) issues.push({ message: 'must be an object', path: ['traffic'] });
  else {
    unknownNames(traffic, ['enabled', 'intervalMs'], ['traffic'], issues);
    if (typeof traffic.enabled !== 'boolean') issues.push({ message: 'must be true or false', path: ['traffic', 'enabled'] });
    integer(traffic.intervalMs, ['traffic', 'intervalMs'], 100, 60_000, issues);
  }
  return issues;
}

/** The validator in Standard Schema v1 form, as @foundation/config takes it. */
export const demoConfigSchema = {
  '~standard': {
    version: 1 as const,
    vendor: 'foundation-demo',
    validate(value: unknown): { value: Record<string, unknown>; issues?: undefined } | { issues: Issue[] } {
      const issues = checkDemoConfig(value);
      return issues.length === 0 ? { value: value as Record<string, unknown> } : { issues };
    },
  },
};
