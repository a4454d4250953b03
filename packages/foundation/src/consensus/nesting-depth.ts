// How deeply a decoded command nests, found without recursion: a command is hostile input, and
// a check that recursed would run out of stack on the very input it is meant to refuse.

/**
 * Whether `value` nests arrays, maps, sets and objects more than `max` levels deep (the value
 * itself is the first level; byte arrays and other primitives are none). Stops at the first
 * path that goes deeper, so the work is at most the size of the value.
 */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const pending: [unknown, number][] = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, depth] = next;
    if (typeof item !== 'object' || item === null || ArrayBuffer.isView(item)) continue;
    if (depth > max) return true;
    const children: Iterable<unknown> = Array.isArray(item) ? item : item instanceof Map ? [...item.keys(), ...item.values()] : item instanceof Set ? item : Object.values(item);
    for (const child of children) pending.push([child, depth + 1]);
  }
  return false;
}
