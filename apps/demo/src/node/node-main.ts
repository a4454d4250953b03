// One node of the demo cluster, as its own process (started by src/main.ts):
//   node --import tsx src/node/node-main.ts '<NodeLaunch as JSON>'
// It starts a Foundation node, a supervisor with the kv workers, the traffic singleton and the
// HTTP server, then reports `ready` to the orchestrator over IPC. It stops gracefully when the
// orchestrator says `stop` or goes away (IPC disconnect); Ctrl-C in the terminal reaches every
// process of the group, and the orchestrator alone decides what happens then.
import { join } from 'node:path';
import type { Server } from 'node:http';
import { Pid, startNode } from 'foundation';
import type { FoundationNode, Singleton } from 'foundation';
import { isObject } from '../protocol';
import type { ActionResult, FromNode, Lifecycle, NodeLaunch, Probe, ToNode } from '../protocol';
import { demoConfigSchema, demoDefaults } from './app-config';
import { createDashboardFeed } from './dashboard-feed';
import type { DashboardFeed } from './dashboard-feed';
import { loadDashboardHtml, startHttpServer } from './http-server';
import type { ActionAnswer } from './http-server';
import { createKvWorkers, WORKER_SERVICE } from './kv-worker';
import { trafficBehavior } from './traffic';
import { createPartitionGuard } from './partition';
import type { PartitionGuard } from './partition';

const send = (message: FromNode): void => {
  if (process.connected) process.send?.(message);
};

function parseLaunch(text: string | undefined): NodeLaunch {
  const launch = JSON.parse(text ?? '') as unknown;
  if (!isObject(launch) || typeof launch.id !== 'string' || typeof launch.name !== 'string' || typeof launch.httpPort !== 'number' || !Array.isArray(launch.roster)) {
    throw new Error('usage: node-main.ts \'{"name":…,"id":…,"httpPort":…,"dataDir":…,"roster":[…],"workers":3}\' with FOUNDATION_SECRET set (the orchestrator passes it)');
  }
  return launch as unknown as NodeLaunch;
}

const launch = parseLaunch(process.argv[2]);
process.on('SIGINT', () => undefined);

let node: FoundationNode | null = null;
let server: Server | null = null;
let feed: DashboardFeed | null = null;
let guard: PartitionGuard | null = null;
/** The orchestrator's latest word on every node (it may come before this node has started). */
let lifecycle: readonly Lifecycle[] = [];
let stopping: Promise<void> | null = null;

/** The kv workers' supervisor, registered under this name. */
const SUPERVISOR_NAME = 'kv-workers';

/** Kill and partition requests relayed to the orchestrator, waiting for its answer. */
const ACTION_TIMEOUT_MS = 5000;
const actions = new Map<number, (result: ActionResult) => void>();
let nextAction = 1;

/** Relays a kill or partition request to the orchestrator and waits (a while) for what it made of it. */
function askOrchestrator(request: (requestId: number) => FromNode): Promise<ActionAnswer> {
  if (!process.connected) return Promise.resolve({ outcome: 'no-orchestrator' });
  const requestId = nextAction++;
  return new Promise<ActionAnswer>((resolve) => {
    const timer = setTimeout(() => {
      actions.delete(requestId);
      resolve({ outcome: 'no-answer', waitedMs: ACTION_TIMEOUT_MS });
    }, ACTION_TIMEOUT_MS);
    actions.set(requestId, (result) => {
      clearTimeout(timer);
      actions.delete(requestId);
      resolve(result);
    });
    send(request(requestId));
  });
}

let traffic: Singleton | null = null;
let quiescing: Promise<void> | null = null;

function quiesce(): Promise<void> {
  quiescing ??= (async () => {
    server?.close();
    server?.closeAllConnections();
    await traffic?.stop().catch(() => undefined);
  })();
  return quiescing;
}

/** Stops the node and exits: 1 when `failed` (it could not start) or a step of its stop failed. */
function stop(failed = false): Promise<void> {
  stopping ??= (async () => {
    // Its own name: as `guard` it shadowed the partition guard, so `guard?.close()` below
    // cancelled this deadline and left the partition guard open.
    const exitDeadline = setTimeout(() => process.exit(1), 15_000);
    exitDeadline.unref();
    server?.close();
    server?.closeAllConnections();
    feed?.close();
    guard?.close();
    let code = failed ? 1 : 0;
    try {
      await node?.stop();
    } catch (error) {
      // Every step of stop() ran; the error names those that failed (NodeStopError).
      console.error(`${launch.name} stopped with failures: ${error instanceof Error ? error.message : String(error)}`);
      code = 1;
    }
    clearTimeout(exitDeadline);
    process.exit(code);
  })();
  return stopping;
}

process.on('message', (raw: unknown) => {
  if (!isObject(raw)) return;
  const message = raw as unknown as ToNode;
  if (message.type === 'stop') void stop();
  else if (message.type === 'set-config' && typeof message.requestId === 'number' && typeof message.path === 'string' && node !== null) {
    const requestId = message.requestId;
    node.config.setClusterWide(message.path, message.value).then(
      () => send({ type: 'config-set', requestId, error: null }),
      (error: unknown) => send({ type: 'config-set', requestId, error: error instanceof Error ? error.message : String(error) }),
    );
  } else if (message.type === 'quiesce' && typeof message.requestId === 'number') {
    const requestId = message.requestId;
    void quiesce().then(() => send({ type: 'quiesced', requestId }));
  }
  else if (message.type === 'action-result' && typeof message.requestId === 'number' && isObject(message.result)) {
    actions.get(message.requestId)?.(message.result);
  }
  else if (message.type === 'lifecycle' && Array.isArray(message.nodes)) {
    lifecycle = message.nodes as Lifecycle[];
    feed?.setLifecycle(lifecycle);
    guard?.update(lifecycle);
  }
  // Not once the node stops: its registry refuses queries after close (RegistryClosedError).
  else if (message.type === 'probe' && typeof message.requestId === 'number' && node !== null && node.available()) {
    const status = node.status();
    const probe: Probe = {
      id: node.id,
      leader: status.raft.leader,
      role: status.raft.role,
      learners: status.raft.learners.length,
      nodesVisible: node.registry.lookupAll('foundation.node').length,
      workersVisible: node.registry.discover({ name: WORKER_SERVICE, health: 'any' }).length,
    };
    send({ type: 'probe-result', requestId: message.requestId, probe });
  }
});
process.on('disconnect', () => void stop());

try {
  const others = launch.roster.filter((entry) => entry.id !== launch.id).map((entry) => entry.id);
  node = await startNode({
    name: launch.id, // secret: FOUNDATION_SECRET, from the orchestrator
    voters: launch.roster.filter((entry) => entry.voter).map((entry) => entry.id),
    // Every other node is a seed: whichever of them is up lets this one in (after a restart too).
    seeds: others,
    timing: 'local',
    dataDir: join(launch.dataDir, launch.name),
    joinTimeoutMs: 60_000,
    config: { defaults: demoDefaults(process.env.DEMO_TRAFFIC !== '0'), schema: demoConfigSchema, updatablePaths: ['kv', 'traffic'] },
  });
  const running = node;
  // Every node applies a cluster-wide change in log order and tells its subscribers: say so.
  running.config.subscribe((change) => {
    if (change.type === 'config-updated') console.log(`config ${change.path.join('.')} = ${JSON.stringify(change.value)} (applied here)`);
  });
  const self = launch.roster.find((entry) => entry.id === running.id)!;
  guard = createPartitionGuard(running.transport, self, launch.roster);
  guard.update(lifecycle);

  // The application: kv workers under a supervisor, each registered by capability.
  const workers = createKvWorkers(running);
  const supervisor = await running.runtime.startSupervisor(
    {
      strategy: 'one-for-one',
      intensity: { maxRestarts: 20, periodMs: 10_000 },
      children: Array.from({ length: launch.workers }, (_, index) => ({ id: `kv-worker-${index + 1}`, behavior: workers.behavior, args: { slot: index + 1 } })),
    },
    { id: SUPERVISOR_NAME, name: SUPERVISOR_NAME },
  );
  traffic = running.singleton({ name: 'demo-traffic', behavior: trafficBehavior(running), leaseMs: 3000 });

  feed = createDashboardFeed(running, launch);
  feed.setLifecycle(lifecycle);
  server = await startHttpServer({
    node: running,
    launch,
    feed,
    dashboardHtml: loadDashboardHtml(),
    lifecycle: () => lifecycle,
    requestKill: (name) => askOrchestrator((requestId) => ({ type: 'kill-request', requestId, name })),
    requestPartition: (name, seconds) => askOrchestrator((requestId) => ({ type: 'partition-request', requestId, name, seconds })),
    crashWorker: async () => {
      // By name: a supervisor that gave up is started again by the root supervisor, under
      // another pid (the one startSupervisor returned then answers nothing).
      const current = running.runtime.whereis(SUPERVISOR_NAME) ?? supervisor;
      const children = await running.runtime.whichChildren(current).catch(() => []);
      const alive = children.filter((child) => child.pid !== undefined);
      const chosen = alive[Math.floor(Math.random() * alive.length)]?.pid;
      if (chosen === undefined) return null;
      running.runtime.send(chosen, 'crash');
      return Pid.from(chosen).toString();
    },
  });
  // The HTTP endpoint is a service too: the dashboard lists it with the workers, and its
  // metadata carries how often this node's supervisor restarted a worker.
  const http = running.registry.register('kv-http', `http://127.0.0.1:${launch.httpPort}/`, { mode: 'group', capabilities: ['http', 'kv-api'], serviceType: 'api', metadata: { workerRestarts: 0 } });
  let reported = 0;
  setInterval(() => {
    const restarts = workers.restarts();
    if (restarts !== reported) {
      reported = restarts;
      http.updateMetadata({ workerRestarts: restarts });
    }
  }, 1000).unref();
  send({ type: 'ready', id: running.id });
} catch (error) {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  console.error(`${launch.name} failed to start: ${message}`);
  send({ type: 'fatal', message: error instanceof Error ? error.message : String(error) });
  await stop(true);
}
