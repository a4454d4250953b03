// Local send + handle throughput: a producer process sends to a consumer process, in batches,
// as processes talk to each other; and the same from code outside any process. Baselines: a
// plain array queue drained in a microtask loop (the least a mailbox can do), and an
// EventEmitter delivering each message synchronously.
import { EventEmitter } from 'node:events';
import { createRuntime } from '@foundation/process';
import type { ProcessSelf } from '@foundation/process';

const BATCH = 1000;

export async function processThroughput(messages: number): Promise<number> {
  const runtime = createRuntime({ nodeId: 'bench' });
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let received = 0;
  const consumer = runtime.spawn((message: unknown) => {
    received += message as number;
    if (received === messages) finish();
  });
  const producer = runtime.spawn((message: unknown, self: ProcessSelf) => {
    const remaining = message as number;
    const batch = Math.min(BATCH, remaining);
    for (let index = 0; index < batch; index += 1) self.send(consumer, 1);
    if (remaining > batch) self.send(self.pid, remaining - batch);
  });
  const start = performance.now();
  runtime.send(producer, messages);
  await finished;
  const seconds = (performance.now() - start) / 1000;
  await runtime.shutdown();
  return messages / seconds;
}

export async function externalThroughput(messages: number): Promise<number> {
  const runtime = createRuntime({ nodeId: 'bench' });
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let received = 0;
  const consumer = runtime.spawn((message: unknown) => {
    received += message as number;
    if (received === messages) finish();
  });
  const start = performance.now();
  for (let sent = 0; sent < messages; sent += BATCH) {
    for (let index = 0; index < BATCH; index += 1) runtime.send(consumer, 1);
    if (sent % 100_000 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  await finished;
  const seconds = (performance.now() - start) / 1000;
  await runtime.shutdown();
  return messages / seconds;
}

/** The floor: an array as the mailbox, drained by a microtask, one handler call per message. */
export async function arrayQueueThroughput(messages: number): Promise<number> {
  const queue: number[] = [];
  let head = 0;
  let scheduled = false;
  let received = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const handler = (message: number): void => {
    received += message;
    if (received === messages) finish();
  };
  const drain = (): void => {
    scheduled = false;
    while (head < queue.length) handler(queue[head++]!);
    queue.length = 0;
    head = 0;
  };
  const send = (message: number): void => {
    queue.push(message);
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(drain);
    }
  };
  const start = performance.now();
  for (let sent = 0; sent < messages; sent += BATCH) {
    for (let index = 0; index < BATCH; index += 1) send(1);
    await Promise.resolve();
  }
  await finished;
  return messages / ((performance.now() - start) / 1000);
}

export function eventEmitterThroughput(messages: number): number {
  const emitter = new EventEmitter();
  let received = 0;
  emitter.on('message', (message: number) => (received += message));
  const start = performance.now();
  for (let index = 0; index < messages; index += 1) emitter.emit('message', 1);
  const seconds = (performance.now() - start) / 1000;
  if (received !== messages) throw new Error('lost messages');
  return messages / seconds;
}
