// callKv's retry rule, against a node whose registry and runtime are scripted: a read is retried
// with another worker whenever the worker went; a write only when the call never reached one.
// (The end-to-end paths run in demo.test.ts; losing a worker mid-call on cue needs this.)
import { describe, expect, it } from '@jest/globals';
import { FoundationError } from 'foundation';
import type { FoundationNode } from 'foundation';
import { callKv } from '../src/node/kv-service';
import type { KvReply, KvRequest } from '../src/node/kv-worker';

const NOPROC = 5701;
const CALL_EXITED = 5704;
const NOCONNECTION = 5714;

/** A node with two workers whose calls fail with `failures` in turn, then answer. */
function scriptedNode(failures: number[]): { node: FoundationNode; calls: string[] } {
  const workers = ['<a@127.0.0.1:1.1.1>', '<b@127.0.0.1:2.1.1>'];
  const calls: string[] = [];
  let routed = 0;
  const node = {
    id: 'a@127.0.0.1:1',
    registry: { route: () => ({ target: workers[routed++ % workers.length] }) },
    runtime: {
      call: async (target: { toString(): string }, request: KvRequest): Promise<KvReply> => {
        calls.push(target.toString());
        const code = failures.shift();
        if (code !== undefined) throw new FoundationError({ type: `failure-${code}`, code, message: `failed with ${code}` });
        return { ok: true, op: request.op, key: request.key, found: false, servedBy: { node: 'b', worker: target.toString() } };
      },
    },
  };
  return { node: node as unknown as FoundationNode, calls };
}

const request = (op: KvRequest['op']): KvRequest => ({ op, key: 'k', value: op === 'put' ? 1 : undefined, via: 'a@127.0.0.1:1' });

describe('callKv', () => {
  it('retries a read with another worker whenever the worker went', async () => {
    for (const code of [NOPROC, CALL_EXITED, NOCONNECTION]) {
      const { node, calls } = scriptedNode([code]);
      const reply = await callKv(node, request('get'), 'round-robin');
      expect({ code, reply }).toMatchObject({ code, reply: { ok: true, attempts: 2 } });
      expect(new Set(calls).size).toBe(2);
    }
  });

  it('retries a write only when the call never reached a worker (noproc)', async () => {
    const { node, calls } = scriptedNode([NOPROC]);
    expect(await callKv(node, request('put'), 'round-robin')).toMatchObject({ ok: true, attempts: 2 });
    expect(calls).toHaveLength(2);
  });

  it('answers 503 for a write whose worker exited or whose node was lost during the call, and does not make it again', async () => {
    for (const op of ['put', 'delete'] as const) {
      for (const code of [CALL_EXITED, NOCONNECTION]) {
        const { node, calls } = scriptedNode([code]);
        const reply = await callKv(node, request(op), 'round-robin');
        expect({ op, code, reply }).toMatchObject({ op, code, reply: { ok: false, status: 503, attempts: 1, error: `failed with ${code}; the ${op} may have taken effect` } });
        expect(calls).toHaveLength(1);
      }
    }
  });

  it('does not retry a failure that is not about the worker being gone', async () => {
    const { node, calls } = scriptedNode([6012]);
    expect(await callKv(node, request('get'), 'round-robin')).toMatchObject({ ok: false, status: 503, error: 'failed with 6012' });
    expect(calls).toHaveLength(1);
  });
});
