import { FoundationError } from '@foundation/core';
import { REGISTRY_ERROR_CODES } from './registry-error-codes';

/** Where the name is held: by this node, by another node (as the CRDT shows it), or through consensus. */
export type HolderScope = 'local' | 'cluster' | 'global';

/**
 * 1.x `{:already_registered, pid}` (code 5601): the name is registered as unique (or as a group,
 * when a unique registration was asked for) and cannot be taken. `holder` is the target that
 * holds it, as 1.x returned the pid.
 */
export class AlreadyRegisteredError extends FoundationError {
  readonly serviceName: string;
  readonly holder: unknown;
  readonly holderNode: string;
  readonly scope: HolderScope;

  constructor(serviceName: string, holder: unknown, holderNode: string, scope: HolderScope) {
    super({
      type: 'already_registered',
      code: REGISTRY_ERROR_CODES.alreadyRegistered,
      category: 'data',
      severity: 'low',
      message: `"${serviceName}" is already registered (${scope}, on node "${holderNode}")`,
      context: { name: serviceName, holderNode, scope },
    });
    this.serviceName = serviceName;
    this.holder = holder;
    this.holderNode = holderNode;
    this.scope = scope;
  }
}
