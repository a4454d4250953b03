// Injects the planned faults, one after the other, into the real network and processes:
// nftables drop rules inside the namespaces (symmetric, one-way, flapping), SIGKILL and
// restart, SIGSTOP and SIGCONT. Records what was done, to whom (the leader resolved to a
// node), when it started and how long it lasted.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster } from '../cluster/cluster';
import type { NetworkLab } from '../lab/network-lab';
import type { ChaosNode } from '../cluster/node-process';
import { describeTarget } from './schedule';
import type { FaultKind, FaultTarget, PlannedFault } from './schedule';

export interface InjectedFault {
  readonly index: number;
  readonly kind: FaultKind;
  /** As planned (`leader`, `n2`, `n1,n2 | n3,n4,n5`). */
  readonly planned: string;
  /** Who it hit: the node names, with the leader resolved. */
  readonly target: string;
  /** ms after the workload began. */
  readonly startMs: number;
  /** How long the fault was in force, ms (until healed, continued or restarted). */
  readonly durationMs: number;
  readonly note: string;
  /** Why the fault was not injected (its node was not running); absent when it was. */
  readonly skipped?: string;
}

export interface RaftView {
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commit: number;
  readonly applied: number;
}

/** The node that leads (the one with the highest term that says it leads), or null. */
export async function findLeader(cluster: Cluster): Promise<ChaosNode | null> {
  const views = await Promise.all(
    cluster.live().map(async (node) => {
      try {
        return { node, view: await node.call<RaftView>('raft', [], 1_000) };
      } catch {
        return null;
      }
    }),
  );
  let best: { node: ChaosNode; view: RaftView } | null = null;
  for (const entry of views) {
    if (entry === null || entry.view.role !== 'leader') continue;
    if (best === null || entry.view.term > best.view.term) best = entry;
  }
  return best?.node ?? null;
}

/** Files and bytes under a directory: what a restarted node finds of its previous life. */
export function directorySize(directory: string): { readonly files: number; readonly bytes: number } {
  let files = 0;
  let bytes = 0;
  const visit = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (entry.isFile()) {
        files += 1;
        bytes += statSync(full).size;
      }
    }
  };
  try {
    visit(directory);
  } catch {
    // Not there (yet): nothing to recover from.
  }
  return { files, bytes };
}

export interface NemesisOptions {
  readonly lab: NetworkLab;
  readonly cluster: Cluster;
  readonly faults: readonly PlannedFault[];
  /** ms since the workload began. */
  readonly now: () => number;
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
}

async function applyPartition(lab: NetworkLab, sides: readonly [readonly string[], readonly string[]], oneWay: boolean): Promise<void> {
  const [from, to] = sides;
  const updates: Promise<void>[] = to.map((node) => lab.dropFrom(node, from));
  if (!oneWay) updates.push(...from.map((node) => lab.dropFrom(node, to)));
  await Promise.all(updates);
}

/** Continues every paused node, lifts every drop rule and restarts every stopped node. */
export async function healEverything(lab: NetworkLab, cluster: Cluster, log: (line: string) => void): Promise<string[]> {
  const problems: string[] = [];
  // First, and whatever fails after: a node left stopped would be dead to the checks and the clients.
  for (const node of cluster.nodes) if (node.state === 'paused') node.resume();
  await lab.healAll();
  for (const node of cluster.nodes) {
    if (node.state !== 'stopped') continue;
    log(`restarting ${node.name}, found stopped at the end of the faults`);
    try {
      await node.start();
    } catch (error) {
      problems.push(`${node.name} could not restart: ${(error as Error).message}`);
    }
  }
  return problems;
}

export async function runNemesis(options: NemesisOptions): Promise<InjectedFault[]> {
  const { lab, cluster, signal, log } = options;
  const injected: InjectedFault[] = [];
  const names = cluster.nodes.map((node) => node.name);

  const resolveNode = async (target: FaultTarget): Promise<{ node: ChaosNode; note: string }> => {
    const leader = await findLeader(cluster);
    if (target.kind === 'node') return { node: cluster.node(target.node), note: leader?.name === target.node ? 'was the leader' : '' };
    if (leader !== null) return { node: leader, note: 'was the leader' };
    const fallback = cluster.live()[0] ?? cluster.nodes[0]!;
    return { node: fallback, note: 'no leader found; hit the first live node' };
  };
  const resolveSides = async (target: FaultTarget): Promise<{ sides: [string[], string[]]; note: string }> => {
    if (target.kind === 'split') {
      const leader = await findLeader(cluster);
      return { sides: [[...target.sides[0]], [...target.sides[1]]], note: leader === null ? 'no leader at the start' : `${leader.name} was the leader` };
    }
    const { node, note } = await resolveNode(target);
    return { sides: [[node.name], names.filter((name) => name !== node.name)], note: note === 'was the leader' ? `${node.name} was the leader` : note };
  };

  for (const [index, fault] of options.faults.entries()) {
    const wait = fault.atMs - options.now();
    if (wait > 0) await sleep(wait, undefined, { signal });
    signal.throwIfAborted();
    const planned = describeTarget(fault.target, fault.kind === 'partition-one-way');
    // For partitions: when the drop rules are in force (spawning nft takes a while), not when asked.
    let startMs = options.now();
    let target = planned;
    let note = '';
    let endMs = startMs;
    // Set by skip(), which control flow does not follow: hence the cast, so that it is not narrowed to null.
    let skipped = null as string | null;
    const skip = (reason: string): void => {
      skipped = reason;
      note = `not injected: ${reason}`;
      log(`fault ${index + 1}: ${fault.kind} ${target} skipped: ${reason}`);
    };
    const notRunning = (node: ChaosNode): string => `${node.name} was not running (${node.state})`;
    switch (fault.kind) {
      case 'partition':
      case 'partition-one-way': {
        const resolved = await resolveSides(fault.target);
        target = `${resolved.sides[0].join(',')} ${fault.kind === 'partition' ? '|' : '→'} ${resolved.sides[1].join(',')}`;
        note = [resolved.note, fault.kind === 'partition-one-way' ? `packets from ${resolved.sides[0].join(',')} to ${resolved.sides[1].join(',')} dropped` : ''].filter(Boolean).join('; ');
        log(`fault ${index + 1}: ${fault.kind} ${target} for ${fault.durationMs} ms`);
        await applyPartition(lab, resolved.sides, fault.kind === 'partition-one-way');
        startMs = options.now();
        await sleep(Math.max(0, startMs + fault.durationMs - options.now()), undefined, { signal });
        await lab.healAll();
        endMs = options.now();
        break;
      }
      case 'partition-flapping': {
        const resolved = await resolveSides(fault.target);
        target = `${resolved.sides[0].join(',')} | ${resolved.sides[1].join(',')}`;
        const flapMs = fault.flapMs ?? 500;
        log(`fault ${index + 1}: flapping partition ${target} for ${fault.durationMs} ms, ${flapMs} ms on / ${flapMs} ms off`);
        let flips = 0;
        while (options.now() < startMs + fault.durationMs) {
          await applyPartition(lab, resolved.sides, false);
          if (flips === 0) startMs = options.now();
          flips += 1;
          await sleep(Math.max(0, Math.min(flapMs, startMs + fault.durationMs - options.now())), undefined, { signal });
          await lab.healAll();
          if (options.now() >= startMs + fault.durationMs) break;
          await sleep(Math.max(0, Math.min(flapMs, startMs + fault.durationMs - options.now())), undefined, { signal });
        }
        endMs = options.now();
        note = [resolved.note, `${flips} times on, ${flapMs} ms on / ${flapMs} ms off`].filter(Boolean).join('; ');
        break;
      }
      case 'kill': {
        const { node, note: who } = await resolveNode(fault.target);
        target = node.name;
        const pid = node.pid;
        // A node already down (a restart that failed, a crash) is not killed and "restarted":
        // that fault would not have happened. It is restarted with the others at the end.
        if (node.state !== 'up') {
          skip(notRunning(node));
          break;
        }
        log(`fault ${index + 1}: SIGKILL ${node.name} (pid ${String(pid)}), restart after ${fault.durationMs} ms`);
        if (!(await node.kill())) {
          skip(`${node.name}'s process (pid ${String(pid)}) exited before the signal`);
          break;
        }
        await sleep(Math.max(0, startMs + fault.durationMs - options.now()), undefined, { signal });
        const restartAt = options.now();
        const left = directorySize(node.spec.dataDir);
        try {
          await node.start();
          endMs = options.now();
          note = [
            who,
            `pid ${String(pid)} killed; restarted as pid ${String(node.pid)} on the same address, port and data directory (${left.files} files, ${(left.bytes / 1024).toFixed(0)} KiB of Raft state), ready after ${Math.round(endMs - restartAt)} ms`,
          ]
            .filter(Boolean)
            .join('; ');
        } catch (error) {
          endMs = options.now();
          note = [who, `restart FAILED: ${(error as Error).message}`].filter(Boolean).join('; ');
        }
        break;
      }
      case 'pause': {
        const { node, note: who } = await resolveNode(fault.target);
        target = node.name;
        const pid = node.pid;
        // Only a node that is up is paused: pause() signals nothing otherwise.
        if (!node.pause()) {
          skip(node.state === 'up' ? `${node.name}'s process (pid ${String(pid)}) exited before the signal` : notRunning(node));
          break;
        }
        log(`fault ${index + 1}: SIGSTOP ${node.name} (pid ${String(pid)}) for ${fault.durationMs} ms`);
        let continued: boolean;
        try {
          await sleep(Math.max(0, startMs + fault.durationMs - options.now()), undefined, { signal });
        } finally {
          // No SIGCONT to a process that died while stopped (its exit noticed, the node 'stopped'): false then.
          continued = node.resume();
        }
        endMs = options.now();
        note = [who, continued ? `pid ${String(pid)} stopped, then continued` : `pid ${String(pid)} stopped; it exited during the pause (restarted at the end of the faults)`].filter(Boolean).join('; ');
        break;
      }
    }
    injected.push({ index: index + 1, kind: fault.kind, planned, target, startMs: Math.round(startMs), durationMs: Math.round(endMs - startMs), note, ...(skipped === null ? {} : { skipped }) });
  }
  return injected;
}
