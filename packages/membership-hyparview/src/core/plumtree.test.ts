// Spec-mapped tests of Plumtree (Leitão, Pereira, Rodrigues, "Epidemic Broadcast Trees", SRDS
// 2007): each test quotes the rule it checks, in our words, with the section of the paper.
import { describe, expect, it } from '@jest/globals';
import { createSeededRandom } from '@foundation/core';
import { defaultLanConfig, defaultLocalConfig } from './config';
import type { PlumtreeConfig } from './config';
import type { PlumtreeMessage } from './messages';
import { PlumtreeCore } from './plumtree';
import type { PlumtreeEffect } from './plumtree';

function config(overrides: Partial<PlumtreeConfig> = {}): PlumtreeConfig {
  return { ...defaultLocalConfig().plumtree, ihaveTimeoutMs: 100, graftTimeoutMs: 50, lazyPushIntervalMs: 10, antiEntropyIntervalMs: 0, ...overrides };
}

function plumtree(neighbors: readonly string[], overrides: Partial<PlumtreeConfig> = {}): PlumtreeCore {
  const core = new PlumtreeCore({ self: 'me', config: config(overrides), random: createSeededRandom(9) });
  for (const peer of neighbors) core.neighborUp(peer, 0);
  core.takeEffects();
  return core;
}

function sent(effects: readonly PlumtreeEffect[], type?: PlumtreeMessage['type']): { to: string; message: PlumtreeMessage }[] {
  return effects.flatMap((effect) => (effect.kind === 'send' && (type === undefined || effect.message.type === type) ? [{ to: effect.to, message: effect.message }] : []));
}

function delivered(effects: readonly PlumtreeEffect[]): string[] {
  return effects.flatMap((effect) => (effect.kind === 'deliver' ? [effect.delivery.id] : []));
}

function gossip(id: string, round = 1): PlumtreeMessage {
  return { type: 'gossip', id, topic: 't', origin: 'o', round, payload: id };
}

/** Makes `peers` lazy by sending a duplicate over each (§3.4: a duplicate prunes the link). */
function makeLazy(core: PlumtreeCore, peers: readonly string[]): void {
  core.receive('seed', gossip('warm-up'), 0);
  for (const peer of peers) core.receive(peer, gossip('warm-up'), 0);
  core.tick(1_000);
  core.takeEffects();
}

describe('Plumtree §3.3–3.4: eager and lazy push', () => {
  it('"initially every neighbour is an eager link"; a broadcast pushes the payload to all of them', () => {
    const core = plumtree(['a', 'b', 'c']);
    const id = core.broadcast('t', 'hello', 1);
    const gossips = sent(core.takeEffects(), 'gossip');
    expect(gossips.map((entry) => entry.to).sort()).toEqual(['a', 'b', 'c']);
    expect(gossips[0]!.message).toEqual({ type: 'gossip', id, topic: 't', origin: 'me', round: 1, payload: 'hello' });
  });

  it('"a new message is delivered, pushed to the eager peers but the sender (round + 1) and announced to the lazy peers"', () => {
    const core = plumtree(['a', 'b', 'c', 'd']);
    makeLazy(core, ['d']);
    core.receive('a', gossip('m1', 3), 10);
    const effects = core.takeEffects();
    expect(delivered(effects)).toEqual(['m1']);
    const gossips = sent(effects, 'gossip');
    expect(gossips.map((entry) => entry.to).sort()).toEqual(['b', 'c', 'seed'].filter((peer) => core.eagerPeers().includes(peer)).sort());
    for (const entry of gossips) expect((entry.message as { round: number }).round).toBe(4);
    expect(sent(effects, 'ihave')).toEqual([]);
    core.tick(20);
    const announcements = sent(core.takeEffects(), 'ihave');
    expect(announcements).toEqual([{ to: 'd', message: { type: 'ihave', ids: ['m1'], rounds: [4] } }]);
  });

  it('"a duplicate moves its sender to the lazy links and is answered with PRUNE"', () => {
    const core = plumtree(['a', 'b']);
    core.receive('a', gossip('m1'), 1);
    core.takeEffects();
    core.receive('b', gossip('m1'), 2);
    const effects = core.takeEffects();
    expect(delivered(effects)).toEqual([]);
    expect(sent(effects, 'prune')).toEqual([{ to: 'b', message: { type: 'prune' } }]);
    expect(core.lazyPeers()).toEqual(['b']);
    expect(core.eagerPeers()).toEqual(['a']);
  });

  it('"PRUNE moves the sender to the lazy links"', () => {
    const core = plumtree(['a', 'b']);
    core.receive('a', { type: 'prune' }, 1);
    expect(core.eagerPeers()).toEqual(['b']);
    expect(core.lazyPeers()).toEqual(['a']);
  });

  it('IHAVE announcements are batched per peer within the lazy push interval', () => {
    const core = plumtree(['a', 'b']);
    makeLazy(core, ['b']);
    core.receive('a', gossip('m1'), 100);
    core.receive('a', gossip('m2'), 105);
    core.tick(109);
    expect(sent(core.takeEffects(), 'ihave')).toEqual([]);
    core.tick(110);
    expect(sent(core.takeEffects(), 'ihave')).toEqual([{ to: 'b', message: { type: 'ihave', ids: ['m1', 'm2'], rounds: [2, 2] } }]);
  });
});

describe('Plumtree §3.4: repairing the tree', () => {
  it('"an IHAVE for an unknown message starts a timer; when it fires the announcer is grafted (GRAFT, and it becomes eager)"', () => {
    const core = plumtree(['a', 'b']);
    makeLazy(core, ['b']);
    core.receive('b', { type: 'ihave', ids: ['m9'], rounds: [2] }, 100);
    core.tick(199);
    expect(sent(core.takeEffects(), 'graft')).toEqual([]);
    expect(core.nextTick()).toBe(200);
    core.tick(200);
    expect(sent(core.takeEffects(), 'graft')).toEqual([{ to: 'b', message: { type: 'graft', ids: ['m9'] } }]);
    expect(core.eagerPeers()).toContain('b');
    core.receive('b', gossip('m9', 3), 210);
    expect(delivered(core.takeEffects())).toEqual(['m9']);
    expect(core.missingIds()).toEqual([]);
  });

  it('"the message arriving before the timer fires cancels it"', () => {
    const core = plumtree(['a', 'b']);
    makeLazy(core, ['b']);
    core.receive('b', { type: 'ihave', ids: ['m9'], rounds: [2] }, 100);
    core.receive('a', gossip('m9'), 150);
    core.tick(300);
    expect(sent(core.takeEffects(), 'graft')).toEqual([]);
  });

  it('"if the grafted peer does not deliver within timeout 2, the next announcer is grafted"', () => {
    const core = plumtree(['a', 'b', 'c']);
    makeLazy(core, ['b', 'c']);
    core.receive('b', { type: 'ihave', ids: ['m9'], rounds: [2] }, 100);
    core.receive('c', { type: 'ihave', ids: ['m9'], rounds: [2] }, 101);
    core.tick(200);
    expect(sent(core.takeEffects(), 'graft').map((entry) => entry.to)).toEqual(['b']);
    core.tick(249);
    expect(sent(core.takeEffects(), 'graft')).toEqual([]);
    core.tick(250);
    expect(sent(core.takeEffects(), 'graft').map((entry) => entry.to)).toEqual(['c']);
  });

  it('"GRAFT makes the sender an eager link and is answered with the messages it names"', () => {
    const core = plumtree(['a', 'b']);
    makeLazy(core, ['b']);
    const id = core.broadcast('t', 'payload', 10);
    core.takeEffects();
    core.receive('b', { type: 'graft', ids: [id, 'unknown'] }, 20);
    const effects = sent(core.takeEffects(), 'gossip');
    expect(effects).toEqual([{ to: 'b', message: { type: 'gossip', id, topic: 't', origin: 'me', round: 1, payload: 'payload' } }]);
    expect(core.eagerPeers()).toContain('b');
  });

  it('keeps payload bytes of its own, not the larger buffer they were a view of', () => {
    // A received payload is a view of the frame it came in (a socket read of up to 64 KiB); an
    // own one is often a view of cbor-x's buffer, shared by every encoder of the process. The
    // store keeps payloads for a minute to answer GRAFTs: views would keep those buffers alive.
    const core = plumtree(['a', 'b']);
    makeLazy(core, ['b']);
    const big = new Uint8Array(64 * 1024);
    const own = big.subarray(100, 110).fill(1);
    const received = big.subarray(200, 230).fill(2);
    const ownId = core.broadcast('t', own, 10);
    core.receive('a', { type: 'gossip', id: 'from-a', topic: 't', origin: 'a', round: 1, payload: received }, 10);
    core.takeEffects();
    core.receive('b', { type: 'graft', ids: [ownId, 'from-a'] }, 20);
    const payloads = sent(core.takeEffects(), 'gossip').map(({ message }) => (message as { payload: Uint8Array }).payload);
    expect(payloads.map((payload) => [...payload])).toEqual([[...own], [...received]]);
    expect(payloads.map((payload) => payload.buffer.byteLength)).toEqual([10, 30]);
  });

  it('GRAFTs are rate-limited per source', () => {
    const core = plumtree(['a'], { graftRatePerSecond: 1, graftBurst: 2 });
    const ids = Array.from({ length: 5 }, (_, index) => core.broadcast('t', `x${index}`, 0));
    core.takeEffects();
    for (const id of ids) core.receive('a', { type: 'graft', ids: [id] }, 1);
    expect(sent(core.takeEffects(), 'gossip')).toHaveLength(2);
    expect(core.stats().graftsRateLimited).toBe(3);
  });

  it('§3.8 optimisation: an announcement that beats the tree by the threshold grafts the lazy link and prunes the eager one', () => {
    const core = plumtree(['a', 'b'], { optimizationThreshold: 3 });
    makeLazy(core, ['b']);
    core.receive('a', gossip('m1', 9), 100);
    core.takeEffects();
    core.receive('b', { type: 'ihave', ids: ['m1'], rounds: [2] }, 101);
    const effects = core.takeEffects();
    expect(sent(effects, 'graft')).toEqual([{ to: 'b', message: { type: 'graft', ids: [] } }]);
    expect(sent(effects, 'prune')).toEqual([{ to: 'a', message: { type: 'prune' } }]);
    expect(core.eagerPeers()).toEqual(['seed', 'b'].filter((peer) => core.eagerPeers().includes(peer)));
    expect(core.lazyPeers()).toContain('a');
  });

  it('§3.8 optimisation on a GOSSIP keeps the peer it pruned lazy and sends the grafted one no copy (review finding)', () => {
    // Done before the pushes, the optimisation was undone: the sender it pruned was made eager
    // again, and the neighbour it grafted was sent the message it had announced (and pruned back),
    // so neither pushed to this node any more.
    const core = plumtree(['a', 'b'], { optimizationThreshold: 3 });
    makeLazy(core, ['b']);
    core.receive('b', { type: 'ihave', ids: ['m1'], rounds: [1] }, 100);
    core.takeEffects();
    core.receive('a', gossip('m1', 8), 101);
    const effects = core.takeEffects();
    expect(sent(effects, 'graft')).toEqual([{ to: 'b', message: { type: 'graft', ids: [] } }]);
    expect(sent(effects, 'prune')).toEqual([{ to: 'a', message: { type: 'prune' } }]);
    expect(sent(effects, 'gossip').map(({ to }) => to)).not.toContain('b');
    expect(core.lazyPeers()).toContain('a');
    expect(core.eagerPeers()).toContain('b');
  });

  it('grafts every overdue id, in GRAFTs of at most 1,024 ids (review finding)', () => {
    // Past the first 1,024 overdue ids of one announcer, ids were dropped with their
    // announcement spent: with no other announcer, those messages were never delivered.
    const core = plumtree(['a']);
    makeLazy(core, ['a']);
    const ids = Array.from({ length: 1_025 }, (_, index) => `m${index}`);
    core.receive('a', { type: 'ihave', ids: ids.slice(0, 1_024), rounds: ids.slice(0, 1_024).map(() => 1) }, 0);
    core.receive('a', { type: 'ihave', ids: ids.slice(1_024), rounds: [1] }, 0);
    core.takeEffects();
    core.tick(10_000);
    const grafts = sent(core.takeEffects(), 'graft').map(({ message }) => (message as unknown as { ids: string[] }).ids);
    expect(grafts.every((batch) => batch.length <= 1_024)).toBe(true);
    expect(grafts.flat().sort()).toEqual([...ids].sort());
  });

  it('does not GRAFT from its announcers a message it broadcast itself under an announced id (review finding)', () => {
    const core = plumtree(['a']);
    makeLazy(core, ['a']);
    core.receive('a', { type: 'ihave', ids: ['topology:5:hyparview:0'], rounds: [1] }, 0);
    core.broadcast('topology', { mode: 'hyparview' }, 1, 'topology:5:hyparview:0');
    core.takeEffects();
    core.tick(10_000);
    expect(sent(core.takeEffects(), 'graft')).toEqual([]);
  });
});

describe('Plumtree: GRAFT amplification', () => {
  function ids(effects: readonly PlumtreeEffect[], to?: string): string[] {
    return sent(effects, 'gossip').flatMap(({ to: peer, message }) => (to === undefined || peer === to ? [(message as { id: string }).id] : []));
  }

  it('one GRAFT naming every stored message a thousand times over, four hundred times at once, gets each message sent once (defaults)', () => {
    const core = new PlumtreeCore({ self: 'me', config: defaultLanConfig().plumtree, random: createSeededRandom(9) });
    core.neighborUp('evil', 0);
    const stored = Array.from({ length: 16 }, (_, index) => core.broadcast('t', new Uint8Array(64 * 1024).fill(index), 1));
    core.takeEffects();
    // 1,024 ids per GRAFT (the decoder's cap), the 16 stored ids over and over; the GRAFT burst is 400.
    const graft: PlumtreeMessage = { type: 'graft', ids: Array.from({ length: 1_024 }, (_, index) => stored[index % stored.length]!) };
    for (let index = 0; index < 400; index += 1) core.receive('evil', graft, 10);
    expect(ids(core.takeEffects()).sort()).toEqual([...stored].sort());
    expect(core.stats()).toMatchObject({ graftsReceived: 400, graftsRateLimited: 400, graftIdsRefused: 400 * 1_024 - 16 });
    // Still refused until graftRepeatMs has passed, then answered again, once.
    core.receive('evil', graft, 4_999);
    expect(ids(core.takeEffects())).toEqual([]);
    core.receive('evil', graft, 5_010);
    core.receive('evil', graft, 5_011);
    expect(ids(core.takeEffects()).sort()).toEqual([...stored].sort());
  });

  it('a message is sent to a peer once per graftRepeatMs, to each peer on its own; a link that went down forgets it', () => {
    const core = plumtree(['a', 'b'], { graftRepeatMs: 1_000 });
    const id = core.broadcast('t', 'x', 0);
    core.takeEffects();
    core.receive('a', { type: 'graft', ids: [id, id, id] }, 10);
    core.receive('a', { type: 'graft', ids: [id] }, 20);
    core.receive('b', { type: 'graft', ids: [id] }, 20);
    expect(sent(core.takeEffects(), 'gossip').map((entry) => entry.to)).toEqual(['a', 'b']);
    expect(core.stats()).toMatchObject({ graftsRateLimited: 2, graftIdsRefused: 3 });
    // The link to a went down and came back: what was sent over it may be lost, so a's repair is answered.
    core.neighborDown('a');
    core.neighborUp('a', 100);
    core.takeEffects();
    core.receive('a', { type: 'graft', ids: [id] }, 110);
    core.receive('b', { type: 'graft', ids: [id] }, 110);
    expect(sent(core.takeEffects(), 'gossip').map((entry) => entry.to)).toEqual(['a']);
    core.receive('b', { type: 'graft', ids: [id] }, 1_020);
    expect(sent(core.takeEffects(), 'gossip').map((entry) => entry.to)).toEqual(['b']);
  });

  it('a peer is sent at most graftPayloadBurst messages at once and graftPayloadRatePerSecond after, however many it names; other peers are served', () => {
    const core = plumtree(['a', 'b'], { graftPayloadBurst: 3, graftPayloadRatePerSecond: 10 });
    const stored = Array.from({ length: 10 }, (_, index) => core.broadcast('t', `m${index}`, 0));
    core.takeEffects();
    core.receive('a', { type: 'graft', ids: stored }, 1);
    expect(ids(core.takeEffects())).toEqual(stored.slice(0, 3));
    // 100 ms later: one more token (10 per second).
    core.receive('a', { type: 'graft', ids: stored.slice(3) }, 101);
    expect(ids(core.takeEffects())).toEqual(stored.slice(3, 4));
    core.receive('b', { type: 'graft', ids: stored.slice(0, 3) }, 101);
    expect(ids(core.takeEffects(), 'b')).toEqual(stored.slice(0, 3));
    expect(core.stats()).toMatchObject({ graftsRateLimited: 2, graftIdsRefused: 7 + 6 });
    // An id refused for the budget was not sent, so it is not a repeat: answered once tokens are back.
    core.receive('a', { type: 'graft', ids: [stored[9]!] }, 301);
    expect(ids(core.takeEffects())).toEqual([stored[9]]);
  });

  it('a new neighbour\'s repair GRAFT of 1,024 ids is served whole (defaults)', () => {
    const core = new PlumtreeCore({ self: 'me', config: defaultLocalConfig().plumtree, random: createSeededRandom(9) });
    const stored = Array.from({ length: 1_024 }, (_, index) => core.broadcast('t', `m${index}`, index));
    core.takeEffects();
    core.neighborUp('late', 2_000);
    const announced = sent(core.takeEffects(), 'ihave').flatMap(({ message }) => (message as { ids: readonly string[] }).ids);
    expect(announced).toHaveLength(1_024);
    core.receive('late', { type: 'graft', ids: announced }, 2_100);
    expect(ids(core.takeEffects()).sort()).toEqual([...stored].sort());
    expect(core.stats().graftIdsRefused).toBe(0);
  });
});

describe('Plumtree §3.6: neighbours change', () => {
  it('"a lost neighbour leaves both sets and its announcements are dropped"', () => {
    const core = plumtree(['a', 'b']);
    makeLazy(core, ['b']);
    core.receive('b', { type: 'ihave', ids: ['m9'], rounds: [2] }, 100);
    core.neighborDown('b');
    expect(core.lazyPeers()).toEqual([]);
    expect(core.missingIds()).toEqual([]);
    core.tick(500);
    expect(sent(core.takeEffects(), 'graft')).toEqual([]);
  });

  it('a neighbour whose link is dropped alive (HyParView making room, a topology switch) stays an announcer: the message is grafted from it', () => {
    const core = plumtree(['a', 'b']);
    makeLazy(core, ['b']);
    core.receive('b', { type: 'ihave', ids: ['m9'], rounds: [2] }, 100);
    core.neighborDown('b', true);
    expect(core.lazyPeers()).toEqual([]);
    expect(core.missingIds()).toEqual(['m9']);
    core.tick(500);
    expect(sent(core.takeEffects(), 'graft')).toEqual([{ to: 'b', message: { type: 'graft', ids: ['m9'] } }]);
    // Not a neighbour again for it.
    expect(core.eagerPeers()).toEqual(['a']);
  });

  it('a new neighbour starts eager and is told of recent messages, so broadcasts in flight during a change are not lost', () => {
    const core = plumtree(['a']);
    const id = core.broadcast('t', 'x', 0);
    core.takeEffects();
    core.neighborUp('late', 100);
    expect(core.eagerPeers()).toContain('late');
    expect(sent(core.takeEffects(), 'ihave')).toEqual([{ to: 'late', message: { type: 'ihave', ids: [id], rounds: [1] } }]);
    // The new neighbour grafts what it misses and gets it.
    core.receive('late', { type: 'graft', ids: [id] }, 110);
    expect(sent(core.takeEffects(), 'gossip').map((entry) => entry.to)).toEqual(['late']);
  });
});

describe('Plumtree: bounded state and anti-entropy', () => {
  it('the seen-id cache and the payload store keep at most their bounds (oldest first out)', () => {
    const core = plumtree(['a'], { maxSeenIds: 16, maxStoredMessages: 4 });
    for (let index = 0; index < 40; index += 1) core.receive('a', gossip(`m${index}`), index);
    const stats = core.stats();
    expect(stats.seenIds).toBe(16);
    expect(stats.storedMessages).toBe(4);
    expect(core.hasSeen('m39')).toBe(true);
    expect(core.hasSeen('m0')).toBe(false);
  });

  it('the payload store keeps at most maxStoredBytes of payloads: storing past it evicts the oldest first', () => {
    const core = plumtree(['a', 'b'], { maxStoredBytes: 100 });
    makeLazy(core, ['b']);
    const ids = ['p0', 'p1', 'p2', 'p3', 'p4'];
    ids.forEach((id, index) => core.receive('a', { type: 'gossip', id, topic: 't', origin: 'o', round: 1, payload: new Uint8Array(40).fill(index) }, 10 + index));
    // 5 × 40 bytes were delivered; two fit in 100 bytes, so the three oldest went.
    expect(delivered(core.takeEffects())).toEqual(ids);
    expect(core.stats()).toMatchObject({ storedMessages: 2, storedBytes: 80 });
    core.receive('b', { type: 'graft', ids }, 20);
    const answered = sent(core.takeEffects(), 'gossip').map(({ message }) => (message as { id: string }).id);
    expect(answered).toEqual(['p3', 'p4']);
    // Strings count in UTF-8 (30 × "é" is 60 bytes), as maxPayloadBytes counts them: p3 goes.
    core.receive('a', { type: 'gossip', id: 's0', topic: 't', origin: 'o', round: 1, payload: 'é'.repeat(30) }, 30);
    expect(core.stats()).toMatchObject({ storedMessages: 2, storedBytes: 100 });
    core.takeEffects();
    core.receive('a', { type: 'graft', ids: ['p3', 'p4', 's0'] }, 40);
    expect(sent(core.takeEffects(), 'gossip').map(({ message }) => (message as { id: string }).id)).toEqual(['p4', 's0']);
  });

  it('this node\'s own broadcasts count against maxStoredBytes too; a payload above the bound is sent but not kept, and evicts nothing', () => {
    const core = plumtree(['a'], { maxStoredBytes: 100 });
    const kept = core.broadcast('t', new Uint8Array(60), 0);
    const big = core.broadcast('t', new Uint8Array(101), 1);
    expect(sent(core.takeEffects(), 'gossip').map(({ message }) => (message as { id: string }).id)).toEqual([kept, big]);
    expect(core.stats()).toMatchObject({ storedMessages: 1, storedBytes: 60 });
    core.receive('a', { type: 'graft', ids: [kept, big] }, 2);
    expect(sent(core.takeEffects(), 'gossip').map(({ message }) => (message as { id: string }).id)).toEqual([kept]);
  });

  it('announces only what a GRAFT can be answered with: not a payload too large to keep, nor one evicted before its IHAVE leaves (review finding)', () => {
    // A GRAFT is answered from the store. Announced all the same, a message not kept there got
    // the lazy peer that grafted it nothing, and held its delivery back a graftTimeoutMs.
    const core = plumtree(['a', 'b'], { maxStoredBytes: 100, maxStoredMessages: 2 });
    makeLazy(core, ['b']);
    const bytes = (id: string, size: number): PlumtreeMessage => ({ type: 'gossip', id, topic: 't', origin: 'o', round: 1, payload: new Uint8Array(size) });
    // Too large to keep: delivered (its own: pushed to the eager peer), never announced.
    core.receive('a', bytes('big', 101), 2_000);
    const own = core.broadcast('t', new Uint8Array(101), 2_001);
    // Evicted by count (two are kept) before the batch leaves at 2,012.
    core.receive('a', bytes('m1', 10), 2_002);
    core.receive('a', bytes('m2', 10), 2_003);
    core.receive('a', bytes('m3', 10), 2_004);
    const effects = core.takeEffects();
    expect(delivered(effects)).toEqual(['big', 'm1', 'm2', 'm3']);
    expect(sent(effects, 'gossip')).toEqual([{ to: 'a', message: expect.objectContaining({ id: own }) }]);
    core.tick(2_012);
    expect(sent(core.takeEffects(), 'ihave')).toEqual([{ to: 'b', message: { type: 'ihave', ids: ['m2', 'm3'], rounds: [2, 2] } }]);
    // Without batching, the same holds for what is announced at once.
    const direct = plumtree(['a', 'b'], { maxStoredBytes: 100, lazyPushIntervalMs: 0 });
    makeLazy(direct, ['b']);
    direct.receive('a', bytes('big', 101), 2_000);
    direct.receive('a', bytes('small', 10), 2_001);
    expect(sent(direct.takeEffects(), 'ihave')).toEqual([{ to: 'b', message: { type: 'ihave', ids: ['small'], rounds: [2] } }]);
  });

  it('the stored-bytes count goes back down as entries expire or are evicted by count', () => {
    const core = plumtree(['a'], { maxStoredMessages: 3, maxStoredBytes: 1_000, storeTtlMs: 500, seenTtlMs: 10_000 });
    for (let index = 0; index < 5; index += 1) core.receive('a', { type: 'gossip', id: `m${index}`, topic: 't', origin: 'o', round: 1, payload: new Uint8Array(10 * (index + 1)) }, index * 100);
    // Evicted by count: m0 (10 bytes) and m1 (20) went; m2, m3, m4 hold 30 + 40 + 50.
    expect(core.stats()).toMatchObject({ storedMessages: 3, storedBytes: 120 });
    // m2 was stored at 200: it expires at 700, m3 at 800, m4 at 900.
    core.tick(700);
    expect(core.stats()).toMatchObject({ storedMessages: 2, storedBytes: 90 });
    core.tick(900);
    expect(core.stats()).toMatchObject({ storedMessages: 0, storedBytes: 0 });
    // Room again for the whole bound.
    core.receive('a', { type: 'gossip', id: 'n0', topic: 't', origin: 'o', round: 1, payload: new Uint8Array(1_000) }, 1_000);
    expect(core.stats()).toMatchObject({ storedMessages: 1, storedBytes: 1_000 });
  });

  it('seen ids expire after seenTtlMs', () => {
    const core = plumtree(['a'], { seenTtlMs: 1_000, storeTtlMs: 500 });
    core.receive('a', gossip('m1'), 0);
    core.tick(999);
    expect(core.hasSeen('m1')).toBe(true);
    core.tick(1_000);
    expect(core.hasSeen('m1')).toBe(false);
  });

  it('IHAVE floods cannot grow the set of missing messages without bound', () => {
    const core = plumtree(['a'], { maxStoredMessages: 0 });
    const ids = Array.from({ length: 1024 }, (_, index) => `x${index}`);
    for (let batch = 0; batch < 3; batch += 1) core.receive('a', { type: 'ihave', ids: ids.map((id) => `${batch}-${id}`), rounds: ids.map(() => 1) }, 1);
    expect(core.missingIds().length).toBeLessThanOrEqual(1024);
    expect(core.stats().missingDropped).toBeGreaterThan(0);
  });

  it('anti-entropy: a digest of ids this node lacks leads to a GRAFT for them, and is answered with this node\'s digest', () => {
    const core = plumtree(['a'], { antiEntropyIntervalMs: 1_000, antiEntropyTopics: ['orders'] });
    const mine = core.broadcast('orders', 'local', 0);
    core.takeEffects();
    core.receive('a', { type: 'digest', ids: ['theirs', mine], reply: false }, 10);
    const answer = sent(core.takeEffects(), 'digest');
    expect(answer).toEqual([{ to: 'a', message: { type: 'digest', ids: [mine], reply: true } }]);
    core.tick(10);
    expect(sent(core.takeEffects(), 'graft')).toEqual([{ to: 'a', message: { type: 'graft', ids: ['theirs'] } }]);
  });

  it('an id a digest named carries no hop count: the copy the tree brings later does not rewire the tree (§3.8 compares hops)', () => {
    // A digest names what its sender stores, not how far it came. Announced as round 0, any copy
    // that came 4 hops or more was taken for a path 4 hops worse than the digest's sender's: it
    // was grafted and the eager parent pruned, whatever the real paths were.
    const core = plumtree(['a', 'b', 'c'], { antiEntropyIntervalMs: 1_000, antiEntropyTopics: ['t'] });
    makeLazy(core, ['b', 'c']);
    core.receive('b', { type: 'ihave', ids: ['m1'], rounds: [5] }, 100);
    core.receive('c', { type: 'digest', ids: ['m1'], reply: true }, 101);
    core.takeEffects();
    core.receive('a', gossip('m1', 6), 102);
    const effects = core.takeEffects();
    expect(delivered(effects)).toEqual(['m1']);
    expect(sent(effects, 'graft')).toEqual([]);
    expect(sent(effects, 'prune')).toEqual([]);
    expect(core.eagerPeers()).toContain('a');
  });

  it('a neighbour that named an id in a digest and then announces it with IHAVE counts at the IHAVE\'s round (§3.8 compares hops)', () => {
    // One announcement is kept per neighbour: the digest's came first, with no hop count, and the
    // IHAVE that said how far the message had come was dropped as a repeat. A copy the tree
    // brought 5 hops later than that neighbour's then left the tree as it was.
    const core = plumtree(['a', 'b', 'c'], { antiEntropyIntervalMs: 1_000, antiEntropyTopics: ['t'] });
    makeLazy(core, ['b', 'c']);
    core.receive('b', { type: 'ihave', ids: ['m1'], rounds: [5] }, 100);
    core.receive('c', { type: 'digest', ids: ['m1'], reply: true }, 101);
    core.receive('c', { type: 'ihave', ids: ['m1'], rounds: [1] }, 102);
    core.takeEffects();
    core.receive('a', gossip('m1', 6), 103);
    const effects = core.takeEffects();
    expect(delivered(effects)).toEqual(['m1']);
    expect(sent(effects, 'graft')).toEqual([{ to: 'c', message: { type: 'graft', ids: [] } }]);
    expect(sent(effects, 'prune')).toEqual([{ to: 'a', message: { type: 'prune' } }]);
  });

  it('an IHAVE with a longer path than the same neighbour\'s earlier one keeps the shorter (§3.8)', () => {
    const core = plumtree(['a', 'b'], { antiEntropyIntervalMs: 1_000, antiEntropyTopics: ['t'] });
    makeLazy(core, ['b']);
    core.receive('b', { type: 'ihave', ids: ['m1'], rounds: [1] }, 100);
    core.receive('b', { type: 'ihave', ids: ['m1'], rounds: [9] }, 101);
    core.takeEffects();
    core.receive('a', gossip('m1', 6), 102);
    expect(sent(core.takeEffects(), 'graft')).toEqual([{ to: 'b', message: { type: 'graft', ids: [] } }]);
  });

  it('anti-entropy runs periodically only while there are messages of its topics', () => {
    const core = plumtree(['a'], { antiEntropyIntervalMs: 1_000, antiEntropyTopics: ['orders'] });
    core.broadcast('other', 'x', 0);
    expect(core.nextTick()).toBeGreaterThan(1_000);
    core.broadcast('orders', 'y', 0);
    core.takeEffects();
    core.tick(1_000);
    expect(sent(core.takeEffects(), 'digest')).toHaveLength(1);
  });
});
