import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { FoundationError } from '@foundation/core';
import type { DepartureRecord, OriginDelta, OwnEntryFields, ReplicaChange, ReplicaOptions } from './replica';
import { Replica } from './replica';
import { AWAITED_RETENTION_MS, DEFAULT_LIMITS, KEY_LIST_STALENESS_MS, MAX_INCARNATION, MAX_KEY_LISTS_PER_ORIGIN, MAX_PENDING_TOMBSTONES } from './limits';
import { decodeMessage, encodeDeltas, encodeSummaries } from './wire';
import { countScansOfMapsOf } from '../../test/support/count-scans';

function fields(id: string, name: string, extra: Partial<OwnEntryFields> = {}): OwnEntryFields {
  return {
    id,
    name,
    mode: 'group',
    scope: 'cluster',
    target: `target-${id}`,
    capabilities: ['read'],
    metadata: {},
    version: undefined,
    serviceType: undefined,
    zone: undefined,
    weight: 1,
    health: 'healthy',
    load: 0,
    registeredAt: 0,
    ...extra,
  };
}

function replica(nodeId: string, overrides: Partial<ReplicaOptions> = {}): Replica & { changes: ReplicaChange[] } {
  const changes: ReplicaChange[] = [];
  const result = new Replica({
    nodeId,
    incarnation: 1,
    maxNodes: 100,
    maxServicesPerNode: 1000,
    tombstoneRetentionMs: 1000,
    maxStableTombstones: 1000,
    departureRetentionMs: 60_000,
    maxRememberedDepartures: 100,
    onChange: (change) => changes.push(change),
    ...overrides,
  });
  return Object.assign(result, { changes });
}

/** Everything a replica shows, in a canonical form (tombstones that are covered are not state). */
function view(target: Replica): string {
  const entries = [...target.entries()]
    .filter((instance) => instance.node !== target.nodeId)
    .map((instance) => `${instance.id}@${instance.revision}:${instance.health}:${instance.load}`)
    .sort();
  const summary = target.summary();
  const origins = summary.origins
    .filter((origin) => origin.node !== target.nodeId)
    .map((origin) => `${origin.node}#${origin.incarnation}:${origin.prefix}+${origin.cloud.map((interval) => `${interval.low}-${interval.high}`).join(',')}`)
    .sort();
  const departed = summary.departed.map((record) => `${record.node}#${record.incarnation}`).sort();
  return JSON.stringify({ entries, origins, departed });
}

/** The pieces a delta travels in, through the wire encoding, with at most `size` changes (and `maxMessageBytes`) each. */
function pieces(delta: OriginDelta, size = 2, maxMessageBytes = Number.POSITIVE_INFINITY): OriginDelta[] {
  return encodeDeltas('ns', [delta], [], size, maxMessageBytes).flatMap((payload) => {
    const message = decodeMessage(payload, delta.node, 'ns', DEFAULT_LIMITS);
    return message.type === 'delta' ? message.origins : [];
  });
}

/** Merges everything `source` has into `target`, as one anti-entropy exchange does (in small pieces). */
/** Every entry `target` holds, as id@revision, sorted. */
function entriesOf(target: Replica): string[] {
  return [...target.entries()].map((entry) => `${entry.id}@${entry.revision}`).sort();
}

/** What `target`'s summary says of origin `o`. */
function historyOf(target: Replica): unknown {
  return target.summary().origins.find((summary) => summary.node === 'o');
}

function pull(target: Replica, source: Replica, now = 0): void {
  const { deltas, departed } = source.deltasFor(target.summary());
  for (const record of departed) target.applyDeparture(record, now);
  for (const delta of deltas) for (const piece of pieces(delta)) target.applyDelta(piece, now, source.nodeId);
}

describe('own changes and deltas', () => {
  it('gives every change the next revision and a delta covers exactly the new ones', () => {
    const origin = replica('a');
    origin.putOwn(fields('a/1/1', 'db'));
    origin.putOwn(fields('a/1/2', 'cache'));
    const first = origin.takeOwnDelta()!;
    expect(first.covers).toEqual([{ low: 1, high: 2 }]);
    expect(first.entries.map((entry) => [entry.id, entry.revision])).toEqual([
      ['a/1/1', 1],
      ['a/1/2', 2],
    ]);
    origin.putOwn(fields('a/1/1', 'db', { health: 'degraded' }));
    origin.removeOwn('a/1/2', 0);
    const second = origin.takeOwnDelta()!;
    expect(second.covers).toEqual([{ low: 3, high: 4 }]);
    expect(second.entries.map((entry) => [entry.id, entry.revision, entry.health])).toEqual([['a/1/1', 3, 'degraded']]);
    expect(second.removed).toEqual([{ id: 'a/1/2', revision: 4 }]);
    expect(origin.takeOwnDelta()).toBeUndefined();
    expect(origin.removeOwn('a/1/2', 0)).toBe(false);
  });
});

describe('merging deltas', () => {
  it('applies deltas that arrive out of order and fills the gap when the missing one comes', () => {
    const origin = replica('a');
    const receiver = replica('r');
    origin.putOwn(fields('a/1/1', 'db'));
    const first = origin.takeOwnDelta()!;
    origin.putOwn(fields('a/1/2', 'cache'));
    const second = origin.takeOwnDelta()!;
    receiver.applyDelta(second, 0, 'a');
    expect(receiver.summary().origins.find((o) => o.node === 'a')).toMatchObject({ prefix: 0, cloud: [{ low: 2, high: 2 }] });
    receiver.applyDelta(first, 0, 'a');
    expect(receiver.summary().origins.find((o) => o.node === 'a')).toMatchObject({ prefix: 2, cloud: [] });
    expect([...receiver.entries()].map((entry) => entry.id).sort()).toEqual(['a/1/1', 'a/1/2']);
  });

  it('a delta sent in pieces loses nothing when pieces are reordered or lost: anti-entropy fills the gap (review finding)', () => {
    // Pieces used to cover nothing until the last, which covered the whole delta: when the last
    // arrived first, the receiver took the earlier pieces' entries for old ones and refused them,
    // and no later anti-entropy round sent them again.
    const origin = replica('a');
    const receiver = replica('r');
    for (let index = 1; index <= 7; index += 1) origin.putOwn(fields(`a/1/${index}`, 'db'));
    const sent = pieces(origin.takeOwnDelta()!);
    expect(sent.length).toBe(4);
    const [lost, ...delivered] = sent;
    for (const piece of delivered.reverse()) receiver.applyDelta(piece, 0, 'a');
    expect(lost!.entries.map((entry) => entry.id)).toEqual(['a/1/1', 'a/1/2']);
    expect([...receiver.entries()].map((entry) => entry.id).sort()).toEqual(['a/1/3', 'a/1/4', 'a/1/5', 'a/1/6', 'a/1/7']);
    expect(receiver.summary().origins.find((o) => o.node === 'a')).toMatchObject({ prefix: 0, cloud: [{ low: 3, high: 7 }] });
    pull(receiver, origin);
    expect([...receiver.entries()].map((entry) => entry.id).sort()).toEqual(['a/1/1', 'a/1/2', 'a/1/3', 'a/1/4', 'a/1/5', 'a/1/6', 'a/1/7']);
    expect(receiver.summary().origins.find((o) => o.node === 'a')).toMatchObject({ prefix: 7, cloud: [] });
  });

  it('a piece that covers a replaced change without its replacement leaves the receiver\'s digest apart from a peer holding the change (review finding)', () => {
    // The answer's pieces cover 1, 2..5 and 6; x@4 was replaced by x@6 at the sender, so the
    // piece for 2..5 covers 4 without carrying x. Only that piece arrived. The receiver then took
    // revision 1 from a peer that holds x@4 (which it refuses, its revision covered), and the two
    // held the same history and digest with x on one side only, until a peer holding revision 6
    // answered.
    const origin = replica('o');
    const receiver = replica('r');
    const peer = replica('p');
    const heard: OriginDelta[] = [];
    for (const id of ['o/1/a', 'o/1/b', 'o/1/b', 'o/1/x', 'o/1/b']) {
      origin.putOwn(fields(id, 'db'));
      heard.push(origin.takeOwnDelta()!);
    }
    origin.putOwn(fields('o/1/x', 'db', { load: 6 }));
    const last = origin.takeOwnDelta()!;
    // The peer heard revisions 1..5 (x@4), not 6.
    for (const delta of heard) peer.applyDelta(delta, 0, 'o');
    // Receiver and peer know each other's own origins, so that their digests compare.
    receiver.putOwn(fields('r/1/1', 'db'));
    peer.putOwn(fields('p/1/1', 'db'));
    peer.applyDelta(receiver.takeOwnDelta()!, 0, 'r');
    receiver.applyDelta(peer.takeOwnDelta()!, 0, 'p');
    const sent = pieces(origin.deltasFor(receiver.summary()).deltas.find((delta) => delta.node === 'o')!, 1);
    expect(sent.map((piece) => piece.covers)).toEqual([[{ low: 1, high: 1 }], [{ low: 2, high: 5 }], [{ low: 6, high: 6 }]]);
    expect(sent[1]!.entries.map((entry) => `${entry.id}@${entry.revision}`)).toEqual(['o/1/b@5']);
    // The pieces below and above are lost.
    receiver.applyDelta(sent[1]!, 0, 'o');
    pull(receiver, peer);
    pull(peer, receiver);
    expect(historyOf(receiver)).toEqual(historyOf(peer));
    expect(entriesOf(peer)).toContain('o/1/x@4');
    expect(entriesOf(receiver)).not.toContain('o/1/x@4');
    // Equal digests would tell anti-entropy there is nothing to repair between them.
    expect(receiver.digest()).not.toBe(peer.digest());
    // Once both hear revision 6, they hold the same entries under the same digest.
    receiver.applyDelta(last, 0, 'o');
    peer.applyDelta(last, 0, 'o');
    expect(entriesOf(receiver)).toEqual(entriesOf(peer));
    expect(entriesOf(receiver)).toContain('o/1/x@6');
    expect(receiver.digest()).toBe(peer.digest());
  });

  it('a piece of a key list that prunes a replaced change without its replacement leaves the receiver\'s digest apart from a peer holding the change (review finding)', () => {
    // The sender collected the removal of y (6), so it answers with its key list, in pieces
    // covering 1, 2..5 and 6..7; x@4 was replaced by x@7, so the piece for 2..5 lists b alone and
    // prunes x@4 and y@3 at the receiver. The piece above was lost: the receiver and a peer that
    // heard the same revisions 1..5 held the same history and digest, with x on one side only.
    const origin = replica('o');
    const receiver = replica('r');
    const peer = replica('p');
    for (const id of ['o/1/a', 'o/1/b', 'o/1/y', 'o/1/x', 'o/1/b']) origin.putOwn(fields(id, 'db'));
    const heard = origin.takeOwnDelta()!;
    receiver.applyDelta(heard, 0, 'o');
    peer.applyDelta(heard, 0, 'o');
    origin.removeOwn('o/1/y', 0);
    origin.putOwn(fields('o/1/x', 'db', { load: 7 }));
    const last = origin.takeOwnDelta()!;
    expect(origin.collectGarbage(5_000).tombstones).toBe(1);
    receiver.putOwn(fields('r/1/1', 'db'));
    peer.putOwn(fields('p/1/1', 'db'));
    peer.applyDelta(receiver.takeOwnDelta()!, 0, 'r');
    receiver.applyDelta(peer.takeOwnDelta()!, 0, 'p');
    const delta = origin.deltasFor(receiver.summary()).deltas.find((candidate) => candidate.node === 'o')!;
    expect(delta.keys).toBeDefined();
    // Bounded in bytes, so that the keys split too.
    const sent = pieces(delta, 1000, 300);
    expect(sent.map((piece) => piece.covers)).toEqual([[{ low: 1, high: 1 }], [{ low: 2, high: 5 }], [{ low: 6, high: 7 }]]);
    receiver.applyDelta(sent[0]!, 0, 'o');
    receiver.applyDelta(sent[1]!, 0, 'o');
    expect(historyOf(receiver)).toEqual(historyOf(peer));
    expect(entriesOf(peer)).toContain('o/1/x@4');
    expect(entriesOf(receiver)).not.toContain('o/1/x@4');
    expect(receiver.digest()).not.toBe(peer.digest());
    // Once both hear revisions 6 and 7, they hold the same entries under the same digest.
    receiver.applyDelta(last, 0, 'o');
    peer.applyDelta(last, 0, 'o');
    expect(entriesOf(receiver)).toEqual(entriesOf(peer));
    expect(entriesOf(receiver)).toContain('o/1/x@7');
    expect(receiver.digest()).toBe(peer.digest());
  });

  it('a replica that took every piece of an answer from a peer with a gap in its history shows that peer\'s digest, though no live replica covers the gap (review finding)', () => {
    // The origin's broadcast of revisions 6..7 reached no one, that of 8..10 reached the peer
    // alone, and then the origin stopped, with no failure detector to declare it. The peer holds
    // 1..5 and 8..10, and answers a newcomer in pieces. The pieces named one range, 1..10, so the
    // newcomer awaited 6..7, which no live replica covers: with the same history and entries as
    // the peer, it kept a digest of its own, and the two exchanged summaries on every round.
    const origin = replica('o');
    const peer = replica('p');
    const newcomer = replica('n');
    peer.putOwn(fields('p/1/1', 'db'));
    newcomer.putOwn(fields('n/1/1', 'db'));
    newcomer.applyDelta(peer.takeOwnDelta()!, 0, 'p');
    peer.applyDelta(newcomer.takeOwnDelta()!, 0, 'n');
    for (let index = 1; index <= 5; index += 1) origin.putOwn(fields(`o/1/${index}`, 'db'));
    peer.applyDelta(origin.takeOwnDelta()!, 0, 'o');
    origin.putOwn(fields('o/1/6', 'db'));
    origin.removeOwn('o/1/6', 0);
    origin.takeOwnDelta();
    for (let index = 8; index <= 10; index += 1) origin.putOwn(fields(`o/1/${index}`, 'db'));
    peer.applyDelta(origin.takeOwnDelta()!, 0, 'o');
    for (let round = 0; round < 3; round += 1) {
      pull(newcomer, peer, round);
      pull(peer, newcomer, round);
    }
    expect(historyOf(newcomer)).toEqual({ node: 'o', incarnation: 1, prefix: 5, cloud: [{ low: 8, high: 10 }], life: undefined });
    expect(historyOf(newcomer)).toEqual(historyOf(peer));
    expect(entriesOf(newcomer)).toEqual(entriesOf(peer));
    expect(newcomer.digest()).toBe(peer.digest());
  });

  it('a piece whose whole delta names revisions no replica covers leaves the receiver\'s digest apart for AWAITED_RETENTION_MS at most (review finding)', () => {
    // A forged piece (or one of an origin that stopped with no failure detector to declare it)
    // names revisions far above the origin's. Awaited for good, they kept the receiver's digest
    // apart once it held the origin's whole history, and it exchanged summaries on every round.
    const origin = replica('o');
    const receiver = replica('r');
    const peer = replica('p');
    receiver.putOwn(fields('r/1/1', 'db'));
    peer.putOwn(fields('p/1/1', 'db'));
    peer.applyDelta(receiver.takeOwnDelta()!, 0, 'r');
    receiver.applyDelta(peer.takeOwnDelta()!, 0, 'p');
    for (let index = 1; index <= 3; index += 1) origin.putOwn(fields(`o/1/${index}`, 'db'));
    const history = origin.takeOwnDelta()!;
    receiver.applyDelta(history, 0, 'o');
    peer.applyDelta(history, 0, 'o');
    const forged = decodeMessage(
      new TextEncoder().encode(
        JSON.stringify({ v: 1, t: 'delta', ns: 'ns', departed: [], origins: [{ node: 'o', incarnation: 1, covers: [[1, 1]], removed: [], entries: [], whole: [[2 ** 52, 2 ** 52], [1, 1]] }] }),
      ),
      'h',
      'ns',
      DEFAULT_LIMITS,
    );
    if (forged.type !== 'delta') throw new Error('expected a delta');
    receiver.applyDelta(forged.origins[0]!, 1_000, 'h');
    expect(historyOf(receiver)).toEqual(historyOf(peer));
    expect([...receiver.entries()].filter((entry) => entry.node === 'o')).toEqual([...peer.entries()].filter((entry) => entry.node === 'o'));
    expect(receiver.digest()).not.toBe(peer.digest());
    receiver.collectGarbage(1_000 + AWAITED_RETENTION_MS - 1);
    expect(receiver.digest()).not.toBe(peer.digest());
    receiver.collectGarbage(1_000 + AWAITED_RETENTION_MS);
    expect(receiver.digest()).toBe(peer.digest());
  });

  it('a key list sent in pieces prunes removed entries in each piece, whichever pieces arrive (review finding)', () => {
    const origin = replica('a');
    const behind = replica('b');
    for (let index = 1; index <= 6; index += 1) origin.putOwn(fields(`a/1/${index}`, 'db'));
    behind.applyDelta(origin.takeOwnDelta()!, 0, 'a');
    origin.removeOwn('a/1/2', 0);
    origin.removeOwn('a/1/5', 0);
    for (let index = 7; index <= 10; index += 1) origin.putOwn(fields(`a/1/${index}`, 'db'));
    origin.takeOwnDelta(); // lost on the way to `behind`
    origin.collectGarbage(5_000);
    const delta = origin.deltasFor(behind.summary()).deltas.find((candidate) => candidate.node === 'a')!;
    expect(delta.removed).toEqual([]);
    const sent = pieces(delta);
    expect(sent.length).toBeGreaterThan(1);
    // Only the last piece arrives: it covers only its own revisions, prunes nothing below them.
    behind.applyDelta(sent.at(-1)!, 0, 'a');
    expect([...behind.entries()].map((entry) => entry.id)).toContain('a/1/2');
    for (const piece of sent.slice(0, -1).reverse()) behind.applyDelta(piece, 0, 'a');
    expect([...behind.entries()].map((entry) => entry.id).sort()).toEqual(['a/1/1', 'a/1/10', 'a/1/3', 'a/1/4', 'a/1/6', 'a/1/7', 'a/1/8', 'a/1/9']);
    expect(behind.summary().origins.find((o) => o.node === 'a')).toMatchObject({ prefix: 12, cloud: [] });
  });

  it('a key list whose piece below is lost does not leave a removed entry for good: later pieces cover their revisions only once the pieces below arrive (review finding)', () => {
    // The receiver held a/1/1@1 and covered revisions 1..6. The piece that pruned revisions 1..6
    // was lost; the one that covered the forgotten removal (7) arrived and was taken: the
    // receiver covered everything, no round sent a key list again, and it kept a/1/1 with the
    // digest of its peers (and passed it on in its own key list).
    const origin = replica('a');
    const receiver = replica('r');
    const sender = replica('s');
    for (let index = 1; index <= 6; index += 1) origin.putOwn(fields(`a/1/${index}`, 'db'));
    receiver.applyDelta(origin.takeOwnDelta()!, 0, 'a');
    origin.removeOwn('a/1/1', 0);
    origin.putOwn(fields('a/1/8', 'db'));
    origin.takeOwnDelta(); // lost on the way to `receiver`
    pull(sender, origin);
    expect(sender.collectGarbage(5_000).tombstones).toBe(1);
    const bytes = 800;
    const delta = sender.deltasFor(receiver.summary()).deltas.find((candidate) => candidate.node === 'a')!;
    expect(delta.removed).toEqual([]);
    const sent = pieces(delta, 1000, bytes);
    expect(sent.map((piece) => piece.covers)).toEqual([[{ low: 1, high: 6 }], [{ low: 7, high: 8 }]]);
    // The piece below is lost; the one above arrives.
    receiver.applyDelta(sent[1]!, 5_000, 's');
    const exchange = (target: Replica, source: Replica): void => {
      for (const answer of source.deltasFor(target.summary()).deltas) for (const piece of pieces(answer, 1000, bytes)) target.applyDelta(piece, 6_000, source.nodeId);
    };
    const ids = (target: Replica): string[] => [...target.entries()].filter((entry) => entry.node === 'a').map((entry) => entry.id).sort();
    const history = (target: Replica): unknown => target.summary().origins.find((summary) => summary.node === 'a');
    for (let round = 0; round < 2; round += 1) {
      exchange(receiver, sender);
      exchange(receiver, origin);
      exchange(sender, receiver);
    }
    expect(ids(receiver)).toEqual(ids(origin));
    expect(ids(receiver)).not.toContain('a/1/1');
    expect(history(receiver)).toEqual(history(origin));
    // And a peer that learns the origin from the receiver does not get it either.
    const fresh = replica('f');
    exchange(fresh, receiver);
    expect(ids(fresh)).toEqual(ids(origin));
  });

  it('takes the key lists of two senders whose pieces arrive interleaved: each sender\'s pieces wait for its own below, not for the other\'s (review finding)', () => {
    // One key list was followed per origin: each piece of the other sender replaced it, so no
    // piece above the lowest was taken and the receiver stayed at the same history round after
    // round.
    const origin = replica('a');
    for (let index = 1; index <= 60; index += 1) origin.putOwn(fields(`a/1/${index}`, 'db'));
    origin.removeOwn('a/1/1', 0);
    origin.takeOwnDelta();
    const senders = [replica('s'), replica('t')];
    for (const sender of senders) {
      pull(sender, origin);
      expect(sender.collectGarbage(5_000).tombstones).toBe(1);
    }
    const history = (target: Replica): string => JSON.stringify(target.summary().origins.find((summary) => summary.node === 'a'));
    const roundsToConverge = (interleaved: boolean): number => {
      const receiver = replica('r');
      for (let round = 1; round <= 10; round += 1) {
        const [first, second] = senders.map((sender) => sender.deltasFor(receiver.summary()).deltas.flatMap((delta) => pieces(delta, 1000, 1500)));
        expect(first!.length).toBeGreaterThan(2);
        const order = interleaved
          ? Array.from({ length: Math.max(first!.length, second!.length) }, (_, index) => [[first![index], 's'], [second![index], 't']] as const).flat()
          : [...first!.map((piece) => [piece, 's'] as const), ...second!.map((piece) => [piece, 't'] as const)];
        for (const [piece, peer] of order) if (piece !== undefined) receiver.applyDelta(piece, 6_000, peer);
        if (history(receiver) === history(origin)) {
          expect([...receiver.entries()].map((entry) => entry.id).sort()).toEqual([...origin.entries()].map((entry) => entry.id).sort());
          return round;
        }
      }
      return Number.POSITIVE_INFINITY;
    };
    expect(roundsToConverge(false)).toBe(1);
    expect(roundsToConverge(true)).toBeLessThanOrEqual(2);
  });

  /** An origin of 60 entries with one removal, and `count` senders that hold it and collected the tombstone, so that they answer with key lists. */
  function keyListSenders(count: number): { origin: Replica; senders: Replica[] } {
    const origin = replica('a');
    for (let index = 1; index <= 60; index += 1) origin.putOwn(fields(`a/1/${index}`, 'db'));
    origin.removeOwn('a/1/1', 0);
    origin.takeOwnDelta();
    const senders = Array.from({ length: count }, (_, index) => replica(`s${index}`));
    for (const sender of senders) {
      pull(sender, origin);
      expect(sender.collectGarbage(5_000).tombstones).toBe(1);
    }
    return { origin, senders };
  }

  const historyOfA = (target: Replica): string => JSON.stringify(target.summary().origins.find((summary) => summary.node === 'a'));
  const answerInPieces = (sender: Replica, receiver: Replica): OriginDelta[] => sender.deltasFor(receiver.summary()).deltas.flatMap((delta) => pieces(delta, 1000, 1500));

  it('takes the key lists of more senders than it follows whose pieces arrive interleaved: a newcomer waits while the lists followed move (review finding)', () => {
    // A newcomer past the cap evicted the list that moved least recently, which was the one whose
    // next piece came next: no list ever got its second piece and the receiver stayed at the
    // first piece's history (17 of 61) round after round.
    const { origin, senders } = keyListSenders(MAX_KEY_LISTS_PER_ORIGIN + 1);
    const receiver = replica('r');
    let converged = Number.POSITIVE_INFINITY;
    for (let round = 1; round <= 10 && converged === Number.POSITIVE_INFINITY; round += 1) {
      const answers = senders.map((sender) => answerInPieces(sender, receiver));
      for (let index = 0; index < Math.max(...answers.map((answer) => answer.length)); index += 1) {
        senders.forEach((sender, at) => {
          const piece = answers[at]![index];
          if (piece !== undefined) receiver.applyDelta(piece, 6_000, sender.nodeId);
        });
      }
      if (historyOfA(receiver) === historyOfA(origin)) converged = round;
    }
    expect(historyOfA(receiver)).toBe(historyOfA(origin));
    expect(converged).toBeLessThanOrEqual(10);
    expect([...receiver.entries()].map((entry) => entry.id).sort()).toEqual([...origin.entries()].map((entry) => entry.id).sort());
  });

  it('a key list whose sender went silent gives way to a new sender once it has not moved for the staleness time', () => {
    const { origin, senders } = keyListSenders(MAX_KEY_LISTS_PER_ORIGIN + 1);
    const silent = senders.slice(0, MAX_KEY_LISTS_PER_ORIGIN);
    const newcomer = senders[MAX_KEY_LISTS_PER_ORIGIN]!;
    const receiver = replica('r');
    // Each of the first senders gets only the start of its answer through (the first piece of its
    // key list), then goes silent: the cap is full.
    for (const sender of silent) {
      const answer = answerInPieces(sender, receiver);
      expect(answer.length).toBeGreaterThan(3);
      for (const piece of answer.slice(0, 2)) receiver.applyDelta(piece, 6_000, sender.nodeId);
    }
    expect(historyOfA(receiver)).not.toBe(historyOfA(origin));
    const round = (now: number): void => {
      for (const piece of answerInPieces(newcomer, receiver)) receiver.applyDelta(piece, now, newcomer.nodeId);
    };
    // Before the staleness time the silent lists are kept and the newcomer's is not followed: of
    // its pieces only the lowest is taken.
    round(6_000 + KEY_LIST_STALENESS_MS - 1);
    const prefixOfA = (): number => receiver.summary().origins.find((summary) => summary.node === 'a')!.prefix;
    expect(prefixOfA()).toBeLessThan(20);
    // From then on the list that moved least recently gives way.
    round(6_000 + KEY_LIST_STALENESS_MS);
    expect(historyOfA(receiver)).toBe(historyOfA(origin));
    expect([...receiver.entries()].map((entry) => entry.id).sort()).toEqual([...origin.entries()].map((entry) => entry.id).sort());
  });

  it('a removal that overtakes the registration keeps it from appearing (pending tombstone)', () => {
    const origin = replica('a');
    const receiver = replica('r');
    origin.putOwn(fields('a/1/1', 'db'));
    const registration = origin.takeOwnDelta()!;
    origin.removeOwn('a/1/1', 0);
    const removal = origin.takeOwnDelta()!;
    receiver.applyDelta(removal, 0, 'a');
    receiver.applyDelta(registration, 0, 'a');
    expect([...receiver.entries()]).toEqual([]);
    expect(receiver.changes).toEqual([]);
  });

  it('keeps a tombstone that overtook its registration past retention, until the gap before it fills (found by fast-check, seed 225296)', () => {
    const origin = replica('a');
    const receiver = replica('r');
    const behind = replica('b');
    origin.putOwn(fields('a/1/1', 'db'));
    const registration = origin.takeOwnDelta()!;
    behind.applyDelta(registration, 0, 'a');
    origin.removeOwn('a/1/1', 0);
    receiver.applyDelta(origin.takeOwnDelta()!, 0, 'a');
    // The removal's own revision is covered, but not the registration's: nothing to collect yet.
    expect(receiver.collectGarbage(1_000_000).tombstones).toBe(0);
    pull(behind, receiver);
    expect([...behind.entries()]).toEqual([]);
    receiver.applyDelta(registration, 1_000_000, 'a');
    expect([...receiver.entries()]).toEqual([]);
    expect(receiver.collectGarbage(2_000_000).tombstones).toBe(1);
  });

  it('no resurrection after garbage collection: a stale copy is refused by the causal context', () => {
    const origin = replica('a');
    const receiver = replica('r');
    const stale = replica('s');
    origin.putOwn(fields('a/1/1', 'db'));
    const registration = origin.takeOwnDelta()!;
    stale.applyDelta(registration, 0, 'a');
    receiver.applyDelta(registration, 0, 'a');
    origin.removeOwn('a/1/1', 0);
    receiver.applyDelta(origin.takeOwnDelta()!, 0, 'a');
    expect(receiver.collectGarbage(10_000)).toEqual({ tombstones: 1, departures: 0 });
    expect(receiver.counts().tombstones).toBe(0);
    // The stale replica still holds the entry and offers it, directly and by anti-entropy.
    receiver.applyDelta(registration, 20_000, 'a');
    pull(receiver, stale, 20_000);
    expect([...receiver.entries()]).toEqual([]);
    // And anti-entropy the other way removes it from the stale replica.
    pull(stale, receiver, 20_000);
    expect([...stale.entries()]).toEqual([]);
  });

  it('keeps its own tombstones until a delta has carried them, whatever the cap (review finding)', () => {
    // Collected (past maxStableTombstones) before the publish, the removals were covered by the
    // next delta without being named in it, and peers kept the entries with equal digests.
    const origin = replica('a', { maxStableTombstones: 2 });
    const peer = replica('p');
    const ids = [1, 2, 3, 4, 5].map((index) => `a/1/${index}`);
    for (const id of ids) origin.putOwn(fields(id, `svc-${id}`));
    peer.applyDelta(origin.takeOwnDelta()!, 0, 'a');
    for (const id of ids) origin.removeOwn(id, 0);
    expect(origin.collectGarbage(0).tombstones).toBe(0);
    const removal = origin.takeOwnDelta()!;
    expect(removal.removed.map((tombstone) => tombstone.id)).toEqual(ids);
    peer.applyDelta(removal, 0, 'a');
    expect([...peer.entries()]).toEqual([]);
    // Published, they are collected down to the cap as before.
    expect(origin.collectGarbage(0).tombstones).toBe(3);
    expect(origin.counts().tombstones).toBe(2);
  });

  it('a peer further behind than the kept tombstones gets the key list and drops what was removed', () => {
    const origin = replica('a');
    const behind = replica('b');
    origin.putOwn(fields('a/1/1', 'db'));
    origin.putOwn(fields('a/1/2', 'cache'));
    behind.applyDelta(origin.takeOwnDelta()!, 0, 'a');
    origin.removeOwn('a/1/1', 0);
    origin.putOwn(fields('a/1/3', 'queue'));
    origin.takeOwnDelta(); // lost on the way to `behind`
    origin.collectGarbage(5_000);
    const { deltas } = origin.deltasFor(behind.summary());
    const own = deltas.find((delta) => delta.node === 'a')!;
    expect(own.removed).toEqual([]);
    expect(own.keys?.map((key) => key.id).sort()).toEqual(['a/1/2', 'a/1/3']);
    pull(behind, origin);
    expect([...behind.entries()].map((entry) => entry.id).sort()).toEqual(['a/1/2', 'a/1/3']);
  });

  it('a replica that learned an origin from a key list passes the key list on (found by fast-check, seed 217377)', () => {
    // `relay` never held the tombstone of a/1/1: it learned the origin from a peer that had
    // already collected it. A peer still holding a/1/1 must not keep it after pulling from `relay`.
    const origin = replica('a');
    const behind = replica('b');
    const relay = replica('r');
    origin.putOwn(fields('a/1/1', 'db'));
    behind.applyDelta(origin.takeOwnDelta()!, 0, 'a');
    origin.removeOwn('a/1/1', 0);
    origin.takeOwnDelta(); // lost on the way to `behind`
    origin.collectGarbage(5_000);
    pull(relay, origin);
    expect(relay.deltasFor(behind.summary()).deltas.find((delta) => delta.node === 'a')?.keys).toEqual([]);
    pull(behind, relay);
    expect([...behind.entries()].map((entry) => entry.id)).toEqual([]);
  });

  it('a higher incarnation replaces the origin state; a lower one is ignored', () => {
    const before = replica('a');
    before.putOwn(fields('a/1/1', 'db'));
    const old = before.takeOwnDelta()!;
    const after = replica('a', { incarnation: 2 });
    after.putOwn(fields('a/2/1', 'db'));
    const fresh = after.takeOwnDelta()!;
    const receiver = replica('r');
    receiver.applyDelta(old, 0, 'a');
    receiver.applyDelta(fresh, 0, 'a');
    expect([...receiver.entries()].map((entry) => entry.id)).toEqual(['a/2/1']);
    expect(receiver.changes.map((change) => `${change.type}:${change.instance.id}${change.type === 'delete' ? `:${change.reason}` : ''}`)).toEqual([
      'put:a/1/1',
      'delete:a/1/1:restarted',
      'put:a/2/1',
    ]);
    receiver.applyDelta(old, 0, 'a');
    expect([...receiver.entries()].map((entry) => entry.id)).toEqual(['a/2/1']);
  });
});

describe('departures', () => {
  it('purges a departed node, refuses its old incarnation afterwards and tells the sender', () => {
    const origin = replica('a');
    origin.putOwn(fields('a/1/1', 'db'));
    const delta = origin.takeOwnDelta()!;
    const receiver = replica('r');
    receiver.applyDelta(delta, 0, 'a');
    const record = receiver.declareDeparted('a', 100)!;
    expect(record).toEqual({ node: 'a', incarnation: 1, at: 100 });
    expect([...receiver.entries()]).toEqual([]);
    const result = receiver.applyDelta(delta, 200, 'x');
    expect(result).toEqual({ changed: false, stale: { node: 'a', incarnation: 1, at: 0 } });
    expect(receiver.declareDeparted('unknown', 0)).toBeUndefined();
  });

  it('the departed node refutes: a new incarnation re-issues its entries, which peers accept', () => {
    const refutations: number[] = [];
    const origin = replica('a', { onRefute: (incarnation) => refutations.push(incarnation) });
    origin.putOwn(fields('a/1/1', 'db'));
    const receiver = replica('r');
    receiver.applyDelta(origin.takeOwnDelta()!, 0, 'a');
    const record = receiver.declareDeparted('a', 0)!;
    origin.applyDeparture(record, 0);
    expect(refutations).toEqual([2]);
    expect(origin.incarnation).toBe(2);
    receiver.applyDelta(origin.takeOwnDelta()!, 0, 'a');
    expect([...receiver.entries()].map((entry) => `${entry.id}#${entry.incarnation}@${entry.revision}`)).toEqual(['a/1/1#2@1']);
  });

  it('lets a listener remove an own entry while a refute re-issues them: it stays removed (review finding)', () => {
    // The refute re-issued entries one by one, telling each as it went: a watcher that
    // unregistered an entry not re-issued yet found nothing to remove, and the loop then put it
    // back, with no owner record behind it.
    let removed: boolean | undefined;
    const origin: Replica = replica('a', {
      onChange: (change) => {
        if (change.type === 'put' && change.instance.id === 'a/1/1' && change.instance.incarnation === 2) removed = origin.removeOwn('a/1/3', 0);
      },
    });
    for (const index of [1, 2, 3]) origin.putOwn(fields(`a/1/${index}`, `svc-${index}`));
    origin.takeOwnDelta();
    origin.refute(2, 'test');
    expect(removed).toBe(true);
    expect([...origin.entries()].map((instance) => instance.id).sort()).toEqual(['a/1/1', 'a/1/2']);
    const delta = origin.takeOwnDelta()!;
    expect(delta.entries.map((instance) => instance.id).sort()).toEqual(['a/1/1', 'a/1/2']);
    expect(origin.removeOwn('a/1/3', 0)).toBe(false);
  });

  it('a node that restarted with a reused incarnation moves past the history peers hold', () => {
    const first = replica('a');
    first.putOwn(fields('a/1/1', 'db'));
    first.putOwn(fields('a/1/2', 'db'));
    const peer = replica('p');
    peer.applyDelta(first.takeOwnDelta()!, 0, 'a');
    const restarted = replica('a');
    expect(restarted.checkOwnIn(peer.summary())).toBe(true);
    expect(restarted.incarnation).toBe(2);
  });

  it('a restart that reused the incarnation and is as far along as peers is retired, not merged (review finding)', () => {
    // The summary cannot tell (the peer holds no revision the new life has not used): the new
    // life's changes at revisions the peer covers were taken for the old life's, and the peer
    // kept 'db' under a/1/1 beside the new life's 'web'.
    const first = replica('a');
    first.putOwn(fields('a/1/1', 'db', { registeredAt: 10 }));
    const peer = replica('p');
    peer.applyDelta(first.takeOwnDelta()!, 0, 'a');
    const restarted = replica('a');
    restarted.putOwn(fields('a/1/1', 'cache', { registeredAt: 20 }));
    restarted.putOwn(fields('a/1/2', 'web', { registeredAt: 21 }));
    expect(restarted.checkOwnIn(peer.summary())).toBe(false);
    const result = peer.applyDelta(restarted.takeOwnDelta()!, 100, 'a');
    expect(result.retired).toEqual({ node: 'a', incarnation: 1, at: 100 });
    expect([...peer.entries()].filter((entry) => entry.node === 'a')).toEqual([]);
    expect(peer.changes.map((change) => `${change.type}:${change.instance.name}${change.type === 'delete' ? `:${change.reason}` : ''}`)).toEqual(['put:db', 'delete:db:restarted']);
    // The record reaches the node, which moves past the incarnation; its entries come back.
    restarted.applyDeparture(result.retired!, 100);
    expect(restarted.incarnation).toBe(2);
    peer.applyDelta(restarted.takeOwnDelta()!, 100, 'a');
    expect([...peer.entries()].map((entry) => `${entry.id}#${entry.incarnation}:${entry.name}`).sort()).toEqual(['a/1/1#2:cache', 'a/1/2#2:web']);
    // A late message of either life at the retired incarnation is refused.
    expect(peer.applyDelta({ node: 'a', incarnation: 1, covers: [{ low: 1, high: 1 }], entries: [first.ownEntry('a/1/1')!], removed: [], keys: undefined }, 200, 'x').stale).toMatchObject({ node: 'a', incarnation: 1 });
  });

  it('tells a second life by a removal where a registration was, or another id at a revision held', () => {
    const life = (build: (origin: Replica) => void): OriginDelta => {
      const origin = replica('a');
      build(origin);
      return origin.takeOwnDelta()!;
    };
    const old = life((origin) => {
      origin.putOwn(fields('a/1/1', 'db'));
      origin.putOwn(fields('a/1/2', 'cache'));
      origin.removeOwn('a/1/1', 0);
    });
    const holder = () => {
      const peer = replica('p');
      peer.applyDelta(old, 0, 'a');
      return peer;
    };
    // Revision 3 removed a/1/1 here; the new life registered a/1/3 with it.
    const registeredWhereRemoved = life((origin) => {
      origin.putOwn(fields('a/1/1', 'db'));
      origin.putOwn(fields('a/1/2', 'cache'));
      origin.putOwn(fields('a/1/3', 'web'));
    });
    expect(holder().applyDelta(registeredWhereRemoved, 0, 'a').retired).toMatchObject({ node: 'a', incarnation: 1 });
    // Revision 2 registered a/1/2 here; the new life removed a/1/1 with it.
    const registered = replica('p');
    registered.applyDelta(life((origin) => {
      origin.putOwn(fields('a/1/1', 'db'));
      origin.putOwn(fields('a/1/2', 'cache'));
    }), 0, 'a');
    const removedWhereRegistered = life((origin) => {
      origin.putOwn(fields('a/1/1', 'db'));
      origin.removeOwn('a/1/1', 0);
    });
    expect(registered.applyDelta(removedWhereRegistered, 0, 'a').retired).toMatchObject({ node: 'a', incarnation: 1 });
    // The same life delivered again, whole or in pieces and out of order, is no second life.
    const peer = holder();
    for (const piece of [...pieces(old, 1)].reverse()) expect(peer.applyDelta(piece, 0, 'a').retired).toBeUndefined();
    expect(peer.applyDelta(old, 0, 'a').retired).toBeUndefined();
  });

  it('tells a second life by its life id when no change it names is one the peer holds (review finding)', () => {
    // The new life's first changes were superseded before it published: its delta covers 1-3
    // and names only 'web' at 3, where the peer holds nothing; revision 2, where the peer holds
    // 'db', is covered without being named. Only the life ids tell the two starts apart.
    const first = replica('a', { life: 'one' });
    first.putOwn(fields('a/1/1', 'cache'));
    first.putOwn(fields('a/1/2', 'db'));
    const peer = replica('p');
    peer.applyDelta(first.takeOwnDelta()!, 0, 'a');
    const restarted = replica('a', { life: 'two' });
    restarted.putOwn(fields('a/1/1', 'web'));
    restarted.putOwn(fields('a/1/1', 'web', { load: 1 }));
    restarted.putOwn(fields('a/1/1', 'web', { load: 2 }));
    const delta = restarted.takeOwnDelta()!;
    expect(delta).toMatchObject({ covers: [{ low: 1, high: 3 }], life: 'two' });
    // Without the life ids, nothing contradicts what the peer holds: 'db' stays under the new life.
    const blind = replica('p');
    blind.applyDelta({ ...first.deltasFor(blind.summary()).deltas[0]!, life: undefined }, 0, 'a');
    expect(blind.applyDelta({ ...delta, life: undefined }, 0, 'a').retired).toBeUndefined();
    expect([...blind.entries()].map((entry) => entry.name).sort()).toEqual(['db', 'web']);
    // With them, the peer retires the incarnation.
    expect(peer.applyDelta(delta, 100, 'a').retired).toEqual({ node: 'a', incarnation: 1, at: 100 });
    expect([...peer.entries()].filter((entry) => entry.node === 'a')).toEqual([]);
    // A peer that holds the first life tells the new one too, by its summary, and moves it on.
    const holder = replica('q');
    holder.applyDelta(first.deltasFor(holder.summary()).deltas[0]!, 0, 'a');
    expect(restarted.checkOwnIn(holder.summary())).toBe(true);
    expect(restarted.incarnation).toBe(2);
    expect(restarted.life).toBe('two');
  });

  it('life ids: taken when none is held, part of the digest, and a peer under another one is sent the whole state', () => {
    const origin = replica('a', { life: 'one' });
    origin.putOwn(fields('a/1/1', 'db'));
    const delta = origin.takeOwnDelta()!;
    // Heard first from a peer that sends none, then with it: taken, and the digests then agree.
    const peer = replica('p');
    peer.applyDelta({ ...delta, life: undefined }, 0, 'x');
    const informed = replica('p');
    informed.applyDelta(delta, 0, 'a');
    expect(peer.digest()).not.toBe(informed.digest());
    expect(informed.lacksFrom(peer.summary())).toBe(false);
    expect(peer.lacksFrom(informed.summary())).toBe(true);
    const sent = informed.deltasFor(peer.summary()).deltas.find((each) => each.node === 'a');
    expect(sent).toMatchObject({ life: 'one', entries: [] });
    expect(peer.applyDelta(sent!, 0, 'p').changed).toBe(true);
    expect(peer.digest()).toBe(informed.digest());
    expect(informed.deltasFor(peer.summary()).deltas.filter((each) => each.node === 'a')).toEqual([]);
    // A peer holding the same incarnation and context under another life is sent everything.
    const other = replica('q');
    other.applyDelta({ ...delta, life: 'two' }, 0, 'a');
    expect(other.digest()).not.toBe(informed.digest());
    expect(informed.lacksFrom(other.summary())).toBe(true);
    const whole = informed.deltasFor(other.summary()).deltas.find((each) => each.node === 'a')!;
    expect(whole).toMatchObject({ life: 'one', covers: [{ low: 1, high: 1 }] });
    expect(whole.entries.map((entry) => entry.id)).toEqual(['a/1/1']);
    expect(other.applyDelta(whole, 0, 'p').retired).toMatchObject({ node: 'a', incarnation: 1 });
  });

  it('does not follow a peer to the largest incarnation, past which no peer would hear it (review finding)', () => {
    const own = replica('a', { incarnation: 5 });
    own.putOwn(fields('a/1', 'db'));
    own.takeOwnDelta();
    expect(own.applyDelta({ node: 'a', incarnation: MAX_INCARNATION, covers: [{ low: 1, high: 9 }], entries: [], removed: [], keys: undefined }, 0, 'evil')).toMatchObject({ changed: false });
    own.applyDeparture({ node: 'a', incarnation: MAX_INCARNATION, at: 1 }, 0);
    expect(own.incarnation).toBe(5);
    // Below it, a peer's newer history still makes the node move past it.
    own.applyDeparture({ node: 'a', incarnation: MAX_INCARNATION - 1, at: 1 }, 0);
    expect(own.incarnation).toBe(MAX_INCARNATION);
  });

  it('a node seen to leave before anything of it was heard is declared departed by the first incarnation heard of (review finding)', () => {
    // Its late delta used to be merged as any other, and its entries kept for good.
    const receiver = replica('r', { maxRememberedDepartures: 2 });
    expect(receiver.declareDeparted('a', 100)).toBeUndefined();
    const origin = replica('a', { incarnation: 4 });
    origin.putOwn(fields('a/4/1', 'db'));
    const late = origin.takeOwnDelta()!;
    const result = receiver.applyDelta(late, 200, 'x');
    expect(result.departed).toEqual({ node: 'a', incarnation: 4, at: 100 });
    expect([...receiver.entries()]).toEqual([]);
    expect(receiver.summary().departed).toEqual([{ node: 'a', incarnation: 4, at: 100 }]);
    // Once: the node's next start is taken in.
    const next = replica('a', { incarnation: 5 });
    next.putOwn(fields('a/5/1', 'db'));
    expect(receiver.applyDelta(next.takeOwnDelta()!, 300, 'a').departed).toBeUndefined();
    expect([...receiver.entries()].map((entry) => entry.id)).toEqual(['a/5/1']);
    // Bounded in number (the oldest go first) and in time; forgotten on a rejoin, or when a
    // peer's record says which incarnation left.
    for (const node of ['b', 'c', 'd', 'e']) receiver.declareDeparted(node, 1000);
    expect(receiver.identifyDeparture('b', 1, 1000)).toBeUndefined();
    expect(receiver.identifyDeparture('c', 1, 1000)).toBeUndefined();
    receiver.rejoined('d');
    expect(receiver.identifyDeparture('d', 1, 1000)).toBeUndefined();
    receiver.applyDeparture({ node: 'e', incarnation: 1, at: 1000 }, 1000);
    expect(receiver.identifyDeparture('e', 2, 1000)).toBeUndefined();
    receiver.declareDeparted('f', 2000);
    receiver.collectGarbage(2000 + 60_001);
    expect(receiver.identifyDeparture('f', 1, 2000 + 60_001)).toBeUndefined();
    receiver.declareDeparted('g', 2000);
    expect(receiver.identifyDeparture('g', 1, 2000 + 60_001)).toBeUndefined();
  });

  it('expired records purge but are not kept, and expire from the digest', () => {
    const receiver = replica('r');
    const origin = replica('a');
    origin.putOwn(fields('a/1/1', 'db'));
    receiver.applyDelta(origin.takeOwnDelta()!, 0, 'a');
    const empty = receiver.digest();
    receiver.applyDeparture({ node: 'a', incarnation: 1, at: 0 }, 100_000);
    expect(receiver.summary().departed).toEqual([]);
    expect([...receiver.entries()]).toEqual([]);
    const other = replica('q');
    other.applyDeparture({ node: 'b', incarnation: 3, at: 1000 }, 1000);
    const withRecord = other.digest();
    expect(other.collectGarbage(1000 + 60_001).departures).toBe(1);
    expect(other.digest()).not.toBe(withRecord);
    expect(empty).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('anti-entropy summaries in parts', () => {
  it('a part speaks for its range alone: what lies outside it is not sent, what lies inside and is missing is', () => {
    const left = replica('left');
    const right = replica('right');
    for (let index = 0; index < 80; index += 1) {
      const origin = replica(`origin-${String(index).padStart(2, '0')}`);
      origin.putOwn(fields(`${origin.nodeId}/1/1`, `svc-${index}`));
      const delta = origin.takeOwnDelta()!;
      left.applyDelta(delta, 0, origin.nodeId);
      right.applyDelta(delta, 0, origin.nodeId);
      if (index === 42) {
        // A change of one origin and a departure of another that only `left` has heard of.
        origin.putOwn(fields(`${origin.nodeId}/1/1`, `svc-${index}`, { health: 'degraded' }));
        left.applyDelta(origin.takeOwnDelta()!, 0, origin.nodeId);
        left.declareDeparted('origin-61', 10);
      }
    }
    const parts = encodeSummaries('ns', right.summary(), true, 1024).map((payload) => decodeMessage(payload, 'right', 'ns', DEFAULT_LIMITS));
    expect(parts.length).toBeGreaterThan(2);
    const sent: string[] = [];
    for (const part of parts) {
      if (part.type !== 'summary') throw new Error('expected a summary');
      const { deltas, departed } = left.deltasFor(part);
      sent.push(...deltas.map((delta) => `delta ${delta.node}`), ...departed.map((record) => `departure ${record.node}`));
      for (const delta of deltas) right.applyDelta(delta, 0, 'left');
      for (const record of departed) right.applyDeparture(record, 10);
    }
    expect(sent.sort()).toEqual(['delta left', 'delta origin-42', 'departure origin-61']);
    expect(right.lacksFrom(left.summary())).toBe(false);
    // The two now hold the same of every origin but each other (which hold nothing).
    const others = (target: Replica) => view(target).replace(/"(left|right)#1:0\+",/g, '');
    expect(others(right)).toBe(others(left));
  });
});

describe('bounds on what peers send', () => {
  it('holds at most maxNodes departure records, whatever peers declare, the newest kept', () => {
    // Review finding: departure records had no bound, so a peer declaring made-up nodes could
    // make this replica hold more than any peer's decoder accepts in one summary or delta.
    const target = replica('r', { maxNodes: 16 });
    for (let index = 0; index < 40; index += 1) target.applyDeparture({ node: `ghost-${index}`, incarnation: 1, at: 0 }, 0);
    const departed = target.summary().departed;
    expect(departed).toHaveLength(16);
    expect(departed.map((record) => record.node).sort()).toEqual(Array.from({ length: 16 }, (_, index) => `ghost-${index + 24}`).sort());
  });

  it('refuses a delta that would exceed maxServicesPerNode or maxNodes, merging nothing', () => {
    const origin = replica('a');
    for (let index = 1; index <= 3; index += 1) origin.putOwn(fields(`a/1/${index}`, 'db'));
    const receiver = replica('r', { maxServicesPerNode: 2 });
    let thrown: unknown;
    try {
      receiver.applyDelta(origin.takeOwnDelta()!, 0, 'a');
    } catch (error) {
      thrown = error;
    }
    expect(FoundationError.hasType(thrown, 5604)).toBe(true);
    expect([...receiver.entries()]).toEqual([]);
    const crowded = replica('r', { maxNodes: 1 });
    crowded.applyDelta({ node: 'x', incarnation: 1, covers: [], entries: [], removed: [], keys: undefined }, 0, 'x');
    expect(() => crowded.applyDelta({ node: 'y', incarnation: 1, covers: [], entries: [], removed: [], keys: undefined }, 0, 'y')).toThrow(/maxNodes/);
  });

  it('takes a delta that replaces a registration of an origin at maxServicesPerNode, counting what it removes', () => {
    // An origin holding as many registrations as its peers accept unregisters one and registers
    // another. Counted without the removal, the delta (and every anti-entropy delta after it,
    // with the removal or, once that was collected, with a key list) went past the bound and was
    // refused on every round: peers kept the removed entry and never held the new one.
    const origin = replica('o');
    for (const id of ['o/1/a', 'o/1/b', 'o/1/c']) origin.putOwn(fields(id, 'db'));
    const first = origin.takeOwnDelta()!;
    origin.removeOwn('o/1/a', 0);
    origin.putOwn(fields('o/1/d', 'db'));
    const replacing = origin.takeOwnDelta()!;
    const plain = replica('p', { maxServicesPerNode: 3 });
    plain.applyDelta(first, 0, 'o');
    expect(() => plain.checkDelta(replacing, 'o')).not.toThrow();
    plain.applyDelta(replacing, 0, 'o');
    expect([...plain.entries()].map((entry) => entry.id).sort()).toEqual(['o/1/b', 'o/1/c', 'o/1/d']);
    // The removal collected: a peer still behind gets the key list instead.
    origin.collectGarbage(10_000);
    const keyed = replica('k', { maxServicesPerNode: 3 });
    keyed.applyDelta(first, 0, 'o');
    const { deltas } = origin.deltasFor(keyed.summary());
    expect(deltas[0]!.keys).toBeDefined();
    expect(() => keyed.checkDelta(deltas[0]!, 'o')).not.toThrow();
    keyed.applyDelta(deltas[0]!, 0, 'o');
    expect([...keyed.entries()].map((entry) => entry.id).sort()).toEqual(['o/1/b', 'o/1/c', 'o/1/d']);
    // One that would still leave more than the bound is refused, merging nothing.
    const crowded = origin.deltasFor(replica('e').summary()).deltas[0]!;
    const more: OriginDelta = { ...crowded, covers: [{ low: 1, high: 6 }], entries: [...crowded.entries, { ...crowded.entries[0]!, id: 'o/1/e', revision: 6 }], keys: [...crowded.keys!, { id: 'o/1/e', revision: 6 }] };
    expect(() => keyed.applyDelta(more, 0, 'o')).toThrow(/maxServicesPerNode/);
    expect([...keyed.entries()].map((entry) => entry.id).sort()).toEqual(['o/1/b', 'o/1/c', 'o/1/d']);
  });

  it('checks a key-listed delta against the bound before the merge without looking at every entry of its origin', () => {
    // The entries a key list removes are counted by looking at all of the origin's entries. A
    // message of many key-listed deltas of one origin under as many life ids is not joined into
    // one, and each is checked before anything is merged: there, that look is left to the merge.
    const size = 2000;
    const receiver = replica('r', { maxServicesPerNode: size });
    const entries = Array.from({ length: size }, (_, index) => Object.freeze({ ...fields(`x/1/${index}`, 'db'), node: 'x', incarnation: 1, revision: index + 1 }));
    receiver.applyDelta({ node: 'x', incarnation: 1, covers: [{ low: 1, high: size }], entries, removed: [], keys: undefined }, 0, 'x');
    const extra = Object.freeze({ ...fields('x/1/extra', 'db'), node: 'x', incarnation: 1, revision: size + 1 });
    const scans = countScansOfMapsOf(size, () => {
      for (let index = 0; index < 200; index += 1) {
        receiver.checkDelta({ node: 'x', incarnation: 1, covers: [{ low: 1, high: size + 1 }], entries: [extra], removed: [], keys: [], life: `life-${index}` }, 'x');
      }
    });
    expect(scans).toBeLessThanOrEqual(2);
  });

  it('finds the removals a delta makes stable without scanning every tombstone of the origin for every delta', () => {
    // While a removal is held ahead of the origin's history, every delta checked every
    // tombstone of the origin for ones its covers had made stable: 32,769 deltas in one message,
    // against an origin holding 10,000 tombstones, took a minute and a half.
    const size = 2000;
    const receiver = replica('r', { maxStableTombstones: 10_000 });
    const removed = Array.from({ length: size }, (_, index) => ({ id: `x/1/${index}`, revision: index + 1 }));
    receiver.applyDelta({ node: 'x', incarnation: 1, covers: [{ low: 1, high: size }], entries: [], removed, keys: undefined }, 0, 'x');
    const ahead = [
      { id: 'x/1/far', revision: size + 100 },
      { id: 'x/1/farther', revision: size + 200 },
    ];
    receiver.applyDelta({ node: 'x', incarnation: 1, covers: [], entries: [], removed: ahead, keys: undefined }, 0, 'x');
    expect(receiver.counts().tombstones).toBe(size + 2);
    const scans = countScansOfMapsOf(size, () => {
      for (let index = 0; index < 500; index += 1) {
        receiver.applyDelta({ node: 'x', incarnation: 1, covers: [{ low: size + 1 + (index % 50), high: size + 1 + (index % 50) }], entries: [], removed: [], keys: undefined }, 10, 'x');
      }
    });
    expect(scans).toBeLessThanOrEqual(2);
    // Still made stable once the history reaches them, one at a time, and then collected.
    receiver.applyDelta({ node: 'x', incarnation: 1, covers: [{ low: 1, high: size + 150 }], entries: [], removed: [], keys: undefined }, 20, 'x');
    expect(receiver.collectGarbage(20 + 1001).tombstones).toBe(size + 1);
    receiver.applyDelta({ node: 'x', incarnation: 1, covers: [{ low: 1, high: size + 200 }], entries: [], removed: [], keys: undefined }, 30, 'x');
    expect(receiver.collectGarbage(30 + 1001).tombstones).toBe(1);
    expect(receiver.counts().tombstones).toBe(0);
  });

  it('looks up the revisions a peer names without scanning the origin again for every delta, and keeps the lookup current', () => {
    // A delta naming a covered revision whose change is not held here (superseded, its
    // tombstone collected) is checked against every change held for the origin (a second
    // life of the incarnation?). That check scanned the origin's entries and tombstones anew
    // for every such delta: 32,769 of them in one 2.5 MB message, against an origin holding
    // 100,000 entries, kept a receiver busy for minutes.
    const origin = replica('x');
    const size = 2000;
    for (let index = 0; index < size; index += 1) origin.putOwn(fields(`x/1/${index}`, 'db'));
    for (let index = 0; index < size; index += 1) origin.putOwn(fields(`x/1/${index}`, 'db', { load: 1 }));
    const receiver = replica('r', { maxServicesPerNode: 10_000 });
    receiver.applyDelta(origin.takeOwnDelta()!, 0, 'x');
    expect([...receiver.entries()]).toHaveLength(size);
    const probe: OriginDelta = { node: 'x', incarnation: 1, covers: [], entries: [], removed: [{ id: 'x/1/unknown', revision: 5 }], keys: undefined };
    const scans = countScansOfMapsOf(size, () => {
      for (let index = 0; index < 500; index += 1) expect(receiver.applyDelta(probe, 0, 'x').changed).toBe(false);
    });
    expect(scans).toBeLessThanOrEqual(2);
    // A change merged after the lookup was made is in it: another id at its revision is a second life.
    origin.putOwn(fields('x/1/new', 'web'));
    const latest = origin.takeOwnDelta()!;
    receiver.applyDelta(latest, 0, 'x');
    const registered = latest.entries[0]!;
    const otherLife: OriginDelta = { ...latest, entries: [Object.freeze({ ...registered, id: 'x/1/other' })], removed: [] };
    expect(receiver.applyDelta(otherLife, 0, 'x').retired).toMatchObject({ node: 'x', incarnation: 1 });
  });

  it('takes an honest delta that fills the gap below 9,500 removals held ahead of the history, counting only removals that still wait', () => {
    // Review finding: the bound on removals ahead of an origin's history added every removal a
    // delta carries to those held, also removals the delta itself makes stable (its covers fill
    // the gap below them) and removals already held. A receiver that lost the origin's delta of
    // 600 removals and then heard 9,500 more refused every anti-entropy delta that carried the
    // 600 back, although merging it leaves no removal waiting.
    const origin = replica('o', { maxStableTombstones: 20_000 });
    const registered = 10_100;
    for (let index = 0; index < registered; index += 1) origin.putOwn(fields(`o/1/${index}`, 'db'));
    const receiver = replica('r', { maxServicesPerNode: 20_000 });
    for (const piece of pieces(origin.takeOwnDelta()!, DEFAULT_LIMITS.maxEntriesPerMessage)) receiver.applyDelta(piece, 0, 'o');
    for (let index = 0; index < 600; index += 1) origin.removeOwn(`o/1/${index}`, 0);
    origin.takeOwnDelta(); // lost on the way
    for (let index = 600; index < registered; index += 1) origin.removeOwn(`o/1/${index}`, 0);
    const later = pieces(origin.takeOwnDelta()!, DEFAULT_LIMITS.maxEntriesPerMessage);
    for (const piece of later) receiver.applyDelta(piece, 0, 'o');
    expect(receiver.countOf('o')).toBe(600);
    // A piece delivered twice (a broadcast may duplicate) adds nothing that waits either.
    expect(() => receiver.applyDelta(later[0]!, 0, 'o')).not.toThrow();
    const { deltas } = origin.deltasFor(receiver.summary());
    for (const delta of deltas) for (const piece of pieces(delta, DEFAULT_LIMITS.maxEntriesPerMessage)) receiver.applyDelta(piece, 0, 'o');
    expect(receiver.countOf('o')).toBe(0);
    expect(historyOf(receiver)).toEqual(historyOf(origin));
    expect(receiver.collectGarbage(1000).tombstones).toBe(registered);
    // Removals that would still wait past the bound are refused, merging nothing.
    const far = Array.from({ length: MAX_PENDING_TOMBSTONES + 1 }, (_, index) => ({ id: `o/1/far-${index}`, revision: 100_000 + index }));
    expect(() => receiver.applyDelta({ node: 'o', incarnation: 1, covers: [], entries: [], removed: far, keys: undefined }, 0, 'o')).toThrow(/removals ahead/);
    expect(historyOf(receiver)).toEqual(historyOf(origin));
  });

  it('counts the removals held ahead of the history that a delta makes stable, when the delta brings others that wait', () => {
    // A peer with a gap of its own sends what it holds above it: the removals there wait here
    // too, but its covers fill the gap below the 9,500 held here, which stop waiting.
    const held = Array.from({ length: 9500 }, (_, index) => ({ id: `x/1/held-${index}`, revision: 1001 + index }));
    const receiver = replica('r');
    receiver.applyDelta({ node: 'x', incarnation: 1, covers: [{ low: 1001, high: 10_500 }], entries: [], removed: held, keys: undefined }, 0, 'x');
    const above = Array.from({ length: 1000 }, (_, index) => ({ id: `x/1/above-${index}`, revision: 20_001 + index }));
    const filling: OriginDelta = { node: 'x', incarnation: 1, covers: [{ low: 1, high: 15_000 }, { low: 20_001, high: 21_000 }], entries: [], removed: above, keys: undefined };
    expect(() => receiver.checkDelta(filling, 'x')).not.toThrow();
    receiver.applyDelta(filling, 0, 'x');
    expect(receiver.collectGarbage(1000).tombstones).toBe(9500);
    expect(receiver.counts().tombstones).toBe(1000);
    // 9,001 more that wait are one too many.
    const more = Array.from({ length: 9001 }, (_, index) => ({ id: `x/1/more-${index}`, revision: 30_001 + index }));
    expect(() => receiver.applyDelta({ node: 'x', incarnation: 1, covers: [{ low: 30_001, high: 39_001 }], entries: [], removed: more, keys: undefined }, 0, 'x')).toThrow(/removals ahead/);
  });

  it('merges what a peer knows when its gaps and the receiver\'s interleave past 64 together, and both converge once either hears the rest', () => {
    // Review finding: two honest replicas that each lost other deltas of an origin held, together,
    // more than 64 gaps in its history; each refused the other's anti-entropy delta whole, on every
    // round, so neither ever held what the other knew. The union of their histories cannot be held
    // in 64 gaps, so the receiver takes the ranges that fit (lowest first), and every entry and
    // removal the delta carries.
    const origin = replica('o');
    const deltas: OriginDelta[] = [];
    for (let index = 0; index < 200; index += 1) {
      origin.putOwn(fields(`o/1/${index}`, 'db'));
      if (index % 10 === 9) origin.removeOwn(`o/1/${index - 5}`, 0);
      deltas.push(origin.takeOwnDelta()!);
    }
    const left = replica('l');
    const right = replica('r');
    // Each heard a quarter of the broadcasts, the two quarters interleaved.
    for (const [index, delta] of deltas.entries()) {
      if (index % 4 === 0) left.applyDelta(delta, 0, 'o');
      if (index % 4 === 2) right.applyDelta(delta, 0, 'o');
    }
    const gapsOf = (target: Replica): number => target.summary().origins.find((summary) => summary.node === 'o')!.cloud.length;
    expect(gapsOf(left)).toBeLessThanOrEqual(64);
    expect(gapsOf(right)).toBeLessThanOrEqual(64);
    // Anti-entropy rounds between the two alone; a refused message is dropped, as the driver does.
    const refusals: unknown[] = [];
    for (let round = 0; round < 4; round += 1) {
      for (const [target, source] of [
        [left, right],
        [right, left],
      ] as const) {
        try {
          pull(target, source);
        } catch (error) {
          refusals.push(error);
        }
      }
    }
    expect(refusals).toEqual([]);
    const originEntriesOf = (target: Replica): string[] => [...target.entries()].filter((entry) => entry.node === 'o').map((entry) => `${entry.id}@${entry.revision}`).sort();
    expect(originEntriesOf(left)).toEqual(originEntriesOf(right));
    expect(gapsOf(left)).toBeLessThanOrEqual(64);
    expect(gapsOf(right)).toBeLessThanOrEqual(64);
    // One of them hears the origin, the other hears it: both hold the origin's whole history.
    pull(left, origin);
    pull(right, left);
    expect(historyOf(left)).toEqual(historyOf(origin));
    expect(historyOf(right)).toEqual(historyOf(origin));
    expect(originEntriesOf(right)).toEqual(originEntriesOf(origin));
  });

  it('holds no more than 64 gaps in a history, whatever peers cover', () => {
    // Ranges past the bound are not taken (the lowest are); the entries they carry still are.
    const receiver = replica('r');
    const covers = Array.from({ length: 65 }, (_, index) => ({ low: index * 3 + 2, high: index * 3 + 2 }));
    const entry = Object.freeze({ ...fields('x/1/last', 'db'), node: 'x', incarnation: 1, revision: 64 * 3 + 2 });
    receiver.applyDelta({ node: 'x', incarnation: 1, covers, entries: [entry], removed: [], keys: undefined }, 0, 'x');
    const history = (): unknown => receiver.summary().origins.find((summary) => summary.node === 'x');
    expect(history()).toEqual({ node: 'x', incarnation: 1, prefix: 0, cloud: covers.slice(0, 64), life: undefined });
    expect(receiver.countOf('x')).toBe(1);
    const more = Array.from({ length: 65 }, (_, index) => ({ low: 1000 + index * 3, high: 1000 + index * 3 }));
    receiver.applyDelta({ node: 'x', incarnation: 1, covers: more, entries: [], removed: [], keys: undefined }, 0, 'x');
    expect(history()).toEqual({ node: 'x', incarnation: 1, prefix: 0, cloud: covers.slice(0, 64), life: undefined });
    // A range that closes gaps is still taken.
    receiver.applyDelta({ node: 'x', incarnation: 1, covers: [{ low: 1, high: 100 }], entries: [], removed: [], keys: undefined }, 0, 'x');
    expect(receiver.summary().origins.find((summary) => summary.node === 'x')!.prefix).toBe(101);
  });
});

// ---- the join laws, on replicas built from histories of honest origins -------------------------

interface History {
  /** Deltas in the order the origins produced them, in the pieces the wire sends them in. */
  readonly deltas: OriginDelta[];
  readonly departures: DepartureRecord[];
}

type Operation = { kind: 'put'; slot: number; health: number } | { kind: 'remove'; slot: number } | { kind: 'flush' } | { kind: 'restart' } | { kind: 'depart' };

const operation = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('put' as const), slot: fc.nat({ max: 3 }), health: fc.nat({ max: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), slot: fc.nat({ max: 3 }) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'flush' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'depart' as const }) },
);

const HEALTH = ['healthy', 'degraded', 'unhealthy'] as const;

function buildHistory(scripts: Record<string, Operation[]>): History {
  const deltas: OriginDelta[] = [];
  const departures: DepartureRecord[] = [];
  for (const [node, script] of Object.entries(scripts)) {
    let incarnation = 1;
    let origin = replica(node, { incarnation });
    for (const step of script) {
      if (step.kind === 'put') origin.putOwn(fields(`${node}/${step.slot}`, `svc-${step.slot}`, { health: HEALTH[step.health]! }));
      else if (step.kind === 'remove') origin.removeOwn(`${node}/${step.slot}`, 0);
      else if (step.kind === 'depart') departures.push({ node, incarnation, at: 0 });
      else if (step.kind === 'restart') {
        const delta = origin.takeOwnDelta();
        if (delta !== undefined) deltas.push(...pieces(delta));
        incarnation += 1;
        origin = replica(node, { incarnation });
        deltas.push({ node, incarnation, covers: [], entries: [], removed: [], keys: undefined });
      }
      if (step.kind === 'flush' || step.kind === 'remove') {
        const delta = origin.takeOwnDelta();
        if (delta !== undefined) deltas.push(...pieces(delta));
      }
    }
    const delta = origin.takeOwnDelta();
    if (delta !== undefined) deltas.push(...pieces(delta));
  }
  return { deltas, departures };
}

/** A replica that received some of the history, in some order. */
interface Knowledge {
  readonly deltas: number[];
  readonly departures: number[];
  readonly collectAt: number | undefined;
}

function materialize(history: History, knowledge: Knowledge): Replica {
  const result = replica('observer');
  for (const index of knowledge.deltas) {
    const delta = history.deltas[index % Math.max(1, history.deltas.length)];
    if (delta !== undefined) result.applyDelta(delta, 0, delta.node);
  }
  for (const index of knowledge.departures) {
    const record = history.departures[index % Math.max(1, history.departures.length)];
    if (record !== undefined) result.applyDeparture(record, 0);
  }
  if (knowledge.collectAt !== undefined) result.collectGarbage(knowledge.collectAt);
  return result;
}

/** The join of replicas, computed the way the protocol computes it: by anti-entropy pulls. */
function join(history: History, ...parts: Knowledge[]): Replica {
  const [first, ...rest] = parts;
  const result = materialize(history, first!);
  for (const part of rest) pull(result, materialize(history, part));
  return result;
}

const scripts = fc.record({
  a: fc.array(operation, { maxLength: 14 }),
  b: fc.array(operation, { maxLength: 14 }),
  c: fc.array(operation, { maxLength: 8 }),
});
const knowledge = fc.record({
  deltas: fc.array(fc.nat({ max: 60 }), { maxLength: 25 }),
  departures: fc.array(fc.nat({ max: 5 }), { maxLength: 2 }),
  collectAt: fc.option(fc.constantFrom(0, 5_000), { nil: undefined }),
});

describe('the join is a semilattice join (properties, seeded)', () => {
  it('commutative: x ⊔ y = y ⊔ x', () => {
    fc.assert(
      fc.property(scripts, knowledge, knowledge, (script, x, y) => {
        const history = buildHistory(script);
        return view(join(history, x, y)) === view(join(history, y, x));
      }),
      { seed: 5620, numRuns: 300 },
    );
  });

  it('associative: (x ⊔ y) ⊔ z = x ⊔ (y ⊔ z)', () => {
    fc.assert(
      fc.property(scripts, knowledge, knowledge, knowledge, (script, x, y, z) => {
        const history = buildHistory(script);
        const left = materialize(history, x);
        pull(left, join(history, y));
        pull(left, materialize(history, z));
        const right = materialize(history, x);
        const yz = materialize(history, y);
        pull(yz, materialize(history, z));
        pull(right, yz);
        return view(left) === view(right);
      }),
      { seed: 5621, numRuns: 300 },
    );
  });

  it('idempotent: x ⊔ x = x, and merging twice changes nothing', () => {
    fc.assert(
      fc.property(scripts, knowledge, knowledge, (script, x, y) => {
        const history = buildHistory(script);
        const alone = materialize(history, x);
        const joined = join(history, x, x);
        const twice = join(history, x, y);
        const before = view(twice);
        pull(twice, materialize(history, y));
        return view(alone) === view(joined) && view(twice) === before;
      }),
      { seed: 5622, numRuns: 300 },
    );
  });

  it('delivering every delta, in any order, with duplicates, converges to the same state and digest', () => {
    fc.assert(
      fc.property(scripts, fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), (script, shuffles) => {
        const history = buildHistory(script);
        const all = history.deltas.map((_, index) => index);
        const states = shuffles.map((salt) => {
          const order = [...all, ...all.filter((index) => (index + salt) % 3 === 0)].sort((a, b) => ((a * 7919 + salt) % 101) - ((b * 7919 + salt) % 101));
          return materialize(history, { deltas: order, departures: history.departures.map((_, index) => index), collectAt: salt % 2 === 0 ? 5_000 : undefined });
        });
        const expected = view(states[0]!);
        return states.every((state) => view(state) === expected && state.digest() === states[0]!.digest());
      }),
      { seed: 5623, numRuns: 200 },
    );
  });

  it('never shows an entry its origin removed once the removal is known (property)', () => {
    fc.assert(
      fc.property(scripts, knowledge, knowledge, (script, x, y) => {
        const history = buildHistory(script);
        const everything: Knowledge = { deltas: history.deltas.map((_, index) => index), departures: [], collectAt: 5_000 };
        const complete = materialize(history, everything);
        const merged = join(history, everything, { ...x, departures: [] }, { ...y, departures: [] });
        // Joining partial, older knowledge into complete knowledge must not bring anything back,
        // and neither must old deltas replayed after the tombstones were collected.
        const replayed = materialize(history, { deltas: [...x.deltas, ...everything.deltas], departures: [], collectAt: undefined });
        for (const delta of history.deltas) replayed.applyDelta(delta, 10_000, 'replay');
        replayed.collectGarbage(10_000);
        for (const delta of [...history.deltas].reverse()) replayed.applyDelta(delta, 20_000, 'replay');
        return view(merged) === view(complete) && view(replayed) === view(complete);
      }),
      { seed: 5624, numRuns: 200 },
    );
  });
});

// ---- honest replicas of one origin, with lost broadcasts and anti-entropy in random pairs -------
//
// Each replica hears about half of the origin's broadcasts, so together they pass 64 gaps in its
// history and take only part of each other's covered ranges (see `coversTaken`); tombstones are
// collected early, so that key lists travel too, in pieces of a few keys when a pull is bounded in
// bytes, and a removed slot registers under a new id, so that an entry kept after its removal is
// not hidden by the slot's next registration. The joins above never leave 64 gaps behind.

type NetworkStep =
  | { kind: 'put'; slot: number; heard: number }
  | { kind: 'remove'; slot: number; heard: number }
  | { kind: 'pull'; target: number; source: number; second: number; size: number; bytes: number; lostEvery: number; back: boolean }
  | { kind: 'collect'; at: number }
  | { kind: 'late'; target: number; broadcast: number };

const networkStep: fc.Arbitrary<NetworkStep> = fc.oneof(
  // `heard`: the replicas (one bit each) that hear the origin's broadcast of the change.
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('put' as const), slot: fc.nat({ max: 11 }), heard: fc.nat({ max: 15 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('remove' as const), slot: fc.nat({ max: 11 }), heard: fc.nat({ max: 15 }) }) },
  // Source 4 is the origin. Every `lostEvery`-th piece of the answer is lost (0: none). A bound
  // in bytes splits a key list between keys alone, so that a lost piece may hold only revisions
  // the receiver covers already. A `second` source (5 and up: none) answers the same summary,
  // its pieces interleaved with the first's, as two peers' answers arrive together. `back`: the
  // source pulls from the target afterwards, as in a push-pull exchange.
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('pull' as const),
      target: fc.nat({ max: 3 }),
      source: fc.nat({ max: 4 }),
      second: fc.nat({ max: 9 }),
      size: fc.constantFrom(2, 5, 1000),
      bytes: fc.constantFrom(Number.POSITIVE_INFINITY, 400, 1_500),
      lostEvery: fc.nat({ max: 7 }),
      back: fc.boolean(),
    }),
  },
  // At 4, the origin collects.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('collect' as const), at: fc.nat({ max: 4 }) }) },
  // An earlier broadcast arrives (again, or for the first time) late.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('late' as const), target: fc.nat({ max: 3 }), broadcast: fc.nat() }) },
);

describe('honest replicas with lost broadcasts, past 64 gaps (property, seeded)', () => {
  it('never show an entry whose removal they know, hold at most 64 gaps, show different entries under one digest only while holding one they do not cover, and equal the origin once they hear it', () => {
    fc.assert(
      fc.property(fc.array(networkStep, { minLength: 500, maxLength: 600 }), (steps) => {
        const options = { maxServicesPerNode: 10_000, tombstoneRetentionMs: 10, maxStableTombstones: 2 };
        const origin = replica('o', options);
        const replicas = [0, 1, 2, 3].map((index) => replica(`r${index}`, options));
        // Each replica registers one service of its own, which all the others hold, so that their
        // digests differ only by what they hold of the origin.
        const everyone = [origin, ...replicas];
        for (const target of replicas) target.putOwn(fields(`${target.nodeId}/1/0`, 'own'));
        for (const source of replicas) {
          const own = source.takeOwnDelta()!;
          for (const target of everyone) if (target !== source) target.applyDelta(own, 0, source.nodeId);
        }
        // Revision → the change the origin made at it.
        const changes = new Map<number, { readonly id: string; readonly removed: boolean }>();
        const broadcasts: OriginDelta[] = [];
        const generations: number[] = [];
        const merge = (target: Replica, delta: OriginDelta, now: number, peer: string): void => {
          target.checkDelta(delta, peer);
          target.applyDelta(delta, now, peer);
        };
        const originEntriesOf = (target: Replica): string[] => [...target.entries()].filter((entry) => entry.node === 'o').map((entry) => `${entry.id}@${entry.revision}`).sort();
        // Whether `target` holds an entry at a revision its history does not cover: a delta whose
        // covers would leave more than 64 gaps is merged with its entries and only part of its
        // covers (see `coversTaken`), so its digest then says less than it holds.
        const holdsUncovered = (target: Replica): boolean => {
          const history = target.summary().origins.find((summary) => summary.node === 'o');
          const covered = (revision: number): boolean =>
            history !== undefined && (revision <= history.prefix || history.cloud.some((interval) => revision >= interval.low && revision <= interval.high));
          return [...target.entries()].some((entry) => entry.node === 'o' && !covered(entry.revision));
        };
        const check = (): void => {
          // Equal digests, equal entries: a replica that holds only what its history covers shows
          // under its digest what every other one with that digest shows, or anti-entropy would
          // see nothing to repair between them (a piece covering a replaced change whose
          // replacement was lost made two such replicas agree on the digest alone).
          for (const [index, left] of everyone.entries()) {
            for (const right of everyone.slice(index + 1)) {
              if (left.digest() !== right.digest() || holdsUncovered(left) || holdsUncovered(right)) continue;
              const pair = `${left.nodeId} and ${right.nodeId} under ${left.digest()}`;
              expect(`${pair}: ${originEntriesOf(right).join(' ')}`).toEqual(`${pair}: ${originEntriesOf(left).join(' ')}`);
            }
          }
          for (const target of replicas) {
            const history = target.summary().origins.find((summary) => summary.node === 'o');
            if (history === undefined) continue;
            expect(history.cloud.length).toBeLessThanOrEqual(64);
            const covered = (revision: number): boolean => revision <= history.prefix || history.cloud.some((interval) => revision >= interval.low && revision <= interval.high);
            for (const entry of target.entries()) {
              if (entry.node !== 'o') continue;
              // A replica that covers a removal of the id and every change of it since knows it
              // was removed (a piece of an answer may cover a change whose successor is in a
              // piece that was lost: then it does not know yet).
              for (const [revision, change] of changes) {
                if (change.id !== entry.id || !change.removed || revision <= entry.revision || !covered(revision)) continue;
                const since = [...changes].filter(([later, other]) => other.id === entry.id && later > revision);
                if (since.every(([later]) => covered(later))) throw new Error(`${target.nodeId} shows ${entry.id}@${entry.revision}, removed at ${revision}`);
              }
            }
          }
        };
        let now = 0;
        for (const step of steps) {
          now += 1;
          if (step.kind === 'put' || step.kind === 'remove') {
            // A slot registers under a new id once removed, as a service that starts again does:
            // an id used again would hide a removed entry kept by mistake behind its new revision.
            const id = `o/1/${step.slot}.${generations[step.slot] ?? 0}`;
            if (step.kind === 'put') changes.set(origin.putOwn(fields(id, 'db', { load: now })).revision, { id, removed: false });
            else if (origin.removeOwn(id, now)) {
              changes.set(origin.revision, { id, removed: true });
              generations[step.slot] = (generations[step.slot] ?? 0) + 1;
            } else continue;
            const delta = origin.takeOwnDelta()!;
            broadcasts.push(delta);
            replicas.forEach((target, index) => {
              if ((step.heard >> index) & 1) merge(target, delta, now, 'o');
            });
          } else if (step.kind === 'pull') {
            const target = replicas[step.target]!;
            const source = replicas[step.source] ?? origin;
            if (source === target) continue;
            const second = step.second === 4 ? origin : replicas[step.second];
            const sources = second === undefined || second === target || second === source ? [source] : [source, second];
            const summary = target.summary();
            const answers = sources.map((sender) => sender.deltasFor(summary).deltas.flatMap((delta) => pieces(delta, step.size, step.bytes)));
            let count = 0;
            for (let index = 0; index < Math.max(...answers.map((answer) => answer.length)); index += 1) {
              sources.forEach((sender, at) => {
                const piece = answers[at]![index];
                if (piece === undefined) return;
                count += 1;
                if (step.lostEvery === 0 || count % step.lostEvery !== 0) merge(target, piece, now, sender.nodeId);
              });
            }
            // `back`: the source then pulls from the target, as the two sides of an exchange do,
            // which often leaves both with one history.
            if (step.back && source !== origin) {
              for (const piece of target.deltasFor(source.summary()).deltas.flatMap((delta) => pieces(delta, step.size, step.bytes))) {
                count += 1;
                if (step.lostEvery === 0 || count % step.lostEvery !== 0) merge(source, piece, now, target.nodeId);
              }
            }
          } else if (step.kind === 'late') {
            if (broadcasts.length > 0) merge(replicas[step.target]!, broadcasts[step.broadcast % broadcasts.length]!, now, 'o');
          } else (replicas[step.at] ?? origin).collectGarbage(now);
          check();
        }
        // Healed: each hears the origin once.
            // The first hears it alone; each of the others hears it together with the first (which
        // then collected its tombstones too, so that both answer with key lists), their pieces
        // interleaved.
        const [first, ...others] = replicas;
        pull(first!, origin, now);
        check();
        expect(originEntriesOf(first!)).toEqual(originEntriesOf(origin));
        expect(historyOf(first!)).toEqual(historyOf(origin));
        first!.collectGarbage(now + 1_000);
        for (const target of others) {
          const summary = target.summary();
          const [fromOrigin, fromFirst] = [origin, first!].map((sender) => sender.deltasFor(summary).deltas.flatMap((delta) => pieces(delta)));
          for (let index = 0; index < Math.max(fromOrigin!.length, fromFirst!.length); index += 1) {
            if (fromOrigin![index] !== undefined) merge(target, fromOrigin![index]!, now, origin.nodeId);
            if (fromFirst![index] !== undefined) merge(target, fromFirst![index]!, now, first!.nodeId);
          }
          check();
          expect(originEntriesOf(target)).toEqual(originEntriesOf(origin));
          expect(historyOf(target)).toEqual(historyOf(origin));
        }
      }),
      // FOUNDATION_SEED=<seed> runs it under another seed (19 showed equal digests over different
      // entries before pieces named the whole delta's range).
      { seed: Number(process.env.FOUNDATION_SEED ?? 5625), numRuns: 15 },
    );
  });
});
