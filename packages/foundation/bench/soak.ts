// Soak: a few real Foundation nodes, each its own process on loopback, driven for minutes with
// the churn a production cluster sees, to find memory that grows with elapsed time.
//
//   node ../../tooling/scripts/run-bench.mjs bench/soak.ts [--minutes 3] [--nodes 3]
//        [--interval 15] [--warmup S] [--kill-every 60] [--down 3] [--rate 1]
//        [--max-events 500] [--snapshots DIR]
//
// This process only orchestrates: every node is a child (this same bundle with --node), started
// with --expose-gc and without --enable-source-maps (see NodeProcess.start). Each node runs its
// own workload; per second and per node at --rate 1:
//   processes   5 pairs: a local watcher, a worker spawned on another node (spawnOn) that
//               monitors the watcher, the watcher linking to the worker, a node-level monitor
//               of the worker; ended after 0.1-2 s in one of five ways (worker stops normally,
//               worker crashes, watcher shuts down and takes the worker with it, worker killed,
//               monitors and links dropped first), each pair killed outright 3 s later if still up
//   messages    40 sends and 20 calls (2 s timeout) to a long-lived process on another node,
//               by `{ name, node }`, plus a telemetry event per call
//   registry    4 local registrations (unique names) unregistered after 0.5-5 s; 2 whose target
//               is a short-lived process (monitored: its exit removes them); 1 global name,
//               released after 1-4 s or left to its process's exit; 1 watch opened and closed
//   events      10 emitDistributed; one long-lived cluster-wide subscription and 1 more opened
//               and closed per second
//   config      2 setClusterWide over 10 paths, 1 local update, 1 subscribe/unsubscribe
//   kv, locks   2 puts of unique keys each deleted 1-3 s later; 0.5 lock acquire/release
//   control     a clusterStatus and a getClusterMetrics every 5 s
// Every --kill-every seconds the last node is killed with SIGKILL and restarted --down seconds
// later with the same id and data directory; the others stay up for the whole run.
//
// Every --interval seconds each node runs a full GC (global.gc(), twice) and reports its heap,
// its ArrayBuffer memory (Buffers live outside the V8 heap: a leak of them does not show in
// heap used) and the sizes of the tables its services show through their stats(). The table
// shows both per node over time; the summary fits a line to each after the warm-up, for the
// nodes that were never restarted. A steady state is flat; growth with elapsed time is a leak,
// but four tables fill up to a bound by design and grow in a run shorter than that: Raft's
// log (until the next snapshot, every 10,000 entries: about 6 minutes at --rate 1), Plumtree's
// seen ids (kept 5 minutes), the cluster-wide events handed to subscribers (remembered 10
// minutes) and the flight recorder (10,000 hops). The row shows the first two.
// The in-memory event store is bounded to --max-events (500 instead of 100,000) so that it is
// full before the warm-up ends.
//
// --snapshots DIR writes a V8 heap snapshot of every node but the one killed at the end of the
// warm-up and at the end (each pauses its node for a second or two: its peers may see it
// down); bench/heap-growth.ts tells what holds the memory in them and what grew.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { createMemoryStorage } from '@foundation/events';
import { Pid, startNode } from '../src/index';
import type { StartNodeOptions } from '../src/index';
import { isExitMessage } from '@foundation/process';
import type { Behavior } from '@foundation/process';
import { freePort } from '../src/options';
import { report } from '../../../tooling/scripts/bench';

const SECRET = 'foundation-soak-secret-0123456789';
const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(args[at + 1]);
};
const textOption = (name: string): string | undefined => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? undefined : args[at + 1];
};

// ---- node mode: one node and its workload, sampled over IPC ----------------------------------

interface NodeSpec {
  readonly options: StartNodeOptions;
  readonly ids: readonly string[];
  readonly rate: number;
  readonly maxEvents: number;
}

/** What a node reports at each sample. */
interface Sample {
  readonly node: string;
  readonly uptimeS: number;
  readonly heapUsedMb: number;
  /** Memory of ArrayBuffers (Buffers, Uint8Arrays): outside the V8 heap, so not in heapUsedMb. */
  readonly arrayBuffersMb: number;
  readonly externalMb: number;
  readonly rssMb: number;
  readonly tables: Record<string, number>;
  readonly ops: Record<string, number>;
}

const pick = <T>(items: readonly T[]): T | undefined => (items.length === 0 ? undefined : items[Math.floor(Math.random() * items.length)]);
const between = (low: number, high: number): number => low + Math.random() * (high - low);

async function runNode(spec: NodeSpec): Promise<void> {
  const node = await startNode({ ...spec.options, eventStorage: createMemoryStorage({ maxEvents: spec.maxEvents }) });
  const short = node.id.slice(0, node.id.indexOf('@'));
  const ops: Record<string, number> = {};
  const count = (name: string, by = 1): void => {
    ops[name] = (ops[name] ?? 0) + by;
  };
  const inFlight: Record<string, number> = {};
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, action: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, ms);
    timers.add(timer);
  };
  /** Runs `operation` unless `limit` of its kind are still pending (a peer down must not pile them up). */
  const tracked = (kind: string, operation: () => Promise<unknown>, limit = 50): void => {
    if ((inFlight[kind] ?? 0) >= limit) {
      count(`${kind}.skipped`);
      return;
    }
    inFlight[kind] = (inFlight[kind] ?? 0) + 1;
    operation().then(
      () => count(kind),
      () => count(`${kind}.failed`),
    ).finally(() => {
      inFlight[kind]! -= 1;
    });
  };

  // A worker runs on another node: it monitors its watcher, and ends when told to.
  const worker: Behavior<null, { watcher?: string }> = {
    init(workerArgs, self) {
      if (typeof workerArgs?.watcher === 'string') self.monitor(Pid.parse(workerArgs.watcher));
      return null;
    },
    handleMessage(message, self) {
      if (message === 'stop') self.stop('normal');
      else if (message === 'crash') self.stop('soak_crash');
    },
    handleCall: (request) => request,
  };
  node.defineBehavior('soak.worker', worker);
  // A watcher runs here, links to its worker when told, and ends when told (or with its link).
  const watcher: Behavior = {
    handleMessage(message, self) {
      const command = message as { op?: string; pid?: string; reason?: string };
      if (command.op === 'link') self.link(Pid.parse(command.pid));
      else if (command.op === 'unlink') self.unlink(Pid.parse(command.pid));
      else if (command.op === 'end') self.stop(command.reason ?? 'normal');
      else if (isExitMessage(message)) self.stop('normal');
    },
  };
  const idle: Behavior = { handleMessage: () => undefined };
  let echoed = 0;
  node.runtime.spawn({ handleMessage: () => void (echoed += 1), handleCall: (request) => request }, { name: 'soak.echo' });
  node.telemetry.defineMetric({ name: 'soak.calls.count', kind: 'counter', event: ['soak', 'call'], measurement: 'count' });
  node.telemetry.defineMetric({ name: 'soak.call.duration', kind: 'histogram', event: ['soak', 'call'], measurement: 'ms' });
  let heard = 0;
  node.events.subscribeClusterWide({ type: 'soak.event' }, () => void (heard += 1));
  node.config.subscribe(() => count('config.notified'));

  const peers = (): string[] => {
    const up = new Set(node.transport.peers());
    return spec.ids.filter((id) => id !== node.id && up.has(id));
  };
  let serial = 0;

  const processPair = (): void => {
    const peer = pick(peers());
    if (peer === undefined) return;
    const trapping = Math.random() < 0.3;
    const local = node.runtime.spawn(watcher, { trapExits: trapping });
    tracked('process.pair', async () => {
      let remote: Pid;
      try {
        remote = await node.spawnOn(peer, 'soak.worker', { watcher: local.toString() });
      } catch (error) {
        node.runtime.exit(local, 'kill');
        throw error;
      }
      node.runtime.send(local, { op: 'link', pid: remote.toString() });
      const ref = node.runtime.monitor(remote, () => count('process.down'));
      const ending = Math.floor(Math.random() * 5);
      later(between(100, 2000), () => {
        switch (ending) {
          case 0:
            node.runtime.send(remote, 'stop');
            break;
          case 1:
            node.runtime.send(remote, 'crash');
            break;
          case 2:
            node.runtime.send(local, { op: 'end', reason: 'shutdown' });
            break;
          case 3:
            node.runtime.exit(remote, 'kill');
            break;
          default:
            node.runtime.demonitor(ref);
            node.runtime.send(local, { op: 'unlink', pid: remote.toString() });
            node.runtime.send(local, { op: 'end' });
            node.runtime.send(remote, 'stop');
        }
      });
      // Whatever the ending did, nothing of the pair outlives this.
      later(3000, () => {
        node.runtime.exit(local, 'kill');
        node.runtime.exit(remote, 'kill');
      });
    });
  };

  const message = (): void => {
    const peer = pick(peers());
    if (peer === undefined) return;
    node.runtime.send({ name: 'soak.echo', node: peer }, { n: (serial += 1), from: short });
    count('message.sent');
  };
  const call = (): void => {
    const peer = pick(peers());
    if (peer === undefined) return;
    tracked('message.call', async () => {
      const started = performance.now();
      await node.runtime.call({ name: 'soak.echo', node: peer }, { n: (serial += 1) }, { timeout: 2000 });
      node.telemetry.execute(['soak', 'call'], { count: 1, ms: performance.now() - started }, { peer });
    });
  };

  const localRegistration = (): void => {
    const name = `soak.svc.${short}.${(serial += 1)}`;
    const registration = node.registry.register(name, { node: node.id, n: serial });
    count('registry.local');
    later(between(500, 5000), () => void registration.unregister());
  };
  const processRegistration = (): void => {
    const pid = node.runtime.spawn(idle);
    node.registry.register(`soak.proc.${short}.${(serial += 1)}`, pid);
    count('registry.process');
    later(between(500, 3000), () => node.runtime.exit(pid, 'shutdown'));
  };
  const globalRegistration = (): void => {
    const name = `soak.global.${short}.${(serial += 1)}`;
    if (Math.random() < 0.5) {
      tracked('registry.global', async () => {
        const registration = await node.registry.registerGlobal(name, { node: node.id }, { timeoutMs: 5000 });
        later(between(1000, 4000), () => tracked('registry.global.release', () => registration.release({ timeoutMs: 5000 })));
      });
    } else {
      // Held by a process: its exit releases the name.
      const pid = node.runtime.spawn(idle);
      tracked('registry.global.process', async () => {
        try {
          await node.registry.registerGlobal(name, pid, { timeoutMs: 5000 });
        } finally {
          later(between(1000, 4000), () => node.runtime.exit(pid, 'shutdown'));
        }
      });
    }
  };
  const watch = (): void => {
    const stop = node.registry.watch(`soak.svc.${short}.${serial + 1}`, () => count('registry.watched'));
    later(between(500, 3000), stop);
  };

  const emit = (): void => {
    node.events.emitDistributed('soak.event', { n: (serial += 1), from: short });
    count('events.emitted');
  };
  const subscription = (): void => {
    const stop = node.events.subscribeClusterWide({ type: 'soak.event' }, () => count('events.heard.short'));
    later(between(1000, 5000), stop);
  };

  const clusterConfig = (): void => {
    const n = (serial += 1);
    tracked('config.cluster', () => node.config.setClusterWide(`soak.k${n % 10}`, n));
  };
  const localConfig = (): void => {
    node.config.update('local.value', (serial += 1));
    const stop = node.config.subscribe(() => undefined);
    later(between(500, 3000), stop);
    count('config.local');
  };
  const kv = (): void => {
    const key = `soak.kv.${short}.${(serial += 1)}`;
    tracked('kv.put', async () => {
      await node.kv.put(key, { at: Date.now(), bytes: 'x'.repeat(64) });
      later(between(1000, 3000), () => tracked('kv.delete', () => node.kv.delete(key)));
    });
  };
  const lock = (): void => {
    tracked(
      'lock',
      async () => {
        const lease = await node.locks.acquire(`soak.lock.${Math.floor(Math.random() * 5)}`, { leaseMs: 2000, waitMs: 500 });
        if (lease === null) return;
        await new Promise((done) => setTimeout(done, between(50, 300)));
        await lease.release();
      },
      5,
    );
  };
  const controlRequests = (): void => {
    tracked('control.status', () => node.clusterStatus({ timeoutMs: 2000 }), 2);
    tracked('control.metrics', () => node.telemetry.getClusterMetrics({ timeoutMs: 2000 }), 2);
  };

  // Per second, per node, at --rate 1. Fractions run with that probability each second.
  const workload: [perSecond: number, run: () => void][] = [
    [5, processPair],
    [40, message],
    [20, call],
    [4, localRegistration],
    [2, processRegistration],
    [1, globalRegistration],
    [1, watch],
    [10, emit],
    [1, subscription],
    [2, clusterConfig],
    [1, localConfig],
    [2, kv],
    [0.5, lock],
    [0.2, controlRequests],
  ];
  const TICK_MS = 100;
  const owed = workload.map(() => 0);
  const ticker = setInterval(() => {
    workload.forEach(([perSecond, run], index) => {
      owed[index]! += (perSecond * spec.rate * TICK_MS) / 1000;
      while (owed[index]! >= 1) {
        owed[index]! -= 1;
        try {
          run();
        } catch {
          count('sync.failed');
        }
      }
    });
  }, TICK_MS);

  const gc = (globalThis as { gc?: () => void }).gc;
  const sample = (): Sample => {
    gc?.();
    gc?.();
    const memory = process.memoryUsage();
    const runtime = node.runtime.stats();
    const transport = node.transport.stats();
    const registry = node.registry.stats();
    const membership = node.membership.stats();
    const events = node.events.stats();
    const telemetry = node.telemetry.stats();
    const recorder = node.context.recorder.stats();
    const raft = node.consensus.raft.status();
    const tables: Record<string, number> = {
      processes: runtime.processes,
      pendingRemoteCalls: runtime.pendingRemoteCalls,
      pendingCallDeadlines: runtime.pendingCallDeadlines,
      runQueue: runtime.runQueueLength,
      transportPeers: transport.peers.length,
      transportPendingRequests: transport.peers.reduce((sum, peer) => sum + peer.pendingRequests, 0),
      openConnections: transport.openConnections,
      queuedMessages: Object.values(transport.channels).reduce((sum, channel) => sum + channel.queuedMessages, 0),
      unackedMessages: Object.values(transport.channels).reduce((sum, channel) => sum + channel.unackedMessages, 0),
      registryNames: registry.names,
      registryInstances: registry.instances,
      registryLocal: registry.localServices,
      registryNodes: registry.nodes,
      registryTombstones: registry.tombstones,
      registryDepartures: registry.departures,
      registryGlobals: registry.globalNames,
      registryInDoubt: registry.globalClaimsInDoubt,
      members: membership.members,
      plumtreeSeen: membership.plumtree.seenIds ?? 0,
      plumtreeStored: membership.plumtree.storedMessages ?? 0,
      plumtreeMissing: membership.plumtree.missing ?? 0,
      events: events.currentCount,
      eventSubscribers: events.subscriberCount,
      configSubscribers: node.config.status().subscriberCount,
      telemetryHandlers: telemetry.handlers,
      telemetryMetrics: telemetry.metrics,
      recorderSize: recorder.size,
      recorderCorrelations: recorder.correlations,
      raftLog: raft.lastIndex - raft.snapshotIndex,
      raftCommit: raft.commit,
    };
    return {
      node: node.id,
      uptimeS: process.uptime(),
      heapUsedMb: memory.heapUsed / 2 ** 20,
      arrayBuffersMb: memory.arrayBuffers / 2 ** 20,
      externalMb: memory.external / 2 ** 20,
      rssMb: memory.rss / 2 ** 20,
      tables,
      ops: { ...ops, echoed, heard },
    };
  };

  process.on('message', (command: { op: string; id: number; path?: string }) => {
    const answer = (value: unknown): void => void process.send?.({ id: command.id, value });
    if (command.op === 'sample') answer(sample());
    else if (command.op === 'snapshot') {
      gc?.();
      answer(writeHeapSnapshot(command.path));
    } else if (command.op === 'stop') {
      clearInterval(ticker);
      for (const timer of timers) clearTimeout(timer);
      void node.stop().then(() => {
        answer(null);
        process.exit(0);
      });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ event: 'ready', id: node.id });
}

// ---- orchestrator ----------------------------------------------------------------------------

class NodeProcess {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, (value: unknown) => void>();
  restarts = 0;
  /** Exits this harness did not ask for (a node that should have survived did not). */
  unexpectedExits = 0;
  private ending = false;

  constructor(
    readonly name: string,
    private readonly spec: NodeSpec,
  ) {}

  get alive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    // Without --enable-source-maps (run-bench.mjs gives it to this process): with it, the first
    // stack a node formats parses the bundle's inline source map, 16 MB of heap that stay.
    const execArgv = [...new Set([...process.execArgv.filter((flag) => flag !== '--enable-source-maps'), '--expose-gc'])];
    const child = spawn(process.execPath, [...execArgv, process.argv[1]!, '--node', JSON.stringify(this.spec)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child = child;
    child.on('message', (message: { id?: number; value?: unknown }) => {
      if (message.id === undefined) return;
      this.pending.get(message.id)?.(message.value);
      this.pending.delete(message.id);
    });
    this.ending = false;
    child.once('exit', (code, signal) => {
      for (const waiter of this.pending.values()) waiter(undefined);
      this.pending.clear();
      if (!this.ending) {
        this.unexpectedExits += 1;
        console.log(`${this.name} exited by itself (code ${String(code)}, signal ${String(signal)})`);
      }
    });
    await new Promise<void>((ready, fail) => {
      const onMessage = (message: { event?: string }): void => {
        if (message.event !== 'ready') return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        ready();
      };
      const onExit = (code: number | null): void => fail(new Error(`${this.name} exited with ${String(code)} while starting`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  }

  /** Asks the node; undefined when it is not up or did not answer within `timeoutMs`. */
  ask<T>(op: string, extra: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T | undefined> {
    const child = this.child;
    if (child === null || !this.alive) return Promise.resolve(undefined);
    const id = this.nextId++;
    return new Promise((answer) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        answer(undefined);
      }, timeoutMs);
      this.pending.set(id, (value) => {
        clearTimeout(timer);
        answer(value as T);
      });
      child.send({ op, id, ...extra });
    });
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (child === null || !this.alive) return;
    this.ending = true;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === null || !this.alive) return;
    this.ending = true;
    const exited = new Promise((done) => child.once('exit', done));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    void this.ask('stop', {}, 10_000);
    await exited;
    clearTimeout(timer);
  }
}

interface Row {
  readonly atS: number;
  readonly samples: (Sample | undefined)[];
}

const fixed = (value: number | undefined, digits = 1): string => (value === undefined || Number.isNaN(value) ? '-' : value.toFixed(digits));

/** Least-squares slope of y over x. */
function slope(points: readonly (readonly [number, number])[]): number {
  if (points.length < 2) return Number.NaN;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / points.length;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / points.length;
  let numerator = 0;
  let denominator = 0;
  for (const [x, y] of points) {
    numerator += (x - meanX) * (y - meanY);
    denominator += (x - meanX) ** 2;
  }
  return denominator === 0 ? Number.NaN : numerator / denominator;
}

async function main(): Promise<void> {
  const minutes = option('minutes', 3);
  const count = option('nodes', 3);
  const intervalS = option('interval', 15);
  const warmupS = option('warmup', Math.min(60, minutes * 15));
  const killEveryS = option('kill-every', 60);
  const downS = option('down', 3);
  const rate = option('rate', 1);
  const maxEvents = option('max-events', 500);
  const snapshotDir = textOption('snapshots');
  if (count < 3) throw new Error('--nodes must be at least 3 (the last one is killed and restarted; a majority stays)');
  const load = loadavg()[0]!;
  const dataRoot = mkdtempSync(join(tmpdir(), 'foundation-soak-'));
  const ports = await Promise.all(Array.from({ length: count }, () => freePort('127.0.0.1')));
  const ids = ports.map((port, index) => `s${index}@127.0.0.1:${port}`);
  const nodes = ids.map(
    (id, index) =>
      new NodeProcess(id.slice(0, id.indexOf('@')), {
        ids,
        rate,
        maxEvents,
        options: {
          name: id,
          secret: SECRET,
          voters: ids,
          seeds: ids.filter((other) => other !== id),
          timing: 'local',
          dataDir: join(dataRoot, `s${index}`),
          config: { defaults: { soak: Object.fromEntries(Array.from({ length: 10 }, (_, k) => [`k${k}`, 0])), local: { value: 0 } }, updatablePaths: ['soak', 'local'] },
        },
      }),
  );
  const victim = nodes.at(-1)!;
  const rows: Row[] = [];
  const started = Date.now();
  const elapsedS = (): number => (Date.now() - started) / 1000;
  let kills = 0;
  let stopping = false;
  const wakers = new Set<() => void>();
  /** Sleeps `ms`, or less once the run is stopping. */
  const pause = (ms: number): Promise<void> =>
    new Promise((done) => {
      const wake = (): void => {
        clearTimeout(timer);
        wakers.delete(wake);
        done();
      };
      const timer = setTimeout(wake, ms);
      wakers.add(wake);
    });
  const stopAll = (): void => {
    stopping = true;
    for (const wake of [...wakers]) wake();
  };
  let killer: Promise<void> = Promise.resolve();
  try {
    await Promise.all(nodes.map((node) => node.start()));
    console.log(`${count} nodes up in ${fixed(elapsedS())} s (load average ${load.toFixed(2)}); ${minutes} min, a sample every ${intervalS} s, warm-up ${warmupS} s, ${victim.name} killed every ${killEveryS} s`);
    console.log(['t (s)', ...nodes.map((node) => `${node.name} heap MB`), ...nodes.map((node) => `${node.name} buffers MB`), ...nodes.map((node) => `${node.name} procs/regs/tomb/seen/raftlog`)].join('\t'));

    const sampleAll = async (): Promise<void> => {
      const atS = elapsedS();
      const samples = await Promise.all(nodes.map((node) => node.ask<Sample>('sample')));
      rows.push({ atS, samples });
      const cell = (sample: Sample | undefined): string =>
        sample === undefined ? '-' : `${sample.tables.processes}/${sample.tables.registryInstances}/${sample.tables.registryTombstones}/${sample.tables.plumtreeSeen}/${sample.tables.raftLog}`;
      console.log([fixed(atS, 0), ...samples.map((sample) => fixed(sample?.heapUsedMb, 2)), ...samples.map((sample) => fixed(sample?.arrayBuffersMb, 2)), ...samples.map(cell)].join('\t'));
    };
    const snapshot = async (label: string): Promise<void> => {
      if (snapshotDir === undefined) return;
      mkdirSync(snapshotDir, { recursive: true });
      for (const node of nodes) {
        if (node === victim) continue;
        const path = await node.ask<string>('snapshot', { path: resolve(snapshotDir, `${node.name}-${label}.heapsnapshot`) }, 120_000);
        if (path !== undefined) console.log(`heap snapshot: ${path}`);
      }
    };

    killer = (async () => {
      if (killEveryS <= 0) return;
      for (;;) {
        await pause(killEveryS * 1000);
        if (stopping) return;
        await victim.kill();
        kills += 1;
        console.log(`${fixed(elapsedS(), 0)}\tSIGKILL ${victim.name}`);
        await pause(downS * 1000);
        if (stopping) return;
        await victim.start();
        victim.restarts += 1;
        console.log(`${fixed(elapsedS(), 0)}\t${victim.name} restarted`);
      }
    })();

    const endAt = started + minutes * 60_000;
    let snapshotTaken = false;
    while (Date.now() < endAt) {
      await new Promise((done) => setTimeout(done, Math.min(intervalS * 1000, endAt - Date.now())));
      await sampleAll();
      // After the sample: a snapshot pauses its node, and the peers may take it for down.
      if (!snapshotTaken && elapsedS() >= warmupS) {
        snapshotTaken = true;
        await snapshot('warm');
      }
    }
    stopAll();
    // A restart under way finishes before the end samples and the snapshots.
    await killer;
    await snapshot('end');

    // ---- summary ----
    const metrics: Record<string, number> = { minutes, nodes: count, kills, load_average_1m: load };
    const tableRows: { name: string; value: number; unit: string; note?: string }[] = [];
    console.log('');
    console.log('tables, first sample after the warm-up -> last sample (nodes never restarted):');
    for (const [index, node] of nodes.entries()) {
      if (node === victim && kills > 0) continue;
      const after = rows.filter((row) => row.atS >= warmupS && row.samples[index] !== undefined);
      if (after.length < 2) continue;
      const first = after[0]!.samples[index]!;
      const last = after.at(-1)!.samples[index]!;
      const perMinute = slope(after.map((row) => [row.atS / 60, row.samples[index]!.heapUsedMb]));
      const buffersPerMinute = slope(after.map((row) => [row.atS / 60, row.samples[index]!.arrayBuffersMb]));
      metrics[`${node.name}_heap_after_warmup_mb`] = first.heapUsedMb;
      metrics[`${node.name}_heap_end_mb`] = last.heapUsedMb;
      metrics[`${node.name}_heap_slope_kb_per_min`] = perMinute * 1024;
      metrics[`${node.name}_buffers_after_warmup_mb`] = first.arrayBuffersMb;
      metrics[`${node.name}_buffers_end_mb`] = last.arrayBuffersMb;
      metrics[`${node.name}_buffers_slope_kb_per_min`] = buffersPerMinute * 1024;
      tableRows.push({ name: `${node.name} heap after warm-up -> end`, value: last.heapUsedMb - first.heapUsedMb, unit: 'MB', note: `${fixed(first.heapUsedMb, 2)} -> ${fixed(last.heapUsedMb, 2)}` });
      tableRows.push({ name: `${node.name} heap slope after warm-up`, value: perMinute * 1024, unit: 'KB/min' });
      tableRows.push({ name: `${node.name} buffers after warm-up -> end`, value: last.arrayBuffersMb - first.arrayBuffersMb, unit: 'MB', note: `${fixed(first.arrayBuffersMb, 2)} -> ${fixed(last.arrayBuffersMb, 2)}` });
      tableRows.push({ name: `${node.name} buffers slope after warm-up`, value: buffersPerMinute * 1024, unit: 'KB/min' });
      const grew = Object.keys(last.tables)
        .filter((key) => key !== 'raftCommit' && last.tables[key] !== first.tables[key])
        .map((key) => `${key} ${first.tables[key]}->${last.tables[key]}`);
      console.log(`  ${node.name}: ${grew.join(', ') || 'no change'}`);
    }
    const lastSamples = rows.at(-1)?.samples ?? [];
    const totals: Record<string, number> = {};
    for (const sample of lastSamples) for (const [key, value] of Object.entries(sample?.ops ?? {})) totals[key] = (totals[key] ?? 0) + value;
    console.log(`operations (live processes' counters at the end; ${victim.name}'s since its last restart):`);
    console.log(
      `  ${Object.entries(totals)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, value]) => `${key} ${value}`)
        .join(', ')}`,
    );
    for (const key of ['process.pair', 'message.sent', 'message.call', 'registry.local', 'events.emitted', 'config.cluster', 'kv.put']) metrics[`ops_${key.replace('.', '_')}`] = totals[key] ?? 0;
    tableRows.push({ name: `${victim.name} killed (SIGKILL) and restarted`, value: kills, unit: 'times' });
    const unexpected = nodes.reduce((sum, node) => sum + node.unexpectedExits, 0);
    metrics.unexpected_exits = unexpected;
    tableRows.push({ name: 'nodes that exited by themselves', value: unexpected, unit: '' });
    tableRows.push({ name: 'load average (1 min) at start', value: load, unit: '' });
    console.log('');
    report('foundation.soak', tableRows, metrics, { digits: 2 });
  } finally {
    stopAll();
    await killer.catch(() => undefined);
    await Promise.all(nodes.map((node) => node.stop()));
    rmSync(dataRoot, { recursive: true, force: true });
  }
}

const nodeAt = args.indexOf('--node');
if (nodeAt !== -1) await runNode(JSON.parse(args[nodeAt + 1]!) as NodeSpec);
else {
  await main();
  process.exit(0);
}
