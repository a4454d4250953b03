// Table tests of the pure leaf modules: the rate limiter, the bounded peer set, shuffle
// integration, view sizing, the φ detector and the size estimator.
import { describe, expect, it } from '@jest/globals';
import { createSeededRandom } from '@foundation/core';
import { MembershipConfigError } from '../errors/membership-config-error';
import { defaultLanConfig, defaultLocalConfig, isResolvedConfig, resolveConfig, sizeViews } from './config';
import { PeerSet } from './peer-set';
import { PhiAccrualDetector } from './phi-accrual';
import { RateLimiter } from './rate-limiter';
import { integrateShuffle } from './shuffle';
import { SizeEstimator } from './size-estimator';

describe('RateLimiter', () => {
  it('allows a burst, then one token per 1/rate seconds, per source', () => {
    const limiter = new RateLimiter(2, 3);
    const at = (now: number, source = 'a'): boolean => limiter.allow(source, now);
    expect([at(0), at(0), at(0), at(0)]).toEqual([true, true, true, false]);
    expect(at(0, 'b')).toBe(true);
    expect(at(499)).toBe(false);
    expect(at(500)).toBe(true);
    expect(at(10_000)).toBe(true);
  });

  it('tracks a bounded number of sources', () => {
    const limiter = new RateLimiter(1, 1, 8);
    for (let index = 0; index < 100; index += 1) limiter.allow(`s${index}`, index);
    expect(limiter.size).toBeLessThanOrEqual(8);
  });
});

describe('PeerSet', () => {
  it('never exceeds its capacity and removes in O(1) keeping the rest', () => {
    const set = new PeerSet(3);
    expect([set.add('a'), set.add('b'), set.add('c'), set.add('d'), set.add('a')]).toEqual([true, true, true, false, false]);
    expect(set.delete('a')).toBe(true);
    expect(set.toArray().sort()).toEqual(['b', 'c']);
    expect(set.delete('zz')).toBe(false);
  });

  it('random() honours exclusions and returns undefined when nothing is left', () => {
    const set = new PeerSet(5);
    set.add('a');
    set.add('b');
    const random = createSeededRandom(4);
    for (let index = 0; index < 20; index += 1) expect(set.random(random, 'a')).toBe('b');
    expect(set.random(random, 'a', 'b')).toBeUndefined();
  });

  // Model-based: every answer agrees with a plain Set doing the same steps, at view sizes and past them.
  it.each([5, 30, 64, 65, 200])('capacity %d: 5,000 random adds and deletes agree with a Set (seed 11)', (capacity) => {
    const random = createSeededRandom(11);
    const set = new PeerSet(capacity);
    const model = new Set<string>();
    const universe = Array.from({ length: capacity * 2 }, (_, index) => `n${index}@10.0.0.${index % 250}:4000`);
    const disagreements: string[] = [];
    for (let step = 0; step < 5_000; step += 1) {
      // A fresh string with the same characters: membership must not depend on identity.
      const peer = universe[random.int(0, universe.length)]!.split('').join('');
      if (random.bool(0.55)) {
        const expected = !model.has(peer) && model.size < capacity;
        if (set.add(peer) !== expected) disagreements.push(`add ${peer} at step ${step}`);
        if (expected) model.add(peer);
      } else {
        if (set.delete(peer) !== model.has(peer)) disagreements.push(`delete ${peer} at step ${step}`);
        model.delete(peer);
      }
      if (set.size !== model.size || set.has(peer) !== model.has(peer)) disagreements.push(`state after step ${step}`);
    }
    expect(disagreements).toEqual([]);
    expect(set.toArray().sort()).toEqual([...model].sort());
    const excluded = set.values()[0];
    if (excluded !== undefined) {
      for (let draw = 0; draw < 50; draw += 1) {
        const chosen = set.random(random, excluded);
        if (model.size > 1) expect(chosen !== undefined && chosen !== excluded && model.has(chosen)).toBe(true);
        else expect(chosen).toBeUndefined();
      }
      const sample = set.sample(random, 4, excluded);
      expect(sample).not.toContain(excluded);
      expect(new Set(sample).size).toBe(sample.length);
    }
    set.clear();
    expect([set.size, set.has(universe[0]!)]).toEqual([0, false]);
  });
});

describe('integrateShuffle', () => {
  it('skips itself and known peers; when full, evicts what it sent away before random entries', () => {
    const active = new PeerSet(2);
    active.add('act');
    const passive = new PeerSet(3);
    for (const peer of ['p1', 'p2', 'p3']) passive.add(peer);
    const added = integrateShuffle(['me', 'act', 'p1', 'n1', 'n2'], ['p2', 'p3'], { self: 'me', active, passive, random: createSeededRandom(1) });
    expect(added).toEqual(['n1', 'n2']);
    expect(passive.toArray().sort()).toEqual(['n1', 'n2', 'p1']);
  });
});

describe('sizeViews and the presets', () => {
  it.each([
    [10_000, 1, 6, 5, 30],
    [1_000, 1, 6, 4, 24],
    [100, 2, 6, 4, 24],
    [1, 1, 6, 1, 6],
  ])('n=%d c=%d k=%d: active %d, passive %d', (n, c, k, active, passive) => {
    expect(sizeViews(n, c, k)).toEqual({ activeViewSize: active, passiveViewSize: passive });
  });

  it('the defaults are the paper\'s (active 5, passive 30, ARWL 6, PRWL 3, ka 3, kp 4)', () => {
    const { hyparview } = defaultLanConfig();
    expect([hyparview.activeViewSize, hyparview.passiveViewSize, hyparview.activeRandomWalkLength, hyparview.passiveRandomWalkLength, hyparview.shuffleActiveCount, hyparview.shufflePassiveCount]).toEqual([5, 30, 6, 3, 3, 4]);
    const { topology } = defaultLanConfig();
    expect([topology.fullMeshBelow, topology.hyparviewUpTo, topology.cooldownMs]).toEqual([10, 1_000, 30_000]);
    expect([defaultLanConfig().plumtree.maxStoredBytes, defaultLocalConfig().plumtree.maxStoredBytes]).toEqual([64 * 1024 * 1024, 8 * 1024 * 1024]);
    expect([defaultLanConfig().seedRejoinIntervalMs, defaultLocalConfig().seedRejoinIntervalMs]).toEqual([30_000, 10_000]);
    // A peer gets a stored message at most once per graftRepeatMs, at most the anti-entropy interval (whose digests may lead to a second GRAFT).
    for (const { plumtree } of [defaultLanConfig(), defaultLocalConfig()]) {
      expect(plumtree.graftRepeatMs).toBeLessThanOrEqual(plumtree.antiEntropyIntervalMs);
      expect([plumtree.graftPayloadRatePerSecond, plumtree.graftPayloadBurst]).toEqual([1_000, 2_048]);
    }
    expect([defaultLanConfig().plumtree.graftRepeatMs, defaultLocalConfig().plumtree.graftRepeatMs]).toEqual([5_000, 1_000]);
  });

  it('rejects unknown, mistyped and inconsistent options with MembershipConfigError (5901)', () => {
    expect(() => resolveConfig({ hyparview: { activeViewSize: 0 } })).toThrow(MembershipConfigError);
    expect(() => resolveConfig({ hyparview: { passiveRandomWalkLength: 9 } })).toThrow(/passiveRandomWalkLength/);
    expect(() => resolveConfig({ hyparview: { joinRetryMs: 40_000 } })).toThrow(/hyparview.joinRetryMaxMs/);
    // Review finding: ids forgotten before their stored message were delivered a second time.
    expect(() => resolveConfig({ plumtree: { seenTtlMs: 1_000, storeTtlMs: 60_000 } })).toThrow(/plumtree.seenTtlMs/);
    expect(() => resolveConfig({ plumtree: { maxSeenIds: 100, maxStoredMessages: 4_096 } })).toThrow(/plumtree.maxSeenIds/);
    expect(() => resolveConfig({ hyparview: { connectTimeoutMs: -1 } })).toThrow(/hyparview.connectTimeoutMs/);
    expect(() => resolveConfig({ plumtree: { bogus: 1 } as never })).toThrow(/not a known option/);
    expect(() => resolveConfig({ plumtree: { maxStoredBytes: -1 } })).toThrow(/plumtree.maxStoredBytes/);
    expect(() => resolveConfig({ plumtree: { maxStoredBytes: 1.5 } })).toThrow(/plumtree.maxStoredBytes/);
    expect(() => resolveConfig({ seedRejoinIntervalMs: -1 })).toThrow(/seedRejoinIntervalMs/);
    expect(resolveConfig({ seedRejoinIntervalMs: 0 }).seedRejoinIntervalMs).toBe(0);
    expect(() => resolveConfig({ failureDetection: { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 50 } })).toThrow(/heartbeatTimeoutMs/);
    expect(() => resolveConfig({ topology: { mode: 'ring' as never } })).toThrow(/topology.mode/);
    expect(() => resolveConfig({ plumtree: { graftRepeatMs: -1 } })).toThrow(/plumtree.graftRepeatMs/);
    expect(() => resolveConfig({ plumtree: { graftPayloadBurst: 0 } })).toThrow(/plumtree.graftPayloadBurst/);
    expect(() => resolveConfig({ clientServer: { helloRatePerSecond: -1 } })).toThrow(/clientServer.helloRatePerSecond/);
    expect(() => resolveConfig({ clientServer: { helloBurst: 0 } })).toThrow(/clientServer.helloBurst/);
    expect(() => resolveConfig({ plumtree: { graftPayloadRatePerSecond: Number.NaN } })).toThrow(/plumtree.graftPayloadRatePerSecond/);
    try {
      resolveConfig({ joinTimeoutMs: -1 });
    } catch (error) {
      expect((error as MembershipConfigError).code).toBe(5901);
    }
    expect(resolveConfig(defaultLocalConfig()).hyparview.shuffleIntervalMs).toBe(1_000);
  });

  it('returns a frozen config that memberships can share, and copies what it is given', () => {
    const given = defaultLocalConfig();
    const resolved = resolveConfig(given);
    expect(resolved).not.toBe(given);
    expect(resolved.hyparview).not.toBe(given.hyparview);
    expect(isResolvedConfig(resolved)).toBe(true);
    expect(isResolvedConfig(given)).toBe(false);
    expect(isResolvedConfig(JSON.parse(JSON.stringify(resolved)))).toBe(false);
    for (const part of [resolved, resolved.hyparview, resolved.plumtree, resolved.plumtree.antiEntropyTopics, resolved.failureDetection, resolved.fullMesh, resolved.clientServer, resolved.topology]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    // Resolving a resolved config again gives an equal, separate one.
    const again = resolveConfig(resolved);
    expect(again).toEqual(resolved);
    expect(again).not.toBe(resolved);
    // The caller's object stays its own: changing it later changes nothing resolved.
    (given.hyparview as { activeViewSize: number }).activeViewSize = 9;
    expect(resolved.hyparview.activeViewSize).toBe(5);
  });
});

describe('PhiAccrualDetector', () => {
  it('stays low while heartbeats are regular and rises with silence', () => {
    const detector = new PhiAccrualDetector({ window: 100, minStdDeviationMs: 10, acceptablePauseMs: 0, firstIntervalMs: 100 });
    for (let now = 0; now <= 5_000; now += 100) detector.heartbeat(now);
    const at = (delay: number): number => detector.phi(5_000 + delay);
    expect(at(50)).toBeLessThan(1);
    expect(at(120)).toBeGreaterThan(at(100));
    expect(at(200)).toBeGreaterThan(8);
    expect(at(1_000)).toBe(Number.POSITIVE_INFINITY);
  });

  it('is 0 before any heartbeat', () => {
    expect(new PhiAccrualDetector({ window: 10, minStdDeviationMs: 10, acceptablePauseMs: 0, firstIntervalMs: 100 }).phi(1_000)).toBe(0);
  });
});

describe('SizeEstimator (extrema propagation)', () => {
  it('estimates the number of nodes within its standard error once minima have spread', () => {
    for (const n of [10, 100, 1_000]) {
      const estimators = Array.from({ length: n }, (_, index) => new SizeEstimator(64, createSeededRandom(index + 1)));
      for (const estimator of estimators) estimator.startRound(1, 0);
      // A complete exchange (as after diameter-many steps on a connected overlay).
      const minima = estimators[0]!.values();
      for (const estimator of estimators) {
        const values = estimator.values();
        for (let index = 0; index < values.length; index += 1) minima[index] = Math.min(minima[index]!, values[index]!);
      }
      for (const estimator of estimators) estimator.merge(1, minima, 1);
      const estimate = estimators[0]!.current();
      expect(Math.abs(estimate - n) / n).toBeLessThan(0.45);
      // A new round forgets the old minima and keeps the last estimate meanwhile.
      estimators[0]!.startRound(2, 2);
      expect(estimators[0]!.estimate()).toBeCloseTo(estimate, 6);
    }
  });

  it('ignores stale rounds and adopts newer ones', () => {
    const estimator = new SizeEstimator(4, createSeededRandom(1));
    estimator.startRound(5, 0);
    expect(estimator.merge(4, [0, 0, 0, 0], 1)).toBe(false);
    expect(estimator.merge(6, [0.001, 0.001, 0.001, 0.001], 1)).toBe(true);
    expect(estimator.round).toBe(6);
  });

  it.each([
    ['an earlier round', 4, [9, 9, 9, 9], true],
    ['a later round', 6, [9, 9, 9, 9], false],
    ['the same round, one minimum larger', 5, [0, 0, 0, 9], true],
    ['the same round, every minimum as small or smaller', 5, [0, 0, 0, 0], false],
    ['the wrong number of values', 4, [9], false],
  ] as const)('tells whether a figure lacks what it holds: %s', (_name, round, values, lacks) => {
    const estimator = new SizeEstimator(4, createSeededRandom(1));
    expect(estimator.lacks(5, [9, 9, 9, 9])).toBe(false);
    estimator.startRound(5, 0);
    expect(estimator.lacks(round, values)).toBe(lacks);
  });
});
