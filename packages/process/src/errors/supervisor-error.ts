import { PROCESS_ERROR_CODES } from './codes';
import { ProcessError } from './process-error';

export type SupervisorErrorKind =
  | 'invalid-spec'
  | 'duplicate-child'
  | 'unknown-child'
  | 'child-running'
  | 'child-restarting'
  | 'start-failed'
  | 'not-a-supervisor';

/** A supervisor request that cannot be honoured, or a child that failed to start. */
export class SupervisorError extends ProcessError {
  readonly kind: SupervisorErrorKind;
  readonly childId: string | undefined;

  constructor(kind: SupervisorErrorKind, message: string, options: { readonly childId?: string; readonly cause?: unknown } = {}) {
    super({
      type: `supervisor_${kind.replace(/-/g, '_')}`,
      code: PROCESS_ERROR_CODES.supervisor,
      message,
      category: kind === 'invalid-spec' ? 'config' : 'system',
      context: { kind, ...(options.childId === undefined ? {} : { childId: options.childId }) },
      cause: options.cause,
    });
    this.kind = kind;
    this.childId = options.childId;
  }
}
