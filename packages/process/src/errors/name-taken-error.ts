import { PROCESS_ERROR_CODES } from './codes';
import { ProcessError } from './process-error';

/** `register` of a name held by another live process, or of a process that already has a name. */
export class NameTakenError extends ProcessError {
  readonly registeredName: string;
  readonly holder: string;

  constructor(registeredName: string, holder: string, detail: 'name-taken' | 'already-named') {
    super({
      type: 'name_taken',
      code: PROCESS_ERROR_CODES.nameTaken,
      message:
        detail === 'name-taken'
          ? `the name "${registeredName}" is registered to ${holder}`
          : `${holder} is already registered as "${registeredName}"`,
      context: { name: registeredName, holder, detail },
    });
    this.registeredName = registeredName;
    this.holder = holder;
  }
}
