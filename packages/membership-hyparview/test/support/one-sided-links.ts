// Whether active views are symmetric in a simulated cluster, for the simulation tests.
import type { SimCluster } from '../../src/internal/sim-cluster';

/** Active-view entries `a->b` whose peer does not hold `a` back. */
export function oneSidedLinks(cluster: SimCluster): Set<string> {
  const views = cluster.activeViews();
  const pairs = new Set<string>();
  for (const [id, active] of views) for (const peer of active) if (!(views.get(peer) ?? []).includes(id)) pairs.add(`${id}->${peer}`);
  return pairs;
}

/**
 * One-sided links that last. A NEIGHBOR handshake or a DISCONNECT on the wire leaves a link
 * one-sided for a message latency or two (seed 42: an acceptance 9 ms from its requester at the
 * instant checked), so a link one-sided now must still be so 500 ms later to count.
 */
export function lastingOneSidedLinks(cluster: SimCluster): string[] {
  const now = oneSidedLinks(cluster);
  if (now.size === 0) return [];
  cluster.simulation.runFor(500);
  const later = oneSidedLinks(cluster);
  return [...now].filter((pair) => later.has(pair));
}
