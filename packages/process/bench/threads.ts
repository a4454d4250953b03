// A call to a thread-isolated process (main → worker → main), against a bare worker_threads
// postMessage ping-pong: the cost of the bridge on top of the structured clone.
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createRuntime } from '@foundation/process';
import { percentile } from './report';
import type { Latency } from './calls';

const SOURCES = resolve(process.cwd(), 'src');

export async function threadCallLatency(calls: number): Promise<Latency> {
  // The benchmark is bundled into a temporary file, so the worker entry is given explicitly:
  // the TypeScript sources, loaded in the worker through tsx.
  const runtime = createRuntime({ nodeId: 'bench', threads: { size: 1, entry: resolve(SOURCES, 'thread/worker-main.ts') } });
  const pid = await runtime.start({ module: resolve(process.cwd(), 'bench/thread-echo.ts'), export: 'echo' }, { isolation: 'thread' });
  const samples: number[] = [];
  for (let index = 0; index < calls; index += 1) {
    const start = performance.now();
    await runtime.call(pid, index);
    samples.push((performance.now() - start) * 1000);
  }
  await runtime.shutdown();
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}

export async function rawWorkerLatency(calls: number): Promise<Latency> {
  const code = `const { parentPort } = require('node:worker_threads'); parentPort.on('message', (message) => parentPort.postMessage(message));`;
  const worker = new Worker(code, { eval: true });
  const samples: number[] = [];
  for (let index = 0; index < calls; index += 1) {
    const start = performance.now();
    await new Promise<void>((done) => {
      worker.once('message', () => done());
      worker.postMessage({ k: 'call', id: 1, ref: index, body: index });
    });
    samples.push((performance.now() - start) * 1000);
  }
  await worker.terminate();
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}
