// A node process of the demo that cannot start (its port taken, say) exits with a failure code,
// so that the orchestrator's log and anything else watching it see a failure: it exited 0, and
// the orchestrator reported that the node "exited on its own (code 0)".
import { afterAll, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const appDirectory = join(__dirname, '..');
const dataDir = mkdtempSync(join(tmpdir(), 'demo-start-failure-'));
let taken: Server | null = null;

afterAll(async () => {
  await new Promise<void>((resolve) => (taken === null ? resolve() : taken.close(() => resolve())));
  rmSync(dataDir, { recursive: true, force: true });
});

it('exits 1 when its node cannot start, here because its port is taken', async () => {
  taken = createServer();
  const port = await new Promise<number>((resolve) => taken!.listen(0, '127.0.0.1', () => resolve((taken!.address() as { port: number }).port)));
  const id = `n1@127.0.0.1:${port}`;
  const launch = { name: 'n1', id, httpPort: 0, dataDir, roster: [{ id, voter: true }], workers: 1 };
  const child = spawn(process.execPath, ['--import', 'tsx', join(appDirectory, 'src', 'node', 'node-main.ts'), JSON.stringify(launch)], {
    cwd: appDirectory,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FOUNDATION_SECRET: 'demo-start-failure-secret-0123456789', DEMO_TRAFFIC: '0', TSX_TSCONFIG_PATH: join(appDirectory, '..', '..', 'tsconfig.json') },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  expect(stderr).toContain('n1 failed to start');
  expect(code).toBe(1);
}, 60_000);
