// The process-wide telemetry instance behind the free functions, as :telemetry is one registry
// per VM: libraries emit, the application attaches. It lives on globalThis under a Symbol.for
// key, so two copies of this package in one process (a duplicated install) share it.
import type { EventName } from './event-name';
import type { Handler, Metadata, Measurements } from './handler-registry';
import type { MetricDefinition } from './metrics/definition';
import type { MetricView } from './metrics/metric-registry';
import type { MetricsSnapshot } from './metrics/snapshot';
import { renderSnapshot } from './prometheus';
import { createTelemetry } from './telemetry';
import type { HandlerInfo, SpanScope, Telemetry, TelemetryOptions } from './telemetry';

const GLOBAL_KEY = Symbol.for('@foundation/telemetry/default@1');

type GlobalSlot = { [GLOBAL_KEY]?: Telemetry };

const slot = globalThis as GlobalSlot;

/**
 * The process-wide instance (created with defaults on first use). Read from the global slot on
 * every call, not cached here: another copy of this package may have replaced it
 * (`configureTelemetry`), and both copies must go on sharing one instance.
 */
export function defaultTelemetry(): Telemetry {
  return (slot[GLOBAL_KEY] ??= createTelemetry());
}

/**
 * Replaces the process-wide instance (a clock, a node name, limits, metrics) and returns it.
 * Handlers and metrics of the previous instance are dropped with it; call this at start-up.
 */
export function configureTelemetry(options: TelemetryOptions = {}): Telemetry {
  const instance = createTelemetry(options);
  slot[GLOBAL_KEY] = instance;
  return instance;
}

/** `execute` on the process-wide instance (see `Telemetry.execute`). */
export function execute(eventName: EventName, measurements: Measurements, metadata?: Metadata): void {
  defaultTelemetry().execute(eventName, measurements, metadata);
}

export function attach<Config>(handlerId: string, eventNames: EventName | readonly EventName[], handler: Handler<Config>, config?: Config): void {
  defaultTelemetry().attach(handlerId, eventNames, handler, config);
}

export function detach(handlerId: string): boolean {
  return defaultTelemetry().detach(handlerId);
}

export function listHandlers(prefix?: EventName): HandlerInfo[] {
  return defaultTelemetry().listHandlers(prefix);
}

export function span<T>(prefix: EventName, metadata: Metadata, fn: (span: SpanScope) => T): T {
  return defaultTelemetry().span(prefix, metadata, fn);
}

export function measure<T>(eventName: EventName, metadata: Metadata, fn: () => T): T {
  return defaultTelemetry().measure(eventName, metadata, fn);
}

export function emitCounter(eventName: EventName, metadata?: Metadata, increment?: number): void {
  defaultTelemetry().emitCounter(eventName, metadata, increment);
}

export function emitGauge(eventName: EventName, value: number, metadata?: Metadata): void {
  defaultTelemetry().emitGauge(eventName, value, metadata);
}

export function emitHistogram(eventName: EventName, value: number, metadata?: Metadata): void {
  defaultTelemetry().emitHistogram(eventName, value, metadata);
}

export function defineMetric(definition: MetricDefinition): void {
  defaultTelemetry().defineMetric(definition);
}

export function getMetrics(): Record<string, MetricView> {
  return defaultTelemetry().getMetrics();
}

export function getMetricsFor(prefix: EventName | string): Record<string, MetricView> {
  return defaultTelemetry().getMetricsFor(prefix);
}

/** The process-wide instance's metrics as plain data (see `Telemetry.snapshot`). */
export function metricsSnapshot(): MetricsSnapshot {
  return defaultTelemetry().snapshot();
}

/**
 * The Prometheus text exposition: of the process-wide instance, or of `snapshot` (for instance
 * a cluster-wide merge from `mergeSnapshots`).
 */
export function renderPrometheus(snapshot?: MetricsSnapshot): string {
  return snapshot === undefined ? defaultTelemetry().renderPrometheus() : renderSnapshot(snapshot);
}
