import { FoundationError } from '@foundation/core';

/** Codes of @foundation/testkit (range 5100–5199). */
export const SIMULATION_ERROR_CODES = Object.freeze({
  /** The simulation was used in a way it does not support: unknown node, negative delay... */
  misuse: 5101,
  /** `runUntil` reached its time budget, or `run` its event budget, before finishing. */
  budgetExceeded: 5102,
  /** Code running inside the simulation threw; the cause is the original error. */
  handlerFailed: 5103,
  /** An invariant registered with `addInvariant` did not hold. */
  invariantViolated: 5104,
  /** Two runs of the same seed produced different traces. */
  nondeterministic: 5105,
  /** A history given to the linearizability checker is malformed. */
  malformedHistory: 5106,
});

export type SimulationErrorKind = keyof typeof SIMULATION_ERROR_CODES;

export interface SimulationErrorOptions {
  readonly kind: SimulationErrorKind;
  readonly message: string;
  readonly seed?: number | string | undefined;
  readonly time?: number | undefined;
  readonly context?: Readonly<Record<string, unknown>>;
  readonly cause?: unknown;
}

/**
 * An error from the simulation. When it comes from a seeded run its message ends with
 * `seed=...` so the failing run can be replayed exactly.
 */
export class SimulationError extends FoundationError {
  readonly kind: SimulationErrorKind;
  readonly seed: number | string | undefined;
  readonly simulatedTime: number | undefined;

  constructor(options: SimulationErrorOptions) {
    const where = [
      options.time === undefined ? undefined : `t=${options.time}ms`,
      options.seed === undefined ? undefined : `seed=${String(options.seed)}`,
    ].filter((part) => part !== undefined);
    super({
      type: `simulation_${options.kind.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)}`,
      code: SIMULATION_ERROR_CODES[options.kind],
      category: 'system',
      severity: 'high',
      retryStrategy: 'no_retry',
      message: where.length === 0 ? options.message : `${options.message} (${where.join(', ')})`,
      context: { ...options.context, seed: options.seed, time: options.time },
      cause: options.cause,
    });
    this.kind = options.kind;
    this.seed = options.seed;
    this.simulatedTime = options.time;
  }
}
