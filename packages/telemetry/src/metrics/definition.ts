// Declarative metric definitions (as Elixir's Telemetry.Metrics): which event feeds a metric,
// which measurement, which metadata keys become tags, and how values aggregate.
import { isUnsafeKey } from '@foundation/core';
import { DEFAULT_MAX_BUCKETS, DEFAULT_RELATIVE_ACCURACY } from '../core/ddsketch';
import { InvalidMetricDefinitionError } from '../errors/invalid-metric-definition-error';
import { checkEventName } from '../event-name';
import type { EventName } from '../event-name';
import type { Measurements, Metadata } from '../handler-registry';
import { labelNameProblem, prometheusNameProblems, toLabelName, toPrometheusName } from '../prometheus-names';
import { wellFormed } from '../well-formed';

/**
 * - `counter`: monotonic. Counts events, or sums a measurement when `measurement` is given
 *   (negative samples are dropped).
 * - `gauge`: the last value recorded.
 * - `histogram`: a distribution (count, sum, min, max and quantiles from a mergeable sketch).
 */
export type MetricKind = 'counter' | 'gauge' | 'histogram';

export type MeasurementFunction = (measurements: Measurements, metadata: Metadata) => unknown;

export interface MetricDefinition {
  /** Dotted name, e.g. `http.request.duration`; `http_request_duration` in Prometheus. */
  readonly name: string;
  readonly kind: MetricKind;
  /** The event that feeds the metric. Default: the name without its last segment. */
  readonly event?: EventName;
  /**
   * The measurement recorded: a key of the event's measurements, or a function of them.
   * Default: the last segment of the name (for counters: none, each event counts 1).
   */
  readonly measurement?: string | MeasurementFunction;
  /** Metadata keys whose values label the series. */
  readonly tags?: readonly string[];
  /** Computes the tag values from metadata, instead of reading the tags from it directly. */
  readonly tagValues?: (metadata: Metadata) => Readonly<Record<string, unknown>>;
  /** Records the event only when this returns true. */
  readonly keepIf?: (metadata: Metadata, measurements: Measurements) => boolean;
  readonly description?: string;
  readonly unit?: string;
  /** Multiplies every sample, e.g. 0.001 to record durations in ms as seconds. */
  readonly scale?: number;
  /** Histograms: relative accuracy of the quantiles (default 0.01). */
  readonly relativeAccuracy?: number;
  /** Histograms: bound on sketch buckets per sign (default 2,048). */
  readonly maxBuckets?: number;
  /** Histograms: the quantiles reported by getMetrics and Prometheus (default 0.5, 0.9, 0.99). */
  readonly quantiles?: readonly number[];
  /** Histograms: bucket upper bounds; when given, Prometheus gets a histogram (exact bucket counts) instead of a summary. */
  readonly buckets?: readonly number[];
  /** Most series (distinct tag values) kept; samples of new series beyond it are dropped and counted. */
  readonly maxSeries?: number;
  /** Whether the metric appears in `renderPrometheus` (default true; its name must then suit Prometheus). */
  readonly prometheus?: boolean;
}

/** A definition checked and completed. */
export interface MetricSpec {
  readonly name: string;
  readonly kind: MetricKind;
  readonly event: EventName;
  readonly measurementKey: string | undefined;
  readonly measurementFunction: MeasurementFunction | undefined;
  readonly tags: readonly string[];
  readonly tagValues: ((metadata: Metadata) => Readonly<Record<string, unknown>>) | undefined;
  readonly keepIf: ((metadata: Metadata, measurements: Measurements) => boolean) | undefined;
  readonly description: string;
  readonly unit: string | undefined;
  readonly scale: number;
  readonly relativeAccuracy: number;
  readonly maxBuckets: number;
  readonly quantiles: readonly number[];
  readonly buckets: readonly number[] | undefined;
  readonly maxSeries: number;
  /** The Prometheus family name, or undefined when the metric is kept out of the exposition. */
  readonly prometheusName: string | undefined;
  readonly labelNames: readonly string[];
}

export const DEFAULT_QUANTILES: readonly number[] = Object.freeze([0.5, 0.9, 0.99]);
export const DEFAULT_MAX_SERIES = 10_000;
export const MAX_NAME_LENGTH = 200;
const MAX_TAGS = 16;
const MAX_BUCKET_BOUNDS = 128;
const KINDS: readonly MetricKind[] = ['counter', 'gauge', 'histogram'];

/** Array.isArray without narrowing (its `any[]` guard would erase the element type). */
function isList(value: unknown): boolean {
  return Array.isArray(value);
}

function fail(name: unknown, reason: string): never {
  throw new InvalidMetricDefinitionError(`metric ${JSON.stringify(String(name))}: ${reason}`, { metric: String(name), reason });
}

/** True when `name` can name a metric: 1–200 characters, and not a key reserved by objects (`__proto__`, `constructor`...). */
export function isMetricName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && !isUnsafeKey(name);
}

/** Checks and completes a definition. `requirePrometheusName` false: an unusable name keeps the metric out of the exposition instead of failing. */
export function normaliseDefinition(definition: MetricDefinition, defaultMaxSeries: number, requirePrometheusName = true): MetricSpec {
  if (typeof definition !== 'object' || definition === null) fail(definition, 'a definition must be an object');
  const { name, kind } = definition;
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH) fail(name, `the name must be 1–${MAX_NAME_LENGTH} characters`);
  if (!isMetricName(name)) fail(name, 'the name is reserved');
  // Kept and sent to other nodes as UTF-8, as the event made from it without "event" is: two
  // names that differ only in a lone surrogate would be two metrics here and one name there.
  if (wellFormed(name) !== name) fail(name, 'the name has a lone surrogate (half of a UTF-16 pair), which UTF-8 cannot carry');
  if (!KINDS.includes(kind)) fail(name, `kind must be one of ${KINDS.join(', ')}`);
  const segments = name.split('.');
  let event: EventName;
  if (definition.event === undefined) {
    if (segments.length < 2 || segments.some((segment) => segment.length === 0)) {
      fail(name, 'without "event", the name must be the event name and the measurement joined by dots (e.g. "http.request.stop.duration")');
    }
    event = Object.freeze(segments.slice(0, -1));
  } else {
    try {
      event = checkEventName(definition.event);
    } catch (error) {
      fail(name, `"event": ${(error as Error).message}`);
    }
  }
  let measurementKey: string | undefined;
  let measurementFunction: MeasurementFunction | undefined;
  if (typeof definition.measurement === 'function') measurementFunction = definition.measurement;
  else if (typeof definition.measurement === 'string' && definition.measurement.length > 0) measurementKey = definition.measurement;
  else if (definition.measurement !== undefined) fail(name, '"measurement" must be a non-empty string or a function');
  else if (kind !== 'counter') measurementKey = segments[segments.length - 1];

  const tags: readonly string[] = definition.tags ?? [];
  if (!isList(tags) || tags.length > MAX_TAGS || tags.some((tag) => typeof tag !== 'string' || tag.length === 0 || tag.length > MAX_NAME_LENGTH)) {
    fail(name, `"tags" must be at most ${MAX_TAGS} non-empty strings`);
  }
  // Tag names are kept and sent in snapshots as UTF-8, as the metric's name is: two that differ
  // only in a lone surrogate would be two tags here and one name on another node.
  if (tags.some((tag) => wellFormed(tag) !== tag)) fail(name, 'a tag name has a lone surrogate (half of a UTF-16 pair), which UTF-8 cannot carry');
  if (new Set(tags).size !== tags.length) fail(name, '"tags" has duplicates');
  for (const option of ['tagValues', 'keepIf'] as const) {
    if (definition[option] !== undefined && typeof definition[option] !== 'function') fail(name, `"${option}" must be a function`);
  }
  const scale = definition.scale ?? 1;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale === 0) fail(name, '"scale" must be a finite non-zero number');
  if (kind === 'counter' && scale < 0) fail(name, 'a counter cannot have a negative scale');
  const maxSeries = definition.maxSeries ?? defaultMaxSeries;
  if (!Number.isInteger(maxSeries) || maxSeries < 1 || maxSeries > 10_000_000) fail(name, '"maxSeries" must be an integer in 1..10,000,000');
  const relativeAccuracy = definition.relativeAccuracy ?? DEFAULT_RELATIVE_ACCURACY;
  const maxBuckets = definition.maxBuckets ?? DEFAULT_MAX_BUCKETS;
  if (!(typeof relativeAccuracy === 'number' && relativeAccuracy >= 1e-4 && relativeAccuracy < 1)) fail(name, '"relativeAccuracy" must be in [0.0001, 1)');
  if (!Number.isInteger(maxBuckets) || maxBuckets < 16 || maxBuckets > 65_536) fail(name, '"maxBuckets" must be an integer in 16..65,536');
  const quantiles: readonly number[] = definition.quantiles ?? DEFAULT_QUANTILES;
  if (!isList(quantiles) || quantiles.length > 32 || quantiles.some((q) => typeof q !== 'number' || !(q >= 0 && q <= 1))) {
    fail(name, '"quantiles" must be at most 32 numbers in [0, 1]');
  }
  // Each quantile is one series in Prometheus, and -0 renders as "0".
  if (new Set(quantiles.map((q) => q + 0)).size !== quantiles.length) {
    fail(name, '"quantiles" must not repeat');
  }
  let buckets: number[] | undefined;
  if (definition.buckets !== undefined) {
    if (kind !== 'histogram') fail(name, '"buckets" only applies to histograms');
    const bounds: readonly number[] = definition.buckets;
    if (!isList(bounds) || bounds.length === 0 || bounds.length > MAX_BUCKET_BOUNDS || bounds.some((bound, index) => typeof bound !== 'number' || !Number.isFinite(bound) || (index > 0 && bound <= bounds[index - 1]!))) {
      fail(name, `"buckets" must be 1–${MAX_BUCKET_BOUNDS} finite, strictly increasing upper bounds`);
    }
    buckets = [...bounds];
  }
  const description = definition.description ?? defaultDescription(kind, event, measurementKey);
  if (typeof description !== 'string' || description.length > 1000) fail(name, '"description" must be a string of at most 1,000 characters');
  if (definition.unit !== undefined && (typeof definition.unit !== 'string' || definition.unit.length > 100)) fail(name, '"unit" must be a string of at most 100 characters');

  let prometheusName: string | undefined;
  const labelNames: string[] = [];
  if (definition.prometheus !== false) {
    const problems: string[] = [];
    const base = toPrometheusName(name);
    if (base === undefined) problems.push('has no letters to build a Prometheus name from');
    else {
      const family = kind === 'counter' && !base.endsWith('_total') ? `${base}_total` : base;
      problems.push(...prometheusNameProblems(family, kind === 'counter'));
      prometheusName = family;
    }
    for (const tag of tags) {
      const label = toLabelName(tag);
      if (label === undefined) problems.push(`tag "${tag}" has no letters to build a label name from`);
      else {
        const problem = labelNameProblem(label);
        if (problem !== undefined) problems.push(`tag "${tag}": ${problem}`);
        if (labelNames.includes(label)) problems.push(`tags convert to the same label "${label}"`);
        labelNames.push(label);
      }
    }
    if (problems.length > 0) {
      if (requirePrometheusName) fail(name, `cannot be exposed to Prometheus as "${prometheusName ?? name}": ${problems.join('; ')} (or set prometheus: false)`);
      prometheusName = undefined;
      labelNames.length = 0;
    }
  }

  return Object.freeze({
    name,
    kind,
    event,
    measurementKey,
    measurementFunction,
    tags: Object.freeze([...tags]),
    tagValues: definition.tagValues,
    keepIf: definition.keepIf,
    description,
    unit: definition.unit,
    scale,
    relativeAccuracy,
    maxBuckets,
    quantiles: Object.freeze([...quantiles]),
    buckets: buckets === undefined ? undefined : Object.freeze(buckets),
    maxSeries,
    prometheusName,
    labelNames: Object.freeze(labelNames),
  });
}

function defaultDescription(kind: MetricKind, event: EventName, measurement: string | undefined): string {
  const source = `event ${event.join('.')}`;
  if (kind === 'counter') return measurement === undefined ? `Count of ${source}` : `Sum of ${measurement} of ${source}`;
  return `${kind === 'gauge' ? 'Last value' : 'Distribution'} of ${measurement ?? 'a computed measurement'} of ${source}`;
}

/** The sample names a metric renders in Prometheus (to keep them unique across metrics). */
export function renderedNames(spec: { readonly kind: MetricKind; readonly prometheusName?: string | undefined }): string[] {
  const family = spec.prometheusName;
  if (family === undefined) return [];
  if (spec.kind !== 'histogram') return [family];
  return [family, `${family}_bucket`, `${family}_sum`, `${family}_count`];
}
