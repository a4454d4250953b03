// The driver's lifecycle edges as users meet them: calls before start() is done, start() twice,
// stop() before start(), calls after stop(), and a listener that proposes or stops the node.
import { describe, expect, it } from '@jest/globals';
import { RAFT_ERROR_CODES } from '../errors/codes';
import { createKvStateMachine } from '../kv/kv-state-machine';
import type { KvCommand, KvQuery, KvQueryResult, KvResult } from '../kv/kv-state-machine';
import { createMemoryPersistence } from '../storage/persistence';
import type { RaftPersistence } from '../storage/persistence';
import { createRaftNode } from './raft-node';
import type { RaftNode } from './raft-node';

type KvNode = RaftNode<KvCommand, KvResult, KvQuery, KvQueryResult>;

const put: KvCommand = { type: 'put', key: 'k', value: 1 } as unknown as KvCommand;
const get: KvQuery = { type: 'get', key: 'k' } as unknown as KvQuery;

function singleNode(persistence: RaftPersistence = createMemoryPersistence()): KvNode {
  return createRaftNode({
    id: 'a',
    peers: ['a'],
    persistence,
    transport: { send: () => true, onMessage: () => () => undefined },
    stateMachine: createKvStateMachine(),
    tickMs: 2,
    electionTicks: 4,
    heartbeatTicks: 1,
  });
}

describe('raft node lifecycle (review finding)', () => {
  it('calls made before start() has finished fail at once with a coded NotStartedError', async () => {
    const node = singleNode();
    const notStarted = { code: RAFT_ERROR_CODES.notStarted, context: { nodeId: 'a' } };
    await expect(node.propose(put)).rejects.toMatchObject(notStarted);
    await expect(node.read(get)).rejects.toMatchObject(notStarted);
    await expect(node.addLearner('b')).rejects.toMatchObject(notStarted);
    expect(() => node.status()).toThrow(expect.objectContaining(notStarted));
    expect(() => node.campaign()).toThrow(expect.objectContaining(notStarted));
    const starting = node.start();
    await expect(node.propose(put)).rejects.toMatchObject(notStarted);
    await starting;
    await node.stop();
  });

  it('a second start() gets the first one\'s promise, and loads the storage once', async () => {
    const persistence = createMemoryPersistence();
    let loads = 0;
    const node = singleNode({
      ...persistence,
      load: () => {
        loads += 1;
        return persistence.load();
      },
    });
    const first = node.start();
    const second = node.start();
    await Promise.all([first, second]);
    await expect(node.start()).resolves.toBeUndefined();
    expect(loads).toBe(1);
    await node.stop();
  });

  it('stop() before start() resolves, and the node then refuses start() and every call with StoppedError', async () => {
    const node = singleNode();
    await node.stop();
    const stopped = { code: RAFT_ERROR_CODES.stopped };
    await expect(node.start()).rejects.toMatchObject(stopped);
    await expect(node.propose(put)).rejects.toMatchObject(stopped);
    await expect(node.read(get)).rejects.toMatchObject(stopped);
  });

  it('a leader-change listener may propose and stop the node; the proposal ends, and so does stop()', async () => {
    const node = singleNode();
    const outcomes: unknown[] = [];
    const state: { stopping: Promise<void> | null } = { stopping: null };
    node.on('leader-change', (change) => {
      if (change.role !== 'leader' || state.stopping !== null) return;
      node.propose(put).then(
        (result) => outcomes.push(result),
        (error: unknown) => outcomes.push((error as { code?: number }).code),
      );
      state.stopping = node.stop();
    });
    await node.start();
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (state.stopping === null) return;
        clearInterval(poll);
        resolve();
      }, 1);
    });
    await state.stopping;
    await expect(node.propose(put)).rejects.toMatchObject({ code: RAFT_ERROR_CODES.stopped });
    expect(outcomes).toEqual([RAFT_ERROR_CODES.stopped]);
  });

  it('stop() called by an error listener resolves only once the storage is closed', async () => {
    // The node emitted `error` before it began to close its storage, so a stop() from the
    // listener found no close to wait for and resolved at once: a caller that then opened the
    // directory again did so under the old storage.
    const memory = createMemoryPersistence();
    let failing = false;
    let closed = false;
    const persistence: RaftPersistence = {
      ...memory,
      save: (update) => (failing ? Promise.reject(new Error('disk gone')) : memory.save(update)),
      close: async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        closed = true;
      },
    };
    const node = singleNode(persistence);
    const stopped = new Promise<boolean>((resolve) => {
      node.on('error', () => {
        void node.stop().then(() => resolve(closed));
      });
    });
    await node.start();
    while (node.status().role !== 'leader') await new Promise((resolve) => setTimeout(resolve, 2));
    failing = true;
    await expect(node.propose(put)).rejects.toMatchObject({ code: RAFT_ERROR_CODES.stopped });
    expect(await stopped).toBe(true);
  });
});
