// The cluster-wide layer of one node's config: each value a committed config-set put there and
// the config accepted, by path. It is what a Raft snapshot keeps of the config stream. Commands
// alone could not stand for it: what a command does depends on what came before it (an array
// index is the next one only after the ones below it were set; a value the schema refuses is
// refused only against the values it meets), so keeping the newest command per path, and
// replaying those, gave a restored node other values than the live ones. The values themselves,
// set ancestors first and array indices in ascending order, replay to the same config on any node
// whose layers and schema are the same.
import type { ConfigAssignment } from './fold-config-commands';

interface OverlayNode {
  readonly children: Map<string, OverlayNode>;
  /** The value set at exactly this path, if one was. */
  assigned?: { readonly value: unknown };
}

const INDEX = /^(0|[1-9][0-9]*)$/;

/**
 * An order of keys in which array indices come first, ascending, then every other key by code
 * unit. Indices are compared as decimals (by length, then by digits), so no key loses precision
 * as a number. Under an array, it is the order in which appending them one by one succeeds.
 */
export function compareKeys(first: string, second: string): number {
  const firstIsIndex = INDEX.test(first);
  const secondIsIndex = INDEX.test(second);
  if (firstIsIndex !== secondIsIndex) return firstIsIndex ? -1 : 1;
  if (firstIsIndex && first.length !== second.length) return first.length - second.length;
  return first < second ? -1 : first > second ? 1 : 0;
}

/** Paths in the order of ConfigOverlay.assignments: by compareKeys, key by key, an ancestor first. */
export function comparePaths(first: readonly string[], second: readonly string[]): number {
  for (let depth = 0; depth < Math.min(first.length, second.length); depth += 1) {
    const order = compareKeys(first[depth]!, second[depth]!);
    if (order !== 0) return order;
  }
  return first.length - second.length;
}

export class ConfigOverlay {
  private readonly root: OverlayNode = { children: new Map() };

  /** Records `value` at `path`; what was recorded at or under `path` is gone (the value replaced it). */
  set(path: readonly string[], value: unknown): void {
    let node = this.root;
    for (const key of path) {
      let child = node.children.get(key);
      if (child === undefined) {
        child = { children: new Map() };
        node.children.set(key, child);
      }
      node = child;
    }
    node.children.clear();
    node.assigned = { value };
  }

  /** Forgets what was recorded at or under `path`. */
  remove(path: readonly string[]): void {
    const chain: OverlayNode[] = [this.root];
    for (const key of path) {
      const child = chain[chain.length - 1]!.children.get(key);
      if (child === undefined) return;
      chain.push(child);
    }
    if (path.length === 0) {
      this.clear();
      return;
    }
    chain[chain.length - 2]!.children.delete(path[path.length - 1]!);
    // Nodes left holding nothing go too, so the tree stays the size of what it records.
    for (let depth = chain.length - 2; depth > 0; depth -= 1) {
      const node = chain[depth]!;
      if (node.assigned !== undefined || node.children.size > 0) break;
      chain[depth - 1]!.children.delete(path[depth - 1]!);
    }
  }

  /** What is recorded at or under `path`, in the order of `assignments`. */
  assignmentsUnder(path: readonly string[]): ConfigAssignment[] {
    let node: OverlayNode | undefined = this.root;
    for (const key of path) {
      node = node.children.get(key);
      if (node === undefined) return [];
    }
    return ConfigOverlay.collect(node, path);
  }

  /**
   * The shortest of `path` and its ancestors at which a value is recorded, or undefined when none
   * is. The whole config's value (the empty path) counts as an ancestor only with `includeRoot`,
   * and always as the empty path itself: a value under it is one of its own to the cluster
   * config, neither folded into it nor giving it back, while a change of the node's own layers
   * anywhere takes it away whole (see createClusterConfig).
   */
  outermostAssigned(path: readonly string[], options: { readonly includeRoot?: boolean } = {}): readonly string[] | undefined {
    let node: OverlayNode | undefined = this.root;
    if ((path.length === 0 || options.includeRoot === true) && node.assigned !== undefined) return [];
    for (let depth = 0; depth < path.length; depth += 1) {
      node = node.children.get(path[depth]!);
      if (node === undefined) return undefined;
      if (node.assigned !== undefined) return path.slice(0, depth + 1);
    }
    return undefined;
  }

  clear(): void {
    this.root.children.clear();
    delete this.root.assigned;
  }

  /**
   * What is recorded, in an order that sets it one by one onto the layers: a path before the
   * paths under it, and array indices ascending (so each is the next one when it is set).
   */
  assignments(): ConfigAssignment[] {
    return ConfigOverlay.collect(this.root, []);
  }

  /** What is recorded at or under `start`, whose path is `startPath`, in the order of `assignments`. */
  private static collect(start: OverlayNode, startPath: readonly string[]): ConfigAssignment[] {
    const found: ConfigAssignment[] = [];
    // Depth first without recursion: paths can be as long as a member makes them.
    const pending: [OverlayNode, readonly string[]][] = [[start, startPath]];
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      const [node, path] = next;
      if (node.assigned !== undefined) found.push({ path, value: node.assigned.value });
      const keys = [...node.children.keys()].sort(compareKeys);
      for (let position = keys.length - 1; position >= 0; position -= 1) {
        const key = keys[position]!;
        pending.push([node.children.get(key)!, [...path, key]]);
      }
    }
    return found;
  }
}
