// The command line's handling of its arguments: bad usage exits 2 before anything is dialled,
// and what is asked reaches the node as given (a stand-in node on loopback answers).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTransport } from '@foundation/channels';
import type { Transport } from '@foundation/channels';
import { freePort, urlOf } from '../options';
import { foundationChannels } from '../start-node';
import { runCli } from './commands';

const SECRET = 'commands-test-secret-0123456789';
let node: Transport;
/** The control requests the stand-in node received; it answers each with its `value`. */
const asked: unknown[] = [];

beforeAll(async () => {
  const port = await freePort('127.0.0.1');
  node = createTransport({ nodeId: `stand-in@127.0.0.1:${port}`, listen: { host: '127.0.0.1', port }, security: { secret: SECRET }, channels: foundationChannels(), resolveAddress: urlOf });
  node.onRequest('control', (message) => {
    asked.push(message.payload);
    const { path, value } = message.payload as { path?: unknown; value?: unknown };
    return path === 'never.answered' ? new Promise(() => undefined) : (value ?? null);
  });
  await node.ready();
});

afterAll(async () => {
  await node.close();
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    out: (text) => (out += text),
    err: (text) => (err += text),
    env: { FOUNDATION_SECRET: SECRET },
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
