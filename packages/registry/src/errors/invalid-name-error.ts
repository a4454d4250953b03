import { FoundationError } from '@foundation/core';
import { REGISTRY_ERROR_CODES } from './registry-error-codes';

/** What kind of name was refused. */
export type NameKind = 'service name' | 'capability' | 'namespace' | 'service type' | 'node id' | 'zone' | 'metadata key';

/** 1.x `invalid_input` (3204): a name, capability, namespace, service type or node id that breaks the naming rules. */
export class InvalidNameError extends FoundationError {
  readonly kind: NameKind;
  readonly reason: string;

  constructor(kind: NameKind, value: unknown, reason: string) {
    const shown = typeof value === 'string' ? JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value) : typeof value;
    super({
      type: 'invalid_input',
      code: REGISTRY_ERROR_CODES.invalidInput,
      message: `invalid ${kind} ${shown}: ${reason}`,
      context: { kind, reason },
    });
    this.kind = kind;
    this.reason = reason;
  }
}
