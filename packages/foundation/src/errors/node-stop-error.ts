import { FoundationError } from '@foundation/core';
import { FOUNDATION_ERROR_CODES } from './codes';

/** One step of a node's stop() that failed: which one, and what it threw. */
export interface StopStepFailure {
  readonly step: string;
  readonly error: unknown;
}

/**
 * A node's stop() ran every step, and one or more of them failed. `failures` holds each, in the
 * order they ran; `cause` is the first. The other steps ran all the same (a failure stopped
 * none of the rest), so the node is stopped: its port, data directory and stores are let go.
 */
export class NodeStopError extends FoundationError {
  constructor(
    readonly node: string,
    readonly failures: readonly StopStepFailure[],
  ) {
    const described = failures.map(({ step, error }) => `${step} (${error instanceof Error ? error.message : String(error)})`);
    super({
      type: 'node_stop_failed',
      code: FOUNDATION_ERROR_CODES.nodeStopFailed,
      category: 'system',
      message: `stop of ${node}: ${failures.length === 1 ? 'a step' : `${failures.length} steps`} failed, the others ran: ${described.join(', ')}`,
      context: { node, steps: failures.map(({ step }) => step) },
      cause: failures[0]?.error,
    });
  }
}
