// One test per rule of the Raft paper's Figure 2 and sections 5–8 (Ongaro and Ousterhout, 2014),
// each quoting the rule it checks. These run the pure core with pre-vote and check-quorum off,
// as the paper describes Raft; the thesis extensions have their own tests.
import { describe, expect, it } from '@jest/globals';
import { CoreNetwork } from '../internal/core-network';
import { MemoryStorage } from './log-storage';
import { RaftCore } from './raft';
import { createSeededRandom } from '@foundation/core';
import type { AppendRequest, Entry, Message, VoteResponse } from './types';

const PAPER = { preVote: false, checkQuorum: false, electionTicks: 10 } as const;
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const entry = (index: number, term: number, text = ''): Entry => ({ kind: 'normal', index, term, data: bytes(text) });

function cluster(size = 3): CoreNetwork {
  return new CoreNetwork(Array.from({ length: size }, (_, index) => `n${index + 1}`), PAPER);
}

/** A lone core with a given log, for receiver-rule tests. */
function core(id: string, log: Entry[], term: number, voters = ['n1', 'n2', 'n3']): RaftCore {
  const storage = new MemoryStorage({ voters, learners: [] });
  storage.append(log);
  storage.hardState = { term, vote: null, commit: 0 };
  return new RaftCore({ id, storage, hardState: storage.hardState, membership: storage.snapshotMembership(), random: createSeededRandom(id), ...PAPER });
}

function sent(raft: RaftCore): Message[] {
  return [...raft.ready().messages];
}

function append(from: string, term: number, prevIndex: number, prevTerm: number, entries: Entry[], commit: number): AppendRequest {
  return { type: 'append', from, to: 'n1', term, prevIndex, prevTerm, entries, commit };
}

describe('Figure 2, rules for all servers', () => {
  it('"If commitIndex > lastApplied: increment lastApplied, apply log[lastApplied] to state machine"', () => {
    const network = cluster();
    network.elect('n1');
    for (const command of ['a', 'b', 'c']) network.propose('n1', command);
    network.stabilize();
    for (const id of ['n1', 'n2', 'n3']) {
      expect(network.appliedText(id)).toEqual(['a', 'b', 'c']);
      const indexes = network.node(id).applied.map((applied) => applied.index);
      expect(indexes).toEqual([...indexes].sort((x, y) => x - y));
      expect(network.node(id).core.log.applied).toBe(network.node(id).core.log.committed);
    }
  });

  it('"If RPC request or response contains term T > currentTerm: set currentTerm = T, convert to follower"', () => {
    for (const type of ['append', 'heartbeat', 'vote-response', 'append-response'] as const) {
      const network = cluster();
      network.elect('n1');
      const leader = network.node('n1').core;
      expect(leader.role).toBe('leader');
      const higher = leader.term + 5;
      const base = { from: 'n2', to: 'n1', term: higher };
      const message: Message =
        type === 'append'
          ? { ...base, type, prevIndex: 0, prevTerm: 0, entries: [], commit: 0 }
          : type === 'heartbeat'
            ? { ...base, type, commit: 0, context: null }
            : type === 'vote-response'
              ? { ...base, type, granted: false, preVote: false }
              : { ...base, type, success: false, index: 0, hintIndex: 0, hintTerm: 0 };
      leader.step(message);
      expect({ type, term: leader.term, role: leader.role }).toEqual({ type, term: higher, role: 'follower' });
    }
  });
});

describe('Figure 2, rules for followers', () => {
  it('"If election timeout elapses without receiving AppendEntries RPC from current leader or granting vote to candidate: convert to candidate"', () => {
    const network = cluster();
    network.tick('n2', 2 * PAPER.electionTicks);
    expect(network.node('n2').core.role).toBe('candidate');
    expect(network.node('n2').core.term).toBe(1);
  });

  it('a follower that keeps hearing from its leader never starts an election', () => {
    const network = cluster();
    network.elect('n1');
    for (let round = 0; round < 100; round += 1) {
      network.tick('n1');
      network.tick('n2');
      network.tick('n3');
      network.stabilize();
    }
    expect(network.node('n2').core.role).toBe('follower');
    expect(network.node('n1').core.role).toBe('leader');
    expect(network.node('n1').core.term).toBe(1);
  });
});

describe('Figure 2, rules for candidates (§5.2)', () => {
  it('"On conversion to candidate, start election: increment currentTerm, vote for self, reset election timer, send RequestVote RPCs to all other servers"', () => {
    const network = cluster();
    const candidate = network.node('n1').core;
    candidate.campaign();
    expect(candidate.role).toBe('candidate');
    expect(candidate.term).toBe(1);
    expect(candidate.vote).toBe('n1');
    const ready = candidate.ready();
    expect(ready.hardState).toEqual({ term: 1, vote: 'n1', commit: 0 });
    expect(ready.messages.map((message) => [message.type, message.to, message.term])).toEqual([
      ['vote', 'n2', 1],
      ['vote', 'n3', 1],
    ]);
  });

  it('"If votes received from majority of servers: become leader"', () => {
    const network = cluster(5);
    const candidate = network.node('n1').core;
    candidate.campaign();
    candidate.ready();
    const grant = (from: string): VoteResponse => ({ type: 'vote-response', from, to: 'n1', term: 1, granted: true, preVote: false });
    candidate.step(grant('n2'));
    expect(candidate.role).toBe('candidate');
    candidate.step(grant('n3'));
    expect(candidate.role).toBe('leader');
  });

  it('a majority of rejections sends the candidate back to follower', () => {
    const network = cluster(3);
    const candidate = network.node('n1').core;
    candidate.campaign();
    candidate.step({ type: 'vote-response', from: 'n2', to: 'n1', term: 1, granted: false, preVote: false });
    expect(candidate.role).toBe('candidate');
    candidate.step({ type: 'vote-response', from: 'n3', to: 'n1', term: 1, granted: false, preVote: false });
    expect(candidate.role).toBe('follower');
  });

  it('"If AppendEntries RPC received from new leader: convert to follower"', () => {
    const candidate = core('n1', [], 0);
    candidate.campaign();
    expect(candidate.role).toBe('candidate');
    candidate.step(append('n2', 1, 0, 0, [], 0));
    expect(candidate.role).toBe('follower');
    expect(candidate.leader).toBe('n2');
    expect(candidate.term).toBe(1);
  });

  it('"If election timeout elapses: start new election"', () => {
    const network = cluster();
    network.isolate('n2');
    network.isolate('n3');
    network.node('n1').core.campaign();
    expect(network.node('n1').core.term).toBe(1);
    network.tick('n1', 2 * PAPER.electionTicks);
    expect(network.node('n1').core.role).toBe('candidate');
    expect(network.node('n1').core.term).toBe(2);
  });

  it('§5.2: "Raft uses randomized election timeouts to ensure that split votes are rare and that they are resolved quickly"', () => {
    const timeouts = new Set<number>();
    for (let seed = 1; seed <= 20; seed += 1) {
      const network = new CoreNetwork(['n1', 'n2', 'n3'], PAPER, seed);
      let ticks = 0;
      while (network.node('n1').core.role === 'follower') {
        network.tick('n1');
        ticks += 1;
      }
      expect(ticks).toBeGreaterThanOrEqual(PAPER.electionTicks);
      expect(ticks).toBeLessThan(2 * PAPER.electionTicks);
      timeouts.add(ticks);
    }
    expect(timeouts.size).toBeGreaterThan(3);
  });
});

describe('Figure 2, rules for leaders', () => {
  it('"Upon election: send initial empty AppendEntries RPCs (heartbeat) to each server; repeat during idle periods"', () => {
    const network = cluster();
    network.elect('n1');
    const leader = network.node('n1').core;
    leader.tick();
    const heartbeats = sent(leader).filter((message) => message.type === 'heartbeat');
    expect(heartbeats.map((message) => message.to).sort()).toEqual(['n2', 'n3']);
  });

  it('"If command received from client: append entry to local log, respond after entry applied to state machine"', () => {
    const network = cluster();
    network.elect('n1');
    const result = network.propose('n1', 'x');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(network.node('n1').core.log.lastIndex()).toBe(result.index);
    expect(network.node('n1').applied.some((applied) => applied.index === result.index)).toBe(false);
    network.stabilize();
    expect(network.node('n1').applied.find((applied) => applied.index === result.index)).toMatchObject({ term: result.term });
  });

  it('"If last log index ≥ nextIndex for a follower: send AppendEntries RPC with log entries starting at nextIndex"', () => {
    const network = cluster();
    network.elect('n1');
    network.propose('n1', 'a');
    const leader = network.node('n1').core;
    const appends = sent(leader).filter((message): message is AppendRequest => message.type === 'append');
    expect(appends.map((message) => message.to).sort()).toEqual(['n2', 'n3']);
    for (const message of appends) {
      expect(message.entries.map((entryOut) => entryOut.index)).toEqual([leader.log.lastIndex()]);
      expect(message.prevIndex).toBe(leader.log.lastIndex() - 1);
    }
  });

  it('"If successful: update nextIndex and matchIndex for follower"', () => {
    const network = cluster();
    network.elect('n1');
    network.propose('n1', 'a');
    network.stabilize();
    const progress = network.node('n1').core.status().progress;
    const last = network.node('n1').core.log.lastIndex();
    expect(progress.n2).toMatchObject({ match: last, next: last + 1 });
    expect(progress.n3).toMatchObject({ match: last, next: last + 1 });
  });

  it('"If AppendEntries fails because of log inconsistency: decrement nextIndex and retry"', () => {
    // n3 holds stale entries of term 1 that the new leader (term 3) does not have.
    const network = cluster();
    const stale = [entry(1, 1, 'x'), entry(2, 1, 'y'), entry(3, 1, 'z')];
    const leaderLog = [entry(1, 1, 'x'), entry(2, 2, 'p'), entry(3, 2, 'q')];
    for (const [id, log] of [
      ['n1', leaderLog],
      ['n2', leaderLog],
      ['n3', stale],
    ] as const) {
      const node = network.node(id);
      node.storage.append(log);
      node.storage.hardState = { term: 2, vote: null, commit: 0 };
      network.restart(id);
    }
    network.elect('n1');
    network.propose('n1', 'r');
    network.stabilize();
    const rejected = network.delivered.filter((message) => message.type === 'append-response' && message.from === 'n3' && !message.success);
    expect(rejected.length).toBeGreaterThan(0);
    const terms = (id: string): number[] => network.node(id).storage.entries(1, network.node(id).storage.lastIndex() + 1, Infinity).map((e) => e.term);
    expect(terms('n3')).toEqual(terms('n1'));
    expect(network.appliedText('n3')).toEqual(['x', 'p', 'q', 'r']);
  });

  it('"If there exists an N such that N > commitIndex, a majority of matchIndex[i] ≥ N, and log[N].term == currentTerm: set commitIndex = N"', () => {
    const network = cluster(5);
    network.elect('n1');
    network.isolate('n4');
    network.isolate('n5');
    network.propose('n1', 'a');
    network.stabilize();
    const leader = network.node('n1').core;
    expect(leader.log.committed).toBe(leader.log.lastIndex());
    network.isolate('n3');
    network.propose('n1', 'b');
    network.stabilize();
    expect(leader.log.committed).toBe(leader.log.lastIndex() - 1);
  });
});

describe('Figure 2, AppendEntries receiver', () => {
  it('1. "Reply false if term < currentTerm"', () => {
    const follower = core('n1', [], 5);
    follower.step(append('n2', 3, 0, 0, [entry(1, 3)], 0));
    const replies = sent(follower);
    expect(replies).toEqual([expect.objectContaining({ type: 'append-response', to: 'n2', term: 5, success: false })]);
    expect(follower.log.lastIndex()).toBe(0);
  });

  it('2. "Reply false if log doesn\'t contain an entry at prevLogIndex whose term matches prevLogTerm"', () => {
    const follower = core('n1', [entry(1, 1), entry(2, 1)], 2);
    follower.step(append('n2', 2, 2, 2, [entry(3, 2)], 0));
    expect(sent(follower)).toEqual([expect.objectContaining({ type: 'append-response', success: false, index: 2 })]);
    follower.step(append('n2', 2, 3, 2, [entry(4, 2)], 0));
    expect(sent(follower)).toEqual([expect.objectContaining({ type: 'append-response', success: false, index: 3 })]);
    expect(follower.log.lastIndex()).toBe(2);
  });

  it('3. "If an existing entry conflicts with a new one (same index but different terms), delete the existing entry and all that follow it"', () => {
    const follower = core('n1', [entry(1, 1), entry(2, 1, 'old'), entry(3, 1, 'old')], 2);
    follower.step(append('n2', 2, 1, 1, [entry(2, 2, 'new')], 0));
    expect(follower.log.lastIndex()).toBe(2);
    expect(follower.log.term(2)).toBe(2);
    expect(sent(follower)).toEqual([expect.objectContaining({ type: 'append-response', success: true, index: 2 })]);
  });

  it('4. "Append any new entries not already in the log" (and keep the ones that are)', () => {
    const follower = core('n1', [entry(1, 1), entry(2, 1)], 1);
    follower.step(append('n2', 1, 0, 0, [entry(1, 1), entry(2, 1), entry(3, 1)], 0));
    expect(follower.log.lastIndex()).toBe(3);
    // A stale, shorter append must not truncate entries that agree with it.
    follower.step(append('n2', 1, 0, 0, [entry(1, 1)], 0));
    expect(follower.log.lastIndex()).toBe(3);
  });

  it('5. "If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new entry)"', () => {
    const follower = core('n1', [entry(1, 1), entry(2, 1), entry(3, 1)], 1);
    follower.step(append('n2', 1, 1, 1, [entry(2, 1)], 3));
    expect(follower.log.committed).toBe(2);
    follower.step(append('n2', 1, 3, 1, [], 3));
    expect(follower.log.committed).toBe(3);
  });
});

describe('Figure 2, RequestVote receiver (§5.2, §5.4.1)', () => {
  const request = (term: number, lastIndex: number, lastTerm: number, from = 'n2'): Message => ({
    type: 'vote',
    from,
    to: 'n1',
    term,
    lastIndex,
    lastTerm,
    preVote: false,
    transfer: false,
  });

  it('1. "Reply false if term < currentTerm"', () => {
    const voter = core('n1', [], 5);
    voter.step(request(4, 10, 4));
    expect(voter.vote).toBeNull();
  });

  it('2. "If votedFor is null or candidateId, and candidate\'s log is at least as up-to-date as receiver\'s log, grant vote"', () => {
    const voter = core('n1', [entry(1, 1), entry(2, 2)], 2);
    voter.step(request(3, 2, 2));
    expect(sent(voter)).toEqual([expect.objectContaining({ type: 'vote-response', to: 'n2', granted: true, term: 3 })]);
    expect(voter.vote).toBe('n2');
    // Repeating the request to the same candidate is granted again (votedFor == candidateId).
    voter.step(request(3, 2, 2));
    expect(sent(voter)).toEqual([expect.objectContaining({ granted: true })]);
  });

  it('§5.2: "each server will vote for at most one candidate in a given term"', () => {
    const voter = core('n1', [], 0);
    voter.step(request(1, 0, 0, 'n2'));
    voter.step(request(1, 0, 0, 'n3'));
    const votes = sent(voter) as VoteResponse[];
    expect(votes.map((vote) => [vote.to, vote.granted])).toEqual([
      ['n2', true],
      ['n3', false],
    ]);
  });

  it.each([
    ['a lower last term', 2, 1, false],
    ['the same last term and a shorter log', 1, 2, false],
    ['the same last term and an equal log', 2, 2, true],
    ['a higher last term and a shorter log', 1, 3, true],
  ])('§5.4.1: "the voter denies its vote if its own log is more up-to-date" — candidate with %s', (_label, lastIndex, lastTerm, granted) => {
    const voter = core('n1', [entry(1, 1), entry(2, 2)], 2);
    voter.step(request(5, lastIndex, lastTerm));
    expect(sent(voter)).toEqual([expect.objectContaining({ type: 'vote-response', granted })]);
  });
});

describe('§5.3 log replication and the Log Matching Property', () => {
  it('"If two entries in different logs have the same index and term, then the logs are identical in all preceding entries"', () => {
    const network = cluster(5);
    network.elect('n1');
    for (let round = 0; round < 5; round += 1) {
      network.isolate(`n${2 + (round % 4)}`);
      network.propose('n1', `c${round}`);
      network.stabilize();
      network.heal();
      network.node('n1').core.tick();
      network.stabilize();
    }
    const logs = ['n1', 'n2', 'n3', 'n4', 'n5'].map((id) => {
      const storage = network.node(id).storage;
      return storage.entries(1, storage.lastIndex() + 1, Infinity).map((e) => `${e.index}:${e.term}`);
    });
    for (const log of logs) expect(log).toEqual(logs[0]);
  });
});

describe('§5.4.2 committing entries from previous terms (Figure 8)', () => {
  it('"Raft never commits log entries from previous terms by counting replicas"', () => {
    // Figure 8 (c): S1 leads in term 4 and has replicated the term-2 entry at index 2 to a
    // majority, but it must not count that entry as committed.
    const network = cluster(5);
    const logs: Record<string, Entry[]> = {
      n1: [entry(1, 1), entry(2, 2)],
      n2: [entry(1, 1), entry(2, 2)],
      n3: [entry(1, 1)],
      n4: [entry(1, 1)],
      n5: [entry(1, 1), entry(2, 3)],
    };
    for (const [id, log] of Object.entries(logs)) {
      network.node(id).storage.append(log);
      network.node(id).storage.hardState = { term: 3, vote: null, commit: 1 };
      network.restart(id);
    }
    network.isolate('n5');
    network.isolate('n4');
    network.elect('n1');
    const leader = network.node('n1').core;
    expect(leader.role).toBe('leader');
    // The leader's no-op of term 4 reaches n2 and n3: now index 2 commits, with index 3.
    expect(leader.log.committed).toBe(3);
    expect(leader.log.term(3)).toBe(leader.term);
    // Before the no-op committed, index 2 (term 2) was on n1, n2 and n3 but was not committed by count.
    const commits = network.delivered.filter((message): message is AppendRequest => message.type === 'append').map((message) => message.commit);
    expect(commits).not.toContain(2);
  });
});

describe('§7 log compaction', () => {
  it('"the leader must occasionally send snapshots to followers that lag behind"', () => {
    const network = cluster();
    network.elect('n1');
    network.isolate('n3');
    for (let index = 0; index < 10; index += 1) network.propose('n1', `c${index}`);
    network.stabilize();
    const leader = network.node('n1');
    leader.storage.createSnapshot(leader.core.log.applied, leader.core.membership(), bytes('state after c9'));
    network.heal();
    network.node('n1').core.tick();
    network.stabilize();
    const snapshots = network.delivered.filter((message) => message.type === 'snapshot' && message.to === 'n3');
    expect(snapshots).toHaveLength(1);
    expect(network.node('n3').storage.snapshot()?.data).toEqual(bytes('state after c9'));
    expect(network.node('n3').core.log.committed).toBe(leader.core.log.committed);
    network.propose('n1', 'after');
    network.stabilize();
    expect(network.appliedText('n3')).toEqual(['after']);
  });
});

describe('§8 client interaction: read-only operations', () => {
  it('"a leader must check whether it has been deposed before processing a read-only request" (ReadIndex)', () => {
    const network = cluster();
    network.elect('n1');
    network.propose('n1', 'w');
    network.stabilize();
    const leader = network.node('n1');
    leader.core.readIndex('read-1');
    network.processReady('n1');
    expect(leader.readStates).toEqual([]);
    network.stabilize();
    expect(leader.readStates).toEqual([{ index: leader.core.log.committed, context: 'read-1' }]);
  });

  it('a deposed leader cut off from the majority never confirms a read', () => {
    const network = cluster();
    network.elect('n1');
    network.isolate('n1');
    network.node('n1').core.readIndex('read-stale');
    network.stabilize();
    network.elect('n2');
    network.node('n2').core.propose(bytes('newer'));
    network.stabilize();
    expect(network.node('n1').readStates).toEqual([]);
  });

  it('"each leader commit a blank no-op entry into the log at the start of its term"', () => {
    const network = cluster();
    network.elect('n1');
    const first = network.node('n1').applied[0];
    expect(first).toMatchObject({ kind: 'normal', term: 1 });
    expect((first as Extract<Entry, { kind: 'normal' }>).data.byteLength).toBe(0);
  });
});

describe('reads forwarded from an older term (review finding)', () => {
  it('are refused at once with this term, so the requester fails fast instead of at its timeout', () => {
    // A read-index below this node's term was ignored like any stale message: the follower that
    // forwarded it waited for its driver's timeout.
    const raft = core('n1', [], 2);
    raft.step({ type: 'read-index', from: 'n2', to: 'n1', term: 1, context: 'r1' });
    expect(sent(raft)).toContainEqual({ type: 'read-index-response', to: 'n2', from: 'n1', term: 2, context: 'r1', index: -1 });
  });
});

