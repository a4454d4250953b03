import { describe, expect, it, jest } from '@jest/globals';
import type { Clock } from '@foundation/core';
import { TELEMETRY_ERROR_CODES } from '../errors/codes';
import { HandlerRegistry } from '../handler-registry';
import { renderSnapshot } from '../prometheus';
import { createTelemetry } from '../telemetry';
import { OTHER_DROPPED_METRIC } from './metric-registry';
import type { MetricDefinition } from './definition';
import { mergeSnapshots, parseSnapshot } from './snapshot';
import type { SnapshotLimits } from './snapshot';
import type { MetricsSnapshot } from './snapshot';

function codeOf(action: () => unknown): number | undefined {
  try {
    action();
  } catch (error) {
    return (error as { code?: number }).code;
  }
  return undefined;
}

function clockAt(start: number): Clock & { set(now: number): void } {
  let now = start;
  return { now: () => now, monotonic: () => now, set: (value) => void (now = value) };
}

describe('metric definitions', () => {
  it('derive the event and measurement from a dotted name, as Telemetry.Metrics does', () => {
    const telemetry = createTelemetry({
      metrics: [
        { name: 'http.request.stop.duration', kind: 'histogram', tags: ['route'] },
        { name: 'http.request.stop.count', kind: 'counter', tags: ['route', 'status'] },
        { name: 'http.request.stop.bytes', kind: 'counter', measurement: 'bytes' },
        { name: 'vm.memory', kind: 'gauge', event: ['vm', 'poll'], measurement: 'heap' },
      ],
    });
    telemetry.execute(['http', 'request', 'stop'], { duration: 12, bytes: 300 }, { route: '/a', status: 200 });
    telemetry.execute(['http', 'request', 'stop'], { duration: 30, bytes: 100 }, { route: '/a', status: 500 });
    telemetry.execute(['http', 'request', 'stop'], { duration: 8, bytes: 50 }, { route: '/b', status: 200 });
    telemetry.execute(['vm', 'poll'], { heap: 1024 });
    const metrics = telemetry.getMetrics();
    expect(metrics['http.request.stop.count']!.series).toEqual([
      { tags: { route: '/a', status: '200' }, value: 1 },
      { tags: { route: '/a', status: '500' }, value: 1 },
      { tags: { route: '/b', status: '200' }, value: 1 },
    ]);
    expect(metrics['http.request.stop.bytes']!.series).toEqual([{ tags: {}, value: 450 }]);
    expect(metrics['http.request.stop.duration']!.series).toMatchObject([
      { tags: { route: '/a' }, count: 2, sum: 42, min: 12, max: 30 },
      { tags: { route: '/b' }, count: 1, sum: 8 },
    ]);
    expect(metrics['vm.memory']!.series).toEqual([{ tags: {}, value: 1024 }]);
  });

  it('apply keepIf, tagValues, a measurement function and scale', () => {
    const telemetry = createTelemetry({
      metrics: [
        {
          name: 'db.query.duration_seconds',
          kind: 'histogram',
          event: ['db', 'query', 'stop'],
          measurement: 'duration',
          scale: 0.001,
          tags: ['table'],
          tagValues: (metadata) => ({ table: String(metadata.source).toUpperCase() }),
          keepIf: (metadata) => metadata.cached !== true,
        },
        { name: 'db.rows', kind: 'counter', event: ['db', 'query', 'stop'], measurement: (measurements) => (measurements.rows as number) * 2 },
      ],
    });
    telemetry.execute(['db', 'query', 'stop'], { duration: 1500, rows: 2 }, { source: 'users' });
    telemetry.execute(['db', 'query', 'stop'], { duration: 9999, rows: 1 }, { source: 'users', cached: true });
    const metrics = telemetry.getMetrics();
    expect(metrics['db.query.duration_seconds']!.series).toMatchObject([{ tags: { table: 'USERS' }, count: 1, sum: 1.5 }]);
    expect(metrics['db.rows']!.series).toEqual([{ tags: {}, value: 6 }]);
  });

  it.each<[string, MetricDefinition, string]>([
    ['an unknown kind', { name: 'app.value', kind: 'meter' as 'counter' }, 'kind must be one of'],
    ['a name without an event', { name: 'single', kind: 'gauge' }, 'without "event"'],
    ['a bad event', { name: 'app.value', kind: 'gauge', event: [] }, '"event"'],
    ['duplicate tags', { name: 'app.value', kind: 'counter', tags: ['t', 't'] }, 'duplicates'],
    ['buckets on a counter', { name: 'app.value', kind: 'counter', buckets: [1] }, 'only applies to histograms'],
    ['unordered buckets', { name: 'app.value', kind: 'histogram', buckets: [2, 1] }, 'strictly increasing'],
    ['a quantile above 1', { name: 'app.value', kind: 'histogram', quantiles: [1.5] }, '"quantiles"'],
    ['a repeated quantile (-0 is 0 in Prometheus)', { name: 'app.value', kind: 'histogram', quantiles: [0.5, 0, -0] }, 'must not repeat'],
    ['a zero scale', { name: 'app.value', kind: 'gauge', scale: 0 }, '"scale"'],
    ['a reserved name', { name: '__proto__', kind: 'gauge', event: ['x'] }, 'reserved'],
    ['a non-base unit', { name: 'http.request.duration_milliseconds', kind: 'histogram', event: ['x'] }, 'base unit "seconds"'],
    ['an abbreviated unit', { name: 'http.request.latency_ms', kind: 'histogram', event: ['x'] }, 'abbreviated unit "ms"'],
    ['a gauge ending in _total', { name: 'queue.total', kind: 'gauge', event: ['x'] }, '"_total"'],
    ['the metric type in its name', { name: 'requests.counter', kind: 'counter', event: ['x'] }, 'metric type "counter"'],
    ['a tag named le', { name: 'app.value', kind: 'histogram', tags: ['le'] }, 'reserved for histogram buckets'],
    ['tags that become the same label', { name: 'app.value', kind: 'counter', tags: ['userId', 'user_id'] }, 'same label'],
    ['a tag name with a lone surrogate', { name: 'app.value', kind: 'counter', tags: ['route\uD83D'] }, 'lone surrogate'],
    ['a tag name with a lone surrogate, kept out of Prometheus', { name: 'app.value', kind: 'counter', tags: ['route', 'route\uDC00'], prometheus: false }, 'lone surrogate'],
  ])('reject %s (InvalidMetricDefinitionError, 5304)', (_label, definition, reason) => {
    let caught: unknown;
    try {
      createTelemetry().defineMetric(definition);
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: TELEMETRY_ERROR_CODES.invalidMetricDefinition, message: expect.stringContaining(reason) });
  });

  it('accept a name Prometheus cannot carry when kept out of the exposition', () => {
    const telemetry = createTelemetry();
    telemetry.defineMetric({ name: 'latency.ms', kind: 'histogram', event: ['x'], prometheus: false });
    telemetry.execute(['x'], { ms: 5 });
    expect(telemetry.getMetrics()['latency.ms']!.series[0]!.count).toBe(1);
    expect(telemetry.renderPrometheus()).not.toContain('latency');
  });

  it('reject a second metric of the same name, or one rendering the same Prometheus names', () => {
    const telemetry = createTelemetry();
    const message = (action: () => unknown): string => {
      try {
        action();
      } catch (error) {
        return (error as Error).message;
      }
      return 'no error';
    };
    telemetry.defineMetric({ name: 'app.hits', kind: 'counter' });
    expect(message(() => telemetry.defineMetric({ name: 'app.hits', kind: 'gauge' }))).toContain('already defined');
    expect(message(() => telemetry.defineMetric({ name: 'app.hitsTotal', kind: 'counter', event: ['z'] }))).toContain('another metric already renders');
    telemetry.defineMetric({ name: 'lat.value', kind: 'histogram' });
    expect(message(() => telemetry.defineMetric({ name: 'lat.value_count', kind: 'counter', event: ['z'] }))).toContain('no error');
    expect(message(() => telemetry.defineMetric({ name: 'lat.value.sum', kind: 'gauge', event: ['z'], prometheus: true }))).toContain('"_sum"');
    expect(telemetry.removeMetric('app.hits')).toBe(true);
    telemetry.defineMetric({ name: 'app.hits', kind: 'gauge' }); // free again
    expect(telemetry.removeMetric('missing')).toBe(false);
  });

  it('stop recording once removed', () => {
    const telemetry = createTelemetry({ metrics: [{ name: 'e.v', kind: 'counter' }] });
    telemetry.execute(['e'], {});
    telemetry.removeMetric('e.v');
    telemetry.execute(['e'], {});
    expect(telemetry.getMetrics()).toEqual({});
  });

  it('attach under handler ids outside the process-wide symbol registry, and leave nothing behind once removed', () => {
    // Symbol.for ids would stay in the global symbol registry for good: defining and removing
    // metrics under ever-new names would grow memory without bound.
    const add = jest.spyOn(HandlerRegistry.prototype, 'add');
    try {
      const telemetry = createTelemetry();
      const names = Array.from({ length: 50 }, (_, index) => `churn.m${index}.count`);
      for (const [index, name] of names.entries()) {
        telemetry.defineMetric({ name, kind: 'counter', event: ['churn', `m${index}`] });
        telemetry.execute(['churn', `m${index}`], {});
      }
      expect(Object.values(telemetry.getMetrics()).map((metric) => metric.series)).toEqual(names.map(() => [{ tags: {}, value: 1 }]));
      expect(names.map((name) => telemetry.removeMetric(name))).toEqual(names.map(() => true));
      const ids = add.mock.calls.map(([id]) => id);
      expect(new Set(ids).size).toBe(names.length);
      expect(ids.filter((id) => typeof id !== 'symbol' || Symbol.keyFor(id) !== undefined)).toEqual([]);
      const registry = add.mock.contexts[0] as HandlerRegistry;
      expect(add.mock.contexts.every((context) => context === registry)).toBe(true);
      expect(ids.filter((id) => registry.has(id))).toEqual([]);
      expect(registry.root.segments).toEqual([]); // the trie is pruned too
      // A name removed is free again, under a fresh id.
      telemetry.defineMetric({ name: names[0]!, kind: 'counter', event: ['churn', 'm0'] });
      telemetry.execute(['churn', 'm0'], {});
      expect(telemetry.getMetrics()[names[0]!]!.series).toEqual([{ tags: {}, value: 1 }]);
      expect(ids).not.toContain(add.mock.calls.at(-1)![0]);
    } finally {
      add.mockRestore();
    }
  });
});

describe('bad input to metrics: dropped with a counter, never thrown', () => {
  it('drops missing, non-finite and negative-counter samples and invalid tags, by reason', () => {
    const telemetry = createTelemetry({
      metrics: [
        { name: 'job.duration', kind: 'histogram', tags: ['queue'] },
        { name: 'job.items', kind: 'counter', measurement: 'items' },
      ],
    });
    telemetry.execute(['job'], { items: 2 }); // no duration
    telemetry.execute(['job'], { duration: Number.NaN, items: -1 });
    telemetry.execute(['job'], { duration: '12', items: Number.POSITIVE_INFINITY });
    telemetry.execute(['job'], { duration: 5, items: 1 }, { queue: { nested: true } });
    telemetry.execute(['job'], { duration: 5, items: 1 }, { queue: 'q'.repeat(257) });
    telemetry.execute(['job'], { duration: 5, items: 1 }, { queue: 'ok' });
    const dropped = Object.fromEntries(telemetry.snapshot().dropped.map((entry) => [`${entry.metric}:${entry.reason}`, entry.count]));
    expect(dropped).toEqual({
      'job.duration:missing_measurement': 1,
      'job.duration:invalid_measurement': 2,
      'job.duration:invalid_tag': 2,
      'job.items:negative_counter': 1,
      'job.items:invalid_measurement': 1,
    });
    expect(telemetry.getMetrics()['job.items']!.series).toEqual([{ tags: {}, value: 5 }]);
    expect(telemetry.stats().droppedSamples).toBe(7);
  });

  it('drops (invalid_measurement) a sample that scaling or a running sum would take past the largest finite number', () => {
    const telemetry = createTelemetry({
      metrics: [
        { name: 'huge.bytes', kind: 'histogram', event: ['huge'], measurement: 'value', scale: 1e10 },
        { name: 'huge.sum_bytes', kind: 'counter', event: ['huge'], measurement: 'value', scale: 1e10 },
        { name: 'huge.level_bytes', kind: 'gauge', event: ['huge'], measurement: 'value', scale: 1e10 },
      ],
    });
    telemetry.execute(['huge'], { value: 1e300 }); // 1e310 once scaled: not a finite number
    telemetry.execute(['huge'], { value: 1e298 });
    telemetry.execute(['huge'], { value: 1e298 }); // the sums would reach 2e308
    const metrics = telemetry.getMetrics();
    expect(metrics['huge.bytes']!.series).toEqual([{ tags: {}, count: 1, sum: 1e308, min: 1e308, max: 1e308, quantiles: { '0.5': 1e308, '0.9': 1e308, '0.99': 1e308 } }]);
    expect(metrics['huge.sum_bytes']!.series).toEqual([{ tags: {}, value: 1e308 }]);
    expect(metrics['huge.level_bytes']!.series).toEqual([{ tags: {}, value: 1e308 }]);
    const snapshot = telemetry.snapshot();
    expect(renderSnapshot(snapshot)).toContain('huge_bytes_sum 1e+308');
    expect(parseSnapshot(JSON.parse(JSON.stringify(snapshot)))).toEqual(snapshot);
    const dropped = Object.fromEntries(snapshot.dropped.map((entry) => [`${entry.metric}:${entry.reason}`, entry.count]));
    expect(dropped).toEqual({ 'huge.bytes:invalid_measurement': 2, 'huge.sum_bytes:invalid_measurement': 2, 'huge.level_bytes:invalid_measurement': 1 });
  });

  it('reads only own properties: a tag or measurement named like an Object.prototype member is simply absent', () => {
    const telemetry = createTelemetry({ metrics: [{ name: 'odd.count', kind: 'counter', event: ['odd'], tags: ['toString'] }, { name: 'odd.constructor_value', kind: 'gauge', event: ['odd'], measurement: 'constructor' }] });
    telemetry.execute(['odd'], {}, {});
    telemetry.execute(['odd'], {}, { toString: 'own' });
    expect(telemetry.getMetrics()['odd.count']!.series).toEqual([
      { tags: { toString: '' }, value: 1 },
      { tags: { toString: 'own' }, value: 1 },
    ]);
    expect(telemetry.snapshot().dropped).toEqual([{ metric: 'odd.constructor_value', reason: 'missing_measurement', count: 2 }]);
  });

  it('drops (reason error) when a measurement, tagValues or keepIf function throws, and keeps the metric attached', () => {
    let fail = true;
    const telemetry = createTelemetry({
      metrics: [
        {
          name: 'risky.value',
          kind: 'gauge',
          tags: ['t'],
          tagValues: () => {
            if (fail) throw new Error('tag bug');
            return { t: 'fine' };
          },
        },
      ],
    });
    telemetry.execute(['risky'], { value: 1 });
    fail = false;
    telemetry.execute(['risky'], { value: 2 });
    expect(telemetry.snapshot().dropped).toEqual([{ metric: 'risky.value', reason: 'error', count: 1 }]);
    expect(telemetry.getMetrics()['risky.value']!.series).toEqual([{ tags: { t: 'fine' }, value: 2 }]);
    expect(telemetry.stats().handlerFailures).toBe(0);
  });

  it('counts a sample whose metadata getter throws while its tags are read as dropped (review finding)', () => {
    // The getter's error escaped record(), and the sample was lost without a count.
    const telemetry = createTelemetry({ metrics: [{ name: 'tagged.value', kind: 'gauge', event: ['tagged'], measurement: 'value', tags: ['route'] }] });
    const metadata = Object.defineProperty({}, 'route', {
      enumerable: true,
      get: () => {
        throw new Error('getter bug');
      },
    });
    telemetry.execute(['tagged'], { value: 1 }, metadata);
    expect(telemetry.snapshot().dropped).toEqual([{ metric: 'tagged.value', reason: 'error', count: 1 }]);
  });

  it('keeps the series of a sample whose metadata getter executes the same event while its tags are read', () => {
    // The tag values of the sample being recorded sat in one buffer per metric: the inner
    // record wrote its values there, and the outer sample went to a series mixing both.
    const telemetry = createTelemetry({ metrics: [{ name: 'nested.count', kind: 'counter', event: ['nested'], tags: ['first', 'second'] }] });
    const metadata = Object.defineProperties({}, {
      first: { enumerable: true, value: 'outer-first' },
      second: {
        enumerable: true,
        get: () => {
          telemetry.execute(['nested'], {}, { first: 'inner-first', second: 'inner-second' });
          return 'outer-second';
        },
      },
    });
    telemetry.execute(['nested'], {}, metadata);
    telemetry.execute(['nested'], {}, { first: 'after-first', second: 'after-second' });
    expect(telemetry.snapshot().metrics[0]!.series).toEqual([
      { tags: ['inner-first', 'inner-second'], value: 1 },
      { tags: ['outer-first', 'outer-second'], value: 1 },
      { tags: ['after-first', 'after-second'], value: 1 },
    ]);
  });

  it('records a tag value cut inside a surrogate pair as the UTF-8 text it becomes, so series stay distinct on the wire', () => {
    // Tag values cut with slice() inside an emoji ('hello😀' and 'hello🤖' cut at 6) differ
    // only in a lone surrogate, which UTF-8 (Prometheus text, CBOR) can only write as U+FFFD:
    // they were two series that rendered as one label set twice, and a receiving node's
    // parseSnapshot refused the whole snapshot for its repeated tags once it came through CBOR.
    const telemetry = createTelemetry({ metrics: [{ name: 'greeting.count', kind: 'counter', event: ['greeting'], tags: ['text'] }] });
    for (const text of ['hello😀', 'hello🤖', 'hello😀']) telemetry.execute(['greeting'], {}, { text: text.slice(0, 6) });
    telemetry.execute(['greeting'], {}, { text: '\uDC00lone low, then a pair 😀' });
    expect(telemetry.snapshot().metrics[0]!.series).toEqual([
      { tags: ['hello\uFFFD'], value: 3 },
      { tags: ['\uFFFDlone low, then a pair 😀'], value: 1 },
    ]);
    const lines = telemetry.renderPrometheus().split('\n').filter((line) => line.startsWith('greeting_count_total{'));
    expect(lines).toEqual(['greeting_count_total{text="hello\uFFFD"} 3', 'greeting_count_total{text="\uFFFDlone low, then a pair 😀"} 1']);
  });

  it('reads a snapshot from another node with its lone surrogates as the UTF-8 text they become', () => {
    // Review finding: a JSON snapshot (from an older node, or a hostile one) could still carry
    // tag values and names that differ only in a lone surrogate; they rendered as one label set
    // twice. They are now read as UTF-8 carries them, so the repeat is refused as any other.
    const telemetry = createTelemetry({ metrics: [{ name: 'greeting.count', kind: 'counter', event: ['greeting'], tags: ['text'] }] });
    telemetry.execute(['greeting'], {}, { text: 'plain' });
    const snapshot = telemetry.snapshot();
    const withSeries = (...tags: string[]): unknown => ({
      ...snapshot,
      metrics: [{ ...snapshot.metrics[0]!, series: tags.map((text) => ({ tags: [text], value: 1 })) }],
    });
    const read = parseSnapshot(JSON.parse(JSON.stringify(withSeries('cut \uD83D'))));
    expect(read.metrics[0]!.series).toEqual([{ tags: ['cut \uFFFD'], value: 1 }]);
    expect(codeOf(() => parseSnapshot(withSeries('cut \uD83D', 'cut \uD83E')))).toBe(TELEMETRY_ERROR_CODES.invalidSnapshot);
    const names = { ...snapshot, metrics: ['a\uDC00', 'a\uDC01'].map((name) => ({ ...snapshot.metrics[0]!, name, prometheusName: undefined, labelNames: undefined })) };
    expect(codeOf(() => parseSnapshot(JSON.parse(JSON.stringify(names))))).toBe(TELEMETRY_ERROR_CODES.invalidSnapshot);
  });

  it('refuses a snapshot whose tag names repeat, once read as UTF-8 carries them', () => {
    // Tag names that differ only in a lone surrogate are one name on the wire; a metric kept out
    // of Prometheus has no labelNames, whose check was the only one against repeats.
    const telemetry = createTelemetry({ metrics: [{ name: 'greeting.count', kind: 'counter', event: ['greeting'], tags: ['text', 'lang'], prometheus: false }] });
    telemetry.execute(['greeting'], {}, { text: 'plain', lang: 'en' });
    const snapshot = JSON.parse(JSON.stringify(telemetry.snapshot())) as MetricsSnapshot;
    const withTags = (...tags: string[]): unknown => ({ ...snapshot, metrics: [{ ...snapshot.metrics[0]!, tags }] });
    expect(parseSnapshot(withTags('text', 'lang')).metrics[0]!.tags).toEqual(['text', 'lang']);
    expect(codeOf(() => parseSnapshot(withTags('text\uD83D', 'text\uD83E')))).toBe(TELEMETRY_ERROR_CODES.invalidSnapshot);
    expect(codeOf(() => parseSnapshot(withTags('text', 'text')))).toBe(TELEMETRY_ERROR_CODES.invalidSnapshot);
  });

  it('keeps at most 10,000 series per metric by default: user-controlled tags cannot grow memory without bound', () => {
    const telemetry = createTelemetry({ metrics: [{ name: 'http.request.count', kind: 'counter', event: ['http', 'request'], tags: ['user'] }] });
    for (let user = 0; user < 12_000; user += 1) telemetry.execute(['http', 'request'], {}, { user: `user-${user}` });
    telemetry.execute(['http', 'request'], {}, { user: 'user-42' }); // an existing series still records
    const snapshot = telemetry.snapshot();
    const metric = snapshot.metrics[0]!;
    expect(metric.series).toHaveLength(10_000);
    expect(metric.series.find((series) => series.tags[0] === 'user-42')).toEqual({ tags: ['user-42'], value: 2 });
    expect(snapshot.dropped).toEqual([{ metric: 'http.request.count', reason: 'cardinality', count: 2000 }]);
  });

  it('applies maxSeries per metric and per instance, across several tags', () => {
    const telemetry = createTelemetry({ maxSeries: 5, metrics: [{ name: 'a.v', kind: 'gauge', tags: ['x', 'y'] }, { name: 'b.v', kind: 'gauge', event: ['a'], tags: ['x'], maxSeries: 2 }] });
    for (let index = 0; index < 10; index += 1) telemetry.execute(['a'], { v: index }, { x: index % 3, y: index });
    const series = Object.fromEntries(telemetry.snapshot().metrics.map((metric) => [metric.name, metric.series.length]));
    expect(series).toEqual({ 'a.v': 5, 'b.v': 2 });
  });

  it('stops defining automatic metrics at maxMetrics and counts what it could not record', () => {
    const telemetry = createTelemetry({ maxMetrics: 3 });
    for (let index = 0; index < 5; index += 1) telemetry.emitCounter(['auto', `m${index}`]);
    expect(Object.keys(telemetry.getMetrics())).toEqual(['auto.m0', 'auto.m1', 'auto.m2']);
    expect(telemetry.snapshot().dropped).toEqual([
      { metric: 'auto.m3', reason: 'metric_limit', count: 1 },
      { metric: 'auto.m4', reason: 'metric_limit', count: 1 },
    ]);
    expect(codeOf(() => telemetry.defineMetric({ name: 'x.y', kind: 'gauge' }))).toBe(TELEMETRY_ERROR_CODES.invalidMetricDefinition);
  });

  it('bounds the drop counts of automatic metrics past maxMetrics: event names from user input cannot grow memory', () => {
    const telemetry = createTelemetry({ maxMetrics: 2 });
    for (let index = 0; index < 5000; index += 1) telemetry.emitCounter(['user', `id-${index}`]);
    telemetry.emitCounter(['user', 'id-2']); // already counted by name
    const dropped = telemetry.snapshot().dropped;
    // The first maxMetrics names past the limit keep their own entry; the rest share one.
    expect(dropped).toEqual([
      { metric: 'user.id-2', reason: 'metric_limit', count: 2 },
      { metric: 'user.id-3', reason: 'metric_limit', count: 1 },
      { metric: OTHER_DROPPED_METRIC, reason: 'metric_limit', count: 4996 },
    ]);
    expect(telemetry.stats().droppedSamples).toBe(4999);
  });
});

describe('drop counts of removed metrics', () => {
  it('move to the shared entry: defining and removing metrics under ever-new names keeps no entry per name (review finding)', () => {
    // removeMetric left the metric's drop counts under its name for good, so churning metrics
    // whose samples were ever dropped grew the drop table by one entry per name, without bound.
    const telemetry = createTelemetry({ maxMetrics: 2 });
    for (let index = 0; index < 1000; index += 1) {
      telemetry.emitCounter(['user', `id-${index}`], {}, -1); // defines the metric; the sample is dropped
      expect(telemetry.removeMetric(`user.id-${index}`)).toBe(true);
    }
    expect(telemetry.snapshot().dropped).toEqual([{ metric: OTHER_DROPPED_METRIC, reason: 'negative_counter', count: 1000 }]);
    expect(telemetry.stats().droppedSamples).toBe(1000); // nothing lost from the totals
    // A name past maxMetrics keeps its own metric_limit count while undefined; defined, then
    // removed, its counts move too, and it no longer takes one of the maxMetrics own entries.
    telemetry.emitCounter(['a']);
    telemetry.emitCounter(['b']);
    telemetry.emitCounter(['c']); // metric_limit, its own entry
    telemetry.emitCounter(['d']); // metric_limit, its own entry (maxMetrics: 2 names)
    telemetry.removeMetric('a');
    telemetry.emitCounter(['c']);
    expect(telemetry.getMetrics().c!.series).toEqual([{ tags: {}, value: 1 }]);
    telemetry.removeMetric('c');
    telemetry.emitCounter(['a']);
    telemetry.emitCounter(['e']); // metric_limit: 'c' left room for an entry of its own
    const snapshot = telemetry.snapshot();
    expect(snapshot.dropped).toEqual([
      { metric: OTHER_DROPPED_METRIC, reason: 'negative_counter', count: 1000 },
      { metric: OTHER_DROPPED_METRIC, reason: 'metric_limit', count: 1 },
      { metric: 'd', reason: 'metric_limit', count: 1 },
      { metric: 'e', reason: 'metric_limit', count: 1 },
    ]);
    expect(parseSnapshot(JSON.parse(JSON.stringify(snapshot)))).toEqual(snapshot);
  });
});

describe('snapshots: export per node, merge cluster-wide', () => {
  function node(name: string, clock: Clock, latencies: number[], depth: number, requests: number): MetricsSnapshot {
    const telemetry = createTelemetry({
      node: name,
      clock,
      metrics: [
        { name: 'rpc.call.duration', kind: 'histogram', tags: ['method'], buckets: [10, 50, 100] },
        { name: 'rpc.call.count', kind: 'counter', tags: ['method'] },
        { name: 'queue.depth', kind: 'gauge', event: ['queue'], measurement: 'depth' },
      ],
    });
    for (const duration of latencies) telemetry.execute(['rpc', 'call'], { duration }, { method: 'get' });
    for (let index = 0; index < requests - latencies.length; index += 1) telemetry.execute(['rpc', 'call'], { duration: 1 }, { method: 'put' });
    telemetry.execute(['queue'], { depth });
    return telemetry.snapshot();
  }

  it('adds counters, merges sketches and bucket counts, and combines gauges as asked', () => {
    const clock = clockAt(1000);
    const first = node('node-a', clock, [5, 20, 70], 4, 5);
    clock.set(2000);
    const second = node('node-b', clock, [200, 8], 9, 2);
    expect(first.node).toBe('node-a');
    const merged = mergeSnapshots([first, second]);
    expect(merged.node).toBeUndefined();
    expect(merged.takenAt).toBe(2000);
    const byName = Object.fromEntries(merged.metrics.map((metric) => [metric.name, metric]));
    expect(byName['rpc.call.count']!.series).toEqual([
      { tags: ['get'], value: 5 },
      { tags: ['put'], value: 2 },
    ]);
    const duration = byName['rpc.call.duration']!.series[0]!;
    expect('sketch' in duration && duration.sketch.count).toBe(5);
    expect('sketch' in duration && duration.bucketCounts).toEqual([2, 1, 1, 1]);
    expect(byName['queue.depth']!.series).toEqual([{ tags: [], value: 13, updatedAt: 2000 }]);
    const depth = (gauges: 'average' | 'min' | 'max' | 'last') => (mergeSnapshots([first, second], { gauges }).metrics.find((metric) => metric.name === 'queue.depth')!.series[0] as { value: number }).value;
    expect([depth('average'), depth('min'), depth('max'), depth('last')]).toEqual([6.5, 4, 9, 9]);
  });

  it('survives JSON, is parsed as hostile input, and merges to what one node seeing everything would have', () => {
    const clock = clockAt(0);
    const everything = node('all', clock, [5, 20, 70, 200, 8], 0, 5);
    const parts = [node('a', clock, [5, 20, 70], 0, 3), node('b', clock, [200, 8], 0, 2)].map((snapshot) => parseSnapshot(JSON.parse(JSON.stringify(snapshot))));
    const merged = mergeSnapshots(parts);
    const sketchOf = (snapshot: MetricsSnapshot) => {
      const series = snapshot.metrics.find((metric) => metric.name === 'rpc.call.duration')!.series[0]!;
      return 'sketch' in series ? series.sketch : undefined;
    };
    expect(sketchOf(merged)).toEqual(sketchOf(everything));
  });

  it('keeps merged counts finite, and refuses repeated quantiles or dropped-sample series in a snapshot (review finding)', () => {
    const telemetry = createTelemetry({ metrics: [{ name: 'op.duration_seconds', kind: 'histogram', event: ['op'], measurement: 'value' }] });
    telemetry.execute(['op'], { value: 1 });
    const base = JSON.parse(JSON.stringify(telemetry.snapshot())) as Record<string, unknown> & { metrics: Record<string, unknown>[] };
    // Two valid sketches whose counts add up past the largest double: the merge stays finite.
    const withCount = (count: number): MetricsSnapshot => {
      const copy = JSON.parse(JSON.stringify(base)) as typeof base;
      const sketch = ((copy.metrics[0]!.series as Record<string, unknown>[])[0]!.sketch as Record<string, unknown>);
      sketch.count = count;
      (sketch.positive as { counts: number[] }).counts = (sketch.positive as { counts: number[] }).counts.map((bucket) => (bucket > 0 ? count : 0));
      return parseSnapshot(copy);
    };
    const merged = mergeSnapshots([withCount(1.5e308), withCount(1.5e308)]);
    expect(parseSnapshot(JSON.parse(JSON.stringify(merged)))).toEqual(merged);
    expect(merged.dropped).toEqual([{ metric: 'op.duration_seconds', reason: 'invalid_measurement', count: 1 }]);
    // Quantiles and dropped-sample series each render as one series: a repeat is refused.
    const repeated = JSON.parse(JSON.stringify(base)) as typeof base;
    repeated.metrics[0]!.quantiles = [0.5, 0.5];
    expect(() => parseSnapshot(repeated)).toThrow(/must not repeat/);
    const twice = { ...base, dropped: [{ metric: 'a', reason: 'error', count: 1 }, { metric: 'a', reason: 'error', count: 2 }] };
    expect(() => parseSnapshot(twice)).toThrow(/repeats metric "a"/);
  });

  it('keeps merged sums finite: a series that would overflow one is left out and counted as invalid_measurement', () => {
    const huge = (value: number): MetricsSnapshot => {
      const telemetry = createTelemetry({
        metrics: [
          { name: 'big.sum_bytes', kind: 'counter', event: ['big'], measurement: 'value' },
          { name: 'big.bytes', kind: 'histogram', event: ['big'], measurement: 'value', buckets: [1] },
          { name: 'big.level_bytes', kind: 'gauge', event: ['big'], measurement: 'value' },
        ],
      });
      telemetry.execute(['big'], { value });
      return parseSnapshot(JSON.parse(JSON.stringify(telemetry.snapshot())));
    };
    // Each node's sums are finite (1e308 is below the largest finite number, about 1.8e308); two of them are not.
    const snapshots = [huge(1e308), huge(1e308), huge(1e307)];
    const merged = mergeSnapshots(snapshots);
    const byName = Object.fromEntries(merged.metrics.map((metric) => [metric.name, metric]));
    expect(byName['big.sum_bytes']!.series).toEqual([{ tags: [], value: 1e308 + 1e307 }]);
    expect((byName['big.level_bytes']!.series[0] as { value: number }).value).toBe(1e308 + 1e307);
    const histogram = byName['big.bytes']!.series[0]!;
    // The second node's series is left out whole: count, sum and buckets still describe the same samples.
    expect('sketch' in histogram && [histogram.sketch.count, histogram.sketch.sum, histogram.sketch.min, histogram.sketch.max, histogram.bucketCounts]).toEqual([2, 1e308 + 1e307, 1e307, 1e308, [0, 2]]);
    const dropped = Object.fromEntries(merged.dropped.map((entry) => [`${entry.metric}:${entry.reason}`, entry.count]));
    expect(dropped).toEqual({ 'big.sum_bytes:invalid_measurement': 1, 'big.bytes:invalid_measurement': 1, 'big.level_bytes:invalid_measurement': 1 });
    // The merge is a snapshot like any other: it survives JSON, is accepted as input and renders.
    expect(parseSnapshot(JSON.parse(JSON.stringify(merged)))).toEqual(merged);
    expect(renderSnapshot(merged)).toContain('\nbig_sum_bytes_total 1.1e+308\n');
    expect(renderSnapshot(merged)).not.toMatch(/ [+-]Inf$/m); // no sample is infinite
    // An average of finite gauges is finite even when their sum is not.
    const averaged = mergeSnapshots(snapshots, { gauges: 'average' });
    const average = averaged.metrics.find((metric) => metric.name === 'big.level_bytes')!.series[0] as { value: number };
    expect(average.value / 7e307).toBeCloseTo(1, 12);
    expect(averaged.dropped.map((entry) => entry.metric)).not.toContain('big.level_bytes');
  });

  it('leaves out (and counts) a metric whose definition differs between nodes', () => {
    const left = createTelemetry({ metrics: [{ name: 'm.v', kind: 'gauge' }] });
    const right = createTelemetry({ metrics: [{ name: 'm.v', kind: 'counter', measurement: 'v' }] });
    left.execute(['m'], { v: 1 });
    right.execute(['m'], { v: 2 });
    const merged = mergeSnapshots([left.snapshot(), right.snapshot()]);
    expect(merged.metrics).toHaveLength(1);
    expect(merged.metrics[0]!.kind).toBe('gauge');
    expect(merged.dropped).toEqual([{ metric: 'm.v', reason: 'conflict', count: 1 }]);
  });

  it('leaves out (and counts) a metric that would render the same Prometheus names as another, so the merge stays exposable', () => {
    const left = createTelemetry({ metrics: [{ name: 'queue.depth', kind: 'gauge', event: ['queue'], measurement: 'depth' }] });
    const right = createTelemetry({ metrics: [{ name: 'queue_depth', kind: 'gauge', event: ['queue'], measurement: 'depth' }, { name: 'queue.depth_count', kind: 'gauge', event: ['queue'], measurement: 'depth', prometheus: false }] });
    // As after a rename rolled out to some nodes only.
    for (const telemetry of [left, right]) telemetry.execute(['queue'], { depth: 4 });
    const merged = mergeSnapshots([left.snapshot(), right.snapshot()]);
    expect(merged.metrics.map((metric) => metric.name)).toEqual(['queue.depth', 'queue.depth_count']);
    expect(merged.dropped).toEqual([{ metric: 'queue_depth', reason: 'conflict', count: 1 }]);
    expect(renderSnapshot(merged).match(/^# TYPE queue_depth /gm)).toHaveLength(1);
  });

  it('rejects hostile snapshots with InvalidSnapshotError (5305)', () => {
    const telemetry = createTelemetry({
      metrics: [
        { name: 'a.v', kind: 'histogram', tags: ['t'] },
        { name: 'b.v', kind: 'counter', measurement: 'v', event: ['a'] },
        { name: 'c.v', kind: 'histogram', event: ['a'], measurement: 'v', buckets: [10] },
      ],
    });
    telemetry.execute(['a'], { v: 3 }, { t: 'x' });
    const good = JSON.parse(JSON.stringify(telemetry.snapshot())) as Record<string, unknown>;
    const metrics = good.metrics as Record<string, unknown>[];
    const withMetric = (index: number, patch: Record<string, unknown>) => ({ ...good, metrics: metrics.map((metric, at) => (at === index ? { ...metric, ...patch } : metric)) });
    expect(parseSnapshot(good).metrics).toHaveLength(3);
    const bucketed = (metrics[2]!.series as Record<string, unknown>[])[0]!;
    const halfMoved = (counts: readonly number[]): number[] => {
      const from = counts.findIndex((count) => count >= 1);
      return counts.map((count, index) => (index === from ? count - 0.5 : index === (from + 1) % counts.length ? count + 0.5 : count));
    };
    const hostile: unknown[] = [
      null,
      { ...good, format: 'other' },
      { ...good, version: 2 },
      { ...good, metrics: 'none' },
      { ...good, takenAt: 'now' },
      withMetric(0, { kind: 'meter' }),
      withMetric(0, { name: '__proto__' }),
      withMetric(0, { tags: [1] }),
      withMetric(0, { series: [{ tags: ['x'], sketch: { nonsense: true } }] }),
      withMetric(0, { series: [{ tags: [], sketch: (metrics[0]!.series as { sketch: unknown }[])[0]!.sketch }] }),
      withMetric(1, { series: [{ tags: [], value: -5 }] }),
      withMetric(1, { series: [{ tags: [], value: Number.NaN }] }),
      withMetric(0, { prometheusName: 'Bad Name' }),
      { ...good, metrics: [metrics[0], metrics[0]] },
      { ...good, dropped: [{ metric: 'a', reason: 'because', count: 1 }] },
      { ...good, metrics: Array(11).fill(metrics[1]) },
      // Exposition rules: one family per name, valid and distinct labels, one sample per series, buckets that add up.
      withMetric(1, { prometheusName: 'a_v_count' }),
      withMetric(1, { prometheusName: 'foundation_telemetry_handler_failures_total' }),
      withMetric(0, { labelNames: ['le'] }),
      withMetric(0, { tags: ['t', 'u'], labelNames: ['t', 't'], series: [] }),
      withMetric(1, { series: [{ tags: [], value: 1 }, { tags: [], value: 2 }] }),
      withMetric(2, { series: [{ ...bucketed, bucketCounts: [5, 0] }] }),
      // Counts of samples are whole: half of one moved to the next bucket still adds up.
      withMetric(2, { series: [{ ...bucketed, bucketCounts: halfMoved(bucketed.bucketCounts as number[]) }] }),
    ];
    for (const data of hostile) {
      expect(codeOf(() => parseSnapshot(data, { maxMetrics: 10, maxSeriesPerMetric: 10 }))).toBe(TELEMETRY_ERROR_CODES.invalidSnapshot);
    }
  });

  it('refuses limits that are not non-negative integers with InvalidOptionsError (5307), instead of reading without a bound', () => {
    // NaN (a limit read from a missing setting through Number()) compares false with every length,
    // and so does a limit left out of the object: the arrays of a hostile peer went unbounded.
    const telemetry = createTelemetry({ metrics: [{ name: 'b.v', kind: 'counter', measurement: 'v', event: ['a'], tags: ['t'] }] });
    for (let index = 0; index < 20; index += 1) telemetry.execute(['a'], { v: 1 }, { t: String(index) });
    const data = JSON.parse(JSON.stringify(telemetry.snapshot())) as unknown;
    const limits: unknown[] = [
      { maxMetrics: Number.NaN, maxSeriesPerMetric: 10 },
      { maxMetrics: 10, maxSeriesPerMetric: Number.NaN },
      { maxMetrics: 10 },
      { maxMetrics: -1, maxSeriesPerMetric: 10 },
      { maxMetrics: 1.5, maxSeriesPerMetric: 10 },
      { maxMetrics: '10', maxSeriesPerMetric: 10 },
      null,
    ];
    for (const limit of limits) {
      expect(codeOf(() => parseSnapshot(data, limit as SnapshotLimits))).toBe(TELEMETRY_ERROR_CODES.invalidOptions);
    }
    expect(codeOf(() => parseSnapshot(data, { maxMetrics: 10, maxSeriesPerMetric: 10 }))).toBe(TELEMETRY_ERROR_CODES.invalidSnapshot);
    expect(parseSnapshot(data, { maxMetrics: 1, maxSeriesPerMetric: 20 }).metrics[0]!.series).toHaveLength(20);
  });

  it('refuses a negative handler-failure count, which would render a counter that goes down and lower the cluster total in a merge', () => {
    const good = JSON.parse(JSON.stringify(createTelemetry().snapshot())) as Record<string, unknown>;
    expect(parseSnapshot(good).handlerFailures).toBe(0);
    for (const handlerFailures of [-5, -Number.MIN_VALUE]) {
      expect(codeOf(() => parseSnapshot({ ...good, handlerFailures }))).toBe(TELEMETRY_ERROR_CODES.invalidSnapshot);
    }
  });

  it('refuses a handler-failure count that is not a safe integer, which two peers could add up past the largest number', () => {
    // A count of failures is a whole number that grows by one; a peer's 1e308 was accepted, and a
    // merge of two such made an infinite counter (+Inf in Prometheus, null in JSON) that no node
    // could read back.
    const good = JSON.parse(JSON.stringify(createTelemetry().snapshot())) as Record<string, unknown>;
    for (const handlerFailures of [1e308, Number.MAX_SAFE_INTEGER + 1, 1.5]) {
      expect(codeOf(() => parseSnapshot({ ...good, handlerFailures }))).toBe(TELEMETRY_ERROR_CODES.invalidSnapshot);
    }
    const largest = parseSnapshot({ ...good, handlerFailures: Number.MAX_SAFE_INTEGER });
    expect(Number.isFinite(mergeSnapshots([largest, largest]).handlerFailures)).toBe(true);
  });

  it('refuses a dropped-sample count that is not a safe integer, which two peers could add up past the largest number', () => {
    // As with handlerFailures: a drop count grows by one, and mergeSnapshots adds the counts of
    // every node; two peers' 1e308 made an infinite counter (+Inf in Prometheus) that no node
    // could read back.
    const good = JSON.parse(JSON.stringify(createTelemetry().snapshot())) as Record<string, unknown>;
    const droppedWith = (count: number) => ({ ...good, dropped: [{ metric: 'queue.depth', reason: 'cardinality', count }] });
    for (const count of [1e308, Number.MAX_SAFE_INTEGER + 1, 1.5]) {
      expect(codeOf(() => parseSnapshot(droppedWith(count)))).toBe(TELEMETRY_ERROR_CODES.invalidSnapshot);
    }
    const largest = parseSnapshot(droppedWith(Number.MAX_SAFE_INTEGER));
    const merged = mergeSnapshots([largest, largest]);
    expect(merged.dropped.every((entry) => Number.isFinite(entry.count))).toBe(true);
    expect(renderSnapshot(merged)).not.toContain('+Inf');
  });
});
