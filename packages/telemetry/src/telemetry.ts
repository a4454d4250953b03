// A telemetry instance in the :telemetry model: `execute` dispatches an event to the handlers
// attached to its exact name; handlers run synchronously in the caller; one that throws is
// detached and reported as an event of its own, never breaking the caller. Spans, `measure` and
// the `emit` helpers are built on `execute`; metrics attach internal handlers to their events.
import { systemClock } from '@foundation/core';
import type { Clock } from '@foundation/core';
import { HandlerExistsError } from './errors/handler-exists-error';
import { InvalidMeasurementError } from './errors/invalid-measurement-error';
import { InvalidOptionsError } from './errors/invalid-options-error';
import { checkEventName, hasPrefix, invalidEventName } from './event-name';
import type { EventName } from './event-name';
import { followResult } from './follow-result';
import { HandlerRegistry, childOf } from './handler-registry';
import type { AttachedHandler, Handler, Measurements, Metadata, TrieNode } from './handler-registry';
import { DEFAULT_MAX_SERIES, isMetricName } from './metrics/definition';
import type { MetricDefinition, MetricKind } from './metrics/definition';
import { MetricRegistry, OTHER_DROPPED_METRIC, viewOf } from './metrics/metric-registry';
import type { Metric, MetricView, SampleListener } from './metrics/metric-registry';
import type { MetricsSnapshot } from './metrics/snapshot';
import { renderSnapshot } from './prometheus';

/** The event reporting a handler that threw (as :telemetry's `[:telemetry, :handler, :failure]`). */
export const HANDLER_FAILURE_EVENT: EventName = Object.freeze(['telemetry', 'handler', 'failure']);

export const DEFAULT_MAX_METRICS = 1000;

export interface TelemetryOptions {
  /** Monotonic time for durations, wall time for `systemTime`. Default: the system clock. */
  readonly clock?: Clock;
  /** The node name written into snapshots, for cluster-wide merges. */
  readonly node?: string;
  /** Default bound on series (distinct tag values) per metric. Default 10,000. */
  readonly maxSeries?: number;
  /** Bound on metrics, defined and automatic. Default 1,000. */
  readonly maxMetrics?: number;
  /** Metrics to define at once. */
  readonly metrics?: readonly MetricDefinition[];
}

export interface HandlerInfo {
  readonly id: string;
  readonly eventName: EventName;
  readonly config: unknown;
}

/** Given to the function a span runs: adds metadata to the stop (or exception) event. */
export interface SpanScope {
  /** The `telemetrySpanContext` of this span's events. */
  readonly id: number;
  addMetadata(values: Readonly<Record<string, unknown>>): void;
}

/**
 * Wraps the function a span runs (after the start event, until it settles): the OpenTelemetry
 * bridge starts an OpenTelemetry span here. Must call `run` once and return what it returns.
 */
export type SpanInterceptor = <T>(prefix: EventName, metadata: Metadata, run: () => T) => T;

export interface TelemetryStats {
  readonly handlers: number;
  readonly handlerFailures: number;
  readonly metrics: number;
  readonly droppedSamples: number;
}

export interface Telemetry {
  /** Dispatches an event to the handlers attached to `eventName`. Throws InvalidEventNameError (5301) for a bad name. */
  execute(eventName: EventName, measurements: Measurements, metadata?: Metadata): void;
  /** Attaches `handler` to one event name or a list of them. Throws HandlerExistsError (5303) for a taken id. */
  attach<Config>(handlerId: string, eventNames: EventName | readonly EventName[], handler: Handler<Config>, config?: Config): void;
  /** Detaches every event of `handlerId`; false when it was not attached. */
  detach(handlerId: string): boolean;
  /** Attached handlers, optionally only those whose event name starts with `prefix`. */
  listHandlers(prefix?: EventName): HandlerInfo[];
  /**
   * Runs `fn`, emitting `[...prefix, 'start']` before it and `[...prefix, 'stop']` after it
   * (with `duration` in ms), or `[...prefix, 'exception']` if it throws or its promise rejects.
   */
  span<T>(prefix: EventName, metadata: Metadata, fn: (span: SpanScope) => T): T;
  /** Runs `fn` and emits `eventName` with its `duration` (ms) once it returns or its promise resolves. */
  measure<T>(eventName: EventName, metadata: Metadata, fn: () => T): T;
  /** Emits `eventName` with `{ count: increment }` and counts it in the automatic counter of that name. */
  emitCounter(eventName: EventName, metadata?: Metadata, increment?: number): void;
  /** Emits `eventName` with `{ value }` and records it in the automatic gauge of that name. */
  emitGauge(eventName: EventName, value: number, metadata?: Metadata): void;
  /** Emits `eventName` with `{ value }` and records it in the automatic histogram of that name. */
  emitHistogram(eventName: EventName, value: number, metadata?: Metadata): void;
  /** Adds a metric fed by the events it names. Throws InvalidMetricDefinitionError (5304). */
  defineMetric(definition: MetricDefinition): void;
  removeMetric(name: string): boolean;
  /** Every metric with its series, by name. */
  getMetrics(): Record<string, MetricView>;
  /** Metrics whose event starts with `prefix` (an event name), or whose name starts with it (a string). */
  getMetricsFor(prefix: EventName | string): Record<string, MetricView>;
  /** The metrics as plain data, to send to other nodes and merge (see `mergeSnapshots`). */
  snapshot(): MetricsSnapshot;
  /** The metrics in the Prometheus text format. */
  renderPrometheus(): string;
  interceptSpans(interceptor: SpanInterceptor): () => void;
  /** Listens to every recorded sample; returns the function that stops listening. */
  onSample(listener: SampleListener): () => void;
  stats(): TelemetryStats;
}

const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({});

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** What the emit helpers remember of an event-name array: the segments it held and the metric name they make. */
interface AutomaticEntry {
  readonly eventName: EventName;
  readonly name: string;
}

/**
 * The stack of a thrown value, if it is an Error that has one. Anything can be thrown: for a
 * revoked proxy `instanceof` throws, and an Error's `stack` may be a getter that throws; the
 * report must not, or the handler's failure would reach the caller of `execute` (or become an
 * unhandled rejection) and a span would rethrow that instead of the function's own error.
 */
function stackOf(reason: unknown): string | undefined {
  try {
    if (!(reason instanceof Error)) return undefined;
    const stack: unknown = reason.stack;
    return typeof stack === 'string' ? stack : undefined;
  } catch {
    return undefined;
  }
}

function frozenCopy(eventName: EventName): EventName {
  return Object.freeze([...eventName]);
}

/** True when `current` (not validated) holds exactly the segments of `kept`. */
function sameSegments(kept: EventName, current: EventName): boolean {
  if (current.length !== kept.length) return false;
  for (let index = 0; index < kept.length; index += 1) if (current[index] !== kept[index]) return false;
  return true;
}

function isEventNameList(names: EventName | readonly EventName[]): names is readonly EventName[] {
  return Array.isArray(names) && names.length > 0 && names.every((name) => Array.isArray(name));
}

/**
 * `names` without repeats, in first-seen order. As :telemetry's attach_many, a handler is attached
 * to a set of events: a name given twice must not call it twice per event.
 */
function distinctNames(names: readonly EventName[]): EventName[] {
  const seen = new Set<string>();
  // The JSON of the segments, since joined ones would make ['a.b'] and ['a', 'b'] one key.
  return names.filter((name) => {
    const key = JSON.stringify(name);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

class TelemetryInstance implements Telemetry {
  readonly #handlers = new HandlerRegistry();
  readonly #metrics: MetricRegistry;
  readonly #clock: Clock;
  readonly #node: string | undefined;
  /**
   * The metric name each event-name array of the emit helpers was last found to feed, so a
   * constant array is checked and joined once. Only the name is kept, never the metric: an entry
   * counts only while a metric of that name is defined (`removeMetric` leaves none to find, and
   * the next emit defines the automatic metric again), it holds nothing of a removed metric, and
   * it goes with its array (a WeakMap), so ever-new event names cannot grow it. With the name, a
   * copy of the segments it was joined from: the entry counts only while the array still holds
   * them, since a caller may write another name into the same array.
   */
  readonly #automatic = new WeakMap<EventName, AutomaticEntry>();
  /**
   * The handler id of each metric, by name. A plain Symbol, never `Symbol.for`: that would
   * register it in the process-wide symbol registry, which is never collected. The id never leaves
   * this instance, so nothing needs to find it by its description.
   */
  readonly #metricHandlers = new Map<string, symbol>();
  #interceptors: readonly SpanInterceptor[] = [];
  #spanSequence = 0;
  #handlerFailures = 0;

  constructor(options: TelemetryOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#node = options.node;
    const maxSeries = options.maxSeries ?? DEFAULT_MAX_SERIES;
    const maxMetrics = options.maxMetrics ?? DEFAULT_MAX_METRICS;
    if (!Number.isInteger(maxSeries) || maxSeries < 1) throw new InvalidOptionsError(`maxSeries must be a positive integer (got ${String(maxSeries)})`);
    if (!Number.isInteger(maxMetrics) || maxMetrics < 1) throw new InvalidOptionsError(`maxMetrics must be a positive integer (got ${String(maxMetrics)})`);
    if (options.node !== undefined && (typeof options.node !== 'string' || options.node.length === 0 || options.node.length > 256)) {
      throw new InvalidOptionsError('node must be a string of 1–256 characters');
    }
    this.#metrics = new MetricRegistry(this.#clock, maxSeries, maxMetrics);
    for (const definition of options.metrics ?? []) this.defineMetric(definition);
  }

  execute(eventName: EventName, measurements: Measurements, metadata: Metadata = EMPTY): void {
    if (!Array.isArray(eventName) || eventName.length === 0) throw invalidEventName(eventName);
    let node: TrieNode | undefined = this.#handlers.root;
    for (let index = 0; index < eventName.length; index += 1) {
      const segment: unknown = eventName[index];
      if (typeof segment !== 'string' || segment.length === 0) throw invalidEventName(eventName);
      if (node !== undefined) node = childOf(node, segment);
    }
    if (typeof measurements !== 'object' || measurements === null) {
      throw new InvalidMeasurementError(`measurements must be an object (got ${measurements === null ? 'null' : typeof measurements})`);
    }
    if (node === undefined) return;
    const handlers = node.handlers;
    for (let index = 0; index < handlers.length; index += 1) {
      const entry = handlers[index]!;
      try {
        const result: unknown = (entry.handler as Handler)(eventName, measurements, metadata, entry.config);
        if (result !== undefined && isThenable(result)) {
          // The caller may write another name into its array before the promise settles.
          const name = frozenCopy(eventName);
          result.then(undefined, (reason: unknown) => this.#handlerFailed(entry, name, reason, 'rejection'));
        }
      } catch (error) {
        this.#handlerFailed(entry, eventName, error, 'error');
      }
    }
  }

  #handlerFailed(entry: AttachedHandler, eventName: EventName, reason: unknown, kind: 'error' | 'rejection'): void {
    if (entry.internal || typeof entry.id !== 'string') return; // metrics catch their own errors
    // The handler may have failed before (another event, an earlier rejection): report once.
    if (!this.#handlers.remove(entry.id, entry)) return;
    this.#handlerFailures += 1;
    this.execute(
      HANDLER_FAILURE_EVENT,
      { monotonicTime: this.#clock.monotonic(), systemTime: this.#clock.now() },
      {
        // A copy: the caller's array is the caller's to reuse once `execute` returns.
        eventName: Object.isFrozen(eventName) ? eventName : frozenCopy(eventName),
        handlerId: entry.id,
        handlerConfig: entry.config,
        kind,
        reason,
        stacktrace: stackOf(reason),
      },
    );
  }

  attach<Config>(handlerId: string, eventNames: EventName | readonly EventName[], handler: Handler<Config>, config?: Config): void {
    if (typeof handlerId !== 'string' || handlerId.length === 0 || handlerId.length > 500) throw new InvalidOptionsError('a handler id must be a string of 1–500 characters');
    if (typeof handler !== 'function') throw new InvalidOptionsError(`handler "${handlerId}" must be a function`);
    const names = isEventNameList(eventNames) ? distinctNames(eventNames.map((name) => checkEventName(name))) : [checkEventName(eventNames)];
    if (this.#handlers.has(handlerId)) throw new HandlerExistsError(`a handler with id "${handlerId}" is already attached`, { handlerId });
    this.#handlers.add(
      handlerId,
      names.map((eventName) => ({ id: handlerId, eventName, handler, config, internal: false })),
    );
  }

  detach(handlerId: string): boolean {
    return typeof handlerId === 'string' && this.#handlers.remove(handlerId);
  }

  listHandlers(prefix?: EventName): HandlerInfo[] {
    const checked = prefix === undefined || prefix.length === 0 ? undefined : checkEventName(prefix);
    return this.#handlers
      .list()
      .filter((entry) => checked === undefined || hasPrefix(entry.eventName, checked))
      .map((entry) => ({ id: entry.id as string, eventName: entry.eventName, config: entry.config }));
  }

  span<T>(prefix: EventName, metadata: Metadata, fn: (span: SpanScope) => T): T {
    const checked = checkEventName(prefix);
    if (typeof fn !== 'function') throw new InvalidOptionsError('span needs a function to run');
    const id = ++this.#spanSequence;
    const startMetadata: Metadata = { ...metadata, telemetrySpanContext: id };
    const start = this.#clock.monotonic();
    this.execute([...checked, 'start'], { monotonicTime: start, systemTime: this.#clock.now() }, startMetadata);
    let extra: Record<string, unknown> | undefined;
    const scope: SpanScope = {
      id,
      addMetadata: (values) => {
        extra = { ...extra, ...values };
      },
    };
    const stop = (): void => {
      const end = this.#clock.monotonic();
      this.execute([...checked, 'stop'], { duration: end - start, monotonicTime: end }, extra === undefined ? startMetadata : { ...startMetadata, ...extra });
    };
    const exception = (error: unknown): void => {
      const end = this.#clock.monotonic();
      this.execute(
        [...checked, 'exception'],
        { duration: end - start, monotonicTime: end },
        { ...startMetadata, ...extra, kind: 'error', reason: error, stacktrace: stackOf(error) },
      );
    };
    let run = (): T => fn(scope);
    for (let index = this.#interceptors.length - 1; index >= 0; index -= 1) {
      const interceptor = this.#interceptors[index]!;
      const next = run;
      run = () => interceptor(checked, metadata, next);
    }
    let result: T;
    try {
      result = run();
    } catch (error) {
      exception(error);
      throw error;
    }
    return followResult(result, stop, exception);
  }

  measure<T>(eventName: EventName, metadata: Metadata, fn: () => T): T {
    const checked = checkEventName(eventName);
    const start = this.#clock.monotonic();
    const emit = (): void => this.execute(checked, { duration: this.#clock.monotonic() - start }, metadata);
    const result = fn();
    if (isThenable(result)) {
      return result.then((value) => {
        emit();
        return value;
      }) as T;
    }
    emit();
    return result;
  }

  emitCounter(eventName: EventName, metadata: Metadata = EMPTY, increment = 1): void {
    this.#automaticMetric(eventName, 'counter');
    this.execute(eventName, { count: increment }, metadata);
  }

  emitGauge(eventName: EventName, value: number, metadata: Metadata = EMPTY): void {
    this.#automaticMetric(eventName, 'gauge');
    this.execute(eventName, { value }, metadata);
  }

  emitHistogram(eventName: EventName, value: number, metadata: Metadata = EMPTY): void {
    this.#automaticMetric(eventName, 'histogram');
    this.execute(eventName, { value }, metadata);
  }

  /** Defines, when none is defined under the event's name, the metric the emit helpers feed (as 1.x's get_metrics saw them). */
  #automaticMetric(eventName: EventName, kind: MetricKind): void {
    const cached = this.#automatic.get(eventName);
    if (cached !== undefined && sameSegments(cached.eventName, eventName) && this.#metrics.get(cached.name) !== undefined) return;
    const checked = checkEventName(eventName);
    const name = checked.join('.');
    if (this.#metrics.get(name) !== undefined) {
      this.#automatic.set(eventName, { eventName: checked, name }); // defined by the user (or already automatic): it is fed as defined
      return;
    }
    if (!isMetricName(name)) {
      // A valid event name can join into a name no metric may have (too long, or reserved). The
      // event still reaches its handlers; the sample is counted under the shared entry, since a
      // drop entry under that name would make the snapshot one that parseSnapshot refuses.
      this.#metrics.drop(OTHER_DROPPED_METRIC, 'metric_limit');
      return;
    }
    if (this.#metrics.size >= this.#metrics.maxMetrics) {
      this.#metrics.drop(name, 'metric_limit');
      return;
    }
    const metric = this.#metrics.define(
      { name, kind, event: checked, measurement: kind === 'counter' ? 'count' : 'value', description: `${kind} fed by emit${kind === 'counter' ? 'Counter' : kind === 'gauge' ? 'Gauge' : 'Histogram'} on ${name}` },
      true,
    );
    this.#attachMetric(metric);
    this.#automatic.set(eventName, { eventName: checked, name });
  }

  defineMetric(definition: MetricDefinition): void {
    this.#attachMetric(this.#metrics.define(definition));
  }

  #attachMetric(metric: Metric): void {
    const metrics = this.#metrics;
    const id = Symbol(`@foundation/telemetry/metric/${metric.spec.name}`);
    this.#metricHandlers.set(metric.spec.name, id);
    this.#handlers.add(id, [
      {
        id,
        eventName: metric.spec.event,
        handler: (_name: EventName, measurements: Measurements, metadata: Metadata) => metrics.record(metric, measurements, metadata),
        config: undefined,
        internal: true,
      },
    ]);
  }

  removeMetric(name: string): boolean {
    if (!this.#metrics.remove(name)) return false;
    const id = this.#metricHandlers.get(name);
    if (id !== undefined) this.#handlers.remove(id);
    this.#metricHandlers.delete(name);
    return true;
  }

  getMetrics(): Record<string, MetricView> {
    return viewOf(this.snapshot());
  }

  getMetricsFor(prefix: EventName | string): Record<string, MetricView> {
    if (typeof prefix === 'string') {
      return viewOf(this.#metrics.snapshot(this.#handlerFailures, this.#node, (metric) => metric.spec.name.startsWith(prefix)));
    }
    const checked = checkEventName(prefix);
    return viewOf(this.#metrics.snapshot(this.#handlerFailures, this.#node, (metric) => hasPrefix(metric.spec.event, checked)));
  }

  snapshot(): MetricsSnapshot {
    return this.#metrics.snapshot(this.#handlerFailures, this.#node);
  }

  renderPrometheus(): string {
    return renderSnapshot(this.snapshot());
  }

  interceptSpans(interceptor: SpanInterceptor): () => void {
    if (typeof interceptor !== 'function') throw new InvalidOptionsError('a span interceptor must be a function');
    this.#interceptors = [...this.#interceptors, interceptor];
    return () => {
      this.#interceptors = this.#interceptors.filter((candidate) => candidate !== interceptor);
    };
  }

  onSample(listener: SampleListener): () => void {
    return this.#metrics.addListener(listener);
  }

  stats(): TelemetryStats {
    return {
      handlers: this.#handlers.list().length,
      handlerFailures: this.#handlerFailures,
      metrics: this.#metrics.size,
      droppedSamples: this.#metrics.droppedCount(),
    };
  }
}

/** A telemetry instance of its own (tests, libraries that want isolation, one per simulated node). */
export function createTelemetry(options: TelemetryOptions = {}): Telemetry {
  return new TelemetryInstance(options);
}
