// What the driver does while its Ready loop waits on the disk. Both cases were found in review:
// - a snapshot from the leader that finished arriving then was adopted at once, under the Ready
//   in progress, so the driver answered a pending read from the state machine it had not
//   restored yet, tried to snapshot at the leader's index, and applied the Ready's older
//   membership on top of the snapshot's;
// - a leader sent appends in a term it had not made durable yet.
// The disk here is an in-memory persistence whose saves can be held, to make that window
// deterministic; the transport is a recorder the test feeds by hand.
import { describe, expect, it } from '@jest/globals';
import { createSeededRandom } from '@foundation/core';
import type { Scheduler, Timer } from '@foundation/core';
import { cborCodec } from './cbor-codec';
import { createKvStateMachine } from '../kv/kv-state-machine';
import type { PersistUpdate, PersistedState, RaftPersistence } from '../storage/persistence';
import type { Snapshot } from '../core/types';
import { createRaftNode } from './raft-node';

const codec = cborCodec<unknown>();
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
async function turns(count: number): Promise<void> {
  for (let index = 0; index < count; index += 1) await turn();
}

/** Time stands still: no election or heartbeat timer ever fires during these tests. */
const frozenClock: Scheduler = {
  now: () => 0,
  monotonic: () => 0,
  setTimer: (): Timer => ({ cancel: () => undefined }),
  setRepeatingTimer: (): Timer => ({ cancel: () => undefined }),
};

function slowDisk(initial?: PersistedState): { persistence: RaftPersistence; snapshots: Snapshot[]; hold(): void; release(): void } {
  let holding = false;
  const waiting: (() => void)[] = [];
  const snapshots: Snapshot[] = [];
  const empty: PersistedState = { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] };
  return {
    persistence: {
      load: () => Promise.resolve(initial ?? empty),
      save: (_update: PersistUpdate) => (holding ? new Promise<void>((resolve) => waiting.push(resolve)) : Promise.resolve()),
      saveSnapshot: (snapshot) => {
        snapshots.push(snapshot);
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
    },
    snapshots,
    hold: () => void (holding = true),
    release: () => {
      holding = false;
      for (const resolve of waiting.splice(0)) resolve();
    },
  };
}

function follower(id = 'f', peers = ['l', 'f', 'x'], initial?: PersistedState) {
  let handler: ((message: { from: string; payload: unknown }) => void) | undefined;
  const sent: { to: string; payload: { type: string; context?: string } }[] = [];
  const disk = slowDisk(initial);
  const machine = createKvStateMachine();
  const errors: Error[] = [];
  const node = createRaftNode({
    id,
    peers,
    persistence: disk.persistence,
    transport: {
      send: (to, _channel, payload) => {
        sent.push({ to, payload: payload as { type: string } });
        return true;
      },
      onMessage: (_channel, receive) => {
        handler = receive;
        return () => undefined;
      },
    },
    stateMachine: machine,
    clock: frozenClock,
    random: createSeededRandom(1),
  });
  node.on('error', (error) => errors.push(error));
  const deliver = (payload: unknown, from = 'l'): void => handler!({ from, payload });
  const snapshotChunk = (index: number, value: string, voters: string[]): unknown => {
    const data = codec.encode([['k', value]]);
    return { type: 'snapshot-chunk', from: 'l', to: 'f', term: 1, id: `l/1/${index}/1`, meta: { index, term: 1, membership: { voters, learners: [] } }, offset: 0, total: data.byteLength, data };
  };
  return { node, machine, disk, sent, errors, deliver, snapshotChunk };
}

const put = (index: number, value: string) => ({ kind: 'normal', index, term: 1, data: codec.encode({ op: 'put', key: 'k', value }) });

describe('a snapshot that arrives while the Ready loop waits on the disk', () => {
  it('is installed after that Ready: a pending read is answered from the restored state, and no own snapshot is taken at its index', async () => {
    const { node, machine, disk, sent, errors, deliver, snapshotChunk } = follower();
    await node.start();
    deliver({ type: 'append', from: 'l', to: 'f', term: 1, prevIndex: 0, prevTerm: 0, entries: [put(1, 'v1'), put(2, 'v2'), put(3, 'v3')], commit: 0 });
    await turns(2);
    // A linearizable read on the follower: the leader says to wait for index 3.
    const reading = node.read({ op: 'get', key: 'k' });
    await turn();
    const request = sent.find((message) => message.payload.type === 'read-index')!;
    deliver({ type: 'read-index-response', from: 'l', to: 'f', term: 1, context: request.payload.context, index: 3 });
    await turns(2);
    // The next save is slow, and the leader's snapshot at 10 completes meanwhile.
    disk.hold();
    deliver({ type: 'append', from: 'l', to: 'f', term: 1, prevIndex: 3, prevTerm: 1, entries: [put(4, 'v4')], commit: 0 });
    await turn();
    deliver(snapshotChunk(10, 'v10', ['l', 'f', 'x']));
    await turn();
    disk.release();
    await turns(10);
    // Before the fix: null, from the state machine that had applied nothing yet.
    await expect(reading).resolves.toBe('v10');
    expect(machine.query({ op: 'get', key: 'k' })).toBe('v10');
    // (The one at index 0 records the membership the node started with, before any entry.)
    expect(disk.snapshots.filter((snapshot) => snapshot.meta.index > 0)).toEqual([]);
    expect(errors).toEqual([]);
    expect(node.status()).toMatchObject({ applied: 10, snapshotIndex: 10 });
    await node.stop();
  });

  it('keeps the snapshot\'s membership, not an older one the Ready in progress applies', async () => {
    const { node, disk, errors, deliver, snapshotChunk } = follower();
    await node.start();
    disk.hold();
    // Entries 1..3 with a voter added at 2, committed: this Ready saves them and applies them.
    const addD = { kind: 'membership', index: 2, term: 1, change: { type: 'add-voter', node: 'd' }, membership: { voters: ['l', 'f', 'x', 'd'], learners: [] } };
    deliver({ type: 'append', from: 'l', to: 'f', term: 1, prevIndex: 0, prevTerm: 0, entries: [put(1, 'v1'), addD, put(3, 'v3')], commit: 3 });
    await turn();
    // By index 10 the leader had added e too.
    deliver(snapshotChunk(10, 'v10', ['l', 'f', 'x', 'd', 'e']));
    await turn();
    disk.release();
    await turns(10);
    expect(node.status().membership).toEqual({ voters: ['l', 'f', 'x', 'd', 'e'], learners: [] });
    expect(node.status()).toMatchObject({ snapshotIndex: 10 });
    expect(errors).toEqual([]);
    await node.stop();
  });
});

describe('a leader whose new term is not durable yet', () => {
  it('sends no append in that term before the write returns, even when it leads alone (learners only)', async () => {
    // A single voter becomes leader without asking anyone. Had it sent its no-op and a proposal
    // in term 2 before term 2 was on disk, then crashed, it could win term 2 again after the
    // restart and send other entries under the same term and index; the learner would keep the
    // first ones and answer success to the second (log matching broken).
    const membership = { voters: ['a'], learners: ['b'] };
    const initial: PersistedState = {
      hardState: { term: 1, vote: 'a', commit: 1 },
      snapshot: { meta: { index: 1, term: 1, membership }, data: codec.encode([]) },
      entries: [],
    };
    const { node, disk, sent, errors, deliver } = follower('a', ['a'], initial);
    await node.start();
    disk.hold();
    node.campaign();
    await turn();
    deliver({ type: 'append-response', from: 'b', to: 'a', term: 2, success: true, index: 2, hintIndex: 0, hintTerm: 0 }, 'b');
    const proposal = node.propose({ op: 'put', key: 'k', value: 'A' });
    await turns(3);
    expect(sent.filter((message) => message.payload.type === 'append')).toEqual([]);
    disk.release();
    await turns(5);
    // Once term 2 is durable, the learner hears of it.
    expect(sent.some((message) => message.to === 'b' && message.payload.type === 'append')).toBe(true);
    deliver({ type: 'append-response', from: 'b', to: 'a', term: 2, success: true, index: 3, hintIndex: 0, hintTerm: 0 }, 'b');
    await turns(5);
    await expect(proposal).resolves.toEqual({ op: 'put', previous: null });
    expect(errors).toEqual([]);
    await node.stop();
  });
});
