import { FoundationError } from '@foundation/core';
import type { NodeStopError } from './node-stop-error';
import { FOUNDATION_ERROR_CODES } from './codes';

/**
 * A `startNode` whose caller aborted it (`signal`), and whose clean-up of what it had started
 * then failed too. The abort's reason is its `cause`, as the caller gave it: the reason is the
 * caller's object, so the clean-up's failures go here, as `cleanupError`, rather than onto it.
 * An aborted start whose clean-up succeeds rejects with the reason itself.
 */
export class StartAbortedError extends FoundationError {
  constructor(
    readonly node: string,
    reason: unknown,
    /** The clean-up's failed steps (`failures`, the first also as `cause`); the other steps ran. */
    readonly cleanupError: NodeStopError,
  ) {
    super({
      type: 'node_start_aborted',
      code: FOUNDATION_ERROR_CODES.startAborted,
      category: 'system',
      message: `start of ${node}: aborted by its signal, and stopping what it had started failed: ${cleanupError.message}`,
      context: { node, steps: cleanupError.failures.map(({ step }) => step) },
      cause: reason,
    });
  }
}
