import { describe, expect, it } from '@jest/globals';
import { createSimulation } from './simulation/simulation';
import { countTimers } from './timer-count';

describe('countTimers', () => {
  it('counts one-shot timers until they fire or are cancelled, and repeating ones until cancelled', () => {
    const simulation = createSimulation({ seed: 1 });
    const { clock, pending } = countTimers(simulation.clock);
    const fired: string[] = [];
    clock.setTimer(10, () => fired.push('once'));
    const cancelled = clock.setTimer(20, () => fired.push('cancelled'));
    const repeating = clock.setRepeatingTimer(5, () => fired.push('tick'));
    expect({ all: pending(), oneShot: pending('one-shot'), repeating: pending('repeating') }).toEqual({ all: 3, oneShot: 2, repeating: 1 });
    cancelled.cancel();
    cancelled.cancel();
    simulation.runFor(12);
    expect({ fired: [...fired].sort(), all: pending(), oneShot: pending('one-shot') }).toEqual({ fired: ['once', 'tick', 'tick'], all: 1, oneShot: 0 });
    repeating.cancel();
    expect(pending()).toBe(0);
  });
});
