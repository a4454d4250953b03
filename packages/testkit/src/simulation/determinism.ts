import type { Seed } from '@foundation/core';
import { SimulationError } from '../errors/simulation-error';
import { createSimulation } from './simulation';
import type { Simulation, SimulationOptions, TraceCheckpoint } from './types';

export interface DeterminismReport {
  readonly seed: Seed;
  /** The trace hash both runs produced. */
  readonly hash: string;
  readonly events: number;
  readonly time: number;
}

export type Scenario = (simulation: Simulation) => void | Promise<void>;

interface RunOutcome {
  readonly hash: string;
  readonly events: number;
  readonly time: number;
  readonly checkpoints: readonly TraceCheckpoint[];
}

async function runOnce(seed: Seed, scenario: Scenario, options: Omit<SimulationOptions, 'seed'>): Promise<RunOutcome> {
  const simulation = createSimulation({ ...options, seed });
  await scenario(simulation);
  const { events, time } = simulation.stats();
  return { hash: simulation.traceHash(), events, time, checkpoints: [...simulation.traceCheckpoints()] };
}

function firstDivergence(first: RunOutcome, second: RunOutcome): string {
  const shared = Math.min(first.checkpoints.length, second.checkpoints.length);
  let previous = 0;
  for (let index = 0; index < shared; index += 1) {
    const a = first.checkpoints[index]!;
    const b = second.checkpoints[index]!;
    if (a.hash !== b.hash || a.time !== b.time) {
      return `the traces diverge between event ${previous} and event ${a.events} (around t=${Math.min(a.time, b.time)}ms)`;
    }
    previous = a.events;
  }
  return `the traces agree for the first ${previous} events and diverge after (runs ended at ${first.events} and ${second.events} events)`;
}

/**
 * Runs `scenario` twice on fresh simulations with the same seed and throws a SimulationError
 * (kind `nondeterministic`, naming the seed and where the traces part) if they differ. A
 * scenario that reads the real clock, real randomness or iterates in an unstable order fails.
 */
export async function checkDeterminism(
  seed: Seed,
  scenario: Scenario,
  options: Omit<SimulationOptions, 'seed'> = {},
): Promise<DeterminismReport> {
  const first = await runOnce(seed, scenario, options);
  const second = await runOnce(seed, scenario, options);
  if (first.hash !== second.hash || first.events !== second.events || first.time !== second.time) {
    throw new SimulationError({
      kind: 'nondeterministic',
      message: `two runs of the same seed differ: ${firstDivergence(first, second)}; hashes ${first.hash} and ${second.hash}`,
      seed,
      context: { firstHash: first.hash, secondHash: second.hash, firstEvents: first.events, secondEvents: second.events },
    });
  }
  return { seed, hash: first.hash, events: first.events, time: first.time };
}

/**
 * The seed for a test run: `FOUNDATION_SEED` from the environment when set (to replay a
 * reported failure), otherwise `fallback`.
 */
export function seedFromEnvironment(fallback: Seed, environment: NodeJS.ProcessEnv = process.env): Seed {
  const raw = environment.FOUNDATION_SEED;
  if (raw === undefined || raw === '') return fallback;
  return /^\d+$/.test(raw) && Number.isSafeInteger(Number(raw)) ? Number(raw) : raw;
}
