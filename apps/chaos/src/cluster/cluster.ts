// The cluster under test: one ChaosNode per lab host, the first `voters` of them Raft voters,
// every node seeded with all the others (so any of them, restarted, finds the cluster again).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NetworkLab } from '../lab/network-lab';
import { ChaosNode, appDirectory } from './node-process';

export interface ClusterOptions {
  readonly lab: NetworkLab;
  /** How many nodes (the first ones) vote in Raft. */
  readonly voters: number;
  readonly port: number;
  readonly timing: 'local' | 'lan';
  readonly topology: 'auto' | 'full-mesh' | 'hyparview' | 'client-server';
  readonly secret: string;
  /** Data directories and logs go under it. */
  readonly runDirectory: string;
  /** Raft snapshot interval of every node, in applied entries. Default: startNode's (Raft's 10,000). */
  readonly snapshotEvery?: number;
}

export interface Cluster {
  readonly nodes: readonly ChaosNode[];
  readonly voters: readonly string[];
  node(name: string): ChaosNode;
  /** Nodes whose process runs and is not paused. */
  live(): ChaosNode[];
  start(): Promise<void>;
  /** Kills every process still running (SIGKILL; paused ones included). */
  killAll(): Promise<void>;
}

export function createCluster(options: ClusterOptions): Cluster {
  const app = appDirectory();
  const entry = join(app, 'src', 'cluster', 'node-entry.ts');
  const tsconfig = join(app, '..', '..', 'tsconfig.json');
  const ids = options.lab.hosts.map((host) => `${host.name}@${host.address}:${options.port}`);
  const voters = ids.slice(0, options.voters);
  const nodes = options.lab.hosts.map((host, index) => {
    const dataDir = join(options.runDirectory, 'data', host.name);
    mkdirSync(dataDir, { recursive: true });
    return new ChaosNode(
      {
        name: host.name,
        id: ids[index]!,
        namespace: host.namespace,
        dataDir,
        logFile: join(options.runDirectory, `${host.name}.log`),
        startOptions: {
          name: ids[index],
          host: host.address,
          port: options.port,
          secret: options.secret,
          cluster: options.lab.prefix,
          voters,
          seeds: ids.filter((id) => id !== ids[index]),
          timing: options.timing,
          topology: options.topology,
          dataDir,
          joinTimeoutMs: 60_000,
        },
        harness: options.snapshotEvery === undefined ? {} : { snapshotEvery: options.snapshotEvery },
      },
      entry,
      tsconfig,
    );
  });
  const byName = new Map(nodes.map((node) => [node.name, node]));
  return {
    nodes,
    voters,
    node(name) {
      const found = byName.get(name);
      if (found === undefined) throw new RangeError(`no node ${name}`);
      return found;
    },
    live: () => nodes.filter((node) => node.state === 'up'),
    async start() {
      const results = await Promise.allSettled(nodes.map((node) => node.start()));
      const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    },
    async killAll() {
      await Promise.all(nodes.map((node) => node.kill()));
    },
  };
}
