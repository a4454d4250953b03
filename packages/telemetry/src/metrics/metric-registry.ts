// The metrics of one telemetry instance: definitions, their series, and the samples dropped.
// `record` is called by the internal handler each metric attaches to its event; it never throws
// (user functions that throw drop the sample with a counter), so a metric can never break the
// code that emitted the event.
import type { Clock } from '@foundation/core';
import { createSketch, sketchFromSnapshot } from '../core/ddsketch';
import type { Sketch } from '../core/ddsketch';
import { InvalidMetricDefinitionError } from '../errors/invalid-metric-definition-error';
import type { EventName } from '../event-name';
import type { Measurements, Metadata } from '../handler-registry';
import { normaliseDefinition, renderedNames } from './definition';
import type { MetricDefinition, MetricKind, MetricSpec } from './definition';
import { SeriesTable } from './series-table';
import { DROPPED_SAMPLES_FAMILY, DROP_REASONS, HANDLER_FAILURES_FAMILY, SNAPSHOT_FORMAT, SNAPSHOT_VERSION } from './snapshot';
import type { DropReason, MetricSnapshot, MetricsSnapshot, SeriesSnapshot } from './snapshot';
import { wellFormed } from '../well-formed';

/** Longest tag value recorded; longer ones drop the sample (reason `invalid_tag`). */
export const MAX_TAG_VALUE_LENGTH = 256;

export { DROPPED_SAMPLES_FAMILY, HANDLER_FAILURES_FAMILY } from './snapshot';
/**
 * The metric name under which `metric_limit` drops are counted once `maxMetrics` names already
 * have their own count: the names come from events, possibly from user input, and must not grow
 * memory without bound.
 */
export const OTHER_DROPPED_METRIC = '(other)';

interface ValueSeries {
  value: number;
  updatedAt: number;
}

interface HistogramSeries {
  readonly sketch: Sketch;
  readonly bucketCounts: Float64Array | undefined;
}

type Series = ValueSeries | HistogramSeries;

export interface Metric {
  readonly spec: MetricSpec;
  readonly table: SeriesTable<Series>;
  readonly automatic: boolean;
  /**
   * Tag values of the sample being recorded (reused: recording into an existing series allocates
   * nothing). Undefined while a record holds it: see `record`.
   */
  tagBuffer: string[] | undefined;
}

/** Receives every accepted sample (the OpenTelemetry bridge): tag values in tag order. */
export type SampleListener = (spec: MetricSpec, tags: readonly string[], value: number) => void;

/** A series as `getMetrics` shows it. */
export interface SeriesView {
  readonly tags: Readonly<Record<string, string>>;
  /** Counters and gauges. */
  readonly value?: number;
  /** Histograms. */
  readonly count?: number;
  readonly sum?: number;
  readonly min?: number;
  readonly max?: number;
  /** Histograms: quantile → value, e.g. { '0.5': 12.1, '0.99': 80.4 }. */
  readonly quantiles?: Readonly<Record<string, number>>;
}

export interface MetricView {
  readonly name: string;
  readonly kind: MetricKind;
  readonly description: string;
  readonly unit?: string;
  readonly event: EventName;
  readonly tags: readonly string[];
  readonly series: readonly SeriesView[];
}

export class MetricRegistry {
  readonly #metrics = new Map<string, Metric>();
  readonly #renderedNames = new Set<string>([DROPPED_SAMPLES_FAMILY, HANDLER_FAILURES_FAMILY]);
  readonly #dropped = new Map<string, Map<DropReason, number>>();
  readonly #listeners = new Set<SampleListener>();
  readonly #clock: Clock;
  readonly #defaultMaxSeries: number;
  readonly #maxMetrics: number;
  /** Names that got an entry in #dropped through a metric_limit drop. */
  #limitNames = 0;

  constructor(clock: Clock, defaultMaxSeries: number, maxMetrics: number) {
    this.#clock = clock;
    this.#defaultMaxSeries = defaultMaxSeries;
    this.#maxMetrics = maxMetrics;
  }

  get size(): number {
    return this.#metrics.size;
  }

  get maxMetrics(): number {
    return this.#maxMetrics;
  }

  get(name: string): Metric | undefined {
    return this.#metrics.get(name);
  }

  metrics(): IterableIterator<Metric> {
    return this.#metrics.values();
  }

  /** Checks a definition against the others and adds it. Automatic metrics never throw for their name: they stay out of Prometheus instead. */
  define(definition: MetricDefinition, automatic = false): Metric {
    const spec = normaliseDefinition(definition, this.#defaultMaxSeries, !automatic);
    if (this.#metrics.has(spec.name)) throw new InvalidMetricDefinitionError(`metric "${spec.name}" is already defined`, { metric: spec.name });
    if (this.#metrics.size >= this.#maxMetrics) {
      throw new InvalidMetricDefinitionError(`at most ${this.#maxMetrics} metrics can be defined (maxMetrics)`, { metric: spec.name });
    }
    let names = renderedNames(spec);
    const clash = names.find((name) => this.#renderedNames.has(name));
    let final = spec;
    if (clash !== undefined) {
      if (!automatic) {
        throw new InvalidMetricDefinitionError(`metric "${spec.name}" would render "${clash}" in Prometheus, which another metric already renders (or set prometheus: false)`, {
          metric: spec.name,
        });
      }
      final = Object.freeze(Object.assign({}, spec, { prometheusName: undefined, labelNames: [] }));
      names = [];
    }
    for (const name of names) this.#renderedNames.add(name);
    const metric: Metric = { spec: final, table: new SeriesTable<Series>(final.tags.length, final.maxSeries), automatic, tagBuffer: new Array<string>(final.tags.length).fill('') };
    this.#metrics.set(final.name, metric);
    return metric;
  }

  remove(name: string): boolean {
    const metric = this.#metrics.get(name);
    if (metric === undefined) return false;
    this.#metrics.delete(name);
    for (const rendered of renderedNames(metric.spec)) this.#renderedNames.delete(rendered);
    this.#foldDropped(name);
    return true;
  }

  /**
   * Moves the drop counts of a removed metric to the shared entry: kept under its name, they
   * would make an entry per name for good, and metrics defined and removed under ever-new names
   * would grow memory without bound. The totals stay as they were.
   */
  #foldDropped(name: string): void {
    const reasons = this.#dropped.get(name);
    if (reasons === undefined || name === OTHER_DROPPED_METRIC) return;
    this.#dropped.delete(name);
    // Only names that got their entry through a metric_limit drop are counted in #limitNames.
    if (reasons.has('metric_limit')) this.#limitNames -= 1;
    let other = this.#dropped.get(OTHER_DROPPED_METRIC);
    if (other === undefined) {
      other = new Map();
      this.#dropped.set(OTHER_DROPPED_METRIC, other);
    }
    for (const [reason, count] of reasons) other.set(reason, (other.get(reason) ?? 0) + count);
  }

  addListener(listener: SampleListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  drop(name: string, reason: DropReason): void {
    let metric = name;
    let reasons = this.#dropped.get(metric);
    if (reasons === undefined && reason === 'metric_limit' && metric !== OTHER_DROPPED_METRIC) {
      // Other reasons name defined metrics (bounded by maxMetrics); metric_limit names are not.
      if (this.#limitNames < this.#maxMetrics) this.#limitNames += 1;
      else {
        metric = OTHER_DROPPED_METRIC;
        reasons = this.#dropped.get(metric);
      }
    }
    if (reasons === undefined) {
      reasons = new Map();
      this.#dropped.set(metric, reasons);
    }
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }

  droppedCount(metric?: string, reason?: DropReason): number {
    let total = 0;
    for (const [name, reasons] of this.#dropped) {
      if (metric !== undefined && name !== metric) continue;
      for (const [why, count] of reasons) if (reason === undefined || why === reason) total += count;
    }
    return total;
  }

  /** Records one event into `metric`; never throws. */
  record(metric: Metric, measurements: Measurements, metadata: Metadata): void {
    const { spec } = metric;
    let raw: unknown;
    let tagSource: Readonly<Record<string, unknown>> = metadata;
    try {
      if (spec.keepIf !== undefined && spec.keepIf(metadata, measurements) !== true) return;
      if (spec.measurementFunction !== undefined) raw = spec.measurementFunction(measurements, metadata);
      else if (spec.measurementKey !== undefined) raw = ownValue(measurements, spec.measurementKey);
      else raw = 1;
      if (spec.tagValues !== undefined) tagSource = spec.tagValues(metadata);
    } catch {
      this.drop(spec.name, 'error');
      return;
    }
    if (raw === undefined) {
      this.drop(spec.name, 'missing_measurement');
      return;
    }
    if (typeof raw !== 'number' || !Number.isFinite(raw)) {
      this.drop(spec.name, 'invalid_measurement');
      return;
    }
    const value = raw * spec.scale;
    // Scaling can overflow a finite measurement; what is stored must stay finite (snapshots are JSON).
    if (!Number.isFinite(value)) {
      this.drop(spec.name, 'invalid_measurement');
      return;
    }
    if (spec.kind === 'counter' && value < 0) {
      this.drop(spec.name, 'negative_counter');
      return;
    }
    // The buffer is taken for the rest of the record: a metadata getter (or a proxy) read for the
    // tags may execute the same event, and that record, writing its tag values into the same
    // buffer, sent this sample to a series mixing both. A record entered meanwhile finds none and
    // makes its own; the usual one allocates nothing.
    const buffer = metric.tagBuffer ?? new Array<string>(spec.tags.length).fill('');
    metric.tagBuffer = undefined;
    try {
      this.#recordTagged(metric, value, tagSource, buffer);
    } finally {
      metric.tagBuffer = buffer;
    }
  }

  /** The rest of `record`, from the tag values on, with the buffer it holds for them. */
  #recordTagged(metric: Metric, value: number, tagSource: Readonly<Record<string, unknown>>, buffer: string[]): void {
    const { spec } = metric;
    let tags: ReturnType<typeof tagValues>;
    try {
      tags = spec.tags.length === 0 ? buffer : tagValues(spec, tagSource, buffer);
    } catch {
      // A metadata value whose getter throws: the sample is dropped and counted, like a throwing
      // measurement function (it escaped uncounted).
      this.drop(spec.name, 'error');
      return;
    }
    if (tags === undefined) {
      this.drop(spec.name, 'invalid_tag');
      return;
    }
    let series = metric.table.get(tags);
    // Only on a miss: a tag value with a lone surrogate is looked up (and kept) as the text
    // UTF-8 can carry, so the hot path of an existing series pays nothing for it.
    if (series === undefined && makeWellFormed(tags)) series = metric.table.get(tags);
    if (series === undefined) {
      series = this.#newSeries(spec);
      if (!metric.table.add(tags, series)) {
        this.drop(spec.name, 'cardinality');
        return;
      }
    }
    if (spec.kind === 'histogram') {
      const histogram = series as HistogramSeries;
      // A sum past the largest finite number would make the snapshot unreadable (and unrenderable).
      if (!Number.isFinite(histogram.sketch.sum + value)) {
        this.drop(spec.name, 'invalid_measurement');
        return;
      }
      histogram.sketch.add(value);
      if (histogram.bucketCounts !== undefined) histogram.bucketCounts[bucketIndex(spec.buckets!, value)]! += 1;
    } else {
      const single = series as ValueSeries;
      if (spec.kind === 'counter') {
        const total = single.value + value;
        if (!Number.isFinite(total)) {
          this.drop(spec.name, 'invalid_measurement');
          return;
        }
        single.value = total;
      } else {
        single.value = value;
        single.updatedAt = this.#clock.now();
      }
    }
    if (this.#listeners.size > 0) {
      const kept = spec.tags.length === 0 ? tags : [...tags];
      for (const listener of this.#listeners) {
        try {
          listener(spec, kept, value);
        } catch {
          // A bridge that fails must not break recording.
        }
      }
    }
  }

  #newSeries(spec: MetricSpec): Series {
    if (spec.kind === 'histogram') {
      return {
        sketch: createSketch({ relativeAccuracy: spec.relativeAccuracy, maxBuckets: spec.maxBuckets }),
        bucketCounts: spec.buckets === undefined ? undefined : new Float64Array(spec.buckets.length + 1),
      };
    }
    return { value: 0, updatedAt: 0 };
  }

  snapshot(handlerFailures: number, node: string | undefined, filter?: (metric: Metric) => boolean): MetricsSnapshot {
    const metrics: MetricSnapshot[] = [];
    for (const metric of this.#metrics.values()) {
      if (filter !== undefined && !filter(metric)) continue;
      metrics.push(metricSnapshot(metric));
    }
    const dropped = [];
    for (const [metric, reasons] of this.#dropped) {
      for (const reason of DROP_REASONS) {
        const count = reasons.get(reason);
        if (count !== undefined) dropped.push({ metric, reason, count });
      }
    }
    return {
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      takenAt: this.#clock.now(),
      metrics,
      dropped,
      handlerFailures,
      ...(node === undefined ? {} : { node }),
    };
  }
}

/**
 * `record[key]` if it is an own property. Numbers and strings are taken as they are (nothing on
 * Object.prototype is one), so the own-property check runs only for other values, off the hot path.
 */
function ownValue(record: Readonly<Record<string, unknown>>, key: string): unknown {
  const value = record[key];
  if (value === undefined || typeof value === 'number' || typeof value === 'string') return value;
  return Object.hasOwn(record, key) ? value : undefined;
}

/** Tag values as strings, written into `buffer`; undefined when one is unusable. */
function tagValues(spec: MetricSpec, source: Readonly<Record<string, unknown>>, buffer: string[]): string[] | undefined {
  const count = spec.tags.length;
  for (let index = 0; index < count; index += 1) {
    const key = spec.tags[index]!;
    const value = typeof source === 'object' && source !== null ? ownValue(source, key) : undefined;
    let text: string;
    switch (typeof value) {
      case 'string':
        text = value;
        break;
      case 'number':
      case 'boolean':
      case 'bigint':
        text = String(value);
        break;
      case 'undefined':
        text = '';
        break;
      default:
        if (value !== null) return undefined;
        text = '';
    }
    if (text.length > MAX_TAG_VALUE_LENGTH) return undefined;
    buffer[index] = text;
  }
  return buffer;
}

/**
 * Replaces lone surrogates in `tags` with U+FFFD, in place, as UTF-8 encoding does (Prometheus
 * text, CBOR): two values that differ only there (strings cut inside an emoji) would otherwise be
 * two series that reach the wire as one. True when anything changed.
 */
function makeWellFormed(tags: string[]): boolean {
  let changed = false;
  for (let index = 0; index < tags.length; index += 1) {
    const value = tags[index]!;
    const carried = wellFormed(value);
    if (carried !== value) {
      tags[index] = carried;
      changed = true;
    }
  }
  return changed;
}

/** Index of the bucket whose upper bound is the first ≥ value (the last index for values above all bounds). */
function bucketIndex(bounds: readonly number[], value: number): number {
  let low = 0;
  let high = bounds.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (bounds[middle]! < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

function metricSnapshot(metric: Metric): MetricSnapshot {
  const { spec } = metric;
  const series: SeriesSnapshot[] = metric.table.entries().map(({ tags, series: data }) => {
    if (spec.kind === 'histogram') {
      const histogram = data as HistogramSeries;
      return histogram.bucketCounts === undefined
        ? { tags, sketch: histogram.sketch.toJSON() }
        : { tags, sketch: histogram.sketch.toJSON(), bucketCounts: Array.from(histogram.bucketCounts) };
    }
    const single = data as ValueSeries;
    return spec.kind === 'gauge' ? { tags, value: single.value, updatedAt: single.updatedAt } : { tags, value: single.value };
  });
  return {
    name: spec.name,
    kind: spec.kind,
    description: spec.description,
    event: spec.event,
    tags: spec.tags,
    quantiles: spec.quantiles,
    series,
    ...(spec.unit === undefined ? {} : { unit: spec.unit }),
    ...(spec.buckets === undefined ? {} : { buckets: spec.buckets }),
    ...(spec.prometheusName === undefined ? {} : { prometheusName: spec.prometheusName, labelNames: spec.labelNames }),
  };
}

/** A snapshot's metrics as `getMetrics` shows them: name → metric, series with tags by name. */
export function viewOf(snapshot: MetricsSnapshot): Record<string, MetricView> {
  const view: Record<string, MetricView> = {};
  for (const metric of snapshot.metrics) {
    view[metric.name] = {
      name: metric.name,
      kind: metric.kind,
      description: metric.description,
      event: metric.event,
      tags: metric.tags,
      ...(metric.unit === undefined ? {} : { unit: metric.unit }),
      series: metric.series.map((series): SeriesView => {
        const tags = Object.fromEntries(metric.tags.map((tag, index) => [tag, series.tags[index] ?? '']));
        if ('sketch' in series) {
          const sketch = series.sketch;
          const rebuilt = sketchFromSnapshot(sketch);
          return {
            tags,
            count: sketch.count,
            sum: sketch.sum,
            min: sketch.min ?? Number.NaN,
            max: sketch.max ?? Number.NaN,
            quantiles: Object.fromEntries(metric.quantiles.map((q) => [String(q), rebuilt.quantile(q)])),
          };
        }
        return { tags, value: series.value };
      }),
    };
  }
  return view;
}
