// A command nested deeper than the cluster state machine applies (MAX_COMMAND_DEPTH) is refused
// where it is proposed, with an error that says so. Found in review of 0027efa: the state
// machine refused it with a null result, and `kv.put` read that as a put's result and failed
// with a TypeError; every other caller heard of no refusal at all.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode } from '../src/index';
import type { FoundationNode } from '../src/index';
import { MAX_COMMAND_DEPTH } from '../src/consensus/cluster-state-machine';
import { freePort } from '../src/options';

const root = mkdtempSync(join(tmpdir(), 'foundation-deep-command-'));
let node: FoundationNode | undefined;
afterAll(async () => {
  await node?.stop().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

const nested = (depth: number): unknown => {
  let value: unknown = 1;
  for (let level = 0; level < depth; level += 1) value = [value];
  return value;
};

describe('a command nested too deep', () => {
  it('is refused where it is proposed, with invalid_input, and nothing reaches the log', async () => {
    const name = `solo@127.0.0.1:${await freePort('127.0.0.1')}`;
    node = await startNode({ name, secret: 'a-test-secret-of-enough-bytes', voters: [name], timing: 'local', dataDir: join(root, 'solo') });
    const before = node.consensus.stateMachine.appliedIndex();
    // The command is { op, key, value } inside the state machine's { stream, command }: the
    // value may nest two levels less than the bound.
    await expect(node.kv.put('k', nested(MAX_COMMAND_DEPTH - 1))).rejects.toMatchObject({ type: 'invalid_input', context: { maxDepth: MAX_COMMAND_DEPTH - 1 } });
    await expect(node.consensus.propose('kv', { op: 'put', key: 'k', value: nested(MAX_COMMAND_DEPTH - 1) })).rejects.toMatchObject({ type: 'invalid_input' });
    expect(node.consensus.stateMachine.appliedIndex()).toBe(before);
    await expect(node.kv.put('k', nested(MAX_COMMAND_DEPTH - 2))).resolves.toBeNull();
    await expect(node.kv.get('k')).resolves.toEqual(nested(MAX_COMMAND_DEPTH - 2));
  }, 30_000);
});
