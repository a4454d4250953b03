import { PROCESS_ERROR_CODES } from './codes';
import { ProcessError } from './process-error';

/** A signal from another node (or a worker thread) that does not validate; it is dropped. */
export class MalformedSignalError extends ProcessError {
  readonly fromNode: string;

  constructor(fromNode: string, reason: string, options: { readonly cause?: unknown } = {}) {
    super({
      type: 'malformed_signal',
      code: PROCESS_ERROR_CODES.malformedSignal,
      message: `malformed signal from ${fromNode}: ${reason}`,
      category: 'data',
      context: { fromNode: fromNode.slice(0, 300), reason },
      cause: options.cause,
    });
    this.fromNode = fromNode;
  }
}
