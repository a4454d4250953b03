// Fuzzing the core: random schedules of ticks, proposals, reads, transfers, membership changes
// and restarts, with messages delivered late, twice, out of order or not at all, and old
// messages replayed into nodes in every role. After every step: at most one leader per term,
// and every node's committed entries agree with every other's (state machine safety). And the
// wire layer: arbitrary payloads are rejected with InvalidMessageError, never anything else.
import { describe, expect, it } from '@jest/globals';
import { createSeededRandom } from '@foundation/core';
import fc from 'fast-check';
import { InvalidMessageError } from '../errors/invalid-message-error';
import { CoreNetwork } from '../internal/core-network';
import { parseWireMessage } from '../driver/wire';
import type { Message } from './types';

const LIMITS = { maxEntriesPerMessage: 100, maxEntryBytes: 1024, maxSnapshotBytes: 1 << 20, maxChunkBytes: 1 << 16 };
/** Limits no message of the schedules comes near: what they check is the rules between fields. */
const SCHEDULE_LIMITS = { maxEntriesPerMessage: 1 << 20, maxEntryBytes: 1 << 20, maxSnapshotBytes: 1 << 30, maxChunkBytes: 1 << 30 };

function runSchedule(seed: number, steps: number): { leaders: number; committed: number } {
  const random = createSeededRandom(seed);
  const ids = ['n1', 'n2', 'n3', 'n4', 'n5'].slice(0, random.bool(0.5) ? 3 : 5);
  const network = new CoreNetwork(ids, { electionTicks: 5, preVote: random.bool(0.7), checkQuorum: random.bool(0.7) }, seed);
  const leaderOfTerm = new Map<number, string>();
  const committed = new Map<number, string>();
  const history: Message[] = [];
  let proposals = 0;

  const check = (step: number): void => {
    for (const [id, node] of network.nodes) {
      if (node.core.role === 'leader') {
        const known = leaderOfTerm.get(node.core.term);
        if (known !== undefined && known !== id) throw new Error(`seed=${seed} step ${step}: ${known} and ${id} both lead term ${node.core.term}`);
        leaderOfTerm.set(node.core.term, id);
      }
      const log = node.core.log;
      for (let index = log.firstIndex(); index <= log.committed; index += 1) {
        const term = log.term(index);
        if (term === null) continue;
        const key = `${term}`;
        const known = committed.get(index);
        if (known === undefined) committed.set(index, key);
        else if (known !== key) throw new Error(`seed=${seed} step ${step}: ${id} committed term ${key} at ${index}, another node term ${known}`);
      }
    }
  };

  for (let step = 0; step < steps; step += 1) {
    const id = random.pick(ids);
    const node = network.node(id);
    const roll = random.float();
    if (roll < 0.3) node.core.tick();
    else if (roll < 0.4) network.propose(id, `p${proposals++}`);
    else if (roll < 0.43) node.core.readIndex(`r${step}`);
    else if (roll < 0.45) node.core.transferLeadership(random.pick(ids));
    else if (roll < 0.46) node.core.proposeMembershipChange({ type: random.pick(['add-learner', 'remove'] as const), node: random.pick(ids) });
    else if (roll < 0.48) network.restart(id);
    else if (roll < 0.53 && history.length > 0) {
      // An old message, delivered again to whoever it was for: stale terms, stale indexes.
      const old = random.pick(history);
      network.node(old.to).core.step(old);
    } else {
      for (const nodeId of ids) network.processReady(nodeId);
      const queued = network.queue.splice(0);
      for (const message of random.shuffle(queued)) {
        const fate = random.float();
        if (fate < 0.1) continue; // lost
        if (fate < 0.2) {
          network.queue.push(message); // late
          continue;
        }
        // Every message a correct node sends, late, replayed or after a restart, passes the
        // wire's checks (snapshots travel as chunks, checked in wire.test.ts).
        if (message.type !== 'snapshot') parseWireMessage(message, message.from, message.to, SCHEDULE_LIMITS);
        history.push(message);
        if (history.length > 200) history.shift();
        network.node(message.to).core.step(message);
        if (fate < 0.25) network.node(message.to).core.step(message); // duplicated
      }
    }
    check(step);
  }
  return { leaders: leaderOfTerm.size, committed: committed.size };
}

describe('fuzzing the core', () => {
  it('random schedules never break election safety or state machine safety (property)', () => {
    let leaders = 0;
    let committed = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), (seed) => {
        const outcome = runSchedule(seed, 1500);
        leaders += outcome.leaders;
        committed += outcome.committed;
      }),
      { numRuns: 40, seed: 4242 },
    );
    // The schedules must actually elect leaders and commit entries, or they prove nothing.
    expect(leaders).toBeGreaterThan(40);
    expect(committed).toBeGreaterThan(400);
  });
});

describe('fuzzing the wire', () => {
  it('arbitrary payloads are rejected with InvalidMessageError and nothing else (property)', () => {
    const type = fc.constantFrom('vote', 'vote-response', 'append', 'append-response', 'heartbeat', 'heartbeat-response', 'timeout-now', 'read-index', 'read-index-response', 'snapshot-chunk', 'snapshot-chunk-ack', 'nonsense');
    const payload = fc.oneof(
      fc.anything(),
      fc.record({ type, from: fc.constant('n2'), to: fc.constant('n1'), term: fc.anything(), entries: fc.anything(), data: fc.anything() }, { requiredKeys: ['type', 'from', 'to'] }),
      fc.record({ type, from: fc.constant('n2'), to: fc.constant('n1'), term: fc.nat(), prevIndex: fc.nat(), prevTerm: fc.nat(), commit: fc.nat(), entries: fc.array(fc.anything(), { maxLength: 3 }) }),
    );
    fc.assert(
      fc.property(payload, (candidate) => {
        try {
          parseWireMessage(candidate, 'n2', 'n1', LIMITS);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidMessageError);
        }
      }),
      { numRuns: 3000, seed: 99 },
    );
  });

  it('rejects oversized and spoofed messages', () => {
    const append = { type: 'append', from: 'n2', to: 'n1', term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ kind: 'normal', index: 1, term: 1, data: new Uint8Array(2048) }] };
    expect(() => parseWireMessage(append, 'n2', 'n1', LIMITS)).toThrow(/above the limit/);
    expect(() => parseWireMessage({ ...append, entries: [] }, 'n3', 'n1', LIMITS)).toThrow(/arrived from n3/);
    expect(() => parseWireMessage({ ...append, entries: [] }, 'n2', 'n9', LIMITS)).toThrow(/addressed to n1/);
    const many = Array.from({ length: 101 }, (_, index) => ({ kind: 'normal', index: index + 1, term: 1, data: new Uint8Array(0) }));
    expect(() => parseWireMessage({ ...append, entries: many }, 'n2', 'n1', LIMITS)).toThrow(/at most 100/);
    expect(parseWireMessage({ ...append, entries: [] }, 'n2', 'n1', LIMITS)).toMatchObject({ type: 'append', entries: [] });
  });

  it("appended entries hold their own bytes, not the buffer the message was decoded from", () => {
    // A decoder hands byte strings out as views of its input (cbor-x does), and a transport's
    // input is a socket read of up to 64 KiB. A follower keeps entries in its log until the next
    // snapshot, so views would keep every such read alive with them.
    const received = new Uint8Array(64 * 1024).fill(7);
    const entries = [10, 0, 300].map((bytes, position) => ({ kind: 'normal', index: position + 1, term: 1, data: received.subarray(1000 + 400 * position, 1000 + 400 * position + bytes) }));
    const parsed = parseWireMessage({ type: 'append', from: 'n2', to: 'n1', term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries }, 'n2', 'n1', LIMITS);
    if (parsed.type !== 'append') throw new Error('not an append');
    for (const [position, entry] of parsed.entries.entries()) {
      if (entry.kind !== 'normal') throw new Error('not a normal entry');
      expect(entry.data.buffer).not.toBe(received.buffer);
      expect(entry.data.buffer.byteLength).toBeLessThanOrEqual(310);
      expect([...entry.data]).toEqual([...entries[position]!.data]);
    }
  });
});
