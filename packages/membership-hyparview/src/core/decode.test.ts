// Hostile input: whatever a peer sends, decoding either yields a well-formed message or drops it
// and counts why. Table tests, then a property over arbitrary values.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createSeededRandom } from '@foundation/core';
import { createDecodeStats, decodeMembershipMessage, decodePlumtreeMessage } from './decode';
import type { DecodeLimits } from './decode';
import { SizeEstimator } from './size-estimator';

const limits: DecodeLimits = { maxNodeIdLength: 16, maxShuffleNodes: 8, maxMeshMembers: 4, maxServers: 3, sizeSamples: 4, maxIdsPerMessage: 5, maxPayloadBytes: 8 };

describe('decodeMembershipMessage', () => {
  it.each([
    ['not an object', 'join', 'malformed'],
    ['null', null, 'malformed'],
    ['an array', [{ type: 'join', epoch: 0 }], 'malformed'],
    ['no type', { epoch: 0 }, 'malformed'],
    ['an unknown type', { type: 'gossip-v9', epoch: 0 }, 'unknownType'],
    ['a negative epoch', { type: 'join', epoch: -1 }, 'malformed'],
    ['a fractional ttl', { type: 'forward-join', epoch: 0, node: 'a', ttl: 1.5 }, 'malformed'],
    ['a ttl beyond 255', { type: 'forward-join', epoch: 0, node: 'a', ttl: 1e9 }, 'malformed'],
    ['an empty node id', { type: 'forward-join', epoch: 0, node: '', ttl: 1 }, 'malformed'],
    ['a node id that is too long', { type: 'forward-join', epoch: 0, node: 'x'.repeat(17), ttl: 1 }, 'malformed'],
    ['a node id that is not a string', { type: 'forward-join', epoch: 0, node: 42, ttl: 1 }, 'malformed'],
    ['an unknown priority', { type: 'neighbor', epoch: 0, priority: 'urgent' }, 'malformed'],
    ['a non-boolean', { type: 'neighbor-reply', epoch: 0, accepted: 'yes' }, 'malformed'],
    ['a negative request id', { type: 'neighbor', epoch: 0, priority: 'low', id: -1 }, 'malformed'],
    ['a request id beyond 2^32 − 1', { type: 'neighbor-reply', epoch: 0, accepted: true, id: 2 ** 32 }, 'malformed'],
    ['a request id that is not a number', { type: 'join', epoch: 0, id: '7' }, 'malformed'],
    ['a list that is not an array', { type: 'shuffle-reply', epoch: 0, nodes: 'a,b' }, 'malformed'],
    ['a list with a bad entry', { type: 'shuffle-reply', epoch: 0, nodes: ['a', 7] }, 'malformed'],
    ['a size message of the wrong length', { type: 'size', round: 1, values: [1, 2] }, 'malformed'],
    ['a negative size sample', { type: 'size', round: 1, values: [1, 2, -3, 4] }, 'malformed'],
    ['a size sample of zero', { type: 'size', round: 1, values: [1, 0, 3, 4] }, 'malformed'],
    ['an infinite heartbeat time', { type: 'heartbeat', sentAt: Infinity }, 'malformed'],
    ['an unknown topology', { type: 'topology', epoch: 2, mode: 'ring', pinned: false }, 'malformed'],
    ['a way back asked for with something else than true', { type: 'shuffle', epoch: 0, origin: 'o', ttl: 2, nodes: ['o'], id: 1, back: 'yes' }, 'malformed'],
    ['a reply on its way back without the id it is found by', { type: 'shuffle-reply', epoch: 0, nodes: [], origin: 'o' }, 'malformed'],
    ['a reply on its way back with a bad origin', { type: 'shuffle-reply', epoch: 0, nodes: [], id: 1, origin: 7 }, 'malformed'],
  ])('drops %s', (_what, input, counter) => {
    const stats = createDecodeStats();
    expect(decodeMembershipMessage(input, limits, stats)).toBeUndefined();
    expect(stats[counter as 'malformed' | 'unknownType']).toBe(1);
  });

  it('drops a size figure of zeros, which would make every node that merged it estimate a cluster of one', () => {
    // Minima of exponential samples are above zero; zeros sum to nothing, which the estimate
    // reads as one node. One peer sending them would have a large cluster measure itself as a
    // single node for the round, and an automatic topology switch to a full mesh follow.
    const estimator = new SizeEstimator(limits.sizeSamples, createSeededRandom(3));
    estimator.startRound(1, 0);
    estimator.merge(1, [0.001, 0.002, 0.001, 0.003], 0);
    const honest = estimator.current();
    expect(honest).toBeGreaterThan(100);
    const stats = createDecodeStats();
    const received = decodeMembershipMessage({ type: 'size', round: 1, values: [0, 0, 0, 0] }, limits, stats);
    if (received?.type === 'size') estimator.merge(received.round, received.values, 1);
    expect(estimator.current()).toBe(honest);
    expect(stats.malformed).toBe(1);
  });

  it('keeps the node a refusal names, only beside the id of the request it answers', () => {
    const stats = createDecodeStats();
    expect(decodeMembershipMessage({ type: 'neighbor-reply', epoch: 0, accepted: false, id: 3, vacant: 'v' }, limits, stats)).toStrictEqual({ type: 'neighbor-reply', epoch: 0, accepted: false, id: 3, vacant: 'v' });
    expect(decodeMembershipMessage({ type: 'neighbor-reply', epoch: 0, accepted: false, vacant: 'v' }, limits, stats)).toStrictEqual({ type: 'neighbor-reply', epoch: 0, accepted: false });
    // A name that is not a node id is left out; the reply itself still counts.
    for (const vacant of ['x'.repeat(17), '', ['a'], 7, { id: 'a' }]) {
      expect(decodeMembershipMessage({ type: 'neighbor-reply', epoch: 0, accepted: false, id: 1, vacant }, limits, stats)).toStrictEqual({ type: 'neighbor-reply', epoch: 0, accepted: false, id: 1 });
    }
    expect(stats.malformed).toBe(0);
  });

  it('keeps the contacts of a client-server answer up to eight, and leaves out a malformed list or entry rather than the answer', () => {
    const stats = createDecodeStats();
    const peers = Array.from({ length: 10 }, (_, index) => `p${index}`);
    expect(decodeMembershipMessage({ type: 'cs-servers', epoch: 0, servers: ['s'], peers }, limits, stats)).toStrictEqual({ type: 'cs-servers', epoch: 0, servers: ['s'], peers: peers.slice(0, 8) });
    expect(stats.truncated).toBe(1);
    expect(decodeMembershipMessage({ type: 'cs-attach-reply', epoch: 0, accepted: true, servers: [], peers: ['a', 7, 'x'.repeat(17), 'a', 'b'] }, limits, stats)).toStrictEqual({
      type: 'cs-attach-reply',
      epoch: 0,
      accepted: true,
      servers: [],
      peers: ['a', 'b'],
    });
    expect(decodeMembershipMessage({ type: 'cs-servers', epoch: 0, servers: [], peers: 'a,b', seeking: true }, limits, stats)).toStrictEqual({ type: 'cs-servers', epoch: 0, servers: [], seeking: true });
    // Only `true` says the sender is seeking; anything else counts as absent (an older sender's answer).
    expect(decodeMembershipMessage({ type: 'cs-servers', epoch: 0, servers: [], seeking: 'yes' }, limits, stats)).toStrictEqual({ type: 'cs-servers', epoch: 0, servers: [] });
    // The first seeker named: kept beside `seeking` only, and left out when it is no node id.
    expect(decodeMembershipMessage({ type: 'cs-servers', epoch: 0, servers: [], seeking: true, lowest: 'l' }, limits, stats)).toStrictEqual({ type: 'cs-servers', epoch: 0, servers: [], seeking: true, lowest: 'l' });
    expect(decodeMembershipMessage({ type: 'cs-servers', epoch: 0, servers: [], lowest: 'l' }, limits, stats)).toStrictEqual({ type: 'cs-servers', epoch: 0, servers: [] });
    expect(decodeMembershipMessage({ type: 'cs-servers', epoch: 0, servers: [], seeking: true, lowest: 'x'.repeat(17) }, limits, stats)).toStrictEqual({ type: 'cs-servers', epoch: 0, servers: [], seeking: true });
    expect(decodeMembershipMessage({ type: 'cs-promote', epoch: 3, extra: 1 }, limits, stats)).toStrictEqual({ type: 'cs-promote', epoch: 3 });
    expect(stats.malformed).toBe(0);
  });

  it('keeps a request id when there is one, and leaves it out when there is none', () => {
    const stats = createDecodeStats();
    expect(decodeMembershipMessage({ type: 'neighbor', epoch: 0, priority: 'low', id: 4_294_967_295 }, limits, stats)).toEqual({ type: 'neighbor', epoch: 0, priority: 'low', id: 4_294_967_295 });
    expect(decodeMembershipMessage({ type: 'neighbor-reply', epoch: 1, accepted: false }, limits, stats)).toStrictEqual({ type: 'neighbor-reply', epoch: 1, accepted: false });
    expect(decodeMembershipMessage({ type: 'join', epoch: 0, id: 3 }, limits, stats)).toEqual({ type: 'join', epoch: 0, id: 3 });
    expect(decodeMembershipMessage({ type: 'shuffle', epoch: 0, origin: 'o', ttl: 2, nodes: ['o'], id: 9 }, limits, stats)).toEqual({ type: 'shuffle', epoch: 0, origin: 'o', ttl: 2, nodes: ['o'], id: 9 });
    expect(decodeMembershipMessage({ type: 'shuffle-reply', epoch: 0, nodes: ['a'], id: 9 }, limits, stats)).toEqual({ type: 'shuffle-reply', epoch: 0, nodes: ['a'], id: 9 });
    expect(decodeMembershipMessage({ type: 'shuffle-reply', epoch: 0, nodes: ['a'] }, limits, stats)).toStrictEqual({ type: 'shuffle-reply', epoch: 0, nodes: ['a'] });
    expect(stats.malformed).toBe(0);
    expect(decodeMembershipMessage({ type: 'shuffle-reply', epoch: 0, nodes: ['a'], id: 'guess' }, limits, stats)).toBeUndefined();
    expect(stats.malformed).toBe(1);
  });

  it('keeps a walk\'s request for the way back (with its id) and a reply\'s origin; a walk without an id gets a direct answer', () => {
    const stats = createDecodeStats();
    expect(decodeMembershipMessage({ type: 'shuffle', epoch: 0, origin: 'o', ttl: 2, nodes: ['o'], id: 3, back: true }, limits, stats)).toEqual({
      type: 'shuffle',
      epoch: 0,
      origin: 'o',
      ttl: 2,
      nodes: ['o'],
      id: 3,
      back: true,
    });
    expect(decodeMembershipMessage({ type: 'shuffle', epoch: 0, origin: 'o', ttl: 2, nodes: ['o'], back: true }, limits, stats)).toEqual({ type: 'shuffle', epoch: 0, origin: 'o', ttl: 2, nodes: ['o'] });
    expect(decodeMembershipMessage({ type: 'shuffle-reply', epoch: 0, nodes: ['n'], id: 4, origin: 'o' }, limits, stats)).toEqual({ type: 'shuffle-reply', epoch: 0, nodes: ['n'], id: 4, origin: 'o' });
    expect(stats.malformed).toBe(0);
  });

  it('cuts shuffle lists to ka + kp + 1 entries and drops duplicates', () => {
    const stats = createDecodeStats();
    const nodes = Array.from({ length: 50 }, (_, index) => `n${index % 20}`);
    const message = decodeMembershipMessage({ type: 'shuffle', epoch: 0, origin: 'o', ttl: 6, nodes }, limits, stats);
    expect(message).toEqual({ type: 'shuffle', epoch: 0, origin: 'o', ttl: 6, nodes: ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7'] });
    expect(stats.truncated).toBe(1);
  });

  it('reads only the fields it knows: extra keys (prototype tricks included) do not survive', () => {
    const hostile = JSON.parse('{"type":"join","epoch":0,"__proto__":{"polluted":true},"constructor":{"x":1}}') as unknown;
    const message = decodeMembershipMessage(hostile, limits, createDecodeStats());
    expect(message).toEqual({ type: 'join', epoch: 0 });
    expect(Object.getPrototypeOf(message)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('objects with another prototype are not accepted as messages', () => {
    class Fake {
      type = 'join';
      epoch = 0;
    }
    const stats = createDecodeStats();
    expect(decodeMembershipMessage(new Fake(), limits, stats)).toBeUndefined();
    expect(stats.malformed).toBe(1);
  });
});

describe('decodePlumtreeMessage', () => {
  it('accepts well-formed messages and keeps the payload opaque', () => {
    const payload = new Uint8Array([1, 2, 3]);
    expect(decodePlumtreeMessage({ type: 'gossip', id: 'abc', topic: 't', origin: 'o', round: 2, payload }, limits, createDecodeStats())).toEqual({
      type: 'gossip',
      id: 'abc',
      topic: 't',
      origin: 'o',
      round: 2,
      payload,
    });
  });

  it.each([
    ['an empty id', { type: 'gossip', id: '', topic: 't', origin: 'o', round: 1 }],
    ['an id longer than 64', { type: 'gossip', id: 'x'.repeat(65), topic: 't', origin: 'o', round: 1 }],
    ['a topic longer than 200', { type: 'gossip', id: 'a', topic: 't'.repeat(201), origin: 'o', round: 1 }],
    ['a round beyond a million', { type: 'gossip', id: 'a', topic: 't', origin: 'o', round: 2_000_000 }],
    ['a byte payload above maxPayloadBytes', { type: 'gossip', id: 'a', topic: 't', origin: 'o', round: 1, payload: new Uint8Array(9) }],
    ['a string payload above maxPayloadBytes in UTF-8 (5 characters, 10 bytes)', { type: 'gossip', id: 'a', topic: 't', origin: 'o', round: 1, payload: 'ééééé' }],
    ['IHAVE rounds shorter than ids', { type: 'ihave', ids: ['a', 'b'], rounds: [1] }],
    ['GRAFT ids that are not strings', { type: 'graft', ids: [1, 2] }],
    ['a digest without its reply flag', { type: 'digest', ids: [] }],
  ])('drops %s', (_what, input) => {
    const stats = createDecodeStats();
    expect(decodePlumtreeMessage(input, limits, stats)).toBeUndefined();
    expect(stats.malformed).toBe(1);
  });

  it('accepts payloads up to maxPayloadBytes (bytes and UTF-8 strings); other values are the receiver\'s to check', () => {
    for (const payload of [new Uint8Array(8), 'abcdefgh', 'éééé', '😀😀', { big: 'x'.repeat(100) }]) {
      const stats = createDecodeStats();
      expect(decodePlumtreeMessage({ type: 'gossip', id: 'a', topic: 't', origin: 'o', round: 1, payload }, limits, stats)).toEqual({ type: 'gossip', id: 'a', topic: 't', origin: 'o', round: 1, payload });
      expect(stats.malformed).toBe(0);
    }
    // A lone surrogate is 3 bytes (as the encoder writes U+FFFD): three of them are 9.
    expect(decodePlumtreeMessage({ type: 'gossip', id: 'a', topic: 't', origin: 'o', round: 1, payload: '\ud800\ud800\ud800' }, limits, createDecodeStats())).toBeUndefined();
  });

  it('cuts IHAVE and GRAFT id lists to the per-message bound', () => {
    const stats = createDecodeStats();
    const ids = Array.from({ length: 9 }, (_, index) => `m${index}`);
    const message = decodePlumtreeMessage({ type: 'ihave', ids, rounds: ids.map(() => 1) }, limits, stats);
    expect(message).toEqual({ type: 'ihave', ids: ids.slice(0, 5), rounds: [1, 1, 1, 1, 1] });
    expect(stats.truncated).toBe(1);
  });

  it('never throws and never accepts what it cannot check, whatever the input', () => {
    fc.assert(
      fc.property(fc.anything({ withObjectString: true, withNullPrototype: true, withTypedArray: true, withBigInt: true }), (value) => {
        const stats = createDecodeStats();
        const membership = decodeMembershipMessage(value, limits, stats);
        const plumtree = decodePlumtreeMessage(value, limits, stats);
        if (membership === undefined && plumtree === undefined) expect(stats.malformed + stats.unknownType).toBeGreaterThanOrEqual(2);
      }),
      { numRuns: 2_000 },
    );
  });
});
