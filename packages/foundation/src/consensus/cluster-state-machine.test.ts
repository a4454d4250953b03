// The replicated state machine faced with commands no correct node proposes. Found in review:
// a malformed lock, kv or config command threw out of apply, which stops Raft on every replica,
// and again at each restart (the entry stays in the log); a NaN lease held a lock for good.
import { describe, expect, it } from '@jest/globals';
import { DEFAULT_LIMITS, compactRegistryCommands } from '@foundation/registry';
import { ClusterStateMachine } from './cluster-state-machine';

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
    ];
    hostile.forEach((command, index) => {
      expect(machine.apply(command as never, index + 1)).toEqual({ index: index + 1, value: null });
    });
    expect(machine.lock('l')).toBeNull();
    const next = hostile.length + 1;
    const granted = machine.apply({ stream: 'locks', command: { op: 'acquire', name: 'l', owner: 'p', leaseMs: 1_000, now: 0 } }, next);
    expect(granted).toMatchObject({ index: next, value: { op: 'acquire', acquired: true, lock: { owner: 'p', token: next, expiresAt: 1_000 } } });
    machine.apply({ stream: 'config', command: { type: 'config-set', path: ['a'], value: 1 } }, next + 1);
    expect(applied).toEqual([{ type: 'config-set', path: ['a'], value: 1 }]);
  });

  it('tells a stream\'s restore listeners before replaying a snapshot to its listeners, and after it with the snapshot\'s index', () => {
    // Review findings: restore replayed the registry's history onto listeners that still held
    // what the earlier commands had built, and global names diverged on that follower; and
    // nothing said when the replay was over, so a command compacted away went unnoticed.
    const leader = new ClusterStateMachine();
    const follower = new ClusterStateMachine();
    for (const machine of [leader, follower]) machine.registerStream('registry');
    const heard: string[] = [];
    follower.onRestored('registry', () => heard.push('restore'));
    follower.onApplied('registry', (entry) => heard.push(`apply ${entry.index}`));
    follower.onReplayed('registry', (snapshotIndex) => heard.push(`replayed up to ${snapshotIndex}`));
    for (const index of [1, 2, 3]) {
      leader.apply({ stream: 'registry', command: { n: index } }, index);
      if (index < 3) follower.apply({ stream: 'registry', command: { n: index } }, index);
    }
    leader.apply({ stream: 'kv', command: { op: 'put', key: 'k', value: 1 } }, 4);
    heard.length = 0;
    follower.restore(leader.snapshot());
    expect(heard).toEqual(['restore', 'apply 1', 'apply 2', 'apply 3', 'replayed up to 4']);
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
