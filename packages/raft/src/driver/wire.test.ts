// The wire against messages no correct node sends but that are well formed field by field: the
// terms in a message must agree with one another as they do in every Raft log.
import { describe, expect, it } from '@jest/globals';
import { InvalidMessageError } from '../errors/invalid-message-error';
import { MAX_TERM, parseWireMessage } from './wire';

const LIMITS = { maxEntriesPerMessage: 100, maxEntryBytes: 1024, maxSnapshotBytes: 1 << 20, maxChunkBytes: 1 << 16 };
const parse = (payload: unknown): unknown => parseWireMessage(payload, 'n2', 'n1', LIMITS);
const entry = (index: number, term: number): unknown => ({ kind: 'normal', index, term, data: new Uint8Array([index]) });
const append = (term: number, prevTerm: number, terms: number[]): unknown => ({
  type: 'append',
  from: 'n2',
  to: 'n1',
  term,
  prevIndex: 4,
  prevTerm,
  commit: 4,
  entries: terms.map((entryTerm, position) => entry(5 + position, entryTerm)),
});

describe('terms that contradict each other within a message', () => {
  it('refuses an append whose entries hold a term above its own, below prevTerm, going down, or 0 (review finding)', () => {
    // Field by field these were valid, and a follower appended them: an entry of term 99 from
    // the leader of term 3 made the follower's last term 99, so its log counted as more up to
    // date than every other (§5.4.1), and behind on committed entries it could then win an
    // election and overwrite them on the others.
    const refused = [
      append(3, 2, [2, 99]), // an entry of a term the leader has not reached
      append(3, 2, [3, 2]), // a log's terms never go down
      append(3, 2, [1]), // below the term of the entry before it
      append(3, 5, []), // prevTerm above the message's term
      { ...(append(3, 0, []) as object), prevIndex: 0, entries: [entry(1, 0)] }, // term 0 is the empty log's, never an entry's
    ];
    for (const payload of refused) expect(() => parse(payload)).toThrow(InvalidMessageError);
    expect(parse(append(3, 2, [2, 2, 3]))).toMatchObject({ type: 'append', entries: [{ term: 2 }, { term: 2 }, { term: 3 }] });
    expect(parse({ ...(append(1, 0, [1]) as object), prevIndex: 0, entries: [entry(1, 1)] })).toMatchObject({ type: 'append' });
  });

  it('refuses a vote request, an append response or a snapshot whose log term is above the message term (review finding)', () => {
    // A candidate's last term is at most its term (a pre-vote's term is one above its own), a
    // follower's log holds no term above its own, and a snapshot holds committed entries only.
    const vote = { type: 'vote', from: 'n2', to: 'n1', term: 4, lastIndex: 9, lastTerm: 3, preVote: true, transfer: false };
    expect(parse(vote)).toMatchObject({ type: 'vote', lastTerm: 3 });
    expect(() => parse({ ...vote, lastTerm: 5 })).toThrow(InvalidMessageError);
    const response = { type: 'append-response', from: 'n2', to: 'n1', term: 4, success: false, index: 9, hintIndex: 7, hintTerm: 4 };
    expect(parse(response)).toMatchObject({ type: 'append-response', hintTerm: 4 });
    expect(() => parse({ ...response, hintTerm: 5 })).toThrow(InvalidMessageError);
    const meta = { index: 20, term: 4, membership: { voters: ['n1', 'n2'], learners: [] } };
    const chunk = { type: 'snapshot-chunk', from: 'n2', to: 'n1', term: 4, id: 't1', meta, offset: 0, total: 1, data: new Uint8Array(1) };
    expect(parse(chunk)).toMatchObject({ type: 'snapshot-chunk' });
    expect(() => parse({ ...chunk, meta: { ...meta, term: 5 } })).toThrow(InvalidMessageError);
  });
});

describe('a snapshot chunk acknowledgement', () => {
  it('carries a follower\'s refusal of a snapshot above its limit, which acknowledgements without it parse as before (review finding)', () => {
    // The refusal is an optional field of the acknowledgement, so a node of an earlier version,
    // which builds the acknowledgement from the fields it knows, reads it as one of nothing new.
    const ack = { type: 'snapshot-chunk-ack', from: 'n2', to: 'n1', id: 't1', received: 0 };
    expect(parse(ack)).toEqual(ack);
    expect(parse({ ...ack, maxSnapshotBytes: 64 })).toEqual({ ...ack, maxSnapshotBytes: 64 });
    for (const maxSnapshotBytes of [-1, 1.5, '64', null]) expect(() => parse({ ...ack, maxSnapshotBytes })).toThrow(InvalidMessageError);
  });
});

describe('a term no node reaches', () => {
  it('refuses a message of a term above 2^48, and takes one of 2^48 (hostile-peer finding)', () => {
    // A node takes a higher term from any message: from one at Number.MAX_SAFE_INTEGER its next
    // election went past the safe integers, a term its peers and its own log refuse.
    const vote = { type: 'vote', from: 'n2', to: 'n1', term: MAX_TERM, lastIndex: 9, lastTerm: 3, preVote: false, transfer: true };
    expect(parse(vote)).toMatchObject({ type: 'vote', term: 2 ** 48 });
    for (const term of [MAX_TERM + 1, Number.MAX_SAFE_INTEGER]) {
      expect(() => parse({ ...vote, term })).toThrow(InvalidMessageError);
      expect(() => parse({ type: 'heartbeat', from: 'n2', to: 'n1', term, commit: 0, context: null })).toThrow(InvalidMessageError);
      expect(() => parse({ ...(append(term, 2, [3]) as object) })).toThrow(InvalidMessageError);
    }
  });
});
