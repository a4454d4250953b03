import { PROCESS_ERROR_CODES } from './codes';
import { ProcessError } from './process-error';

/** An option that is out of range or of the wrong type. */
export class InvalidOptionError extends ProcessError {
  readonly option: string;

  constructor(option: string, reason: string) {
    super({
      type: 'invalid_option',
      code: PROCESS_ERROR_CODES.invalidOption,
      message: `invalid option ${option}: ${reason}`,
      category: 'config',
      context: { option, reason },
    });
    this.option = option;
  }
}
