import { describe, expect, it } from '@jest/globals';
import { settle, until } from '../../test/support';
import type { Pid } from '../core/pid';
import { createRuntime } from '../runtime/runtime';
import type { Behavior } from '../runtime/types';

interface WorkerState {
  readonly index: number;
  handled: number;
}

const workerBehavior: Behavior<WorkerState, number> = {
  init: (index) => ({ index, handled: 0 }),
  handleMessage(message, self) {
    if (message === 'crash') throw new Error(`worker ${self.state.index} crashed`);
    self.state.handled += 1;
  },
  handleCall: (_request, self) => self.state,
};

const coordinatorBehavior: Behavior<{ readonly workers: () => Pid[] }, { readonly workers: () => Pid[] }> = {
  init: (args) => args,
  handleMessage(message, self) {
    const workers = self.state.workers();
    workers.forEach((worker, index) => {
      if (index % 2 === 0) self.send(worker, message);
    });
  },
};

describe('ecosystems', () => {
  it('starts a coordinator and workers under one supervisor and reports members, mailboxes and memory', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    let getWorkers: () => Pid[] = () => [];
    const ecosystem = await runtime.spawnEcosystem({
      id: 'indexers',
      coordinator: { behavior: coordinatorBehavior, args: { workers: () => getWorkers() } },
      workers: { behavior: workerBehavior, count: 4, argsFor: (index) => index },
    });
    getWorkers = () => ecosystem.workers();
    expect(ecosystem.workers()).toHaveLength(4);
    expect(runtime.isAlive(ecosystem.coordinator()!)).toBe(true);
    expect((await runtime.whichChildren(ecosystem.supervisor)).map((child) => child.id)).toEqual([
      'coordinator',
      'worker-0',
      'worker-1',
      'worker-2',
      'worker-3',
    ]);
    expect(await runtime.call(ecosystem.workers()[2]!, 'state')).toEqual({ index: 2, handled: 0 });
    runtime.send(ecosystem.coordinator()!, 'job');
    await settle();
    const info = runtime.ecosystemInfo(ecosystem);
    expect(info.members).toBe(5);
    expect(info.workers.map((member) => member.id)).toEqual(['worker-0', 'worker-1', 'worker-2', 'worker-3']);
    expect(info.coordinator?.pid?.equals(ecosystem.coordinator()!)).toBe(true);
    expect(info.totalMailboxLength).toBe(0);
    expect(info.memoryEstimateBytes).toBeGreaterThan(5 * 200);
    expect(await runtime.call(ecosystem.workers()[0]!, 'state')).toEqual({ index: 0, handled: 1 });
    expect(await runtime.call(ecosystem.workers()[1]!, 'state')).toEqual({ index: 1, handled: 0 });
    await runtime.shutdown();
  });

  it('heals itself: a crashed worker is replaced, with its own arguments', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const ecosystem = await runtime.spawnEcosystem({
      coordinator: { behavior: () => undefined },
      workers: { behavior: workerBehavior, count: 3, argsFor: (index) => index },
    });
    const before = ecosystem.workers();
    runtime.send(before[1]!, 'crash');
    await until(() => !runtime.isAlive(before[1]!));
    await settle();
    const after = ecosystem.workers();
    expect(after).toHaveLength(3);
    expect(after[1]!.equals(before[1]!)).toBe(false);
    expect(after[0]!.equals(before[0]!) && after[2]!.equals(before[2]!)).toBe(true);
    expect(await runtime.call(after[1]!, 'state')).toEqual({ index: 1, handled: 0 });
    await runtime.shutdown();
  });

  it('keeps reporting current pids after its supervisor gave up and was restarted by its parent', async () => {
    // Review finding: the handle read the supervisor pid captured at creation, so once the
    // parent had restarted the ecosystem, coordinator() was undefined and workers() empty.
    const runtime = createRuntime({ nodeId: 'node-a', rootIntensity: { maxRestarts: 10, periodMs: 5_000 } });
    const ecosystem = await runtime.spawnEcosystem({ coordinator: { behavior: () => undefined }, workers: { behavior: workerBehavior, count: 1 }, intensity: { maxRestarts: 1, periodMs: 5_000 } });
    const first = ecosystem.supervisor;
    for (let crash = 0; crash < 3; crash += 1) {
      const worker = ecosystem.workers()[0];
      if (worker !== undefined) runtime.send(worker, 'crash');
      await settle(5);
    }
    await until(() => ecosystem.supervisor !== first && ecosystem.workers().length === 1 && ecosystem.coordinator() !== undefined, 'the restarted ecosystem');
    expect(runtime.isAlive(ecosystem.supervisor)).toBe(true);
    expect(runtime.isAlive(ecosystem.workers()[0]!)).toBe(true);
    expect(runtime.ecosystemInfo(ecosystem).members).toBe(2);
    await runtime.shutdown();
  });

  it('runs 1,000 workers, reports their mailboxes, and stops as a unit', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const ecosystem = await runtime.spawnEcosystem({
      coordinator: { behavior: () => undefined },
      workers: { behavior: workerBehavior, count: 1000, argsFor: (index) => index },
    });
    expect(ecosystem.workers()).toHaveLength(1000);
    const busy = ecosystem.workers()[7]!;
    for (let index = 0; index < 3; index += 1) runtime.send(busy, 'work');
    const info = runtime.ecosystemInfo(ecosystem);
    expect(info.members).toBe(1001);
    expect(info.totalMailboxLength).toBe(3);
    expect(info.workers[7]!.mailboxLength).toBe(3);
    await ecosystem.stop();
    expect(runtime.isAlive(ecosystem.supervisor)).toBe(false);
    expect(runtime.processes()).toHaveLength(2);
    expect(await runtime.countChildren(runtime.rootSupervisor)).toMatchObject({ specs: 0 });
    await runtime.shutdown();
  });
});
