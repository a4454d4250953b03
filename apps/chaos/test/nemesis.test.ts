// The nemesis against nodes that are not all running: a fault aimed at a node whose process is
// gone (a restart that failed, a crash) is skipped and recorded as such, not injected into
// nothing, and never aborts the run; a node that exits during its pause is not reported as
// continued; paused nodes are continued at the end whatever else fails. No root needed: the
// running nodes are scripted, the stopped one is a real ChaosNode that was never started.
import { describe, expect, it } from '@jest/globals';
import type { Cluster } from '../src/cluster/cluster';
import { ChaosNode } from '../src/cluster/node-process';
import { healEverything, runNemesis } from '../src/faults/nemesis';
import type { PlannedFault } from '../src/faults/schedule';
import type { NetworkLab } from '../src/lab/network-lab';

type Scripted = {
  name: string;
  id: string;
  spec: { dataDir: string };
  state: 'up' | 'paused' | 'stopped';
  pid: number | null;
  incarnation: number;
  signals: string[];
  call: () => Promise<unknown>;
  pause: () => boolean;
  resume: () => boolean;
  kill: () => Promise<boolean>;
  start: () => Promise<void>;
};

/** A running node that records the signals it is sent. */
function scripted(name: string, pid: number): Scripted {
  const node: Scripted = {
    name,
    id: `${name}@10.213.0.1:7000`,
    spec: { dataDir: '/nonexistent' },
    state: 'up',
    pid,
    incarnation: 1,
    signals: [],
    call: async () => ({ role: 'follower', term: 1, leader: null, commit: 0, applied: 0 }),
    pause: () => {
      if (node.state !== 'up') return false;
      node.signals.push('SIGSTOP');
      node.state = 'paused';
      return true;
    },
    resume: () => {
      if (node.state !== 'paused') return false;
      node.signals.push('SIGCONT');
      node.state = 'up';
      return true;
    },
    kill: async () => {
      if (node.state === 'stopped') return false;
      node.signals.push('SIGKILL');
      node.state = 'stopped';
      node.pid = null;
      return true;
    },
    start: async () => {
      node.state = 'up';
      node.pid = pid + 1;
    },
  };
  return node;
}

/** A real node process handle that was never started (or whose restart failed): stopped, no pid. */
function stoppedNode(name: string): ChaosNode {
  return new ChaosNode(
    { name, id: `${name}@10.213.0.2:7000`, namespace: 'chaos-none', dataDir: '/nonexistent', logFile: '/nonexistent/log', startOptions: {}, harness: {} },
    '/nonexistent/node-entry.ts',
    '/nonexistent/tsconfig.json',
  );
}

function clusterOf(nodes: readonly (Scripted | ChaosNode)[]): Cluster {
  const all = nodes as unknown as ChaosNode[];
  return {
    nodes: all,
    voters: [],
    node: (name) => all.find((node) => node.name === name)!,
    live: () => all.filter((node) => node.state === 'up'),
    start: async () => undefined,
    killAll: async () => undefined,
  };
}

const lab = { healAll: async () => undefined, dropFrom: async () => undefined } as unknown as NetworkLab;
const fault = (kind: PlannedFault['kind'], node: string, durationMs = 50): PlannedFault => ({ kind, target: { kind: 'node', node }, atMs: 0, durationMs });

function nemesis(cluster: Cluster, faults: PlannedFault[]) {
  const started = performance.now();
  return runNemesis({ lab, cluster, faults, now: () => performance.now() - started, signal: new AbortController().signal, log: () => undefined });
}

describe('nemesis on nodes that are not running', () => {
  it('skips a pause or a kill aimed at a stopped node, says so, and goes on with the next fault', async () => {
    const n1 = scripted('n1', 4242);
    const n2 = stoppedNode('n2');
    const injected = await nemesis(clusterOf([n1, n2]), [fault('pause', 'n2'), fault('kill', 'n2'), fault('pause', 'n1')]);
    expect(injected).toHaveLength(3);
    expect(injected[0]).toMatchObject({ kind: 'pause', target: 'n2', durationMs: 0, skipped: 'n2 was not running (stopped)' });
    // Not counted as a kill and a restart that never happened.
    expect(injected[1]).toMatchObject({ kind: 'kill', target: 'n2', durationMs: 0, skipped: 'n2 was not running (stopped)' });
    expect(injected[1]!.note).not.toContain('restart');
    expect(n2.state).toBe('stopped');
    expect(injected[2]).toMatchObject({ kind: 'pause', target: 'n1', note: 'pid 4242 stopped, then continued' });
    expect(injected[2]!.skipped).toBeUndefined();
    expect(n1.signals).toEqual(['SIGSTOP', 'SIGCONT']);
  });

  it('does not report a node that exited during its pause as continued, and sends it no SIGCONT', async () => {
    const n1 = scripted('n1', 4242);
    const pause = n1.pause;
    n1.pause = () => {
      const paused = pause();
      // Its process dies while stopped (an OOM kill, say): the exit is noticed, the pid forgotten.
      setTimeout(() => {
        n1.state = 'stopped';
        n1.pid = null;
      }, 10);
      return paused;
    };
    const [injected] = await nemesis(clusterOf([n1]), [fault('pause', 'n1', 100)]);
    expect(injected).toMatchObject({ kind: 'pause', target: 'n1' });
    expect(injected!.note).toContain('pid 4242 stopped; it exited during the pause');
    expect(n1.signals).toEqual(['SIGSTOP']);
  });

  it('continues every paused node at the end even when lifting the drop rules fails', async () => {
    const n1 = scripted('n1', 4242);
    n1.pause();
    const failing = { healAll: async () => Promise.reject(new Error('nft failed')) } as unknown as NetworkLab;
    await expect(healEverything(failing, clusterOf([n1, stoppedNode('n2')]), () => undefined)).rejects.toThrow('nft failed');
    expect(n1.state).toBe('up');
    expect(n1.signals).toEqual(['SIGSTOP', 'SIGCONT']);
  });
});

describe('ChaosNode signals', () => {
  it('signals nothing, and throws nothing, when its process is not running', async () => {
    const node = stoppedNode('n3');
    expect(node.pause()).toBe(false);
    expect(node.state).toBe('stopped');
    expect(node.resume()).toBe(false);
    expect(await node.kill()).toBe(false);
  });
});
