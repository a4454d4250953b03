// After the faults: the live nodes' memberships agree on the topology and link them all again
// (in a full mesh every node sees every other; in HyParView or client-server, whose views are
// partial by design, the views are symmetric, name only live nodes and join them into one
// overlay), and every node's registry holds the same state (equal digests), each within a bound.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster } from '../cluster/cluster';
import type { CheckOutcome } from './outcome';

export interface Poll<T> {
  readonly converged: boolean;
  readonly afterMs: number;
  readonly last: T;
}

/** Polls until `done` or until `boundMs` after `since` (a performance.now() time: when the faults stopped). */
export async function pollUntil<T>(probe: () => Promise<T>, done: (value: T) => boolean, since: number, boundMs: number, signal: AbortSignal): Promise<Poll<T>> {
  for (;;) {
    const value = await probe();
    const afterMs = performance.now() - since;
    if (done(value)) return { converged: true, afterMs, last: value };
    if (afterMs > boundMs) return { converged: false, afterMs, last: value };
    await sleep(200, undefined, { signal });
  }
}

/** Asks every live node `op` at once (2 s each); node name → its answer, or the error asking it. */
export async function ask<T>(cluster: Cluster, op: string): Promise<Map<string, T | Error>> {
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

/** What one live node reported: its topology mode and its membership's members (node ids), or the error asking it. */
export interface MembershipView {
  readonly mode: string | Error;
  readonly members: readonly string[] | Error;
}

/**
 * Whether the views of the live nodes (name → view; `live`: every live node's name and id) show a
 * converged membership: every live node answered and all run one mode; in a full mesh each sees
 * every other live node; otherwise the views name live nodes only, are symmetric (a sees b when b
 * sees a) and join every live node into one overlay. A cluster of 10 nodes or more runs HyParView,
 * whose active view holds 5: the full-mesh rule failed there with every overlay healthy.
 */
export function membershipConverged(views: ReadonlyMap<string, MembershipView>, live: readonly { readonly name: string; readonly id: string }[]): boolean {
  if (live.length === 0) return true;
  const byId = new Map<string, readonly string[]>();
  const modes = new Set<string>();
  for (const node of live) {
    const view = views.get(node.name);
    if (view === undefined || view.mode instanceof Error || view.members instanceof Error) return false;
    modes.add(view.mode);
    byId.set(node.id, view.members);
  }
  if (modes.size !== 1) return false;
  if (modes.has('full-mesh')) {
    return live.every((node) => {
      const expected = live.filter((other) => other.id !== node.id).map((other) => other.id).sort();
      return JSON.stringify([...byId.get(node.id)!].sort()) === JSON.stringify(expected);
    });
  }
  for (const [id, members] of byId) {
    for (const member of members) {
      const back = byId.get(member);
      if (back === undefined || member === id || !back.includes(id)) return false;
    }
  }
  const reached = new Set([live[0]!.id]);
  const queue = [live[0]!.id];
  while (queue.length > 0) {
    for (const member of byId.get(queue.pop()!)!) {
      if (reached.has(member)) continue;
      reached.add(member);
      queue.push(member);
    }
  }
  return reached.size === live.length;
}

export async function checkMembership(cluster: Cluster, faultsEndedAt: number, boundMs: number, signal: AbortSignal): Promise<CheckOutcome> {
  const name = 'membership re-converged';
  const probe = async (): Promise<Map<string, MembershipView>> => {
    const [modes, members] = await Promise.all([ask<string>(cluster, 'topology'), ask<string[]>(cluster, 'members')]);
    return new Map([...members].map(([node, view]) => [node, { mode: modes.get(node) ?? new Error('no answer'), members: view }]));
  };
  const poll = await pollUntil(
    probe,
    (views) => views.size === cluster.nodes.length && membershipConverged(views, cluster.live().map((node) => ({ name: node.name, id: node.id }))),
    faultsEndedAt,
    boundMs,
    signal,
  );
  const describe = ({ mode, members }: MembershipView): string =>
    `${mode instanceof Error ? `(error: ${mode.message})` : mode} sees ${members instanceof Error ? `(error: ${members.message})` : members.map((id) => shortName(cluster, id)).sort().join(',')}`;
  const details = [...poll.last].map(([node, view]) => `${node} ${describe(view)}`);
  if (cluster.live().length !== cluster.nodes.length) details.unshift(`only ${cluster.live().map((node) => node.name).join(',')} are live`);
  const mode = [...poll.last.values()][0]?.mode;
  const shape = mode === 'full-mesh' ? 'see each other' : `form one overlay (${mode instanceof Error ? 'unknown topology' : String(mode)}: symmetric views, one component)`;
  return poll.converged
    ? { name, status: 'pass', summary: `all ${poll.last.size} live nodes ${shape}; seen ${Math.round(poll.afterMs)} ms after the faults stopped (bound ${boundMs} ms)`, details }
    : { name, status: 'fail', summary: `not converged ${Math.round(poll.afterMs)} ms after the faults stopped (bound ${boundMs} ms)`, details };
}

/** What one node answered about the chaos workers: its own registration's id and the ids of every instance its registry lists. */
export interface WorkerListing {
  /** Null when the node's own registration is gone. */
  readonly own: string | null;
  readonly listed: readonly string[];
}

/**
 * What is wrong with the registry's content (node name → its listing, or the error asking it):
 * every node must list exactly the workers the nodes registered in their current lives, each
 * once. Equal digests show only that the nodes agree: a killed incarnation's worker still listed
 * everywhere, or every node missing one, leaves them equal. Empty when it is right.
 */
export function registryWorkerProblems(listings: ReadonlyMap<string, WorkerListing | Error>): string[] {
  const problems: string[] = [];
  const expected = new Set<string>();
  for (const [node, listing] of listings) {
    if (listing instanceof Error) problems.push(`${node}: (error: ${listing.message})`);
    else if (listing.own === null) problems.push(`${node}'s own worker registration is gone`);
    else expected.add(listing.own);
  }
  for (const [node, listing] of listings) {
    if (listing instanceof Error) continue;
    const listed = new Set(listing.listed);
    const missing = [...expected].filter((id) => !listed.has(id)).sort();
    const extra = [...listed].filter((id) => !expected.has(id)).sort();
    const twice = listing.listed.length - listed.size;
    if (missing.length > 0) problems.push(`${node} does not list ${missing.join(', ')}`);
    if (extra.length > 0) problems.push(`${node} lists ${extra.join(', ')}, which no live node registered in its current life`);
    if (twice > 0) problems.push(`${node} lists ${twice} workers twice`);
  }
  return problems;
}

export async function checkRegistryDigests(cluster: Cluster, faultsEndedAt: number, boundMs: number, signal: AbortSignal): Promise<CheckOutcome> {
  const name = 'registry digests equal';
  const probe = async (): Promise<{ digests: Map<string, string | Error>; problems: string[] }> => {
    const [digests, workers] = await Promise.all([ask<string>(cluster, 'digest'), ask<WorkerListing>(cluster, 'workers')]);
    return { digests, problems: registryWorkerProblems(workers) };
  };
  const equal = (digests: ReadonlyMap<string, string | Error>): boolean => [...digests.values()].every((digest) => typeof digest === 'string' && digest === [...digests.values()][0]);
  const poll = await pollUntil(probe, ({ digests, problems }) => digests.size === cluster.nodes.length && equal(digests) && problems.length === 0, faultsEndedAt, boundMs, signal);
  const { digests, problems } = poll.last;
  const details = [...[...digests].map(([node, digest]) => `${node} ${digest instanceof Error ? `(error: ${digest.message})` : digest}`), ...problems];
  const seen = `${Math.round(poll.afterMs)} ms after the faults stopped (bound ${boundMs} ms)`;
  if (poll.converged) return { name, status: 'pass', summary: `${String([...digests.values()][0])} on all ${digests.size} nodes, each listing the ${digests.size} live workers; seen ${seen}`, details };
  const why = !equal(digests) ? 'digests still differ' : digests.size !== cluster.nodes.length ? `only ${digests.size} of ${cluster.nodes.length} nodes are live` : `digests equal, but ${problems[0] ?? 'the workers listed are wrong'}`;
  return { name, status: 'fail', summary: `${why} ${seen}`, details };
}
