// The simulator's command line: `npm run simulate -- --nodes 10000 --fail 0.8 --seed 42`.
// Exit codes: 0 done, 1 the run failed, 2 bad arguments.
import { isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { USAGE, parseArguments } from './arguments';
import { checkHeapFits } from './heap';
import type { SimulatorArguments } from './arguments';
import { createProgressReporter } from './progress';
import { summaryTable } from './report';
import { prepareOutputDirectory, runSimulator } from './simulator';
import { UsageError } from './usage-error';

const APP_DIRECTORY = fileURLToPath(new URL('..', import.meta.url));

/** Where the report goes: --out relative to where the command was typed (npm runs scripts elsewhere), or reports/<seed>-<nodes>/ in the app. */
function outputDirectory(args: SimulatorArguments): string {
  if (args.out === undefined) return resolve(APP_DIRECTORY, 'reports', `${args.seed}-${args.nodes}`);
  return isAbsolute(args.out) ? args.out : resolve(process.env.INIT_CWD ?? process.cwd(), args.out);
}

async function main(argv: readonly string[]): Promise<number> {
  let args: SimulatorArguments;
  try {
    args = parseArguments(argv);
    if (!args.help) checkHeapFits(args.nodes);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`simulate: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const outDir = outputDirectory(args);
  try {
    prepareOutputDirectory(outDir);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (args.out === undefined) {
      process.stderr.write(`simulate: cannot write the report to ${outDir}: ${reason}\n`);
      return 1;
    }
    process.stderr.write(`simulate: --out ${args.out}: cannot write the report there: ${reason}\n\n${USAGE}`);
    return 2;
  }
  process.stdout.write(
    `seed ${args.seed}: ${args.nodes} nodes, failure rates ${args.failureRates.join(', ')}, healing rounds ${args.healingRounds.join(', ')}, ` +
      `${args.broadcasts} broadcast(s) per round (node ${process.version})\n`,
  );
  const progress = createProgressReporter(process.stderr);
  const run = await runSimulator(args, outDir, (update) => progress.update(update));
  progress.finish();
  const fromHere = relative(process.env.INIT_CWD ?? process.cwd(), outDir);
  const shown = fromHere === '' ? '.' : fromHere.startsWith('..') ? outDir : fromHere;
  process.stdout.write(
    `\n${summaryTable(run.report)}\n\n` +
      `wall ${(run.report.run.wallMs / 1000).toFixed(1)} s, CPU ${(run.report.run.cpuMs / 1000).toFixed(1)} s, peak RSS ${Math.round(run.report.run.peakRssBytes / 1024 / 1024)} MiB\n` +
      `report: ${shown}/report.json, chart: ${shown}/reliability.svg\n`,
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`simulate: the run failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
