// The demo stops when the process that started it goes away. `npm start` runs it under
// `sh -c`, and a SIGTERM sent to npm alone (an editor's stop button, a process manager, `kill`
// with npm's pid) is passed on to that shell only, which dies of it without passing it on: the
// orchestrator and its five nodes went on running, with nothing left to stop them. Here the
// demo runs under `sh -c` as npm runs it, without an IPC channel (whose closing would stop it
// for another reason), and the shell alone gets the SIGTERM.
import { afterAll, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { killGroup } from '../src/demo-process';

const appDirectory = join(__dirname, '..');
const READY = 'Press Ctrl-C to stop.';

let shell: ChildProcess | null = null;
let output = '';

afterAll(() => {
  if (shell !== null) killGroup(shell);
});

/** Whether any process of the group led by `pid` is still there. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > giveUpAt) throw new Error(`gave up waiting for ${what}\n--- demo output ---\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

it('stops every node when the shell that npm start runs it in dies of a SIGTERM', async () => {
  const main = join(appDirectory, 'src', 'main.ts');
  shell = spawn('sh', ['-c', `"${process.execPath}" --import tsx "${main}" --workers 1 --no-traffic`], {
    cwd: appDirectory,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', TSX_TSCONFIG_PATH: join(appDirectory, '..', '..', 'tsconfig.json') },
  });
  shell.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  shell.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const group = shell.pid!;
  await until('the demo to be ready', () => output.includes(READY), 90_000);

  shell.kill('SIGTERM');
  await until('the shell to exit', () => shell!.exitCode !== null || shell!.signalCode !== null, 5_000);
  // The orchestrator stops its nodes gracefully, as on a SIGTERM of its own, and exits last.
  await until('every process of the demo to exit', () => !groupAlive(group), 30_000);
  expect(output).toContain('Stopped in');
}, 150_000);
