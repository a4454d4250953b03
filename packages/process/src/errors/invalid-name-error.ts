import { PROCESS_ERROR_CODES } from './codes';
import { ProcessError } from './process-error';

/** A process name that does not validate (empty, too long, control characters, not a string). */
export class InvalidNameError extends ProcessError {
  constructor(reason: string) {
    super({
      type: 'invalid_name',
      code: PROCESS_ERROR_CODES.invalidName,
      message: `invalid process name: ${reason}`,
      category: 'data',
      context: { reason },
    });
  }
}
