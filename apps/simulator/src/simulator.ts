// One run of the simulator: the experiment, then report.json and reliability.svg in `outDir`.
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SimulatorArguments } from './arguments';
import { renderChart } from './chart';
import { runExperiment } from './experiment';
import type { ProgressListener } from './experiment';
import { buildReport } from './report';
import type { Report } from './report';

export const REPORT_FILE = 'report.json';
export const CHART_FILE = 'reliability.svg';

export interface SimulatorRun {
  readonly report: Report;
  readonly reportPath: string;
  readonly chartPath: string;
}

/** Creates `outDir` if needed and checks that it can be written, so that a bad directory fails before the run and not after it. */
export function prepareOutputDirectory(outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  accessSync(outDir, constants.W_OK);
}

/**
 * Runs the experiment and writes its report and chart to `outDir`, which the caller has made with
 * `prepareOutputDirectory` (main does, before the run, to tell a bad --out from a failed run).
 */
export async function runSimulator(args: SimulatorArguments, outDir: string, progress?: ProgressListener): Promise<SimulatorRun> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const result = await runExperiment(args, progress);
  const used = process.cpuUsage(cpu);
  const report = buildReport(args, result, {
    wallMs: Math.round(performance.now() - started),
    cpuMs: Math.round((used.user + used.system) / 1000),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    node: process.version,
  });
  const reportPath = join(outDir, REPORT_FILE);
  const chartPath = join(outDir, CHART_FILE);
  writeFileSync(reportPath, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(chartPath, renderChart(report));
  return { report, reportPath, chartPath };
}
