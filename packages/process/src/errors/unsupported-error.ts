import { PROCESS_ERROR_CODES } from './codes';
import { ProcessError } from './process-error';

/** A request a process cannot serve: a call to a behavior without `handleCall`, spawn from a worker thread. */
export class UnsupportedError extends ProcessError {
  constructor(what: string) {
    super({
      type: 'unsupported',
      code: PROCESS_ERROR_CODES.unsupported,
      message: `unsupported: ${what}`,
      context: { what },
    });
  }
}
