// End-to-end figures of a Foundation cluster on loopback, each node its own process:
//   remote call   a process call from node A to a process on node B: p50/p99 one at a time,
//                 calls/s with 64 in flight (Moleculer's TCP transporter: 56–71k calls/s at 64
//                 concurrent, p50 ~130 µs on this kind of machine, BENCHMARKS.md)
//   config        setClusterWide on a 3-voter cluster: committed through Raft (fsync'd log) and
//                 applied on the proposing node; p50/p99 of 2,000 updates after 1,000 of warm-up
//                 (targets: p99 < 10 ms on loopback, the design's < 100 ms for consensus
//                 operations), and p50/p99 of the warm-up itself
//   registry      a registration on one node until all 4 others see it (5 nodes)
//
//   npm run bench -w foundation [-- --calls 20000 --config 2000 --config-warmup 1000 --registrations 50 --only call|config|registry]
// This process is node A; the others are children running this same bundle with --node.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode } from '../src/index';
import type { FoundationNode } from '../src/index';
import { freePort } from '../src/options';
import { percentile, report } from '../../../tooling/scripts/bench';

const SECRET = 'foundation-bench-secret-0123456789';
const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(args[at + 1]);
};

// ---- child mode: one node, driven over IPC --------------------------------------------------

async function runChild(options: Record<string, unknown>): Promise<void> {
  const node = await startNode(options);
  node.defineBehavior('echo', { handleCall: (request) => request });
  process.on('message', (message: { op: string; name?: string }) => {
    if (message.op === 'watch') {
      // Report the moment a registration of `name` becomes visible here.
      const name = message.name!;
      const stop = node.registry.watch(name, (event) => {
        if (event.type !== 'service-up') return;
        stop();
        process.send?.({ event: 'seen', name, node: node.id });
      });
      process.send?.({ event: 'watching', name });
    } else if (message.op === 'stop') {
      void node.stop().then(() => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ event: 'ready', id: node.id });
}

interface Child {
  readonly id: string;
  readonly process: ChildProcess;
}

async function startChild(options: Record<string, unknown>): Promise<Child> {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, '--node', JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.on('message', (message: { event?: string }) => {
      if (message.event === 'ready') resolve();
    });
    child.once('exit', (code) => reject(new Error(`node ${String(options.name)} exited with ${String(code)}`)));
  });
  return { id: options.name as string, process: child };
}

async function stopChildren(children: readonly Child[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.process.exitCode !== null) return resolve();
          const timer = setTimeout(() => child.process.kill('SIGKILL'), 5000);
          child.process.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.process.send({ op: 'stop' });
        }),
    ),
  );
}

/** Node A in this process, the rest as children; `voters` of them (A first) vote. */
async function cluster(size: number, voters: number, dataRoot: string): Promise<{ a: FoundationNode; children: Child[] }> {
  const ports = await Promise.all(Array.from({ length: size }, () => freePort('127.0.0.1')));
  const ids = ports.map((port, index) => `n${index}@127.0.0.1:${port}`);
  const common = { secret: SECRET, voters: ids.slice(0, voters), timing: 'local' as const, config: { defaults: { bench: { value: 0 } }, updatablePaths: ['bench'] } };
  const a = await startNode({ ...common, name: ids[0]!, dataDir: join(dataRoot, 'n0') });
  const children = await Promise.all(ids.slice(1).map((id, index) => startChild({ ...common, name: id, seeds: [ids[0]], dataDir: join(dataRoot, `n${index + 1}`) })));
  return { a, children };
}

const micros = (nanoseconds: bigint): number => Number(nanoseconds) / 1000;

/** µs taken by each of `count` runs of `operation`, one after another, sorted. */
async function timeEach(count: number, operation: (index: number) => Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const started = process.hrtime.bigint();
    await operation(index);
    latencies.push(micros(process.hrtime.bigint() - started));
  }
  return latencies.sort((x, y) => x - y);
}

const millis = (latencies: readonly number[]): number[] => latencies.map((us) => us / 1000);

async function benchRemoteCall(dataRoot: string, calls: number): Promise<Record<string, number>> {
  const { a, children } = await cluster(2, 1, dataRoot);
  try {
    const echo = await a.spawnOn(children[0]!.id, 'echo');
    for (let index = 0; index < 2000; index += 1) await a.runtime.call(echo, index);
    const latencies = await timeEach(calls, (index) => a.runtime.call(echo, index));
    const concurrency = 64;
    let issued = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (issued < calls * 2) {
          issued += 1;
          await a.runtime.call(echo, issued);
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { call_p50_us: percentile(latencies, 0.5), call_p99_us: percentile(latencies, 0.99), calls_per_s_64_in_flight: issued / seconds };
  } finally {
    await stopChildren(children);
    await a.stop();
  }
}

async function benchConfig(dataRoot: string, updates: number, warmup: number): Promise<Record<string, number>> {
  const { a, children } = await cluster(3, 3, dataRoot);
  try {
    await a.config.getWithConsensus('bench.value');
    // Warm-up: updates in the first two seconds or so after the nodes start were up to ten times
    // the median (three processes warming up on two cores), so they are reported apart from the
    // steady state.
    const update = (index: number): Promise<void> => a.config.setClusterWide('bench.value', index);
    const warmLatencies = millis(await timeEach(warmup, update));
    const latencies = millis(await timeEach(updates, update));
    // Whether node A led: a follower forwards each update to the leader (one more round trip).
    const proposerLed = a.status().raft.role === 'leader' ? 1 : 0;
    const readLatencies = millis(await timeEach(updates, () => a.config.getWithConsensus('bench.value')));
    return {
      config_proposer_led: proposerLed,
      config_update_p50_ms: percentile(latencies, 0.5),
      config_update_p99_ms: percentile(latencies, 0.99),
      config_warmup_update_p50_ms: percentile(warmLatencies, 0.5),
      config_warmup_update_p99_ms: percentile(warmLatencies, 0.99),
      config_read_p50_ms: percentile(readLatencies, 0.5),
      config_read_p99_ms: percentile(readLatencies, 0.99),
    };
  } finally {
    await stopChildren(children);
    await a.stop();
  }
}

async function benchRegistry(dataRoot: string, registrations: number): Promise<Record<string, number>> {
  const { a, children } = await cluster(5, 3, dataRoot);
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const convergence: number[] = [];
    for (let index = 0; index < registrations; index += 1) {
      const name = `bench.service.${index}`;
      const watching = children.map(
        (child) =>
          new Promise<void>((resolve) => {
            const listener = (message: { event?: string; name?: string }): void => {
              if (message.event !== 'watching' || message.name !== name) return;
              child.process.off('message', listener);
              resolve();
            };
            child.process.on('message', listener);
            child.process.send({ op: 'watch', name });
          }),
      );
      await Promise.all(watching);
      const seen = children.map(
        (child) =>
          new Promise<number>((resolve) => {
            const listener = (message: { event?: string; name?: string }): void => {
              if (message.event !== 'seen' || message.name !== name) return;
              child.process.off('message', listener);
              resolve(Number(process.hrtime.bigint()));
            };
            child.process.on('message', listener);
          }),
      );
      const started = Number(process.hrtime.bigint());
      a.registry.register(name, { node: a.id });
      const last = Math.max(...(await Promise.all(seen)));
      convergence.push((last - started) / 1e6);
    }
    convergence.sort((x, y) => x - y);
    return { registry_convergence_p50_ms: percentile(convergence, 0.5), registry_convergence_p99_ms: percentile(convergence, 0.99), registry_convergence_max_ms: convergence.at(-1)! };
  } finally {
    await stopChildren(children);
    await a.stop();
  }
}

async function main(): Promise<void> {
  const calls = option('calls', 20_000);
  const updates = option('config', 2000);
  const warmup = option('config-warmup', 1000);
  const registrations = option('registrations', 50);
  const dataRoot = mkdtempSync(join(tmpdir(), 'foundation-bench-'));
  const load = loadavg()[0]!;
  try {
    // --only runs one part (to profile it, say); the others report NaN.
    const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
    const run = async (part: string, measure: () => Promise<Record<string, number>>): Promise<Record<string, number>> =>
      only === undefined || only === part ? measure() : {};
    const call = await run('call', () => benchRemoteCall(join(dataRoot, 'call'), calls));
    const config = await run('config', () => benchConfig(join(dataRoot, 'config'), updates, warmup));
    const registry = await run('registry', () => benchRegistry(join(dataRoot, 'registry'), registrations));
    const metrics = { ...call, ...config, ...registry, load_average_1m: load };
    report(
      'foundation.cluster',
      [
        { name: 'remote call p50 (one at a time)', value: call.call_p50_us ?? NaN, unit: 'µs', note: 'Moleculer TCP ~130 µs' },
        { name: 'remote call p99 (one at a time)', value: call.call_p99_us ?? NaN, unit: 'µs' },
        { name: 'remote calls, 64 in flight', value: call.calls_per_s_64_in_flight ?? NaN, unit: 'calls/s', note: 'Moleculer TCP 56–71k' },
        { name: 'cluster-wide config update p50', value: config.config_update_p50_ms ?? NaN, unit: 'ms' },
        { name: 'cluster-wide config update p99', value: config.config_update_p99_ms ?? NaN, unit: 'ms', note: 'target < 10 ms' },
        { name: 'the same during the warm-up, p50', value: config.config_warmup_update_p50_ms ?? NaN, unit: 'ms', note: 'first updates after start' },
        { name: 'the same during the warm-up, p99', value: config.config_warmup_update_p99_ms ?? NaN, unit: 'ms' },
        { name: 'linearizable config read p50', value: config.config_read_p50_ms ?? NaN, unit: 'ms' },
        { name: 'linearizable config read p99', value: config.config_read_p99_ms ?? NaN, unit: 'ms' },
        { name: 'registry convergence, 5 nodes, p50', value: registry.registry_convergence_p50_ms ?? NaN, unit: 'ms' },
        { name: 'registry convergence, 5 nodes, p99', value: registry.registry_convergence_p99_ms ?? NaN, unit: 'ms' },
        { name: 'load average (1 min) at start', value: load, unit: '' },
      ],
      metrics,
      { digits: 2 },
    );
  } finally {
    rmSync(dataRoot, { recursive: true, force: true });
  }
}

const nodeAt = args.indexOf('--node');
if (nodeAt !== -1) await runChild(JSON.parse(args[nodeAt + 1]!) as Record<string, unknown>);
else {
  await main();
  process.exit(0);
}