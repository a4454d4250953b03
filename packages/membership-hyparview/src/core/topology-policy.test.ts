// Table tests of the topology decision: size thresholds with hysteresis, and health signals.
import { describe, expect, it } from '@jest/globals';
import { defaultLanConfig } from './config';
import type { TopologyMode } from './config';
import { TopologyPolicy, modeForSize, sparser } from './topology-policy';

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
});
