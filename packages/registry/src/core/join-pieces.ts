// The pieces of one origin's key-listed delta that arrive in one message, joined again before
// they are merged.
//
// A delta with a key list removes every entry of its origin that its covered revisions hold and
// its keys leave out, so merging one looks at all of the origin's entries. `encodeDeltas` splits
// a delta too large for one message into pieces by revision, each with the keys and the covers
// of its own revisions, and two or more pieces can share a message. Merged one by one, a message
// of many such deltas naming one origin costs the origin's size once per delta: 32,769 of them
// in 2.7 MB, against an origin of 100,000 entries, took 82 s. Joined, they cost it once.
//
// Joining is what the encoder undid: the pieces of one delta carry disjoint slices of its covers,
// each with the keys in its slice, so their union is the delta itself, and it leaves the state
// the delta leaves. Refusing a second piece instead would drop honest changes.

import { InvalidPeerMessageError } from '../errors/invalid-peer-message-error';
import type { Interval } from './causal-context';
import { MAX_CLOUD_INTERVALS } from './limits';
import type { OriginDelta } from './replica';

export interface JoinedDeltas {
  /** The message's deltas, those with a key list joined per origin, incarnation and life id. */
  readonly origins: OriginDelta[];
  /** One refusal per origin whose joined deltas cover too scattered a history (nothing of them is kept). */
  readonly rejected: InvalidPeerMessageError[];
}

/**
 * `origins` with every delta that carries a key list joined with the others of the same origin,
 * incarnation and life id, in the place of the first: covers, entries, removals and keys, each
 * in the order they came. Deltas without a key list are left as they are, one by one: they cost
 * their own size, and each is refused alone when it breaks a bound.
 *
 * Joined covers are sorted and made disjoint, so that checking an entry against them stays
 * cheap. A sender's covers are its context, at most MAX_CLOUD_INTERVALS intervals above one
 * prefix; more than that in joined deltas come from no honest sender, and they are refused.
 */
export function joinPieces(origins: readonly OriginDelta[], peer: string): JoinedDeltas {
  const groups = new Map<string, OriginDelta[]>();
  for (const delta of origins) {
    if (delta.keys === undefined) continue;
    const key = groupKey(delta);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [delta]);
    else group.push(delta);
  }
  const joined: OriginDelta[] = [];
  const rejected: InvalidPeerMessageError[] = [];
  for (const delta of origins) {
    if (delta.keys === undefined) {
      joined.push(delta);
      continue;
    }
    const key = groupKey(delta);
    const group = groups.get(key);
    // Taken at its first delta; the others are in it.
    if (group === undefined) continue;
    groups.delete(key);
    if (group.length === 1) {
      joined.push(delta);
      continue;
    }
    const covers = disjoint(group.flatMap((piece) => piece.covers));
    if (covers.length > MAX_CLOUD_INTERVALS + 1) {
      rejected.push(new InvalidPeerMessageError(peer, 'origins', `the ${group.length} deltas of node "${delta.node}" cover more than ${MAX_CLOUD_INTERVALS + 1} separate ranges of revisions`));
      continue;
    }
    joined.push({
      ...delta,
      covers,
      entries: group.flatMap((piece) => piece.entries),
      removed: group.flatMap((piece) => piece.removed),
      keys: group.flatMap((piece) => piece.keys ?? []),
    });
  }
  return { origins: joined, rejected };
}

/** Deltas of one origin, incarnation and life id (none is a value of its own) join. */
function groupKey(delta: OriginDelta): string {
  return JSON.stringify([delta.node, delta.incarnation, delta.life ?? null]);
}

/** The revisions `intervals` cover, as sorted intervals that neither overlap nor touch. */
function disjoint(intervals: readonly Interval[]): Interval[] {
  const sorted = [...intervals].sort((left, right) => left.low - right.low);
  const result: Interval[] = [];
  for (const interval of sorted) {
    const last = result[result.length - 1];
    if (last !== undefined && interval.low <= last.high + 1) {
      if (interval.high > last.high) result[result.length - 1] = { low: last.low, high: interval.high };
    } else result.push(interval);
  }
  return result;
}
