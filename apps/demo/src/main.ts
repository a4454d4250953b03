// `npm start`: a five-node Foundation cluster on loopback, each node its own process, running
// a replicated key-value service with an HTTP API and a live dashboard. Ctrl-C stops it all.
//
//   npm start                       ports chosen by the OS
//   npm start -- --port 7400        dashboard on 7400; ports 7400–7409 must be free
//   options: --port N, --workers N (kv workers per node, default 3), --restart-delay S (default 4),
//            --no-traffic (no background writes), --help
//   environment: DEMO_PORT, DEMO_DATA_DIR (kept at exit; default a temporary directory, removed)
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createOrchestrator } from './orchestrator';
import { watchParent } from './parent-watch';
import type { DemoReady, Probe } from './protocol';
import { freePorts, portRange } from './ports';

const NODES = [
  { name: 'alpha', voter: true },
  { name: 'beta', voter: true },
  { name: 'gamma', voter: true },
  { name: 'delta', voter: false },
  { name: 'epsilon', voter: false },
] as const;
const SETTLE_TIMEOUT_MS = 90_000;

const color = process.stdout.isTTY && process.env.NO_COLOR === undefined;
const paint = (code: number) => (text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
const bold = paint(1);
const dim = paint(2);
const green = paint(32);
const red = paint(31);
const cyan = paint(36);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function usage(): string {
  return `Usage: npm start [-- options]

Starts a five-node Foundation cluster on 127.0.0.1 (3 Raft voters, 2 learners), each node
its own process, with a replicated key-value HTTP API and a live dashboard.

Options:
  --port N            the dashboard (alpha's HTTP port) on N; N..N+9 must be free
                      (default: ports chosen by the OS; also DEMO_PORT)
  --workers N         kv worker processes per node (default 3)
  --restart-delay S   seconds a killed node stays down (default 4)
  --no-traffic        no background writes (also DEMO_TRAFFIC=0)
  -h, --help          this text

Environment: DEMO_DATA_DIR keeps the nodes' Raft logs there (default: a temporary
directory, removed at exit).`;
}

/** A mistake in how the demo was started: the message and a hint, no stack trace. */
function usageError(message: string): never {
  console.error(`${red(message)}\nSee npm start -w @foundation-apps/demo -- --help`);
  process.exit(2);
}

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      port: { type: 'string' },
      workers: { type: 'string' },
      'restart-delay': { type: 'string' },
      'no-traffic': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
}
try {
  parsed = parse();
} catch (error) {
  usageError(error instanceof Error ? error.message : String(error));
}
const { values } = parsed;
if (values.help === true) {
  console.log(usage());
  process.exit(0);
}

const basePort = values.port ?? process.env.DEMO_PORT;
const workers = Number(values.workers ?? 3);
const restartDelayS = Number(values['restart-delay'] ?? 4);
if (!Number.isInteger(workers) || workers < 1 || workers > 16) usageError('--workers takes an integer from 1 to 16');
if (!Number.isFinite(restartDelayS) || restartDelayS < 0 || restartDelayS > 600) usageError('--restart-delay takes seconds from 0 to 600');

const startedAt = Date.now();
const givenDataDir = process.env.DEMO_DATA_DIR;
const dataDir = givenDataDir === undefined ? mkdtempSync(join(tmpdir(), 'foundation-demo-')) : resolve(givenDataDir);
if (givenDataDir !== undefined) mkdirSync(dataDir, { recursive: true });
const removeData = (): void => {
  if (givenDataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
};

let ports: number[];
try {
  ports = basePort === undefined ? await freePorts(NODES.length * 2) : await portRange(Number(basePort), NODES.length * 2);
} catch (error) {
  removeData();
  usageError(error instanceof Error ? error.message : String(error));
}
// HTTP ports first, so that with --port N the dashboard is on N.
const plan = NODES.map((node, index) => ({ ...node, httpPort: ports[index]!, port: ports[NODES.length + index]! }));

console.log(`${bold('Foundation demo')}: ${NODES.length} nodes on 127.0.0.1, each its own process (${NODES.filter((node) => node.voter).length} Raft voters, ${NODES.filter((node) => !node.voter).length} learners)`);
console.log(dim(`  data: ${dataDir}`));

const spawned: string[] = [];
const orchestrator = createOrchestrator({
  nodes: plan,
  dataDir,
  workers,
  restartDelayMs: restartDelayS * 1000,
  env: values['no-traffic'] === true ? { DEMO_TRAFFIC: '0' } : {},
  log: (line) => console.log(line.startsWith('[') ? dim(line) : line),
  onSpawn: (entry, pid, restart) => {
    if (restart) return;
    spawned.push(`${entry.name} ${String(pid ?? '?')}`);
    if (spawned.length === NODES.length) console.log(`  ${dim(`processes: ${spawned.join(', ')}; each compiles its TypeScript, starts its node and joins the others…`)}`);
  },
  onReady: (entry, ms, restart) => {
    const role = entry.voter ? 'voter' : 'learner';
    if (restart) console.log(`${green('✓')} ${entry.name} is back (${seconds(ms)} to start its process)`);
    else console.log(`  ${green('✓')} ${entry.name.padEnd(8)} ${dim(role.padEnd(8))} node ${entry.id.split('@')[1]}  http ${entry.httpUrl}  ${dim(seconds(Date.now() - startedAt))}`);
  },
});

let shuttingDown: Promise<void> | null = null;
function shutdown(reason: string, code: number): Promise<void> {
  shuttingDown ??= (async () => {
    console.log(`\n${reason}: stopping ${NODES.length} nodes gracefully…`);
    const stopStarted = Date.now();
    await orchestrator.stop();
    removeData();
    console.log(`Stopped in ${seconds(Date.now() - stopStarted)}.${givenDataDir === undefined ? ' Data removed.' : ` Data kept in ${dataDir}.`}`);
    process.exit(code);
  })();
  return shuttingDown;
}

// One Ctrl-C can arrive twice (from the terminal, and forwarded by npm or `timeout` to the
// process group): a second one counts only after a moment.
let firstInterruptAt: number | null = null;
process.on('SIGINT', () => {
  const now = Date.now();
  firstInterruptAt ??= now;
  if (now - firstInterruptAt > 1000) {
    console.log(red('Second Ctrl-C: killing every node now.'));
    orchestrator.killAll();
    removeData();
    process.exit(130);
  }
  void shutdown('Ctrl-C', 0);
});
process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
// Closing the terminal: the same graceful stop (without a handler the demo died at once and left
// its data directory behind).
process.on('SIGHUP', () => void shutdown('terminal closed', 0));
// Started by a test or a script through IPC: when that parent goes away, so does the demo.
process.on('disconnect', () => void shutdown('parent gone', 0));
// Started by npm: `npm start` runs the demo under `sh -c`, and a SIGTERM sent to npm alone (an
// editor's stop button, a process manager) is passed on to that shell only, which dies of it
// without passing it on, and the demo went on running with nothing left to stop it. So the demo
// stops when the process that started it is gone, whatever ended it.
watchParent(() => void shutdown('parent process gone', 0));
// Whatever happens, no node process outlives the orchestrator.
process.on('exit', () => orchestrator.killAll());

async function settle(): Promise<Probe[]> {
  const giveUpAt = Date.now() + SETTLE_TIMEOUT_MS;
  const expectedWorkers = NODES.length * workers;
  let lastProgress = '';
  let lastPrintedAt = Date.now();
  for (;;) {
    const probes = await orchestrator.probe();
    const answered = probes.filter((probe): probe is Probe => probe !== null);
    const leaders = new Set(answered.map((probe) => probe.leader));
    const leader = answered.find((probe) => probe.role === 'leader');
    if (
      answered.length === NODES.length &&
      leaders.size === 1 &&
      !leaders.has(null) &&
      leader !== undefined &&
      leader.learners === NODES.filter((node) => !node.voter).length &&
      answered.every((probe) => probe.nodesVisible === NODES.length && probe.workersVisible === expectedWorkers)
    ) {
      return answered;
    }
    // Progress while it settles: what is still missing, when that changes (at most every 2 s).
    const leaderName = leader === undefined ? null : leader.id.split('@')[0]!;
    const seeingAll = answered.filter((probe) => probe.nodesVisible === NODES.length && probe.workersVisible === expectedWorkers).length;
    const following = answered.filter((probe) => leader !== undefined && probe.leader === leader.id).length;
    const progress =
      leaderName === null
        ? `no Raft leader yet; ${answered.length} of ${NODES.length} nodes answer`
        : `leader ${leaderName} (${following} of ${NODES.length} nodes follow it), ${leader!.learners} learners added; ${seeingAll} of ${NODES.length} nodes see every node and worker`;
    if (progress !== lastProgress && Date.now() - lastPrintedAt > 2000) {
      console.log(dim(`  … ${progress}`));
      lastProgress = progress;
      lastPrintedAt = Date.now();
    }
    if (Date.now() > giveUpAt) {
      const last = answered.map((probe) => `${probe.id.split('@')[0]!}: leader ${probe.leader?.split('@')[0] ?? 'none'}, ${probe.nodesVisible} nodes, ${probe.workersVisible} workers`).join('; ');
      throw new Error(`the cluster did not settle within ${SETTLE_TIMEOUT_MS / 1000} s (${last || 'no node answered'})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

try {
  console.log(`Starting the nodes (each registers ${workers} kv workers under its supervisor)…`);
  await orchestrator.start();
  console.log('Waiting for a Raft leader and for every node to see every node and every worker…');
  const probes = await settle();
  const leader = probes.find((probe) => probe.role === 'leader')!;
  const [alpha, beta, gamma] = orchestrator.roster;
  console.log(`  ${green('✓')} Raft leader ${leader.id.split('@')[0]!}; ${probes[0]!.nodesVisible} nodes and ${probes[0]!.workersVisible} kv workers visible from every node`);
  // One cluster-wide config change, through a learner: it forwards the proposal to the leader,
  // the change commits through Raft, and every node applies it (each prints a line).
  const via = orchestrator.roster.find((entry) => !entry.voter) ?? alpha!;
  const refused = await orchestrator.setConfig(via.name, 'kv.routing', 'least-loaded');
  if (refused === null) console.log(`  ${green('✓')} config kv.routing = "least-loaded" set cluster-wide through ${via.name} (a learner: forwarded to the leader, committed through Raft)`);
  else console.log(red(`  ✗ the cluster-wide config change through ${via.name} failed: ${refused}`));
  const readyInMs = Date.now() - startedAt;
  console.log(`
${bold(green(`Ready in ${seconds(readyInMs)}.`))}

  ${bold('Dashboard')}  ${cyan(`${alpha!.httpUrl}/`)}   ${dim('(every node serves it)')}
  ${bold('API')}        ${orchestrator.roster.map((entry) => `${entry.httpUrl}/api`).join('  ')}

  ${bold('Try')}        curl -X PUT ${alpha!.httpUrl}/api/kv/greeting -d hello
             curl ${beta!.httpUrl}/api/kv/greeting
             curl -X PUT ${gamma!.httpUrl}/api/config/kv.maxValueBytes -d 64
             curl ${alpha!.httpUrl}/api/config

Press Ctrl-C to stop.`);
  const ready: DemoReady = { type: 'demo-ready', dashboardUrl: `${alpha!.httpUrl}/`, dataDir, nodes: orchestrator.roster, readyInMs };
  if (process.connected) process.send?.(ready);
} catch (error) {
  // Stopped while it started (Ctrl-C): the nodes' exits are no news.
  const stopping = shuttingDown as Promise<void> | null; // set by a signal handler meanwhile
  if (stopping !== null) await stopping;
  console.error(red(`The demo could not start: ${error instanceof Error ? error.message : String(error)}`));
  await shutdown('Giving up', 1);
}
