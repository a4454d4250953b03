// Declaring a stream of the cluster's Raft group twice through `log`. Found in review: a second
// declaration with other options was accepted and silently kept the first one's, so a caller
// that asked for `retain: 'all'` on a stream retained by key lost commands at every snapshot
// without a word. The consensus is never started: streams are declared before `start`, and the
// test applies commands and takes snapshots on its real state machine directly, as Raft would.
import { describe, expect, it } from '@jest/globals';
import { FoundationError } from '@foundation/core';
import { createMemoryPersistence } from '@foundation/raft';
import { createUnstartedConsensus } from '../../test/support/unstarted-consensus';
import { StreamOptionsConflictError } from '../errors/stream-options-conflict-error';
import { createClusterConsensus } from './cluster-consensus';
import type { ClusterConsensus } from './cluster-consensus';

const keyOf = (command: unknown): string => (command as { key: string }).key;

/** What a node restoring `consensus`'s latest snapshot hears replayed on `stream`. */
function replayedFrom(consensus: ClusterConsensus, stream: string): unknown[] {
  const restored = createUnstartedConsensus('restored');
  const heard: unknown[] = [];
  restored.log(stream).onApplied(({ command }) => heard.push(command));
  restored.stateMachine.restore(consensus.stateMachine.snapshot());
  return heard;
}

/** The error `declare` throws, or undefined. */
function thrownBy(declare: () => unknown): unknown {
  try {
    declare();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('declaring a stream again', () => {
  it('with the same options gives another handle on the same stream', () => {
    const consensus = createUnstartedConsensus();
    const compact = { compact: (history: readonly { index: number; command: unknown }[]) => [...history] };
    const first = consensus.log('notes');
    const again = consensus.log('notes', { retain: 'all' }); // left out, retain is 'all'
    const byKey = consensus.log('settings', { retain: keyOf });
    const byKeyAgain = consensus.log('settings', { retain: keyOf });
    consensus.log('registry', { retain: compact });
    consensus.log('registry', { retain: { compact: compact.compact } }); // the same function
    const state = { state: () => [] };
    consensus.log('values', { retain: state });
    consensus.log('values', { retain: { state: state.state } });
    // A function of one kind is not the same retention as of the other.
    expect(thrownBy(() => consensus.log('values', { retain: { compact: state.state } }))).toBeInstanceOf(StreamOptionsConflictError);

    const heard: string[] = [];
    first.onApplied(({ index }) => heard.push(`first ${index}`));
    again.onApplied(({ index }) => heard.push(`again ${index}`));
    byKey.onApplied(({ index }) => heard.push(`byKey ${index}`));
    byKeyAgain.onApplied(({ index }) => heard.push(`byKeyAgain ${index}`));
    consensus.stateMachine.apply({ stream: 'notes', command: 'a' }, 1);
    consensus.stateMachine.apply({ stream: 'settings', command: { key: 'k', value: 1 } }, 2);
    expect(heard).toEqual(['first 1', 'again 1', 'byKey 2', 'byKeyAgain 2']);
    expect(again.appliedIndex()).toBe(2);
  });

  it('with other options is refused (6106), naming the stream and both options, and the first declaration stands', () => {
    const consensus = createUnstartedConsensus();
    const log = consensus.log('settings', { retain: keyOf });
    const otherKeyOf = (command: unknown): string => (command as { key: string }).key;
    const cases: [Parameters<ClusterConsensus['log']>[1], string][] = [
      [undefined, "retain 'all'"],
      [{ retain: 'all' }, "retain 'all'"],
      [{ retain: { compact: (history) => [...history] } }, 'retain { compact } (function compact)'],
      [{ retain: otherKeyOf }, 'retain by key (function otherKeyOf)'],
      [{ retain: { state: () => [] } }, 'retain { state } (function state)'],
    ];
    for (const [options, requested] of cases) {
      const error = thrownBy(() => consensus.log('settings', options));
      expect(error).toBeInstanceOf(StreamOptionsConflictError);
      expect(FoundationError.hasType(error, 6106)).toBe(true);
      expect(error).toMatchObject({ type: 'stream_options_conflict', stream: 'settings', declared: 'retain by key (function keyOf)', requested, context: { stream: 'settings', declared: 'retain by key (function keyOf)', requested } });
      expect((error as Error).message).toBe(`stream settings is already declared with retain by key (function keyOf); declaring it again with ${requested} is refused`);
    }
    // A function of the same name that is not the same function is told apart in the message.
    const keyOfAgain = { keyOf: (command: unknown): string => (command as { key: string }).key }.keyOf;
    expect(thrownBy(() => consensus.log('settings', { retain: keyOfAgain }))).toMatchObject({ requested: 'retain by key (function keyOf), another function of that name' });

    // The stream still keeps the newest command per key, as first declared.
    consensus.stateMachine.apply({ stream: 'settings', command: { key: 'k', value: 1 } }, 1);
    consensus.stateMachine.apply({ stream: 'settings', command: { key: 'k', value: 2 } }, 2);
    expect(replayedFrom(consensus, 'settings')).toEqual([{ key: 'k', value: 2 }]);
    expect(log.appliedIndex()).toBe(2);
  });
});

describe('a forwarded request to join', () => {
  it('adds the node that asks, and no other (review finding)', async () => {
    // Any member could have the leader add any id as a learner: a node that does not exist (the
    // leader then replicates to it for good), or an id of megabytes carried in every membership.
    let handle: ((message: { readonly from: string; readonly payload: unknown }) => unknown) | undefined;
    const consensus = createClusterConsensus({
      nodeId: 'leader',
      voters: ['leader'],
      transport: { send: () => false, onMessage: () => () => undefined },
      forwarding: {
        request: () => Promise.reject(new Error('not used: the only voter leads')),
        onRequest: (_channel, handler) => {
          handle = handler;
          return () => undefined;
        },
      },
      persistence: createMemoryPersistence(),
      raft: { tickMs: 5, electionTicks: 4, heartbeatTicks: 1 },
    });
    await consensus.start();
    try {
      for (let attempt = 0; attempt < 400 && consensus.raft.status().role !== 'leader'; attempt += 1) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(consensus.raft.status().role).toBe('leader');
      const join = async (from: string, node: unknown): Promise<unknown> => {
        try {
          return await handle!({ from, payload: { kind: 'foundation/consensus/join', node } });
        } catch (error) {
          return error;
        }
      };
      expect(await join('mallory', 'someone-else')).toMatchObject({ type: 'invalid_input' });
      expect(await join('mallory', 'x'.repeat(100_000))).toMatchObject({ type: 'invalid_input' });
      expect(consensus.raft.status().membership.learners).toEqual([]);
      expect(await join('learner', 'learner')).toMatchObject({ learners: ['learner'] });
    } finally {
      await consensus.stop();
    }
  });
});

describe('starting a consensus that was stopped', () => {
  it('is refused (StoppedError), and takes no forwarded requests (review finding)', async () => {
    // start() after stop() got Raft's first start again, resolved, and put a handler on the
    // node's control router, which had closed: the node looked started and answered nothing.
    let handlers = 0;
    const soloConsensus = (): ClusterConsensus =>
      createClusterConsensus({
        nodeId: 'solo',
        voters: ['solo'],
        transport: { send: () => false, onMessage: () => () => undefined },
        forwarding: {
          request: () => Promise.reject(new Error('not used: a cluster of one')),
          onRequest: () => {
            handlers += 1;
            return () => undefined;
          },
        },
        persistence: createMemoryPersistence(),
      });
    const consensus = soloConsensus();
    await consensus.start();
    await consensus.stop();
    await expect(consensus.start()).rejects.toMatchObject({ code: 6013 });
    expect(handlers).toBe(1);

    // Stopped while Raft starts: the start that was under way is refused as well.
    const second = soloConsensus();
    const starting = second.start();
    await second.stop();
    await expect(starting).rejects.toMatchObject({ code: 6013 });
    expect(handlers).toBe(1);
  });
});

describe('a command Raft refuses for what it is', () => {
  it('is not proposed again: it rejects with the refusal at the first try (review finding)', async () => {
    // Raft refuses a command that encodes to more than limits.maxEntryBytes (64 MiB) with a
    // DroppedError marked refused. Dropped errors were all retried until the timeout, so such a
    // command was encoded and refused again and again for 5 s.
    const consensus = createClusterConsensus({
      nodeId: 'solo',
      voters: ['solo'],
      transport: { send: () => false, onMessage: () => () => undefined },
      forwarding: { request: () => Promise.reject(new Error('not used: the only voter leads')), onRequest: () => () => undefined },
      persistence: createMemoryPersistence(),
      raft: { tickMs: 5, electionTicks: 4, heartbeatTicks: 1 },
    });
    await consensus.start();
    try {
      for (let attempt = 0; attempt < 400 && consensus.raft.status().role !== 'leader'; attempt += 1) await new Promise((resolve) => setTimeout(resolve, 5));
      const raft = consensus.raft as unknown as { propose: (...args: unknown[]) => Promise<unknown> };
      const propose = raft.propose.bind(raft);
      let tries = 0;
      raft.propose = (...args) => {
        tries += 1;
        return propose(...args);
      };
      const huge = 'x'.repeat(64 * 1024 * 1024 + 1);
      await expect(consensus.propose('kv', { op: 'put', key: 'huge', value: huge })).rejects.toMatchObject({ code: 6011, retryStrategy: 'no_retry', context: { refused: true } });
      expect(tries).toBe(1);
    } finally {
      await consensus.stop();
    }
  }, 30_000);
});

describe('an abort while an attempt is in flight', () => {
  it('rejects the append and the read at once with the reason, the attempt going on unheard', async () => {
    // The signal was looked at only between attempts: an attempt in flight (a leader that does
    // not answer, a forward that waits) held the caller until it settled, up to the timeout.
    const consensus = createClusterConsensus({
      nodeId: 'solo',
      voters: ['solo'],
      transport: { send: () => false, onMessage: () => () => undefined },
      forwarding: { request: () => Promise.reject(new Error('not used: the only voter leads')), onRequest: () => () => undefined },
      persistence: createMemoryPersistence(),
      raft: { tickMs: 5, electionTicks: 4, heartbeatTicks: 1 },
    });
    await consensus.start();
    try {
      for (let attempt = 0; attempt < 400 && consensus.raft.status().role !== 'leader'; attempt += 1) await new Promise((resolve) => setTimeout(resolve, 5));
      const raft = consensus.raft as unknown as { propose: (...args: unknown[]) => Promise<unknown>; read: (...args: unknown[]) => Promise<unknown> };
      const held: ((value: unknown) => void)[] = [];
      raft.propose = () => new Promise((resolve) => held.push(resolve));
      raft.read = () => new Promise((resolve) => held.push(resolve));
      const reason = new Error('caller gave up');
      const controller = new AbortController();
      const appended = consensus.log('notes').append({ note: 1 }, { signal: controller.signal });
      const read = consensus.log('notes').readIndex({ signal: controller.signal });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(held).toHaveLength(2);
      controller.abort(reason);
      await expect(appended).rejects.toBe(reason);
      await expect(read).rejects.toBe(reason);
      // What the attempts bring later is heard by no one (and rejects nothing unhandled).
      for (const resolve of held) resolve({ index: 7, value: null });
      await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      await consensus.stop();
    }
  }, 30_000);
});
