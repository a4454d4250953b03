// Running the system tools the lab needs (ip, nft) and reporting their failures in full.
import { execFile, spawnSync } from 'node:child_process';

export class CommandError extends Error {
  constructor(
    readonly command: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${command.join(' ')} failed (exit ${String(exitCode)}): ${stderr.trim() || '(no output)'}`);
    this.name = 'CommandError';
  }
}

/** Runs `command` with `args`; resolves with stdout, rejects with a CommandError. */
export function run(command: string, args: readonly string[], options: { readonly input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, [...args], { encoding: 'utf8', timeout: 15_000 }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout);
      else reject(new CommandError([command, ...args], typeof error.code === 'number' ? error.code : null, stderr || error.message));
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** The same, synchronously: for the exit handler, where nothing asynchronous runs any more. */
export function runSync(command: string, args: readonly string[]): { readonly ok: boolean; readonly stdout: string; readonly stderr: string } {
  const result = spawnSync(command, [...args], { encoding: 'utf8', timeout: 15_000 });
  return { ok: result.status === 0, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}
