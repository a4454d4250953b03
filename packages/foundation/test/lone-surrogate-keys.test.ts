// A key or lock name holding a lone surrogate cannot be written to the log as it is: CBOR holds
// UTF-8, and the encoder writes U+FFFD in its place, so '\uD800' and '\uDC00' were one key in the
// log, and a read with the key as given (a local query) found nothing. Refused where proposed or
// read, with invalid_input, before anything reaches the log.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode } from '../src/index';
import type { FoundationNode } from '../src/index';
import { freePort } from '../src/options';

const root = mkdtempSync(join(tmpdir(), 'foundation-lone-surrogate-'));
let node: FoundationNode | undefined;
afterAll(async () => {
  await node?.stop().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

describe('a key or lock name with a lone surrogate', () => {
  it('is refused with invalid_input by the key-value store, the locks and their reads, and nothing reaches the log', async () => {
    const name = `solo@127.0.0.1:${await freePort('127.0.0.1')}`;
    node = await startNode({ name, secret: 'a-test-secret-of-enough-bytes', voters: [name], timing: 'local', dataDir: join(root, 'solo') });
    await node.kv.put('warm-up', 1);
    const before = node.consensus.stateMachine.appliedIndex();
    const refused = { type: 'invalid_input', context: { key: '\\ud800' } };
    await expect(node.kv.put('\uD800', 1)).rejects.toMatchObject(refused);
    await expect(node.kv.delete('\uD800')).rejects.toMatchObject(refused);
    await expect(node.kv.compareAndSet('\uD800', null, 1)).rejects.toMatchObject(refused);
    await expect(node.kv.get('\uD800')).rejects.toMatchObject(refused);
    await expect(node.consensus.propose('kv', { op: 'put', key: 'a\uDC00', value: 1 })).rejects.toMatchObject({ type: 'invalid_input', context: { key: 'a\\udc00' } });
    await expect(node.locks.acquire('\uD800')).rejects.toMatchObject(refused);
    await expect(node.locks.holder('\uD800')).rejects.toMatchObject(refused);
    expect(node.consensus.stateMachine.appliedIndex()).toBe(before);
    // A whole surrogate pair is a character like any other.
    await node.kv.put('\uD83D\uDE00', 2);
    await expect(node.kv.get('\uD83D\uDE00')).resolves.toBe(2);
  }, 30_000);
});
