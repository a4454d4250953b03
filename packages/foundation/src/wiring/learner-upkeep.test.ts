// The leader's upkeep of the Raft group's learners, on a virtual clock with a stand-in Raft node.
import { describe, expect, it } from '@jest/globals';
import { createSimulation } from '@foundation/testkit';
import { keepLearnersToLiveNodes } from './learner-upkeep';

function standIn(voters: string[], learners: string[]) {
  let role = 'leader';
  const changes: string[] = [];
  const membership = () => ({ voters: [...voters], learners: [...learners] });
  return {
    changes,
    membership,
    setRole: (next: string) => (role = next),
    raft: {
      status: () => ({ role, membership: membership() }) as never,
      removeMember: (node: string) => {
        changes.push(`remove ${node}`);
        learners.splice(learners.indexOf(node), 1);
        return Promise.resolve(membership());
      },
      addLearner: (node: string) => {
        changes.push(`add ${node}`);
        learners.push(node);
        return Promise.resolve(membership());
      },
    },
  };
}

describe('keepLearnersToLiveNodes', () => {
  it('removes a learner missing for the whole grace, adds back a live one, and never touches voters', async () => {
    const simulation = createSimulation({ seed: 7 });
    const group = standIn(['a', 'b'], ['c', 'd']);
    let live = ['a', 'c', 'd'];
    const stop = keepLearnersToLiveNodes({ nodeId: 'a', raft: group.raft, liveNodes: () => live, clock: simulation.clock, graceMs: 1_000, intervalMs: 100 });
    const runFor = async (ms: number): Promise<void> => simulation.runForAsync(ms);

    live = ['a', 'c']; // d gone (b, a voter, was never listed: it stays)
    await runFor(500);
    live = ['a', 'c', 'd']; // back within the grace: the count starts over
    await runFor(500);
    live = ['a', 'c'];
    await runFor(900);
    expect(group.changes).toEqual([]);
    await runFor(300);
    expect(group.changes).toEqual(['remove d']);

    live = ['a', 'c', 'd']; // d is alive after all: added back
    await runFor(200);
    expect(group.changes).toEqual(['remove d', 'add d']);
    expect(group.membership()).toEqual({ voters: ['a', 'b'], learners: ['c', 'd'] });

    // Only the leader acts.
    group.setRole('follower');
    live = ['a'];
    await runFor(5_000);
    expect(group.changes).toHaveLength(2);
    stop();
  });

  it('keeps a learner the leader is linked to though the registry does not list it: one still catching up before it registers', async () => {
    // A joining learner registers once its own Raft view lists it, which takes as long as it
    // takes to catch up with the log (a snapshot, on a LAN, can take longer than the grace).
    const simulation = createSimulation({ seed: 7 });
    const group = standIn(['a'], ['c', 'joining']);
    let linked = ['c', 'joining'];
    const stop = keepLearnersToLiveNodes({ nodeId: 'a', raft: group.raft, liveNodes: () => ['a', 'c'], linkedNodes: () => linked, clock: simulation.clock, graceMs: 1_000, intervalMs: 100 });
    await simulation.runForAsync(5_000);
    expect(group.changes).toEqual([]);

    // Once its link is gone too (it stopped while joining, or failed), it is removed after the grace.
    linked = ['c'];
    await simulation.runForAsync(900);
    expect(group.changes).toEqual([]);
    await simulation.runForAsync(300);
    expect(group.changes).toEqual(['remove joining']);
    stop();
  });

  it('looks at each member a bounded number of times per check, not once per live node (1,000 nodes)', async () => {
    // Counted as reads of the membership's elements: an includes() per live node read them all
    // for each of the 1,000 (about a million reads, 2 ms, every interval).
    const simulation = createSimulation({ seed: 7 });
    const nodes = Array.from({ length: 1_000 }, (_, at) => `n${String(at)}`);
    const voters = nodes.slice(0, 3);
    const learners = nodes.slice(3, -1); // the last node is live but not in the group yet
    let reads = 0;
    const counted = (list: string[]): string[] =>
      new Proxy([...list], {
        get(target, key, receiver) {
          if (typeof key === 'string' && /^\d+$/.test(key)) reads += 1;
          return Reflect.get(target, key, receiver) as unknown;
        },
      });
    const changes: string[] = [];
    const raft = {
      status: () => ({ role: 'leader', membership: { voters: counted(voters), learners: counted(learners) } }) as never,
      removeMember: (node: string) => {
        changes.push(`remove ${node}`);
        return Promise.resolve();
      },
      addLearner: (node: string) => {
        changes.push(`add ${node}`);
        learners.push(node);
        return Promise.resolve();
      },
    };
    const stop = keepLearnersToLiveNodes({ nodeId: 'n0', raft: raft as never, liveNodes: () => nodes, clock: simulation.clock, graceMs: 1_000, intervalMs: 100 });
    await simulation.runForAsync(100);
    expect(changes).toEqual(['add n999']);
    expect(reads).toBeLessThanOrEqual(5 * nodes.length);

    reads = 0;
    await simulation.runForAsync(100);
    expect(changes).toEqual(['add n999']);
    expect(reads).toBeLessThanOrEqual(5 * nodes.length);
    stop();
  });
});
