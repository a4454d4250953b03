// The steps that take a node down, in stop() and in the clean-up after a failed start. Each step
// runs whatever the others did: a step that failed (Raft's files failing to close, say) ended the
// rest, and the node kept its port, its data directory and its stores for as long as the process
// lived. What failed is collected instead, for the caller to report.
import type { StopStepFailure } from '../errors/node-stop-error';

export interface StepRunner {
  /** Runs `action` as the step `name`; what it throws is kept in `failures`, never thrown. */
  run(name: string, action: () => unknown): Promise<void>;
  /**
   * Runs steps that do not depend on one another at once, and settles when all of them have.
   * Their failures are kept in the order the steps are given, whichever failed first.
   */
  runTogether(steps: Iterable<readonly [name: string, action: () => unknown]>): Promise<void>;
  /** The steps that failed, in the order they were run. */
  readonly failures: readonly StopStepFailure[];
}

export function createStepRunner(): StepRunner {
  const failures: StopStepFailure[] = [];
  // The failure of one step, or null; a step that throws before returning a promise counts too.
  const attempt = async (name: string, action: () => unknown): Promise<StopStepFailure | null> => {
    try {
      await action();
      return null;
    } catch (error) {
      return { step: name, error };
    }
  };
  return {
    failures,
    async run(name, action) {
      const failure = await attempt(name, action);
      if (failure !== null) failures.push(failure);
    },
    async runTogether(steps) {
      const outcomes = await Promise.all([...steps].map(([name, action]) => attempt(name, action)));
      for (const failure of outcomes) if (failure !== null) failures.push(failure);
    },
  };
}
