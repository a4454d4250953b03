// What the command line prints comes from the cluster: names, errors and config values any
// member can set. Found in review: they reached the terminal as they came, so a peer could send
// escape sequences that clear the screen, retitle the window or rewrite what was printed before.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FoundationError } from '@foundation/core';
import { createTransport } from '@foundation/channels';
import type { Transport } from '@foundation/channels';
import { freePort, urlOf } from '../options';
import { foundationChannels } from '../start-node';
import { runCli } from './commands';

const SECRET = 'terminal-output-secret-0123456789';
/** Whether `text` holds a control character other than newline and tab (C0, DEL or C1). */
const holdsControl = (text: string): boolean => [...text].some((character) => {
  const code = character.charCodeAt(0);
  return (code < 0x20 && character !== '\n' && character !== '\t') || (code >= 0x7f && code <= 0x9f);
});
let node: Transport;

beforeAll(async () => {
  const port = await freePort('127.0.0.1');
  node = createTransport({ nodeId: `stand-in@127.0.0.1:${port}`, listen: { host: '127.0.0.1', port }, security: { secret: SECRET }, channels: foundationChannels(), resolveAddress: urlOf });
  node.onRequest('control', (message) => {
    switch ((message.payload as { kind?: unknown }).kind) {
      case 'foundation/cluster-status':
        return [{ node: 'evil@127.0.0.1:1', error: 'boom\u001b]0;retitled\u0007' }];
      case 'foundation/services':
        return [{ name: 'service\u001b[2J', node: 'evil@127.0.0.1:1', health: 'up', capabilities: ['fast\u009b31m'], mode: 'local', scope: 'local' }];
      case 'foundation/config/get':
        return 'value\u001b[1A\u001b[2K\u007f';
      default:
        throw new FoundationError({ type: 'invalid_input', message: 'refused\u001b[2J\r' });
    }
  });
  await node.ready();
});

afterAll(async () => {
  await node.close();
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (text) => (out += text), err: (text) => (err += text), env: { FOUNDATION_SECRET: SECRET }, stopSignal: () => new Promise(() => undefined) });
  return { code, out, err };
}

describe('foundation output', () => {
  it.each([
    [['status'], 0, 'boom\\u001b]0;retitled\\u0007'],
    [['services'], 0, 'service\\u001b[2J'],
    [['config', 'get', 'some.path'], 0, 'value\\u001b[1A\\u001b[2K\\u007f'],
    [['config', 'set', 'some.path', '1'], 1, 'refused\\u001b[2J\\u000d'],
    [['services', '--json'], 0, 'fast\\u009b31m'],
  ])('foundation %j prints the cluster\'s control characters as escapes, never as they came', async (argv, expectedCode, shown) => {
    const { code, out, err } = await cli(...argv, '--node', node.nodeId, '--timeout', '5000');
    expect(code).toBe(expectedCode);
    expect(holdsControl(out + err)).toBe(false);
    expect(out + err).toContain(shown);
  });
});
