// `foundation status` against a cluster with a node just killed: the node asked must answer
// within what is left of the command's --timeout, showing the peer it could not hear from as
// unreachable, rather than spend its own fixed wait on that peer and leave the command with no
// reply at all. (With the LAN timings a killed peer stays listed for the transport's 5 s grace,
// and a request to it waits for its link all along.)
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from '@foundation/channels';
import type { Transport } from '@foundation/channels';
import { runCli } from '../src/cli/commands';
import { startNode } from '../src/index';
import type { ClusterNodeStatus, FoundationNode } from '../src/index';
import { foundationChannels } from '../src/start-node';
import { freePort, urlOf } from '../src/options';

const SECRET = 'cli-status-deadline-secret-0123456789';
const ENTRY = join(__dirname, 'fixtures/node-child.ts');
const TSCONFIG = join(__dirname, '../../../tsconfig.json');
const root = mkdtempSync(join(tmpdir(), 'foundation-cli-deadline-'));
let alpha: FoundationNode;
let betaId: string;
let beta: ChildProcess | undefined;
/** A bare peer with the cluster's secret, asking alpha as the command line does. */
let asker: Transport;

async function until(predicate: () => boolean, what: string): Promise<void> {
  for (let attempt = 0; attempt < 800 && !predicate(); attempt += 1) await new Promise((resolve) => setTimeout(resolve, 25));
  if (!predicate()) throw new Error(`gave up waiting for ${what}`);
}

beforeAll(async () => {
  const [portA, portB] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
  const alphaId = `alpha@127.0.0.1:${portA}`;
  betaId = `beta@127.0.0.1:${portB}`;
  alpha = await startNode({ secret: SECRET, name: alphaId, voters: [alphaId], timing: 'lan', dataDir: join(root, 'alpha') });
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, JSON.stringify({ secret: SECRET, name: betaId, voters: [alphaId], seeds: [alphaId], timing: 'lan', dataDir: join(root, 'beta') })], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, TSX_TSCONFIG_PATH: TSCONFIG },
  });
  beta = child;
  await until(() => alpha.registry.lookupAll('foundation.node').length === 2, 'beta to register');
  // Killed: no goodbye, so alpha keeps beta listed through the transport's grace.
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  // Once alpha has seen the link drop, a request to beta waits for a new one (none is interrupted).
  await until(() => alpha.transport.stats().peers.some((peer) => peer.peer === betaId && peer.state === 'reconnecting'), 'alpha to see the link to beta drop');
  asker = createTransport({ nodeId: 'asker@127.0.0.1:1', listen: false, security: { secret: SECRET }, channels: foundationChannels(), resolveAddress: (id) => urlOf(id) });
  asker.connect(alpha.id);
  await until(() => asker.peers().includes(alpha.id), 'the asker to reach alpha');
}, 60_000);

afterAll(async () => {
  if (beta !== undefined && beta.exitCode === null && beta.signalCode === null) beta.kill('SIGKILL');
  await Promise.all([asker?.close(), alpha?.stop()]);
  rmSync(root, { recursive: true, force: true });
});

describe('foundation status with a node killed', () => {
  it('prints the table within --timeout 1000, the killed node marked unreachable', async () => {
    expect(alpha.registry.lookupAll('foundation.node').map((instance) => instance.node)).toContain(betaId);
    let out = '';
    let err = '';
    const code = await runCli(['status', '--node', alpha.id, '--timeout', '1000'], {
      out: (text) => (out += text),
      err: (text) => (err += text),
      env: { FOUNDATION_SECRET: SECRET },
      stopSignal: () => new Promise(() => undefined),
    });
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toMatch(new RegExp(`${alpha.id.replace(/\./g, '\\.')}\\s+leader`));
    expect(out).toMatch(new RegExp(`${betaId.replace(/\./g, '\\.')}\\s+unreachable`));
  });

  it('answers a cluster-status request within its timeoutMs, and refuses a timeoutMs that is no whole number of ms', async () => {
    // Nothing left to wait: the node answers at once, for itself, with beta unreachable.
    const statuses = (await asker.request(alpha.id, 'control', { kind: 'foundation/cluster-status', timeoutMs: 0 }, { timeout: 5000 })) as ClusterNodeStatus[];
    expect(statuses.map((entry) => [entry.node, 'status' in entry])).toEqual([
      [alpha.id, true],
      [betaId, false],
    ]);
    for (const timeoutMs of ['500', -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, null, { valueOf: 500 }, [500]]) {
      await expect(asker.request(alpha.id, 'control', { kind: 'foundation/cluster-status', timeoutMs }, { timeout: 5000 })).rejects.toThrow(/timeoutMs/);
    }
  });
});
