// The report: report.json (parameters, the stable overlay, per failure rate reliability by healing
// round, overlay health and messages) and the summary table printed at the end of a run.
import type { SimulatorArguments } from './arguments';
import { JOIN_SPACING_MS, NETWORK, ROUND_MS } from './experiment';
import type { ExperimentResult, FailureResult, StableResult } from './experiment';

export interface RunFigures {
  /** Wall time of the whole run. */
  readonly wallMs: number;
  readonly cpuMs: number;
  /** Peak resident set size of the process (`process.resourceUsage().maxRSS`). */
  readonly peakRssBytes: number;
  readonly node: string;
}

export interface Report {
  readonly simulator: '@foundation-apps/simulator';
  readonly seed: number;
  readonly parameters: {
    readonly nodes: number;
    readonly failureRates: readonly number[];
    readonly healingRounds: readonly number[];
    readonly broadcastsPerRound: number;
    readonly stabiliseRounds: number;
    readonly roundMs: number;
    readonly joinSpacingMs: number;
    readonly network: { readonly latencyMs: { readonly min: number; readonly max: number }; readonly failureDetectionMs: number };
    readonly hyparview: {
      readonly activeViewSize: number;
      readonly passiveViewSize: number;
      readonly activeRandomWalkLength: number;
      readonly passiveRandomWalkLength: number;
      readonly shuffleActiveCount: number;
      readonly shufflePassiveCount: number;
    };
  };
  readonly stable: StableResult;
  readonly failures: readonly FailureResult[];
  /** Wall time and memory: the only part that differs between two runs with the same arguments. */
  readonly run: RunFigures;
}

export function buildReport(args: SimulatorArguments, result: ExperimentResult, run: RunFigures): Report {
  const hyparview = result.config.hyparview;
  return {
    simulator: '@foundation-apps/simulator',
    seed: args.seed,
    parameters: {
      nodes: args.nodes,
      failureRates: args.failureRates,
      healingRounds: args.healingRounds,
      broadcastsPerRound: args.broadcasts,
      stabiliseRounds: args.stabiliseRounds,
      roundMs: ROUND_MS,
      joinSpacingMs: JOIN_SPACING_MS,
      network: { latencyMs: { min: NETWORK.latency.min, max: NETWORK.latency.max }, failureDetectionMs: NETWORK.failureDetectionMs },
      hyparview: {
        activeViewSize: hyparview.activeViewSize,
        passiveViewSize: hyparview.passiveViewSize,
        activeRandomWalkLength: hyparview.activeRandomWalkLength,
        passiveRandomWalkLength: hyparview.passiveRandomWalkLength,
        shuffleActiveCount: hyparview.shuffleActiveCount,
        shufflePassiveCount: hyparview.shufflePassiveCount,
      },
    },
    stable: result.stable,
    failures: result.failures,
    run,
  };
}

export function percent(value: number): string {
  if (Number.isNaN(value)) return '-';
  return value === 1 ? '100%' : `${(value * 100).toFixed(2)}%`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]): string => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

/** The summary printed at the end of a run (also quoted in the README). */
export function summaryTable(report: Report): string {
  const rounds = report.parameters.healingRounds;
  const last = rounds[rounds.length - 1]!;
  const header = [
    'failed',
    'live',
    ...rounds.map((round) => `r@${round}`),
    `largest@${last + 1}`,
    `isolated@${last + 1}`,
    `symmetry@${last + 1}`,
    'messages',
    'per node',
  ];
  const rows = report.failures.map((failure) => [
    `${Math.round(failure.rate * 1000) / 10}%`,
    String(failure.live),
    ...rounds.map((round) => percent(failure.reliability[String(round)] ?? Number.NaN)),
    percent(failure.overlayAfterHealing.largestComponentShare),
    String(failure.overlayAfterHealing.isolatedNodes),
    percent(failure.overlayAfterHealing.symmetry),
    String(failure.messages.total),
    failure.messages.perLiveNode.toFixed(1),
  ]);
  const stable = report.stable;
  return [
    `Stable overlay of ${report.parameters.nodes} nodes (active view ${report.parameters.hyparview.activeViewSize}, passive ${report.parameters.hyparview.passiveViewSize}): ` +
      `${stable.overlay.components} component(s), ${stable.overlay.isolatedNodes} isolated, symmetry ${percent(stable.overlay.symmetry)}, ` +
      `broadcast reached ${percent(stable.probe.reliability)} in ${stable.probe.lastHop} hops`,
    '',
    `Reliability r@k of broadcasts sent k healing rounds (${report.parameters.roundMs} ms each) after the failure, measured one round later;`,
    `overlay health and messages from the crash to the end of round ${last + 1}:`,
    '',
    table(header, rows),
  ].join('\n');
}
