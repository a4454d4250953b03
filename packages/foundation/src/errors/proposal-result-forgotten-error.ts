import { FoundationError } from '@foundation/core';
import { FOUNDATION_ERROR_CODES } from './codes';

/**
 * A proposal that the cluster applied once already, whose result it no longer keeps: a copy of it
 * (a retry after the link to the leader dropped) reached the log after the state machine dropped
 * the first copy's result to keep its memory bounded (more than MAX_RESULTS_PER_PROPOSER later
 * proposals of this node answered, or proposals of MAX_PROPOSERS other nodes applied, while the
 * retry was on its way). The copy, at log index `index`, was not applied. Rarely the first copy
 * was never applied either: past MAX_FORGOTTEN_RANGES ranges of dropped numbers per proposer the
 * lowest two join, and a number in the gap between them is refused all the same (refused, never
 * applied twice).
 * Not retryable: proposing the command again would apply it twice. Read the state back to know
 * what it did.
 */
export class ProposalResultForgottenError extends FoundationError {
  constructor(
    readonly stream: string,
    readonly index: number,
  ) {
    super({
      type: 'proposal_result_forgotten',
      code: FOUNDATION_ERROR_CODES.proposalResultForgotten,
      category: 'system',
      retryStrategy: 'no_retry',
      message: `a proposal on stream ${stream} was most likely applied once already, and the cluster no longer keeps its result (its retried copy, at log index ${index}, was not applied); read the state back to know whether and what it did`,
      context: { stream, index },
    });
  }
}
