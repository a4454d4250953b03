// A learner whose process is paused (SIGSTOP), as a node stalled by a long GC pause, a swapped-out
// machine or a debugger would be: its sockets stay open, so nothing but the failure detection of
// its peers can tell it is gone. Learner upkeep relies on that (src/wiring/learner-upkeep.ts): once
// the membership takes the paused node for failed, the registry stops listing it, the leader has
// no membership link to it, and after the grace it leaves the Raft group. Once resumed (SIGCONT)
// its registry announces it again and the leader adds it back, and it catches up with the log.
// Two real nodes in child processes on loopback, 'local' timing (a grace of 2 s).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, startChildCluster } from './support/child-cluster';
import type { ChildNode } from './support/child-cluster';

interface Status {
  readonly raft: { readonly role: string; readonly leader: string | null; readonly voters: readonly string[]; readonly learners: readonly string[] };
}

const dataRoot = mkdtempSync(join(tmpdir(), 'foundation-learner-pause-'));
let nodes: ChildNode[] = [];
let voter: ChildNode;
let learner: ChildNode;

beforeAll(async () => {
  nodes = await startChildCluster({ names: ['voter', 'learner'], voters: 1, dataRoot });
  [voter, learner] = nodes as [ChildNode, ChildNode];
  await eventually(() => voter.call<Status>('status'), (status) => status.raft.learners.includes(learner.id), 'the learner in the Raft group');
  await eventually(() => voter.call<string[]>('lookup', 'foundation.node'), (found) => found.includes(learner.id), 'the learner in the registry');
}, 120_000);

afterAll(async () => {
  // A paused child would not answer stop: resumed first.
  if (learner?.alive) learner.child.kill('SIGCONT');
  await Promise.all(nodes.map((node) => node.stop()));
  rmSync(dataRoot, { recursive: true, force: true });
}, 60_000);

describe('a learner whose process is paused', () => {
  it('leaves the Raft group once its peers take it for failed, and is added back and catches up once resumed', async () => {
    expect(learner.child.kill('SIGSTOP')).toBe(true);
    // The membership detects the silent node, the registry purges it, and after the grace the
    // leader removes it.
    await eventually(() => voter.call<string[]>('lookup', 'foundation.node'), (found) => !found.includes(learner.id), 'the voter’s registry to drop the paused learner');
    await eventually(() => voter.call<Status>('status'), (status) => status.raft.learners.length === 0, 'the leader to remove the paused learner');
    expect((await voter.call<Status>('status')).raft.voters).toEqual([voter.id]);
    // Committed while the learner is out of the group: it must still get it once back.
    await voter.call('set-cluster-wide', 'limits.rate', 77);

    expect(learner.child.kill('SIGCONT')).toBe(true);
    await eventually(() => voter.call<Status>('status'), (status) => status.raft.learners.includes(learner.id), 'the leader to add the resumed learner back');
    await eventually(() => voter.call<string[]>('lookup', 'foundation.node'), (found) => found.includes(learner.id), 'the voter’s registry to list the resumed learner again');
    await eventually(() => learner.call('config-get', 'limits.rate'), (value) => value === 77, 'the resumed learner to apply what was committed while it was out');
    const status = await learner.call<Status>('status');
    expect(status.raft).toMatchObject({ role: 'learner', leader: voter.id, voters: [voter.id], learners: [learner.id] });
    // It serves linearizable reads again, through the leader.
    expect(await learner.call('get-with-consensus', 'limits.rate')).toBe(77);
  }, 60_000);
});
