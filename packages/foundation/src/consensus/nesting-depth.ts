// How deeply a decoded command nests, found without recursion: a command is hostile input, and
// a check that recursed would run out of stack on the very input it is meant to refuse.

/**
 * Whether `value` nests arrays, maps, sets and objects more than `max` levels deep (the value
 * itself is the first level; byte arrays and other primitives are none). Stops at the first
 * path that goes deeper, so the work is at most the size of the value.
 */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  if (!nests(value)) return false;
  // Containers still to look into, with their depths beside them: leaves are never queued, and
  // no pair is built per value (this runs on every command every replica applies).
  const items: object[] = [value];
  const depths: number[] = [1];
  for (let item = items.pop(); item !== undefined; item = items.pop()) {
    const depth = depths.pop()!;
    if (depth > max) return true;
    const children: Iterable<unknown> = Array.isArray(item) ? item : item instanceof Map ? [...item.keys(), ...item.values()] : item instanceof Set ? item : Object.values(item);
    for (const child of children) {
      if (!nests(child)) continue;
      items.push(child);
      depths.push(depth + 1);
    }
  }
  return false;
}

/** Whether `value` is a level of its own: an array, map, set or object, not a byte array. */
function nests(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !ArrayBuffer.isView(value);
}
