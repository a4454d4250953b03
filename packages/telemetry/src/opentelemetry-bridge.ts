// Forwards Foundation telemetry to OpenTelemetry when the application registered an SDK:
// every recorded metric sample to a MeterProvider (counters → Counter, gauges → Gauge,
// histograms → Histogram, tags as attributes), and every `span` to a TracerProvider as an
// OpenTelemetry span that is active while the function runs (so spans started inside nest
// under it). Uses @opentelemetry/api only; with no SDK registered, everything is a no-op.
import { isUnsafeKey } from '@foundation/core';
import { SpanStatusCode, metrics as otelMetrics, trace as otelTrace } from '@opentelemetry/api';
import type { Attributes, Counter, Gauge, Histogram, Meter, MeterProvider, Span, TracerProvider } from '@opentelemetry/api';
import type { EventName } from './event-name';
import { followResult } from './follow-result';
import type { Metadata } from './handler-registry';
import type { MetricSpec } from './metrics/definition';
import type { Telemetry } from './telemetry';

export interface OpenTelemetryBridgeOptions {
  readonly telemetry: Telemetry;
  /** Default: the global MeterProvider, looked up on every sample so a later registration is picked up. */
  readonly meterProvider?: MeterProvider;
  /** Default: the global TracerProvider (a proxy that follows registration). */
  readonly tracerProvider?: TracerProvider;
  /** Forward metric samples (default true). */
  readonly metrics?: boolean;
  /** Forward spans (default true). */
  readonly spans?: boolean;
  /** Instrumentation scope name. Default `@foundation/telemetry`. */
  readonly scope?: string;
}

export interface OpenTelemetryBridge {
  /** Stops forwarding. */
  close(): void;
}

type Instrument = Counter | Gauge | Histogram;

function toAttributes(names: readonly string[], values: readonly string[]): Attributes {
  const attributes: Attributes = {};
  for (let index = 0; index < names.length; index += 1) {
    const name = names[index]!;
    if (!isUnsafeKey(name)) attributes[name] = values[index];
  }
  return attributes;
}

/** Span attributes from metadata: primitive values only (objects and functions are left out). */
function spanAttributes(metadata: Metadata): Attributes {
  const attributes: Attributes = {};
  for (const key of Object.keys(metadata)) {
    if (isUnsafeKey(key)) continue;
    const value = metadata[key];
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') attributes[key] = value;
  }
  return attributes;
}

/** A thrown value as a status message; never throws, whatever the value is. */
function describeError(error: unknown): string {
  try {
    return error instanceof Error ? String(error.message) : String(error);
  } catch {
    return 'a value that cannot be shown as text';
  }
}

export function createOpenTelemetryBridge(options: OpenTelemetryBridgeOptions): OpenTelemetryBridge {
  const { telemetry } = options;
  const scope = options.scope ?? '@foundation/telemetry';
  const closers: (() => void)[] = [];

  if (options.metrics !== false) {
    let provider: MeterProvider | undefined;
    let meter: Meter | undefined;
    // Weak: a removed metric's definition (and the functions it holds) must not stay here; one
    // defined again under the same name is a new definition, whose instrument the SDK backs
    // with the storage it already keeps for that name.
    let instruments = new WeakMap<MetricSpec, Instrument>();
    const instrumentFor = (spec: MetricSpec): Instrument => {
      const current = options.meterProvider ?? otelMetrics.getMeterProvider();
      if (current !== provider || meter === undefined) {
        provider = current;
        meter = current.getMeter(scope);
        instruments = new WeakMap();
      }
      let instrument = instruments.get(spec);
      if (instrument === undefined) {
        const instrumentOptions = { description: spec.description, ...(spec.unit === undefined ? {} : { unit: spec.unit }) };
        instrument =
          spec.kind === 'counter'
            ? meter.createCounter(spec.name, instrumentOptions)
            : spec.kind === 'gauge'
              ? meter.createGauge(spec.name, instrumentOptions)
              : meter.createHistogram(spec.name, instrumentOptions);
        instruments.set(spec, instrument);
      }
      return instrument;
    };
    closers.push(
      telemetry.onSample((spec, tags, value) => {
        const instrument = instrumentFor(spec);
        const attributes = toAttributes(spec.tags, tags);
        if (spec.kind === 'counter') (instrument as Counter).add(value, attributes);
        else (instrument as Gauge | Histogram).record(value, attributes);
      }),
    );
  }

  if (options.spans !== false) {
    const tracerProvider = options.tracerProvider;
    const tracer = () => (tracerProvider ?? otelTrace.getTracerProvider()).getTracer(scope);
    const intercept = <T>(prefix: EventName, metadata: Metadata, run: () => T): T => {
      let ran = false;
      try {
        return tracer().startActiveSpan(prefix.join('.'), { attributes: spanAttributes(metadata) }, (span: Span): T => {
          ran = true;
          const fail = (error: unknown): void => {
            // Anything can be thrown, and reading it can throw too (String of a null-prototype
            // object, an Error whose message getter throws): the span still ends with ERROR, and
            // the caller gets back what the function threw, never an error made here.
            try {
              if (error instanceof Error) span.recordException(error);
            } catch {
              // An exception whose fields cannot be read is not recorded; the status still says ERROR.
            }
            span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
            span.end();
          };
          let result: T;
          try {
            result = run();
          } catch (error) {
            fail(error);
            throw error;
          }
          return followResult(result, () => span.end(), fail);
        });
      } catch (error) {
        // An OpenTelemetry SDK that fails before running the function must not stop it running.
        if (!ran) return run();
        throw error;
      }
    };
    closers.push(telemetry.interceptSpans(intercept));
  }

  return {
    close() {
      for (const close of closers.splice(0)) close();
    },
  };
}
