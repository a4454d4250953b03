// Sets of whole numbers kept as sorted ranges, with a bound on how many ranges: the proposal
// numbers whose results the cluster state machine stopped keeping. A flat list
// [from, to, from, to, ...]: each range inclusive, in ascending order, with a gap of at least one
// number between one range and the next.

/** Whether `ranges` holds `value`. */
export function rangesHold(ranges: readonly number[], value: number): boolean {
  for (let at = 0; at < ranges.length; at += 2) {
    if (value < ranges[at]!) return false;
    if (value <= ranges[at + 1]!) return true;
  }
  return false;
}

/**
 * Adds `value` to `ranges`, joining the ranges it touches. Past `maxRanges`, the two lowest
 * ranges become one, and the numbers of the gap between them are held too: the set only ever
 * grows, never forgets a number it held.
 */
export function addToRanges(ranges: number[], value: number, maxRanges: number): void {
  // Numbers arrive almost in ascending order: past the last range, or just after it, is the usual case.
  let at = ranges.length;
  while (at > 0 && value < ranges[at - 2]!) at -= 2;
  // `at` is the start of the first range starting above `value` (or the end of the list).
  const before = at - 2;
  if (before >= 0 && value <= ranges[before + 1]!) return;
  const joinsBefore = before >= 0 && value === ranges[before + 1]! + 1;
  const joinsAfter = at < ranges.length && value === ranges[at]! - 1;
  if (joinsBefore && joinsAfter) ranges.splice(before + 1, 2);
  else if (joinsBefore) ranges[before + 1] = value;
  else if (joinsAfter) ranges[at] = value;
  else ranges.splice(at, 0, value, value);
  if (ranges.length > 2 * maxRanges) ranges.splice(1, 2);
}

/** Removes from `ranges` every number below `floor`. */
export function dropRangesBelow(ranges: number[], floor: number): void {
  let at = 0;
  while (at < ranges.length && ranges[at + 1]! < floor) at += 2;
  ranges.splice(0, at);
  if (ranges.length > 0 && ranges[0]! < floor) ranges[0] = floor;
}

/** Whether `value` is a list of ranges as these functions keep it, of at most `maxRanges` ranges. */
export function isRanges(value: unknown, maxRanges: number): value is number[] {
  if (!Array.isArray(value) || value.length % 2 !== 0 || value.length > 2 * maxRanges) return false;
  let previous = -2;
  for (let at = 0; at < value.length; at += 2) {
    const [from, to] = [value[at] as unknown, value[at + 1] as unknown];
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) return false;
    if ((from as number) < 0 || (from as number) <= previous + 1 || (to as number) < (from as number)) return false;
    previous = to as number;
  }
  return true;
}
