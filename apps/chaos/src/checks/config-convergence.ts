// After the faults: every live node holds the same config, read from each node's own
// `config.get()` (no consensus read: the point is what each node holds, including one restored
// from a Raft snapshot). The layers are the same on every node, so the configs differ only where
// their cluster-wide values do. Polled until every live node answers with the same config at the
// same applied index, or the bound passes; a difference is reported path by path, with which
// nodes hold which value and where each node's Raft had applied to.
import { canonical } from '@foundation/testkit';
import type { Cluster } from '../cluster/cluster';
import type { RaftPosition } from '../workload/workload';
import { ask, pollUntil } from './convergence';
import type { CheckOutcome } from './outcome';

/** What one node answered: its whole config and how far its Raft had applied. */
export interface ConfigView {
  readonly config: unknown;
  readonly applied: number;
}

export interface ConfigDifference {
  /** A leaf path (`items.3`, `tuning.cap`), or `(root)`. */
  readonly path: string;
  /** Each value held there (canonical text; `(none)` where a node has nothing at that path) and the nodes holding it. */
  readonly values: readonly { readonly value: string; readonly nodes: readonly string[] }[];
}

export interface ConfigComparison {
  /** Every node answered and all hold one config. */
  readonly equal: boolean;
  /** Every node that answered had applied up to the same index. */
  readonly sameApplied: boolean;
  /** The nodes that answered, grouped by the config they hold, the largest group first. */
  readonly groups: readonly { readonly config: string; readonly nodes: readonly string[]; readonly applied: readonly number[] }[];
  readonly differences: readonly ConfigDifference[];
  /** Nodes that did not answer, with why. */
  readonly errors: readonly { readonly node: string; readonly message: string }[];
}

const NONE = '(none)';

/** Each leaf of `value` by its dotted path, in canonical text; an empty object or array is a leaf. */
export function configLeaves(value: unknown): Map<string, string> {
  const leaves = new Map<string, string>();
  const walk = (node: unknown, path: string): void => {
    const entries = Array.isArray(node) ? node.map((item, index) => [String(index), item] as const) : typeof node === 'object' && node !== null ? Object.entries(node) : null;
    if (entries === null || entries.length === 0) {
      leaves.set(path === '' ? '(root)' : path, canonical(node));
      return;
    }
    for (const [key, item] of entries) walk(item, path === '' ? key : `${path}.${key}`);
  };
  walk(value, '');
  return leaves;
}

/** Compares what the nodes answered (node name → view, or the error asking it). */
export function compareConfigs(views: ReadonlyMap<string, ConfigView | Error>): ConfigComparison {
  const errors: { node: string; message: string }[] = [];
  const byConfig = new Map<string, { config: string; nodes: string[]; applied: number[] }>();
  const leavesByNode = new Map<string, Map<string, string>>();
  const applied = new Set<number>();
  for (const [node, view] of views) {
    if (view instanceof Error) {
      errors.push({ node, message: view.message });
      continue;
    }
    const text = canonical(view.config);
    const group = byConfig.get(text) ?? { config: text, nodes: [], applied: [] };
    group.nodes.push(node);
    group.applied.push(view.applied);
    byConfig.set(text, group);
    leavesByNode.set(node, configLeaves(view.config));
    applied.add(view.applied);
  }
  const groups = [...byConfig.values()].sort((a, b) => b.nodes.length - a.nodes.length);
  const paths = [...new Set([...leavesByNode.values()].flatMap((leaves) => [...leaves.keys()]))].sort();
  const differences: ConfigDifference[] = [];
  for (const path of paths) {
    const holders = new Map<string, string[]>();
    for (const [node, leaves] of leavesByNode) {
      const value = leaves.get(path) ?? NONE;
      holders.set(value, [...(holders.get(value) ?? []), node]);
    }
    if (holders.size > 1) differences.push({ path, values: [...holders].map(([value, nodes]) => ({ value, nodes })).sort((a, b) => b.nodes.length - a.nodes.length) });
  }
  return { equal: errors.length === 0 && groups.length === 1, sameApplied: applied.size <= 1, groups, differences, errors };
}

/** The comparison as report lines: each differing path, then each group's whole config. */
export function describeConfigComparison(comparison: ConfigComparison): string[] {
  const lines: string[] = [];
  for (const difference of comparison.differences) {
    lines.push(`${difference.path}: ${difference.values.map(({ value, nodes }) => `${value} on ${nodes.join(',')}`).join('; ')}`);
  }
  for (const group of comparison.groups) lines.push(`${group.nodes.join(',')} (applied ${group.applied.join(',')}) hold ${group.config}`);
  for (const { node, message } of comparison.errors) lines.push(`${node}: (error: ${message})`);
  return lines;
}

export async function checkClusterConfig(cluster: Cluster, faultsEndedAt: number, boundMs: number, signal: AbortSignal): Promise<CheckOutcome> {
  const name = 'cluster-wide config equal';
  const probe = async (): Promise<ConfigComparison> => {
    const answers = await ask<{ config: unknown; raft: RaftPosition }>(cluster, 'config');
    return compareConfigs(new Map([...answers].map(([node, answer]) => [node, answer instanceof Error ? answer : { config: answer.config, applied: answer.raft.applied }])));
  };
  // Equal configs at one applied index: a node still applying could yet move away from the others.
  const poll = await pollUntil(probe, (comparison) => comparison.equal && comparison.sameApplied, faultsEndedAt, boundMs, signal);
  const last = poll.last;
  const details = describeConfigComparison(last);
  const answered = last.groups.reduce((sum, group) => sum + group.nodes.length, 0);
  const seen = `${Math.round(poll.afterMs)} ms after the faults stopped (bound ${boundMs} ms)`;
  if (poll.converged) return { name, status: 'pass', summary: `one config on all ${answered} live nodes, applied index ${last.groups[0]?.applied[0] ?? '?'}: ${last.groups[0]?.config ?? ''}; seen ${seen}`, details };
  if (last.equal) return { name, status: 'unknown', summary: `one config on all ${answered} live nodes, but their applied indices still differ ${seen}`, details };
  if (last.groups.length <= 1) return { name, status: 'fail', summary: `${last.errors.map((error) => error.node).join(',')} did not answer ${seen}`, details };
  const where = last.differences.map((difference) => difference.path).join(', ');
  return {
    name,
    status: 'fail',
    summary: `${last.groups.length} different configs among ${answered} live nodes${last.errors.length === 0 ? '' : ` (${last.errors.length} did not answer)`}${where === '' ? '' : ` at ${where}`}, ${seen}`,
    details,
  };
}
