// One chaos run from start to finish: build the lab, start the nodes in it, run the clients
// while the nemesis injects the planned faults, heal, read every key on every node, check the
// history and the cluster, and tear everything down whatever happened.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSeededRandom } from '@foundation/core';
import { canonical } from '@foundation/testkit';
import { createCluster } from './cluster/cluster';
import type { Cluster } from './cluster/cluster';
import { startRaftStatsSampler } from './cluster/raft-stats';
import type { RaftStatsSampler } from './cluster/raft-stats';
import { checkHistoryLinearizable } from './checks/linearizability';
import { FINAL_READ_PREFIX, checkNoLostWrites } from './checks/lost-writes';
import { checkClusterConfig } from './checks/config-convergence';
import { checkMembership, checkRegistryDigests } from './checks/convergence';
import type { CheckOutcome } from './checks/outcome';
import { pairOperations } from './checks/operations';
import { healEverything, runNemesis } from './faults/nemesis';
import type { InjectedFault } from './faults/nemesis';
import { FAULT_KINDS, planBoundedFaults, planFaults } from './faults/schedule';
import type { FaultKind, PlannedFault } from './faults/schedule';
import { checkLabPrerequisites, createNetworkLab, sweepLeftoverLabs } from './lab/network-lab';
import type { NetworkLab } from './lab/network-lab';
import { defaultConvergenceBoundMs } from './report/report';
import type { ChaosReport, ChaosTopology, WorkloadSummary } from './report/report';
import { countConfigWrites, startConfigWriters } from './workload/config-writers';
import type { ConfigWriters } from './workload/config-writers';
import { startWorkload } from './workload/workload';
import type { TimedEvent, Workload } from './workload/workload';

export interface ChaosOptions {
  readonly seed: number;
  /** Nodes in the cluster (the first `voters` vote in Raft, the rest are learners). Default 5. */
  readonly nodes?: number;
  /** Default 3. */
  readonly voters?: number;
  /** The bounded CI schedule (one partition, one kill, one pause) instead of `durationMs` of faults. */
  readonly bounded?: boolean;
  /** How long faults are injected, ms (ignored when bounded). Default 60,000. */
  readonly durationMs?: number;
  /** Fault kinds the long form draws from. Default all. */
  readonly faultKinds?: readonly FaultKind[];
  /** Keys the clients work on. Default 3. */
  readonly keys?: number;
  /** Concurrent clients. Default 4. */
  readonly clients?: number;
  /** Clients writing cluster-wide config alongside them. Default 2. */
  readonly configClients?: number;
  /** Raft snapshot interval of every node, in applied entries: small, so that lagging and restarted nodes install snapshots. Default 200. */
  readonly snapshotEvery?: number;
  /** How long a client waits for an answer before the outcome is unknown, ms. Default 3,000. */
  readonly opTimeoutMs?: number;
  /** How long membership and registry get to re-converge after the faults, ms. Default 30,000 (bounded 20,000; lan timing 90,000). */
  readonly convergenceBoundMs?: number;
  /** Workload time after the faults stopped, before the final reads, ms. Default 3,000 (bounded 2,000). */
  readonly recoveryMs?: number;
  /** Node timing preset. Default `local` (10 ms Raft ticks). */
  readonly timing?: 'local' | 'lan';
  /** Membership topology of every node. Default `auto` (a full mesh below 10 nodes, HyParView above). */
  readonly topology?: ChaosTopology;
  readonly port?: number;
  /** Count every write error as an unknown outcome, trusting no "certainly not applied" code. */
  readonly errorsAsInfo?: boolean;
  /** Keep the run directory (logs, history, report) even when every check passes. Default: keep only on failure. */
  readonly keepRunDirectory?: boolean;
  readonly log?: (line: string) => void;
  /** Aborts the run (Ctrl-C): faults stop, everything is torn down, the run rejects. */
  readonly signal?: AbortSignal;
}

const FINAL_READ_BOUND_MS = 20_000;

function summarise(history: readonly TimedEvent[], faultsEndedMs: number, lateReplies: number): WorkloadSummary {
  const operations = pairOperations(history).filter((operation) => !(typeof operation.process === 'string' && operation.process.startsWith(FINAL_READ_PREFIX)));
  const byOperation: Record<string, { ok: number; fail: number; info: number }> = {};
  let okAfterFaults = 0;
  for (const operation of operations) {
    const counts = (byOperation[operation.f] ??= { ok: 0, fail: 0, info: 0 });
    counts[operation.status] += 1;
    if (operation.status === 'ok' && operation.completedMs !== null && operation.completedMs > faultsEndedMs) okAfterFaults += 1;
  }
  return { operations: operations.length, byOperation, okAfterFaults, lateReplies };
}

/**
 * Every live node reads every key (a linearizable read through Raft), retrying a read until it
 * succeeds, in rounds half a second apart until two rounds in a row find every node agreeing
 * on the same values, or the bound passes. Writes whose outcome was unknown may still land
 * after the clients stopped (Foundation retries a forwarded proposal for up to its own
 * timeout), so one round could catch the cluster in between. Every attempt is in the history.
 */
async function finalReads(cluster: Cluster, workload: Workload, keys: readonly string[], signal: AbortSignal): Promise<void> {
  const deadline = performance.now() + FINAL_READ_BOUND_MS;
  let previous: string | null = null;
  for (;;) {
    const round = await Promise.all(
      cluster.live().map(async (node) => {
        const values: string[] = [];
        for (const key of keys) {
          for (;;) {
            signal.throwIfAborted();
            const result = await workload.perform(`${FINAL_READ_PREFIX}${node.name}`, node, 'get', key);
            if (result.type === 'ok') {
              values.push(canonical(result.value));
              break;
            }
            if (performance.now() > deadline) return null;
            await sleep(200, undefined, { signal });
          }
        }
        return values.join(' ');
      }),
    );
    const agreed = round.every((values) => values !== null && values === round[0]) ? (round[0] ?? null) : null;
    if ((agreed !== null && agreed === previous) || performance.now() > deadline) return;
    previous = agreed;
    await sleep(500, undefined, { signal });
  }
}

/** Runs the whole thing; resolves with the report (check `passed`), rejects when the run itself could not happen. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? ((): void => undefined);
  const nodeCount = options.nodes ?? 5;
  const voterCount = options.voters ?? 3;
  if (!Number.isInteger(nodeCount) || nodeCount < 3 || nodeCount > 20) throw new RangeError('nodes: 3 to 20');
  if (!Number.isInteger(voterCount) || voterCount < 1 || voterCount > nodeCount) throw new RangeError(`voters: 1 to ${nodeCount}`);
  const bounded = options.bounded ?? false;
  const timing = options.timing ?? 'local';
  const topology = options.topology ?? 'auto';
  const opTimeoutMs = options.opTimeoutMs ?? 3_000;
  const convergenceBoundMs = options.convergenceBoundMs ?? defaultConvergenceBoundMs(bounded, timing);
  const recoveryMs = options.recoveryMs ?? (bounded ? 2_000 : 3_000);
  const keys = Array.from({ length: options.keys ?? 3 }, (_, index) => `k${index + 1}`);
  const clients = options.clients ?? 4;
  const configClients = options.configClients ?? 2;
  const snapshotEvery = options.snapshotEvery ?? 200;
  const names = Array.from({ length: nodeCount }, (_, index) => `n${index + 1}`);
  const schedule: PlannedFault[] = bounded
    ? planBoundedFaults({ seed: options.seed, nodes: names })
    : planFaults({ seed: options.seed, nodes: names, durationMs: options.durationMs ?? 60_000, ...(options.faultKinds === undefined ? {} : { kinds: options.faultKinds }) });
  // The window asked for (the schedule fits in it); for the bounded schedule, where its last fault ends.
  const faultWindowMs = bounded ? schedule.reduce((end, fault) => Math.max(end, fault.atMs + fault.durationMs), 0) : (options.durationMs ?? 60_000);

  const controller = new AbortController();
  const onAbort = (): void => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const signal = controller.signal;

  checkLabPrerequisites();
  const swept = await sweepLeftoverLabs();
  if (swept.length > 0) log(`removed ${swept.length} namespaces left by earlier runs: ${swept.join(', ')}`);

  const started = performance.now();
  const startedAt = new Date().toISOString();
  const runDirectory = mkdtempSync(join(tmpdir(), `chaos-run-${process.pid}-`));
  mkdirSync(join(runDirectory, 'data'), { recursive: true });
  let lab: NetworkLab | null = null;
  let cluster: Cluster | null = null;
  let workload: Workload | null = null;
  let configWriters: ConfigWriters | null = null;
  let raftStats: RaftStatsSampler | null = null;
  let passed = false;
  try {
    lab = await createNetworkLab({ hosts: names });
    log(`lab ${lab.prefix}: ${lab.hosts.map((host) => `${host.name} ${host.address}`).join(', ')} on a bridge in ${lab.hub}`);
    cluster = createCluster({ lab, voters: voterCount, port: options.port ?? 7000, timing, topology, secret: `chaos-${lab.prefix}-shared-secret`, runDirectory, snapshotEvery });
    await cluster.start();
    log(`${nodeCount} nodes up (${voterCount} voters) after ${Math.round(performance.now() - started)} ms; logs in ${runDirectory}`);

    const workloadStart = performance.now();
    const workloadStartedAt = new Date().toISOString();
    const now = (): number => performance.now() - workloadStart;
    workload = startWorkload({
      cluster,
      keys,
      clients,
      random: createSeededRandom(options.seed).fork('workload'),
      opTimeoutMs,
      now,
      ...(options.errorsAsInfo === undefined ? {} : { errorsAsInfo: options.errorsAsInfo }),
    });
    configWriters = startConfigWriters({
      cluster,
      clients: configClients,
      random: createSeededRandom(options.seed).fork('config-workload'),
      opTimeoutMs,
      now,
      ...(options.errorsAsInfo === undefined ? {} : { errorsAsInfo: options.errorsAsInfo }),
    });
    raftStats = startRaftStatsSampler(cluster);
    let faults: InjectedFault[];
    try {
      faults = await runNemesis({ lab, cluster, faults: schedule, now, signal, log });
    } finally {
      const problems = await healEverything(lab, cluster, log);
      for (const problem of problems) log(problem);
    }
    const faultsEndedMs = now();
    const faultsEndedAt = performance.now();
    log(`faults over at ${(faultsEndedMs / 1000).toFixed(1)} s; healed; ${recoveryMs} ms more of workload`);
    await sleep(recoveryMs, undefined, { signal });
    await Promise.all([workload.stop(), configWriters.stop()]);
    await finalReads(cluster, workload, keys, signal);
    log(`history: ${workload.history.length} events; checking`);

    const live = cluster.live().map((node) => node.name);
    const checks: CheckOutcome[] = [
      checkHistoryLinearizable(workload.history),
      checkNoLostWrites(workload.history, keys, live),
      await checkMembership(cluster, faultsEndedAt, convergenceBoundMs, signal),
      await checkRegistryDigests(cluster, faultsEndedAt, convergenceBoundMs, signal),
      await checkClusterConfig(cluster, faultsEndedAt, convergenceBoundMs, signal),
    ];
    const snapshots = await raftStats.stop();
    raftStats = null;
    if (live.length !== cluster.nodes.length) {
      checks.push({ name: 'every node up at the end', status: 'fail', summary: `only ${live.join(',')} run`, details: [] });
    }
    passed = checks.every((check) => check.status === 'pass');
    const report: ChaosReport = {
      seed: options.seed,
      startedAt,
      workloadStartedAt,
      settings: { faultKinds: options.faultKinds ?? FAULT_KINDS, nodes: nodeCount, voters: voterCount, faultWindowMs, timing, topology, keys: keys.length, clients, configClients, snapshotEvery, opTimeoutMs, convergenceBoundMs, errorsAsInfo: options.errorsAsInfo ?? false, bounded },
      lab: { prefix: lab.prefix, hosts: lab.hosts.map((host, index) => ({ ...host, id: cluster!.nodes[index]!.id })) },
      schedule,
      faults,
      workload: summarise(workload.history, faultsEndedMs, cluster.nodes.reduce((sum, node) => sum + node.lateReplies, 0)),
      configWrites: countConfigWrites(configWriters.writes),
      snapshots,
      checks,
      passed,
      runDirectory: passed && options.keepRunDirectory !== true ? '(removed: every check passed)' : runDirectory,
      durationMs: performance.now() - started,
    };
    writeFileSync(join(runDirectory, 'history.json'), `${JSON.stringify(workload.history)}\n`);
    writeFileSync(join(runDirectory, 'config-writes.json'), `${JSON.stringify(configWriters.writes)}\n`);
    writeFileSync(join(runDirectory, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (cluster !== null) await cluster.killAll();
    // Clients still running (the run was aborted or failed midway) stop now: their calls to the
    // killed nodes fail at once.
    if (workload !== null) await workload.stop();
    if (configWriters !== null) await configWriters.stop();
    if (raftStats !== null) await raftStats.stop();
    if (lab !== null) await lab.teardown();
    if (passed && options.keepRunDirectory !== true) rmSync(runDirectory, { recursive: true, force: true });
  }
}
