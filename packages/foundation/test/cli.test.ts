// The `foundation` command line against real nodes: in-process for the commands' output, and
// as a real process for `start`, signals and exit codes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../src/cli/commands';
import { startNode } from '../src/index';
import type { FoundationNode } from '../src/index';
import { freePort } from '../src/options';
import { fillDiskUnder } from './support/full-disk';
import { accepts, until } from './support/loopback';

const SECRET = 'cli-test-secret-0123456789';
const root = mkdtempSync(join(tmpdir(), 'foundation-cli-'));
const MAIN = join(__dirname, '../src/cli/main.ts');
const TSCONFIG = join(__dirname, '../../../tsconfig.json');
let alpha: FoundationNode;
let beta: FoundationNode;

beforeAll(async () => {
  const [portA, portB] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
  const ids = [`alpha@127.0.0.1:${portA}`, `beta@127.0.0.1:${portB}`];
  const common = { secret: SECRET, voters: ids, timing: 'local' as const, config: { defaults: { limits: { rate: 10 } }, updatablePaths: ['limits'] } };
  [alpha, beta] = await Promise.all([
    startNode({ ...common, name: ids[0]!, dataDir: join(root, 'alpha') }),
    startNode({ ...common, name: ids[1]!, seeds: [ids[0]!], dataDir: join(root, 'beta') }),
  ]);
  const settled = (): boolean => alpha.registry.lookupAll('foundation.node').length === 2 && [alpha, beta].some((node) => node.status().raft.role === 'leader');
  for (let attempt = 0; attempt < 400 && !settled(); attempt += 1) await new Promise((resolve) => setTimeout(resolve, 25));
  alpha.registry.register('billing', { queue: 'b' }, { capabilities: ['invoices', 'refunds'] });
  alpha.registry.flush();
}, 30_000);

afterAll(async () => {
  await Promise.all([alpha?.stop(), beta?.stop()]);
  rmSync(root, { recursive: true, force: true });
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    out: (text) => (out += text),
    err: (text) => (err += text),
    env: { FOUNDATION_SECRET: SECRET, FOUNDATION_NODE: beta.id },
    stopSignal: () => new Promise(() => undefined),
  });
  return { code, out, err };
}

describe('foundation (in process)', () => {
  it('status lists every node with its Raft role and the leader', async () => {
    const { code, out } = await cli('status');
    expect(code).toBe(0);
    expect(out).toMatch(/^NODE\s+ROLE\s+TERM\s+COMMIT/);
    expect(out).toContain(alpha.id);
    expect(out).toContain(beta.id);
    expect(out).toMatch(/leader: (alpha|beta)@127\.0\.0\.1:\d+/);
    const json = JSON.parse((await cli('status', '--json')).out) as { node: string; status: { raft: { role: string } } }[];
    expect(json.map((entry) => entry.node).sort()).toEqual([alpha.id, beta.id].sort());
    expect(json.filter((entry) => entry.status.raft.role === 'leader')).toHaveLength(1);
  });

  it('members shows the node asked and its views', async () => {
    const { code, out } = await cli('members', '--node', alpha.id);
    expect(code).toBe(0);
    expect(out.split('\n')[0]).toContain(`${alpha.id}: full-mesh, 1 members`);
    expect(out).toContain(beta.id);
  });

  it('services shows registrations from every node with health and capabilities', async () => {
    for (let attempt = 0; attempt < 100 && !beta.registry.listServices().includes('billing'); attempt += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    const { code, out } = await cli('services');
    expect(code).toBe(0);
    expect(out).toMatch(new RegExp(`billing\\s+${alpha.id.replace(/\./g, '\\.')}\\s+healthy\\s+unique\\s+invoices,refunds`));
    expect(out.match(/foundation\.node/g)).toHaveLength(2);
  });

  it('config set commits cluster-wide; config get reads it, linearizably with --consensus', async () => {
    const set = await cli('config', 'set', 'limits.rate', '42');
    expect(set).toMatchObject({ code: 0, out: '42\n' });
    expect(await cli('config', 'get', 'limits.rate', '--consensus', '--node', alpha.id)).toMatchObject({ code: 0, out: '42\n' });
    expect(JSON.parse((await cli('config', 'get', '--json')).out)).toEqual({ limits: { rate: 42 } });
  });

  it('a refused update exits 1 with the reason; bad usage exits 2', async () => {
    const refused = await cli('config', 'set', 'secrets.key', '"x"');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/may not be updated|not updatable|forbidden/i);
    expect((await cli('frobnicate')).code).toBe(2);
    expect((await cli('config', 'set', 'limits.rate')).code).toBe(2);
    expect((await cli('status', '--bogus')).code).toBe(2);
  });

  it('an unreachable node or a wrong secret exits 1 and says so', async () => {
    const port = await freePort('127.0.0.1');
    const unreachable = await cli('status', '--node', `ghost@127.0.0.1:${port}`, '--timeout', '300');
    expect(unreachable.code).toBe(1);
    expect(unreachable.err).toContain('could not reach');
    let err = '';
    const code = await runCli(['status', '--timeout', '500'], {
      out: () => undefined,
      err: (text) => (err += text),
      env: { FOUNDATION_SECRET: 'not-the-cluster-secret-at-all', FOUNDATION_NODE: alpha.id },
      stopSignal: () => new Promise(() => undefined),
    });
    expect(code).toBe(1);
    expect(err).toContain('could not reach');
  });
});

describe('foundation start (in process)', () => {
  it('says on stderr what goes wrong with the node after it started: a Raft storage failure', async () => {
    const dataDir = join(root, 'epsilon');
    const port = await freePort('127.0.0.1');
    const id = `epsilon@127.0.0.1:${port}`;
    let out = '';
    let err = '';
    let stop = (): void => undefined;
    const running = runCli(['start', '--name', id, '--seeds', alpha.id, '--timing', 'local', '--data-dir', dataDir], {
      out: (text) => (out += text),
      err: (text) => (err += text),
      env: { FOUNDATION_SECRET: SECRET },
      stopSignal: () => new Promise<void>((resolve) => (stop = resolve)),
    });
    try {
      await until('the node to start', () => out.includes('is up at'), 30_000);
      fillDiskUnder(dataDir);
      // The learner's next append, of this write, fails on its full disk.
      await alpha.kv.put('for-epsilon', 1);
      // Nothing was said: the node went on running with Raft stopped.
      await until('the failure to be said', () => err.includes(id));
      expect(err).toMatch(new RegExp(`^foundation: ${id.replace(/\./g, '\\.')}: raft error: .*failed \\(code 2401\\)\n`));
    } finally {
      stop();
      expect(await running).toBe(0);
    }
  }, 60_000);
});

describe('foundation (a real process)', () => {
  it('start runs a node that joins the cluster, answers status, and stops on SIGINT with exit code 0', async () => {
    const port = await freePort('127.0.0.1');
    const id = `gamma@127.0.0.1:${port}`;
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'start', '--name', id, '--seeds', alpha.id, '--timing', 'local', '--data-dir', join(root, 'gamma')], {
      env: { ...process.env, FOUNDATION_SECRET: SECRET, TSX_TSCONFIG_PATH: TSCONFIG },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      for (let attempt = 0; attempt < 600 && !out.includes('is up at'); attempt += 1) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(out).toContain(`node ${id} is up at ws://127.0.0.1:${port}`);
      for (let attempt = 0; attempt < 200 && alpha.registry.lookupAll('foundation.node').length < 3; attempt += 1) await new Promise((resolve) => setTimeout(resolve, 25));
      const { code, out: status } = await cli('status', '--node', id);
      expect(code).toBe(0);
      expect(status).toContain(alpha.id);
      expect(status).toMatch(new RegExp(`${id.replace(/\./g, '\\.')}\\s+learner`));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(out).toContain(`stopping ${id}`);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 60_000);

  it.each(['SIGTERM', 'SIGINT'] as const)('start stops on %s while it is still joining, with exit code 0', async (signal) => {
    const port = await freePort('127.0.0.1');
    const id = `delta@127.0.0.1:${port}`;
    const deadSeed = `dead@127.0.0.1:${await freePort('127.0.0.1')}`;
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'start', '--name', id, '--seeds', deadSeed, '--timing', 'local', '--data-dir', join(root, `delta-${signal}`)], {
      env: { ...process.env, FOUNDATION_SECRET: SECRET, TSX_TSCONFIG_PATH: TSCONFIG },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, by) => resolve({ code, signal: by })));
    try {
      // Listening means it is joining: it tries the dead seed until its 30 s joinTimeoutMs.
      for (let attempt = 0; attempt < 600 && (await accepts(port)) === false; attempt += 1) await new Promise((resolve) => setTimeout(resolve, 50));
      child.kill(signal);
      // The signal's default action ended the process (code null), with nothing said.
      expect(await exited).toEqual({ code: 0, signal: null });
      expect(out).toContain(`stopped ${id} before it joined`);
      expect(err).toBe('');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 60_000);
});

