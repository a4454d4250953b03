import { describe, expect, it } from '@jest/globals';
import { FoundationError } from '@foundation/core';
import { checkDeterminism, createSimulation } from '@foundation/testkit';
import type { Simulation } from '@foundation/testkit';
import { Pid } from '../core/pid';
import { PROCESS_ERROR_CODES } from '../errors/codes';
import { CallTimeoutError } from '../errors/call-timeout-error';
import { NoConnectionError } from '../errors/no-connection-error';
import { createSchedulerDriver } from '../runtime/driver';
import type { DeadLetter, RuntimeOptions } from '../runtime/options';
import { createRuntime } from '../runtime/runtime';
import type { Runtime } from '../runtime/runtime';
import { isDownMessage, isExitMessage } from '../runtime/system-messages';
import { NO_REPLY } from '../runtime/types';
import type { ProcessSelf } from '../runtime/types';
import { createTransportRouter } from './router';

interface Cluster {
  readonly simulation: Simulation;
  runtime(id: string): Runtime;
  readonly letters: DeadLetter[];
  readonly telemetry: string[];
}

/** Nodes on testkit's simulated network, each with a runtime wired through a transport router. */
function cluster(seed: number, ids: readonly string[], options: Partial<RuntimeOptions> = {}, simulation?: Simulation): Cluster {
  const sim = simulation ?? createSimulation({ seed, network: { latency: { min: 1, max: 5 }, failureDetectionMs: 200 } });
  const runtimes = new Map<string, Runtime>();
  const letters: DeadLetter[] = [];
  const telemetry: string[] = [];
  for (const id of ids) {
    sim.addNode(id, {
      start: ({ clock, transport, incarnation }) => {
        runtimes.set(
          id,
          createRuntime({
            nodeId: id,
            creation: incarnation,
            clock,
            driver: createSchedulerDriver(clock),
            router: createTransportRouter(transport),
            onDeadLetter: (letter) => letters.push(letter),
            telemetry: { execute: (event) => void telemetry.push(`${id} ${event.join('.')}`) },
            ...options,
          }),
        );
      },
    });
  }
  return { simulation: sim, runtime: (id) => runtimes.get(id)!, letters, telemetry };
}

/** A process that records what it receives and runs commands sent to it. */
function probe(runtime: Runtime, inbox: unknown[], options: { trapExits?: boolean } = {}): Pid {
  return runtime.spawn(
    (message: unknown, self: ProcessSelf) => {
      if (typeof message === 'object' && message !== null && 'command' in message) {
        const { command, target } = message as { command: string; target: Pid };
        if (command === 'link') self.link(target);
        if (command === 'monitor') inbox.push({ monitored: self.monitor(target) });
        if (command === 'ping') self.send(target, { ping: self.pid });
        return undefined;
      }
      if (typeof message === 'object' && message !== null && 'ping' in message) {
        self.send((message as { ping: Pid }).ping, { pong: self.pid });
      }
      inbox.push(message);
      return { echo: message };
    },
    { trapExits: options.trapExits === true },
  );
}

describe('location transparency through a RemoteRouter (testkit network)', () => {
  it('sends to a pid on another node, pids in the body arrive as pids, and replies come back', async () => {
    const { simulation, runtime } = cluster(1, ['a', 'b']);
    const inboxA: unknown[] = [];
    const inboxB: unknown[] = [];
    const onA = probe(runtime('a'), inboxA);
    const onB = probe(runtime('b'), inboxB);
    runtime('a').send(onA, { command: 'ping', target: onB });
    await simulation.runUntilAsync(() => inboxA.length === 1);
    const ping = inboxB[0] as { ping: Pid };
    expect(Pid.is(ping.ping) && ping.ping.equals(onA)).toBe(true);
    const pong = inboxA[0] as { pong: Pid };
    expect(Pid.is(pong.pong) && pong.pong.equals(onB)).toBe(true);
    expect(simulation.network.stats().delivered).toBe(2);
  });

  it('calls a process on another node, by pid and by registered name, and fails fast with noproc', async () => {
    const { simulation, runtime } = cluster(2, ['a', 'b']);
    const onB = probe(runtime('b'), []);
    runtime('b').register('echo', onB);
    const results: unknown[] = [undefined, undefined, undefined, undefined];
    const record = (index: number, promise: Promise<unknown>): void =>
      void promise.then(
        (value) => (results[index] = value),
        (error: unknown) => (results[index] = error),
      );
    record(0, runtime('a').call(onB, 'by pid'));
    record(1, runtime('a').call({ name: 'echo', node: 'b' }, 'by name'));
    record(2, runtime('a').call(new Pid('b', 999), 'nobody'));
    record(3, runtime('a').call({ name: 'missing', node: 'b' }, 'nobody'));
    await simulation.runUntilAsync(() => results.every((result) => result !== undefined));
    expect(results.slice(0, 2)).toEqual([{ echo: 'by pid' }, { echo: 'by name' }]);
    for (const error of results.slice(2)) expect(FoundationError.hasType(error, PROCESS_ERROR_CODES.noProcess)).toBe(true);
    runtime('a').send({ name: 'echo', node: 'b' }, 'cast by name');
    await simulation.runForAsync(20);
  });

  it('fails a call from another node to a supervisor that is not one of its requests with unsupported', async () => {
    const { simulation, runtime } = cluster(3, ['a', 'b']);
    let outcome: unknown;
    runtime('a')
      .call(runtime('b').rootSupervisor, { op: 'which-children' })
      .then(
        (reply) => (outcome = { reply }),
        (error: unknown) => (outcome = error),
      );
    await simulation.runUntilAsync(() => outcome !== undefined);
    expect(FoundationError.hasType(outcome, PROCESS_ERROR_CODES.unsupported)).toBe(true);
    expect(runtime('b').isAlive(runtime('b').rootSupervisor)).toBe(true);
  });

  it('keeps nothing for a remote call answered with self.reply before handleCall returns', async () => {
    // Review finding: such a call was answered, then still held as pending (only calls from this
    // node were skipped), so a server answering this way kept one entry per remote call until it
    // exited. White-box: the held set is not visible through the API.
    const { simulation, runtime } = cluster(3, ['a', 'b']);
    const server = runtime('b').spawn({
      handleCall: (request: unknown, self: ProcessSelf, from) => {
        self.reply(from, request);
        return NO_REPLY;
      },
    });
    const replies: unknown[] = [];
    for (let index = 0; index < 50; index += 1) void runtime('a').call(server, index).then((value) => replies.push(value));
    await simulation.runUntilAsync(() => replies.length === 50);
    const record = (runtime('b') as unknown as { table: { get(id: number): { pendingReplies: Set<unknown> | null } } }).table.get(server.id);
    expect(record.pendingReplies?.size ?? 0).toBe(0);
  });

  it('reports messages from another node beyond a full backpressure mailbox’s waiting bound as dead letters', async () => {
    const { simulation, runtime, letters } = cluster(3, ['a', 'b']);
    const handled: unknown[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const target = runtime('b').spawn(
      async (message: unknown) => {
        handled.push(message);
        if (message === 'block') await gate;
      },
      { mailbox: { capacity: 1, overflow: 'backpressure', maxWaiting: 2 } },
    );
    runtime('b').send(target, 'block');
    await simulation.runForAsync(1);
    for (let message = 0; message < 6; message += 1) runtime('a').send(target, message);
    await simulation.runUntilAsync(() => letters.length === 3);
    expect(letters.map(({ message, reason }) => [message, reason])).toEqual([
      [3, 'overflow'],
      [4, 'overflow'],
      [5, 'overflow'],
    ]);
    expect(runtime('b').processInfo(target)?.mailbox).toMatchObject({ length: 1, waiting: 2 });
    release();
    await simulation.runUntilAsync(() => handled.length === 4);
    expect(handled).toEqual(['block', 0, 1, 2]);
  });

  it('times a remote call out on the simulated clock when the network loses it', async () => {
    const { simulation, runtime } = cluster(3, ['a', 'b']);
    const onB = probe(runtime('b'), []);
    simulation.network.cut('a', 'b');
    const outcome: unknown[] = [];
    runtime('a').call(onB, 'lost', { timeout: 300 }).catch((error: unknown) => outcome.push(error));
    await simulation.runForAsync(299);
    expect(outcome).toEqual([]);
    await simulation.runForAsync(1);
    expect(outcome[0]).toBeInstanceOf(CallTimeoutError);
    expect(runtime('a').stats().pendingRemoteCalls).toBe(0);
  });

  it('monitors a remote process: one down with its reason, and noproc for one that is gone', async () => {
    const { simulation, runtime } = cluster(4, ['a', 'b']);
    const inbox: unknown[] = [];
    const watcher = probe(runtime('a'), inbox);
    const target = probe(runtime('b'), []);
    const gone = probe(runtime('b'), []);
    runtime('b').exit(gone, 'kill');
    runtime('a').send(watcher, { command: 'monitor', target });
    runtime('a').send(watcher, { command: 'monitor', target: gone });
    await simulation.runForAsync(20);
    runtime('b').exit(target, 'shutdown');
    await simulation.runUntilAsync(() => inbox.filter(isDownMessage).length === 2);
    const downs = inbox.filter(isDownMessage);
    expect(downs.map((down) => [down.pid.toString(), down.reason])).toEqual([
      [gone.toString(), 'noproc'],
      [target.toString(), 'shutdown'],
    ]);
    const refs = inbox.filter((entry): entry is { monitored: string } => typeof entry === 'object' && entry !== null && 'monitored' in entry);
    expect(downs.map((down) => down.ref).sort()).toEqual(refs.map((entry) => entry.monitored).sort());
  });

  it('links across nodes: an abnormal exit on one side ends or notifies the other, errors rebuilt', async () => {
    const { simulation, runtime } = cluster(5, ['a', 'b']);
    const trapped: unknown[] = [];
    const trapper = probe(runtime('a'), trapped, { trapExits: true });
    const plain = probe(runtime('a'), []);
    const remoteOne = probe(runtime('b'), []);
    const remoteTwo = probe(runtime('b'), []);
    runtime('a').send(trapper, { command: 'link', target: remoteOne });
    runtime('a').send(plain, { command: 'link', target: remoteTwo });
    await simulation.runForAsync(20);
    expect(runtime('b').processInfo(remoteOne)?.links.map(String)).toEqual([trapper.toString()]);
    const plainExit = runtime('a').whenExited(plain);
    let plainReason: unknown;
    void plainExit.then((reason) => (plainReason = reason));
    runtime('b').exit(remoteOne, new Error('remote failure'));
    runtime('b').exit(remoteTwo, 'boom');
    await simulation.runUntilAsync(() => trapped.length === 1 && plainReason !== undefined);
    expect(isExitMessage(trapped[0])).toBe(true);
    const reason = (trapped[0] as { reason: unknown }).reason;
    expect(FoundationError.is(reason) && reason.message).toBe('remote failure');
    expect(plainReason).toBe('boom');
    // And the other way: a local crash reaches the remote linked process.
    const remoteTrapper: unknown[] = [];
    const onB = probe(runtime('b'), remoteTrapper, { trapExits: true });
    const onA = probe(runtime('a'), []);
    runtime('b').send(onB, { command: 'link', target: onA });
    await simulation.runForAsync(20);
    runtime('a').exit(onA, 'local crash');
    await simulation.runUntilAsync(() => remoteTrapper.length === 1);
    expect(remoteTrapper[0]).toMatchObject({ type: 'exit', reason: 'local crash' });
  });

  it('turns a node going down into noconnection: downs, link exits and failed calls', async () => {
    const { simulation, runtime } = cluster(6, ['a', 'b']);
    const inbox: unknown[] = [];
    const watcher = probe(runtime('a'), inbox, { trapExits: true });
    const remote = probe(runtime('b'), []);
    const silent = runtime('b').spawn({ handleCall: () => new Promise(() => undefined) });
    runtime('a').send(watcher, { command: 'monitor', target: remote });
    runtime('a').send(watcher, { command: 'link', target: remote });
    const calls: unknown[] = [];
    runtime('a').call(silent, 'never answered', { timeout: Number.POSITIVE_INFINITY }).catch((error: unknown) => calls.push(error));
    await simulation.runForAsync(50);
    simulation.crash('b');
    await simulation.runUntilAsync(() => inbox.length >= 3 && calls.length === 1, { maxTime: 5_000 });
    const down = inbox.find(isDownMessage);
    const exit = inbox.find(isExitMessage);
    expect(down).toMatchObject({ reason: 'noconnection' });
    expect(down!.pid.equals(remote)).toBe(true);
    expect(exit).toMatchObject({ reason: 'noconnection' });
    expect(calls[0]).toBeInstanceOf(NoConnectionError);
    expect(runtime('a').processInfo(watcher)?.links).toEqual([]);
    expect(runtime('a').processInfo(watcher)?.monitors).toEqual([]);
  });

  it('never delivers to a process of a new incarnation a message for a pid of the old one', async () => {
    const { simulation, runtime, letters } = cluster(7, ['a', 'b']);
    const old = probe(runtime('b'), []);
    simulation.crash('b');
    simulation.restart('b');
    const inbox: unknown[] = [];
    const fresh = probe(runtime('b'), inbox);
    expect(fresh.id).toBe(old.id);
    expect(fresh.creation).not.toBe(old.creation);
    runtime('a').send(old, 'for the old incarnation');
    runtime('a').send(fresh, 'for the new one');
    await simulation.runForAsync(20);
    expect(inbox).toEqual(['for the new one']);
    expect(letters).toMatchObject([{ to: old.toString(), reason: 'noproc' }]);
  });

  it('drops malformed and spoofed signals, reports them, and keeps working', async () => {
    const { simulation, runtime, telemetry } = cluster(8, ['a', 'b', 'evil']);
    const inbox: unknown[] = [];
    const victim = probe(runtime('b'), inbox);
    const evil = simulation.node('evil').transport;
    const junk: unknown[] = [
      'not a signal',
      { v: 1, t: 'send', to: 'garbage', body: 1 },
      { v: 1, t: 'send', to: victim.toString(), from: '<a.1.0>', body: 'spoofed sender' },
      { v: 1, t: 'exit', from: '<a.1.0>', to: victim.toString(), reason: 'kill', link: false },
      { v: 1, t: 'monitor', from: '<evil.1.0>', to: victim.toString(), ref: '#Ref<a.1>' },
      { v: 1, t: 'send', to: '<a.1.0>', body: 'for another node' },
      { v: 1, t: 'send', to: victim.toString(), body: { who: { $pid: 'not-a-pid' } } },
      { v: 1, t: 'reply', ref: 1, ok: true, body: 'unsolicited reply' },
    ];
    for (const payload of junk) evil.send('b', 'process', payload);
    evil.send('b', 'process', { v: 1, t: 'send', to: victim.toString(), body: 'legitimate' });
    await simulation.runForAsync(20);
    expect(inbox).toEqual(['legitimate']);
    expect(runtime('b').isAlive(victim)).toBe(true);
    expect(telemetry.filter((entry) => entry === 'b foundation.process.malformed-signal')).toHaveLength(7);
    expect(runtime('b').stats().malformedSignals).toBe(7);
  });

  it("refuses exit signals from another node to the runtime's own processes, and keeps working", async () => {
    const { simulation, runtime, letters } = cluster(10, ['a', 'b', 'evil']);
    const b = runtime('b');
    const [system, root] = b.processes() as [Pid, Pid];
    expect(root.equals(b.rootSupervisor)).toBe(true);
    let worker: Pid | undefined;
    void b.startSupervisor({ children: [{ id: 'echo', behavior: (message: unknown) => ({ echo: message }), options: { name: 'echo' } }] });
    await simulation.runUntilAsync(() => (worker = b.whereis('echo')) !== undefined);
    // From a runtime on another node, from a process there, and as raw signals from a peer.
    const remote = probe(runtime('a'), []);
    runtime('a').exit(system, 'kill');
    runtime('a').exit(root, 'kill');
    runtime('a').exit(root, 'shutdown');
    const evil = simulation.node('evil').transport;
    evil.send('b', 'process', { v: 1, t: 'exit', from: '<evil.1.0>', to: system.toString(), reason: 'kill', link: false });
    evil.send('b', 'process', { v: 1, t: 'exit', from: '<evil.1.0>', to: root.toString(), reason: 'kill', link: false });
    // A link does not open a way in: the root traps exits, and a peer's exit is not a child's.
    evil.send('b', 'process', { v: 1, t: 'link', from: '<evil.2.0>', to: root.toString() });
    evil.send('b', 'process', { v: 1, t: 'exit', from: '<evil.2.0>', to: root.toString(), reason: 'kill', link: true });
    await simulation.runForAsync(20);
    expect(b.isAlive(system) && b.isAlive(root) && b.isAlive(worker!)).toBe(true);
    const refused = letters.filter((letter) => letter.reason === 'refused');
    expect(refused.map(({ to, from }) => [to, from?.node])).toEqual([
      [system.toString(), 'a'],
      [root.toString(), 'a'],
      [root.toString(), 'a'],
      [system.toString(), 'evil'],
      [root.toString(), 'evil'],
    ]);
    expect(b.stats().malformedSignals).toBe(0);
    // Node b still serves: a remote call by name, a new supervisor under the root.
    let reply: unknown;
    let started: Pid | undefined;
    void runtime('a').call({ name: 'echo', node: 'b' }, 'still there').then((value) => (reply = value));
    void b.startSupervisor({ children: [] }).then((pid) => (started = pid));
    await simulation.runUntilAsync(() => reply !== undefined && started !== undefined);
    expect(reply).toEqual({ echo: 'still there' });
    expect(runtime('a').isAlive(remote)).toBe(true);
  });

  it('refuses a monitor from another node that reuses a reference a local watcher holds', async () => {
    // Review finding: node `a` passes the check that a reference is its own for a local
    // watcher's `#Ref<a.b.N>` on node `a.b`, and its monitor replaced that watcher's, so the
    // watcher never got its down (node `a` got it).
    const { simulation, runtime, telemetry } = cluster(9, ['a', 'a.b']);
    const watched = runtime('a.b').spawn(() => undefined);
    const seen: unknown[] = [];
    let reference: unknown;
    const watcher = runtime('a.b').spawn((message: unknown, self: ProcessSelf) => {
      if (message === 'watch') reference = self.monitor(watched);
      else if (isDownMessage(message)) seen.push(message.reason);
    });
    runtime('a.b').send(watcher, 'watch');
    await simulation.runForAsync(5);
    simulation.node('a').transport.send('a.b', 'process', { v: 1, t: 'monitor', from: '<a.9.0>', to: watched.toString(), ref: String(reference) });
    await simulation.runForAsync(10);
    runtime('a.b').exit(watched, 'boom');
    await simulation.runForAsync(10);
    expect(seen).toEqual(['boom']);
    expect(telemetry.filter((entry) => entry === 'a.b foundation.process.malformed-signal')).toHaveLength(1);
  });

  it('reports sends to an unreachable node or without a router as dead letters and links as noconnection', async () => {
    const letters: DeadLetter[] = [];
    const alone = createRuntime({ nodeId: 'solo', onDeadLetter: (letter) => letters.push(letter) });
    alone.send(new Pid('elsewhere', 1), 'hello');
    await expect(alone.call(new Pid('elsewhere', 1), 'hello')).rejects.toBeInstanceOf(NoConnectionError);
    const downs: unknown[] = [];
    alone.monitor(new Pid('elsewhere', 1), (down) => downs.push(down.reason));
    const linker = alone.spawn((message: unknown, self: ProcessSelf) => self.link(message as Pid));
    const exit = alone.whenExited(linker);
    alone.send(linker, new Pid('elsewhere', 2));
    expect(await exit).toBe('noconnection');
    await new Promise((resolve) => setImmediate(resolve));
    expect(downs).toEqual(['noconnection']);
    expect(letters).toMatchObject([{ to: '<elsewhere.1.0>', reason: 'noconnection' }]);
    await alone.shutdown();
  });

  it('replays a distributed scenario exactly from its seed', async () => {
    const report = await checkDeterminism(42, async (simulation) => {
      const { runtime } = cluster(42, ['a', 'b', 'c'], {}, simulation);
      const inboxes = { a: [] as unknown[], b: [] as unknown[], c: [] as unknown[] };
      const pids = { a: probe(runtime('a'), inboxes.a), b: probe(runtime('b'), inboxes.b), c: probe(runtime('c'), inboxes.c) };
      for (let round = 0; round < 20; round += 1) {
        for (const [from, to] of [['a', 'b'], ['b', 'c'], ['c', 'a']] as const) {
          runtime(from).send(pids[from], { command: 'ping', target: pids[to] });
        }
        await simulation.runForAsync(3);
      }
      runtime('a').send(pids.a, { command: 'monitor', target: pids.c });
      await simulation.runForAsync(10);
      simulation.crash('c');
      await simulation.runForAsync(1_000);
      simulation.record('inboxes', { a: inboxes.a.length, b: inboxes.b.length });
    });
    expect(report.events).toBeGreaterThan(100);
  });
});
