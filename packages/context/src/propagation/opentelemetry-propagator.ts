// Foundation's propagator as an OpenTelemetry TextMapPropagator, for applications whose HTTP or
// messaging instrumentation propagates through `propagation.inject/extract`: register it with
// `propagation.setGlobalPropagator(...)` and those carriers hold Foundation's fields too.
import { trace } from '@opentelemetry/api';
import type { Context as OpenTelemetryContext, TextMapGetter, TextMapPropagator, TextMapSetter } from '@opentelemetry/api';
import { FOUNDATION_CONTEXT_KEY } from '../active-context';
import { EMPTY_CONTEXT } from '../context';
import { writableSpanContext } from '../core/trace-context';
import type { Context } from '../context';
import { defaultPropagator } from './default-propagator';
import type { Propagator } from './propagator';

/**
 * A TextMapPropagator that writes and reads W3C trace context, baggage and Foundation's fields.
 * `inject` takes the Foundation context riding on the given OpenTelemetry context and the span
 * active in it; `extract` returns the OpenTelemetry context with the extracted Foundation context
 * on it and the remote span as parent. OpenTelemetry's own Baggage API is not filled: Foundation
 * baggage is read with `currentContext().baggage`.
 */
export function createOpenTelemetryPropagator(propagator?: Propagator): TextMapPropagator {
  const resolve = (): Propagator => propagator ?? defaultPropagator();
  return {
    inject(otelContext: OpenTelemetryContext, carrier: unknown, setter: TextMapSetter): void {
      let foundation = (otelContext.getValue(FOUNDATION_CONTEXT_KEY) as Context | undefined) ?? EMPTY_CONTEXT;
      const spanContext = trace.getSpanContext(otelContext);
      if (spanContext !== undefined && trace.isSpanContextValid(spanContext) && spanContext !== foundation.trace) {
        // Lowercased if OpenTelemetry's ids are uppercase hex; left out if they cannot be written.
        const writable = writableSpanContext(spanContext);
        if (writable !== undefined) foundation = foundation.withTrace(writable);
      }
      resolve().inject(foundation, carrier, setter);
    },
    extract(otelContext: OpenTelemetryContext, carrier: unknown, getter: TextMapGetter): OpenTelemetryContext {
      const foundation = resolve().extract(carrier, getter);
      const next = otelContext.setValue(FOUNDATION_CONTEXT_KEY, foundation);
      return foundation.trace === undefined ? next : trace.setSpanContext(next, foundation.trace);
    },
    fields: () => resolve().fields(),
  };
}
