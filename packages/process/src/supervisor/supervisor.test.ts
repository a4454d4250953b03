import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { deferred, hostileValues, lookalikeExit, settle, simulatedRuntime, until } from '../../test/support';
import type { Pid } from '../core/pid';
import { CallExitedError } from '../errors/call-exited-error';
import { PROCESS_ERROR_CODES } from '../errors/codes';
import { InvalidOptionError } from '../errors/invalid-option-error';
import { SupervisorError } from '../errors/supervisor-error';
import { UnsupportedError } from '../errors/unsupported-error';
import { createRuntime } from '../runtime/runtime';
import type { Runtime } from '../runtime/runtime';
import type { TelemetrySink } from '../runtime/options';
import { isExitMessage } from '../runtime/system-messages';
import { NO_REPLY } from '../runtime/types';
import type { Behavior, ProcessSelf } from '../runtime/types';
import type { ChildSpec, RestartType, SupervisorStrategy } from './types';

interface WorkerArgs {
  readonly id: string;
  readonly log: string[];
}

/** A child that logs its starts and stops and exits when told. */
const recorder: Behavior<WorkerArgs, WorkerArgs> = {
  init(args) {
    args.log.push(`start ${args.id}`);
    return args;
  },
  handleMessage(message, self) {
    if (message === 'crash') throw new Error(`${self.state.id} crashed`);
    if (message === 'finish') self.stop('normal');
  },
  handleCall: (_request, self) => self.state.id,
  terminate(reason, self) {
    self.state.log.push(`stop ${self.state.id}`);
  },
};

function worker(id: string, log: string[], restart: RestartType = 'permanent', extra: Partial<ChildSpec> = {}): ChildSpec {
  return { id, behavior: recorder, args: { id, log }, restart, ...extra };
}

async function pids(runtime: Runtime, supervisor: Pid): Promise<Record<string, Pid | undefined>> {
  const children = await runtime.whichChildren(supervisor);
  return Object.fromEntries(children.map((child) => [child.id, child.pid]));
}

async function crash(runtime: Runtime, supervisor: Pid, id: string, message = 'crash'): Promise<void> {
  const before = (await pids(runtime, supervisor))[id]!;
  runtime.send(before, message);
  await until(() => !runtime.isAlive(before), `${id} to exit`);
  await settle();
}

/**
 * A child that crashes on any message and whose second start waits for `refuse()` and then
 * fails (as do the starts `alsoFailing` names): a restart that fails when the test says, with
 * the supervisor's retry queued behind whatever the test asked of it meanwhile.
 */
function failingRestart(alsoFailing: readonly number[] = []): { behavior: Behavior; starts: () => number; refuse: () => void } {
  let starts = 0;
  const refusal = deferred();
  return {
    behavior: {
      async init() {
        starts += 1;
        if (starts === 2) {
          await refusal.promise;
          throw new Error('cannot come back yet');
        }
        if (alsoFailing.includes(starts)) throw new Error('still cannot come back');
      },
      handleMessage() {
        throw new Error('crash');
      },
    },
    starts: () => starts,
    refuse: () => refusal.resolve(),
  };
}

describe('starting and inspecting', () => {
  it('starts children in order and reports them with whichChildren and countChildren', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    const supervisor = await runtime.startSupervisor({
      children: [worker('a', log), worker('b', log), { id: 'sub', supervisor: { children: [worker('c', log)] } }, worker('d', log)],
    });
    expect(log).toEqual(['start a', 'start b', 'start c', 'start d']);
    const children = await runtime.whichChildren(supervisor);
    expect(children.map(({ id, type, restart }) => [id, type, restart])).toEqual([
      ['a', 'worker', 'permanent'],
      ['b', 'worker', 'permanent'],
      ['sub', 'supervisor', 'permanent'],
      ['d', 'worker', 'permanent'],
    ]);
    expect(children.every((child) => child.pid !== undefined && runtime.isAlive(child.pid))).toBe(true);
    expect(await runtime.countChildren(supervisor)).toEqual({ specs: 4, active: 4, supervisors: 1, workers: 3 });
    expect(runtime.processInfo(children[0]!.pid!)?.links).toEqual([supervisor]);
    await runtime.shutdown();
  });

  it('fails to start when a child cannot, stopping the children already started in reverse order', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    const failing: Behavior = {
      init() {
        throw new Error('no database');
      },
    };
    const error = (await runtime
      .startSupervisor({ children: [worker('a', log), worker('b', log), { id: 'broken', behavior: failing }, worker('never', log)] })
      .catch((caught: unknown) => caught)) as SupervisorError;
    expect(error).toBeInstanceOf(SupervisorError);
    expect(error.kind).toBe('start-failed');
    expect(error.childId).toBe('broken');
    expect(log).toEqual(['start a', 'start b', 'stop b', 'stop a']);
    expect(await runtime.countChildren(runtime.rootSupervisor)).toMatchObject({ specs: 0 });
    await runtime.shutdown();
  });

  it('refuses invalid specs with typed errors', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const invalid = async (spec: unknown): Promise<SupervisorError> =>
      (await runtime.startSupervisor(spec as never).catch((caught: unknown) => caught)) as SupervisorError;
    expect((await invalid({ strategy: 'one-for-some' })).kind).toBe('invalid-spec');
    expect((await invalid({ intensity: { maxRestarts: -1 } })).kind).toBe('invalid-spec');
    expect((await invalid({ intensity: { periodMs: 0 } })).kind).toBe('invalid-spec');
    expect((await invalid({ children: [{ id: '', behavior: recorder }] })).kind).toBe('invalid-spec');
    expect((await invalid({ children: [{ id: 'x' }] })).kind).toBe('invalid-spec');
    expect((await invalid({ children: [{ id: 'x', behavior: recorder, restart: 'sometimes' }] })).kind).toBe('invalid-spec');
    expect((await invalid({ children: [{ id: 'x', behavior: recorder, shutdown: -5 }] })).kind).toBe('invalid-spec');
    const log: string[] = [];
    expect((await invalid({ children: [worker('x', log), worker('x', log)] })).kind).toBe('duplicate-child');
    await runtime.shutdown();
  });
});

describe('a supervisor stopped in the middle of a restart', () => {
  it('starts no child after it is gone: nothing is left running, and the names stay free', async () => {
    // Review finding: a one-for-all restart awaiting a slow child's stop carried on after the
    // supervisor had been stopped, and started new children linked to a dead supervisor.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const slowStop = deferred();
    const supervisor = await runtime.startSupervisor(
      {
        strategy: 'one-for-all',
        children: [
          { id: 'a', behavior: { init: (_args: unknown, self: ProcessSelf) => void self.trapExits(true), handleMessage: () => undefined, terminate: () => slowStop.promise }, options: { name: 'a' } },
          { id: 'b', behavior: { handleMessage: (message: unknown) => { if (message === 'boom') throw new Error('boom'); } }, options: { name: 'b' } },
        ],
      },
      { id: 'sub' },
    );
    const before = new Set(runtime.processes().map(String));
    runtime.send('b', 'boom'); // the restart begins by stopping 'a', which takes until slowStop
    await settle();
    const stopping = runtime.terminateChild(runtime.rootSupervisor, 'sub');
    await settle();
    slowStop.resolve();
    await stopping;
    await settle(5);
    expect(runtime.isAlive(supervisor)).toBe(false);
    expect(runtime.whereis('a')).toBeUndefined();
    expect(runtime.whereis('b')).toBeUndefined();
    expect(runtime.processes().map(String).filter((pid) => !before.has(pid))).toEqual([]);
    await runtime.restartChild(runtime.rootSupervisor, 'sub');
    expect(runtime.whereis('a')).toBeDefined();
    await runtime.shutdown();
  });
});

describe('strategies', () => {
  async function setup(strategy: SupervisorStrategy) {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    const supervisor = await runtime.startSupervisor({
      strategy,
      intensity: { maxRestarts: 10 },
      children: ['a', 'b', 'c', 'd'].map((id) => worker(id, log)),
    });
    log.length = 0;
    return { runtime, log, supervisor, before: await pids(runtime, supervisor) };
  }

  it('one-for-one restarts only the child that exited', async () => {
    const { runtime, log, supervisor, before } = await setup('one-for-one');
    await crash(runtime, supervisor, 'b');
    const after = await pids(runtime, supervisor);
    expect(log).toEqual(['stop b', 'start b']);
    expect(after.b!.equals(before.b!)).toBe(false);
    for (const id of ['a', 'c', 'd']) expect(after[id]!.equals(before[id]!)).toBe(true);
    expect(await runtime.call(after.b!, 'id')).toBe('b');
    await runtime.shutdown();
  });

  it('one-for-all stops the others in reverse order, then restarts all in order', async () => {
    const { runtime, log, supervisor, before } = await setup('one-for-all');
    await crash(runtime, supervisor, 'b');
    await until(() => log.length === 8);
    expect(log).toEqual(['stop b', 'stop d', 'stop c', 'stop a', 'start a', 'start b', 'start c', 'start d']);
    const after = await pids(runtime, supervisor);
    for (const id of ['a', 'b', 'c', 'd']) expect(after[id]!.equals(before[id]!)).toBe(false);
    await runtime.shutdown();
  });

  it('rest-for-one stops the children started after it in reverse order, then restarts it and them in order', async () => {
    const { runtime, log, supervisor, before } = await setup('rest-for-one');
    await crash(runtime, supervisor, 'b');
    await until(() => log.length === 6);
    expect(log).toEqual(['stop b', 'stop d', 'stop c', 'start b', 'start c', 'start d']);
    const after = await pids(runtime, supervisor);
    expect(after.a!.equals(before.a!)).toBe(true);
    for (const id of ['b', 'c', 'd']) expect(after[id]!.equals(before[id]!)).toBe(false);
    await runtime.shutdown();
  });

  it('does not restart a temporary sibling stopped by a group restart; its spec goes', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    const supervisor = await runtime.startSupervisor({
      strategy: 'one-for-all',
      children: [worker('a', log), worker('temp', log, 'temporary'), worker('c', log)],
    });
    await crash(runtime, supervisor, 'a');
    await until(() => log.filter((entry) => entry === 'start c').length === 2);
    expect((await runtime.whichChildren(supervisor)).map((child) => child.id)).toEqual(['a', 'c']);
    await runtime.shutdown();
  });
});

describe('exits it did not get from the runtime', () => {
  it('restarts nothing for an exit message another process made up', async () => {
    // Review finding: the supervisor trusted any message with the public exit marker, so a
    // process could make it start a second copy of a child that was still running (the first
    // left linked to it, but no longer supervised).
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    const supervisor = await runtime.startSupervisor({ children: [worker('a', log)] });
    const child = (await pids(runtime, supervisor)).a!;
    runtime.send(supervisor, lookalikeExit(child, 'forged'));
    await settle();
    expect(log).toEqual(['start a']);
    expect((await pids(runtime, supervisor)).a!.equals(child)).toBe(true);
    expect(runtime.isAlive(child)).toBe(true);
    await runtime.shutdown();
  });

  it('restarts nothing for a genuine exit message a child passes on', async () => {
    // A process that traps exits makes genuine exit messages about itself at will, with
    // exit(self, reason); passed on to the supervisor, one must not count as the child's exit.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const starts: Pid[] = [];
    const relayer: Behavior = {
      init(_args, self) {
        starts.push(self.pid);
        self.trapExits(true);
      },
      handleMessage(message, self) {
        if (message === 'relay') self.exit(self.pid, 'made up');
        else if (isExitMessage(message)) self.send('the-supervisor', message);
      },
    };
    const supervisor = await runtime.startSupervisor({ children: [{ id: 'relayer', behavior: relayer }] }, { name: 'the-supervisor' });
    const child = (await pids(runtime, supervisor)).relayer!;
    runtime.send(child, 'relay');
    await settle();
    expect(starts).toEqual([child]);
    expect((await pids(runtime, supervisor)).relayer!.equals(child)).toBe(true);
    await runtime.shutdown();
  });
});

describe('values that throw when touched', () => {
  it.each(hostileValues())('leave a supervisor and the root supervisor running: %s as a message, a cast, a call or a child spec', async (_name, value) => {
    // Review finding: the exit check read a marker, RetryRestart used instanceof and handleCall
    // read the request's brand, all outside any guard, so such a value ended the supervisor
    // (the root one too, and with it the runtime); instanceof on mailbox entries in the run
    // queue threw out of the slice itself.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    const supervisor = await runtime.startSupervisor({ children: [worker('a', log)] });
    const before = (await pids(runtime, supervisor)).a!;
    for (const target of [supervisor, runtime.rootSupervisor]) {
      runtime.send(target, value);
      runtime.cast(target, value);
      await expect(runtime.call(target, value)).rejects.toBeInstanceOf(UnsupportedError);
      const refused = await runtime.startChild(target, value as ChildSpec).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(SupervisorError);
      expect(refused).toMatchObject({ kind: 'invalid-spec' });
    }
    await settle();
    expect(runtime.status).toBe('running');
    expect(runtime.isAlive(supervisor) && runtime.isAlive(runtime.rootSupervisor)).toBe(true);
    // Still supervising.
    await crash(runtime, supervisor, 'a');
    const after = (await pids(runtime, supervisor)).a!;
    expect(after.equals(before)).toBe(false);
    expect(runtime.isAlive(after)).toBe(true);
    await runtime.shutdown();
  });

  it('leave a supervisor running when a child behavior throws as its init or terminate is read', async () => {
    // Review finding: the lifecycle read init and terminate outside its guard. An unreadable
    // init left a half-spawned process behind, its name taken; an unreadable terminate threw
    // out of the exit signal into the supervisor that was stopping the child, and ended it.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    const unreadable = (): never => {
      throw new Error('unreadable');
    };
    const noTerminate = Object.defineProperty({ handleMessage: () => undefined }, 'terminate', { get: unreadable }) as Behavior;
    const supervisor = await runtime.startSupervisor({
      strategy: 'one-for-all',
      intensity: { maxRestarts: 10 },
      children: [worker('a', log), { id: 'no-terminate', behavior: noTerminate }],
    });
    const processes = runtime.processes().length;
    const noInit = Object.defineProperty({}, 'init', { get: unreadable }) as Behavior;
    const failed = await runtime.startChild(supervisor, { id: 'no-init', behavior: noInit, options: { name: 'no-init' } }).catch((error: unknown) => error);
    expect(failed).toMatchObject({ kind: 'start-failed' });
    expect(runtime.whereis('no-init')).toBeUndefined();
    expect(runtime.processes()).toHaveLength(processes);
    // One-for-all: a's crash makes the supervisor stop the other child, whose terminate cannot be read.
    const before = await pids(runtime, supervisor);
    await crash(runtime, supervisor, 'a');
    await until(() => log.filter((entry) => entry === 'start a').length === 2, 'the group restart');
    expect(runtime.isAlive(supervisor)).toBe(true);
    const after = await pids(runtime, supervisor);
    expect(after['no-terminate']!.equals(before['no-terminate']!)).toBe(false);
    expect(runtime.isAlive(before['no-terminate']!)).toBe(false);
    expect(runtime.processes()).toHaveLength(processes);
    await runtime.shutdown();
  });

  it.each(hostileValues())('restart a child that exits with %s as its reason, and fail what waited on it', async (_name, reason) => {
    // Found while tracing the review's proxy finding: the text of such a reason (for
    // CallExitedError) and the check whether it is an Error (for a failed start) threw in the
    // middle of the child's exit, so its links never fired and its supervisor never heard of it.
    const runtime = createRuntime({ nodeId: 'node-a' });
    let starts = 0;
    const thrower: Behavior = {
      init() {
        starts += 1;
      },
      handleCall: () => NO_REPLY,
      handleMessage() {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- the point: a reason that cannot be inspected
        throw reason;
      },
    };
    const supervisor = await runtime.startSupervisor({ children: [{ id: 'thrower', behavior: thrower }] });
    const child = (await pids(runtime, supervisor)).thrower!;
    const held = runtime.call(child, 'held on to').catch((error: unknown) => error);
    await settle();
    runtime.send(child, 'throw');
    expect(await held).toBeInstanceOf(CallExitedError);
    await until(() => starts === 2, 'the restart');
    const failing: Behavior = {
      async init() {
        await Promise.resolve();
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- the point: a reason that cannot be inspected
        throw reason;
      },
    };
    const failed = await runtime.startChild(supervisor, { id: 'failing', behavior: failing }).catch((error: unknown) => error);
    expect(failed).toMatchObject({ kind: 'start-failed' });
    expect(runtime.isAlive(supervisor)).toBe(true);
    expect((await runtime.whichChildren(supervisor)).map((entry) => entry.id)).toEqual(['thrower']);
    await runtime.shutdown();
  });
});

describe('calls that are not supervisor requests', () => {
  it('fail with UnsupportedError, from outside processes and from a process, and the supervisor runs on', async () => {
    // Review finding: such a call was answered with { ok: false, error } as an ordinary reply,
    // which a caller could not tell from a reply that happens to look like that.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    const supervisor = await runtime.startSupervisor({ children: [worker('a', log)] });
    for (const request of ['which-children', { op: 'which-children' }, undefined]) {
      const failure = await runtime.call(supervisor, request).then(
        (reply: unknown) => ({ reply }),
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(UnsupportedError);
      expect(failure).toMatchObject({ code: PROCESS_ERROR_CODES.unsupported });
    }
    const results: unknown[] = [];
    const caller = runtime.spawn(async (message: unknown, self: ProcessSelf) => {
      results.push(await self.call(supervisor, message).catch((error: unknown) => error));
    });
    runtime.send(caller, 'count-children');
    await until(() => results.length === 1, 'the call from a process');
    expect(results[0]).toBeInstanceOf(UnsupportedError);
    expect(runtime.isAlive(supervisor)).toBe(true);
    expect(await runtime.countChildren(supervisor)).toMatchObject({ specs: 1, active: 1 });
    await runtime.shutdown();
  });
});

describe('restart types', () => {
  it('permanent restarts always, transient only after an abnormal exit, temporary never', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    const supervisor = await runtime.startSupervisor({
      intensity: { maxRestarts: 10 },
      children: [worker('perm', log), worker('trans', log, 'transient'), worker('trans-2', log, 'transient'), worker('temp', log, 'temporary')],
    });
    await crash(runtime, supervisor, 'perm', 'finish');
    await crash(runtime, supervisor, 'trans', 'finish');
    await crash(runtime, supervisor, 'trans-2', 'crash');
    await crash(runtime, supervisor, 'temp', 'crash');
    await settle();
    const children = await pids(runtime, supervisor);
    expect(Object.keys(children)).toEqual(['perm', 'trans', 'trans-2']);
    expect(children.perm).toBeDefined();
    expect(children.trans).toBeUndefined();
    expect(children['trans-2']).toBeDefined();
    expect(await runtime.countChildren(supervisor)).toEqual({ specs: 3, active: 2, supervisors: 0, workers: 3 });
    await runtime.shutdown();
  });
});

describe('restart intensity', () => {
  it('gives up after too many restarts in the period: children stop in reverse order, the supervisor exits with shutdown', async () => {
    const { simulation, runtime } = simulatedRuntime();
    const log: string[] = [];
    const supervisor = await runtime.startSupervisor(
      { intensity: { maxRestarts: 2, periodMs: 1000 }, children: [worker('a', log), worker('b', log)] },
      { restart: 'transient' },
    );
    const exit = runtime.whenExited(supervisor);
    await crash(runtime, supervisor, 'a');
    await simulation.runForAsync(400);
    await crash(runtime, supervisor, 'a');
    expect(runtime.isAlive(supervisor)).toBe(true);
    log.length = 0;
    await simulation.runForAsync(400);
    await crash(runtime, supervisor, 'a');
    expect(await exit).toBe('shutdown');
    expect(log).toEqual(['stop a', 'stop b']);
    await runtime.shutdown();
  });

  it.each(['one-for-one', 'one-for-all', 'rest-for-one'] as const)(
    '%s: a restart beyond the intensity stops the children and escalates to the parent',
    async (strategy) => {
      const events: string[] = [];
      const telemetry: TelemetrySink = {
        execute(event, _measurements, metadata) {
          if (event.join('.') === 'foundation.supervisor.shutdown') events.push(String(metadata.supervisor));
        },
      };
      const { simulation, runtime } = simulatedRuntime({ telemetry });
      const log: string[] = [];
      const parent = await runtime.startSupervisor({ intensity: { maxRestarts: 5, periodMs: 1000 } }, { restart: 'transient' });
      const child = await runtime.startChild(parent, {
        id: 'inner',
        supervisor: { strategy, intensity: { maxRestarts: 1, periodMs: 1000 }, children: [worker('a', log), worker('b', log), worker('c', log)] },
      });
      await crash(runtime, child!, 'b');
      await until(() => log.filter((entry) => entry === 'start b').length === 2, 'the first restart');
      expect(runtime.isAlive(child!)).toBe(true);
      const childExit = runtime.whenExited(child!);
      log.length = 0;
      await simulation.runForAsync(10);
      await crash(runtime, child!, 'b');
      expect(await childExit).toBe('shutdown');
      expect(events).toEqual([child!.toString()]);
      // Its children stopped in reverse order (b had already exited); the parent restarted it.
      expect(log.slice(0, 3)).toEqual(['stop b', 'stop c', 'stop a']);
      await until(() => log.filter((entry) => entry.startsWith('start')).length === 3, 'the parent to restart the subtree');
      const [restarted] = await runtime.whichChildren(parent);
      expect(restarted!.pid!.equals(child!)).toBe(false);
      expect(runtime.isAlive(parent)).toBe(true);
      await runtime.shutdown();
    },
  );

  it('forgets restarts older than the period', async () => {
    const { simulation, runtime } = simulatedRuntime();
    const log: string[] = [];
    const supervisor = await runtime.startSupervisor({ intensity: { maxRestarts: 1, periodMs: 1000 }, children: [worker('a', log)] });
    for (let round = 0; round < 5; round += 1) {
      await crash(runtime, supervisor, 'a');
      await simulation.runForAsync(1001);
    }
    expect(runtime.isAlive(supervisor)).toBe(true);
    expect(log.filter((entry) => entry === 'start a')).toHaveLength(6);
    await runtime.shutdown();
  });

  it('escalates up the tree: a parent counts a child supervisor that gave up as a restart', async () => {
    const events: string[] = [];
    const telemetry: TelemetrySink = {
      execute(event, _measurements, metadata) {
        const name = event.join('.');
        if (name === 'foundation.supervisor.shutdown') events.push(`gave up ${String(metadata.supervisor)}`);
        if (name === 'foundation.supervisor.child-restart') events.push(`restart ${String(metadata.child)}`);
      },
    };
    const { runtime: tree } = simulatedRuntime({ telemetry, rootIntensity: { maxRestarts: 0 } });
    const log: string[] = [];
    const top = await tree.startSupervisor(
      {
        intensity: { maxRestarts: 1, periodMs: 10_000 },
        children: [{ id: 'mid', supervisor: { intensity: { maxRestarts: 0, periodMs: 10_000 }, children: [worker('leaf', log)] } }],
      },
      { id: 'top' },
    );
    const topExit = tree.whenExited(top);
    const midPid = async (): Promise<Pid> => (await pids(tree, top)).mid!;
    // First leaf crash: mid may not restart (0 allowed) → mid gives up → top restarts mid (1 allowed).
    await crash(tree, await midPid(), 'leaf');
    await until(() => events.length === 2);
    expect(events[0]).toMatch(/^gave up </);
    expect(events[1]).toBe('restart mid');
    // Second: mid gives up again → top exceeds its intensity and gives up → the root (0 allowed) gives up and stops the runtime.
    await crash(tree, await midPid(), 'leaf');
    expect(await topExit).toBe('shutdown');
    await until(() => tree.status === 'stopped', 'the runtime to stop');
    expect(events.filter((event) => event.startsWith('gave up'))).toHaveLength(4);
  });

  it('refuses an invalid root intensity when the runtime is created, rather than running without a root supervisor', async () => {
    // Review finding: the root's spec was checked in its async init, so createRuntime returned a
    // runtime whose root supervisor had already failed; startSupervisor then failed for good.
    for (const rootIntensity of [{ maxRestarts: -1 }, { maxRestarts: 1.5 }, { periodMs: 0 }, { periodMs: Number.NaN }]) {
      expect(() => createRuntime({ nodeId: 'node-a', rootIntensity })).toThrow(InvalidOptionError);
    }
    const runtime = createRuntime({ nodeId: 'node-a', rootIntensity: { maxRestarts: 0, periodMs: 1 } });
    await settle();
    expect(runtime.isAlive(runtime.rootSupervisor)).toBe(true);
    await runtime.startSupervisor({ children: [] });
    await runtime.shutdown();
  });

  it('keeps the restart accounting of OTP for any crash schedule (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 10, max: 500 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 300 })), { minLength: 1, maxLength: 10 }),
        async (maxRestarts, periodMs, crashes) => {
          const { simulation, runtime } = simulatedRuntime();
          const restarts: number[] = [];
          const log: string[] = [];
          const supervisor = await runtime.startSupervisor(
            { intensity: { maxRestarts, periodMs }, children: ['x', 'y', 'z'].map((id) => worker(id, log)) },
            { restart: 'transient' },
          );
          const exit = runtime.whenExited(supervisor);
          // The model: a restart at t is allowed while restarts in (t - period, t] ≤ maxRestarts.
          const history: number[] = [];
          let expectedAlive = true;
          let expectedRestarts = 0;
          for (const [child, gap] of crashes) {
            await simulation.runForAsync(gap);
            const now = simulation.now();
            history.push(now);
            const inWindow = history.filter((time) => time > now - periodMs).length;
            await crash(runtime, supervisor, ['x', 'y', 'z'][child]!);
            if (inWindow > maxRestarts) {
              expectedAlive = false;
              break;
            }
            expectedRestarts += 1;
            restarts.push(now);
          }
          await settle();
          expect(runtime.isAlive(supervisor)).toBe(expectedAlive);
          if (!expectedAlive) expect(await exit).toBe('shutdown');
          else expect((await runtime.countChildren(supervisor)).active).toBe(3);
          expect(log.filter((entry) => entry.startsWith('start')).length).toBe(3 + expectedRestarts);
          await runtime.shutdown();
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('dynamic children', () => {
  it('starts, terminates, restarts and deletes children at run time', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    const supervisor = await runtime.startSupervisor({ children: [worker('static', log)] });
    const dynamic = await runtime.startChild(supervisor, worker('dynamic', log));
    expect(runtime.isAlive(dynamic!)).toBe(true);
    expect((await runtime.whichChildren(supervisor)).map((child) => child.id)).toEqual(['static', 'dynamic']);
    await expect(runtime.startChild(supervisor, worker('dynamic', log))).rejects.toMatchObject({ kind: 'duplicate-child' });
    await expect(runtime.deleteChild(supervisor, 'dynamic')).rejects.toMatchObject({ kind: 'child-running' });
    await runtime.terminateChild(supervisor, 'dynamic');
    expect(runtime.isAlive(dynamic!)).toBe(false);
    expect((await pids(runtime, supervisor)).dynamic).toBeUndefined();
    await expect(runtime.restartChild(supervisor, 'static')).rejects.toMatchObject({ kind: 'child-running' });
    const again = await runtime.restartChild(supervisor, 'dynamic');
    expect(runtime.isAlive(again!)).toBe(true);
    await runtime.terminateChild(supervisor, 'dynamic');
    await runtime.deleteChild(supervisor, 'dynamic');
    expect((await runtime.whichChildren(supervisor)).map((child) => child.id)).toEqual(['static']);
    await expect(runtime.terminateChild(supervisor, 'missing')).rejects.toMatchObject({ kind: 'unknown-child' });
    expect(log).toEqual(['start static', 'start dynamic', 'stop dynamic', 'start dynamic', 'stop dynamic']);
    await runtime.shutdown();
  });

  it('reports a child that fails to start without keeping its spec, and refuses non-supervisors', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const supervisor = await runtime.startSupervisor({});
    const failing: Behavior = { init: () => Promise.reject(new Error('async init failed')) };
    await expect(runtime.startChild(supervisor, { id: 'bad', behavior: failing })).rejects.toMatchObject({ kind: 'start-failed', childId: 'bad' });
    expect(await runtime.countChildren(supervisor)).toMatchObject({ specs: 0 });
    const plain = runtime.spawn(() => undefined);
    await expect(runtime.startChild(plain, { id: 'x', behavior: recorder })).rejects.toMatchObject({ kind: 'not-a-supervisor' });
    expect(runtime.isAlive(supervisor)).toBe(true);
    await runtime.shutdown();
  });

  it('terminates a temporary child and forgets its spec', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    const supervisor = await runtime.startSupervisor({});
    await runtime.startChild(supervisor, worker('session', log, 'temporary'));
    await runtime.terminateChild(supervisor, 'session');
    expect(await runtime.countChildren(supervisor)).toMatchObject({ specs: 0 });
    await runtime.shutdown();
  });

  it('retries a restart whose init fails, counting each attempt, until it gives up', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    let starts = 0;
    const flaky: Behavior = {
      init() {
        starts += 1;
        if (starts > 1) throw new Error('cannot come back');
      },
      handleMessage() {
        throw new Error('crash');
      },
    };
    const supervisor = await runtime.startSupervisor(
      { intensity: { maxRestarts: 3, periodMs: 60_000 }, children: [{ id: 'flaky', behavior: flaky }] },
      { restart: 'transient' },
    );
    const exit = runtime.whenExited(supervisor);
    runtime.send((await pids(runtime, supervisor)).flaky!, 'go');
    expect(await exit).toBe('shutdown');
    expect(starts).toBe(4);
    await runtime.shutdown();
  });

  it('reports each retry of a failed restart as a child-restart, as a restart after an exit is (review finding)', async () => {
    // The retry counted against the intensity but emitted no child-restart, so a dashboard
    // counting restarts missed it. The retry's reason says its restart failed, not an exit.
    const events: [string, unknown][] = [];
    const telemetry: TelemetrySink = {
      execute(event, _measurements, metadata) {
        const name = event.join('.');
        if (name === 'foundation.supervisor.child-restart' || name === 'foundation.supervisor.child-start-failed') {
          events.push([event[2]!, name.endsWith('child-restart') ? metadata.reason : metadata.child]);
        }
      },
    };
    const { runtime } = simulatedRuntime({ telemetry });
    let starts = 0;
    const flaky: Behavior = {
      init() {
        starts += 1;
        if (starts === 2 || starts === 3) throw new Error('cannot come back yet');
      },
      handleMessage() {
        throw new Error('crash');
      },
    };
    const supervisor = await runtime.startSupervisor({ intensity: { maxRestarts: 10, periodMs: 60_000 }, children: [{ id: 'flaky', behavior: flaky }] });
    const first = (await pids(runtime, supervisor)).flaky!;
    runtime.send(first, 'go');
    await until(async () => starts === 4 && (await runtime.countChildren(supervisor)).active === 1, 'the second retry to start flaky');
    expect(events).toEqual([
      ['child-restart', expect.objectContaining({ message: 'crash' })],
      ['child-start-failed', 'flaky'],
      ['child-restart', 'restart failed'],
      ['child-start-failed', 'flaky'],
      ['child-restart', 'restart failed'], // the retry that started it
    ]);
    await runtime.shutdown();
  });

  it('one-for-all retries a failed restart by restarting all children again, stopping those that did start', async () => {
    // OTP's supervisor.erl: a failed restart returns {try_again, Id}, and try_again_restart calls
    // restart(one_for_all, ...) again, which terminates every child (the ones that did start
    // included) and starts them all in order; it does not resume from the failed child.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    let flakyStarts = 0;
    const flaky: Behavior = {
      init() {
        flakyStarts += 1;
        log.push(`start flaky ${flakyStarts}`);
        if (flakyStarts === 2) throw new Error('cannot come back yet');
      },
    };
    const supervisor = await runtime.startSupervisor({
      strategy: 'one-for-all',
      intensity: { maxRestarts: 10 },
      children: [worker('a', log), { id: 'flaky', behavior: flaky }, worker('c', log)],
    });
    await crash(runtime, supervisor, 'c');
    await until(async () => (await runtime.countChildren(supervisor)).active === 3, 'the retry to start them all');
    expect(log).toEqual([
      'start a', 'start flaky 1', 'start c',
      'stop c', 'stop a', 'start a', 'start flaky 2', // the restart: flaky fails
      'stop a', 'start a', 'start flaky 3', 'start c', // the retry: all of them again
    ]);
    expect(log.filter((line) => line.startsWith('start a'))).toHaveLength(3);
    expect(flakyStarts).toBe(3);
    expect(log.filter((line) => line.startsWith('start c'))).toHaveLength(2);
    await runtime.shutdown();
  });
});

describe('terminating a child whose restart failed', () => {
  it('cancels the retry: terminateChild leaves the child stopped until restartChild', async () => {
    // Review finding: a restart that failed is retried through the mailbox, and the retry
    // started the child again after terminateChild had answered that it was stopped. OTP's
    // terminate_child of a restarting child leaves it stopped (its try_again_restart finds it so).
    const runtime = createRuntime({ nodeId: 'node-a' });
    const flaky = failingRestart();
    const supervisor = await runtime.startSupervisor({ intensity: { maxRestarts: 10 }, children: [{ id: 'flaky', behavior: flaky.behavior }] });
    runtime.send((await pids(runtime, supervisor)).flaky!, 'go');
    await until(() => flaky.starts() === 2, 'the restart');
    const terminated = runtime.terminateChild(supervisor, 'flaky'); // handled after the restart
    await settle();
    flaky.refuse(); // the restart fails: a retry is queued behind the request
    await terminated;
    await settle();
    expect(flaky.starts()).toBe(2);
    expect(await runtime.countChildren(supervisor)).toEqual({ specs: 1, active: 0, supervisors: 0, workers: 1 });
    const again = await runtime.restartChild(supervisor, 'flaky');
    expect(runtime.isAlive(again!)).toBe(true);
    expect(flaky.starts()).toBe(3);
    await runtime.shutdown();
  });

  it('drops the one-for-all retry of a child that terminateChild and restartChild started meanwhile', async () => {
    // OTP's supervisor.erl: try_again_restart runs the restart again only for a child still in
    // the restarting state ({restarting, Pid}); a child that terminate_child stopped and
    // restart_child started since is left as it is, and so are its siblings. Before, the retry
    // found it running and restarted the whole group again, stopping the child just started.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    let flakyStarts = 0;
    const refuse = deferred();
    const flaky: Behavior = {
      async init() {
        flakyStarts += 1;
        log.push(`start flaky ${flakyStarts}`);
        if (flakyStarts === 2) {
          await refuse.promise;
          throw new Error('cannot come back yet');
        }
      },
      terminate: () => void log.push('stop flaky'),
    };
    const supervisor = await runtime.startSupervisor({
      strategy: 'one-for-all',
      intensity: { maxRestarts: 10 },
      children: [worker('a', log), { id: 'flaky', behavior: flaky }, worker('c', log)],
    });
    await crash(runtime, supervisor, 'c');
    await until(() => flakyStarts === 2, 'the restart');
    const terminated = runtime.terminateChild(supervisor, 'flaky'); // both handled after the restart
    const restarted = runtime.restartChild(supervisor, 'flaky');
    await settle();
    refuse.resolve(); // the restart fails: its retry is queued behind both requests
    await terminated;
    const again = await restarted;
    await runtime.countChildren(supervisor); // handled after the retry
    expect(log).toEqual([
      'start a', 'start flaky 1', 'start c',
      'stop c', 'stop flaky', 'stop a', 'start a', 'start flaky 2', // the restart: flaky fails
      'start flaky 3', // restartChild
    ]);
    expect(runtime.isAlive(again!)).toBe(true);
    expect((await pids(runtime, supervisor)).c).toBeUndefined();
    await runtime.shutdown();
  });

  it.each(['restartChild', 'deleteChild'] as const)('refuses %s of a child whose restart failed, and its retry restarts it and those after it (rest-for-one)', async (request) => {
    // OTP's supervisor.erl: restart_child and delete_child of a child whose pid is
    // {restarting, _} (a failed restart whose try_again_restart waits in the mailbox) answer
    // {error, restarting}; the retry restarts it. Before, restartChild started the child outside
    // the retry, and deleteChild removed it and so cancelled the retry.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    const flaky = failingRestart();
    const supervisor = await runtime.startSupervisor({
      strategy: 'rest-for-one',
      intensity: { maxRestarts: 10 },
      children: [{ id: 'flaky', behavior: flaky.behavior }, worker('after', log)],
    });
    runtime.send((await pids(runtime, supervisor)).flaky!, 'go');
    await until(() => flaky.starts() === 2, 'the restart');
    const restarted = runtime[request](supervisor, 'flaky'); // handled after the restart
    await settle();
    flaky.refuse(); // the restart fails: a retry is queued behind the request
    const refusal = await restarted.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(SupervisorError);
    expect(refusal).toMatchObject({ kind: 'child-restarting', childId: 'flaky', code: PROCESS_ERROR_CODES.supervisor });
    await until(async () => (await runtime.countChildren(supervisor)).active === 2, 'the retry to start both');
    expect(flaky.starts()).toBe(3);
    expect(log).toEqual(['start after', 'stop after', 'start after']);
    await runtime.shutdown();
  });

  it('keeps retrying a restarting child that restartChild was refused for until it starts', async () => {
    // Review finding (kept): a restartChild of the restarting child must not cancel its retry.
    // It is refused now, as OTP's restart_child answers {error, restarting}, and each retry
    // that fails queues the next one.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const flaky = failingRestart([3]);
    const supervisor = await runtime.startSupervisor({ intensity: { maxRestarts: 10 }, children: [{ id: 'flaky', behavior: flaky.behavior }] });
    runtime.send((await pids(runtime, supervisor)).flaky!, 'go');
    await until(() => flaky.starts() === 2, 'the restart');
    const restarted = runtime.restartChild(supervisor, 'flaky'); // handled after the restart
    await settle();
    flaky.refuse(); // the restart fails: a retry is queued behind the request
    await expect(restarted).rejects.toMatchObject({ kind: 'child-restarting' });
    await until(async () => (await runtime.countChildren(supervisor)).active === 1, 'the retries to start the child');
    expect(flaky.starts()).toBe(4);
    await runtime.shutdown();
  });

  it('tells a child whose restart failed and waits for its retry from a stopped one in whichChildren', async () => {
    // OTP's which_children reports `restarting` in place of the pid of a child whose failed
    // restart waits for try_again_restart, and `undefined` for a stopped one. Before, both came
    // back with no pid and nothing else to tell them apart.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    const flaky = failingRestart();
    const supervisor = await runtime.startSupervisor({
      strategy: 'rest-for-one',
      intensity: { maxRestarts: 10 },
      children: [worker('idle', log), { id: 'flaky', behavior: flaky.behavior }, worker('after', log)],
    });
    await runtime.terminateChild(supervisor, 'idle');
    runtime.send((await pids(runtime, supervisor)).flaky!, 'go');
    await until(() => flaky.starts() === 2, 'the restart');
    const during = runtime.whichChildren(supervisor); // handled after the restart, before its retry
    await settle();
    flaky.refuse(); // the restart fails: a retry is queued behind the request
    expect((await during).map(({ id, pid, status }) => ({ id, pid, status }))).toEqual([
      { id: 'idle', pid: undefined, status: 'stopped' },
      { id: 'flaky', pid: undefined, status: 'restarting' },
      { id: 'after', pid: undefined, status: 'stopped' }, // the retry starts it, but it is not restarting itself
    ]);
    await until(async () => (await runtime.countChildren(supervisor)).active === 2, 'the retry to start flaky and after');
    const after = await runtime.whichChildren(supervisor);
    expect(after.map(({ id, status }) => [id, status])).toEqual([
      ['idle', 'stopped'],
      ['flaky', 'running'],
      ['after', 'running'],
    ]);
    expect(after.every((child) => (child.status === 'running') === (child.pid !== undefined && runtime.isAlive(child.pid)))).toBe(true);
    await runtime.shutdown();
  });

  it.each(['restartChild', 'deleteChild'] as const)('refuses %s of a child that exited before the supervisor handled its exit, which then restarts by the strategy', async (request) => {
    // OTP's restart_child and delete_child answer {error, running} for any child whose pid the
    // supervisor still holds: one whose 'EXIT' waits in its mailbox too, which then restarts it
    // by the strategy. Before, restartChild started that child alone and its exit was then
    // ignored, so under rest-for-one the children after it were never restarted, and the
    // restart was not counted; deleteChild removed it, and its exit restarted nothing.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    let slowStarts = 0;
    const release = deferred();
    const slow: Behavior = {
      async init() {
        slowStarts += 1;
        if (slowStarts === 2) await release.promise;
      },
      handleMessage() {
        throw new Error('crash');
      },
    };
    const supervisor = await runtime.startSupervisor({
      strategy: 'rest-for-one',
      intensity: { maxRestarts: 10 },
      children: [worker('a', log), worker('b', log), { id: 'slow', behavior: slow }],
    });
    const before = await pids(runtime, supervisor);
    runtime.send(before.slow!, 'go');
    await until(() => slowStarts === 2, 'the restart of slow'); // the supervisor is busy until release
    const restarted = runtime[request](supervisor, 'a');
    await settle();
    const aExit = runtime.whenExited(before.a!);
    runtime.exit(before.a!, 'kill'); // its exit reaches the supervisor after the request
    expect(await aExit).toBe('killed');
    release.resolve();
    await expect(restarted).rejects.toMatchObject({ kind: 'child-running', childId: 'a' });
    await until(async () => (await runtime.countChildren(supervisor)).active === 3, 'the restart of a and those after it');
    expect(log).toEqual(['start a', 'start b', 'stop b', 'start a', 'start b']);
    await runtime.shutdown();
  });

  it('reports a child that exited before the supervisor handled its exit as running with its pid in whichChildren, as restartChild refuses it', async () => {
    // OTP's which_children gives the pid the supervisor holds, which changes only when it
    // handles the child's 'EXIT'. Before, whichChildren reported such a child stopped with no
    // pid while restartChild and deleteChild refused it as running.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    let slowStarts = 0;
    const release = deferred();
    const slow: Behavior = {
      async init() {
        slowStarts += 1;
        if (slowStarts === 2) await release.promise;
      },
      handleMessage() {
        throw new Error('crash');
      },
    };
    const supervisor = await runtime.startSupervisor({
      intensity: { maxRestarts: 10 },
      children: [worker('a', log), { id: 'slow', behavior: slow }],
    });
    const before = await pids(runtime, supervisor);
    runtime.send(before.slow!, 'go');
    await until(() => slowStarts === 2, 'the restart of slow'); // the supervisor is busy until release
    const during = runtime.whichChildren(supervisor);
    const counted = runtime.countChildren(supervisor);
    await settle();
    const aExit = runtime.whenExited(before.a!);
    runtime.exit(before.a!, 'kill'); // its exit reaches the supervisor after the requests
    expect(await aExit).toBe('killed');
    release.resolve();
    const a = (await during).find((child) => child.id === 'a')!;
    expect({ pid: a.pid, status: a.status }).toEqual({ pid: before.a, status: 'running' });
    // count_children counts only live processes as active, in OTP too.
    expect((await counted).active).toBe(1);
    await until(async () => (await runtime.countChildren(supervisor)).active === 2, 'the restart of a');
    const after = (await runtime.whichChildren(supervisor)).find((child) => child.id === 'a')!;
    expect(after.status).toBe('running');
    expect(after.pid).not.toEqual(before.a);
    expect(runtime.isAlive(after.pid!)).toBe(true);
    await runtime.shutdown();
  });
});

describe('a rest-for-one retry while a later child has exited and its exit waits in the mailbox', () => {
  it('stops that child and starts it again after the failed one, and the retry counts once, as OTP does', async () => {
    // OTP's supervisor.erl: try_again_restart reruns restart(rest_for_one, Child), which
    // terminates the children after the failed one (taking a dead child's queued 'EXIT' with it)
    // and starts it and them in order. Before, the retry started only the children it found not
    // running; when it failed again, the later child kept its dead pid, and its exit then
    // restarted it alone before the failed child was back and counted one restart more, so the
    // supervisor gave up within its intensity.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    let flakyStarts = 0;
    const refuse = deferred();
    const flaky: Behavior = {
      async init() {
        flakyStarts += 1;
        log.push(`start flaky ${flakyStarts}`);
        if (flakyStarts === 2) {
          await refuse.promise;
          throw new Error('cannot come back yet');
        }
        if (flakyStarts === 3) throw new Error('still cannot come back');
      },
      handleMessage() {
        throw new Error('crash');
      },
    };
    // A child whose start holds the supervisor until the test has stopped "after", then fails.
    const gate = deferred();
    const holding: Behavior = {
      async init() {
        await gate.promise;
        throw new Error('never starts');
      },
    };
    const supervisor = await runtime.startSupervisor({
      strategy: 'rest-for-one',
      // The exit of flaky and two retries: three restarts, which the intensity allows.
      intensity: { maxRestarts: 3, periodMs: 60_000 },
      children: [{ id: 'flaky', behavior: flaky }, worker('after', log)],
    });
    runtime.send((await pids(runtime, supervisor)).flaky!, 'go');
    await until(() => flakyStarts === 2, 'the restart');
    const restarted = runtime.restartChild(supervisor, 'after'); // both handled after the restart
    const held = runtime.startChild(supervisor, { id: 'holding', behavior: holding });
    await settle();
    refuse.resolve(); // the restart fails: its retry is queued behind both requests
    const after = (await restarted)!;
    const afterExit = runtime.whenExited(after);
    runtime.exit(after, 'kill'); // its exit reaches the supervisor after the retry
    expect(await afterExit).toBe('killed');
    gate.resolve();
    await expect(held).rejects.toMatchObject({ kind: 'start-failed' });
    await until(() => log.length >= 8 || !runtime.isAlive(supervisor), 'the retries');
    await settle();
    expect(log).toEqual([
      'start flaky 1', 'start after',
      'stop after', 'start flaky 2', // the restart: flaky fails
      'start after', // restartChild; then it is killed
      'start flaky 3', // the first retry: flaky fails again
      'start flaky 4', 'start after', // the second retry: flaky, then the child after it
    ]);
    expect(runtime.isAlive(supervisor)).toBe(true);
    const children = await runtime.whichChildren(supervisor);
    expect(children.map(({ id, status }) => [id, status])).toEqual([
      ['flaky', 'running'],
      ['after', 'running'],
    ]);
    expect(children.every((child) => child.pid !== undefined && runtime.isAlive(child.pid))).toBe(true);
    expect(children.find((child) => child.id === 'after')!.pid).not.toEqual(after);
    await runtime.shutdown();
  });
});

describe('a group restart that stops a child waiting for its own retry', () => {
  it('drops that retry (rest-for-one): the child starts again only after the child before it is back', async () => {
    // OTP's supervisor.erl: a group restart terminates the children it restarts, and
    // terminate_children sets a restarting child's pid to undefined, so the try_again_restart
    // queued for it finds it no longer restarting and does nothing. Before, the flag stayed: when
    // a child before it exited and failed to restart, the old retry started it and the children
    // after it while that child was still down, and counted one restart more, so the supervisor
    // gave up within its intensity.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    let aStarts = 0;
    let aFailuresLeft = 0;
    const a: Behavior = {
      init() {
        aStarts += 1;
        log.push(`start a ${aStarts}`);
        if (aFailuresLeft > 0) {
          aFailuresLeft -= 1;
          throw new Error('cannot come back yet');
        }
      },
    };
    let bStarts = 0;
    const refuse = deferred();
    const b: Behavior = {
      async init() {
        bStarts += 1;
        log.push(`start b ${bStarts}`);
        if (bStarts === 2) {
          await refuse.promise;
          throw new Error('cannot come back yet');
        }
      },
      handleMessage() {
        throw new Error('crash');
      },
    };
    const supervisor = await runtime.startSupervisor({
      strategy: 'rest-for-one',
      // The exits of b and a and the retry of a: three restarts, which the intensity allows.
      intensity: { maxRestarts: 3, periodMs: 60_000 },
      children: [{ id: 'a', behavior: a }, { id: 'b', behavior: b }, worker('c', log)],
    });
    const before = await pids(runtime, supervisor);
    runtime.send(before.b!, 'go');
    await until(() => bStarts === 2, 'the restart of b'); // the supervisor is busy until refuse
    aFailuresLeft = 1; // the restart of a fails once
    const aExit = runtime.whenExited(before.a!);
    runtime.exit(before.a!, 'kill'); // its exit reaches the supervisor before the retry of b
    expect(await aExit).toBe('killed');
    refuse.resolve(); // the restart of b fails: its retry is queued behind the exit of a
    await until(() => log.length >= 9 || !runtime.isAlive(supervisor), 'the retries');
    await settle();
    expect(log).toEqual([
      'start a 1', 'start b 1', 'start c',
      'stop c', 'start b 2', // the restart of b: it fails
      'start a 2', // the restart of a, with b and c: a fails, and the old retry of b is dropped
      'start a 3', 'start b 3', 'start c', // the retry of a: a, then the children after it
    ]);
    expect(runtime.isAlive(supervisor)).toBe(true);
    const children = await runtime.whichChildren(supervisor);
    expect(children.map(({ id, status }) => [id, status])).toEqual([
      ['a', 'running'],
      ['b', 'running'],
      ['c', 'running'],
    ]);
    await runtime.shutdown();
  });
});

describe('shutdown', () => {
  it('stops the whole tree in reverse start order, children before their supervisor', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    await runtime.startSupervisor({
      children: [
        worker('1', log),
        { id: 'sub', supervisor: { children: [worker('2', log), worker('3', log)] } },
        worker('4', log),
      ],
    });
    await runtime.startSupervisor({ children: [worker('5', log)] });
    const loose = runtime.spawn(recorder, { args: { id: 'loose', log } });
    log.length = 0;
    await runtime.shutdown();
    expect(log).toEqual(['stop 5', 'stop 4', 'stop 3', 'stop 2', 'stop 1', 'stop loose']);
    expect(runtime.isAlive(loose)).toBe(false);
    expect(runtime.processes()).toEqual([]);
    expect(runtime.status).toBe('stopped');
  });

  it('stops the children it started in reverse order, one at a time, when stopped before its init has started them all', async () => {
    // Review finding: a supervisor stopped during its init ran no terminate, so the children it
    // had started heard only the broken link: all at once, in start order, and its parent took
    // the subtree for stopped before they were. OTP's supervisor finishes init, then stops them
    // in reverse start order.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    const slowStop = deferred();
    const neverStarts = deferred();
    const starting = runtime
      .startSupervisor({
        children: [
          worker('a', log),
          {
            id: 'b',
            behavior: {
              init: () => void log.push('start b'),
              terminate: async () => {
                log.push('stopping b');
                await slowStop.promise;
                log.push('stop b');
              },
            },
          },
          {
            id: 'c',
            behavior: {
              init: () => {
                log.push('start c');
                return neverStarts.promise;
              },
            },
          },
        ],
      })
      .then(
        () => 'started',
        () => 'failed',
      );
    await until(() => log.includes('start c'), 'the third child to begin its init');
    const stopping = runtime.shutdown();
    await settle();
    expect(log).toEqual(['start a', 'start b', 'start c', 'stopping b']);
    slowStop.resolve();
    await stopping;
    expect(log).toEqual(['start a', 'start b', 'start c', 'stopping b', 'stop b', 'stop a']);
    expect(await starting).toBe('failed');
    expect(runtime.processes()).toEqual([]);
  });

  it('exits only after a child it was stopping for a restart has exited, when stopped during that restart', async () => {
    // A supervisor is stopped while a one-for-all restart waits for a slow sibling to stop. In
    // OTP the supervisor handles its parent's exit after the restart, so its exit always means its
    // children are gone; here the child being stopped had left the list its terminate stops.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    const slowStop = deferred();
    const supervisor = await runtime.startSupervisor({
      strategy: 'one-for-all',
      children: [
        {
          id: 'slow',
          shutdown: 'infinity',
          behavior: {
            terminate: async () => {
              log.push('stopping slow');
              await slowStop.promise;
              log.push('stop slow');
            },
          },
        },
        worker('b', log),
      ],
    });
    log.length = 0;
    await crash(runtime, supervisor, 'b');
    expect(log).toEqual(['stop b', 'stopping slow']);
    void runtime.whenExited(supervisor).then(() => log.push('supervisor exited'));
    const stopping = runtime.terminateChild(runtime.rootSupervisor, (await runtime.whichChildren(runtime.rootSupervisor))[0]!.id);
    await settle();
    slowStop.resolve();
    await stopping;
    await settle();
    expect(log).toEqual(['stop b', 'stopping slow', 'stop slow', 'supervisor exited']);
    expect(runtime.processes()).toHaveLength(2);
    await runtime.shutdown();
  });

  it('kills a child that outlives its shutdown timeout; brutal-kill skips terminate; infinity waits', async () => {
    const { simulation, runtime } = simulatedRuntime();
    const log: string[] = [];
    const stuck = deferred();
    const slow: Behavior = {
      terminate() {
        log.push('slow terminate started');
        return stuck.promise;
      },
    };
    const patient = deferred();
    const supervisor = await runtime.startSupervisor({
      children: [
        { id: 'slow', behavior: slow, shutdown: 300 },
        { id: 'brutal', behavior: { terminate: () => void log.push('brutal terminate') }, shutdown: 'brutal-kill' },
        { id: 'patient', behavior: { terminate: () => patient.promise }, shutdown: 'infinity' },
      ],
    });
    const children = await pids(runtime, supervisor);
    const exits = ['slow', 'brutal', 'patient'].map((id) => runtime.whenExited(children[id]!));
    await runtime.terminateChild(supervisor, 'brutal');
    expect(await exits[1]).toBe('killed');
    const terminating = runtime.terminateChild(supervisor, 'slow');
    await simulation.runForAsync(299);
    expect(runtime.isAlive(children.slow!)).toBe(true);
    await simulation.runForAsync(1);
    await terminating;
    expect(await exits[0]).toBe('killed');
    const waiting = runtime.terminateChild(supervisor, 'patient');
    await simulation.runForAsync(60_000);
    expect(runtime.isAlive(children.patient!)).toBe(true);
    patient.resolve();
    await waiting;
    expect(await exits[2]).toBe('shutdown');
    expect(log).toEqual(['slow terminate started']);
    await runtime.shutdown();
  });

  it('a supervisor stops a trapping child with shutdown: exits from the parent are not turned into messages', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const seen: unknown[] = [];
    const trapping: Behavior = {
      init: (_args, self) => self.trapExits(true),
      handleMessage: (message) => void seen.push(message),
    };
    const supervisor = await runtime.startSupervisor({ children: [{ id: 'trapper', behavior: trapping }] });
    const child = (await pids(runtime, supervisor)).trapper!;
    const exit = runtime.whenExited(child);
    runtime.exit(child, 'shutdown');
    await settle();
    expect(runtime.isAlive(child)).toBe(true);
    expect(seen).toMatchObject([{ type: 'exit', reason: 'shutdown' }]);
    await runtime.terminateChild(supervisor, 'trapper');
    expect(await exit).toBe('shutdown');
    await runtime.shutdown();
  });

  it('children receive the supervisor as their parent and stop when it is killed', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    const supervisor = await runtime.startSupervisor({ children: [worker('a', log)] });
    const child = (await pids(runtime, supervisor)).a!;
    const childExit = runtime.whenExited(child);
    runtime.exit(supervisor, 'kill');
    expect(await childExit).toBe('killed');
    await runtime.shutdown();
  });

  it('a trapping child runs terminate with killed when its supervisor is killed, as a generic server does', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    const trapping: Behavior = {
      init: (_args, self) => self.trapExits(true),
      terminate: (reason) => void log.push(`terminate ${String(reason)}`),
    };
    const supervisor = await runtime.startSupervisor({ children: [{ id: 'trapper', behavior: trapping }] });
    const child = (await pids(runtime, supervisor)).trapper!;
    const childExit = runtime.whenExited(child);
    runtime.exit(supervisor, 'kill');
    expect(await childExit).toBe('killed');
    expect(log).toEqual(['terminate killed']);
    await runtime.shutdown();
  });

  it('handles requests from inside processes too', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const supervisor = await runtime.startSupervisor({});
    const asker = runtime.spawn({
      handleCall: async (_request, _self: ProcessSelf) => runtime.startChild(supervisor, { id: 'from-a-process', behavior: () => undefined }),
    });
    const started = await runtime.call<Pid>(asker, 'go');
    expect(runtime.isAlive(started)).toBe(true);
    await runtime.shutdown();
  });
});
