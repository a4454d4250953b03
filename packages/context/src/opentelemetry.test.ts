import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ROOT_CONTEXT, context as otelContext, propagation, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { FOUNDATION_CONTEXT_KEY, bindContext, currentContext, getValue, withContext } from './active-context';
import { EMPTY_CONTEXT, createContext } from './context';
import type { Context } from './context';
import type { HeaderMap } from './propagation/carrier';
import { createOpenTelemetryPropagator } from './propagation/opentelemetry-propagator';
import { createPropagator } from './propagation/propagator';

// An application that registered the OpenTelemetry SDK: a context manager over
// AsyncLocalStorage, a tracer provider exporting to memory.
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const manager = new AsyncLocalStorageContextManager();
const tracer = () => trace.getTracer('context-test');

beforeAll(() => {
  manager.enable();
  expect(otelContext.setGlobalContextManager(manager)).toBe(true);
  expect(trace.setGlobalTracerProvider(provider)).toBe(true);
});

afterEach(() => exporter.reset());

afterAll(async () => {
  trace.disable();
  otelContext.disable();
  propagation.disable();
  await provider.shutdown();
});

function finished(name: string) {
  const span = exporter.getFinishedSpans().find((candidate) => candidate.name === name);
  if (span === undefined) throw new Error(`no finished span named ${name}`);
  return span;
}

describe('with the OpenTelemetry SDK registered', () => {
  it('makes a span created inside withContext on one node the parent of a span created after extract on the other', async () => {
    const nodeA = createPropagator({ nodeId: 'node-a' });
    const nodeB = createPropagator({ nodeId: 'node-b' });
    const carrier: HeaderMap = {};

    await withContext({ correlationId: 'checkout-17' }, () =>
      tracer().startActiveSpan('send-order', async (span) => {
        await Promise.resolve();
        expect(getValue('correlationId')).toBe('checkout-17'); // Foundation values inside the span
        nodeA.inject(currentContext(), carrier);
        span.end();
      }),
    );

    // The other side: nothing but the carrier.
    const received = nodeB.extract(carrier);
    expect(received.hops).toBe(1);
    await withContext(received, async () => {
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
      expect(getValue('correlationId')).toBe('checkout-17');
      tracer().startSpan('handle-order').end();
    });

    const parent = finished('send-order');
    const child = finished('handle-order');
    expect(child.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(child.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(child.parentSpanContext?.isRemote).toBe(true);
  });

  it('carries Foundation values on the active OpenTelemetry context, so spans and values flow together', async () => {
    await tracer().startActiveSpan('outer', async (outer) => {
      await withContext({ tenant: 'acme' }, async () => {
        // The span stays active inside withContext...
        expect(trace.getActiveSpan()).toBe(outer);
        // ...the Foundation context is a value of the active OpenTelemetry context...
        expect((otelContext.active().getValue(FOUNDATION_CONTEXT_KEY) as Context).getValue('tenant')).toBe('acme');
        // ...currentContext() knows the trace position...
        expect(currentContext().trace?.spanId).toBe(outer.spanContext().spanId);
        await tracer().startActiveSpan('inner', async (inner) => {
          await Promise.resolve();
          expect(getValue('tenant')).toBe('acme');
          expect(currentContext().trace?.spanId).toBe(inner.spanContext().spanId);
          inner.end();
        });
      });
      outer.end();
    });
    expect(finished('inner').parentSpanContext?.spanId).toBe(finished('outer').spanContext().spanId);
  });

  it('restores Foundation values wherever instrumentation restores an OpenTelemetry context', async () => {
    let saved = ROOT_CONTEXT;
    withContext({ correlationId: 'pooled' }, () => {
      saved = otelContext.active();
    });
    expect(getValue('correlationId')).toBeUndefined();
    // What a connection-pool instrumentation does with a captured context:
    expect(otelContext.with(saved, () => getValue('correlationId'))).toBe('pooled');
    const bound = withContext({ correlationId: 'bound' }, () => bindContext(() => getValue('correlationId')));
    expect(await new Promise((resolve) => setImmediate(() => resolve(bound())))).toBe('bound');
  });

  it('propagates through propagation.inject/extract with the OpenTelemetry propagator adapter', () => {
    propagation.setGlobalPropagator(createOpenTelemetryPropagator(createPropagator({ nodeId: 'node-a' })));
    const carrier: HeaderMap = {};
    tracer().startActiveSpan('client', (span) => {
      withContext({ correlationId: 'via-otel', requestId: 'r1' }, () => propagation.inject(otelContext.active(), carrier));
      span.end();
    });
    expect(carrier['foundation-correlation-id']).toBe('via-otel');
    expect(carrier.traceparent).toContain(finished('client').spanContext().spanId);
    const extracted = propagation.extract(ROOT_CONTEXT, carrier);
    otelContext.with(extracted, () => {
      expect(getValue('correlationId')).toBe('via-otel');
      expect(currentContext().hops).toBe(1);
      tracer().startSpan('server').end();
    });
    expect(finished('server').parentSpanContext?.spanId).toBe(finished('client').spanContext().spanId);
    propagation.disable();
  });

  it('reads and injects a span context OpenTelemetry accepts with uppercase hex, and leaves out one traceparent cannot hold (review finding)', () => {
    // OpenTelemetry's isSpanContextValid accepts A-F; withTrace did not, so currentContext(),
    // withContext() and inject threw (an instrumented HTTP call failed).
    const upper = { traceId: '4BF92F3577B34DA6A3CE929D0E0E4736', spanId: '00F067AA0BA902B7', traceFlags: 1 };
    const wide = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 256 };
    propagation.setGlobalPropagator(createOpenTelemetryPropagator(createPropagator({ nodeId: 'node-a' })));
    const carrier: HeaderMap = {};
    otelContext.with(trace.setSpanContext(ROOT_CONTEXT, upper), () => {
      expect(currentContext().trace).toMatchObject({ traceId: upper.traceId.toLowerCase(), spanId: upper.spanId.toLowerCase(), traceFlags: 1 });
      withContext({ correlationId: 'upper' }, () => propagation.inject(otelContext.active(), carrier));
    });
    expect(carrier.traceparent).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    const wideCarrier: HeaderMap = {};
    otelContext.with(trace.setSpanContext(ROOT_CONTEXT, wide), () => {
      expect(currentContext().trace).toBeUndefined();
      propagation.inject(otelContext.active(), wideCarrier);
    });
    expect(wideCarrier.traceparent).toBeUndefined();
    propagation.disable();
  });

  it('runs a whole Context without a trace position outside the span active where withContext is called (review finding)', () => {
    // withContext kept the active span when the given Context had no trace: inside it,
    // currentContext().trace was that span, inject wrote its traceparent and new spans became its
    // children. A message that arrived without traceparent (or foundation's EMPTY_CONTEXT for one
    // without headers) was handled in the trace of whatever span was active where the socket read.
    const node = createPropagator({ nodeId: 'node-a' });
    const sent: HeaderMap[] = [];
    tracer().startActiveSpan('socket-read', (span) => {
      withContext({ correlationId: 'request-X' }, () => {
        withContext(EMPTY_CONTEXT, () => {
          expect(currentContext()).toBe(EMPTY_CONTEXT);
          expect(trace.getActiveSpan()).toBeUndefined();
          const headers: HeaderMap = {};
          node.inject(currentContext(), headers);
          sent.push(headers);
          tracer().startSpan('handle-plain').end();
        });
        const received = node.extract({ 'foundation-correlation-id': 'gossip-1' });
        withContext(received, () => {
          expect(currentContext().trace).toBeUndefined();
          expect(getValue('correlationId')).toBe('gossip-1');
          tracer().startSpan('handle-untraced').end();
        });
        // A Context that has a trace position keeps it, and one taken inside the span keeps the span.
        withContext(currentContext(), () => expect(currentContext().trace?.spanId).toBe(span.spanContext().spanId));
        // The README's way to keep the active span as the parent of an untraced message's work.
        withContext(received.withTrace(currentContext().trace), () => {
          expect(trace.getActiveSpan()).toBe(span);
          tracer().startSpan('handle-under-server-span').end();
        });
      });
      span.end();
    });
    expect(sent[0]!.traceparent).toBeUndefined();
    expect(finished('handle-plain').parentSpanContext).toBeUndefined();
    expect(finished('handle-untraced').parentSpanContext).toBeUndefined();
    expect(finished('handle-untraced').spanContext().traceId).not.toBe(finished('socket-read').spanContext().traceId);
    expect(finished('handle-under-server-span').parentSpanContext?.spanId).toBe(finished('socket-read').spanContext().spanId);
  });

  it('works alone again once the context manager is disabled', async () => {
    otelContext.disable();
    try {
      await withContext(createContext({ correlationId: 'alone' }), async () => {
        await new Promise<void>((resolve) => setTimeout(resolve, 1));
        expect(getValue('correlationId')).toBe('alone');
        expect(otelContext.active()).toBe(ROOT_CONTEXT);
      });
      expect(currentContext()).toBe(EMPTY_CONTEXT);
    } finally {
      manager.enable();
      otelContext.setGlobalContextManager(manager);
    }
    withContext({ correlationId: 'managed-again' }, () => {
      expect(otelContext.active().getValue(FOUNDATION_CONTEXT_KEY)).toBe(currentContext());
    });
  });
});
