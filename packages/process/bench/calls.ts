// `call` round trip from outside any process to a process that replies synchronously, against
// the same request/response done with a promise per request over a plain queue.
import { createRuntime } from '@foundation/process';
import { percentile } from './report';

export interface Latency {
  readonly p50: number;
  readonly p99: number;
}

function summarise(samples: number[]): Latency {
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}

export async function callLatency(calls: number): Promise<Latency> {
  const runtime = createRuntime({ nodeId: 'bench' });
  const server = runtime.spawn({ handleCall: (request: unknown) => request });
  const samples: number[] = [];
  for (let index = 0; index < calls; index += 1) {
    const start = performance.now();
    await runtime.call(server, index);
    samples.push((performance.now() - start) * 1000);
  }
  await runtime.shutdown();
  return summarise(samples);
}

export async function promiseQueueLatency(calls: number): Promise<Latency> {
  const queue: { request: number; resolve: (value: number) => void }[] = [];
  let scheduled = false;
  const drain = (): void => {
    scheduled = false;
    for (const entry of queue.splice(0)) entry.resolve(entry.request);
  };
  const request = (value: number): Promise<number> =>
    new Promise<number>((resolve) => {
      queue.push({ request: value, resolve });
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(drain);
      }
    });
  const samples: number[] = [];
  for (let index = 0; index < calls; index += 1) {
    const start = performance.now();
    await request(index);
    samples.push((performance.now() - start) * 1000);
  }
  return summarise(samples);
}
