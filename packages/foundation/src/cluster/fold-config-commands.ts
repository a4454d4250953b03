// A run of cluster-wide config sets, as the fewest assignments that leave a config as applying
// them one by one leaves it. A restored snapshot hands the config stream's retained commands
// over again: the cluster-wide values in an order that sets them one by one (see
// config-overlay.ts), or, in a snapshot from an older version, the newest command per path in
// log order. Set one by one onto a config that already holds most of them, a command for
// `limits` older than one for `limits.rate` would show `limits.rate`'s old value to subscribers
// before the next command put the current one back. Folded, each part of the config is written
// once, with its final value, and subscribers hear only what really changes. Values in the
// overlay's order fold into assignments in the same order, with nothing refused.
import { isPlainObject } from '@foundation/core';

/** A value to set at a path (keys as `parsePath` returns them). */
export interface ConfigAssignment {
  readonly path: readonly string[];
  readonly value: unknown;
}

export interface FoldedConfigCommands {
  /** No path is another's or under another's; each value has every later command under it written in. */
  readonly assignments: readonly ConfigAssignment[];
  /**
   * Commands under an earlier one whose value has no place for them (a parent key missing, or
   * not an object or array): applied one by one after that earlier command, the config refuses
   * them. Set after `assignments`, they meet the same refusal.
   */
  readonly refused: readonly ConfigAssignment[];
}

function isIndex(key: string, length: number, allowAppend: boolean): boolean {
  if (!/^(0|[1-9][0-9]*)$/.test(key)) return false;
  return allowAppend ? Number(key) <= length : Number(key) < length;
}

/**
 * `root` with `value` at `path`, copied on write (the commands are the state machine's, never
 * changed), with the config's own rules: every parent must exist as a plain object or an array,
 * and only the last key may be new (for an array, the next index). Undefined where a parent is
 * missing, as the config would refuse the update.
 */
function setAt(root: unknown, path: readonly string[], value: unknown): { value: unknown } | undefined {
  if (path.length === 0) return { value };
  const [key, ...rest] = path as [string, ...string[]];
  const last = rest.length === 0;
  if (Array.isArray(root)) {
    if (!isIndex(key, root.length, last)) return undefined;
    const child = last ? { value } : setAt(root[Number(key)], rest, value);
    if (child === undefined) return undefined;
    const copy = root.slice();
    copy[Number(key)] = child.value;
    return { value: copy };
  }
  if (isPlainObject(root)) {
    if (!last && !Object.prototype.hasOwnProperty.call(root, key)) return undefined;
    const child = last ? { value } : setAt(root[key], rest, value);
    if (child === undefined) return undefined;
    // Keys come from parsePath, which refuses those that could reach a prototype.
    return { value: { ...root, [key]: child.value } };
  }
  return undefined;
}

/** Where the commands kept so far sit, by path: one node per key, from the whole config down. */
interface PathNode {
  readonly children: Map<string, PathNode>;
  /** The assignment kept at exactly this path, by its number in `kept`. */
  assignment?: number;
  /**
   * The refused command kept at exactly this path, by its number in `refused` (one at most: a
   * later command at the path replaces it, as it does an assignment).
   */
  refused?: number;
}

const pathNode = (): PathNode => ({ children: new Map() });

/**
 * Folds `commands` (in log order): a command at a path at or above an earlier one's replaces
 * it; a command below an earlier one's is written into that one's value. What remains sets
 * disjoint paths, each once. The commands kept are found through a tree of their paths, so each
 * command costs the length of its path and what it replaces, never a look at every command kept
 * (any member can set as many paths as it likes, and a restore folds them with Raft waiting).
 */
export function foldConfigCommands(commands: readonly ConfigAssignment[]): FoldedConfigCommands {
  // Numbered in the order first kept: a value written into an assignment keeps its place.
  const kept = new Map<number, ConfigAssignment>();
  const refused = new Map<number, ConfigAssignment>();
  const root = pathNode();
  let next = 0;
  /** Forgets everything kept at or under `node`. */
  const forget = (node: PathNode): void => {
    const pending = [node];
    for (let current = pending.pop(); current !== undefined; current = pending.pop()) {
      if (current.assignment !== undefined) kept.delete(current.assignment);
      if (current.refused !== undefined) refused.delete(current.refused);
      pending.push(...current.children.values());
    }
  };
  for (const command of commands) {
    const path = [...command.path];
    // The assignment above this path, if any (assignments are disjoint: at most one), and the
    // node of the path itself, if any command was kept at or under it. A node in the tree holds
    // only what is kept: what a command replaces goes with its nodes (forget).
    let above: { readonly number: number; readonly depth: number } | undefined;
    let parent: PathNode | undefined;
    let node: PathNode | undefined = root;
    for (let depth = 0; depth < path.length && node !== undefined; depth += 1) {
      if (node.assignment !== undefined) above = { number: node.assignment, depth };
      parent = node;
      node = node.children.get(path[depth]!);
    }
    // A command at or above earlier ones replaces them, refused or not.
    if (node !== undefined) {
      forget(node);
      if (parent !== undefined) parent.children.delete(path[path.length - 1]!);
      else {
        // The whole config: the root stays, emptied.
        root.children.clear();
        delete root.assignment;
        delete root.refused;
      }
    }
    const keep = (into: Map<number, ConfigAssignment>, number: number): PathNode => {
      into.set(number, command);
      let at = root;
      for (const key of path) {
        let child = at.children.get(key);
        if (child === undefined) {
          child = pathNode();
          at.children.set(key, child);
        }
        at = child;
      }
      return at;
    };
    if (above === undefined) {
      keep(kept, next).assignment = next;
      next += 1;
      continue;
    }
    const earlier = kept.get(above.number)!;
    const written = setAt(earlier.value, path.slice(above.depth), command.value);
    if (written === undefined) {
      keep(refused, next).refused = next;
      next += 1;
    } else kept.set(above.number, { path: earlier.path, value: written.value });
  }
  return { assignments: [...kept.values()], refused: [...refused.values()] };
}
