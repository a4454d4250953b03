// Supervisor restart latency (a child crashes → its replacement has run init) and the time to
// start an ecosystem of 1,000 workers. Baselines: the same restart done by hand (a process that
// traps exits, linked to the child, spawns a replacement) and 1,000 unsupervised spawns.
import { createRuntime } from '@foundation/process';
import type { Behavior, Pid, ProcessSelf } from '@foundation/process';
import { percentile } from './report';

export interface Latency {
  readonly p50: number;
  readonly p99: number;
}

interface Probe {
  started: number;
  notify: (() => void) | null;
}

function crashingChild(probe: Probe): Behavior {
  return {
    init() {
      probe.started = performance.now();
      const notify = probe.notify;
      probe.notify = null;
      notify?.();
    },
    handleMessage() {
      throw new Error('crash');
    },
  };
}

async function measure(restarts: number, current: () => Pid | undefined, probe: Probe, send: (pid: Pid) => void): Promise<Latency> {
  const samples: number[] = [];
  for (let index = 0; index < restarts; index += 1) {
    const pid = current()!;
    const restarted = new Promise<void>((resolve) => (probe.notify = resolve));
    const start = performance.now();
    send(pid);
    await restarted;
    samples.push((probe.started - start) * 1000);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}

export async function supervisorRestart(restarts: number): Promise<Latency> {
  const runtime = createRuntime({ nodeId: 'bench' });
  const probe: Probe = { started: 0, notify: null };
  const supervisor = await runtime.startSupervisor({
    intensity: { maxRestarts: 1_000_000_000, periodMs: 1000 },
    children: [{ id: 'child', behavior: crashingChild(probe) }],
  });
  let child: Pid | undefined;
  const refresh = async (): Promise<void> => {
    child = (await runtime.whichChildren(supervisor))[0]!.pid;
  };
  await refresh();
  const samples: number[] = [];
  for (let index = 0; index < restarts; index += 1) {
    const latency = await measure(1, () => child, probe, (pid) => runtime.send(pid, 'crash'));
    samples.push(latency.p50);
    await refresh();
  }
  await runtime.shutdown();
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}

export async function handRolledRestart(restarts: number): Promise<Latency> {
  const runtime = createRuntime({ nodeId: 'bench' });
  const probe: Probe = { started: 0, notify: null };
  const behavior = crashingChild(probe);
  let child: Pid | undefined;
  // On 'start' and on every exit message of its linked child, it spawns a new child.
  const keeper = runtime.spawn(
    (_message: unknown, self: ProcessSelf) => {
      child = self.spawn(behavior, { link: self.pid });
    },
    { trapExits: true },
  );
  runtime.send(keeper, 'start');
  await new Promise((resolve) => setImmediate(resolve));
  const latency = await measure(restarts, () => child, probe, (pid) => runtime.send(pid, 'crash'));
  await runtime.shutdown();
  return latency;
}

const worker: Behavior<number, number> = { init: (index) => index, handleMessage: () => undefined };

export async function ecosystemStart(workers: number): Promise<number> {
  const runtime = createRuntime({ nodeId: 'bench' });
  const start = performance.now();
  const ecosystem = await runtime.spawnEcosystem({
    coordinator: { behavior: () => undefined },
    workers: { behavior: worker, count: workers, argsFor: (index) => index },
  });
  const ms = performance.now() - start;
  if (ecosystem.workers().length !== workers) throw new Error('workers missing');
  await runtime.shutdown();
  return ms;
}

export async function plainSpawns(count: number): Promise<number> {
  const runtime = createRuntime({ nodeId: 'bench' });
  const start = performance.now();
  for (let index = 0; index < count + 1; index += 1) runtime.spawn(worker, { args: index });
  const ms = performance.now() - start;
  await runtime.shutdown();
  return ms;
}
