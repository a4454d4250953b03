import { describe, expect, it } from '@jest/globals';
import { SIMULATION_ERROR_CODES, SimulationError } from '../errors/simulation-error';
import { installRumorGossip } from '../internal/rumor-gossip';
import { checkDeterminism, seedFromEnvironment } from './determinism';
import { createSimulation } from './simulation';
import type { Simulation } from './types';

const SEED = seedFromEnvironment(20261128);

function gossipScenario(simulation: Simulation): void {
  simulation.network.configure({ latency: { mean: 4, min: 1 }, dropRate: 0.01, duplicateRate: 0.01, reorderRate: 0.05 });
  const gossip = installRumorGossip(simulation, { nodes: 1000 });
  simulation.schedule(300, () => simulation.network.partition([gossip.ids.slice(0, 300), gossip.ids.slice(300)]));
  simulation.schedule(600, () => simulation.network.heal());
  for (let index = 1; index <= 20; index += 1) simulation.schedule(100 + index * 37, () => simulation.crash(`n${index * 13}`));
  simulation.runFor(1500);
  simulation.record('informed', gossip.informed(gossip.latestVersion() - 2));
}

describe('checkDeterminism', () => {
  it(`passes for a 1,000-node gossip scenario with faults (seed=${String(SEED)})`, async () => {
    const report = await checkDeterminism(SEED, gossipScenario);
    expect(report.events).toBeGreaterThan(20_000);
    expect(report.hash).toMatch(/^[0-9a-f]{16}$/);
    const otherSeed = await checkDeterminism(typeof SEED === 'number' ? SEED + 1 : `${SEED}+1`, gossipScenario);
    expect(otherSeed.hash).not.toBe(report.hash);
  });

  it('the trace hash tells apart runs whose messages differ only in their headers', () => {
    const hashWith = (traceparent: string): string => {
      const simulation = createSimulation({ seed: 3 });
      for (const id of ['a', 'b']) simulation.addNode(id, { start: ({ transport }) => void transport.onMessage('m', () => undefined) });
      simulation.node('a').transport.send('b', 'm', 'same payload', { headers: { traceparent } });
      simulation.run();
      return simulation.traceHash();
    };
    expect(hashWith('00-aaaa-01')).toBe(hashWith('00-aaaa-01'));
    expect(hashWith('00-aaaa-01')).not.toBe(hashWith('00-bbbb-01'));
  });

  it('the gossip actually spreads: nearly every live node learns an old rumor', () => {
    const simulation = createSimulation({ seed: SEED });
    const gossip = installRumorGossip(simulation, { nodes: 1000 });
    simulation.runFor(3000);
    expect(gossip.informed(gossip.latestVersion() - 5)).toBeGreaterThanOrEqual(990);
  });

  it('fails for a scenario that reads the real clock, naming the seed', async () => {
    const readsRealClock = (simulation: Simulation): void => {
      for (let index = 0; index < 20; index += 1) {
        simulation.addNode(`n${index}`, {
          start: ({ clock, transport }) => {
            transport.onMessage('t', () => undefined);
            clock.setRepeatingTimer(10, () => transport.send(`n${(index + 1) % 20}`, 't', performance.now()));
          },
        });
      }
      simulation.runFor(2000);
    };
    const failure = await checkDeterminism(7, readsRealClock).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(SimulationError);
    const error = failure as SimulationError;
    expect(error.code).toBe(SIMULATION_ERROR_CODES.nondeterministic);
    expect(error.message).toMatch(/diverge between event \d+ and event \d+/);
    expect(error.message).toContain('seed=7');
  });

  it('fails when real time changes which events happen, not only their payloads', async () => {
    const branchesOnRealTime = (simulation: Simulation): void => {
      simulation.addNode('a', {
        start: ({ clock }) => {
          clock.setRepeatingTimer(1, () => {
            if (Math.floor(performance.now() * 1000) % 2 === 0) clock.setTimer(0.5, () => undefined);
          });
        },
      });
      simulation.runFor(200);
    };
    await expect(checkDeterminism(3, branchesOnRealTime)).rejects.toThrow(/two runs of the same seed differ/);
  });
});

describe('seedFromEnvironment', () => {
  it('prefers FOUNDATION_SEED and keeps numbers numeric', () => {
    expect(seedFromEnvironment(5, {})).toBe(5);
    expect(seedFromEnvironment(5, { FOUNDATION_SEED: '42' })).toBe(42);
    expect(seedFromEnvironment(5, { FOUNDATION_SEED: 'nightly-3' })).toBe('nightly-3');
  });
});
