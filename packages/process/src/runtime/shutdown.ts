// Stopping a runtime: the supervision tree in reverse start order, then every other process
// (ended with `shutdown`, killed after the timeout), then the system process; then whatever
// still waits fails, pending timers are cancelled, and the router and the worker pool go.
import type { Timer } from '@foundation/core';
import { DEAD } from './lifecycle';
import type { RuntimeImpl } from './runtime';

export async function stopRuntime(runtime: RuntimeImpl, timeoutMs: number): Promise<void> {
  const { root, system } = runtime;
  runtime.status = 'stopping';
  // 1. The supervision tree, in reverse start order (the root supervisor's terminate does it).
  if (root.status !== DEAD) {
    const rootExited = runtime.whenExited(root.pid);
    // Ended directly: exit signals to the runtime's own processes are refused.
    runtime.terminate(root, 'shutdown');
    await rootExited;
  }
  // 2. Every other process, newest first: ended with `shutdown` (as a parent would end it, so
  //    trapping exits does not keep it alive), then killed if it has not exited by the timeout.
  //    From here on a spawn fails (RuntimeStoppedError): a process started by a terminate
  //    callback, a timer or an I/O callback now would be in no list and outlive the runtime.
  runtime.spawnsClosed = true;
  const others = [...runtime.table.values()].filter((record) => record !== system && record.status !== DEAD).reverse();
  if (others.length > 0) {
    const exited = Promise.all(others.map((record) => runtime.whenExited(record.pid)));
    for (const record of others) runtime.terminate(record, 'shutdown');
    let timer: Timer | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = runtime.clock.setTimer(timeoutMs, resolve);
    });
    await Promise.race([exited, timedOut]);
    timer?.cancel();
    for (const record of others) if (record.status !== DEAD) runtime.links.sendExit(system.pid, record.pid, 'kill');
  }
  runtime.terminate(system, 'shutdown');
  // 3. Timers that have not fired are cancelled (their messages are dead letters), whatever is
  //    still waiting for a reply fails; the router and the workers are released.
  runtime.delayedSends.cancelAll();
  runtime.calls.failAll();
  runtime.status = 'stopped';
  runtime.remote?.close();
  if (runtime.threads !== null) await runtime.threads.close();
}
