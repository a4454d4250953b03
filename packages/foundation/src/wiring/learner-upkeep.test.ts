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
});
