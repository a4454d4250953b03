import { PROCESS_ERROR_CODES } from './codes';
import { ProcessError } from './process-error';

/** A pid that does not validate: from the wire, from text, or built with bad fields. */
export class InvalidPidError extends ProcessError {
  constructor(reason: string, options: { readonly cause?: unknown } = {}) {
    super({
      type: 'invalid_pid',
      code: PROCESS_ERROR_CODES.invalidPid,
      message: `invalid pid: ${reason}`,
      category: 'data',
      context: { reason },
      cause: options.cause,
    });
  }
}
