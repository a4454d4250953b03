import { PROCESS_ERROR_CODES } from './codes';
import { ProcessError } from './process-error';
import { describeReason, errorOf } from './describe-reason';

/** The called process exited before it replied; `reason` is its exit reason. */
export class CallExitedError extends ProcessError {
  readonly target: string;
  readonly reason: unknown;

  constructor(target: string, reason: unknown) {
    super({
      type: 'call_exited',
      code: PROCESS_ERROR_CODES.callExited,
      message: `${target} exited before replying: ${describeReason(reason)}`,
      context: { target, reason: describeReason(reason) },
      cause: errorOf(reason),
    });
    this.target = target;
    this.reason = reason;
  }
}
