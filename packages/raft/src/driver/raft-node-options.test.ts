// createRaftNode refuses options it cannot run with when it is called, with a coded error naming
// the option, before anything touches the storage: found only in start(), they came as uncoded
// RangeErrors after the storage was loaded (a file storage opened, a first snapshot written), or
// not at all (a chunk size of 0 stalled every snapshot transfer, a per-call timeout as a string
// was concatenated to the deadline).
import { describe, expect, it } from '@jest/globals';
import { FoundationError } from '@foundation/core';
import { RAFT_ERROR_CODES } from '../errors/codes';
import { createKvStateMachine } from '../kv/kv-state-machine';
import type { KvCommand, KvQuery, KvQueryResult, KvResult } from '../kv/kv-state-machine';
import { createMemoryPersistence } from '../storage/persistence';
import type { RaftPersistence } from '../storage/persistence';
import { createRaftNode } from './raft-node';
import type { RaftNodeOptions } from './raft-node';

type KvOptions = RaftNodeOptions<KvCommand, KvResult, KvQuery, KvQueryResult>;

function options(persistence: RaftPersistence, extra: Record<string, unknown>): KvOptions {
  return {
    id: 'a',
    peers: ['a'],
    persistence,
    transport: { send: () => true, onMessage: () => () => undefined },
    stateMachine: createKvStateMachine(),
    ...extra,
  };
}

function refusal(action: () => unknown): FoundationError | 'accepted' {
  try {
    action();
    return 'accepted';
  } catch (error) {
    if (!FoundationError.is(error)) throw error;
    return error;
  }
}

describe('createRaftNode options (review finding)', () => {
  const bad: [string, Record<string, unknown>][] = [
    ['tickMs', { tickMs: 0 }],
    ['tickMs', { tickMs: -20 }],
    ['tickMs', { tickMs: Number.NaN }],
    ['tickMs', { tickMs: Number.POSITIVE_INFINITY }],
    ['tickMs', { tickMs: '20' }],
    ['electionTicks', { electionTicks: 0 }],
    ['electionTicks', { electionTicks: 2.5 }],
    ['electionTicks', { electionTicks: 2, heartbeatTicks: 2 }],
    ['heartbeatTicks', { heartbeatTicks: Number.POSITIVE_INFINITY }],
    ['heartbeatTicks', { heartbeatTicks: 0 }],
    ['requestTimeoutMs', { requestTimeoutMs: -5 }],
    ['requestTimeoutMs', { requestTimeoutMs: Number.NaN }],
    ['snapshotEvery', { snapshotEvery: 0 }],
    ['snapshotChunkBytes', { snapshotChunkBytes: 0 }],
    ['maxInflight', { maxInflight: 0 }],
    ['maxBytesPerMessage', { maxBytesPerMessage: -1 }],
    ['limits.maxEntryBytes', { limits: { maxEntryBytes: 0 } }],
    ['limits.maxChunkBytes', { limits: { maxChunkBytes: '1' } }],
    // Its own chunks would be refused by every node with the same limits.
    ['snapshotChunkBytes', { snapshotChunkBytes: 4096, limits: { maxChunkBytes: 1024 } }],
    ['readMode', { readMode: 'fast' }],
    // Lease reads are safe only while check-quorum deposes a cut-off leader; the core refused the
    // pair with an uncoded RangeError in start(), after the storage was loaded and written.
    ['readMode', { readMode: 'lease', checkQuorum: false }],
    // From JavaScript a flag may come as anything: checkQuorum 0 with lease reads reached the
    // core's uncoded RangeError in start(), after the storage was loaded and written.
    ['checkQuorum', { checkQuorum: 0 }],
    ['checkQuorum', { readMode: 'lease', checkQuorum: 0 }],
    ['checkQuorum', { checkQuorum: 'false' }],
    ['preVote', { preVote: 1 }],
    ['id', { id: '' }],
    ['peers', { peers: 'a' }],
  ];

  it.each(bad)('refuses a bad %s at once, before the storage is touched: %j', (option, extra) => {
    let loaded = false;
    const persistence = createMemoryPersistence();
    const watched: RaftPersistence = {
      ...persistence,
      load: () => {
        loaded = true;
        return persistence.load();
      },
    };
    const error = refusal(() => createRaftNode(options(watched, extra)));
    expect(error).not.toBe('accepted');
    expect((error as FoundationError).code).toBe(RAFT_ERROR_CODES.invalidOptions);
    expect((error as FoundationError).context).toMatchObject({ option });
    expect(loaded).toBe(false);
  });

  it('takes the defaults and sound values, an infinite request timeout among them', async () => {
    const node = createRaftNode(options(createMemoryPersistence(), { tickMs: 5, electionTicks: 4, heartbeatTicks: 1, requestTimeoutMs: Number.POSITIVE_INFINITY, limits: { maxEntryBytes: 1024 } }));
    await node.start();
    await node.stop();
  });

  it('refuses a bad per-call timeout with the same coded error', async () => {
    const node = createRaftNode(options(createMemoryPersistence(), { tickMs: 5, electionTicks: 4, heartbeatTicks: 1 }));
    await node.start();
    for (const timeoutMs of [-1, Number.NaN, '100']) {
      const call = { timeoutMs } as unknown as { timeoutMs: number };
      await expect(node.propose({ type: 'put', key: 'k', value: 1 } as unknown as KvCommand, call)).rejects.toMatchObject({ code: RAFT_ERROR_CODES.invalidOptions });
      await expect(node.read({ type: 'get', key: 'k' } as unknown as KvQuery, call)).rejects.toMatchObject({ code: RAFT_ERROR_CODES.invalidOptions });
      await expect(node.addLearner('b', call)).rejects.toMatchObject({ code: RAFT_ERROR_CODES.invalidOptions });
    }
    await node.stop();
  });
});
