// Integration of a shuffle exchange into the passive view (HyParView §4.5): entries that are
// this node, or already in a view, are skipped; when the passive view is full, room is made by
// dropping first the entries this node sent to the other side (they now live there), and only
// then random ones.
import type { Random } from '@foundation/core';
import type { PeerSet } from './peer-set';

export interface ShuffleViews {
  readonly self: string;
  readonly active: PeerSet;
  readonly passive: PeerSet;
  readonly random: Random;
}

/** Adds `received` to the passive view; returns the entries it added. */
export function integrateShuffle(received: readonly string[], sentAway: readonly string[], views: ShuffleViews): string[] {
  const { self, active, passive, random } = views;
  const added: string[] = [];
  if (passive.capacity === 0) return added;
  let sentIndex = 0;
  for (const node of received) {
    if (node === self || active.has(node) || passive.has(node)) continue;
    if (passive.isFull()) {
      let evicted = false;
      while (sentIndex < sentAway.length && !evicted) {
        const candidate = sentAway[sentIndex]!;
        sentIndex += 1;
        // Entries added by this very exchange stay.
        if (!added.includes(candidate)) evicted = passive.delete(candidate);
      }
      if (!evicted) {
        const victim = passive.random(random);
        if (victim === undefined) return added;
        passive.delete(victim);
      }
    }
    passive.addNew(node);
    added.push(node);
  }
  return added;
}
