import { PROCESS_ERROR_CODES } from './codes';
import { ProcessError } from './process-error';

/** The runtime is shutting down or has stopped: it spawns nothing and calls fail with this. */
export class RuntimeStoppedError extends ProcessError {
  constructor(nodeId: string, operation: string) {
    super({
      type: 'runtime_stopped',
      code: PROCESS_ERROR_CODES.runtimeStopped,
      message: `runtime ${nodeId} is stopped; cannot ${operation}`,
      context: { nodeId, operation },
    });
  }
}
