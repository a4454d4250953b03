import { PROCESS_ERROR_CODES } from './codes';
import { ProcessError } from './process-error';

/** `noproc`: the target does not exist. Calls to a dead pid or an unregistered name fail with it. */
export class NoProcessError extends ProcessError {
  readonly target: string;

  constructor(target: string, options: { readonly cause?: unknown } = {}) {
    super({
      type: 'noproc',
      code: PROCESS_ERROR_CODES.noProcess,
      message: `no process ${target}`,
      severity: 'low',
      context: { target },
      cause: options.cause,
    });
    this.target = target;
  }
}
