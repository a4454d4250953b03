#!/usr/bin/env node
// npm test's jest step. Every test file runs, in two jest runs: first all but the cluster tests
// on two workers, then the cluster tests one at a time (--runInBand), each with the machine to
// itself (why: tooling/jest-preset/cluster-tests.cjs). The two runs' JSON results are merged
// into .jest-results.json, which CI reads. Exits non-zero when either run failed; both always run.
//
// Arguments are passed to both runs (e.g. --ci). For a single file, call jest itself:
// `npx jest path/to/file.test.ts`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const jest = require.resolve('jest/bin/jest', { paths: [root] });
const clusterTests = require(join(root, 'tooling', 'jest-preset', 'cluster-tests.cjs'));
const extra = process.argv.slice(2);

function run(name, label, args, env) {
  const output = join(root, `.jest-results.${name}.json`);
  rmSync(output, { force: true });
  console.log(`\n== jest: ${label}\n`);
  const result = spawnSync(process.execPath, [jest, '--json', `--outputFile=${output}`, ...args, ...extra], { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  const results = existsSync(output) ? JSON.parse(readFileSync(output, 'utf8')) : null;
  rmSync(output, { force: true });
  return { ok: result.status === 0, results };
}

const others = run('others', 'every file but the cluster tests', [], { FOUNDATION_TEST_GROUP: 'others' });
const clusters = run('clusters', 'the cluster tests, one at a time', ['--runInBand', ...clusterTests.patterns], {});

const parts = [others.results, clusters.results].filter((results) => results !== null);
const sum = (key) => parts.reduce((total, results) => total + (results[key] ?? 0), 0);
const merged = {
  success: others.ok && clusters.ok,
  numTotalTestSuites: sum('numTotalTestSuites'),
  numPassedTestSuites: sum('numPassedTestSuites'),
  numFailedTestSuites: sum('numFailedTestSuites'),
  numRuntimeErrorTestSuites: sum('numRuntimeErrorTestSuites'),
  numTotalTests: sum('numTotalTests'),
  numPassedTests: sum('numPassedTests'),
  numFailedTests: sum('numFailedTests'),
  numPendingTests: sum('numPendingTests'),
  testResults: parts.flatMap((results) => results.testResults),
};
writeFileSync(join(root, '.jest-results.json'), JSON.stringify(merged));
console.log(`\njest, both runs: ${merged.numPassedTests} passed, ${merged.numFailedTests} failed, ${merged.numTotalTestSuites} files`);
process.exit(merged.success && parts.length === 2 ? 0 : 1);
