// Where a node finds the cluster: a static list, or a provider re-resolved periodically (DNS,
// see dns-seeds.ts, or anything else that returns node ids).

export interface SeedProvider {
  /** Describes the source in errors and logs. */
  readonly name: string;
  /** True when `resolve` always answers the same (a static list): it is then not re-resolved. */
  readonly fixed?: boolean;
  /**
   * Node ids of (some of) the cluster's nodes; a synchronous answer is used at once. The
   * membership aborts `signal` when it leaves: a lookup still in flight should then stop, as
   * `createDnsSeeds`' does (whatever it answers after that is not used).
   */
  resolve(signal?: AbortSignal): readonly string[] | Promise<readonly string[]>;
}

/**
 * The seeds a node uses from an answer: each entry mapped to a node id (undefined, or anything
 * but a non-empty string, skips it), each id once, in the order given, and no more than
 * `maxSeeds` (the membership's `maxSeeds`, or `createDnsSeeds`' own). Every source goes through
 * here (a static list, a provider of one's own, DNS), so that an answer of 100,000 entries, or of
 * one address 1,000 times over, neither has the node call every one of them nor keeps them all.
 */
export function boundSeeds<T>(entries: Iterable<T>, maxSeeds: number, toNodeId: (entry: T) => string | undefined): string[] {
  const seeds = new Set<string>();
  // Checked after an id is taken: a bound below one (or NaN) would otherwise still give one, or all.
  if (!(maxSeeds >= 1)) return [];
  for (const entry of entries) {
    const id = toNodeId(entry);
    if (typeof id !== 'string' || id.length === 0) continue;
    seeds.add(id);
    if (seeds.size >= maxSeeds) break;
  }
  return [...seeds];
}

/** A fixed list of node ids. */
export function staticSeeds(nodes: readonly string[]): SeedProvider {
  const list = Object.freeze([...nodes]);
  return { name: `static(${list.length})`, fixed: true, resolve: () => list };
}

export function isSeedProvider(value: unknown): value is SeedProvider {
  return typeof value === 'object' && value !== null && typeof (value as { resolve?: unknown }).resolve === 'function';
}
