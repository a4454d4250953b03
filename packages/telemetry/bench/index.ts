// npm run bench -w @foundation/telemetry
//
// Against node:events in the same run (rounds alternate, medians reported):
// - execute with no handler attached to the event (target ≥ 30M/s), beside emit with no listener;
// - execute with one handler (target ≥ 10M/s), beside emit with one listener;
// - histogram record: a DDSketch add (target ≥ 10M/s), and a sample through a histogram metric
//   (event → handler → tags → sketch);
// - for reference: span() around a synchronous function, and renderPrometheus of 10,000 series.
import { EventEmitter } from 'node:events';
import { createSketch, createTelemetry } from '@foundation/telemetry';
import type { EventName, Measurements } from '@foundation/telemetry';
import { median, report } from '../../../tooling/scripts/bench';

const ROUNDS = 7;
const OPERATIONS = 10_000_000;

/**
 * A loop runs one operation `count` times. Each case has a loop of its own, so that every call
 * site in it sees one function only (a shared loop calling closures would measure the call
 * through a megamorphic site, for node:events and Foundation alike).
 */
type Loop = (count: number) => void;

/** Operations per second of `loop` over `count` operations. */
function rate(count: number, loop: Loop): number {
  const start = performance.now();
  loop(count);
  return count / ((performance.now() - start) / 1000);
}

function alternate(loops: Record<string, Loop>, count = OPERATIONS): Record<string, number> {
  const samples: Record<string, number[]> = {};
  for (const [name, loop] of Object.entries(loops)) {
    rate(count / 10, loop); // warm-up
    samples[name] = [];
  }
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const [name, loop] of Object.entries(loops)) samples[name]!.push(rate(count, loop));
  }
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
}

let sink = 0;
const payload: Measurements = { value: 1 };
const EVENT: EventName = ['foundation', 'channels', 'frame', 'sent'];

// Nothing attached anywhere; and nothing on this event while other events have handlers.
const bare = createTelemetry();
const busy = createTelemetry();
busy.attach('elsewhere', [['foundation', 'raft', 'commit'], ['foundation', 'channels', 'frame', 'received']], () => undefined);
const handled = createTelemetry();
handled.attach('one', EVENT, (_name, measurements) => {
  sink += measurements.value as number;
});
const silentEmitter = new EventEmitter();
const listenedEmitter = new EventEmitter();
listenedEmitter.on('frame-sent', (measurements: Measurements) => {
  sink += measurements.value as number;
});

const dispatch = alternate({
  emitNoListener: (count) => {
    for (let index = 0; index < count; index += 1) silentEmitter.emit('frame-sent', payload);
  },
  executeNoHandler: (count) => {
    for (let index = 0; index < count; index += 1) bare.execute(EVENT, payload);
  },
  executeNoHandlerOthersAttached: (count) => {
    for (let index = 0; index < count; index += 1) busy.execute(EVENT, payload);
  },
  emitOneListener: (count) => {
    for (let index = 0; index < count; index += 1) listenedEmitter.emit('frame-sent', payload);
  },
  executeOneHandler: (count) => {
    for (let index = 0; index < count; index += 1) handled.execute(EVENT, payload);
  },
});

// Histogram record.
const values = Float64Array.from({ length: 4096 }, (_, index) => Math.exp(Math.sin(index) * 6) * 10);
const sketch = createSketch();
const metered = createTelemetry({ metrics: [{ name: 'rpc.call.duration_seconds', kind: 'histogram', event: ['rpc', 'call'], measurement: 'duration', tags: ['method'] }] });
const metadata = { method: 'get' };
const RPC_CALL: EventName = ['rpc', 'call'];
const histogram = alternate({
  sketchAdd: (count) => {
    for (let index = 0; index < count; index += 1) sketch.add(values[index & 4095]!);
  },
  metricSample: (count) => {
    for (let index = 0; index < count; index += 1) metered.execute(RPC_CALL, { duration: values[index & 4095]! }, metadata);
  },
});

// Span and exposition, for reference.
const spans = createTelemetry();
spans.attach('stop', ['job', 'stop'], () => undefined);
const JOB: EventName = ['job'];
const spanLoop: Loop = (count) => {
  for (let index = 0; index < count; index += 1) spans.span(JOB, {}, () => sink);
};
rate(100_000, spanLoop);
const spanRate = median(Array.from({ length: ROUNDS }, () => rate(1_000_000, spanLoop)));
const exposition = createTelemetry({ metrics: [{ name: 'http.request.duration_seconds', kind: 'histogram', event: ['http'], measurement: 'duration', tags: ['route'] }] });
for (let index = 0; index < 10_000; index += 1) exposition.execute(['http'], { duration: (index % 97) / 100 }, { route: `/route/${index}` });
const renderMs = median(
  Array.from({ length: 5 }, () => {
    const start = performance.now();
    sink += exposition.renderPrometheus().length;
    return performance.now() - start;
  }),
);
if (sink === 0) throw new Error('handlers never ran');

const millions = (value: number) => value / 1e6;
report(
  'telemetry',
  [
    { name: 'node:events emit, no listener (baseline)', value: millions(dispatch.emitNoListener!), unit: 'M/s' },
    { name: 'execute, no handler attached (target ≥ 30M/s)', value: millions(dispatch.executeNoHandler!), unit: 'M/s' },
    { name: 'execute, no handler on this event, others attached', value: millions(dispatch.executeNoHandlerOthersAttached!), unit: 'M/s' },
    { name: 'node:events emit, one listener (baseline)', value: millions(dispatch.emitOneListener!), unit: 'M/s' },
    { name: 'execute, one handler (target ≥ 10M/s)', value: millions(dispatch.executeOneHandler!), unit: 'M/s' },
    { name: 'histogram record: sketch add (target ≥ 10M/s)', value: millions(histogram.sketchAdd!), unit: 'M/s' },
    { name: 'histogram metric: execute → tag → sketch', value: millions(histogram.metricSample!), unit: 'M/s' },
    { name: 'span around a sync function (start + stop events)', value: millions(spanRate), unit: 'M/s' },
    { name: 'renderPrometheus, 10,000 summary series', value: renderMs, unit: 'ms' },
  ],
  {
    emit_no_listener_per_s: Math.round(dispatch.emitNoListener!),
    execute_no_handler_per_s: Math.round(dispatch.executeNoHandler!),
    execute_no_handler_others_attached_per_s: Math.round(dispatch.executeNoHandlerOthersAttached!),
    emit_one_listener_per_s: Math.round(dispatch.emitOneListener!),
    execute_one_handler_per_s: Math.round(dispatch.executeOneHandler!),
    sketch_add_per_s: Math.round(histogram.sketchAdd!),
    histogram_metric_sample_per_s: Math.round(histogram.metricSample!),
    span_sync_per_s: Math.round(spanRate),
    render_prometheus_10k_series_ms: Math.round(renderMs * 10) / 10,
  },
  { digits: 3 },
);
