// The Maelstrom lin-kv node, driven the way Maelstrom drives it: three processes whose stdout
// lines are routed to each other's stdin, and a client sending reads, writes and cas.
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

interface Message {
  readonly src: string;
  readonly dest: string;
  readonly body: { readonly type: string; readonly msg_id?: number; readonly in_reply_to?: number; readonly [key: string]: unknown };
}

const nodes = new Map<string, ChildProcess>();
const replies = new Map<number, Message>();

afterAll(() => {
  for (const child of nodes.values()) child.kill('SIGKILL');
});

function start(ids: string[]): void {
  for (const id of ids) {
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '../src/maelstrom/lin-kv.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
    nodes.set(id, child);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const message = JSON.parse(line) as Message;
      if (message.dest.startsWith('c')) {
        if (message.body.in_reply_to !== undefined) replies.set(message.body.in_reply_to, message);
        return;
      }
      nodes.get(message.dest)?.stdin!.write(`${line}\n`);
    });
  }
}

let clientId = 1;
async function call(node: string, body: Record<string, unknown>): Promise<Message['body']> {
  const msgId = clientId++;
  nodes.get(node)!.stdin!.write(`${JSON.stringify({ src: 'c1', dest: node, body: { ...body, msg_id: msgId } })}\n`);
  for (let attempt = 0; attempt < 400; attempt += 1) {
    const reply = replies.get(msgId);
    if (reply !== undefined) return reply.body;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no reply to ${JSON.stringify(body)}`);
}

async function retry(node: string, body: Record<string, unknown>): Promise<Message['body']> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const reply = await call(node, body);
    if (!(reply.type === 'error' && reply.code === 11)) return reply;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the cluster stayed unavailable');
}

describe('the Maelstrom lin-kv node', () => {
  it('initialises, elects a leader and serves read, write and cas from any node', async () => {
    const ids = ['n1', 'n2', 'n3'];
    start(ids);
    for (const id of ids) expect(await call(id, { type: 'init', node_id: id, node_ids: ids })).toMatchObject({ type: 'init_ok' });
    expect(await retry('n1', { type: 'write', key: 1, value: 10 })).toMatchObject({ type: 'write_ok' });
    expect(await retry('n2', { type: 'read', key: 1 })).toMatchObject({ type: 'read_ok', value: 10 });
    expect(await retry('n3', { type: 'cas', key: 1, from: 10, to: 11 })).toMatchObject({ type: 'cas_ok' });
    expect(await retry('n3', { type: 'cas', key: 1, from: 10, to: 12 })).toMatchObject({ type: 'error', code: 22 });
    expect(await retry('n1', { type: 'read', key: 1 })).toMatchObject({ type: 'read_ok', value: 11 });
    expect(await retry('n2', { type: 'read', key: 404 })).toMatchObject({ type: 'error', code: 20 });
    expect(await retry('n2', { type: 'cas', key: 404, from: 1, to: 2 })).toMatchObject({ type: 'error', code: 20 });
  }, 60_000);
});
