// The command line's handling of its arguments: bad usage exits 2 before anything is dialled.
import { describe, expect, it } from '@jest/globals';
import { runCli } from './commands';

const SECRET = 'commands-test-secret-0123456789';

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
});
