import { describe, expect, it } from '@jest/globals';
import { stat } from 'node:fs';
import { createSimulation } from '@foundation/testkit';
import { createManualScheduler, settle, until } from '../../test/support';
import { InvalidOptionError } from '../errors/invalid-option-error';
import { cpuIntensive } from './cpu-intensive';
import { createSchedulerDriver } from './driver';
import { createRuntime } from './runtime';
import type { ProcessSelf } from './types';

/** A process that sends itself a message for every one it handles: it never runs out of work. */
function spinner(onMessage: () => void) {
  return (message: unknown, self: ProcessSelf): void => {
    onMessage();
    self.send(self.pid, message);
  };
}

describe('slices on a simulated clock (testkit)', () => {
  it('a busy process delays a timer that is due by at most one slice', () => {
    const simulation = createSimulation({ seed: 11 });
    const runtime = createRuntime({
      nodeId: 'node-a',
      clock: simulation.clock,
      driver: createSchedulerDriver(simulation.clock),
      scheduling: { sliceMessages: 100 },
    });
    let handled = 0;
    const busy = runtime.spawn(spinner(() => (handled += 1)));
    runtime.send(busy, 'spin');
    const seenByTimers: number[] = [];
    const timer = (): void => {
      seenByTimers.push(handled);
      if (seenByTimers.length < 5) simulation.clock.setTimer(0, timer);
    };
    simulation.clock.setTimer(0, timer);
    for (let step = 0; step < 20; step += 1) simulation.step();
    // Each timer became due right after a slice was queued, and ran after exactly that slice:
    // 100 reductions, which for this process are 50 messages (one to handle, one to send each).
    expect(seenByTimers).toEqual([50, 100, 150, 200, 250]);
    expect(runtime.processInfo(busy)?.messagesHandled).toBeGreaterThanOrEqual(250);
  });

  it('with a time budget, a timer waits at most one slice of handler time', () => {
    const clock = createManualScheduler();
    const runtime = createRuntime({ nodeId: 'node-a', clock, driver: createSchedulerDriver(clock), scheduling: { sliceMs: 5 } });
    const busy = runtime.spawn(spinner(() => clock.advance(1)));
    runtime.send(busy, 'spin');
    const delays: number[] = [];
    for (const due of [3, 9, 20, 21]) clock.setTimer(due, () => delays.push(clock.monotonic() - due));
    for (let step = 0; step < 60 && delays.length < 4; step += 1) clock.step();
    expect(delays).toHaveLength(4);
    for (const delay of delays) expect(delay).toBeLessThanOrEqual(5);
  });

  it('takes processes in turn: each spends at most processMessages reductions before the next runs', () => {
    const simulation = createSimulation({ seed: 3 });
    const runtime = createRuntime({
      nodeId: 'node-a',
      clock: simulation.clock,
      driver: createSchedulerDriver(simulation.clock),
      scheduling: { processMessages: 3 },
    });
    const order: string[] = [];
    const a = runtime.spawn((message: unknown) => void order.push(`a${String(message)}`));
    const b = runtime.spawn((message: unknown) => void order.push(`b${String(message)}`));
    for (let index = 0; index < 6; index += 1) {
      runtime.send(a, index);
      runtime.send(b, index);
    }
    simulation.run();
    expect(order).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'b2', 'a3', 'a4', 'a5', 'b3', 'b4', 'b5']);
  });

  it('reports a handler that ran longer than the threshold, with the process and the duration', () => {
    const clock = createManualScheduler();
    const events: { event: readonly string[]; measurements: Record<string, number>; metadata: Record<string, unknown> }[] = [];
    const runtime = createRuntime({
      nodeId: 'node-a',
      clock,
      driver: createSchedulerDriver(clock),
      telemetry: { execute: (event, measurements, metadata) => void events.push({ event, measurements, metadata }) },
    });
    const pid = runtime.spawn((message: unknown) => clock.advance(message === 'slow' ? 15 : 0.001), { name: 'worker' });
    runtime.send(pid, 'slow');
    for (let index = 0; index < 100; index += 1) runtime.send(pid, 'fast');
    while (clock.step());
    const long = events.filter(({ event }) => event.join('.') === 'foundation.process.long-handler');
    expect(long).toHaveLength(1);
    expect(long[0]!.measurements).toEqual({ durationMs: 15, messages: 1 });
    expect(long[0]!.metadata).toMatchObject({ name: 'worker' });
    expect((long[0]!.metadata.pid as { equals(other: unknown): boolean }).equals(pid)).toBe(true);
  });
});

describe('slices on the event loop', () => {
  it('let timers, immediates and I/O callbacks run while a process is busy', async () => {
    const runtime = createRuntime({ nodeId: 'node-a', scheduling: { sliceMs: 2 } });
    const total = 300_000;
    let handled = 0;
    const busy = runtime.spawn((message: unknown, self: ProcessSelf) => {
      handled += 1;
      if (handled < total) self.send(self.pid, message);
    });
    const seen: Record<string, number> = {};
    runtime.send(busy, 'spin');
    setImmediate(() => (seen.immediate = handled));
    setTimeout(() => (seen.timeout = handled), 1);
    stat(__filename, () => (seen.io = handled));
    await until(() => handled === total, 'the busy process to finish');
    expect(Object.keys(seen).sort()).toEqual(['immediate', 'io', 'timeout']);
    for (const value of Object.values(seen)) expect(value).toBeLessThan(total);
    await runtime.shutdown();
  });

  it('do not let a chain of async handlers starve the event loop', async () => {
    const runtime = createRuntime({ nodeId: 'node-a', scheduling: { sliceMessages: 1000 } });
    const total = 20_000;
    let handled = 0;
    const chained = runtime.spawn(async (message: unknown, self: ProcessSelf) => {
      await Promise.resolve();
      handled += 1;
      if (handled < total) self.send(self.pid, message);
    });
    let immediateSaw = -1;
    runtime.send(chained, 'go');
    setImmediate(() => (immediateSaw = handled));
    await until(() => handled === total, 'the chain to finish');
    expect(immediateSaw).toBeGreaterThanOrEqual(0);
    expect(immediateSaw).toBeLessThan(total);
    await runtime.shutdown();
  });

  it('validates the budgets', () => {
    expect(() => createRuntime({ nodeId: 'node-a', scheduling: { sliceMessages: 0 } })).toThrow(InvalidOptionError);
    expect(() => createRuntime({ nodeId: 'node-a', scheduling: { sliceMs: -1 } })).toThrow(InvalidOptionError);
    expect(() => createRuntime({ nodeId: 'node-a', scheduling: { processMessages: 2.5 } })).toThrow(InvalidOptionError);
    expect(() => createRuntime({ nodeId: 'bad node id' })).toThrow(InvalidOptionError);
  });
});

describe('cpuIntensive', () => {
  it('maps every item in order, in chunks, yielding to the event loop between them', async () => {
    const items = Array.from({ length: 1000 }, (_, index) => index);
    const chunksSeenByTicks: number[] = [];
    let processed = 0;
    let ticking = true;
    const tick = (): void => {
      chunksSeenByTicks.push(processed);
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const results = await cpuIntensive(
      items,
      (item) => {
        processed += 1;
        return item * 2;
      },
      // A time budget far out of reach, so that only the item budget cuts chunks: with the
      // default 5 ms a descheduled run on a loaded machine ended a chunk early (seen at 84).
      { budget: { items: 100, ms: 60_000 } },
    );
    ticking = false;
    expect(results).toEqual(items.map((item) => item * 2));
    const between = chunksSeenByTicks.filter((count) => count > 0 && count < 1000);
    expect(between.length).toBeGreaterThanOrEqual(5);
    for (const count of between) expect(count % 100).toBe(0);
  });

  it('honours the time budget on the given clock', async () => {
    const clock = createManualScheduler();
    const chunkStarts: number[] = [];
    let last = -1;
    const results = await cpuIntensive(
      Array.from({ length: 512 }, (_, index) => index),
      (item) => {
        const chunk = Math.floor(clock.monotonic() / 5);
        if (chunk !== last) {
          chunkStarts.push(item);
          last = chunk;
        }
        clock.advance(0.1);
        return item;
      },
      { budget: { items: 10_000, ms: 5 }, clock },
    );
    expect(results).toHaveLength(512);
    expect(chunkStarts.length).toBeGreaterThan(1);
  });

  it('rejects when the function throws or the signal aborts, and is available on the runtime', async () => {
    await expect(
      cpuIntensive([1, 2, 3], (item) => {
        if (item === 2) throw new Error('bad item');
        return item;
      }),
    ).rejects.toThrow('bad item');
    const controller = new AbortController();
    const pending = cpuIntensive(Array.from({ length: 10_000 }, (_, index) => index), (item) => item, { budget: { items: 10 }, signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
    const runtime = createRuntime({ nodeId: 'node-a' });
    expect(await runtime.cpuIntensive([1, 2], (item) => item + 1)).toEqual([2, 3]);
    await settle();
    await runtime.shutdown();
  });
});

describe('reductions', () => {
  it('count sends against the sender, so a producer cannot run far ahead of its consumer', () => {
    const simulation = createSimulation({ seed: 5 });
    const runtime = createRuntime({
      nodeId: 'node-a',
      clock: simulation.clock,
      driver: createSchedulerDriver(simulation.clock),
      scheduling: { processMessages: 100, sliceMessages: 100 },
    });
    const consumer = runtime.spawn(() => undefined);
    const producer = runtime.spawn((message: unknown, self: ProcessSelf) => {
      for (let index = 0; index < 30; index += 1) self.send(consumer, index);
      if ((message as number) > 0) self.send(self.pid, (message as number) - 1);
    });
    runtime.send(producer, 1000);
    simulation.step();
    // One producer turn is 100 reductions: 4 messages of 31 sends each (120 to the consumer).
    // Were sends free, the turn would be 100 messages and 3,000 queued messages.
    expect(runtime.processInfo(producer)?.messagesHandled).toBe(4);
    expect(runtime.processInfo(consumer)?.mailbox.length).toBe(120);
    simulation.step();
    expect(runtime.processInfo(consumer)?.mailbox.length).toBe(20);
  });
});
