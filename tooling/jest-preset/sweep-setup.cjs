// Loaded only by tooling/scripts/sweep-seeds.mjs (through --setupFilesAfterEnv): runs the same
// tests under other seeds than the fixed ones they carry, to find what those seeds never reach.
//   SWEEP_FC_SEED=N      every fc.assert / fc.check gets a seed derived from N (and no replay
//                        path), and SWEEP_FC_FACTOR times its number of runs (default 5)
//   SWEEP_SIM_OFFSET=N   every createSimulation seed is moved by N, consistently, so tests that
//                        compare two runs of one seed still compare like with like
// Tests that assert the seed itself, or an outcome only one seed produces, fail under it; such a
// failure is read, not counted as a finding.
'use strict';
/* global jest */

if (process.env.SWEEP_FC_SEED !== undefined) {
  jest.mock('fast-check', () => {
    const actual = jest.requireActual('fast-check');
    const base = Number(process.env.SWEEP_FC_SEED);
    const factor = Number(process.env.SWEEP_FC_FACTOR ?? 5);
    let call = 0;
    const swept = (run) => (property, parameters = {}) => {
      call += 1;
      const seed = (base * 7919 + call * 104729) | 0;
      const numRuns = Math.max(1, Math.round((parameters.numRuns ?? 100) * factor));
      return run(property, { ...parameters, seed, numRuns, path: undefined });
    };
    return { ...actual, assert: swept(actual.assert), check: swept(actual.check) };
  });
}

if (process.env.SWEEP_SIM_OFFSET !== undefined) {
  jest.mock('@foundation/testkit', () => {
    const actual = jest.requireActual('@foundation/testkit');
    const offset = Number(process.env.SWEEP_SIM_OFFSET);
    const createSimulation = (options = {}) => {
      const seed = options.seed;
      const moved = typeof seed === 'number' ? seed + offset * 1_000_003 : `${seed ?? 'default'}:${offset}`;
      return actual.createSimulation({ ...options, seed: moved });
    };
    return { ...actual, createSimulation };
  });
}
