import { PROCESS_ERROR_CODES } from './codes';
import { ProcessError } from './process-error';

/**
 * The exit reason of a thread-isolated process whose worker thread died: an uncaught error,
 * running out of memory (`resourceLimits`), or an unexpected exit. The worker's error is the cause.
 */
export class WorkerCrashedError extends ProcessError {
  readonly threadId: number;
  readonly exitCode: number | undefined;

  constructor(threadId: number, detail: string, options: { readonly cause?: unknown; readonly exitCode?: number } = {}) {
    super({
      type: 'worker_crashed',
      code: PROCESS_ERROR_CODES.workerCrashed,
      message: `worker thread ${threadId} crashed: ${detail}`,
      severity: 'high',
      context: { threadId, detail, ...(options.exitCode === undefined ? {} : { exitCode: options.exitCode }) },
      cause: options.cause,
    });
    this.threadId = threadId;
    this.exitCode = options.exitCode;
  }
}
