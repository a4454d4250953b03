#!/usr/bin/env node
// Runs the seeded tests under other seeds. Properties and simulations carry fixed seeds so that
// `npm test` is reproducible; a sweep runs them under many more, to find the cases those seeds
// never reach (it found two bugs in the registry's replicated state that way).
//
//   npm run sweep -- [--from 1] [--to 10] [--mode properties,simulations,env] [--factor 5] [FILE...]
//
// Modes, each over the test files that use it (or the FILEs given):
//   properties   fast-check properties get other seeds and `--factor` times their runs
//   simulations  every createSimulation seed is moved by the sweep's seed
//   env          tests that read FOUNDATION_SEED get it
// apps/chaos is left out unless named: it needs root and network namespaces.
// Prints one line per package and seed, keeps the output of each failing run, and exits 1 if any
// failed. A failure names the seed: `SWEEP_FC_SEED`, `SWEEP_SIM_OFFSET` or `FOUNDATION_SEED`
// with the same jest command replays it (tooling/jest-preset/sweep-setup.cjs says how).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const setupFile = join(repositoryRoot, 'tooling', 'jest-preset', 'sweep-setup.cjs');
const jestBin = join(repositoryRoot, 'node_modules', '.bin', 'jest');

const MODES = {
  properties: { uses: /from 'fast-check'/, env: (seed) => ({ SWEEP_FC_SEED: String(seed) }) },
  simulations: { uses: /createSimulation\(/, env: (seed) => ({ SWEEP_SIM_OFFSET: String(seed) }) },
  env: { uses: /seedFromEnvironment\(/, env: (seed) => ({ FOUNDATION_SEED: String(seed) }) },
};

function parseArguments(argv) {
  const options = { from: 1, to: 10, modes: Object.keys(MODES), factor: 5, files: [] };
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index];
    const value = () => {
      const next = argv[++index];
      if (next === undefined) throw new Error(`${argument} needs a value`);
      return next;
    };
    if (argument === '--from') options.from = Number(value());
    else if (argument === '--to') options.to = Number(value());
    else if (argument === '--factor') options.factor = Number(value());
    else if (argument === '--mode') options.modes = value().split(',');
    else if (argument.startsWith('--')) throw new Error(`unknown option ${argument}`);
    else options.files.push(resolve(argument));
  }
  if (!Number.isSafeInteger(options.from) || !Number.isSafeInteger(options.to) || options.to < options.from) throw new Error('--from and --to must be integers, from ≤ to');
  if (!(options.factor > 0)) throw new Error('--factor must be positive');
  for (const mode of options.modes) if (!(mode in MODES)) throw new Error(`unknown mode ${mode} (${Object.keys(MODES).join(', ')})`);
  return options;
}

function testFiles(directory) {
  const found = [];
  if (!existsSync(directory)) return found;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const path = join(directory, entry.name);
    if (entry.isDirectory()) found.push(...testFiles(path));
    else if (entry.name.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

/** The workspace directory (with a jest config) that holds `file`. */
function workspaceOf(file) {
  let directory = dirname(file);
  while (directory.startsWith(repositoryRoot) && directory !== repositoryRoot) {
    if (existsSync(join(directory, 'jest.config.js')) || existsSync(join(directory, 'jest.config.cjs'))) return directory;
    directory = dirname(directory);
  }
  throw new Error(`${relative(repositoryRoot, file)} is in no workspace with a jest config`);
}

function candidates(options) {
  if (options.files.length > 0) return options.files;
  return ['packages', 'apps']
    .flatMap((top) => testFiles(join(repositoryRoot, top)))
    .filter((file) => !relative(repositoryRoot, file).startsWith(join('apps', 'chaos')));
}

function runJest(workspace, files, env, outputFile) {
  const result = spawnSync(jestBin, [...files.map((file) => relative(workspace, file)), '--ci', '--json', `--outputFile=${outputFile}`, '--testTimeout=600000', '--setupFilesAfterEnv', setupFile], {
    cwd: workspace,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  let report;
  try {
    report = JSON.parse(readFileSync(outputFile, 'utf8'));
  } catch {
    report = undefined;
  }
  return { output: `${result.stdout}${result.stderr}`, report };
}

function main() {
  const options = parseArguments(process.argv.slice(2));
  const keep = mkdtempSync(join(tmpdir(), 'foundation-sweep-'));
  const files = candidates(options);
  let runs = 0;
  let failures = 0;
  for (const mode of options.modes) {
    const chosen = files.filter((file) => MODES[mode].uses.test(readFileSync(file, 'utf8')));
    const byWorkspace = new Map();
    for (const file of chosen) {
      const workspace = workspaceOf(file);
      byWorkspace.set(workspace, [...(byWorkspace.get(workspace) ?? []), file]);
    }
    for (let seed = options.from; seed <= options.to; seed += 1) {
      for (const [workspace, group] of byWorkspace) {
        const name = relative(repositoryRoot, workspace);
        const outputFile = join(keep, `${mode}-${seed}-${name.replace(/[/]/g, '_')}.json`);
        const env = { ...MODES[mode].env(seed), SWEEP_FC_FACTOR: String(options.factor) };
        const { output, report } = runJest(workspace, group, env, outputFile);
        runs += 1;
        const failed = report === undefined ? [{ name, titles: ['(jest did not report)'] }] : report.testResults.filter((suite) => suite.status !== 'passed').map((suite) => ({ name: relative(repositoryRoot, suite.name), titles: suite.assertionResults.filter((test) => test.status === 'failed').map((test) => test.fullName) }));
        if (failed.length === 0) {
          console.log(`ok    ${mode} seed ${seed}  ${name} (${report.numPassedTests} tests)`);
          continue;
        }
        failures += 1;
        const log = join(keep, `${mode}-${seed}-${name.replace(/[/]/g, '_')}.log`);
        writeFileSync(log, output);
        const variable = Object.keys(MODES[mode].env(seed))[0];
        console.log(`FAIL  ${mode} seed ${seed}  ${name}: ${variable}=${seed}; output in ${log}`);
        for (const suite of failed) for (const title of suite.titles.length > 0 ? suite.titles : ['(the suite failed to run)']) console.log(`        ${suite.name}: ${title}`);
      }
    }
  }
  if (failures === 0) rmSync(keep, { recursive: true, force: true });
  console.log(`${runs} runs, ${failures} failed (seeds ${options.from}..${options.to}, modes ${options.modes.join(',')})${failures > 0 ? `; output kept in ${keep}` : ''}`);
  process.exitCode = failures > 0 ? 1 : 0;
}

try {
  main();
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 2;
}
