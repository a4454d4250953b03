import { describe, expect, it } from '@jest/globals';
import { createSeededRandom } from '@foundation/core';
import type { Clock } from '@foundation/core';
import { spawnSync } from 'node:child_process';
import { renderPrometheus } from './default-telemetry';
import { mergeSnapshots, parseSnapshot } from './metrics/snapshot';
import { renderSnapshot } from './prometheus';
import { createTelemetry } from './telemetry';

/**
 * Runs `promtool check metrics` (Debian package `prometheus`) on `text` for real. A missing
 * promtool fails the test: this check must not silently disappear from CI.
 */
function promtoolCheck(text: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 15_000 });
  if (result.error !== undefined) {
    throw new Error(`promtool could not run (${result.error.message}): install it with "apt-get install -y prometheus"`);
  }
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

const fixedClock: Clock = { now: () => 1_700_000_000_000, monotonic: () => 0 };

function populated() {
  const telemetry = createTelemetry({
    clock: fixedClock,
    metrics: [
      { name: 'http.request.count', kind: 'counter', event: ['http', 'request', 'stop'], tags: ['method', 'route'], description: 'HTTP requests served' },
      { name: 'http.request.duration_seconds', kind: 'histogram', event: ['http', 'request', 'stop'], measurement: 'duration', scale: 0.001, tags: ['route'] },
      { name: 'http.request.size_bytes', kind: 'histogram', event: ['http', 'request', 'stop'], measurement: 'bytes', buckets: [100, 1000, 10_000] },
      { name: 'queue.depth', kind: 'gauge', event: ['queue'], measurement: 'depth', tags: ['queueName'], description: 'Jobs waiting.\nMultiline help with a \\ backslash' },
      { name: 'jobs.failed', kind: 'counter', event: ['jobs', 'failed'] },
    ],
  });
  const routes = ['/users', '/users/"quoted"', 'back\\slash', 'new\nline', 'ünïcödé ✓'];
  routes.forEach((route, index) => {
    for (let request = 0; request < 20; request += 1) {
      telemetry.execute(['http', 'request', 'stop'], { duration: 5 + index * 10 + request, bytes: 50 * (request + 1) }, { method: request % 2 === 0 ? 'GET' : 'POST', route });
    }
  });
  telemetry.execute(['queue'], { depth: 7 }, { queueName: 'emails' });
  telemetry.execute(['queue'], { depth: 0.5 }, { queueName: 'thumbnails' });
  telemetry.execute(['jobs', 'failed'], {});
  telemetry.execute(['queue'], { depth: Number.NaN }, { queueName: 'broken' }); // dropped and counted
  return telemetry;
}

describe('renderPrometheus', () => {
  it('is checked by a promtool that does reject bad exposition (the check is real)', () => {
    expect(promtoolCheck('# TYPE http_requests counter\nhttp_requests 1\n').status).not.toBe(0);
    expect(promtoolCheck('# HELP ok_total fine\n# TYPE ok_total counter\nok_total 1\n')).toEqual({ status: 0, output: '' });
  });

  it('passes promtool check metrics (lint included) on counters, gauges, summaries, histograms and escaped labels', () => {
    const text = populated().renderPrometheus();
    const { status, output } = promtoolCheck(text);
    expect(output).toBe('');
    expect(status).toBe(0);
  });

  it('renders the text format as expected', () => {
    const text = populated().renderPrometheus();
    expect(text).toContain('# HELP http_request_count_total HTTP requests served\n# TYPE http_request_count_total counter\n');
    expect(text).toContain('http_request_count_total{method="GET",route="/users"} 10\n');
    expect(text).toContain('http_request_count_total{method="GET",route="/users/\\"quoted\\""} 10\n');
    expect(text).toContain('http_request_count_total{method="GET",route="back\\\\slash"} 10\n');
    expect(text).toContain('http_request_count_total{method="GET",route="new\\nline"} 10\n');
    expect(text).toContain('# TYPE http_request_duration_seconds summary\n');
    expect(text).toMatch(/http_request_duration_seconds\{route="\/users",quantile="0\.5"\} 0\.01\d+\n/);
    expect(text).toContain('http_request_duration_seconds_count{route="/users"} 20\n');
    expect(text).toContain('# TYPE http_request_size_bytes histogram\n');
    expect(text).toContain('http_request_size_bytes_bucket{le="100"} 10\n');
    expect(text).toContain('http_request_size_bytes_bucket{le="1000"} 100\n');
    expect(text).toContain('http_request_size_bytes_bucket{le="+Inf"} 100\n');
    expect(text).toContain('http_request_size_bytes_sum 52500\n');
    expect(text).toContain('# HELP queue_depth Jobs waiting.\\nMultiline help with a \\\\ backslash\n');
    expect(text).toContain('queue_depth{queue_name="thumbnails"} 0.5\n');
    expect(text).toContain('jobs_failed_total 1\n');
    expect(text).toContain('foundation_telemetry_dropped_samples_total{metric="queue.depth",reason="invalid_measurement"} 1\n');
    expect(text).toContain('foundation_telemetry_handler_failures_total 0\n');
    expect(text.endsWith('\n')).toBe(true);
  });

  it('renders a cluster-wide merge that promtool accepts', () => {
    const merged = mergeSnapshots([populated().snapshot(), populated().snapshot()]);
    const text = renderSnapshot(merged);
    expect(text).toContain('http_request_count_total{method="GET",route="/users"} 20\n');
    expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
  });

  it('refuses remote names promtool lint rejects, and renders a blank description with help text (review finding)', () => {
    // A remote snapshot's prometheusName was only checked against the name grammar, and a blank
    // description rendered HELP without text: promtool lint failed on the exposition.
    const snapshot = JSON.parse(JSON.stringify(populated().snapshot())) as { metrics: Record<string, unknown>[] };
    const counter = snapshot.metrics.find((metric) => metric.kind === 'counter')!;
    const gauge = snapshot.metrics.find((metric) => metric.kind === 'gauge')!;
    const renamed = (metric: Record<string, unknown>, prometheusName: string) => ({ ...snapshot, metrics: snapshot.metrics.map((other) => (other === metric ? { ...metric, prometheusName } : other)) });
    expect(() => parseSnapshot(renamed(gauge, 'queue_depth_total'))).toThrow(/_total/);
    expect(() => parseSnapshot(renamed(counter, 'request_latency_milliseconds_total'))).toThrow(/base unit/);
    expect(() => parseSnapshot(renamed(counter, 'jobs_failed'))).toThrow(/must end in _total/);
    const blank = parseSnapshot({ ...snapshot, metrics: snapshot.metrics.map((metric) => ({ ...metric, description: ' ' })) });
    expect(promtoolCheck(renderSnapshot(blank))).toEqual({ status: 0, output: '' });
  });

  it('stays valid for random metric names, tags and values (seeded)', () => {
    const seed = 2026;
    const random = createSeededRandom(seed);
    const telemetry = createTelemetry({ clock: fixedClock });
    const words = ['alpha', 'beta', 'gammaRay', 'http', 'queue', 'job', 'node', 'shard', 'cache', 'hit', 'miss', 'bytes', 'seconds', 'x9', '√', 'a-b', 'db'];
    const kinds = ['counter', 'gauge', 'histogram'] as const;
    let defined = 0;
    for (let attempt = 0; attempt < 200 && defined < 40; attempt += 1) {
      const name = Array.from({ length: random.int(2, 5) }, () => random.pick(words)).join('.');
      const tags = random.sample(['route', 'userId', 'status', 'region', 'kind'], random.int(0, 3));
      try {
        telemetry.defineMetric({ name: `${name}.v${attempt}`, kind: random.pick(kinds), event: ['e', String(attempt)], measurement: 'v', tags, ...(random.bool(0.3) ? { buckets: [0.1, 1, 10] } : {}) });
        defined += 1;
      } catch {
        // Names Prometheus cannot carry are refused at definition; that is part of what is tested.
      }
      for (let sample = 0; sample < 5; sample += 1) {
        const metadata = Object.fromEntries(tags.map((tag) => [tag, random.pick(['', 'a"b', 'x\\y', 'line\nbreak', '日本', 'ok', String(random.int(0, 100))])]));
        telemetry.execute(['e', String(attempt)], { v: (random.float() - 0.2) * 10 ** random.int(-3, 6) }, metadata);
      }
    }
    expect(defined).toBeGreaterThan(10);
    const result = promtoolCheck(telemetry.renderPrometheus());
    expect({ seed, ...result }).toEqual({ seed, status: 0, output: '' });
  });

  it('renders the process-wide instance, or a snapshot given to it', () => {
    expect(renderPrometheus()).toContain('foundation_telemetry_handler_failures_total 0');
    expect(renderPrometheus(populated().snapshot())).toContain('jobs_failed_total 1');
  });
});
