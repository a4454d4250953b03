import { describe, expect, it } from '@jest/globals';
import { deferred, lookalikeDown, settle, until } from '../../test/support';
import { Pid } from '../core/pid';
import { InvalidPidError } from '../errors/invalid-pid-error';
import { RuntimeStoppedError } from '../errors/runtime-stopped-error';
import { createRuntime } from './runtime';
import type { Runtime, RuntimeImpl } from './runtime';
import { isDownMessage, isExitMessage } from './system-messages';
import type { ExitMessage, DownMessage } from './system-messages';
import type { DeadLetter } from './options';
import type { Behavior, ExitReason, ProcessSelf } from './types';

interface Probe {
  readonly pid: Pid;
  readonly inbox: unknown[];
}

/** A process that records every message and obeys a few commands. */
function probe(runtime: Runtime, options: { trapExits?: boolean } = {}): Probe {
  const inbox: unknown[] = [];
  const behavior: Behavior = {
    handleMessage(message, self) {
      if (typeof message === 'object' && message !== null && 'command' in message) {
        const { command, target, reason } = message as { command: string; target: Pid; reason: ExitReason };
        if (command === 'link') self.link(target);
        if (command === 'unlink') self.unlink(target);
        if (command === 'monitor') inbox.push({ ref: self.monitor(target) });
        if (command === 'exit') self.exit(target, reason);
        if (command === 'stop') self.stop(reason);
        if (command === 'throw') throw new Error(String(reason));
        return;
      }
      inbox.push(message);
    },
  };
  return { pid: runtime.spawn(behavior, { trapExits: options.trapExits === true }), inbox };
}

function command(runtime: Runtime, to: Pid, body: Record<string, unknown>): void {
  runtime.send(to, body);
}

async function linked(runtime: Runtime, options: { a?: boolean; b?: boolean } = {}): Promise<[Probe, Probe]> {
  const a = probe(runtime, { trapExits: options.a === true });
  const b = probe(runtime, { trapExits: options.b === true });
  command(runtime, a.pid, { command: 'link', target: b.pid });
  await settle();
  return [a, b];
}

describe('links', () => {
  it('propagate an abnormal exit both ways and make both processes links of each other', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const [a, b] = await linked(runtime);
    expect(runtime.processInfo(a.pid)?.links).toEqual([b.pid]);
    expect(runtime.processInfo(b.pid)?.links).toEqual([a.pid]);
    const aExit = runtime.whenExited(a.pid);
    command(runtime, b.pid, { command: 'throw', reason: 'b failed' });
    expect(((await aExit) as Error).message).toBe('b failed');
    expect(runtime.isAlive(b.pid)).toBe(false);
    await runtime.shutdown();
  });

  it('do not propagate a normal exit to a process that does not trap exits', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const [a, b] = await linked(runtime);
    command(runtime, b.pid, { command: 'stop', reason: 'normal' });
    await settle();
    expect(runtime.isAlive(a.pid)).toBe(true);
    expect(runtime.processInfo(a.pid)?.links).toEqual([]);
    await runtime.shutdown();
  });

  it('turn exit signals into exit messages for a process that traps exits, normal ones included', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const [a, b] = await linked(runtime, { a: true });
    const [c, d] = await linked(runtime, { a: true });
    command(runtime, b.pid, { command: 'throw', reason: 'abnormal' });
    command(runtime, d.pid, { command: 'stop', reason: 'normal' });
    await until(() => a.inbox.length === 1 && c.inbox.length === 1);
    const exit = a.inbox[0] as ExitMessage;
    expect(isExitMessage(exit)).toBe(true);
    expect(exit.from.equals(b.pid)).toBe(true);
    expect((exit.reason as Error).message).toBe('abnormal');
    expect(c.inbox[0]).toMatchObject({ type: 'exit', reason: 'normal' });
    expect(runtime.isAlive(a.pid) && runtime.isAlive(c.pid)).toBe(true);
    await runtime.shutdown();
  });

  it('stop propagating after unlink', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const [a, b] = await linked(runtime);
    command(runtime, a.pid, { command: 'unlink', target: b.pid });
    await settle();
    command(runtime, b.pid, { command: 'throw', reason: 'alone' });
    await settle();
    expect(runtime.isAlive(a.pid)).toBe(true);
    await runtime.shutdown();
  });

  it('have no effect after unlink, also when the linked process exited while the handler that unlinks it was running', async () => {
    // OTP's unlink/1: "Once unlink(Id) has returned, it is guaranteed that the link between the
    // caller and the entity referred to by Id has no effect on the caller in the future." An exit
    // signal from the link that arrived during the handler and still waits for it to return has
    // had no effect yet; an exit from another link still ends the process.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const b = runtime.spawn(() => undefined);
    const c = runtime.spawn(() => undefined);
    const d = runtime.spawn(() => undefined);
    const unlinker = runtime.spawn((message: unknown, self: ProcessSelf) => {
      self.link(b);
      self.exit(b, 'b failed');
      if (message === 'both') {
        self.link(c);
        self.exit(c, 'c failed');
        self.link(d);
        self.exit(d, 'd failed');
        self.unlink(c);
      }
      self.unlink(b);
    });
    runtime.send(unlinker, 'one');
    await settle();
    expect(runtime.isAlive(b)).toBe(false);
    expect(runtime.isAlive(unlinker)).toBe(true);
    const unlinkerExit = runtime.whenExited(unlinker);
    runtime.send(unlinker, 'both');
    expect(await unlinkerExit).toBe('d failed');
    await runtime.shutdown();
  });

  it('survive an unlink of a pid from an earlier incarnation with the same local id', async () => {
    // Review finding: unlink looked the pid up by local id alone, so it broke the link to the live
    // process that has that id in this incarnation.
    const runtime = createRuntime({ nodeId: 'node-a', creation: 2 });
    const [a, b] = await linked(runtime);
    const stale = new Pid('node-a', b.pid.id, 1);
    command(runtime, a.pid, { command: 'unlink', target: stale });
    await settle();
    expect(runtime.processInfo(a.pid)?.links).toEqual([b.pid]);
    const aExit = runtime.whenExited(a.pid);
    command(runtime, b.pid, { command: 'throw', reason: 'still linked' });
    expect(((await aExit) as Error).message).toBe('still linked');
    // And unlink, like link, needs a pid.
    const c = probe(runtime);
    const cExit = runtime.whenExited(c.pid);
    command(runtime, c.pid, { command: 'unlink', target: b.pid.toString() });
    expect(await cExit).toBeInstanceOf(InvalidPidError);
    await runtime.shutdown();
  });

  it('to a process that does not exist deliver an exit signal noproc', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const ghost = new Pid('node-a', 777_777);
    const trapping = probe(runtime, { trapExits: true });
    const plain = probe(runtime);
    const plainExit = runtime.whenExited(plain.pid);
    command(runtime, trapping.pid, { command: 'link', target: ghost });
    command(runtime, plain.pid, { command: 'link', target: ghost });
    expect(await plainExit).toBe('noproc');
    await until(() => trapping.inbox.length === 1);
    expect(trapping.inbox[0]).toMatchObject({ type: 'exit', reason: 'noproc' });
    await runtime.shutdown();
  });

  it('cascade through a long chain without recursion', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const pids: Pid[] = [runtime.spawn(() => undefined)];
    for (let index = 1; index < 20_000; index += 1) pids.push(runtime.spawn(() => undefined, { link: pids[index - 1]! }));
    const last = runtime.whenExited(pids[pids.length - 1]!);
    runtime.exit(pids[0]!, 'cascade');
    expect(await last).toBe('cascade');
    expect(runtime.processes()).toHaveLength(2);
    await runtime.shutdown();
  });

  it('are made before init runs with the link option (spawn_link), so an init failure reaches the linker', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const parent = probe(runtime, { trapExits: true });
    runtime.spawn(
      {
        init() {
          throw new Error('init failed');
        },
      },
      { link: parent.pid },
    );
    await until(() => parent.inbox.length === 1);
    expect(parent.inbox[0]).toMatchObject({ type: 'exit' });
    expect(((parent.inbox[0] as ExitMessage).reason as Error).message).toBe('init failed');
    await runtime.shutdown();
  });
});

describe('exit signals', () => {
  it('kill cannot be trapped: the target exits with killed, which its links may trap', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const [a, b] = await linked(runtime, { a: true, b: true });
    const [c, d] = await linked(runtime, { b: true });
    const bExit = runtime.whenExited(b.pid);
    const cExit = runtime.whenExited(c.pid);
    runtime.exit(b.pid, 'kill');
    runtime.exit(d.pid, 'kill');
    expect(await bExit).toBe('killed');
    expect(await cExit).toBe('killed');
    await until(() => a.inbox.length === 1);
    expect(a.inbox[0]).toMatchObject({ type: 'exit', reason: 'killed' });
    expect(runtime.isAlive(a.pid)).toBe(true);
    await runtime.shutdown();
  });

  it('exit(pid, normal) is ignored unless the target traps exits or sent it to itself', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const plain = probe(runtime);
    const trapping = probe(runtime, { trapExits: true });
    const self = probe(runtime);
    runtime.exit(plain.pid, 'normal');
    runtime.exit(trapping.pid, 'normal');
    const selfExit = runtime.whenExited(self.pid);
    command(runtime, self.pid, { command: 'exit', target: self.pid, reason: 'normal' });
    expect(await selfExit).toBe('normal');
    await until(() => trapping.inbox.length === 1);
    expect(runtime.isAlive(plain.pid)).toBe(true);
    expect(trapping.inbox[0]).toMatchObject({ type: 'exit', reason: 'normal' });
    await runtime.shutdown();
  });

  it('ends a non-trapping target with the reason, applied after its running handler returns', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const steps: string[] = [];
    const pid = runtime.spawn((_message: unknown, self: ProcessSelf) => {
      self.exit(self.pid, 'self-inflicted');
      steps.push('handler finished');
    });
    const exit = runtime.whenExited(pid);
    runtime.send(pid, 'go');
    expect(await exit).toBe('self-inflicted');
    expect(steps).toEqual(['handler finished']);
    await runtime.shutdown();
  });

  it('kill cuts an async terminate short', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const never = deferred();
    const pid = runtime.spawn({ terminate: () => never.promise });
    const exit = runtime.whenExited(pid);
    runtime.exit(pid, 'shutdown');
    await settle();
    expect(runtime.processInfo(pid)?.status).toBe('exiting');
    runtime.exit(pid, 'kill');
    expect(await exit).toBe('killed');
    await runtime.shutdown();
  });

  it('killed arriving through a link is an ordinary reason: terminate runs, and an async terminate is not cut short', async () => {
    // Review finding: the runtime took every `killed` for the untrappable kill, so a process
    // whose link partner was killed skipped its terminate (a trapping child of a killed
    // supervisor, as OTP's generic servers do, runs terminate(killed)), and one already in an
    // async terminate was cut short by it. Only exit(pid, 'kill') is untrappable.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    const victim = runtime.spawn(() => undefined);
    const plain = runtime.spawn({ terminate: (reason: ExitReason) => void log.push(`plain ${String(reason)}`) }, { link: victim });
    const killed = runtime.spawn({ terminate: (reason: ExitReason) => void log.push(`killed ${String(reason)}`) }, { trapExits: true });
    const finishing = deferred();
    const slow = runtime.spawn(
      {
        terminate: (reason: ExitReason) => {
          log.push(`slow ${String(reason)}`);
          return finishing.promise;
        },
      },
      { link: victim },
    );
    const exits = [plain, killed, slow].map((pid) => runtime.whenExited(pid));
    runtime.exit(slow, 'shutdown');
    runtime.exit(killed, 'kill');
    expect(await exits[1]).toBe('killed'); // the untrappable kill: no terminate
    expect(runtime.processInfo(slow)?.status).toBe('exiting');
    runtime.exit(victim, 'kill');
    expect(await exits[0]).toBe('killed');
    await settle();
    expect(runtime.isAlive(slow)).toBe(true);
    finishing.resolve();
    expect(await exits[2]).toBe('shutdown');
    expect(log).toEqual(['slow shutdown', 'plain killed']);
    await runtime.shutdown();
  });

  it('a process that stops itself with kill exits with kill after its terminate, and its links may trap that kill', async () => {
    // OTP's erlang:exit/1: "If a process calls exit(kill) and does not catch the exception, it
    // will terminate with exit reason kill and also emit exit signals with exit reason kill (not
    // killed) to all linked processes. Such exit signals with exit reason kill can be trapped by
    // the linked processes." A generic server doing so runs terminate(kill). Only
    // exit(pid, 'kill') sent to a process is the untrappable end that becomes `killed`.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const log: string[] = [];
    const stopper = runtime.spawn({
      handleMessage: (_message: unknown, self: ProcessSelf) => self.stop('kill'),
      terminate: (reason: ExitReason) => void log.push(`stopper ${String(reason)}`),
    });
    const trapping = probe(runtime, { trapExits: true });
    command(runtime, trapping.pid, { command: 'link', target: stopper });
    const plain = runtime.spawn({ terminate: (reason: ExitReason) => void log.push(`plain ${String(reason)}`) }, { link: stopper });
    const downs: unknown[] = [];
    runtime.monitor(stopper, (down) => downs.push(down.reason));
    const exits = [stopper, plain].map((pid) => runtime.whenExited(pid));
    await settle();
    runtime.send(stopper, 'go');
    expect(await exits[0]).toBe('kill');
    expect(await exits[1]).toBe('kill');
    await until(() => trapping.inbox.length === 1);
    expect(trapping.inbox[0]).toMatchObject({ type: 'exit', reason: 'kill' });
    expect(runtime.isAlive(trapping.pid)).toBe(true);
    expect(downs).toEqual(['kill']);
    expect(log).toEqual(['stopper kill', 'plain kill']);
    await runtime.shutdown();
  });

  it('a process killed while an async handler is pending exits at once; the handler result is ignored', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const gate = deferred();
    let abortedDuringHandler = false;
    const pid = runtime.spawn(async (_message: unknown, self: ProcessSelf) => {
      await gate.promise;
      abortedDuringHandler = self.signal.aborted;
      self.send(self.pid, 'zombie send');
    });
    runtime.send(pid, 'go');
    await settle();
    runtime.exit(pid, 'kill');
    expect(runtime.isAlive(pid)).toBe(false);
    gate.resolve();
    await settle();
    expect(abortedDuringHandler).toBe(true);
    await runtime.shutdown();
  });
});

describe("the runtime's own processes", () => {
  it('refuse exit signals from the runtime API and from processes, report them as dead letters, and still stop at shutdown', async () => {
    const letters: DeadLetter[] = [];
    const runtime = createRuntime({ nodeId: 'node-a', onDeadLetter: (letter) => letters.push(letter) });
    // The first process a runtime spawns is its system process; the root supervisor is next.
    const [system, root] = runtime.processes() as [Pid, Pid];
    expect(root.equals(runtime.rootSupervisor)).toBe(true);
    const supervisor = await runtime.startSupervisor({ children: [{ id: 'worker', behavior: () => 'pong', options: { name: 'worker' } }] });
    const killer = probe(runtime);

    runtime.exit(system, 'kill');
    runtime.exit(root, 'kill');
    runtime.exit(root, 'shutdown');
    command(runtime, killer.pid, { command: 'exit', target: system, reason: 'kill' });
    command(runtime, killer.pid, { command: 'exit', target: root, reason: 'boom' });
    await settle();

    expect(runtime.isAlive(system) && runtime.isAlive(root) && runtime.isAlive(supervisor)).toBe(true);
    expect(runtime.whereis('worker')).toBeDefined();
    expect(letters.map(({ to, reason, from }) => [to, reason, from?.toString()])).toEqual([
      [system.toString(), 'refused', system.toString()],
      [root.toString(), 'refused', system.toString()],
      [root.toString(), 'refused', system.toString()],
      [system.toString(), 'refused', killer.pid.toString()],
      [root.toString(), 'refused', killer.pid.toString()],
    ]);
    expect(letters.every(({ message }) => isExitMessage(message))).toBe(true);
    expect(letters[4]!.message).toMatchObject({ type: 'exit', reason: 'boom' });
    // The runtime still works: supervisors start, callback monitors fire.
    const another = await runtime.startSupervisor({ children: [] });
    const downs: unknown[] = [];
    runtime.monitor(killer.pid, (down) => downs.push(down.reason));
    runtime.exit(killer.pid, 'done');
    await until(() => downs.length === 1);
    expect(downs).toEqual(['done']);

    const workerPid = runtime.whereis('worker')!;
    const workerExit = runtime.whenExited(workerPid);
    await runtime.shutdown();
    expect(await workerExit).toBe('shutdown');
    expect(runtime.isAlive(another) || runtime.isAlive(root) || runtime.isAlive(system)).toBe(false);
    expect(runtime.processes()).toEqual([]);
  });
});

describe("the runtime's own processes, against failures", () => {
  it('keep the system process alive through messages it cannot read', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const [system] = runtime.processes() as [Pid];
    const unreadable = (): never => {
      throw new Error('unreadable');
    };
    const throwingMarker = Object.defineProperty({}, Symbol.for('@foundation/process/DownMessage'), { get: unreadable });
    const forgedDown = Object.defineProperties({}, { [Symbol.for('@foundation/process/DownMessage')]: { value: true }, ref: { get: unreadable } });
    runtime.send(system, throwingMarker);
    runtime.send(system, forgedDown);
    runtime.send(system, new Proxy({}, { get: unreadable }));
    await settle();
    expect(runtime.isAlive(system)).toBe(true);
    expect(runtime.status).toBe('running');
    // Callback monitors, which the system process runs, still fire.
    const downs: unknown[] = [];
    const watched = runtime.spawn(() => undefined);
    runtime.monitor(watched, (down) => downs.push(down.reason));
    runtime.exit(watched, 'gone');
    await until(() => downs.length === 1);
    expect(downs).toEqual(['gone']);
    await runtime.shutdown();
  });

  it('run a runtime.monitor callback for the down the runtime delivers, never for a lookalike sent to the system process', async () => {
    // Review finding: the system process ran the callback of any message that had the public
    // down marker and a callback's reference, and references are predictable: any code could
    // fire someone else's callback, with any reason, while the process still ran.
    const runtime = createRuntime({ nodeId: 'node-a' });
    const [system] = runtime.processes() as [Pid];
    const watched = runtime.spawn(() => undefined);
    const downs: unknown[] = [];
    const ref = runtime.monitor(watched, (down) => downs.push(down.reason));
    runtime.send(system, lookalikeDown(ref, watched, 'forged'));
    await settle();
    expect(downs).toEqual([]);
    runtime.exit(watched, 'real');
    await until(() => downs.length === 1);
    expect(downs).toEqual(['real']);
    await runtime.shutdown();
  });

  it.each([
    ['system process', 'system'],
    ['root supervisor', 'root-supervisor'],
  ])('stop the runtime, reported, when the %s exits other than by shutdown', async (_name, which) => {
    const events: unknown[] = [];
    const runtime = createRuntime({
      nodeId: 'node-a',
      telemetry: {
        execute(event, _measurements, metadata) {
          if (event.join('.') === 'foundation.process.internal-exit') events.push([metadata.process, metadata.reason]);
        },
      },
    });
    await runtime.startSupervisor({ children: [{ id: 'worker', behavior: () => undefined, options: { name: 'worker' } }] });
    runtime.spawn(() => undefined);
    // White-box: nothing in the API ends them any more; this stands for a failure nobody foresaw.
    const internals = runtime as unknown as RuntimeImpl;
    internals.terminate(which === 'system' ? internals.system : internals.root, 'unforeseen');
    await until(() => runtime.status === 'stopped', 'the runtime to stop');
    expect(events).toEqual([[which, 'unforeseen']]);
    expect(runtime.processes()).toEqual([]);
    expect(runtime.registered()).toEqual([]);
    expect(() => runtime.spawn(() => undefined)).toThrow(RuntimeStoppedError);
  });
});

describe('monitors', () => {
  it('deliver one down message with the reason, and none after demonitor', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const watcher = probe(runtime);
    const target = probe(runtime);
    const other = probe(runtime);
    command(runtime, watcher.pid, { command: 'monitor', target: target.pid });
    command(runtime, watcher.pid, { command: 'monitor', target: target.pid });
    await settle();
    const [{ ref: first }, { ref: second }] = watcher.inbox.splice(0) as [{ ref: string }, { ref: string }];
    expect(first).not.toBe(second);
    command(runtime, target.pid, { command: 'throw', reason: 'watched failure' });
    await until(() => watcher.inbox.length === 2);
    const downs = watcher.inbox as DownMessage[];
    expect(downs.every(isDownMessage)).toBe(true);
    expect(downs.map((down) => down.ref).sort()).toEqual([first, second].sort());
    expect(downs.every((down) => down.pid.equals(target.pid) && (down.reason as Error).message === 'watched failure')).toBe(true);
    expect(runtime.isAlive(watcher.pid)).toBe(true);

    const watcher2 = runtime.spawn((message: unknown, self: ProcessSelf) => {
      if (message === 'go') self.demonitor(self.monitor(other.pid));
      else watcher.inbox.push(message);
    });
    runtime.send(watcher2, 'go');
    await settle();
    runtime.exit(other.pid, 'shutdown');
    await settle();
    expect(watcher.inbox).toHaveLength(2);
    await runtime.shutdown();
  });

  it('deliver down with noproc at once for a pid that is already dead, and are one-way', async () => {
    const runtime = createRuntime({ nodeId: 'node-a' });
    const watcher = probe(runtime);
    const target = probe(runtime);
    runtime.exit(target.pid, 'kill');
    command(runtime, watcher.pid, { command: 'monitor', target: target.pid });
    await until(() => watcher.inbox.length === 2);
    expect(watcher.inbox[1]).toMatchObject({ type: 'down', reason: 'noproc' });

    const survivor = probe(runtime);
    const watcher2 = probe(runtime);
    command(runtime, watcher2.pid, { command: 'monitor', target: survivor.pid });
    await settle();
    runtime.exit(watcher2.pid, 'kill');
    await settle();
    expect(runtime.isAlive(survivor.pid)).toBe(true);
    expect(runtime.processInfo(survivor.pid)?.monitoredBy).toBe(0);
    await runtime.shutdown();
  });
});
