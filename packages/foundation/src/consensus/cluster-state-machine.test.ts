// The replicated state machine faced with commands no correct node proposes. Found in review:
// a malformed lock, kv or config command threw out of apply, which stops Raft on every replica,
// and again at each restart (the entry stays in the log); a NaN lease held a lock for good.
import { describe, expect, it } from '@jest/globals';
import { Encoder } from 'cbor-x';
import { DEFAULT_LIMITS, compactRegistryCommands } from '@foundation/registry';
import { UnreadableSnapshotError } from '../errors/unreadable-snapshot-error';
import { ClusterStateMachine, MAX_COMMAND_DEPTH, MAX_FORGOTTEN_PROPOSERS, MAX_FORGOTTEN_RANGES, MAX_PROPOSERS, MAX_PROPOSER_LENGTH, MAX_RESULTS_PER_PROPOSER } from './cluster-state-machine';
import type { ClusterCommand } from './cluster-state-machine';

/** What `machine`'s registry stream tells its listeners of restores and applies, in order. */
function hearRestores(machine: ClusterStateMachine): string[] {
  const heard: string[] = [];
  machine.onRestored('registry', () => heard.push('restore'));
  machine.onApplied('registry', (entry) => heard.push(`apply ${entry.index}`));
  machine.onReplayed('registry', (snapshotIndex) => heard.push(`replayed up to ${snapshotIndex}`));
  return heard;
}

describe('the cluster state machine', () => {
  it('refuses malformed commands with a null result instead of throwing, and keeps working', () => {
    const machine = new ClusterStateMachine();
    const applied: unknown[] = [];
    machine.registerStream('config', { retain: (command: unknown) => (command as { path: string[] }).path.join('\u0000') });
    machine.onApplied('config', (entry) => void applied.push(entry.command));
    const hostile = [
      null,
      { stream: 'locks', command: null },
      { stream: 'kv', command: null },
      { stream: 'config', command: { type: 'config-set' } },
      { stream: 'locks', command: { op: 'acquire', name: 'l', owner: 'o', leaseMs: Number.NaN, now: 0 } },
      { stream: 'locks', command: { op: 'acquire', name: 'l', owner: 'o', leaseMs: '1000', now: 0 } },
      // An op the table does not know answered with no value at all (undefined), not a refusal.
      { stream: 'locks', command: { op: 'steal', name: 'l', owner: 'o', leaseMs: 1_000, now: 0 } },
    ];
    hostile.forEach((command, index) => {
      // The key-value machine refuses a malformed command itself, as it does an unknown one.
      const refusal = command?.stream === 'kv' ? { op: 'cas', ok: false, current: null } : null;
      expect(machine.apply(command as never, index + 1)).toEqual({ index: index + 1, value: refusal });
    });
    expect(machine.lock('l')).toBeNull();
    const next = hostile.length + 1;
    const granted = machine.apply({ stream: 'locks', command: { op: 'acquire', name: 'l', owner: 'p', leaseMs: 1_000, now: 0 } }, next);
    expect(granted).toMatchObject({ index: next, value: { op: 'acquire', acquired: true, lock: { owner: 'p', token: next, expiresAt: 1_000 } } });
    machine.apply({ stream: 'config', command: { type: 'config-set', path: ['a'], value: 1 } }, next + 1);
    expect(applied).toEqual([{ type: 'config-set', path: ['a'], value: 1 }]);
  });

  it('refuses a lock command whose expiry would not be a finite time, or whose owner is not a string (review finding)', () => {
    // Two finite numbers can add up to Infinity: such a lease never ran out, and only its holder
    // could end it, as a NaN lease did before it was refused.
    const machine = new ClusterStateMachine();
    const huge = Number.MAX_VALUE;
    const refused = [
      { op: 'acquire', name: 'l', owner: 'o', leaseMs: huge, now: huge },
      { op: 'acquire', name: 'l', owner: { not: 'a string' }, leaseMs: 1_000, now: 0 },
      { op: 'acquire', name: 'l', leaseMs: 1_000, now: 0 },
    ];
    refused.forEach((command, position) => expect(machine.apply({ stream: 'locks', command }, position + 1)).toEqual({ index: position + 1, value: null }));
    expect(machine.lock('l')).toBeNull();
    const granted = machine.apply({ stream: 'locks', command: { op: 'acquire', name: 'l', owner: 'o', leaseMs: 1_000, now: huge } }, 10);
    expect(granted.value).toMatchObject({ acquired: true, lock: { expiresAt: huge + 1_000 } });
    expect(machine.apply({ stream: 'locks', command: { op: 'renew', name: 'l', token: 10, leaseMs: huge, now: huge } }, 11)).toEqual({ index: 11, value: null });
    expect(machine.lock('l')).toMatchObject({ owner: 'o', token: 10, expiresAt: huge + 1_000 });
  });

  it('refuses a command nested deeper than MAX_COMMAND_DEPTH, so that every snapshot after it still encodes (review finding)', () => {
    // A proposal is encoded once, where it is proposed; a result that holds its value is encoded
    // again in every snapshot, a few levels deeper (sessions, results, the result itself). A
    // value nested as deep as the proposer could encode was applied, and the next snapshot threw
    // (the call stack ran out) on every replica: Raft stops on it, and again at every restart.
    const codec = new Encoder({ useRecords: false, structuredClone: false });
    const nested = (depth: number): unknown => {
      let value: unknown = 1;
      for (let level = 0; level < depth; level += 1) value = { v: value };
      return value;
    };
    const command = (depth: number) => ({ stream: 'kv', command: { op: 'cas', key: 'k', expected: null, value: nested(depth) }, session: { proposer: 'p', seq: 1, floor: 0 } });
    const encodes = (depth: number): boolean => {
      try {
        codec.encode(command(depth));
        return true;
      } catch {
        return false;
      }
    };
    // The deepest value a proposer can still encode here, found by halving.
    let low = 1;
    let high = 100_000;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if (encodes(middle)) low = middle;
      else high = middle - 1;
    }
    expect(low).toBeGreaterThan(MAX_COMMAND_DEPTH);
    const machine = new ClusterStateMachine();
    const deepest = codec.decode(codec.encode(command(low))) as ClusterCommand;
    const result = machine.apply(deepest, 1);
    expect(() => machine.snapshot()).not.toThrow();
    expect(result).toEqual({ index: 1, value: null });
    expect(machine.query({ kind: 'kv', query: { op: 'get', key: 'k' } })).toBeNull();
    // At the bound it is applied as any command is.
    const atBound = { stream: 'kv', command: { op: 'put', key: 'k', value: nested(MAX_COMMAND_DEPTH - 2) } };
    expect(machine.apply(atBound, 2)).toEqual({ index: 2, value: { op: 'put', previous: null } });
    expect(() => machine.snapshot()).not.toThrow();
  });

  it('tells a stream\'s restore listeners before replaying a snapshot to its listeners, and after it with the snapshot\'s index', () => {
    // Review findings: restore replayed the registry's history onto listeners that still held
    // what the earlier commands had built, and global names diverged on that follower; and
    // nothing said when the replay was over, so a command compacted away went unnoticed.
    const leader = new ClusterStateMachine();
    const follower = new ClusterStateMachine();
    for (const machine of [leader, follower]) machine.registerStream('registry');
    const heard = hearRestores(follower);
    for (const index of [1, 2, 3]) {
      leader.apply({ stream: 'registry', command: { n: index } }, index);
      if (index < 3) follower.apply({ stream: 'registry', command: { n: index } }, index);
    }
    leader.apply({ stream: 'kv', command: { op: 'put', key: 'k', value: 1 } }, 4);
    heard.length = 0;
    follower.restore(leader.snapshot());
    expect(heard).toEqual(['restore', 'apply 1', 'apply 2', 'apply 3', 'replayed up to 4']);
  });

  it('replays a snapshot to every listener of every stream when one listener throws (review finding)', () => {
    // Before, a listener that threw during the replay ended restore there: the other listeners
    // of its stream missed the rest, later streams kept their old history and heard nothing,
    // and the exception reached Raft, which stops the node on a failed restore.
    const leader = new ClusterStateMachine();
    const follower = new ClusterStateMachine();
    for (const machine of [leader, follower]) {
      machine.registerStream('first');
      machine.registerStream('second', { retain: (command: unknown) => (command as { key: string }).key });
    }
    const heard: string[] = [];
    follower.onRestored('first', () => heard.push('first restore'));
    follower.onApplied('first', (entry) => {
      throw new Error(`cannot take ${entry.index}`);
    });
    follower.onApplied('first', (entry) => heard.push(`first ${entry.index}`));
    follower.onReplayed('first', (index) => heard.push(`first replayed ${index}`));
    follower.onRestored('second', () => heard.push('second restore'));
    follower.onApplied('second', (entry) => heard.push(`second ${entry.index}`));
    follower.onReplayed('second', (index) => heard.push(`second replayed ${index}`));
    leader.apply({ stream: 'first', command: { n: 1 } }, 1);
    leader.apply({ stream: 'second', command: { key: 'a' } }, 2);
    leader.apply({ stream: 'first', command: { n: 3 } }, 3);
    leader.apply({ stream: 'locks', command: { op: 'acquire', name: 'l', owner: 'o', leaseMs: 1_000, now: 0 } }, 4);
    leader.apply({ stream: 'second', command: { key: 'b' } }, 5);
    heard.length = 0;
    follower.restore(leader.snapshot());
    expect(heard).toEqual(['first restore', 'first 1', 'first 3', 'first replayed 5', 'second restore', 'second 2', 'second 5', 'second replayed 5']);
    expect(follower.snapshot()).toEqual(leader.snapshot());
  });

  it('empties a stream the snapshot does not hold, and tells its listeners as of any restore (review finding)', () => {
    // Before, a stream declared here but not where the snapshot was taken kept the history it
    // had, and its listeners heard nothing: at the snapshot's index this node held commands the
    // others did not, and a registry on it kept names the cluster no longer gives.
    const leader = new ClusterStateMachine();
    const follower = new ClusterStateMachine();
    const fresh = new ClusterStateMachine();
    leader.registerStream('config');
    for (const machine of [follower, fresh]) {
      machine.registerStream('config');
      machine.registerStream('registry');
    }
    const heard = hearRestores(follower);
    follower.apply({ stream: 'registry', command: { old: true } }, 1);
    leader.apply({ stream: 'registry', command: { old: true } }, 1); // not declared there: not kept
    leader.apply({ stream: 'config', command: { path: ['a'] } }, 2);
    heard.length = 0;
    follower.restore(leader.snapshot());
    fresh.restore(leader.snapshot());
    expect(heard).toEqual(['restore', 'replayed up to 2']);
    expect(follower.snapshot()).toEqual(fresh.snapshot());
  });

  it('restores a stream kept with another retention in the one declared here: its listeners hear real commands only (review finding)', () => {
    // Before, the snapshot's part was read in the shape of the local retention: pairs of key and
    // command reached an `all` stream's listeners as commands, and a list of commands became one
    // key `undefined` for `undefined`. A node restoring its own snapshot after an upgrade that
    // changed a stream's retention would meet it too.
    const byPath = (command: unknown) => (command as { path: string }).path;
    const commands = [{ path: 'a', value: 1 }, { path: 'b', value: 2 }, { path: 'a', value: 3 }];
    for (const [there, here] of [['all', byPath], [byPath, 'all']] as const) {
      const leader = new ClusterStateMachine();
      const follower = new ClusterStateMachine();
      const live = new ClusterStateMachine();
      leader.registerStream('config', { retain: there });
      for (const machine of [follower, live]) machine.registerStream('config', { retain: here });
      commands.forEach((command, index) => {
        leader.apply({ stream: 'config', command }, index + 1);
        live.apply({ stream: 'config', command }, index + 1);
      });
      const heard: unknown[] = [];
      follower.onApplied('config', (entry) => heard.push(entry));
      follower.restore(leader.snapshot());
      // What the leader kept, newest per key for either: the two retentions keep that much.
      expect(heard).toEqual([{ index: 2, command: { path: 'b', value: 2 } }, { index: 3, command: { path: 'a', value: 3 } }]);
      if (here === byPath) expect(follower.snapshot()).toEqual(live.snapshot());
    }
  });

  it('refuses (6105) a snapshot whose part for a stream is not commands, changing nothing and telling no listener', () => {
    const codec = new Encoder({ useRecords: false, structuredClone: false });
    const leader = new ClusterStateMachine();
    const follower = new ClusterStateMachine();
    for (const machine of [leader, follower]) machine.registerStream('config');
    leader.apply({ stream: 'config', command: { path: 'a' } }, 1);
    follower.apply({ stream: 'config', command: { path: 'mine' } }, 1);
    const heard: unknown[] = [];
    follower.onRestored('config', () => heard.push('restore'));
    follower.onApplied('config', (entry) => heard.push(entry));
    const whole = codec.decode(leader.snapshot()) as Record<string, unknown>;
    const before = follower.snapshot();
    for (const retained of ['commands', [42], [null], [{ command: 'no index' }], [[1, { index: 1, command: {} }]]]) {
      // checkSnapshot, which Raft asks before it takes a snapshot from another node, throws the same.
      for (const step of ['checkSnapshot', 'restore'] as const) {
        let thrown: unknown;
        try {
          follower[step](codec.encode({ ...whole, streams: [['config', retained]] }));
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(UnreadableSnapshotError);
        expect(thrown).toMatchObject({ code: 6105, context: { stream: 'config' } });
      }
    }
    follower.checkSnapshot(leader.snapshot()); // a good one passes, and changes nothing either
    expect(heard).toEqual([]);
    expect(follower.snapshot()).toEqual(before);
  });

  it('changes nothing, and tells no listener, when a part of the snapshot cannot be restored', () => {
    // Before, restore replaced the applied index, the sessions and the locks, then threw on the
    // key-value part: the node was left half on the snapshot, half on its own state.
    const leader = new ClusterStateMachine();
    const follower = new ClusterStateMachine();
    for (const machine of [leader, follower]) machine.registerStream('registry');
    const heard = hearRestores(follower);
    follower.apply({ stream: 'registry', command: { mine: true } }, 1);
    follower.apply({ stream: 'kv', command: { op: 'put', key: 'k', value: 'mine' } }, 2);
    leader.apply({ stream: 'registry', command: { theirs: true } }, 1);
    leader.apply({ stream: 'locks', command: { op: 'acquire', name: 'l', owner: 'o', leaseMs: 1_000, now: 0 } }, 2);
    leader.apply({ stream: 'kv', command: { op: 'put', key: 'k', value: 'theirs' } }, 3);
    const codec = new Encoder({ useRecords: false, structuredClone: false });
    const whole = codec.decode(leader.snapshot()) as Record<string, unknown>;
    const damaged = codec.encode({ ...whole, kv: codec.encode({ not: 'pairs' }) });
    const before = follower.snapshot();
    heard.length = 0;
    expect(() => follower.restore(damaged)).toThrow(expect.objectContaining({ type: 'deserialization_failed' }));
    expect(heard).toEqual([]);
    expect(follower.snapshot()).toEqual(before);
    expect([follower.appliedIndex(), follower.lock('l'), follower.query({ kind: 'kv', query: { op: 'get', key: 'k' } })]).toEqual([2, null, 'mine']);
  });

  it('refuses (6105) a snapshot with any part malformed or over its bounds, changing nothing and telling no listener (review finding)', () => {
    // A snapshot comes from the leader, and is read as hostile as a command is. Before, a part
    // of the wrong shape threw a TypeError without a code, or was taken as it was: an applied
    // index that is not a number, a lock without a name, more sessions than the state machine
    // ever keeps (the bound then held no more), a proposer id longer than any it accepts.
    const codec = new Encoder({ useRecords: false, structuredClone: false });
    const leader = new ClusterStateMachine();
    const follower = new ClusterStateMachine();
    for (const machine of [leader, follower]) machine.registerStream('registry');
    const heard = hearRestores(follower);
    leader.apply({ stream: 'locks', command: { op: 'acquire', name: 'l', owner: 'o', leaseMs: 1_000, now: 0 }, session: { proposer: 'p', seq: 1, floor: 1 } }, 1);
    leader.apply({ stream: 'registry', command: { theirs: true } }, 2);
    follower.apply({ stream: 'registry', command: { mine: true } }, 1);
    const whole = codec.decode(leader.snapshot()) as Record<string, unknown>;
    const result = { index: 1, value: null };
    const damaged: [string, Uint8Array][] = [
      ['not CBOR', Uint8Array.of(0x5f, 0x41)],
      ['not a map', codec.encode([1, 2, 3])],
      ['null', codec.encode(null)],
      ...(
        [
          ['applied', 'seven'],
          ['applied', -1],
          ['applied', 1.5],
          ['streams', 'registry'],
          ['streams', [1]],
          ['streams', [[7, []]]],
          ['locks', 'l'],
          ['locks', [null]],
          ['locks', [{ owner: 'o', token: 1, expiresAt: 1_000 }]],
          ['locks', [{ name: 'l', owner: 'o', token: 'one', expiresAt: 1_000 }]],
          ['locks', [{ name: 'l', owner: 'o', token: 1, expiresAt: Number.NaN }]],
          ['locks', [{ name: 'l', token: 1, expiresAt: 1_000 }]],
          ['locks', [{ name: 'l', owner: { id: 'o' }, token: 1, expiresAt: 1_000 }]],
          ['kv', 'pairs'],
          ['sessions', 'p'],
          ['sessions', [null]],
          ['sessions', [['p', 'results', 1]]],
          ['sessions', [['p', [[1, null]], 1]]],
          ['sessions', [['p', [['one', result]], 1]]],
          ['sessions', [['p', [[1, result]], -1]]],
          ['sessions', [['p'.repeat(MAX_PROPOSER_LENGTH + 1), [[1, result]], 1]]],
          ['sessions', Array.from({ length: MAX_PROPOSERS + 1 }, (_, position) => [`p${position}`, [], 0])],
          ['sessions', [['p', Array.from({ length: MAX_RESULTS_PER_PROPOSER + 1 }, (_, position) => [position, result]), 0]]],
          ['forgotten', 'p'],
          ['forgotten', [null]],
          ['forgotten', [['p', 1]]],
          ['forgotten', [['p', 1, [1, 1], 'more']]],
          ['forgotten', [[7, 1, [1, 1]]]],
          ['forgotten', [['p'.repeat(MAX_PROPOSER_LENGTH + 1), 1, [1, 1]]]],
          ['forgotten', [['q', -1, []]]],
          ['forgotten', [['q', 1, [2]]]],
          ['forgotten', [['q', 1, [3, 2]]]],
          ['forgotten', [['q', 1, [1, 2, 3, 4]]]],
          ['forgotten', [['q', 3, [1, 2]]]],
          ['forgotten', [['q', 1, Array.from({ length: 2 * MAX_FORGOTTEN_RANGES + 2 }, (_, position) => 2 * position)]]],
          ['forgotten', [['q', 1, [1, 1]], ['q', 1, [1, 1]]]],
          ['forgotten', Array.from({ length: MAX_FORGOTTEN_PROPOSERS + 1 }, (_, position) => [`q${position}`, 1, []])],
        ] as const
      ).map(([part, value]): [string, Uint8Array] => [`${part} ${JSON.stringify(value)?.slice(0, 40)}`, codec.encode({ ...whole, [part]: value })]),
    ];
    const before = follower.snapshot();
    heard.length = 0;
    for (const [name, data] of damaged) {
      let thrown: unknown;
      try {
        follower.restore(data);
      } catch (error) {
        thrown = error;
      }
      expect([name, thrown]).toEqual([name, expect.any(UnreadableSnapshotError)]);
      expect(thrown).toMatchObject({ code: 6105 });
    }
    expect(heard).toEqual([]);
    expect(follower.snapshot()).toEqual(before);
    // The snapshot as it was written, one from before sessions had floors, and one from before
    // forgotten numbers were kept, are restored.
    follower.restore(codec.encode({ ...whole, sessions: [['p', [[1, result]]]] }));
    const { forgotten: _forgotten, ...withoutForgotten } = whole;
    follower.restore(codec.encode(withoutForgotten));
    follower.restore(leader.snapshot());
    expect([follower.appliedIndex(), follower.lock('l')?.owner, heard]).toEqual([2, 'o', ['restore', 'apply 2', 'replayed up to 2', 'restore', 'apply 2', 'replayed up to 2', 'restore', 'apply 2', 'replayed up to 2']]);
  });

  it('keeps a compacted stream\'s history bounded, and a snapshot of it replays to the same names (review finding)', () => {
    // The registry's stream kept every claim and release ever made, in memory and in every
    // snapshot. Compacted, it keeps the names held and the release floors.
    const compact = { compact: (history: readonly { index: number; command: unknown }[]) => compactRegistryCommands([...history], 'production', DEFAULT_LIMITS) };
    const leader = new ClusterStateMachine();
    const follower = new ClusterStateMachine();
    for (const machine of [leader, follower]) machine.registerStream('registry', { retain: compact });
    const claim = (index: number) => ({
      type: 'registry-claim',
      namespace: 'production',
      claim: { id: `n1/1/g${index}`, name: 'lock', node: 'n1', incarnation: 1, target: 't', capabilities: [], metadata: {}, weight: 1, registeredAt: index },
    });
    let index = 0;
    for (let round = 0; round < 2_000; round += 1) {
      index += 1;
      leader.apply({ stream: 'registry', command: claim(index) }, index);
      index += 1;
      leader.apply({ stream: 'registry', command: { type: 'registry-release', namespace: 'production', name: 'lock', id: `n1/1/g${index - 1}` } }, index);
    }
    index += 1;
    leader.apply({ stream: 'registry', command: claim(index) }, index);
    const snapshot = leader.snapshot();
    expect(snapshot.byteLength).toBeLessThan(30_000);
    const heard: number[] = [];
    follower.onApplied('registry', (entry) => heard.push(entry.index));
    follower.restore(snapshot);
    // Whatever the leader still held uncompacted, the last claim (the holder) is heard, and no
    // claim or release of the 2,000 pairs before the last compaction is.
    expect(heard.at(-1)).toBe(index);
    expect(heard.length).toBeLessThan(600);
  });
});

describe('a stream whose consumer keeps its state', () => {
  it('keeps no command, and its snapshots hold what the consumer gives, replayed in that order on restore', () => {
    const leader = new ClusterStateMachine();
    let state: unknown[] = [];
    leader.registerStream('values', { retain: { state: () => state } });
    for (let index = 1; index <= 5; index += 1) leader.apply({ stream: 'values', command: { set: index } }, index);
    state = [{ total: 15 }, { last: 5 }];
    const snapshot = leader.snapshot();

    const follower = new ClusterStateMachine();
    follower.registerStream('values', { retain: { state: () => [] } });
    const heard: unknown[] = [];
    follower.onApplied('values', (entry) => heard.push(entry));
    follower.restore(snapshot);
    expect(heard).toEqual([
      { index: 5, command: { total: 15 } },
      { index: 5, command: { last: 5 } },
    ]);

    // A node that retains the stream by key or in whole reads the same commands, in that order.
    for (const retain of ['all', (command: unknown) => JSON.stringify(command)] as const) {
      const older = new ClusterStateMachine();
      older.registerStream('values', { retain });
      const olderHeard: unknown[] = [];
      older.onApplied('values', (entry) => olderHeard.push(entry.command));
      older.restore(snapshot);
      expect(olderHeard).toEqual([{ total: 15 }, { last: 5 }]);
    }
  });

  it('takes no snapshot when the consumer cannot give its state', () => {
    const machine = new ClusterStateMachine();
    machine.registerStream('values', {
      retain: {
        state: () => {
          throw new Error('closed');
        },
      },
    });
    machine.apply({ stream: 'values', command: 1 }, 1);
    expect(() => machine.snapshot()).toThrow('closed');
  });
});
