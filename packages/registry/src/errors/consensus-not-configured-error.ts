import { FoundationError } from '@foundation/core';
import { REGISTRY_ERROR_CODES } from './registry-error-codes';

/** Code 5606: `registerGlobal` and friends need a `ConsensusLog`, and none was given. */
export class ConsensusNotConfiguredError extends FoundationError {
  constructor(operation: string) {
    super({
      type: 'consensus_not_configured',
      code: REGISTRY_ERROR_CODES.consensusNotConfigured,
      category: 'config',
      message: `${operation} needs a consensus log: pass consensusLog to createRegistry`,
      context: { operation },
    });
  }
}
