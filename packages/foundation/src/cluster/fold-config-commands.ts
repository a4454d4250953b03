// A run of cluster-wide config sets, as the fewest assignments that leave a config as applying
// them one by one leaves it. A restored snapshot hands the config stream's retained commands
// over again, in log order; set one by one onto a config that already holds most of them, a
// command for `limits` older than one for `limits.rate` would show `limits.rate`'s old value to
// subscribers before the next command put the current one back. Folded, each part of the config
// is written once, with its final value, and subscribers hear only what really changes.
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

const isPrefix = (prefix: readonly string[], path: readonly string[]): boolean => prefix.length <= path.length && prefix.every((key, position) => path[position] === key);

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

/**
 * Folds `commands` (in log order): a command at a path at or above an earlier one's replaces
 * it; a command below an earlier one's is written into that one's value. What remains sets
 * disjoint paths, each once.
 */
export function foldConfigCommands(commands: readonly ConfigAssignment[]): FoldedConfigCommands {
  let assignments: ConfigAssignment[] = [];
  let refused: ConfigAssignment[] = [];
  for (const command of commands) {
    assignments = assignments.filter((earlier) => !isPrefix(command.path, earlier.path));
    refused = refused.filter((earlier) => !isPrefix(command.path, earlier.path));
    const position = assignments.findIndex((earlier) => isPrefix(earlier.path, command.path));
    if (position === -1) {
      assignments.push(command);
      continue;
    }
    const above = assignments[position]!;
    const written = setAt(above.value, command.path.slice(above.path.length), command.value);
    if (written === undefined) refused.push(command);
    else assignments[position] = { path: above.path, value: written.value };
  }
  return { assignments, refused };
}
