// The orchestrator: starts each node of the demo as its own process, restarts a node a few
// seconds after it was killed (the dashboard's kill button) or crashed, tells every node what
// happened (the dashboard shows it), and stops them all gracefully at the end.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isObject } from './protocol';
import type { ActionResult, FromNode, Lifecycle, NodeLaunch, Probe, RosterEntry, ToNode } from './protocol';
import { HOST } from './ports';

const NODE_ENTRY = fileURLToPath(new URL('./node/node-main.ts', import.meta.url));
const ROOT_TSCONFIG = fileURLToPath(new URL('../../../tsconfig.json', import.meta.url));
const STOP_TIMEOUT_MS = 12_000;
const PROBE_TIMEOUT_MS = 2_000;
const QUIESCE_TIMEOUT_MS = 5_000;
const CONFIG_TIMEOUT_MS = 15_000;
/** How long a kill asked over the API waits to see the process exit before it answers anyway. */
const KILL_EXIT_WAIT_MS = 3_000;
/** A node that asked for its own kill gets its answer first; the signal follows this long after. */
const OWN_KILL_DELAY_MS = 300;

export interface NodePlan {
  readonly name: string;
  readonly voter: boolean;
  readonly port: number;
  readonly httpPort: number;
}

export interface OrchestratorOptions {
  readonly nodes: readonly NodePlan[];
  readonly dataDir: string;
  readonly workers: number;
  /** How long a killed or crashed node stays down before it is started again. */
  readonly restartDelayMs: number;
  /** Extra environment for the node processes. */
  readonly env?: Readonly<Record<string, string>>;
  /** Progress and the nodes' own output, one line at a time. */
  readonly log: (line: string) => void;
  /** A node's process was spawned (first start or restart). */
  readonly onSpawn?: (entry: RosterEntry, pid: number | undefined, restart: boolean) => void;
  /** A node became ready (first start or restart), with how long its process took. */
  readonly onReady?: (entry: RosterEntry, startedInMs: number, restart: boolean) => void;
}

interface Managed {
  readonly entry: RosterEntry;
  readonly launch: NodeLaunch;
  child: ChildProcess | null;
  lifecycle: Lifecycle;
  killRequested: boolean;
  restartTimer: NodeJS.Timeout | null;
  partitionTimer: NodeJS.Timeout | null;
  ready: Promise<void> | null;
}

export interface Orchestrator {
  readonly roster: readonly RosterEntry[];
  /** Starts every node; resolves once each reported ready, rejects if one failed to start. */
  start(): Promise<void>;
  /** Asks every running node for its view (leader, members, workers). */
  probe(): Promise<(Probe | null)[]>;
  /** Sets a config value cluster-wide through one node; resolves with null, or why it failed. */
  setConfig(name: string, path: string, value: unknown): Promise<string | null>;
  /** SIGKILLs a running node; it is started again after the restart delay. False if it was not running. */
  kill(name: string): boolean;
  /** Cuts a running node off from the others for `ms` (see node/partition.ts). False if it was not running or is already cut off. */
  partition(name: string, ms: number): boolean;
  lifecycle(): Lifecycle[];
  /** Stops every node gracefully (SIGKILL after a timeout); no restarts after this. */
  stop(): Promise<void>;
  /** Last resort, synchronous: SIGKILL every node process still alive. */
  killAll(): void;
}

export function createOrchestrator(options: OrchestratorOptions): Orchestrator {
  const secret = randomBytes(24).toString('base64');
  const roster: RosterEntry[] = options.nodes.map((plan) => ({ name: plan.name, id: `${plan.name}@${HOST}:${plan.port}`, httpUrl: `http://${HOST}:${plan.httpPort}`, voter: plan.voter }));
  const managed = new Map<string, Managed>(
    options.nodes.map((plan, index) => [
      plan.name,
      {
        entry: roster[index]!,
        launch: { name: plan.name, id: roster[index]!.id, httpPort: plan.httpPort, dataDir: options.dataDir, roster, workers: options.workers },
        child: null,
        lifecycle: { name: plan.name, state: 'starting', pid: null, restarts: 0, killedAt: null, restartAt: null, partitionedUntil: null },
        killRequested: false,
        restartTimer: null,
        partitionTimer: null,
        ready: null,
      },
    ]),
  );
  let stopping = false;
  let nextProbe = 1;
  const probes = new Map<number, (probe: Probe) => void>();
  const quiescing = new Map<number, () => void>();
  const configRequests = new Map<number, (error: string | null) => void>();

  const lifecycle = (): Lifecycle[] => [...managed.values()].map((node) => node.lifecycle);
  const tell = (node: Managed, message: ToNode): void => {
    const child = node.child;
    if (child !== null && child.connected) child.send(message, (error) => void error);
  };
  const publish = (): void => {
    const nodes = lifecycle();
    for (const node of managed.values()) tell(node, { type: 'lifecycle', nodes });
  };
  const update = (node: Managed, change: Partial<Lifecycle>): void => {
    node.lifecycle = { ...node.lifecycle, ...change };
    publish();
  };

  function launch(node: Managed): Promise<void> {
    const startedAt = Date.now();
    const restart = node.lifecycle.restarts > 0 || node.lifecycle.killedAt !== null;
    const child = spawn(process.execPath, ['--import', 'tsx', NODE_ENTRY, JSON.stringify(node.launch)], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, ...options.env, FOUNDATION_SECRET: secret, TSX_TSCONFIG_PATH: ROOT_TSCONFIG },
    });
    node.child = child;
    node.killRequested = false;
    options.onSpawn?.(node.entry, child.pid, restart);
    update(node, { state: restart ? 'restarting' : 'starting', pid: child.pid ?? null, restartAt: null });
    for (const stream of [child.stdout, child.stderr]) {
      if (stream !== null) createInterface({ input: stream }).on('line', (line) => options.log(`[${node.entry.name}] ${line}`));
    }
    const ready = new Promise<void>((resolve, reject) => {
      child.on('message', (raw: unknown) => {
        if (!isObject(raw)) return;
        const message = raw as unknown as FromNode;
        if (message.type === 'ready') {
          update(node, { state: 'running' });
          options.onReady?.(node.entry, Date.now() - startedAt, restart);
          resolve();
        } else if (message.type === 'fatal') {
          reject(new Error(`${node.entry.name} failed to start: ${message.message}`));
        } else if (message.type === 'config-set') {
          configRequests.get(message.requestId)?.(typeof message.error === 'string' ? message.error : null);
        } else if (message.type === 'quiesced') {
          quiescing.get(message.requestId)?.();
        } else if (message.type === 'probe-result') {
          probes.get(message.requestId)?.(message.probe);
        } else if (message.type === 'kill-request' && typeof message.requestId === 'number' && typeof message.name === 'string') {
          void answerKill(node, child, message.requestId, message.name);
        } else if (message.type === 'partition-request' && typeof message.requestId === 'number' && typeof message.name === 'string' && typeof message.seconds === 'number') {
          answerPartition(node, child, message.requestId, message.name, message.seconds);
        }
      });
      child.on('exit', (code, signal) => {
        reject(new Error(`${node.entry.name} exited (${signal ?? `code ${String(code)}`}) before it was ready`));
        if (node.child !== child) return;
        node.child = null;
        if (stopping) {
          update(node, { state: 'stopped', pid: null });
          return;
        }
        if (!node.killRequested) options.log(`✗ ${node.entry.name} exited on its own (${signal ?? `code ${String(code)}`}); starting it again in ${(options.restartDelayMs / 1000).toFixed(0)} s`);
        const now = Date.now();
        update(node, { state: 'killed', pid: null, killedAt: now, restartAt: now + options.restartDelayMs });
        node.restartTimer = setTimeout(() => {
          node.restartTimer = null;
          if (stopping) return;
          update(node, { restarts: node.lifecycle.restarts + 1 });
          launch(node).catch((error: unknown) => options.log(`✗ ${node.entry.name} did not come back: ${error instanceof Error ? error.message : String(error)}`));
        }, options.restartDelayMs);
      });
    });
    node.ready = ready;
    return ready;
  }

  /** Why `node` cannot be killed now, or null when it can. */
  function killRefusal(node: Managed): string | null {
    const name = node.entry.name;
    if (stopping) return 'the demo is stopping';
    if (node.killRequested) return `${name} is being killed already`;
    if (node.child === null || node.lifecycle.state !== 'running') {
      const back = node.lifecycle.restartAt === null ? '' : `, back in ${Math.max(0, Math.ceil((node.lifecycle.restartAt - Date.now()) / 1000))} s`;
      return `${name} is not running (${node.lifecycle.state}${back}): there is nothing to kill`;
    }
    return null;
  }

  /** Why `node` cannot be cut off for `ms` now, or null when it can. */
  function partitionRefusal(node: Managed, ms: number): string | null {
    const name = node.entry.name;
    if (stopping) return 'the demo is stopping';
    if (!Number.isFinite(ms) || ms <= 0) return 'the duration must be positive';
    if (node.lifecycle.state !== 'running') return `${name} is not running (${node.lifecycle.state})`;
    if (node.lifecycle.partitionedUntil !== null) return `${name} is cut off already, for ${Math.max(0, Math.ceil((node.lifecycle.partitionedUntil - Date.now()) / 1000))} s more`;
    return null;
  }

  function kill(name: string): boolean {
    const node = managed.get(name);
    if (node === undefined || killRefusal(node) !== null) return false;
    node.killRequested = true;
    node.child!.kill('SIGKILL');
    return true;
  }

  /** Answers the node (its process `via`) that relayed a request from the API. */
  function answer(via: ChildProcess, requestId: number, result: ActionResult, then?: () => void): void {
    const message: ToNode = { type: 'action-result', requestId, result };
    if (!via.connected) {
      then?.();
      return;
    }
    via.send(message, () => then?.());
  }

  /**
   * A kill asked over the API (the dashboard's button): answered with what happened. Another
   * node's kill is answered once its process has exited; a node's own kill is answered first
   * (it could not answer after it) and signalled a moment later.
   */
  async function answerKill(requester: Managed, via: ChildProcess, requestId: number, name: string): Promise<void> {
    const target = managed.get(name);
    if (target === undefined) return answer(via, requestId, { outcome: 'refused', reason: `no node named ${name} in this demo`, process: null });
    const refused = killRefusal(target);
    if (refused !== null) return answer(via, requestId, { outcome: 'refused', reason: refused, process: target.lifecycle });
    const child = target.child!;
    const pid = child.pid ?? null;
    const back = `back in ${(options.restartDelayMs / 1000).toFixed(0)} s`;
    if (target === requester) {
      target.killRequested = true;
      answer(via, requestId, { outcome: 'accepted', pid, process: target.lifecycle }, () => {
        setTimeout(() => {
          if (target.child === child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        }, OWN_KILL_DELAY_MS);
      });
      options.log(`✗ ${name} killed with SIGKILL (asked over its own API); ${back}`);
      return;
    }
    const exited = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), KILL_EXIT_WAIT_MS);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    kill(name);
    options.log(`✗ ${name} killed with SIGKILL (asked over the API of ${requester.entry.name}); ${back}`);
    answer(via, requestId, { outcome: (await exited) ? 'done' : 'accepted', pid, process: target.lifecycle });
  }

  /** A partition asked over the API: accepted (every node cuts its links as it hears), or refused with the reason. */
  function answerPartition(requester: Managed, via: ChildProcess, requestId: number, name: string, seconds: number): void {
    const target = managed.get(name);
    if (target === undefined) return answer(via, requestId, { outcome: 'refused', reason: `no node named ${name} in this demo`, process: null });
    const refused = partitionRefusal(target, seconds * 1000);
    if (refused !== null) return answer(via, requestId, { outcome: 'refused', reason: refused, process: target.lifecycle });
    partition(name, seconds * 1000);
    options.log(`✗ ${name} cut off from the other nodes for ${seconds} s (asked over the API of ${requester.entry.name})`);
    answer(via, requestId, { outcome: 'accepted', pid: target.child?.pid ?? null, process: target.lifecycle });
  }

  function partition(name: string, ms: number): boolean {
    const node = managed.get(name);
    if (node === undefined || partitionRefusal(node, ms) !== null) return false;
    update(node, { partitionedUntil: Date.now() + ms });
    node.partitionTimer = setTimeout(() => {
      node.partitionTimer = null;
      if (stopping) return;
      options.log(`✓ ${name}'s partition ended: its links may come up again`);
      update(node, { partitionedUntil: null });
    }, ms);
    return true;
  }

  function clearTimers(node: Managed): void {
    if (node.restartTimer !== null) clearTimeout(node.restartTimer);
    node.restartTimer = null;
    if (node.partitionTimer !== null) clearTimeout(node.partitionTimer);
    node.partitionTimer = null;
  }

  /**
   * Every node first lets go of what needs a quorum (a singleton's lease is released through
   * Raft) while every node is still up; stopping them all at once would leave the last ones
   * waiting for a quorum that is already gone.
   */
  function quiesce(node: Managed): Promise<void> {
    const child = node.child;
    if (child === null || !child.connected) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const requestId = nextProbe++;
      const done = (): void => {
        clearTimeout(timer);
        quiescing.delete(requestId);
        child.off('exit', done);
        resolve();
      };
      const timer = setTimeout(done, QUIESCE_TIMEOUT_MS);
      quiescing.set(requestId, done);
      child.once('exit', done);
      tell(node, { type: 'quiesce', requestId });
    });
  }

  async function stopNode(node: Managed): Promise<void> {
    clearTimers(node);
    const child = node.child;
    if (child === null) {
      update(node, { state: 'stopped', pid: null, restartAt: null });
      return;
    }
    update(node, { state: 'stopping' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (child.exitCode !== null || child.signalCode !== null) return;
    tell(node, { type: 'stop' });
    const timer = setTimeout(() => {
      options.log(`✗ ${node.entry.name} did not stop within ${STOP_TIMEOUT_MS / 1000} s: SIGKILL`);
      child.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  return {
    roster,
    async start() {
      const results = await Promise.allSettled([...managed.values()].map((node) => launch(node)));
      const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    },
    async probe() {
      return Promise.all(
        [...managed.values()].map(
          (node) =>
            new Promise<Probe | null>((resolve) => {
              if (node.lifecycle.state !== 'running') return resolve(null);
              const requestId = nextProbe++;
              const timer = setTimeout(() => {
                probes.delete(requestId);
                resolve(null);
              }, PROBE_TIMEOUT_MS);
              probes.set(requestId, (probe) => {
                clearTimeout(timer);
                probes.delete(requestId);
                resolve(probe);
              });
              tell(node, { type: 'probe', requestId });
            }),
        ),
      );
    },
    setConfig(name, path, value) {
      const node = managed.get(name);
      if (node === undefined || node.lifecycle.state !== 'running') return Promise.resolve(`${name} is not running`);
      return new Promise<string | null>((resolve) => {
        const requestId = nextProbe++;
        const timer = setTimeout(() => finish(`no answer from ${name} within ${CONFIG_TIMEOUT_MS / 1000} s`), CONFIG_TIMEOUT_MS);
        const finish = (error: string | null): void => {
          clearTimeout(timer);
          configRequests.delete(requestId);
          resolve(error);
        };
        configRequests.set(requestId, finish);
        tell(node, { type: 'set-config', requestId, path, value });
      });
    },
    kill,
    partition,
    lifecycle,
    async stop() {
      stopping = true;
      for (const node of managed.values()) clearTimers(node);
      await Promise.all([...managed.values()].map((node) => quiesce(node)));
      await Promise.all([...managed.values()].map((node) => stopNode(node)));
    },
    killAll() {
      stopping = true;
      for (const node of managed.values()) {
        clearTimers(node);
        if (node.child !== null && node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
      }
    },
  };
}
