// The command line as a user runs it: a child process of `node --import tsx src/main.ts`.
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const APP = resolve(__dirname, '..');
const ROOT = resolve(APP, '../..');
const running = new Set<ChildProcess>();
const directories: string[] = [];

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function simulate(argv: readonly string[], nodeFlags: readonly string[] = []): Promise<Outcome> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', 'src/main.ts', ...argv], {
      cwd: APP,
      env: { ...process.env, TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json'), INIT_CWD: APP },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => {
      running.delete(child);
      done({ code, stdout, stderr });
    });
  });
}

afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

describe('the simulate command', () => {
  it.each([
    [['--nodes', 'many'], '--nodes must be an integer from 2 to 100000 (got "many")'],
    [['--fail', '1.5'], '--fail takes rates in [0, 1)'],
    [['--seed'], '--seed needs a value'],
    [['--frobnicate'], 'unknown option --frobnicate'],
    [['--nodes', '3', '--fail', '0.9'], '--fail 0.9 crashes all 3 nodes'],
  ])('rejects %j with a clear message, the usage and exit code 2', async (argv, message) => {
    const outcome = await simulate(argv);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain(`simulate: ${message}`);
    expect(outcome.stderr).toContain('Usage: npm run simulate -- [options]');
    expect(outcome.stdout).toBe('');
  });

  it('refuses an --out directory it cannot create before running, with exit code 2', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'simulator-cli-'));
    directories.push(parent);
    const file = join(parent, 'a-file');
    writeFileSync(file, '');
    const outcome = await simulate(['--nodes', '20', '--fail', '0.5', '--rounds', '0', '--stabilise', '0', '--out', join(file, 'reports')]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain(`simulate: --out ${join(file, 'reports')}: cannot write the report there:`);
    expect(outcome.stderr).not.toContain('the run failed');
    expect(outcome.stdout).toBe('');
  });

  it('refuses, with exit code 2 and before running, more nodes than its heap holds', async () => {
    const outcome = await simulate(['--nodes', '5000', '--fail', '0.5', '--rounds', '0', '--stabilise', '0'], ['--max-old-space-size=64']);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toMatch(/simulate: --nodes 5000 needs about \d+ MiB of JavaScript heap and this Node\.js allows \d+ MiB/);
    expect(outcome.stdout).toBe('');
  });

  it('prints the usage on --help and exits 0', async () => {
    const outcome = await simulate(['--help']);
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toContain('--fail RATES');
  });

  it('prints the seed first, progress on stderr, a summary table at the end, and writes the report to --out (seed 5)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'simulator-cli-'));
    directories.push(out);
    const outcome = await simulate(['--nodes', '80', '--fail', '0.2,0.6', '--rounds', '0,2', '--stabilise', '1', '--seed', '5', '--out', out]);
    expect(outcome.code).toBe(0);
    expect(outcome.stdout.split('\n')[0]).toMatch(/^seed 5: 80 nodes, failure rates 0.2, 0.6, healing rounds 0, 2/);
    expect(outcome.stderr).toMatch(/\[join\] .*simulated \d+\.\d s, 80\/80 nodes live, \d+\.\d s elapsed/);
    expect(outcome.stderr).toMatch(/\[fail 60%\] .*\/80 nodes live/);
    expect(outcome.stdout).toMatch(/failed\s+live\s+r@0\s+r@2/);
    expect(outcome.stdout).toMatch(/\n20%\s+64\s/);
    expect(outcome.stdout).toMatch(/\n60%\s+32\s/);
    expect(outcome.stdout).toContain(`report: ${out}/report.json`);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { seed: number; failures: { rate: number }[] };
    expect(report.seed).toBe(5);
    expect(report.failures.map((failure) => failure.rate)).toEqual([0.2, 0.6]);
    expect(existsSync(join(out, 'reliability.svg'))).toBe(true);
  });
});
