// The README's "Getting started", run as a test so that it stays true. It runs in a temporary
// working directory, where the node keeps its Raft log when given no options.
import { expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode } from './index';

it('runs the README example', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'foundation-readme-'));
  const workingDirectory = process.cwd();
  process.chdir(directory);
  try {
    const node = await startNode();
    await node.kv.put('greeting', 'hello'); // committed through Raft (a group of one)
    expect([await node.kv.get('greeting'), node.health().status]).toEqual(['hello', 'healthy']);
    await node.stop();

    // With no options: an ephemeral port of 127.0.0.1, and Raft's log under .foundation/<name>-<port>.
    const [name, port] = node.id.split('@') as [string, string];
    expect(port).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(existsSync(join(directory, '.foundation', `${name}-${port.split(':')[1]!}`))).toBe(true);
  } finally {
    process.chdir(workingDirectory);
    rmSync(directory, { recursive: true, force: true });
  }
});
