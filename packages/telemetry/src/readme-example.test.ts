// The README's example, run as a test so that it stays true.
import { afterAll, expect, it, jest } from '@jest/globals';
import { attach, configureTelemetry, createOpenTelemetryBridge, defaultTelemetry, defineMetric, execute, renderPrometheus, span } from './index';

afterAll(() => void configureTelemetry());

it('runs the README example', () => {
  configureTelemetry();
  function handleRequest(route: string) {
    return span(['http', 'request'], { route }, () => 'ok');
  }
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  attach('log-slow-requests', ['http', 'request', 'stop'], (_event, measurements, metadata) => {
    if ((measurements.duration as number) > 500) console.warn('slow', metadata.route);
  });
  defineMetric({ name: 'http.request.stop.duration_seconds', kind: 'histogram', event: ['http', 'request', 'stop'], measurement: 'duration', scale: 0.001, tags: ['route'] });
  defineMetric({ name: 'http.request.count', kind: 'counter', event: ['http', 'request', 'stop'], tags: ['route'] });

  expect(handleRequest('/users')).toBe('ok');
  execute(['cache', 'hit'], { count: 1 }, { cache: 'sessions' });

  const text = renderPrometheus();
  expect(text).toContain('# HELP http_request_count_total Count of event http.request.stop\n# TYPE http_request_count_total counter\nhttp_request_count_total{route="/users"} 1\n');
  expect(text).toContain('http_request_stop_duration_seconds_count{route="/users"} 1\n');
  createOpenTelemetryBridge({ telemetry: defaultTelemetry() }).close();
  expect(warn).not.toHaveBeenCalled();
  warn.mockRestore();
});
