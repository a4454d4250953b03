// Starts the whole demo (src/main.ts: the orchestrator and its five node processes) as a child
// process and waits until it reports ready over IPC. For the tests and the screenshot script.
//
// The demo runs in a process group of its own (`detached`), so that whatever happens to the
// caller, one `kill(-pid)` ends the orchestrator and every node it started. `stop()` first asks
// for the graceful stop that Ctrl-C gives (SIGTERM), then kills the group; it never throws.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { DemoReady } from './protocol';

export interface StartDemoOptions {
  /** apps/demo (the directory with src/main.ts). */
  readonly appDirectory: string;
  /** Options for src/main.ts, such as `--restart-delay 2`. */
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Gives up (and kills the group) when the demo is not ready by then. Default 60 s. */
  readonly timeoutMs?: number;
}

export interface RunningDemo {
  readonly ready: DemoReady;
  readonly child: ChildProcess;
  /** Everything the demo printed so far (stdout and stderr). */
  output(): string;
  /** Graceful stop (SIGTERM), then SIGKILL to the whole group after `graceMs`. Resolves once the orchestrator exited. */
  stop(graceMs?: number): Promise<void>;
}

function isReady(message: unknown): message is DemoReady {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'demo-ready';
}

/** SIGKILL to the demo's process group; quiet when it is already gone. */
export function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is gone already.
  }
}

export function startDemo(options: StartDemoOptions): Promise<RunningDemo> {
  const rootTsconfig = join(options.appDirectory, '..', '..', 'tsconfig.json');
  const child = spawn(process.execPath, ['--import', 'tsx', join(options.appDirectory, 'src', 'main.ts'), ...(options.args ?? [])], {
    cwd: options.appDirectory,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, NO_COLOR: '1', TSX_TSCONFIG_PATH: rootTsconfig, ...options.env },
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });

  const stop = async (graceMs = 15_000): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGTERM');
      } catch {
        // gone already
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
    }
    // The orchestrator stops its nodes before it exits; anything left in the group goes now.
    killGroup(child);
    await exited;
  };

  return new Promise<RunningDemo>((resolve, reject) => {
    let settled = false;
    const fail = (reason: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      killGroup(child);
      reject(new Error(`${reason}\n--- demo output ---\n${output}`));
    };
    const timer = setTimeout(() => fail(`the demo was not ready within ${options.timeoutMs ?? 60_000} ms`), options.timeoutMs ?? 60_000);
    child.once('error', (error) => fail(`the demo could not start: ${error.message}`));
    child.once('exit', (code, signal) => fail(`the demo exited (${signal ?? `code ${String(code)}`}) before it was ready`));
    child.on('message', (message: unknown) => {
      if (!isReady(message) || settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ready: message, child, output: () => output, stop });
    });
  });
}
