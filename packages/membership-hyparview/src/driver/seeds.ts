// Where a node finds the cluster: a static list, or a provider re-resolved periodically (DNS,
// see dns-seeds.ts, or anything else that returns node ids).

export interface SeedProvider {
  /** Describes the source in errors and logs. */
  readonly name: string;
  /** True when `resolve` always answers the same (a static list): it is then not re-resolved. */
  readonly fixed?: boolean;
  /** Node ids of (some of) the cluster's nodes; a synchronous answer is used at once. */
  resolve(): readonly string[] | Promise<readonly string[]>;
}

/** A fixed list of node ids. */
export function staticSeeds(nodes: readonly string[]): SeedProvider {
  const list = Object.freeze([...nodes]);
  return { name: `static(${list.length})`, fixed: true, resolve: () => list };
}

export function isSeedProvider(value: unknown): value is SeedProvider {
  return typeof value === 'object' && value !== null && typeof (value as { resolve?: unknown }).resolve === 'function';
}
