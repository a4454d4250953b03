// Starts membership nodes in child processes (socket-node.ts) on loopback over
// @foundation/channels and drives them over IPC. Used by the real-socket test and the benchmark.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { overlayMetrics } from '../../src/internal/overlay-metrics';
import type { OverlayMetrics } from '../../src/internal/overlay-metrics';
import type { ChildReport, NodeProcessConfig, NodeStatus, ParentCommand } from './socket-node';

export interface SocketClusterOptions {
  readonly processes: number;
  readonly nodesPerProcess: number;
  /** How to run socket-node: `['--import', 'tsx', '/…/socket-node.ts']` or a bundle. */
  readonly entry: readonly string[];
  readonly cwd: string;
  readonly heartbeatIntervalMs?: number;
  readonly heartbeatTimeoutMs?: number;
  readonly shuffleIntervalMs?: number;
  readonly shuffleReplyRoute?: 'direct' | 'walk';
  readonly topology?: 'hyparview' | 'client-server';
}

interface Child {
  readonly index: number;
  readonly process: ChildProcess;
  readonly ids: string[];
  alive: boolean;
  readonly exited: Promise<void>;
}

export interface SocketCluster {
  readonly ids: readonly string[];
  /** Node ids in processes that were not killed. */
  liveIds(): string[];
  /** Starts every membership; node i joins through `seedsFor(i)`. */
  start(seedsFor: (id: string, index: number) => string[]): void;
  status(): Promise<Map<string, NodeStatus>>;
  /** CPU time the live node processes have used so far (user and system), in microseconds. */
  cpuMicros(): Promise<number>;
  broadcast(from: string, size?: number): Promise<string>;
  /** SIGKILLs one child process, by pid. */
  kill(processIndex: number): void;
  /** Stops every live child (leave, close), SIGKILLing any that does not stop in time. */
  stop(): Promise<void>;
}

/** Overlay health of the live nodes, and whether any active view still names a dead node. */
export function liveOverlay(statuses: Map<string, NodeStatus>, live: ReadonlySet<string>): OverlayMetrics & { readonly deadReferences: number; readonly emptyViews: number } {
  const views = new Map<string, string[]>();
  let deadReferences = 0;
  let emptyViews = 0;
  for (const [id, status] of statuses) {
    if (!live.has(id)) continue;
    views.set(id, status.active);
    deadReferences += status.active.filter((peer) => !live.has(peer)).length;
    if (status.active.length === 0) emptyViews += 1;
  }
  return { ...overlayMetrics(views, 50), deadReferences, emptyViews };
}

export async function startSocketCluster(options: SocketClusterOptions): Promise<SocketCluster> {
  const secret = randomBytes(24).toString('base64url');
  const children: Child[] = [];
  let request = 0;
  const waiting = new Map<number, (report: ChildReport) => void>();
  const addresses: Record<string, string> = {};
  const ready: Promise<void>[] = [];

  for (let index = 0; index < options.processes; index += 1) {
    const ids = Array.from({ length: options.nodesPerProcess }, (_, node) => `p${index}-n${node}`);
    const config: NodeProcessConfig = {
      ids,
      secret,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 200,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 2_000,
      shuffleIntervalMs: options.shuffleIntervalMs ?? 1_000,
      ...(options.shuffleReplyRoute === undefined ? {} : { shuffleReplyRoute: options.shuffleReplyRoute }),
      ...(options.topology === undefined ? {} : { topology: options.topology }),
    };
    const child = spawn(process.execPath, [...options.entry, JSON.stringify(config)], { cwd: options.cwd, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const entry: Child = { index, process: child, ids, alive: true, exited };
    children.push(entry);
    ready.push(
      new Promise<void>((resolve, reject) => {
        child.once('exit', (code, signal) => {
          entry.alive = false;
          reject(new Error(`node process ${index} exited early (code ${String(code)}, signal ${String(signal)})`));
        });
        child.on('message', (report: ChildReport) => {
          if (report.type === 'ready') {
            Object.assign(addresses, report.addresses);
            resolve();
            return;
          }
          const settle = waiting.get(report.request);
          waiting.delete(report.request);
          settle?.(report);
        });
      }),
    );
  }
  try {
    await Promise.all(ready);
  } catch (error) {
    for (const child of children) if (child.alive) child.process.kill('SIGKILL');
    throw error;
  }
  for (const child of children) child.process.send({ type: 'book', addresses } satisfies ParentCommand);

  const ask = (child: Child, command: (request: number) => ParentCommand, timeoutMs = 10_000): Promise<ChildReport> => {
    request += 1;
    const id = request;
    return new Promise<ChildReport>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`process ${child.index} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.set(id, (report) => {
        clearTimeout(timer);
        resolve(report);
      });
      child.process.send(command(id));
    });
  };

  const ids = children.flatMap((child) => child.ids);
  const childOf = (id: string): Child => children[Number(/^p(\d+)-/.exec(id)![1])]!;

  return {
    ids,
    liveIds: () => children.filter((child) => child.alive).flatMap((child) => child.ids),
    start(seedsFor) {
      for (const child of children) {
        if (!child.alive) continue;
        const seeds: Record<string, string[]> = {};
        for (const id of child.ids) seeds[id] = seedsFor(id, ids.indexOf(id));
        child.process.send({ type: 'start', seeds } satisfies ParentCommand);
      }
    },
    async status() {
      const result = new Map<string, NodeStatus>();
      const reports = await Promise.all(children.filter((child) => child.alive).map((child) => ask(child, (id) => ({ type: 'status', request: id }))));
      for (const report of reports) if (report.type === 'status') for (const [id, status] of Object.entries(report.nodes)) result.set(id, status);
      return result;
    },
    async cpuMicros() {
      const reports = await Promise.all(children.filter((child) => child.alive).map((child) => ask(child, (id) => ({ type: 'usage', request: id }))));
      let total = 0;
      for (const report of reports) if (report.type === 'usage') total += report.cpuMicros;
      return total;
    },
    async broadcast(from, size = 64) {
      const report = await ask(childOf(from), (id) => ({ type: 'broadcast', request: id, from, size }));
      if (report.type !== 'broadcast') throw new Error('unexpected answer');
      return report.id;
    },
    kill(processIndex) {
      const child = children[processIndex]!;
      child.alive = false;
      process.kill(child.process.pid!, 'SIGKILL');
    },
    async stop() {
      await Promise.all(
        children.map(async (child) => {
          if (!child.alive) {
            await child.exited;
            return;
          }
          const stopped = ask(child, (id) => ({ type: 'stop', request: id }), 5_000).catch(() => undefined);
          const gaveUp = new Promise<void>((resolve) => setTimeout(resolve, 6_000).unref());
          await Promise.race([stopped.then(() => child.exited), gaveUp]);
          if (child.process.exitCode === null && child.process.signalCode === null) process.kill(child.process.pid!, 'SIGKILL');
          await child.exited;
          child.alive = false;
        }),
      );
    },
  };
}

/** Polls `condition` every `everyMs` until it holds or `timeoutMs` passes (real time: these are real sockets). */
export async function eventually<T>(probe: () => Promise<T>, condition: (value: T) => boolean, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (condition(value)) return value;
    if (Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * Broadcasts 256 bytes from each of `ids` and waits (up to `timeoutMs`) until every node of
 * `live` delivered all of them; the live nodes that had not, by then.
 */
export async function everyoneDelivers(cluster: SocketCluster, ids: readonly string[], live: ReadonlySet<string>, timeoutMs: number): Promise<string[]> {
  const sent = await Promise.all(ids.map((id) => cluster.broadcast(id, 256)));
  const deliveredAll = (status: Map<string, NodeStatus>, id: string): boolean => sent.every((message) => status.get(id)?.delivered.includes(message) === true);
  const statuses = await eventually(() => cluster.status(), (status) => [...live].every((id) => deliveredAll(status, id)), timeoutMs);
  return [...live].filter((id) => !deliveredAll(statuses, id));
}
