// A proposal forwarded to the leader whose reply is lost with the link is tried again; the log
// may then hold it twice, and it must take effect once (found by apps/chaos: a put applied
// twice overwrote later acknowledged writes, and a compareAndSet that took effect reported
// false). Two Raft nodes in this process, over an in-memory transport.
import { afterEach, describe, expect, it } from '@jest/globals';
import { PeerUnavailableError } from '@foundation/channels';
import { createMemoryPersistence } from '@foundation/raft';
import type { KvResult, RaftTransport } from '@foundation/raft';
import { createClusterConsensus } from '../src/consensus/cluster-consensus';
import type { ClusterConsensus, ForwardingTransport } from '../src/consensus/cluster-consensus';
import { ClusterStateMachine, REMEMBERED_PROPOSALS } from '../src/consensus/cluster-state-machine';

type Handler = (message: { readonly from: string; readonly payload: unknown }) => unknown;

/** Raft messages and forwarded requests between nodes of this process. */
function createLoopback() {
  const raftHandlers = new Map<string, Handler>();
  const requestHandlers = new Map<string, Handler>();
  /** Requests to deliver and then fail as if the link dropped before the reply. */
  let loseReplies = 0;
  const raftTransport = (self: string): RaftTransport => ({
    send(peer, _channel, payload) {
      const handler = raftHandlers.get(peer);
      if (handler === undefined) return false;
      queueMicrotask(() => handler({ from: self, payload }));
      return true;
    },
    onMessage(_channel, handler) {
      raftHandlers.set(self, handler);
      return () => raftHandlers.delete(self);
    },
  });
  const forwarding = (self: string): ForwardingTransport => ({
    async request(peer, _channel, payload) {
      const handler = requestHandlers.get(peer);
      if (handler === undefined) throw new PeerUnavailableError(peer, 'not connected');
      const reply = await handler({ from: self, payload });
      if (loseReplies > 0) {
        loseReplies -= 1;
        throw new PeerUnavailableError(peer, 'the link went down before the reply');
      }
      return reply;
    },
    onRequest(_channel, handler) {
      requestHandlers.set(self, handler);
      return () => requestHandlers.delete(self);
    },
  });
  return {
    raftTransport,
    forwarding,
    loseNextReplies(count: number) {
      loseReplies = count;
    },
  };
}

const started: ClusterConsensus[] = [];
afterEach(async () => {
  for (const consensus of started.splice(0)) await consensus.stop();
});

async function twoNodes(): Promise<{ leader: ClusterConsensus; follower: ClusterConsensus; loseNextReplies: (count: number) => void }> {
  const loopback = createLoopback();
  const make = (id: string): ClusterConsensus =>
    createClusterConsensus({
      nodeId: id,
      voters: ['leader'],
      contacts: ['leader'],
      transport: loopback.raftTransport(id),
      forwarding: loopback.forwarding(id),
      persistence: createMemoryPersistence(),
      raft: { tickMs: 5, electionTicks: 10, heartbeatTicks: 2 },
      timeoutMs: 3000,
    });
  const leader = make('leader');
  await leader.start();
  started.push(leader);
  for (let attempt = 0; attempt < 400 && leader.raft.status().role !== 'leader'; attempt += 1) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(leader.raft.status().role).toBe('leader');
  const follower = make('follower'); // not a voter: joins as a learner through the leader
  await follower.start();
  started.push(follower);
  return { leader, follower, loseNextReplies: loopback.loseNextReplies };
}

describe('a forwarded proposal whose reply is lost', () => {
  it('is applied once, and a compareAndSet that took effect reports true', async () => {
    const { leader, follower, loseNextReplies } = await twoNodes();
    await follower.propose('kv', { op: 'put', key: 'k', value: 1 });

    loseNextReplies(1);
    const cas = await follower.propose('kv', { op: 'cas', key: 'k', expected: 1, value: 2 });
    expect(cas.value as KvResult).toEqual({ op: 'cas', ok: true, current: 2 });

    // The leader's log holds the cas twice; the second copy must not have run again.
    loseNextReplies(1);
    const put = await follower.propose('kv', { op: 'put', key: 'k', value: 3 });
    await leader.propose('kv', { op: 'put', key: 'k', value: 4 });
    expect(await leader.read({ kind: 'kv', query: { op: 'get', key: 'k' } })).toBe(4);
    expect(put.value as KvResult).toEqual({ op: 'put', previous: 2 });
  });

  it('keeps a later write: the retried copy of an earlier put does not overwrite it', async () => {
    const { leader, follower, loseNextReplies } = await twoNodes();
    const seen: unknown[] = [];
    const log = follower.log<string>('notes');
    leader.log<string>('notes');
    log.onApplied(({ command }) => seen.push(command));
    loseNextReplies(1);
    await log.append('first');
    await leader.propose('notes', 'second');
    await follower.read({ kind: 'applied-index' });
    for (let attempt = 0; attempt < 200 && seen.length < 2; attempt += 1) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(seen).toEqual(['first', 'second']);
  });
});

describe('the cluster state machine', () => {
  it('answers a repeated proposal id with the first result, also after a snapshot is restored', () => {
    const machine = new ClusterStateMachine();
    const first = machine.apply({ stream: 'kv', command: { op: 'put', key: 'a', value: 1 }, id: 'p.1' }, 1);
    machine.apply({ stream: 'kv', command: { op: 'put', key: 'a', value: 2 }, id: 'p.2' }, 2);
    expect(machine.apply({ stream: 'kv', command: { op: 'put', key: 'a', value: 1 }, id: 'p.1' }, 3)).toEqual(first);
    expect(machine.query({ kind: 'kv', query: { op: 'get', key: 'a' } })).toBe(2);

    const restored = new ClusterStateMachine();
    restored.restore(machine.snapshot());
    expect(restored.apply({ stream: 'kv', command: { op: 'put', key: 'a', value: 1 }, id: 'p.1' }, 4)).toEqual(first);
    expect(restored.query({ kind: 'kv', query: { op: 'get', key: 'a' } })).toBe(2);
    expect(restored.appliedIndex()).toBe(4);
  });

  it('applies commands without an id every time, and forgets the oldest ids past its bound', () => {
    const machine = new ClusterStateMachine();
    machine.apply({ stream: 'kv', command: { op: 'put', key: 'n', value: 1 } }, 1);
    const twice = machine.apply({ stream: 'kv', command: { op: 'put', key: 'n', value: 1 } }, 2);
    expect(twice.value).toEqual({ op: 'put', previous: 1 });

    for (let index = 0; index <= REMEMBERED_PROPOSALS; index += 1) {
      machine.apply({ stream: 'kv', command: { op: 'put', key: 'x', value: index }, id: `q.${index}` }, index + 3);
    }
    // q.0 was evicted: applied again. The newest is still remembered.
    const replayed = machine.apply({ stream: 'kv', command: { op: 'put', key: 'x', value: 0 }, id: 'q.0' }, REMEMBERED_PROPOSALS + 10);
    expect(replayed.value).toEqual({ op: 'put', previous: REMEMBERED_PROPOSALS });
    const newest = machine.apply({ stream: 'kv', command: { op: 'put', key: 'x', value: -1 }, id: `q.${REMEMBERED_PROPOSALS}` }, REMEMBERED_PROPOSALS + 11);
    expect(newest.index).toBe(REMEMBERED_PROPOSALS + 3);
  });
});
