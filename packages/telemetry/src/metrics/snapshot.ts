// Metrics as plain data: what a node exports (JSON- or CBOR-safe), what the cluster merges, and
// what `renderPrometheus` renders. Counters add, histograms merge their sketches (not averages:
// the merged sketch is the sketch of all samples), gauges combine as asked.
import { isUnsafeKey } from '@foundation/core';
import { sketchFromSnapshot } from '../core/ddsketch';
import type { Sketch, SketchSnapshot } from '../core/ddsketch';
import { InvalidOptionsError } from '../errors/invalid-options-error';
import { InvalidSnapshotError } from '../errors/invalid-snapshot-error';
import type { EventName } from '../event-name';
import { labelNameProblem, prometheusNameProblems } from '../prometheus-names';
import { renderedNames } from './definition';
import type { MetricKind } from './definition';
import { wellFormed } from '../well-formed';

export const SNAPSHOT_FORMAT = 'foundation-metrics';
export const SNAPSHOT_VERSION = 1;

/** Families Foundation renders about itself; user metrics may not take these names. */
export const DROPPED_SAMPLES_FAMILY = 'foundation_telemetry_dropped_samples_total';
export const HANDLER_FAILURES_FAMILY = 'foundation_telemetry_handler_failures_total';
const BUILT_IN_FAMILIES: readonly string[] = [DROPPED_SAMPLES_FAMILY, HANDLER_FAILURES_FAMILY];

export interface ValueSeriesSnapshot {
  /** Tag values, in the order of the metric's `tags`. */
  readonly tags: readonly string[];
  readonly value: number;
  /** Gauges: wall-clock ms of the last update (for `last` merges). */
  readonly updatedAt?: number;
}

export interface HistogramSeriesSnapshot {
  readonly tags: readonly string[];
  readonly sketch: SketchSnapshot;
  /** Counts per bucket when the metric has `buckets`: one per bound, then one above the last bound. */
  readonly bucketCounts?: readonly number[];
}

export type SeriesSnapshot = ValueSeriesSnapshot | HistogramSeriesSnapshot;

export interface MetricSnapshot {
  readonly name: string;
  readonly kind: MetricKind;
  readonly description: string;
  readonly unit?: string;
  readonly event: EventName;
  readonly tags: readonly string[];
  /** Prometheus family and label names; absent for a metric kept out of the exposition. */
  readonly prometheusName?: string;
  readonly labelNames?: readonly string[];
  readonly quantiles: readonly number[];
  readonly buckets?: readonly number[];
  readonly series: readonly SeriesSnapshot[];
}

export interface DroppedSamples {
  readonly metric: string;
  readonly reason: DropReason;
  readonly count: number;
}

/**
 * Why a sample was not recorded: `missing_measurement` (the event lacks it), `invalid_measurement`
 * (not a finite number, once scaled; or one that would overflow a sum, in a node or, for a whole
 * series, in a merge), `negative_counter`, `invalid_tag` (a tag value that is not a string,
 * number or boolean, or longer than 256 characters), `cardinality` (a new series past
 * `maxSeries`), `error` (a measurement, tagValues or keepIf function threw), `metric_limit` (an
 * automatic metric past `maxMetrics`, or one the event's joined name cannot name), `conflict` (snapshots disagree on a metric's definition).
 */
export type DropReason = 'missing_measurement' | 'invalid_measurement' | 'negative_counter' | 'invalid_tag' | 'cardinality' | 'error' | 'metric_limit' | 'conflict';

export const DROP_REASONS: readonly DropReason[] = Object.freeze(['missing_measurement', 'invalid_measurement', 'negative_counter', 'invalid_tag', 'cardinality', 'error', 'metric_limit', 'conflict']);

export interface MetricsSnapshot {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly version: typeof SNAPSHOT_VERSION;
  /** The node the snapshot came from; absent on merged snapshots. */
  readonly node?: string;
  /** Wall-clock ms when taken (the latest of the inputs for a merge). */
  readonly takenAt: number;
  readonly metrics: readonly MetricSnapshot[];
  readonly dropped: readonly DroppedSamples[];
  /** Handlers detached because they threw. */
  readonly handlerFailures: number;
}

export type GaugeMerge = 'sum' | 'average' | 'min' | 'max' | 'last';

export interface MergeOptions {
  /** How gauges of the same series from several nodes combine. Default `sum`. */
  readonly gauges?: GaugeMerge;
}

function sameDefinition(left: MetricSnapshot, right: MetricSnapshot): boolean {
  return (
    left.kind === right.kind &&
    left.tags.length === right.tags.length &&
    left.tags.every((tag, index) => tag === right.tags[index]) &&
    JSON.stringify(left.buckets ?? null) === JSON.stringify(right.buckets ?? null) &&
    (left.prometheusName ?? null) === (right.prometheusName ?? null)
  );
}

function seriesKey(tags: readonly string[]): string {
  return JSON.stringify(tags);
}

/**
 * Merges snapshots from several nodes into one: counters add, histogram sketches merge (so
 * quantiles of the result keep the error bound over all samples), bucket counts add, gauges
 * combine by `options.gauges`. A metric whose definition differs between snapshots (kind, tags,
 * buckets) keeps the first definition seen; the others' series are left out and counted as
 * dropped with reason `conflict`. Histograms of different relative accuracy conflict too, and so
 * does a metric that would render a Prometheus name an earlier metric renders (the exposition
 * allows one family per name). Sums stay finite: a series that would take a counter's value, a
 * summed gauge or a histogram's sum past the largest finite number is left out and counted as
 * dropped with reason `invalid_measurement`, as one node drops such a sample.
 */
export function mergeSnapshots(snapshots: readonly MetricsSnapshot[], options: MergeOptions = {}): MetricsSnapshot {
  const gauges = options.gauges ?? 'sum';
  if (!['sum', 'average', 'min', 'max', 'last'].includes(gauges)) throw new InvalidOptionsError(`gauges must be sum, average, min, max or last (got ${String(gauges)})`);
  interface Accumulator {
    readonly metric: MetricSnapshot;
    readonly series: Map<string, { tags: readonly string[]; values: ValueSeriesSnapshot[]; sketch?: Sketch; bucketCounts?: number[] }>;
  }
  const metrics = new Map<string, Accumulator>();
  const rendered = new Set<string>(BUILT_IN_FAMILIES);
  const dropped = new Map<string, number>();
  const drop = (metric: string, reason: DropReason, count: number): void => {
    const key = JSON.stringify([metric, reason]);
    dropped.set(key, (dropped.get(key) ?? 0) + count);
  };
  let takenAt = 0;
  let handlerFailures = 0;
  for (const snapshot of snapshots) {
    takenAt = Math.max(takenAt, snapshot.takenAt);
    handlerFailures += snapshot.handlerFailures;
    for (const entry of snapshot.dropped) drop(entry.metric, entry.reason, entry.count);
    for (const metric of snapshot.metrics) {
      let accumulator = metrics.get(metric.name);
      if (accumulator === undefined) {
        // Another metric (named differently on another node) may render the same Prometheus names.
        const names = renderedNames(metric);
        if (names.some((name) => rendered.has(name))) {
          drop(metric.name, 'conflict', metric.series.length);
          continue;
        }
        for (const name of names) rendered.add(name);
        accumulator = { metric, series: new Map() };
        metrics.set(metric.name, accumulator);
      } else if (!sameDefinition(accumulator.metric, metric)) {
        drop(metric.name, 'conflict', metric.series.length);
        continue;
      }
      for (const series of metric.series) {
        const key = seriesKey(series.tags);
        let target = accumulator.series.get(key);
        if (target === undefined) {
          target = { tags: series.tags, values: [] };
          accumulator.series.set(key, target);
        }
        if ('sketch' in series) {
          const incoming = sketchFromSnapshot(series.sketch);
          if (target.sketch === undefined) target.sketch = incoming;
          else if (target.sketch.relativeAccuracy !== incoming.relativeAccuracy) {
            drop(metric.name, 'conflict', 1);
            continue;
          } else if (!Number.isFinite(target.sketch.sum + incoming.sum) || !Number.isFinite(target.sketch.count + incoming.count)) {
            // As one node drops a sample that would overflow a sum: the merge stays finite (JSON,
            // Prometheus), its count as well as its sum.
            drop(metric.name, 'invalid_measurement', 1);
            continue;
          } else target.sketch.merge(incoming);
          if (series.bucketCounts !== undefined) {
            target.bucketCounts ??= new Array<number>(series.bucketCounts.length).fill(0);
            series.bucketCounts.forEach((count, index) => (target.bucketCounts![index]! += count));
          }
        } else {
          target.values.push(series);
        }
      }
    }
  }
  const merged: MetricSnapshot[] = [];
  for (const { metric, series } of metrics.values()) {
    const out: SeriesSnapshot[] = [];
    for (const target of series.values()) {
      if (target.sketch !== undefined) {
        out.push(target.bucketCounts === undefined ? { tags: target.tags, sketch: target.sketch.toJSON() } : { tags: target.tags, sketch: target.sketch.toJSON(), bucketCounts: target.bucketCounts });
      } else if (target.values.length > 0) {
        out.push(combineValues(metric.kind, target.tags, target.values, gauges, () => drop(metric.name, 'invalid_measurement', 1)));
      }
    }
    merged.push({ ...metric, series: out });
  }
  return {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    takenAt,
    metrics: merged,
    dropped: [...dropped].map(([key, count]) => {
      const [metric, reason] = JSON.parse(key) as [string, DropReason];
      return { metric, reason, count };
    }),
    handlerFailures,
  };
}

/**
 * Adds `numbers` in order, leaving out (and reporting to `overflow`) each one that would take the
 * total past the largest finite number, as a node drops such a sample: the total stays finite.
 */
function finiteSum(numbers: readonly number[], overflow: () => void): number {
  let total = 0;
  for (const value of numbers) {
    const next = total + value;
    if (Number.isFinite(next)) total = next;
    else overflow();
  }
  return total;
}

function combineValues(kind: MetricKind, tags: readonly string[], values: readonly ValueSeriesSnapshot[], gauges: GaugeMerge, overflow: () => void): ValueSeriesSnapshot {
  const numbers = values.map((series) => series.value);
  const updatedAt = Math.max(...values.map((series) => series.updatedAt ?? 0));
  if (kind === 'counter') return { tags, value: finiteSum(numbers, overflow) };
  let value: number;
  switch (gauges) {
    case 'sum':
      value = finiteSum(numbers, overflow);
      break;
    case 'average': {
      // The mean of finite numbers is finite even when their sum is not: divide first then.
      const total = numbers.reduce((a, b) => a + b, 0);
      value = Number.isFinite(total) ? total / numbers.length : numbers.reduce((a, b) => a + b / numbers.length, 0);
      break;
    }
    case 'min':
      value = Math.min(...numbers);
      break;
    case 'max':
      value = Math.max(...numbers);
      break;
    case 'last':
      value = values.reduce((latest, series) => ((series.updatedAt ?? 0) >= (latest.updatedAt ?? 0) ? series : latest)).value;
      break;
  }
  return { tags, value, updatedAt };
}

// Decoding snapshots from other nodes: hostile input, bounded.

export interface SnapshotLimits {
  readonly maxMetrics: number;
  readonly maxSeriesPerMetric: number;
}

const DEFAULT_LIMITS: SnapshotLimits = { maxMetrics: 10_000, maxSeriesPerMetric: 100_000 };
const MAX_STRING = 1000;

function isRecord(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Decodes a snapshot received from another node (after JSON or CBOR decoding). Every field is
 * checked; sizes are bounded by `limits`; sketches are rebuilt and checked; the result holds
 * fresh objects only. Throws InvalidSnapshotError (code 5305) naming what is wrong, and
 * InvalidOptionsError (5307) for limits that are not non-negative integers.
 */
export function parseSnapshot(data: unknown, limits: SnapshotLimits = DEFAULT_LIMITS): MetricsSnapshot {
  // A limit that is NaN or missing compares false with every length, and would leave a hostile
  // peer's arrays unbounded.
  if (typeof limits !== 'object' || limits === null) throw new InvalidOptionsError('limits must be an object with maxMetrics and maxSeriesPerMetric');
  for (const limit of ['maxMetrics', 'maxSeriesPerMetric'] as const) {
    const value: unknown = limits[limit];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new InvalidOptionsError(`limits.${limit} must be a non-negative integer (got ${typeof value === 'number' ? String(value) : typeof value})`, { limit });
    }
  }
  const fail = (message: string): never => {
    throw new InvalidSnapshotError(`metrics snapshot: ${message}`);
  };
  // Read as UTF-8 carries it, so that names and tags that differ only in a lone surrogate (from
  // an older node, or a hostile one) count as the repeat they become when rendered.
  const string = (value: unknown, what: string, max = MAX_STRING): string => {
    if (typeof value !== 'string' || value.length > max) fail(`${what} must be a string of at most ${max} characters`);
    return wellFormed(value as string);
  };
  const finite = (value: unknown, what: string): number => {
    if (typeof value !== 'number' || !Number.isFinite(value)) fail(`${what} must be a finite number`);
    return value as number;
  };
  const strings = (value: unknown, what: string, max: number): string[] => {
    if (!Array.isArray(value) || value.length > max) fail(`${what} must be an array of at most ${max} strings`);
    return (value as unknown[]).map((item, index) => string(item, `${what}[${index}]`));
  };
  const numbers = (value: unknown, what: string, max: number): number[] => {
    if (!Array.isArray(value) || value.length > max) fail(`${what} must be an array of at most ${max} numbers`);
    return (value as unknown[]).map((item, index) => finite(item, `${what}[${index}]`));
  };
  if (!isRecord(data)) return fail('expected an object');
  if (data.format !== SNAPSHOT_FORMAT || data.version !== SNAPSHOT_VERSION) fail(`expected format "${SNAPSHOT_FORMAT}" version ${SNAPSHOT_VERSION}`);
  const takenAt = finite(data.takenAt, 'takenAt');
  const handlerFailures = finite(data.handlerFailures, 'handlerFailures');
  // Rendered as a counter, and added up across nodes: a negative count would go down, and one
  // past the safe integers (a count grows by one) could add up to Infinity in a merge.
  if (handlerFailures < 0 || !Number.isSafeInteger(handlerFailures)) fail('handlerFailures must be a non-negative safe integer');
  if (!Array.isArray(data.metrics) || data.metrics.length > limits.maxMetrics) fail(`metrics must be an array of at most ${limits.maxMetrics}`);
  const names = new Set<string>();
  const rendered = new Set<string>(BUILT_IN_FAMILIES);
  const metrics = (data.metrics as unknown[]).map((raw, metricIndex): MetricSnapshot => {
    const where = `metrics[${metricIndex}]`;
    if (!isRecord(raw)) return fail(`${where} must be an object`);
    const name = string(raw.name, `${where}.name`, 200);
    if (name.length === 0 || isUnsafeKey(name) || names.has(name)) fail(`${where}.name is empty, reserved or repeated`);
    names.add(name);
    const kind = raw.kind;
    if (kind !== 'counter' && kind !== 'gauge' && kind !== 'histogram') return fail(`${where}.kind must be counter, gauge or histogram`);
    const tags = strings(raw.tags, `${where}.tags`, 16);
    // As defineMetric refuses them; read as UTF-8, so names that differ only in a lone surrogate
    // repeat too. A metric kept out of Prometheus has no labelNames to catch the repeat.
    if (new Set(tags).size !== tags.length) fail(`${where}.tags must not repeat`);
    const event = strings(raw.event, `${where}.event`, 32);
    const quantiles = numbers(raw.quantiles, `${where}.quantiles`, 32);
    if (quantiles.some((q) => q < 0 || q > 1)) fail(`${where}.quantiles must be in [0, 1]`);
    // -0 renders as "0": each quantile is one series, so none may repeat, whatever its sign.
    if (new Set(quantiles.map((q) => q + 0)).size !== quantiles.length) fail(`${where}.quantiles must not repeat`);
    const buckets = raw.buckets === undefined ? undefined : numbers(raw.buckets, `${where}.buckets`, 128);
    if (buckets?.some((bound, index) => index > 0 && bound <= buckets[index - 1]!)) fail(`${where}.buckets must increase`);
    let prometheusName: string | undefined;
    let labelNames: string[] | undefined;
    if (raw.prometheusName !== undefined) {
      prometheusName = string(raw.prometheusName, `${where}.prometheusName`, 250);
      if (!/^[a-z][a-z0-9_]*$/.test(prometheusName)) fail(`${where}.prometheusName is not a valid name`);
      // As a local definition is held to them: what `promtool check metrics` would object to.
      if (kind === 'counter' && !prometheusName.endsWith('_total')) fail(`${where}.prometheusName of a counter must end in _total`);
      const problems = prometheusNameProblems(prometheusName, kind === 'counter');
      if (problems.length > 0) fail(`${where}.prometheusName ${problems.join('; ')}`);
      labelNames = strings(raw.labelNames, `${where}.labelNames`, 16);
      if (
        labelNames.length !== tags.length ||
        new Set(labelNames).size !== labelNames.length ||
        labelNames.some((label) => !/^[a-z][a-z0-9_]*$/.test(label) || labelNameProblem(label) !== undefined)
      ) {
        fail(`${where}.labelNames must be valid, distinct, unreserved names, one per tag`);
      }
    }
    if (!Array.isArray(raw.series) || raw.series.length > limits.maxSeriesPerMetric) fail(`${where}.series must be an array of at most ${limits.maxSeriesPerMetric}`);
    const seriesKeys = new Set<string>();
    const series = (raw.series as unknown[]).map((item, seriesIndex): SeriesSnapshot => {
      const at = `${where}.series[${seriesIndex}]`;
      if (!isRecord(item)) return fail(`${at} must be an object`);
      const seriesTags = strings(item.tags, `${at}.tags`, 16);
      if (seriesTags.length !== tags.length) fail(`${at}.tags must have one value per tag`);
      const key = seriesKey(seriesTags);
      if (seriesKeys.has(key)) fail(`${at}.tags repeat another series' tags`);
      seriesKeys.add(key);
      if (kind === 'histogram') {
        let sketch: SketchSnapshot;
        try {
          sketch = sketchFromSnapshot(item.sketch).toJSON();
        } catch (error) {
          return fail(`${at}.sketch: ${(error as Error).message}`);
        }
        if (buckets === undefined) return { tags: seriesTags, sketch };
        const bucketCounts = numbers(item.bucketCounts, `${at}.bucketCounts`, buckets.length + 1);
        // Whole counts, as the sketch's (a half moved between buckets still added up to its count).
        if (bucketCounts.length !== buckets.length + 1 || bucketCounts.some((count) => count < 0 || !Number.isSafeInteger(count))) {
          fail(`${at}.bucketCounts must hold one whole, non-negative count per bucket and one above`);
        }
        // The +Inf bucket is rendered as the sketch's count: the buckets must add up to it.
        const total = bucketCounts.reduce((a, b) => a + b, 0);
        if (Math.abs(total - sketch.count) > 1e-9 * Math.max(1, sketch.count)) fail(`${at}.bucketCounts add up to ${total}, not the sketch's count ${sketch.count}`);
        return { tags: seriesTags, sketch, bucketCounts };
      }
      const value = finite(item.value, `${at}.value`);
      if (kind === 'counter' && value < 0) fail(`${at}.value of a counter must not be negative`);
      if (item.updatedAt === undefined) return { tags: seriesTags, value };
      return { tags: seriesTags, value, updatedAt: finite(item.updatedAt, `${at}.updatedAt`) };
    });
    const metric: MetricSnapshot = {
      name,
      kind,
      description: string(raw.description, `${where}.description`),
      event,
      tags,
      quantiles,
      series,
      ...(raw.unit === undefined ? {} : { unit: string(raw.unit, `${where}.unit`, 100) }),
      ...(buckets === undefined ? {} : { buckets }),
      ...(prometheusName === undefined ? {} : { prometheusName, labelNames: labelNames! }),
    };
    for (const name of renderedNames(metric)) {
      if (rendered.has(name)) fail(`${where} renders "${name}" in Prometheus, as another metric does`);
      rendered.add(name);
    }
    return metric;
  });
  if (!Array.isArray(data.dropped) || data.dropped.length > limits.maxMetrics * DROP_REASONS.length) fail('dropped must be a bounded array');
  const droppedKeys = new Set<string>();
  const dropped = (data.dropped as unknown[]).map((raw, index): DroppedSamples => {
    if (!isRecord(raw)) return fail(`dropped[${index}] must be an object`);
    const reason = raw.reason;
    if (!DROP_REASONS.includes(reason as DropReason)) fail(`dropped[${index}].reason is unknown`);
    const count = finite(raw.count, `dropped[${index}].count`);
    // As handlerFailures: a count of samples grows by one and is added up across nodes, where a
    // peer's 1e308 twice made an infinite counter.
    if (count < 0 || !Number.isSafeInteger(count)) fail(`dropped[${index}].count must be a non-negative safe integer`);
    const metric = string(raw.metric, `dropped[${index}].metric`, 200);
    // Each (metric, reason) is one series of the dropped-samples counter.
    const key = `${metric}\u0000${reason as string}`;
    if (droppedKeys.has(key)) fail(`dropped[${index}] repeats metric "${metric}" with reason "${reason as string}"`);
    droppedKeys.add(key);
    return { metric, reason: reason as DropReason, count };
  });
  const node = data.node === undefined ? undefined : string(data.node, 'node', 256);
  return {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    takenAt,
    metrics,
    dropped,
    handlerFailures,
    ...(node === undefined ? {} : { node }),
  };
}
