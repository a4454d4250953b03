// Cluster-wide configuration (2.0's set_cluster_wide / get_with_consensus): a value is set by
// committing it through the cluster's Raft group, then every node applies it to its own config,
// so subscribers everywhere hear of it. Reads with consensus wait until this node has applied
// everything committed before the read began.
import type { FoundationError } from '@foundation/core';
import { parsePath } from '@foundation/config';
import type { Config, ConfigCommand, ConfigPath } from '@foundation/config';
import type { ConsensusLog } from '../consensus/cluster-consensus';

export interface ClusterConfig {
  /** Commits `value` at `path` cluster-wide; resolves once this node has applied it. */
  setClusterWide(path: ConfigPath, value: unknown, options?: { readonly signal?: AbortSignal }): Promise<void>;
  /** The value at `path`, reflecting every cluster-wide set that completed before the call. */
  getWithConsensus(path: ConfigPath, options?: { readonly signal?: AbortSignal }): Promise<unknown>;
  /** Stops applying cluster-wide changes. */
  close(): void;
}

export function createClusterConfig<T>(config: Config<T>, log: ConsensusLog<ConfigCommand>, report: (error: FoundationError) => void): ClusterConfig {
  const waiting: { index: number; resolve: () => void }[] = [];
  const release = (applied: number): void => {
    for (let position = waiting.length - 1; position >= 0; position -= 1) {
      if (waiting[position]!.index <= applied) waiting.splice(position, 1)[0]!.resolve();
    }
  };
  const unsubscribe = log.onApplied(({ index, command }) => {
    if (command?.type === 'config-set') {
      const result = config.safeUpdate(command.path, command.value);
      if (!result.ok) report(result.error);
    }
    release(index);
  });
  const appliedUpTo = (index: number): Promise<void> => {
    if (log.appliedIndex() >= index) return Promise.resolve();
    return new Promise((resolve) => waiting.push({ index, resolve }));
  };
  return {
    async setClusterWide(path, value, options) {
      const segments = parsePath(path).map(String);
      // Every node would refuse an invalid value: refuse it here, before it reaches the log.
      const check = config.checkUpdate(segments, value);
      if (!check.ok) throw check.error;
      const index = await log.append({ type: 'config-set', path: segments, value }, options);
      await appliedUpTo(index);
    },
    async getWithConsensus(path, options) {
      const index = await log.readIndex(options);
      await appliedUpTo(index);
      return config.get(path as never);
    },
    close: unsubscribe,
  };
}
