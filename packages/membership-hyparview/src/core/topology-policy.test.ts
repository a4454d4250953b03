// Table tests of the topology decision: size thresholds with hysteresis, and health signals.
import { describe, expect, it } from '@jest/globals';
import { defaultLanConfig } from './config';
import type { TopologyConfig, TopologyMode } from './config';
import { TopologyPolicy, modeForSize, sparser } from './topology-policy';
import type { TopologyDecision } from './topology-policy';

const config = defaultLanConfig().topology;

describe('modeForSize (Foundation 2.0 design: full mesh under 10, HyParView to 1,000, client-server beyond)', () => {
  it.each<[number, TopologyMode, TopologyMode]>([
    [1, 'full-mesh', 'full-mesh'],
    [9, 'full-mesh', 'full-mesh'],
    [10, 'full-mesh', 'hyparview'],
    [1_000, 'hyparview', 'hyparview'],
    [1_001, 'hyparview', 'client-server'],
    [5_000, 'full-mesh', 'client-server'],
    // Hysteresis: down only 10% below a threshold.
    [9, 'hyparview', 'hyparview'],
    [8, 'hyparview', 'full-mesh'],
    [950, 'client-server', 'client-server'],
    [900, 'client-server', 'hyparview'],
  ])('%d nodes, running %s → %s', (size, current, expected) => {
    expect(modeForSize(size, current, config)).toBe(expected);
  });

  it('sparser goes full mesh → HyParView → client-server', () => {
    expect([sparser('full-mesh'), sparser('hyparview'), sparser('client-server')]).toEqual(['hyparview', 'client-server', 'client-server']);
  });
});

describe('TopologyPolicy', () => {
  it('switches on size alone when healthy', () => {
    const policy = new TopologyPolicy(config);
    expect(policy.decide('full-mesh', 5, 0)).toBeUndefined();
    expect(policy.decide('full-mesh', 40, 0)).toEqual({ mode: 'hyparview', reason: 'size' });
  });

  it('sustained latency above 100 ms for a whole window moves one step sparser; a short spike does not', () => {
    const policy = new TopologyPolicy({ ...config, healthWindowMs: 10_000 });
    for (let now = 0; now <= 5_000; now += 1_000) policy.recordLatency(250, now);
    expect(policy.decide('full-mesh', 5, 5_000)).toBeUndefined();
    for (let now = 6_000; now <= 16_000; now += 1_000) policy.recordLatency(250, now);
    expect(policy.decide('full-mesh', 5, 16_000)).toEqual({ mode: 'hyparview', reason: 'latency' });
    const calm = new TopologyPolicy({ ...config, healthWindowMs: 10_000 });
    for (let now = 0; now <= 20_000; now += 1_000) calm.recordLatency(now % 5_000 === 0 ? 500 : 20, now);
    expect(calm.decide('full-mesh', 5, 20_000)).toBeUndefined();
  });

  it('sustained bandwidth use above 80% moves one step sparser', () => {
    const policy = new TopologyPolicy({ ...config, healthWindowMs: 1_000 });
    for (let now = 0; now <= 3_000; now += 250) {
      policy.recordBandwidth(0.95, now);
      policy.decide('hyparview', 100, now);
    }
    expect(policy.decide('hyparview', 100, 3_000)).toEqual({ mode: 'client-server', reason: 'bandwidth' });
  });

  it('more than 5 partition events in the window keep (or bring) the cluster out of client-server', () => {
    const policy = new TopologyPolicy({ ...config, healthWindowMs: 10_000 });
    for (let index = 0; index < 6; index += 1) policy.recordPartitionEvent(1_000 + index);
    expect(policy.decide('client-server', 5_000, 2_000)).toEqual({ mode: 'hyparview', reason: 'partitions' });
    expect(policy.decide('hyparview', 5_000, 2_000)).toBeUndefined();
    // Events age out of the window.
    expect(policy.decide('hyparview', 5_000, 20_000)).toEqual({ mode: 'client-server', reason: 'size' });
    expect(policy.health(20_000).partitionEvents).toBe(0);
  });

  /**
   * The driver's loop (`evaluate` in driver/membership.ts): a heartbeat round trip each second,
   * an evaluation every `evaluateIntervalMs` that is skipped within `cooldownMs` of the last
   * switch, and a switch resets the policy. Returns the switches made in [from, until).
   */
  function drive(
    policy: TopologyPolicy,
    topology: TopologyConfig,
    state: { mode: TopologyMode; lastSwitchAt: number | undefined },
    size: number,
    roundTripAt: (now: number) => number,
    from: number,
    until: number,
  ): (TopologyDecision & { at: number })[] {
    const switches: (TopologyDecision & { at: number })[] = [];
    for (let now = from; now < until; now += 1_000) {
      policy.recordLatency(roundTripAt(now), now);
      if (now % topology.evaluateIntervalMs !== 0) continue;
      if (state.lastSwitchAt !== undefined && now - state.lastSwitchAt < topology.cooldownMs) continue;
      const decision = policy.decide(state.mode, size, now);
      if (decision === undefined) continue;
      switches.push({ ...decision, at: now });
      state.mode = decision.mode;
      state.lastSwitchAt = now;
      policy.reset();
    }
    return switches;
  }

  it('settles under sustained high latency (a slow network, not a partition) instead of switching back every cooldown; returns once latency recovers', () => {
    // LAN defaults: 100 ms threshold, 30 s window, 30 s cooldown, an evaluation every 5 s.
    const policy = new TopologyPolicy(config);
    const state: { mode: TopologyMode; lastSwitchAt: number | undefined } = { mode: 'full-mesh', lastSwitchAt: undefined };
    // Ten minutes at 250 ms in a 5-node cluster (a full mesh by size). Each step sparser is
    // taken once, for latency, and nothing is undone while the latency stays high: before, the
    // size rule took the cluster back to a full mesh after every cooldown (fresh samples are not
    // yet "sustained"), and latency took it out again a window later: 13 switches here.
    const slow = drive(policy, config, state, 5, () => 250, 0, 600_000);
    expect(slow.map(({ mode, reason }) => `${mode} (${reason})`)).toEqual(['hyparview (latency)', 'client-server (latency)']);
    expect(slow.at(-1)!.at).toBeLessThan(180_000);
    // A dip to the threshold (100 ms is not above it) is not a recovery: hysteresis wants 90 ms.
    expect(drive(policy, config, state, 5, () => 100, 600_000, 900_000)).toEqual([]);
    // Healthy again (20 ms): back to what the size calls for, once, after a whole healthy window.
    const healthy = drive(policy, config, state, 5, () => 20, 900_000, 1_500_000);
    expect(healthy.map(({ mode, reason }) => `${mode} (${reason})`)).toEqual(['full-mesh (size)']);
    expect(healthy[0]!.at).toBeLessThanOrEqual(900_000 + 2 * config.healthWindowMs);
  });

  it('while latency is high, a size that calls for a denser topology waits; a growing cluster still goes sparser, and partitions still leave client-server', () => {
    const policy = new TopologyPolicy({ ...config, healthWindowMs: 10_000 });
    for (let now = 0; now <= 5_000; now += 1_000) policy.recordLatency(250, now);
    // 500 nodes call for HyParView, but the round trips measured are above the threshold.
    expect(policy.decide('client-server', 500, 5_000)).toBeUndefined();
    expect(policy.decide('hyparview', 5_000, 5_000)).toEqual({ mode: 'client-server', reason: 'size' });
    for (let index = 0; index < 6; index += 1) policy.recordPartitionEvent(5_000 + index);
    expect(policy.decide('client-server', 500, 6_000)).toEqual({ mode: 'hyparview', reason: 'partitions' });
  });

  it('a short latency spike does not hold back a size-driven move for long: one healthy window clears it', () => {
    const policy = new TopologyPolicy({ ...config, healthWindowMs: 10_000 });
    for (let now = 0; now <= 3_000; now += 1_000) policy.recordLatency(250, now);
    expect(policy.decide('hyparview', 5, 3_000)).toBeUndefined();
    for (let now = 4_000; now <= 40_000; now += 1_000) {
      policy.recordLatency(20, now);
      if (now < 40_000) policy.decide('hyparview', 5, now);
    }
    expect(policy.decide('hyparview', 5, 40_000)).toEqual({ mode: 'full-mesh', reason: 'size' });
  });
});
