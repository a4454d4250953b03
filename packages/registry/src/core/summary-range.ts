// The node ids one part of an anti-entropy summary speaks for. A summary lists every origin a
// node holds, so with enough origins it is larger than a message may be, and goes out in parts
// (see `encodeSummaries`). Each part speaks for a range of node ids: an id in the range that the
// part does not list is one the sender does not hold, and an id outside it is one the part says
// nothing about, so a receiver must not send its whole state back for it.

/** The node ids above `after` and up to `through` (in string order); an end is open when undefined. */
export interface SummaryRange {
  readonly after: string | undefined;
  readonly through: string | undefined;
}

/** True when `node` is one of the ids `range` speaks for (every id when there is no range). */
export function inRange(node: string, range: SummaryRange | undefined): boolean {
  if (range === undefined) return true;
  return (range.after === undefined || node > range.after) && (range.through === undefined || node <= range.through);
}
