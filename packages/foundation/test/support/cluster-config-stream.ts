// The config stream declared as startNode declares it, with the cluster config that keeps its
// snapshots' values, over a cluster consensus of a test.
import type { Config, ConfigCommand } from '@foundation/config';
import type { FoundationError } from '@foundation/core';
import { createClusterConfig } from '../../src/cluster/cluster-config';
import type { ClusterConfig, ClusterConfigRules } from '../../src/cluster/cluster-config';
import type { ClusterConsensus } from '../../src/consensus/cluster-consensus';

/** With `rules`, writes are judged against them alone, as startNode has it; without, against `config`. */
export function attachClusterConfig<T>(consensus: Pick<ClusterConsensus, 'log'>, config: Config<T>, report: (error: FoundationError) => void, rules?: ClusterConfigRules): ClusterConfig {
  const clusterConfig: ClusterConfig = createClusterConfig(config, consensus.log<ConfigCommand>('config', { retain: { state: () => clusterConfig.snapshotCommands() } }), report, rules);
  return clusterConfig;
}

/**
 * How a node of an earlier version retained the config stream: the newest command per path, the
 * path as JSON of its keys (a command that is not a config-set with a list of keys refused).
 */
export function olderConfigCommandKey(command: unknown): string {
  const { type, path } = (command ?? {}) as { type?: unknown; path?: unknown };
  if (type !== 'config-set' || !Array.isArray(path)) throw new TypeError('not a config-set command with a path of keys');
  return JSON.stringify(path.map(String));
}
