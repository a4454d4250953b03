// After the faults: every live node's membership sees every other live node, and every node's
// registry holds the same state (equal digests), each within a bound.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster } from '../cluster/cluster';
import type { CheckOutcome } from './outcome';

interface Poll<T> {
  readonly converged: boolean;
  readonly afterMs: number;
  readonly last: T;
}

/** Polls until `done` or until `boundMs` after `since` (a performance.now() time: when the faults stopped). */
async function pollUntil<T>(probe: () => Promise<T>, done: (value: T) => boolean, since: number, boundMs: number, signal: AbortSignal): Promise<Poll<T>> {
  for (;;) {
    const value = await probe();
    const afterMs = performance.now() - since;
    if (done(value)) return { converged: true, afterMs, last: value };
    if (afterMs > boundMs) return { converged: false, afterMs, last: value };
    await sleep(200, undefined, { signal });
  }
}

async function ask<T>(cluster: Cluster, op: string): Promise<Map<string, T | Error>> {
  const answers = await Promise.all(
    cluster.live().map(async (node): Promise<[string, T | Error]> => {
      try {
        return [node.name, await node.call<T>(op, [], 2_000)];
      } catch (error) {
        return [node.name, error as Error];
      }
    }),
  );
  return new Map(answers);
}

/** Node id → name, for readable views. */
function shortName(cluster: Cluster, id: string): string {
  return cluster.nodes.find((node) => node.id === id)?.name ?? id;
}

export async function checkMembership(cluster: Cluster, faultsEndedAt: number, boundMs: number, signal: AbortSignal): Promise<CheckOutcome> {
  const name = 'membership re-converged';
  const expected = (self: string): string[] =>
    cluster
      .live()
      .filter((node) => node.name !== self)
      .map((node) => node.id)
      .sort();
  const poll = await pollUntil(
    () => ask<string[]>(cluster, 'members'),
    (views) =>
      views.size === cluster.nodes.length &&
      [...views].every(([node, view]) => !(view instanceof Error) && JSON.stringify([...view].sort()) === JSON.stringify(expected(node))),
    faultsEndedAt,
    boundMs,
    signal,
  );
  const details = [...poll.last].map(([node, view]) => `${node} sees ${view instanceof Error ? `(error: ${view.message})` : view.map((id) => shortName(cluster, id)).sort().join(',')}`);
  if (cluster.live().length !== cluster.nodes.length) details.unshift(`only ${cluster.live().map((node) => node.name).join(',')} are live`);
  return poll.converged
    ? { name, status: 'pass', summary: `all ${poll.last.size} live nodes see each other; seen ${Math.round(poll.afterMs)} ms after the faults stopped (bound ${boundMs} ms)`, details }
    : { name, status: 'fail', summary: `not converged ${Math.round(poll.afterMs)} ms after the faults stopped (bound ${boundMs} ms)`, details };
}

export async function checkRegistryDigests(cluster: Cluster, faultsEndedAt: number, boundMs: number, signal: AbortSignal): Promise<CheckOutcome> {
  const name = 'registry digests equal';
  const poll = await pollUntil(
    () => ask<string>(cluster, 'digest'),
    (digests) => digests.size === cluster.nodes.length && [...digests.values()].every((digest) => typeof digest === 'string' && digest === [...digests.values()][0]),
    faultsEndedAt,
    boundMs,
    signal,
  );
  const details = [...poll.last].map(([node, digest]) => `${node} ${digest instanceof Error ? `(error: ${digest.message})` : digest}`);
  return poll.converged
    ? { name, status: 'pass', summary: `${String([...poll.last.values()][0])} on all ${poll.last.size} nodes; seen ${Math.round(poll.afterMs)} ms after the faults stopped (bound ${boundMs} ms)`, details }
    : { name, status: 'fail', summary: `digests still differ ${Math.round(poll.afterMs)} ms after the faults stopped (bound ${boundMs} ms)`, details };
}
