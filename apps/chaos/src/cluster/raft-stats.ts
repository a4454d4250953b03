// How many Raft snapshots the nodes took, installed from a leader (a node restarting from its own
// snapshot on disk restores it without counting it) and refused during a run. Each node process counts from its start, and a SIGKILL loses
// its counts, so they are sampled every second and kept per incarnation: the run's totals add
// the last sample of every incarnation of every node.
import type { Cluster } from './cluster';

export interface SnapshotCounts {
  readonly taken: number;
  readonly installed: number;
  readonly refused: number;
}

export interface SnapshotSummary extends SnapshotCounts {
  /** Per node, over all its incarnations. */
  readonly byNode: Readonly<Record<string, SnapshotCounts>>;
}

interface RaftNodeStats {
  readonly snapshotsTaken: number;
  readonly snapshotsInstalled: number;
  readonly snapshotsRefused: number;
}

export interface RaftStatsSampler {
  /** Takes one last sample of the live nodes and stops; resolves with the totals. */
  stop(): Promise<SnapshotSummary>;
}

export function startRaftStatsSampler(cluster: Cluster, intervalMs = 1_000): RaftStatsSampler {
  /** `node#incarnation` → its latest counts. */
  const latest = new Map<string, { node: string; counts: SnapshotCounts }>();
  const sample = async (): Promise<void> => {
    await Promise.all(
      cluster.live().map(async (node) => {
        const incarnation = node.incarnation;
        try {
          const stats = await node.call<RaftNodeStats>('raft-stats', [], 2_000);
          latest.set(`${node.name}#${incarnation}`, { node: node.name, counts: { taken: stats.snapshotsTaken, installed: stats.snapshotsInstalled, refused: stats.snapshotsRefused } });
        } catch {
          // Paused, killed or partitioned from nothing (IPC): the next sample, or the last one kept.
        }
      }),
    );
  };
  let running = true;
  let current: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    if (running) current = current.then(sample);
  }, intervalMs);
  return {
    async stop() {
      running = false;
      clearInterval(timer);
      await current;
      await sample();
      const byNode: Record<string, { taken: number; installed: number; refused: number }> = {};
      for (const { node, counts } of latest.values()) {
        const total = (byNode[node] ??= { taken: 0, installed: 0, refused: 0 });
        total.taken += counts.taken;
        total.installed += counts.installed;
        total.refused += counts.refused;
      }
      const sum = (key: keyof SnapshotCounts): number => Object.values(byNode).reduce((total, counts) => total + counts[key], 0);
      return { taken: sum('taken'), installed: sum('installed'), refused: sum('refused'), byNode };
    },
  };
}
