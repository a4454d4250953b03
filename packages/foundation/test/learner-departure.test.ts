// Learners that leave the cluster leave the Raft group too. Review finding: a node added as a
// learner stayed in the Raft configuration after it stopped or failed, so the leader kept
// replicating to it (and redialling it) and the configuration grew with every learner that ever
// joined. Nodes in this process: one voter and three learners.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FoundationNode } from '../src/index';
import { startVoterAndLearners, until } from './support/loopback';

const root = mkdtempSync(join(tmpdir(), 'foundation-learners-'));
const nodes: FoundationNode[] = [];
afterAll(async () => {
  for (const node of nodes.reverse()) await node.stop().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

describe('learners', () => {
  it('leave the Raft group once they stopped or failed; one removed while alive is added back', async () => {
    const [voter, stays, stops, fails] = (await startVoterAndLearners(root, ['voter', 'stays', 'stops', 'fails'], nodes)) as [FoundationNode, FoundationNode, FoundationNode, FoundationNode];
    const learners = (): string[] => [...voter.status().raft.learners].sort();
    expect(learners()).toEqual([stays.id, stops.id, fails.id].sort());

    // One leaves gracefully; the other's connections all drop at once, as in a crash, and the
    // membership declares it failed.
    await Promise.all([stops.stop(), fails.transport.close()]);
    await until('the departed learners to leave the Raft group', () => learners().length === 1, 15_000);
    expect(learners()).toEqual([stays.id]);
    expect(voter.status().raft.voters).toEqual([voter.id]);

    // A learner removed while alive (as a partition longer than the grace would have it) is
    // still in the registry, and is added back. Raft letting go of its link leaves the link up
    // (the learner dialled it, and the membership uses it): the membership does not take the
    // learner for failed, so the registry keeps listing it and it is added back at once.
    const left: string[] = [];
    const offLeave = voter.membership.on('member-leave', (member, reason) => {
      if (member === stays.id) left.push(reason ?? 'unknown');
    });
    await voter.consensus.raft.removeMember(stays.id);
    const removedAt = Date.now();
    await until('the live learner to be added back', () => learners().length === 1, 15_000);
    const addedBackAfterMs = Date.now() - removedAt;
    await stays.kv.put('after', 1);
    expect(await stays.kv.get('after')).toBe(1);
    offLeave();
    expect(left).toEqual([]);
    expect(addedBackAfterMs).toBeLessThan(5_000);
  }, 60_000);
});
