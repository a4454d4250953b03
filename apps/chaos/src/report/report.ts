// The run's report: the faults injected and the outcome of each check, as text tables and JSON.
import type { CheckOutcome } from '../checks/outcome';
import type { SnapshotSummary } from '../cluster/raft-stats';
import type { ConfigWriteCounts } from '../workload/config-writers';
import type { InjectedFault } from '../faults/nemesis';
import { FAULT_KINDS } from '../faults/schedule';
import type { FaultKind, PlannedFault } from '../faults/schedule';

export interface WorkloadSummary {
  readonly operations: number;
  /** Per operation (get, put, cas): how many completed ok, fail, info. */
  readonly byOperation: Readonly<Record<string, { readonly ok: number; readonly fail: number; readonly info: number }>>;
  /** Operations acknowledged after the faults stopped: the cluster served again. */
  readonly okAfterFaults: number;
  readonly lateReplies: number;
}

export const CHAOS_TOPOLOGIES = ['auto', 'full-mesh', 'hyparview', 'client-server'] as const;
export type ChaosTopology = (typeof CHAOS_TOPOLOGIES)[number];

export interface ChaosReport {
  readonly seed: number | string;
  readonly startedAt: string;
  /** Wall-clock time of the workload's 0 ms: history times and fault starts count from it (node logs use wall time). */
  readonly workloadStartedAt: string;
  readonly settings: {
    /** The kinds the long form drew from. */
    readonly faultKinds: readonly FaultKind[];
    readonly nodes: number;
    readonly voters: number;
    readonly faultWindowMs: number;
    readonly timing: 'local' | 'lan';
    /** The membership topology the nodes run (`auto` picks by size). */
    readonly topology: ChaosTopology;
    readonly keys: number;
    readonly clients: number;
    /** Clients writing cluster-wide config. */
    readonly configClients: number;
    /** Raft snapshot interval of every node, in applied entries. */
    readonly snapshotEvery: number;
    readonly opTimeoutMs: number;
    readonly convergenceBoundMs: number;
    readonly errorsAsInfo: boolean;
    readonly bounded: boolean;
  };
  readonly lab: { readonly prefix: string; readonly hosts: readonly { readonly name: string; readonly namespace: string; readonly address: string; readonly id: string }[] };
  readonly schedule: readonly PlannedFault[];
  readonly faults: readonly InjectedFault[];
  readonly workload: WorkloadSummary;
  /** How the cluster-wide config writes ended. */
  readonly configWrites: ConfigWriteCounts;
  /** Raft snapshots taken, installed from a leader and refused, over every incarnation of every node. */
  readonly snapshots: SnapshotSummary;
  readonly checks: readonly CheckOutcome[];
  readonly passed: boolean;
  readonly runDirectory: string;
  readonly durationMs: number;
}

/** A plain text table: a header, a rule, rows; columns padded to their widest cell. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/**
 * How long membership and the registry get to converge after the faults. Bounded by the full
 * mesh's tombstone: two nodes that declared each other failed during a fault wait it out
 * (10 s in the local preset, 60 s in lan) before a third party's member list brings them back.
 */
export function defaultConvergenceBoundMs(bounded: boolean, timing: 'local' | 'lan'): number {
  if (timing === 'lan') return 90_000;
  return bounded ? 20_000 : 30_000;
}

/** The command that replays a run: its seed and every setting that differs from the default. */
export function replayCommand(report: Pick<ChaosReport, 'seed' | 'settings'>): string {
  const settings = report.settings;
  const parts = ['npm run chaos --', `--seed ${String(report.seed)}`];
  if (settings.bounded) parts.push('--bounded');
  else if (settings.faultWindowMs !== 60_000) parts.push(`--duration ${Math.round(settings.faultWindowMs / 1000)}`);
  if (!settings.bounded && settings.faultKinds.length !== FAULT_KINDS.length) parts.push(`--faults ${settings.faultKinds.join(',')}`);
  if (settings.nodes !== 5) parts.push(`--nodes ${settings.nodes}`);
  if (settings.voters !== 3) parts.push(`--voters ${settings.voters}`);
  if (settings.keys !== 3) parts.push(`--keys ${settings.keys}`);
  if (settings.clients !== 4) parts.push(`--clients ${settings.clients}`);
  if (settings.configClients !== 2) parts.push(`--config-clients ${settings.configClients}`);
  if (settings.snapshotEvery !== 200) parts.push(`--snapshot-every ${settings.snapshotEvery}`);
  if (settings.opTimeoutMs !== 3_000) parts.push(`--timeout ${settings.opTimeoutMs}`);
  if (settings.timing !== 'local') parts.push(`--timing ${settings.timing}`);
  if (settings.topology !== 'auto') parts.push(`--topology ${settings.topology}`);
  if (settings.convergenceBoundMs !== defaultConvergenceBoundMs(settings.bounded, settings.timing)) parts.push(`--converge ${Math.round(settings.convergenceBoundMs / 1000)}`);
  if (settings.errorsAsInfo) parts.push('--errors-as-info');
  return parts.join(' ');
}

export function faultTable(faults: readonly InjectedFault[]): string {
  if (faults.length === 0) return '(no faults injected)';
  return formatTable(
    ['#', 'kind', 'target', 'start', 'duration', 'note'],
    faults.map((fault) => [String(fault.index), fault.kind, fault.target, seconds(fault.startMs), fault.skipped === undefined ? seconds(fault.durationMs) : '—', fault.note]),
  );
}

export function checkTable(checks: readonly CheckOutcome[]): string {
  return formatTable(
    ['check', 'outcome', 'detail'],
    checks.map((check) => [check.name, check.status === 'pass' ? 'PASS' : check.status === 'fail' ? 'FAIL' : 'UNKNOWN', check.summary]),
  );
}

export function workloadTable(workload: WorkloadSummary): string {
  return formatTable(
    ['operation', 'ok', 'fail', 'info'],
    Object.entries(workload.byOperation).map(([operation, counts]) => [operation, String(counts.ok), String(counts.fail), String(counts.info)]),
  );
}

/** Which nodes installed snapshots from a leader, and how many each. */
function snapshotInstallers(snapshots: SnapshotSummary): string {
  const installers = Object.entries(snapshots.byNode).filter(([, counts]) => counts.installed > 0);
  return installers.length === 0 ? 'none' : installers.map(([node, counts]) => `${node} ${counts.installed}`).join(', ');
}

/** The whole report as text: settings, faults, workload, checks, and the evidence of failed checks. */
export function formatReport(report: ChaosReport): string {
  const lines = [
    `chaos run, seed ${String(report.seed)} (replay: ${replayCommand(report)})`,
    `${report.settings.nodes} nodes (${report.settings.voters} Raft voters), timing ${report.settings.timing}, topology ${report.settings.topology}, ${report.settings.clients} clients on ${report.settings.keys} keys, lab ${report.lab.prefix}`,
    '',
    'faults injected',
    faultTable(report.faults),
    '',
    `workload: ${report.workload.operations} operations; ${report.workload.okAfterFaults} acknowledged after the faults stopped`,
    workloadTable(report.workload),
    '',
    `cluster-wide config writes (${report.settings.configClients} clients): ${Object.entries(report.configWrites).map(([outcome, count]) => `${count} ${outcome}`).join(', ')}`,
    `raft snapshots (every ${report.settings.snapshotEvery} entries): ${report.snapshots.taken} taken, ${report.snapshots.installed} installed from a leader (${snapshotInstallers(report.snapshots)}), ${report.snapshots.refused} refused`,
    '',
    'checks',
    checkTable(report.checks),
  ];
  for (const check of report.checks) {
    if (check.status === 'pass' || check.details.length === 0) continue;
    lines.push('', `${check.name}:`, ...check.details.map((detail) => `  ${detail}`));
  }
  lines.push('', `${report.passed ? 'PASSED' : 'FAILED'} in ${seconds(report.durationMs)}; history, logs and report.json in ${report.runDirectory}`);
  return lines.join('\n');
}
