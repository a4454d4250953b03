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
});
