// Public entry of @foundation/telemetry: everything users may import is exported here, by name.
export { DEFAULT_MAX_METRICS, HANDLER_FAILURE_EVENT, createTelemetry } from './telemetry';
export type { HandlerInfo, SpanInterceptor, SpanScope, Telemetry, TelemetryOptions, TelemetryStats } from './telemetry';
export {
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
  renderPrometheus,
  span,
} from './default-telemetry';
export type { EventName } from './event-name';
export type { Handler, Measurements, Metadata } from './handler-registry';
export { DEFAULT_MAX_SERIES, DEFAULT_QUANTILES } from './metrics/definition';
export type { MeasurementFunction, MetricDefinition, MetricKind } from './metrics/definition';
export { MAX_TAG_VALUE_LENGTH, OTHER_DROPPED_METRIC } from './metrics/metric-registry';
export type { MetricView, SampleListener, SeriesView } from './metrics/metric-registry';
export type { MetricSpec } from './metrics/definition';
export { DROP_REASONS, SNAPSHOT_FORMAT, SNAPSHOT_VERSION, mergeSnapshots, parseSnapshot } from './metrics/snapshot';
export type {
  DropReason,
  DroppedSamples,
  GaugeMerge,
  HistogramSeriesSnapshot,
  MergeOptions,
  MetricSnapshot,
  MetricsSnapshot,
  SeriesSnapshot,
  SnapshotLimits,
  ValueSeriesSnapshot,
} from './metrics/snapshot';
export { PROMETHEUS_CONTENT_TYPE, renderSnapshot } from './prometheus';
export { DEFAULT_MAX_BUCKETS, DEFAULT_RELATIVE_ACCURACY, MIN_INDEXABLE, createSketch, mergeSketches, sketchFromSnapshot } from './core/ddsketch';
export type { Sketch, SketchOptions, SketchSnapshot } from './core/ddsketch';
export { createOpenTelemetryBridge } from './opentelemetry-bridge';
export type { OpenTelemetryBridge, OpenTelemetryBridgeOptions } from './opentelemetry-bridge';
export { TELEMETRY_ERROR_CODES } from './errors/codes';
export { HandlerExistsError } from './errors/handler-exists-error';
export { IncompatibleSketchError } from './errors/incompatible-sketch-error';
export { InvalidEventNameError } from './errors/invalid-event-name-error';
export { InvalidMeasurementError } from './errors/invalid-measurement-error';
export { InvalidMetricDefinitionError } from './errors/invalid-metric-definition-error';
export { InvalidOptionsError } from './errors/invalid-options-error';
export { InvalidSnapshotError } from './errors/invalid-snapshot-error';
