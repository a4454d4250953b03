import { describe, expect, it, jest } from '@jest/globals';
import {
  attach,
  configureTelemetry,
  defaultTelemetry,
  defineMetric,
  detach,
  emitCounter,
  emitGauge,
  emitHistogram,
  execute,
  getMetrics,
  getMetricsFor,
  listHandlers,
  measure,
  metricsSnapshot,
  span,
} from './default-telemetry';
import type * as DefaultTelemetryModule from './default-telemetry';

describe('the process-wide instance', () => {
  it('backs the free functions, as :telemetry has one registry per VM', async () => {
    const seen: string[] = [];
    attach('free', [['app', 'ready'], ['app', 'work', 'stop']], (name) => void seen.push(name.join('.')));
    execute(['app', 'ready'], {}, { version: '1.0' });
    expect(span(['app', 'work'], {}, () => 7)).toBe(7);
    expect(await measure(['app', 'load'], {}, async () => 'loaded')).toBe('loaded');
    expect(seen).toEqual(['app.ready', 'app.work.stop']);
    expect(listHandlers(['app']).map((handler) => handler.id)).toEqual(['free', 'free']);
    expect(detach('free')).toBe(true);

    defineMetric({ name: 'app.requests.count', kind: 'counter', event: ['app', 'requests'] });
    execute(['app', 'requests'], {});
    emitCounter(['app', 'jobs']);
    emitGauge(['app', 'connections'], 3);
    emitHistogram(['app', 'latency'], 12);
    expect(Object.keys(getMetrics()).sort()).toEqual(['app.connections', 'app.jobs', 'app.latency', 'app.requests.count']);
    expect(Object.keys(getMetricsFor(['app', 'jobs']))).toEqual(['app.jobs']);
    expect(metricsSnapshot().metrics).toHaveLength(4);
  });

  it('lives on globalThis, so a second copy of the package shares it, and can be replaced', () => {
    const key = Symbol.for('@foundation/telemetry/default@1');
    expect((globalThis as Record<symbol, unknown>)[key]).toBe(defaultTelemetry());
    const replaced = configureTelemetry({ node: 'node-7' });
    expect(defaultTelemetry()).toBe(replaced);
    expect((globalThis as Record<symbol, unknown>)[key]).toBe(replaced);
    expect(metricsSnapshot()).toMatchObject({ node: 'node-7', metrics: [] });
  });

  it('stays shared when another copy of the package replaces it (review finding)', () => {
    // Each copy cached the instance it had seen first: after one copy's configureTelemetry, the
    // other went on emitting into the old one, and handlers attached through the first never ran.
    type Copy = typeof DefaultTelemetryModule;
    let first: Copy | undefined;
    let second: Copy | undefined;
    jest.isolateModules(() => {
      first = jest.requireActual<Copy>('./default-telemetry');
    });
    jest.isolateModules(() => {
      second = jest.requireActual<Copy>('./default-telemetry');
    });
    first!.defaultTelemetry();
    second!.configureTelemetry({ node: 'node-8' });
    const seen: unknown[] = [];
    second!.attach('copy-test', ['lib', 'event'], (_name, measurements) => seen.push(measurements));
    first!.execute(['lib', 'event'], { n: 1 });
    expect(seen).toEqual([{ n: 1 }]);
    expect(first!.defaultTelemetry()).toBe(second!.defaultTelemetry());
    second!.detach('copy-test');
  });
});
