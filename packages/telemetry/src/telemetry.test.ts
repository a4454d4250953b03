import { describe, expect, it } from '@jest/globals';
import type { Clock } from '@foundation/core';
import { TELEMETRY_ERROR_CODES } from './errors/codes';
import type { EventName } from './event-name';
import type { Measurements, Metadata } from './handler-registry';
import { OTHER_DROPPED_METRIC } from './metrics/metric-registry';
import { parseSnapshot } from './metrics/snapshot';
import { HANDLER_FAILURE_EVENT, createTelemetry } from './telemetry';

interface Received {
  readonly eventName: EventName;
  readonly measurements: Measurements;
  readonly metadata: Metadata;
  readonly config: unknown;
}

function recorder() {
  const received: Received[] = [];
  const handler = (eventName: EventName, measurements: Measurements, metadata: Metadata, config: unknown): void => {
    received.push({ eventName, measurements, metadata, config });
  };
  return { received, handler };
}

/** A clock that moves only when told to. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  return { now: () => 1_700_000_000_000 + now, monotonic: () => now, advance: (ms) => void (now += ms) };
}

function codeOf(action: () => unknown): number | undefined {
  try {
    action();
  } catch (error) {
    return (error as { code?: number }).code;
  }
  return undefined;
}

describe('execute, attach, detach', () => {
  it('dispatches to the handlers attached to the exact event name, with their config', () => {
    const telemetry = createTelemetry();
    const { received, handler } = recorder();
    telemetry.attach('orders', [['shop', 'order', 'placed'], ['shop', 'order', 'paid']], handler, { sink: 'test' });
    telemetry.execute(['shop', 'order', 'placed'], { amount: 12 }, { customer: 'c-1' });
    telemetry.execute(['shop', 'order'], { amount: 1 }); // a prefix is another event
    telemetry.execute(['shop', 'order', 'placed', 'late'], { amount: 1 }); // so is a longer name
    telemetry.execute(['shop', 'order', 'paid'], { amount: 12 });
    expect(received).toEqual([
      { eventName: ['shop', 'order', 'placed'], measurements: { amount: 12 }, metadata: { customer: 'c-1' }, config: { sink: 'test' } },
      { eventName: ['shop', 'order', 'paid'], measurements: { amount: 12 }, metadata: {}, config: { sink: 'test' } },
    ]);
    expect(telemetry.listHandlers()).toEqual([
      { id: 'orders', eventName: ['shop', 'order', 'placed'], config: { sink: 'test' } },
      { id: 'orders', eventName: ['shop', 'order', 'paid'], config: { sink: 'test' } },
    ]);
    expect(telemetry.listHandlers(['shop', 'order', 'paid'])).toHaveLength(1);
    expect(telemetry.listHandlers(['billing'])).toEqual([]);
    expect(telemetry.detach('orders')).toBe(true);
    expect(telemetry.detach('orders')).toBe(false);
    telemetry.execute(['shop', 'order', 'placed'], { amount: 3 });
    expect(received).toHaveLength(2);
  });

  it('finds handlers among many sibling events, and forgets detached ones', () => {
    const telemetry = createTelemetry();
    const seen: string[] = [];
    for (let index = 0; index < 20; index += 1) telemetry.attach(`h${index}`, ['fan', `e${index}`], () => void seen.push(`e${index}`));
    for (let index = 0; index < 20; index += 1) telemetry.execute(['fan', `e${index}`], {});
    for (let index = 0; index < 20; index += 2) telemetry.detach(`h${index}`);
    for (let index = 0; index < 20; index += 1) telemetry.execute(['fan', `e${index}`], {});
    telemetry.execute(['fan', 'unknown'], {});
    expect(seen).toEqual([...Array.from({ length: 20 }, (_, index) => `e${index}`), ...Array.from({ length: 10 }, (_, index) => `e${index * 2 + 1}`)]);
    for (let index = 1; index < 20; index += 2) telemetry.detach(`h${index}`);
    expect(telemetry.listHandlers()).toEqual([]);
  });

  it('attaches a handler once to an event named twice in one attach, as attach_many takes a set of names', () => {
    const telemetry = createTelemetry();
    const { received, handler } = recorder();
    telemetry.attach('twice', [['a'], ['b', 'c'], ['a'], ['b', 'c']], handler);
    telemetry.execute(['a'], { n: 1 });
    telemetry.execute(['b', 'c'], { n: 2 });
    expect(received.map((event) => event.measurements)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(telemetry.listHandlers()).toEqual([
      { id: 'twice', eventName: ['a'], config: undefined },
      { id: 'twice', eventName: ['b', 'c'], config: undefined },
    ]);
    expect(telemetry.stats().handlers).toBe(2);
    expect(telemetry.detach('twice')).toBe(true);
    telemetry.execute(['a'], { n: 3 });
    telemetry.execute(['b', 'c'], { n: 4 });
    expect(received).toHaveLength(2);
    expect(telemetry.listHandlers()).toEqual([]);
  });

  it('calls several handlers of one event in attach order', () => {
    const telemetry = createTelemetry();
    const order: string[] = [];
    telemetry.attach('first', ['e'], () => order.push('first'));
    telemetry.attach('second', ['e'], () => order.push('second'));
    telemetry.execute(['e'], {});
    expect(order).toEqual(['first', 'second']);
  });

  it('refuses a handler id that is taken (HandlerExistsError, 5303)', () => {
    const telemetry = createTelemetry();
    telemetry.attach('dup', ['a'], () => undefined);
    expect(codeOf(() => telemetry.attach('dup', ['b'], () => undefined))).toBe(TELEMETRY_ERROR_CODES.handlerExists);
  });

  it.each([
    ['a string', 'shop.order'],
    ['an empty array', []],
    ['a number segment', ['shop', 42]],
    ['an empty segment', ['shop', '']],
    ['null', null],
    ['an object', { 0: 'shop', length: 1 }],
  ])('rejects an event name that is %s (InvalidEventNameError, 5301), attached or not', (_label, name) => {
    const telemetry = createTelemetry();
    expect(codeOf(() => telemetry.execute(name as unknown as EventName, {}))).toBe(TELEMETRY_ERROR_CODES.invalidEventName);
    expect(codeOf(() => telemetry.attach('h', name as unknown as EventName, () => undefined))).toBe(TELEMETRY_ERROR_CODES.invalidEventName);
    telemetry.attach('other', ['shop'], () => undefined);
    expect(codeOf(() => telemetry.execute(name as unknown as EventName, {}))).toBe(TELEMETRY_ERROR_CODES.invalidEventName);
  });

  it('refuses to keep an event name with a lone surrogate, which UTF-8 (CBOR, JSON logs) cannot carry apart from U+FFFD', () => {
    const telemetry = createTelemetry();
    expect(codeOf(() => telemetry.attach('h', ['shop', 'cut \uD83D'], () => undefined))).toBe(TELEMETRY_ERROR_CODES.invalidEventName);
    expect(codeOf(() => createTelemetry({ metrics: [{ name: 'shop.count', kind: 'counter', event: ['shop', '\uDC00'] }] }))).toBe(TELEMETRY_ERROR_CODES.invalidMetricDefinition);
    telemetry.attach('pair', ['shop', 'emoji 😀'], () => undefined); // a whole pair is fine
  });

  it('refuses a metric name with a lone surrogate, which its event (without "event") and snapshots keep', () => {
    // Without "event", the event is the name minus its last segment, and it was kept unchecked:
    // 'shop\uDC00.count' attached to ['shop\uDC00']. Two such names that differ only in the
    // surrogate were two metrics here and one name on any node reading the snapshot, which
    // parseSnapshot then refused whole.
    for (const name of ['shop\uDC00.count', 'shop.cut \uD83D', 'shop\uD83D.orders.count']) {
      expect(codeOf(() => createTelemetry({ metrics: [{ name, kind: 'counter', prometheus: false }] }))).toBe(TELEMETRY_ERROR_CODES.invalidMetricDefinition);
      expect(codeOf(() => createTelemetry().defineMetric({ name, kind: 'gauge', event: ['shop'], measurement: 'value', prometheus: false }))).toBe(TELEMETRY_ERROR_CODES.invalidMetricDefinition);
    }
    createTelemetry().defineMetric({ name: 'shop 😀.count', kind: 'counter', prometheus: false }); // a whole pair is fine
  });

  it('rejects measurements that are not an object (InvalidMeasurementError, 5302)', () => {
    const telemetry = createTelemetry();
    expect(codeOf(() => telemetry.execute(['a'], 5 as unknown as Measurements))).toBe(TELEMETRY_ERROR_CODES.invalidMeasurement);
    expect(codeOf(() => telemetry.execute(['a'], null as unknown as Measurements))).toBe(TELEMETRY_ERROR_CODES.invalidMeasurement);
  });
});

describe('handler isolation', () => {
  it('detaches a handler that throws, reports it as an event of its own, and never breaks the caller', () => {
    const telemetry = createTelemetry();
    const failures = recorder();
    const others = recorder();
    telemetry.attach('watcher', HANDLER_FAILURE_EVENT, failures.handler);
    const boom = new Error('handler bug');
    telemetry.attach('faulty', [['work', 'done'], ['work', 'started']], () => {
      throw boom;
    }, { owner: 'team-a' });
    telemetry.attach('healthy', ['work', 'done'], others.handler);

    expect(() => telemetry.execute(['work', 'done'], { items: 1 })).not.toThrow();
    telemetry.execute(['work', 'done'], { items: 2 });
    telemetry.execute(['work', 'started'], {});

    expect(others.received.map((event) => event.measurements)).toEqual([{ items: 1 }, { items: 2 }]);
    expect(failures.received).toHaveLength(1);
    const [failure] = failures.received;
    expect(failure!.eventName).toEqual(['telemetry', 'handler', 'failure']);
    expect(failure!.measurements).toEqual({ monotonicTime: expect.any(Number), systemTime: expect.any(Number) });
    expect(failure!.metadata).toMatchObject({ eventName: ['work', 'done'], handlerId: 'faulty', handlerConfig: { owner: 'team-a' }, kind: 'error', reason: boom });
    expect(failure!.metadata.stacktrace).toContain('handler bug');
    // Detached from every event it was attached to.
    expect(telemetry.listHandlers().map((handler) => handler.id)).toEqual(['watcher', 'healthy']);
    expect(telemetry.stats().handlerFailures).toBe(1);
  });

  it('detaches a handler whose promise rejects', async () => {
    const telemetry = createTelemetry();
    const failures = recorder();
    telemetry.attach('watcher', HANDLER_FAILURE_EVENT, failures.handler);
    telemetry.attach('async', ['tick'], async () => {
      await Promise.resolve();
      throw new Error('later');
    });
    telemetry.execute(['tick'], {});
    telemetry.execute(['tick'], {}); // still attached: the rejection has not arrived yet
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures.received).toHaveLength(1); // reported once, though it failed twice
    expect(failures.received[0]!.metadata).toMatchObject({ handlerId: 'async', kind: 'rejection' });
    expect(telemetry.listHandlers(['tick'])).toEqual([]);
  });

  it('reports the event a handler failed on, though the caller reuses its event-name array (review finding)', async () => {
    // The failure event carried the caller's array: by the time a rejection arrived, the caller had
    // written the next event into it, and the report named that event instead.
    const telemetry = createTelemetry();
    const failures = recorder();
    telemetry.attach('watcher', HANDLER_FAILURE_EVENT, failures.handler);
    telemetry.attach('async', ['queue', 'a'], async () => {
      await Promise.resolve();
      throw new Error('later');
    });
    telemetry.attach('sync', ['queue', 'b'], () => {
      throw new Error('now');
    });
    const eventName = ['queue', 'a'];
    telemetry.execute(eventName, {});
    eventName[1] = 'b';
    telemetry.execute(eventName, {});
    eventName[1] = 'c';
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures.received.map((event) => [event.metadata.handlerId, event.metadata.eventName])).toEqual([
      ['sync', ['queue', 'b']],
      ['async', ['queue', 'a']],
    ]);
  });

  it('leaves alone a handler attached since under the same id when an old one rejects late (review finding)', async () => {
    // The late rejection removed whatever held the id by then: the new handler, reported as failed.
    const telemetry = createTelemetry();
    const failures = recorder();
    telemetry.attach('watcher', HANDLER_FAILURE_EVENT, failures.handler);
    let reject: (reason: unknown) => void = () => undefined;
    telemetry.attach('h', ['tick'], () => new Promise<void>((_resolve, fail) => (reject = fail)));
    telemetry.execute(['tick'], {});
    telemetry.detach('h');
    const calls: number[] = [];
    telemetry.attach('h', ['tick'], () => void calls.push(1));
    reject(new Error('late'));
    await new Promise((resolve) => setImmediate(resolve));
    telemetry.execute(['tick'], {});
    expect(calls).toEqual([1]);
    expect(failures.received).toEqual([]);
  });

  it('isolates a handler that throws or rejects with a value whose type or stack cannot be read (review finding)', async () => {
    // The failure report read `reason instanceof Error` and `reason.stack`: for a revoked proxy, or
    // an Error whose stack getter throws, that threw out of execute (the handlers after it never
    // ran, and no failure was reported), or, for a rejection, became an unhandled rejection.
    const telemetry = createTelemetry();
    const failures = recorder();
    telemetry.attach('watcher', HANDLER_FAILURE_EVENT, failures.handler);
    const revocable = Proxy.revocable({}, {});
    revocable.revoke();
    const revoked: unknown = revocable.proxy;
    const hidden = new Error('hidden');
    Object.defineProperty(hidden, 'stack', {
      get: () => {
        throw new Error('no stack');
      },
    });
    telemetry.attach('revoked', ['work'], () => {
      throw revoked;
    });
    telemetry.attach('hidden', ['work'], () => {
      throw hidden;
    });
    telemetry.attach('rejects', ['work'], async () => {
      await Promise.resolve();
      throw revoked;
    });
    const healthy = recorder();
    telemetry.attach('healthy', ['work'], healthy.handler);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      expect(() => telemetry.execute(['work'], {})).not.toThrow();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect(healthy.received).toHaveLength(1);
    expect(failures.received.map((failure) => [failure.metadata.handlerId, failure.metadata.kind, failure.metadata.stacktrace])).toEqual([
      ['revoked', 'error', undefined],
      ['hidden', 'error', undefined],
      ['rejects', 'rejection', undefined],
    ]);
    expect(failures.received[1]!.metadata.reason).toBe(hidden);
    expect(telemetry.listHandlers().map((handler) => handler.id)).toEqual(['watcher', 'healthy']);
  });

  it('detaches a failing failure handler without looping', () => {
    const telemetry = createTelemetry();
    telemetry.attach('bad-watcher', HANDLER_FAILURE_EVENT, () => {
      throw new Error('watcher bug');
    });
    telemetry.attach('bad', ['x'], () => {
      throw new Error('bug');
    });
    telemetry.execute(['x'], {});
    expect(telemetry.listHandlers()).toEqual([]);
    expect(telemetry.stats().handlerFailures).toBe(2);
  });

  it('lets a handler attach and detach others during a dispatch without disturbing it', () => {
    const telemetry = createTelemetry();
    const calls: string[] = [];
    telemetry.attach('a', ['e'], () => {
      calls.push('a');
      telemetry.detach('b');
      if (!telemetry.listHandlers().some((handler) => handler.id === 'c')) telemetry.attach('c', ['e'], () => calls.push('c'));
    });
    telemetry.attach('b', ['e'], () => calls.push('b'));
    telemetry.execute(['e'], {});
    telemetry.execute(['e'], {});
    expect(calls).toEqual(['a', 'b', 'a', 'c']);
  });
});

describe('span', () => {
  it('emits start and stop with a duration around a synchronous function', () => {
    const clock = manualClock();
    const telemetry = createTelemetry({ clock });
    const { received, handler } = recorder();
    telemetry.attach('spans', [['db', 'query', 'start'], ['db', 'query', 'stop'], ['db', 'query', 'exception']], handler);
    const result = telemetry.span(['db', 'query'], { table: 'users' }, (scope) => {
      clock.advance(25);
      scope.addMetadata({ rows: 3 });
      return 'ok';
    });
    expect(result).toBe('ok');
    expect(received.map((event) => event.eventName.join('.'))).toEqual(['db.query.start', 'db.query.stop']);
    const [start, stop] = received;
    expect(start!.measurements).toEqual({ monotonicTime: 0, systemTime: 1_700_000_000_000 });
    expect(start!.metadata).toEqual({ table: 'users', telemetrySpanContext: expect.any(Number) });
    expect(stop!.measurements).toEqual({ duration: 25, monotonicTime: 25 });
    expect(stop!.metadata).toEqual({ table: 'users', rows: 3, telemetrySpanContext: start!.metadata.telemetrySpanContext });
  });

  it('emits exception (and rethrows) when the function throws', () => {
    const clock = manualClock();
    const telemetry = createTelemetry({ clock });
    const { received, handler } = recorder();
    telemetry.attach('spans', [['db', 'query', 'start'], ['db', 'query', 'stop'], ['db', 'query', 'exception']], handler);
    const failure = new Error('deadlock');
    expect(() =>
      telemetry.span(['db', 'query'], { table: 'users' }, () => {
        clock.advance(7);
        throw failure;
      }),
    ).toThrow(failure);
    expect(received.map((event) => event.eventName.join('.'))).toEqual(['db.query.start', 'db.query.exception']);
    expect(received[1]!.measurements).toEqual({ duration: 7, monotonicTime: 7 });
    expect(received[1]!.metadata).toMatchObject({ table: 'users', kind: 'error', reason: failure });
    expect(received[1]!.metadata.stacktrace).toContain('deadlock');
  });

  it('follows an async function to its resolution or rejection', async () => {
    const clock = manualClock();
    const telemetry = createTelemetry({ clock });
    const { received, handler } = recorder();
    telemetry.attach('spans', [['job', 'start'], ['job', 'stop'], ['job', 'exception']], handler);
    const value = await telemetry.span(['job'], {}, async () => {
      await Promise.resolve();
      clock.advance(40);
      return 42;
    });
    expect(value).toBe(42);
    await expect(
      telemetry.span(['job'], { attempt: 2 }, async () => {
        await Promise.resolve();
        clock.advance(5);
        throw new Error('async failure');
      }),
    ).rejects.toThrow('async failure');
    expect(received.map((event) => `${event.eventName.join('.')}:${String((event.measurements.duration as number | undefined) ?? '-')}`)).toEqual([
      'job.start:-',
      'job.stop:40',
      'job.start:-',
      'job.exception:5',
    ]);
    const ids = received.map((event) => event.metadata.telemetrySpanContext);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).toBe(ids[3]);
    expect(ids[0]).not.toBe(ids[2]);
  });

  it('rethrows, and reports as exception, a value whose type or stack cannot be read (review finding)', async () => {
    // The exception event read `error instanceof Error` and `error.stack`: for these values that
    // threw, so the caller got a TypeError (or the getter's error) instead of what fn threw, and
    // no exception event was emitted.
    const telemetry = createTelemetry();
    const { received, handler } = recorder();
    telemetry.attach('spans', [['job', 'exception']], handler);
    const revocable = Proxy.revocable({}, {});
    revocable.revoke();
    const revoked: unknown = revocable.proxy;
    const hidden = new Error('hidden');
    Object.defineProperty(hidden, 'stack', {
      get: () => {
        throw new Error('no stack');
      },
    });
    for (const value of [revoked, hidden]) {
      let thrown: unknown;
      try {
        telemetry.span(['job'], {}, () => {
          throw value;
        });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBe(value);
      await expect(
        telemetry.span(['job'], {}, async () => {
          await Promise.resolve();
          throw value;
        }),
      ).rejects.toBe(value);
    }
    expect(received.map((event) => [event.metadata.reason === revoked || event.metadata.reason === hidden, event.metadata.stacktrace])).toEqual([
      [true, undefined],
      [true, undefined],
      [true, undefined],
      [true, undefined],
    ]);
  });

  it('emits exception, and rethrows, for a returned thenable whose then throws or cannot be read (review finding)', () => {
    // span read `then` to follow the result: a getter that threw, or a then that threw when
    // called, went straight to the caller, past the exception event, so the span started and
    // never ended.
    const clock = manualClock();
    const telemetry = createTelemetry({ clock });
    const { received, handler } = recorder();
    telemetry.attach('spans', [['job', 'start'], ['job', 'stop'], ['job', 'exception']], handler);
    const failure = new Error('then failed');
    const throwingThen = {
      then() {
        throw failure;
      },
    };
    const unreadableThen = Object.defineProperty({}, 'then', {
      get() {
        throw failure;
      },
    });
    for (const result of [throwingThen, unreadableThen]) {
      expect(() =>
        telemetry.span(['job'], {}, () => {
          clock.advance(4);
          return result;
        }),
      ).toThrow(failure);
    }
    expect(received.map((event) => `${event.eventName.join('.')}:${String((event.measurements.duration as number | undefined) ?? '-')}`)).toEqual([
      'job.start:-',
      'job.exception:4',
      'job.start:-',
      'job.exception:4',
    ]);
    expect(received[1]!.metadata).toMatchObject({ kind: 'error', reason: failure });
    expect(received[1]!.metadata.telemetrySpanContext).toBe(received[0]!.metadata.telemetrySpanContext);
  });

  it('ends a span once when a thenable settles synchronously and then throws', () => {
    const telemetry = createTelemetry();
    const { received, handler } = recorder();
    telemetry.attach('spans', [['job', 'start'], ['job', 'stop'], ['job', 'exception']], handler);
    const failure = new Error('after resolving');
    const result = {
      then(resolve: (value: string) => void) {
        resolve('done');
        throw failure;
      },
    };
    expect(() => telemetry.span(['job'], {}, () => result)).toThrow(failure);
    expect(received.map((event) => event.eventName.join('.'))).toEqual(['job.start', 'job.stop']);
  });

  it('keeps the span working when a handler of its events throws', () => {
    const telemetry = createTelemetry();
    telemetry.attach('bad', ['s', 'start'], () => {
      throw new Error('bug');
    });
    expect(telemetry.span(['s'], {}, () => 'still runs')).toBe('still runs');
  });
});

describe('measure and the emit helpers', () => {
  it('measure emits the duration once the function returns or its promise resolves', async () => {
    const clock = manualClock();
    const telemetry = createTelemetry({ clock });
    const { received, handler } = recorder();
    telemetry.attach('m', ['cache', 'load'], handler);
    expect(telemetry.measure(['cache', 'load'], { key: 'k' }, () => (clock.advance(3), 'v'))).toBe('v');
    expect(await telemetry.measure(['cache', 'load'], { key: 'k2' }, async () => (await Promise.resolve(), clock.advance(9), 'v2'))).toBe('v2');
    expect(received.map((event) => [event.measurements, event.metadata])).toEqual([
      [{ duration: 3 }, { key: 'k' }],
      [{ duration: 9 }, { key: 'k2' }],
    ]);
  });

  it('emitCounter, emitGauge and emitHistogram emit events and feed automatic metrics', () => {
    const telemetry = createTelemetry();
    const { received, handler } = recorder();
    telemetry.attach('h', [['jobs', 'done'], ['queue', 'depth'], ['job', 'latency']], handler);
    const jobsDone = ['jobs', 'done'];
    telemetry.emitCounter(jobsDone, { queue: 'q1' });
    telemetry.emitCounter(jobsDone, {}, 4);
    telemetry.emitGauge(['queue', 'depth'], 17);
    telemetry.emitGauge(['queue', 'depth'], 12);
    for (let value = 1; value <= 100; value += 1) telemetry.emitHistogram(['job', 'latency'], value);
    expect(received[0]).toMatchObject({ measurements: { count: 1 }, metadata: { queue: 'q1' } });
    const metrics = telemetry.getMetrics();
    expect(metrics['jobs.done']).toMatchObject({ kind: 'counter', series: [{ tags: {}, value: 5 }] });
    expect(metrics['queue.depth']).toMatchObject({ kind: 'gauge', series: [{ tags: {}, value: 12 }] });
    const latency = metrics['job.latency']!.series[0]!;
    expect(latency).toMatchObject({ count: 100, sum: 5050, min: 1, max: 100 });
    expect(latency.quantiles!['0.5']).toBeCloseTo(50, -0.5);
    expect(Math.abs(latency.quantiles!['0.99']! - 99) / 99).toBeLessThanOrEqual(0.01);
    expect(Object.keys(telemetry.getMetricsFor(['jobs']))).toEqual(['jobs.done']);
    expect(Object.keys(telemetry.getMetricsFor('queue.'))).toEqual(['queue.depth']);
  });

  it('define an automatic metric again, starting from zero, once removeMetric removed it', () => {
    const telemetry = createTelemetry();
    // Constant event names, as applications keep them: the same array on every call.
    const jobsDone: EventName = ['jobs', 'done'];
    const queueDepth: EventName = ['queue', 'depth'];
    const jobLatency: EventName = ['job', 'latency'];
    telemetry.emitCounter(jobsDone, {}, 3);
    telemetry.emitGauge(queueDepth, 17);
    telemetry.emitHistogram(jobLatency, 40);
    expect(['jobs.done', 'queue.depth', 'job.latency'].map((name) => telemetry.removeMetric(name))).toEqual([true, true, true]);
    expect(telemetry.getMetrics()).toEqual({});
    telemetry.emitCounter(jobsDone, {}, 2);
    telemetry.emitCounter(jobsDone);
    telemetry.emitGauge(queueDepth, 5);
    telemetry.emitHistogram(jobLatency, 7);
    const metrics = telemetry.getMetrics();
    expect(Object.keys(metrics)).toEqual(['jobs.done', 'queue.depth', 'job.latency']);
    expect(metrics['jobs.done']).toMatchObject({ kind: 'counter', series: [{ tags: {}, value: 3 }] });
    expect(metrics['queue.depth']).toMatchObject({ kind: 'gauge', series: [{ tags: {}, value: 5 }] });
    expect(metrics['job.latency']).toMatchObject({ kind: 'histogram', series: [{ tags: {}, count: 1, sum: 7, min: 7, max: 7 }] });
    expect(telemetry.snapshot().dropped).toEqual([]);
  });

  it('feed a metric the user defined under the automatic name, and define the automatic one once it is removed', () => {
    const telemetry = createTelemetry({ metrics: [{ name: 'jobs.done', kind: 'counter', event: ['jobs', 'done'], tags: ['queue'] }] });
    const jobsDone: EventName = ['jobs', 'done'];
    telemetry.emitCounter(jobsDone, { queue: 'q1' });
    expect(telemetry.getMetrics()['jobs.done']!.series).toEqual([{ tags: { queue: 'q1' }, value: 1 }]);
    telemetry.removeMetric('jobs.done');
    telemetry.emitCounter(jobsDone, { queue: 'q1' });
    expect(telemetry.getMetrics()['jobs.done']).toMatchObject({ kind: 'counter', tags: [], series: [{ tags: {}, value: 1 }] });
    // Removed and defined again by the user: fed as defined, not replaced.
    telemetry.removeMetric('jobs.done');
    telemetry.defineMetric({ name: 'jobs.done', kind: 'counter', event: ['jobs', 'done'], tags: ['queue'] });
    telemetry.emitCounter(jobsDone, { queue: 'q2' });
    expect(telemetry.getMetrics()['jobs.done']).toMatchObject({ tags: ['queue'], series: [{ tags: { queue: 'q2' }, value: 1 }] });
  });

  it('feed the metric of the name an event-name array holds now, though it held another before (review finding)', () => {
    // The emit helpers remembered the metric per array: once the caller wrote another name into
    // it, they took the old name's metric for defined and the new name's samples went nowhere.
    const telemetry = createTelemetry();
    const eventName = ['jobs', 'done'];
    telemetry.emitCounter(eventName);
    eventName[1] = 'failed';
    telemetry.emitCounter(eventName, {}, 2);
    eventName.push('late');
    telemetry.emitGauge(eventName, 7);
    eventName.length = 2;
    eventName[1] = 'done';
    telemetry.emitCounter(eventName);
    const metrics = telemetry.getMetrics();
    expect(Object.keys(metrics)).toEqual(['jobs.done', 'jobs.failed', 'jobs.failed.late']);
    expect(metrics['jobs.done']).toMatchObject({ kind: 'counter', event: ['jobs', 'done'], series: [{ tags: {}, value: 2 }] });
    expect(metrics['jobs.failed']).toMatchObject({ kind: 'counter', event: ['jobs', 'failed'], series: [{ tags: {}, value: 2 }] });
    expect(metrics['jobs.failed.late']).toMatchObject({ kind: 'gauge', series: [{ tags: {}, value: 7 }] });
  });

  it('define an automatic metric refused at maxMetrics once removeMetric makes room', () => {
    // One place for an automatic metric; two for drop counts of their own (see OTHER_DROPPED_METRIC).
    const telemetry = createTelemetry({ maxMetrics: 2, metrics: [{ name: 'other.count', kind: 'counter' }] });
    const first: EventName = ['auto', 'first'];
    const second: EventName = ['auto', 'second'];
    telemetry.emitCounter(first);
    telemetry.emitCounter(second);
    expect(telemetry.snapshot().dropped).toEqual([{ metric: 'auto.second', reason: 'metric_limit', count: 1 }]);
    telemetry.removeMetric('auto.first');
    telemetry.emitCounter(second);
    telemetry.emitCounter(first); // now past the limit in turn
    expect(Object.keys(telemetry.getMetrics())).toEqual(['other.count', 'auto.second']);
    expect(telemetry.getMetrics()['auto.second']!.series).toEqual([{ tags: {}, value: 1 }]);
    expect(telemetry.snapshot().dropped).toEqual([
      { metric: 'auto.second', reason: 'metric_limit', count: 1 },
      { metric: 'auto.first', reason: 'metric_limit', count: 1 },
    ]);
  });

  it('still dispatch an event whose joined name cannot name a metric, and count the sample under the shared entry', () => {
    // A valid event name (execute takes it) whose joined name is longer than a metric name may
    // be, or reserved, made the emit helpers throw InvalidMetricDefinitionError: the handlers
    // attached to the event never saw it. At maxMetrics, the long name became a drop entry that
    // parseSnapshot on every other node refused.
    const long: EventName = ['x'.repeat(150), 'y'.repeat(100)];
    const reserved: EventName = ['constructor'];
    for (const maxMetrics of [10, 1]) {
      const telemetry = createTelemetry({ maxMetrics, metrics: [{ name: 'other.count', kind: 'counter' }] });
      const { received, handler } = recorder();
      telemetry.attach('h', [long, reserved], handler);
      telemetry.emitCounter(long);
      telemetry.emitGauge(long, 3);
      telemetry.emitHistogram(reserved, 4);
      expect(received.map((event) => event.eventName)).toEqual([long, long, reserved]);
      expect(Object.keys(telemetry.getMetrics())).toEqual(['other.count']);
      expect(telemetry.snapshot().dropped).toEqual([{ metric: OTHER_DROPPED_METRIC, reason: 'metric_limit', count: 3 }]);
      expect(() => parseSnapshot(JSON.parse(JSON.stringify(telemetry.snapshot())))).not.toThrow();
    }
  });
});
