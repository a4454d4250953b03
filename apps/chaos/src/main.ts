// npm run chaos -- [--seed N] [--duration S] [--nodes 5] [--voters 3] [--bounded] [--converge S] [--keep] [--json]
//
// Exit status: 0 when every check passed, 1 when one failed (a finding: keep the seed), 2 when
// the run could not happen (usage, not root, no `ip`/`nft`, a node that would not start).
import { parseArgs } from 'node:util';
import { FAULT_KINDS } from './faults/schedule';
import type { FaultKind } from './faults/schedule';
import { LabUnavailableError } from './lab/network-lab';
import { CHAOS_TOPOLOGIES, formatReport } from './report/report';
import type { ChaosTopology } from './report/report';
import { runChaos } from './run';
import { runReplyLostScenario } from './scenarios/reply-lost';

const USAGE = `usage: npm run chaos -- [options]

Starts Foundation nodes in separate network namespaces (veth pairs on a bridge), injects
partitions (nftables drop rules: symmetric, one-way, flapping), SIGKILL + restart and
SIGSTOP/SIGCONT while clients use the replicated KV, then checks the history and the cluster.
Needs root, iproute2 and nftables.

  --seed N        the seed of the fault schedule and the workload (default: random, printed)
  --duration S    seconds of faults (default 60)
  --bounded       the short CI schedule instead: one partition, one kill, one pause
  --faults K,...  the kinds the long form draws from (default all): partition,
                  partition-one-way, partition-flapping, kill, pause
  --nodes N       nodes (default 5)
  --voters N      Raft voters among them (default 3; the others are learners)
  --keys N        keys the clients use (default 3)
  --clients N     concurrent clients (default 4)
  --config-clients N
                  clients writing cluster-wide config alongside them (default 2; 0 for none)
  --snapshot-every N
                  Raft snapshot interval of every node, in applied entries (default 200)
  --timeout MS    client timeout per operation (default 3000)
  --timing T      local | lan node timings (default local)
  --topology T    auto | full-mesh | hyparview | client-server: the membership topology every
                  node is pinned to (default auto: a full mesh below 10 nodes, HyParView above)
  --converge S    seconds membership and registry get to converge after the faults
                  (default 30; 20 bounded; 90 with --timing lan)
  --errors-as-info  trust no "certainly not applied" error code: every failed write is indeterminate
  --keep          keep the run directory (logs, history.json, report.json) even when it passes
  --json          print the report as JSON instead of tables
  --scenario reply-lost
                  instead of a run: the scripted reproduction of the README's finding (a
                  forwarded compareAndSet whose reply is lost); exit 1 when the bug shows
  --help`;

function integer(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`--${name} must be an integer from ${min} to ${max} (got ${text})`);
  }
  return value;
}

function faultKinds(text: string): FaultKind[] {
  const kinds = [...new Set(text.split(',').map((kind) => kind.trim()))];
  for (const kind of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) throw new RangeError(`--faults: unknown kind ${JSON.stringify(kind)} (known: ${FAULT_KINDS.join(', ')})`);
  }
  if (kinds.length === 0) throw new RangeError('--faults needs at least one kind');
  return kinds as FaultKind[];
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        seed: { type: 'string' },
        duration: { type: 'string' },
        bounded: { type: 'boolean' },
        faults: { type: 'string' },
        nodes: { type: 'string' },
        voters: { type: 'string' },
        keys: { type: 'string' },
        clients: { type: 'string' },
        'config-clients': { type: 'string' },
        'snapshot-every': { type: 'string' },
        timeout: { type: 'string' },
        timing: { type: 'string' },
        topology: { type: 'string' },
        converge: { type: 'string' },
        'errors-as-info': { type: 'boolean' },
        keep: { type: 'boolean' },
        json: { type: 'boolean' },
        scenario: { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.help === true) {
    console.log(USAGE);
    return 0;
  }
  if (parsed.scenario !== undefined) {
    if (parsed.scenario !== 'reply-lost') {
      console.error(`unknown scenario ${JSON.stringify(parsed.scenario)} (known: reply-lost)\n\n${USAGE}`);
      return 2;
    }
    try {
      const outcome = await runReplyLostScenario({ log: (line) => console.log(line) });
      console.log(`\nscenario reply-lost: ${outcome.verdict.toUpperCase()}${outcome.verdict === 'correct' ? '' : `; logs in ${outcome.runDirectory}`}`);
      return outcome.verdict === 'correct' ? 0 : outcome.verdict === 'reproduced' ? 1 : 2;
    } catch (error) {
      console.error(error instanceof LabUnavailableError ? error.message : error);
      return 2;
    }
  }
  let options;
  try {
    const timing = parsed.timing ?? 'local';
    if (timing !== 'local' && timing !== 'lan') throw new RangeError(`--timing is local or lan (got ${timing})`);
    const topology = parsed.topology ?? 'auto';
    if (!(CHAOS_TOPOLOGIES as readonly string[]).includes(topology)) throw new RangeError(`--topology is ${CHAOS_TOPOLOGIES.join(', ')} (got ${topology})`);
    const nodes = integer('nodes', parsed.nodes, 5, 3, 20);
    options = {
      seed: integer('seed', parsed.seed, Math.floor(Math.random() * 2 ** 31), 0, Number.MAX_SAFE_INTEGER),
      nodes,
      voters: integer('voters', parsed.voters, 3, 1, nodes),
      bounded: parsed.bounded === true,
      durationMs: integer('duration', parsed.duration, 60, 5, 24 * 3600) * 1000,
      keys: integer('keys', parsed.keys, 3, 1, 100),
      clients: integer('clients', parsed.clients, 4, 1, 64),
      configClients: integer('config-clients', parsed['config-clients'], 2, 0, 16),
      snapshotEvery: integer('snapshot-every', parsed['snapshot-every'], 200, 1, 1_000_000),
      opTimeoutMs: integer('timeout', parsed.timeout, 3000, 100, 120_000),
      timing,
      topology: topology as ChaosTopology,
      ...(parsed.converge === undefined ? {} : { convergenceBoundMs: integer('converge', parsed.converge, 30, 1, 3600) * 1000 }),
      ...(parsed.faults === undefined ? {} : { faultKinds: faultKinds(parsed.faults) }),
      errorsAsInfo: parsed['errors-as-info'] === true,
      keepRunDirectory: parsed.keep === true,
    } as const;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }

  // Ctrl-C: the run stops injecting, heals, kills its nodes and removes its namespaces. A
  // second Ctrl-C exits at once (the exit handler still removes the namespaces).
  const controller = new AbortController();
  let interrupted = 0;
  const onSignal = (name: NodeJS.Signals): void => {
    interrupted += 1;
    if (interrupted > 1) process.exit(130);
    console.error(`\n${name}: stopping the run and cleaning up (again to exit at once)`);
    controller.abort(new Error(`interrupted by ${name}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = performance.now();
  const log = (line: string): void => console.error(`[chaos ${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
  console.log(`seed ${options.seed}`);
  try {
    const report = await runChaos({ ...options, log, signal: controller.signal });
    console.log(parsed.json === true ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.passed ? 0 : 1;
  } catch (error) {
    if (error instanceof LabUnavailableError) {
      console.error(error.message);
      return 2;
    }
    if (controller.signal.aborted) {
      console.error(`seed ${options.seed}: interrupted; nodes killed and namespaces removed`);
      return 130;
    }
    console.error(`seed ${options.seed}: the run could not complete:`, error);
    return 2;
  }
}

process.exitCode = await main();
