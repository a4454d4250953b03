// The Prometheus text exposition format (version 0.0.4) of a metrics snapshot: counters as
// counters, gauges as gauges, histograms as summaries (quantiles from the sketch) or, with
// `buckets`, as histograms with exact cumulative bucket counts. Output passes
// `promtool check metrics`, lint included: every family has HELP and TYPE, names are checked
// when metrics are defined (see prometheus-names.ts).
import { sketchFromSnapshot } from './core/ddsketch';
import { DROPPED_SAMPLES_FAMILY, HANDLER_FAILURES_FAMILY } from './metrics/metric-registry';
import type { HistogramSeriesSnapshot, MetricSnapshot, MetricsSnapshot, ValueSeriesSnapshot } from './metrics/snapshot';

/** The content type to serve `renderPrometheus()` with. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

function labels(names: readonly string[], values: readonly string[], extra?: string): string {
  const parts: string[] = [];
  for (let index = 0; index < names.length; index += 1) parts.push(`${names[index]!}="${escapeLabelValue(values[index] ?? '')}"`);
  if (extra !== undefined) parts.push(extra);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function renderMetric(metric: MetricSnapshot, lines: string[]): void {
  const family = metric.prometheusName;
  if (family === undefined || metric.series.length === 0) return;
  const labelNames = metric.labelNames ?? [];
  const type = metric.kind === 'histogram' ? (metric.buckets === undefined ? 'summary' : 'histogram') : metric.kind;
  // A blank description (a definition's, or a remote snapshot's) would be HELP without text, which promtool rejects.
  const help = metric.description.trim() === '' ? `Foundation ${metric.kind} ${metric.name}` : metric.description;
  lines.push(`# HELP ${family} ${escapeHelp(help)}`, `# TYPE ${family} ${type}`);
  for (const series of metric.series) {
    if (metric.kind !== 'histogram') {
      lines.push(`${family}${labels(labelNames, series.tags)} ${formatValue((series as ValueSeriesSnapshot).value)}`);
      continue;
    }
    const { sketch, bucketCounts } = series as HistogramSeriesSnapshot;
    const plain = labels(labelNames, series.tags);
    if (metric.buckets === undefined || bucketCounts === undefined) {
      const rebuilt = sketchFromSnapshot(sketch);
      for (const q of metric.quantiles) lines.push(`${family}${labels(labelNames, series.tags, `quantile="${String(q)}"`)} ${formatValue(rebuilt.quantile(q))}`);
    } else {
      let cumulative = 0;
      metric.buckets.forEach((bound, index) => {
        cumulative += bucketCounts[index] ?? 0;
        lines.push(`${family}_bucket${labels(labelNames, series.tags, `le="${formatValue(bound)}"`)} ${formatValue(cumulative)}`);
      });
      lines.push(`${family}_bucket${labels(labelNames, series.tags, 'le="+Inf"')} ${formatValue(sketch.count)}`);
    }
    lines.push(`${family}_sum${plain} ${formatValue(sketch.sum)}`, `${family}_count${plain} ${formatValue(sketch.count)}`);
  }
}

/** Renders a snapshot (one node's, or a merge of many) in the Prometheus text format. */
export function renderSnapshot(snapshot: MetricsSnapshot): string {
  const lines: string[] = [];
  for (const metric of snapshot.metrics) renderMetric(metric, lines);
  if (snapshot.dropped.length > 0) {
    lines.push(
      `# HELP ${DROPPED_SAMPLES_FAMILY} Samples not recorded into a metric, by metric and reason (cardinality limit, invalid measurement...)`,
      `# TYPE ${DROPPED_SAMPLES_FAMILY} counter`,
    );
    for (const entry of snapshot.dropped) {
      lines.push(`${DROPPED_SAMPLES_FAMILY}{metric="${escapeLabelValue(entry.metric)}",reason="${entry.reason}"} ${formatValue(entry.count)}`);
    }
  }
  lines.push(
    `# HELP ${HANDLER_FAILURES_FAMILY} Telemetry handlers detached because they threw`,
    `# TYPE ${HANDLER_FAILURES_FAMILY} counter`,
    `${HANDLER_FAILURES_FAMILY} ${formatValue(snapshot.handlerFailures)}`,
  );
  return `${lines.join('\n')}\n`;
}
