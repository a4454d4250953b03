// The command line's handling of its arguments: bad usage exits 2 before anything is dialled,
// and what is asked reaches the node as given (a stand-in node on loopback answers).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server, Socket } from 'node:net';
import { createTransport } from '@foundation/channels';
import type { Transport } from '@foundation/channels';
import { freePort, urlOf } from '../options';
import { foundationChannels } from '../start-node';
import { runCli } from './commands';

const SECRET = 'commands-test-secret-0123456789';
let node: Transport;
/** A stand-in reached through `proxy`, which holds the first connection (the link's connection 0) back for CONNECT_DELAY_MS. */
let slow: Transport;
let proxy: Server;
const proxied = new Set<Socket>();
const CONNECT_DELAY_MS = 600;
/** How long `slow` takes to answer: less than the --timeout below, more than what connecting leaves of it. */
const ANSWER_DELAY_MS = 1200;
/** The control requests the stand-in node received; it answers each with its `value`. */
const asked: unknown[] = [];
/** What the stand-in node answers to `foundation/cluster-status`. */
let clusterStatus: unknown[] = [];

beforeAll(async () => {
  const port = await freePort('127.0.0.1');
  node = createTransport({ nodeId: `stand-in@127.0.0.1:${port}`, listen: { host: '127.0.0.1', port }, security: { secret: SECRET }, channels: foundationChannels(), resolveAddress: urlOf });
  node.onRequest('control', (message) => {
    asked.push(message.payload);
    const { kind, path, value } = message.payload as { kind?: unknown; path?: unknown; value?: unknown };
    if (kind === 'foundation/cluster-status') return clusterStatus;
    return path === 'never.answered' ? new Promise(() => undefined) : (value ?? null);
  });
  await node.ready();

  // The node id names the proxy's port; the stand-in listens on another behind it.
  const [proxyPort, slowPort] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
  slow = createTransport({ nodeId: `slow@127.0.0.1:${proxyPort}`, listen: { host: '127.0.0.1', port: slowPort }, security: { secret: SECRET }, channels: foundationChannels(), resolveAddress: urlOf });
  slow.onRequest('control', () => new Promise((resolve) => setTimeout(() => resolve('late'), ANSWER_DELAY_MS)));
  await slow.ready();
  proxy = createServer((client) => {
    proxied.add(client);
    client.pause();
    // Only connecting is slow: the connection the control lane opens later goes straight through.
    const delay = proxied.size === 1 ? CONNECT_DELAY_MS : 0;
    setTimeout(() => {
      const upstream = connect(slowPort, '127.0.0.1', () => {
        client.pipe(upstream).pipe(client);
        client.resume();
      });
      proxied.add(upstream);
      const end = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    }, delay);
  });
  await new Promise<void>((resolve) => proxy.listen(proxyPort, '127.0.0.1', resolve));
});

afterAll(async () => {
  for (const socket of proxied) socket.destroy();
  await new Promise((resolve) => proxy.close(resolve));
  await Promise.all([node.close(), slow.close()]);
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return cliWith({ FOUNDATION_SECRET: SECRET }, ...argv);
}

async function cliWith(env: NodeJS.ProcessEnv, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    out: (text) => (out += text),
    err: (text) => (err += text),
    env,
    stopSignal: () => new Promise(() => undefined),
  });
  return { code, out, err };
}

describe('foundation arguments', () => {
  it('a malformed --node, --port, --name, --seeds or --voters is bad usage, not a failed request', async () => {
    const cases: [string[], string][] = [
      [['status', '--node', 'not-a-node-id'], '--node must be a node id name@host:port (got "not-a-node-id")'],
      [['start', '--port', '99999'], '--port must be an integer from 0 to 65535 (got "99999")'],
      [['start', '--name', 'bad name!'], '--name must be 1–63 letters'],
      [['start', '--seeds', 'alpha@127.0.0.1:7001,not-a-node-id'], '--seeds holds "not-a-node-id", not a node id'],
      [['start', '--voters', 'nobody'], '--voters holds "nobody", not a node id'],
    ];
    for (const [argv, message] of cases) {
      const { code, err } = await cli(...argv);
      expect({ argv, code }).toEqual({ argv, code: 2 });
      expect(err).toContain(message);
      expect(err).not.toContain('startNode:');
    }
  });

  it('an argument status, members or services does not take is bad usage, not ignored', async () => {
    // `foundation members b@127.0.0.1:7002` asked the node in FOUNDATION_NODE (or --node) and
    // printed its answer as if it were b's; --consensus reads nothing but a config path.
    asked.length = 0;
    const cases: [string[], string][] = [
      [['members', 'other@127.0.0.1:1', '--node', node.nodeId], 'members takes no arguments (got "other@127.0.0.1:1")'],
      [['status', '--node', node.nodeId, 'extra'], 'status takes no arguments (got "extra")'],
      [['services', '--node', node.nodeId, '--consensus'], '--consensus is for config get'],
      [['config', 'set', 'limits.rate', '5', '--consensus', '--node', node.nodeId], '--consensus is for config get'],
    ];
    for (const [argv, message] of cases) {
      const { code, err } = await cli(...argv);
      expect({ argv, code }).toEqual({ argv, code: 2 });
      expect(err).toContain(message);
    }
    expect(asked).toEqual([]);
  });

  it('an option startNode or the transport refuses (a short secret, a port the name contradicts, half the TLS files) is bad usage', async () => {
    // Each exited 1, as a failed request does, where the options the command checks itself exit 2.
    const cases: [NodeJS.ProcessEnv, string[], string][] = [
      [{ FOUNDATION_SECRET: 'short' }, ['start', '--name', 'a@127.0.0.1:7001'], 'secret must be at least 16 bytes'],
      [{ FOUNDATION_SECRET: SECRET }, ['start', '--name', 'a@127.0.0.1:7001', '--port', '7002'], 'port is 7002, but the node id a@127.0.0.1:7001 says 7001'],
      [{ FOUNDATION_SECRET: 'short' }, ['status', '--node', node.nodeId], 'secret: must be at least 16 bytes'],
      [{ FOUNDATION_SECRET: SECRET, FOUNDATION_TLS_CERT: '/nonexistent/a.crt' }, ['status', '--node', node.nodeId], 'tls needs all of'],
    ];
    for (const [env, argv, message] of cases) {
      const { code, err } = await cliWith(env, ...argv);
      expect({ argv, code }).toEqual({ argv, code: 2 });
      expect(err).toContain(message);
      expect(err).toContain('Run foundation --help for usage.');
    }
  });

  it('a --secret-file that cannot be read, or holds nothing, is bad usage naming the file', async () => {
    // It failed with exit code 1 and the raw ENOENT of readFileSync, as if a node had answered.
    const empty = join(tmpdir(), `foundation-empty-secret-${process.pid}`);
    writeFileSync(empty, '\n');
    try {
      for (const [file, reason] of [
        ['/nonexistent/secret', 'cannot be read'],
        [empty, 'is empty'],
      ] as const) {
        const { code, err } = await cli('status', '--node', 'ghost@127.0.0.1:1', '--secret-file', file);
        expect({ file, code }).toEqual({ file, code: 2 });
        expect(err).toContain(`--secret-file ${JSON.stringify(file)} ${reason}`);
      }
    } finally {
      rmSync(empty, { force: true });
    }
  });

  it('a --timeout that is blank, or longer than a timer can wait, is bad usage', async () => {
    for (const timeout of ['--timeout=', '--timeout= ', '--timeout=10000000000', '--timeout=2147483648']) {
      const { code, err } = await cli('status', '--node', 'ghost@127.0.0.1:1', timeout);
      expect({ timeout, code }).toEqual({ timeout, code: 2 });
      expect(err).toContain('--timeout must be an integer from 0 to 2147483647');
    }
  });

  it('config set waits as long as --timeout says, not its own 10 s', async () => {
    const { code, err } = await cli('config', 'set', 'never.answered', '1', '--node', node.nodeId, '--timeout', '2000');
    expect(code).toBe(1);
    expect(err).toContain(`no reply from ${node.nodeId} on "control" within 2000 ms`);
  });

  it('--timeout is one budget for the whole command: what connecting took is not there again for the reply', async () => {
    // Connecting takes CONNECT_DELAY_MS of the 1500; the answer, after 1200 more, comes too late.
    // (Connecting and then asking with the whole 1500 again took the answer.)
    const { code, out, err } = await cli('config', 'get', 'anything', '--node', slow.nodeId, '--timeout', '1500');
    expect({ code, out }).toEqual({ code: 1, out: '' });
    expect(err).toContain(`no reply from ${slow.nodeId} on "control" within 1500 ms`);
  });

  it('status tells the node what is left of --timeout, less room for the reply, to wait for its peers', async () => {
    asked.length = 0;
    expect(await cli('status', '--node', node.nodeId, '--timeout', '1000')).toMatchObject({ code: 0 });
    expect(asked).toEqual([{ kind: 'foundation/cluster-status', timeoutMs: expect.any(Number) }]);
    const { timeoutMs } = asked[0] as { timeoutMs: number };
    expect(Number.isInteger(timeoutMs) && timeoutMs > 0 && timeoutMs < 1000).toBe(true);
  });

  it('status names under its table each node that judges cluster-wide config writes with its own config', async () => {
    const status = (id: string, configJudge?: unknown) => ({
      node: id,
      status: { id, raft: { role: 'follower', term: 2, commit: 9, leader: 'a@127.0.0.1:1' }, membership: { members: [], topology: 'mesh' }, processes: 1, services: 0, uptimeMs: 1000, ...(configJudge === undefined ? {} : { configJudge }) },
    });
    clusterStatus = [
      status('a@127.0.0.1:1', { judge: 'cluster' }),
      status('b@127.0.0.1:2', { judge: 'node', code: 1203, message: 'db.password: Required' }),
      // A node of an earlier version says nothing of its judge.
      status('c@127.0.0.1:3'),
    ];
    try {
      const { code, out } = await cli('status', '--node', node.nodeId);
      expect(code).toBe(0);
      expect(out).toContain('leader: a@127.0.0.1:1\nb@127.0.0.1:2 judges cluster-wide config writes with its own config: db.password: Required (1203)\n');
      expect(out).not.toContain('a@127.0.0.1:1 judges');
      expect(out).not.toContain('c@127.0.0.1:3 judges');
    } finally {
      clusterStatus = [];
    }
  });

  it('a negative number is a value, not an option', async () => {
    asked.length = 0;
    expect(await cli('config', 'set', 'limits.rate', '-5', '--node', node.nodeId)).toMatchObject({ code: 0, out: '-5\n' });
    expect(await cli('config', '--node', node.nodeId, 'set', 'limits.ratio', '-0.5')).toMatchObject({ code: 0, out: '-0.5\n' });
    expect(asked).toEqual([
      { kind: 'foundation/config/set', path: 'limits.rate', value: -5 },
      { kind: 'foundation/config/set', path: 'limits.ratio', value: -0.5 },
    ]);
    // As an option's value it is read as given, and refused as such.
    const { code, err } = await cli('status', '--node', node.nodeId, '--timeout', '-5');
    expect(code).toBe(2);
    expect(err).toContain('--timeout must be an integer from 0 to 2147483647 (got "-5")');
  });
});
