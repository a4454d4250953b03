// The one deadline timer of a node's calls lives only while a call waits: once the last one is
// answered, it is cancelled, rather than left to fire at the answered call's deadline (5 s later
// by default, a minute or an hour for a caller that set a long timeout). Thousands of calls that
// time out leave nothing behind either.
import { describe, expect, it } from '@jest/globals';
import { systemClock } from '@foundation/core';
import type { Scheduler } from '@foundation/core';
import { countTimers } from '@foundation/testkit';
import { RAFT_ERROR_CODES } from '../errors/codes';
import { createKvStateMachine } from '../kv/kv-state-machine';
import type { KvCommand, KvQuery } from '../kv/kv-state-machine';
import { createMemoryPersistence } from '../storage/persistence';
import type { PersistUpdate, RaftPersistence } from '../storage/persistence';
import { createRaftNode } from './raft-node';

const put = (key: string): KvCommand => ({ op: 'put', key, value: 1 }) as unknown as KvCommand;
const get = (key: string): KvQuery => ({ op: 'get', key }) as unknown as KvQuery;

/** A one-node cluster on `clock` and `persistence`, once it leads. */
async function soloLeader(clock: Scheduler, persistence: RaftPersistence) {
  const node = createRaftNode({
    id: 'a',
    peers: ['a'],
    persistence,
    transport: { send: () => true, onMessage: () => () => undefined },
    stateMachine: createKvStateMachine(),
    clock,
    tickMs: 2,
    electionTicks: 4,
    heartbeatTicks: 1,
  });
  await node.start();
  while (node.status().role !== 'leader') await new Promise((resolve) => setTimeout(resolve, 2));
  return node;
}

describe('raft node call deadlines (review finding)', () => {
  it('cancels the deadline timer once the last waiting call is answered', async () => {
    const { clock, pending } = countTimers(systemClock);
    const node = await soloLeader(clock, createMemoryPersistence());
    await Promise.all([node.propose(put('k'), { timeoutMs: 3_600_000 }), node.read(get('k'), { timeoutMs: 3_600_000 })]);
    expect(pending('one-shot')).toBe(0);
    await node.stop();
  });

  it('thousands of proposals that time out leave no timer and nothing waiting', async () => {
    const { clock, pending } = countTimers(systemClock);
    const memory = createMemoryPersistence();
    let diskStuck = false;
    const stuck: (() => void)[] = [];
    const persistence: RaftPersistence = {
      ...memory,
      save: (update: PersistUpdate) => (diskStuck ? new Promise<void>((resolve) => stuck.push(resolve)).then(() => memory.save(update)) : memory.save(update)),
    };
    const node = await soloLeader(clock, persistence);
    diskStuck = true; // nothing commits from here on
    const codes = await Promise.all(
      Array.from({ length: 5000 }, (_, index) => node.propose(put(`k${index}`), { timeoutMs: 5 + (index % 20) }).then(() => 'applied', (error: unknown) => (error as { code?: number }).code)),
    );
    expect(new Set(codes)).toEqual(new Set([RAFT_ERROR_CODES.timeout]));
    expect(pending('one-shot')).toBe(0);
    // The disk answers again, so that stop() (which waits for the write in progress) can end.
    diskStuck = false;
    for (const resolve of stuck.splice(0)) resolve();
    await node.stop();
  });
});
