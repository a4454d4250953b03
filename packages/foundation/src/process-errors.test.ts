// The meta-package re-exports the process runtime's errors by name: the very classes the runtime
// throws, so `instanceof` holds for an error from a runtime made through `foundation`.
import { describe, expect, it } from '@jest/globals';
import * as processPackage from '@foundation/process';
import * as foundation from './index';

const { FoundationError, NameTakenError, NoConnectionError, NoProcessError, PROCESS_ERROR_CODES, ProcessError, RuntimeStoppedError, createRuntime } = foundation;

/** The classes foundation re-exports from @foundation/process. */
const REEXPORTED = [
  'CallExitedError',
  'CallTimeoutError',
  'MailboxFullError',
  'NameTakenError',
  'NoConnectionError',
  'NoProcessError',
  'ProcessError',
  'RuntimeStoppedError',
  'SupervisorError',
  'ThreadStartTimeoutError',
  'UncloneableMessageError',
  'WorkerCrashedError',
] as const;

describe('the process errors foundation re-exports (review finding)', () => {
  it('are the classes @foundation/process exports', () => {
    for (const name of REEXPORTED) expect([name, foundation[name]]).toEqual([name, processPackage[name]]);
    expect(PROCESS_ERROR_CODES).toBe(processPackage.PROCESS_ERROR_CODES);
  });

  it('match what the runtime throws with instanceof', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const gone = runtime.spawn(() => undefined);
    runtime.exit(gone, 'kill');
    const noProcess = await runtime.call(gone, 'anyone there?').catch((error: unknown) => error);
    expect(noProcess).toBeInstanceOf(NoProcessError);
    expect(noProcess).toBeInstanceOf(ProcessError);
    expect(FoundationError.hasType(noProcess, PROCESS_ERROR_CODES.noProcess)).toBe(true);
    runtime.register('taken', runtime.spawn(() => undefined));
    expect(() => runtime.register('taken', runtime.spawn(() => undefined))).toThrow(NameTakenError);
    const remote = await runtime.call({ name: 'server', node: 'node-b' }, 'hello').catch((error: unknown) => error);
    expect(remote).toBeInstanceOf(NoConnectionError);
    await runtime.shutdown();
    const stopped = await runtime.call(gone, 'still there?').catch((error: unknown) => error);
    expect(stopped).toBeInstanceOf(RuntimeStoppedError);
  });
});
