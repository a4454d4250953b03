// Spawning 100,000 processes: time, and heap per idle process once they exist. The baseline
// is 100,000 EventEmitters with one listener each, kept in a Map by id (a minimal hand-made
// "process table").
import { EventEmitter } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createRuntime } from '@foundation/process';
import type { Pid } from '@foundation/process';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

function heap(): number {
  collect();
  collect();
  return process.memoryUsage().heapUsed;
}

export interface SpawnFigures {
  readonly ms: number;
  readonly bytesPerProcess: number;
}

export async function spawnMany(count: number): Promise<SpawnFigures> {
  const runtime = createRuntime({ nodeId: 'bench' });
  const behavior = { handleMessage: () => undefined };
  const before = heap();
  const pids: Pid[] = new Array<Pid>(count);
  const start = performance.now();
  for (let index = 0; index < count; index += 1) pids[index] = runtime.spawn(behavior);
  const ms = performance.now() - start;
  const after = heap();
  if (runtime.processes().length < count) throw new Error('processes went missing');
  const bytesPerProcess = (after - before) / count;
  await runtime.shutdown();
  return { ms, bytesPerProcess };
}

export function emitterMany(count: number): SpawnFigures {
  const before = heap();
  const table = new Map<number, EventEmitter>();
  const start = performance.now();
  for (let index = 0; index < count; index += 1) {
    const emitter = new EventEmitter();
    emitter.on('message', () => undefined);
    table.set(index + 1, emitter);
  }
  const ms = performance.now() - start;
  const after = heap();
  if (table.size !== count) throw new Error('lost emitters');
  return { ms, bytesPerProcess: (after - before) / count };
}
