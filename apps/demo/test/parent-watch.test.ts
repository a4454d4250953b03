// The watch that stops the demo when the process that started it is gone (src/parent-watch.ts),
// in a child process whose parent dies and stays a zombie: the parent's parent never reaps it.
// Signalling the first parent's pid (kill(pid, 0)) still succeeded then, and the demo ran on.
import { afterAll, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { killGroup } from '../src/demo-process';

const appDirectory = join(__dirname, '..');
const fixture = join(__dirname, 'fixtures', 'watch-parent.ts');

let group: ChildProcess | null = null;
let output = '';

afterAll(() => {
  if (group !== null) killGroup(group);
});

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > giveUpAt) throw new Error(`gave up waiting for ${what}\n--- output ---\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

it('sees its parent gone while that parent is a zombie nobody reaps', async () => {
  // The outer shell starts the parent in the background and becomes `sleep`, which never reaps
  // it; the parent (`; true` keeps it from exec'ing node) prints its pid and runs the watcher.
  const script = `sh -c 'echo "parent $$"; "$0" --import tsx "$1"; true' "$0" "$1" & exec sleep 60`;
  group = spawn('sh', ['-c', script, process.execPath, fixture], {
    cwd: appDirectory,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TSX_TSCONFIG_PATH: join(appDirectory, '..', '..', 'tsconfig.json') },
  });
  group.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  group.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  await until('the watcher to start', () => output.includes('watching'), 30_000);
  const parent = Number(/parent (\d+)/.exec(output)?.[1]);
  expect(Number.isInteger(parent) && parent > 0).toBe(true);

  process.kill(parent, 'SIGTERM');
  await until('the watcher to see its parent gone', () => output.includes('parent gone'), 15_000);
}, 60_000);
