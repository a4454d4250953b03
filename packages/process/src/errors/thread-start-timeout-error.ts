import { PROCESS_ERROR_CODES } from './codes';
import { ProcessError } from './process-error';

/**
 * The exit reason of a thread-isolated process whose worker did not report it started (or
 * failed to) within `threads.startTimeoutMs`: the worker is stuck (a process on it spins in a
 * synchronous loop) or the behavior's `init` takes longer than that. `runtime.start` rejects
 * with it; the worker is told to kill the process, and one that never confirms is terminated.
 */
export class ThreadStartTimeoutError extends ProcessError {
  readonly target: string;
  readonly threadId: number;
  readonly timeoutMs: number;

  constructor(target: string, threadId: number, timeoutMs: number) {
    super({
      type: 'thread_start_timeout',
      code: PROCESS_ERROR_CODES.threadStartTimeout,
      message: `thread-isolated process ${target} did not start on worker thread ${threadId} within ${timeoutMs} ms`,
      category: 'external',
      severity: 'high',
      context: { target, threadId, timeoutMs },
    });
    this.target = target;
    this.threadId = threadId;
    this.timeoutMs = timeoutMs;
  }
}
