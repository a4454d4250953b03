// The README's quick start, run as a test so that it stays true; what it logs is collected here.
import { expect, it } from '@jest/globals';
import { createRuntime } from './index';
import type { Behavior } from './index';

it('runs the README example', async () => {
  const logged: string[] = [];
  interface Counter {
    count: number;
  }

  // State lives in `self.state`: init's result, read and replaced by handlers.
  const counter: Behavior<Counter, number> = {
    init: (start) => ({ count: start }),
    handleMessage(message, self) {
      if (message === 'boom') throw new Error('counter crashed'); // ends the process with this error
      if (message === 'increment') self.state.count += 1;
    },
    handleCall: (_request, self) => self.state.count, // the return value is the reply
    terminate: (reason) => void logged.push(`counter stopping: ${String(reason)}`),
  };

  const runtime = createRuntime({ nodeId: 'node-1' });

  const supervisor = await runtime.startSupervisor({
    strategy: 'one-for-one',
    intensity: { maxRestarts: 3, periodMs: 5_000 },
    children: [
      { id: 'counter', behavior: counter, args: 10, options: { name: 'counter' } },
      { id: 'logger', behavior: (message: unknown) => logged.push(`log: ${String(message)}`), options: { name: 'logger' } },
    ],
  });

  runtime.send('counter', 'increment');
  expect(await runtime.call('counter', 'get')).toBe(11);

  const crashed = runtime.whereis('counter')!;
  runtime.send(crashed, 'boom');
  expect(String(await runtime.whenExited(crashed))).toBe('Error: counter crashed');
  // The supervisor handles the exit before this request, so the answer shows the restart.
  const [restarted] = await runtime.whichChildren(supervisor);
  expect([restarted!.pid!.equals(crashed), await runtime.call('counter', 'get')]).toEqual([false, 10]);

  await runtime.call('logger', 'done'); // a function process: its return value is the reply
  await runtime.shutdown(); // the tree stops in reverse start order: logger, then counter
  expect(logged).toEqual(['counter stopping: Error: counter crashed', 'log: done', 'counter stopping: shutdown']);
});
