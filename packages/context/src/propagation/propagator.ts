// inject/extract: the context as a few string fields in any carrier (channel envelope headers,
// HTTP headers), in OpenTelemetry's TextMapPropagator shape.
//
// Hops: the receiving side counts. `inject` writes the context's hop count as it is; `extract`
// reads n and returns a context with n + 1 (0 when the carrier has no hop count: the request
// enters the cluster here). So inject → extract shows +1, and a context that is injected into
// several carriers (a fan-out, a retry) does not change on the sender.
//
// Deadlines travel as the time remaining (integer milliseconds, rounded down), so the clocks of
// sender and receiver need not agree; the receiver's deadline is late by the transit time.
//
// The receive path never throws: a field that is missing is absent; one that is malformed,
// oversized or unreadable is dropped, counted, and reported to `onDrop`.
import { createSystemClock, uuidV4 } from '@foundation/core';
import type { Clock, Random } from '@foundation/core';
import type { SpanContext, TextMapGetter, TextMapSetter } from '@opentelemetry/api';
import { hostname } from 'node:os';
import { Context, EMPTY_CONTEXT } from '../context';
import { MAX_BAGGAGE_BYTES, formatBaggage, parseBaggage } from '../core/baggage';
import type { Baggage } from '../core/baggage';
import { MAX_COUNTER_VALUE, MAX_IDENTIFIER_LENGTH, isIdentifier, parseCounter } from '../core/fields';
import { MAX_TRACEPARENT_LENGTH, MAX_TRACESTATE_LENGTH, formatTraceParent, parseTraceParent, parseTraceState } from '../core/trace-context';
import { W3CTraceState } from '../core/trace-state';
import { ContextOptionsError } from '../errors/context-options-error';
import type { FlightRecorder, HopRecord } from '../flight-recorder';
import { headerMapGetter, headerMapSetter } from './carrier';
import type { HeaderMap } from './carrier';
import { HEADER_NAMES, PROPAGATED_FIELDS } from './headers';
import type { DropReason, PropagatedField } from './headers';

export interface PropagatorOptions {
  /** This node's id, written as origin and recorded in hops. Default: the host name. */
  readonly nodeId?: string;
  /** This process's id on the node, recorded in hops. Default: the pid. */
  readonly processId?: string;
  /** Monotonic time for deadlines, wall time for hop records. Default: the system clock. */
  readonly clock?: Clock;
  /** Source of generated correlation ids (a seeded Random makes them reproducible). Default: the CSPRNG. */
  readonly random?: Random;
  /** Where hops are recorded; none by default. */
  readonly recorder?: FlightRecorder;
  /** Whether `extract` assigns a fresh correlation id (UUID v4) when the carrier has none. Default true. */
  readonly assignCorrelationId?: boolean;
  /**
   * Called for every dropped field on the receive path (for a metric or a log). Must not throw;
   * if it does, the error is swallowed so the receive path still does not throw.
   */
  readonly onDrop?: (field: PropagatedField, reason: DropReason) => void;
}

export interface InjectOptions {
  /** The node the carrier goes to, for the flight recorder. */
  readonly peer?: string;
}

export interface ExtractOptions {
  /** The node the carrier came from, for the flight recorder. */
  readonly peer?: string;
}

export interface PropagationStats {
  readonly injected: number;
  readonly extracted: number;
  /** Fields dropped on the receive path, by field. */
  readonly dropped: Readonly<Record<PropagatedField, number>>;
  /** Fields dropped on the receive path, by reason. */
  readonly droppedBy: Readonly<Record<DropReason, number>>;
  /** Baggage entries left out on the send path because the header would exceed 8192 bytes or 180 members. */
  readonly baggageEntriesTruncated: number;
}

export interface Propagator {
  readonly nodeId: string;
  readonly processId: string;
  /** Writes `context` into `carrier` (a plain header map unless `setter` says otherwise). */
  inject<C = HeaderMap>(context: Context, carrier: C, setter?: TextMapSetter<C>, options?: InjectOptions): void;
  /** Reads a context from `carrier`; never throws. */
  extract<C = HeaderMap>(carrier: C, getter?: TextMapGetter<C>, options?: ExtractOptions): Context;
  /** The carrier keys this propagator reads and writes. */
  fields(): string[];
  stats(): PropagationStats;
  resetStats(): void;
}

/** Longest value read per field before parsing (characters). */
const MAX_LENGTH: Record<PropagatedField, number> = {
  traceparent: MAX_TRACEPARENT_LENGTH,
  tracestate: MAX_TRACESTATE_LENGTH,
  baggage: MAX_BAGGAGE_BYTES,
  correlationId: MAX_IDENTIFIER_LENGTH,
  requestId: MAX_IDENTIFIER_LENGTH,
  originNode: MAX_IDENTIFIER_LENGTH,
  hops: 10,
  deadline: 10,
};

/** Fields whose repeated values form one list (RFC 9110 §5.3); the others must appear once. */
const LIST_FIELDS: ReadonlySet<PropagatedField> = new Set(['tracestate', 'baggage']);
const MAX_REPEATED_VALUES = 64;
const EMPTY_VALUES: ReadonlyMap<string | symbol, unknown> = new Map();

function zeroCounts<K extends string>(keys: readonly K[]): Record<K, number> {
  const counts = {} as Record<K, number>;
  for (const key of keys) counts[key] = 0;
  return counts;
}

function defaultNodeId(): string {
  const host = hostname();
  return isIdentifier(host) ? host : 'localhost';
}

function checkIdentifier(option: string, value: string): string {
  if (!isIdentifier(value)) throw new ContextOptionsError(option, `must be 1–${MAX_IDENTIFIER_LENGTH} visible ASCII characters (got ${JSON.stringify(value)})`);
  return value;
}

/** A propagator for one node. Nodes simulated in one process each get their own. */
export function createPropagator(options: PropagatorOptions = {}): Propagator {
  const nodeId = checkIdentifier('nodeId', options.nodeId ?? defaultNodeId());
  const processId = checkIdentifier('processId', options.processId ?? String(process.pid));
  const clock = options.clock ?? createSystemClock({ keepAlive: false });
  const { random, recorder, onDrop } = options;
  const assignCorrelationId = options.assignCorrelationId ?? true;

  let injected = 0;
  let extracted = 0;
  let truncated = 0;
  let dropped = zeroCounts(PROPAGATED_FIELDS);
  let droppedBy = zeroCounts<DropReason>(['malformed', 'oversized', 'unreadable']);

  const drop = (field: PropagatedField, reason: DropReason): undefined => {
    dropped[field] += 1;
    droppedBy[reason] += 1;
    if (onDrop !== undefined) {
      try {
        onDrop(field, reason);
      } catch {
        // The receive path never throws, whatever a listener does.
      }
    }
    return undefined;
  };

  /** The field's value as one string, or undefined when absent or dropped. */
  const read = <C>(carrier: C, getter: TextMapGetter<C>, field: PropagatedField): string | undefined => {
    let raw: unknown;
    try {
      raw = getter.get(carrier, HEADER_NAMES[field]);
    } catch {
      return drop(field, 'unreadable');
    }
    if (raw === undefined || raw === null) return undefined;
    const limit = MAX_LENGTH[field];
    if (typeof raw === 'string') return raw.length > limit ? drop(field, 'oversized') : raw;
    if (!Array.isArray(raw)) return drop(field, 'unreadable');
    if (raw.length === 0) return undefined;
    if (raw.length > MAX_REPEATED_VALUES) return drop(field, 'oversized');
    if (!LIST_FIELDS.has(field) && raw.length > 1) return drop(field, 'malformed');
    let total = raw.length - 1;
    for (const part of raw as unknown[]) {
      if (typeof part !== 'string') return drop(field, 'unreadable');
      total += part.length;
    }
    return total > limit ? drop(field, 'oversized') : (raw as string[]).join(',');
  };

  const identifier = <C>(carrier: C, getter: TextMapGetter<C>, field: PropagatedField): string | undefined => {
    const text = read(carrier, getter, field);
    if (text === undefined) return undefined;
    return isIdentifier(text) ? text : drop(field, 'malformed');
  };

  const counter = <C>(carrier: C, getter: TextMapGetter<C>, field: PropagatedField): number | undefined => {
    const text = read(carrier, getter, field);
    if (text === undefined) return undefined;
    const value = parseCounter(text, MAX_COUNTER_VALUE);
    return value === undefined ? drop(field, 'malformed') : value;
  };

  const readTrace = <C>(carrier: C, getter: TextMapGetter<C>): SpanContext | undefined => {
    const text = read(carrier, getter, 'traceparent');
    if (text === undefined) return undefined;
    const parsed = parseTraceParent(text);
    // §3.3: without a valid traceparent, tracestate is not used either.
    if (!parsed.ok) return drop('traceparent', parsed.reason);
    const { traceId, spanId, traceFlags } = parsed.value;
    const state = read(carrier, getter, 'tracestate');
    if (state !== undefined) {
      const checked = parseTraceState(state);
      if (!checked.ok) drop('tracestate', checked.reason);
      else if (checked.value !== '') return { traceId, spanId, traceFlags, isRemote: true, traceState: new W3CTraceState(checked.value) };
    }
    return { traceId, spanId, traceFlags, isRemote: true };
  };

  const readBaggage = <C>(carrier: C, getter: TextMapGetter<C>): Baggage => {
    const text = read(carrier, getter, 'baggage');
    if (text === undefined) return EMPTY_CONTEXT.baggage;
    const parsed = parseBaggage(text);
    if (!parsed.ok) {
      drop('baggage', parsed.reason);
      return EMPTY_CONTEXT.baggage;
    }
    return parsed.value;
  };

  const record = (context: Context, direction: 'in' | 'out', peer: string | undefined): void => {
    if (recorder === undefined || context.correlationId === undefined) return;
    const hop: { -readonly [K in keyof HopRecord]: HopRecord[K] } = {
      correlationId: context.correlationId,
      node: nodeId,
      process: processId,
      direction,
      hops: context.hops,
      time: clock.now(),
    };
    if (context.requestId !== undefined) hop.requestId = context.requestId;
    if (context.originNode !== undefined) hop.originNode = context.originNode;
    if (peer !== undefined && isIdentifier(peer)) hop.peer = peer;
    if (context.trace !== undefined) {
      hop.traceId = context.trace.traceId;
      hop.spanId = context.trace.spanId;
    }
    recorder.record(hop);
  };

  return {
    nodeId,
    processId,
    inject<C = HeaderMap>(context: Context, carrier: C, setter: TextMapSetter<C> = headerMapSetter as TextMapSetter<C>, injectOptions?: InjectOptions): void {
      const trace = context.trace;
      // Every way a trace reaches a Context (withTrace, extract, the active span) validated it.
      if (trace !== undefined && trace.traceId.length === 32 && trace.spanId.length === 16) {
        setter.set(carrier, HEADER_NAMES.traceparent, formatTraceParent(trace.traceId, trace.spanId, trace.traceFlags));
        const state = trace.traceState?.serialize();
        if (state !== undefined && state !== '') setter.set(carrier, HEADER_NAMES.tracestate, state);
      }
      if (context.baggage.size > 0) {
        const formatted = formatBaggage(context.baggage);
        truncated += formatted.dropped;
        if (formatted.header !== '') setter.set(carrier, HEADER_NAMES.baggage, formatted.header);
      }
      if (context.correlationId !== undefined) setter.set(carrier, HEADER_NAMES.correlationId, context.correlationId);
      if (context.requestId !== undefined) setter.set(carrier, HEADER_NAMES.requestId, context.requestId);
      setter.set(carrier, HEADER_NAMES.originNode, context.originNode ?? nodeId);
      setter.set(carrier, HEADER_NAMES.hops, String(context.hops));
      if (context.deadline !== undefined) {
        const remaining = Math.min(MAX_COUNTER_VALUE, Math.max(0, Math.floor(context.deadline - clock.monotonic())));
        setter.set(carrier, HEADER_NAMES.deadline, String(remaining));
      }
      injected += 1;
      record(context, 'out', injectOptions?.peer);
    },

    extract<C = HeaderMap>(carrier: C, getter: TextMapGetter<C> = headerMapGetter as TextMapGetter<C>, extractOptions?: ExtractOptions): Context {
      extracted += 1;
      const hops = counter(carrier, getter, 'hops');
      const remaining = counter(carrier, getter, 'deadline');
      let correlationId = identifier(carrier, getter, 'correlationId');
      if (correlationId === undefined && assignCorrelationId) correlationId = uuidV4(random);
      const context = new Context({
        values: EMPTY_VALUES,
        correlationId,
        requestId: identifier(carrier, getter, 'requestId'),
        originNode: identifier(carrier, getter, 'originNode') ?? nodeId,
        hops: hops === undefined ? 0 : Math.min(hops + 1, MAX_COUNTER_VALUE),
        deadline: remaining === undefined ? undefined : clock.monotonic() + remaining,
        trace: readTrace(carrier, getter),
        baggage: readBaggage(carrier, getter),
      });
      try {
        record(context, 'in', extractOptions?.peer);
      } catch {
        // A recorder that fails must not fail the receive path.
      }
      return context;
    },

    fields: () => Object.values(HEADER_NAMES),

    stats: () => ({
      injected,
      extracted,
      dropped: { ...dropped },
      droppedBy: { ...droppedBy },
      baggageEntriesTruncated: truncated,
    }),

    resetStats() {
      injected = 0;
      extracted = 0;
      truncated = 0;
      dropped = zeroCounts(PROPAGATED_FIELDS);
      droppedBy = zeroCounts<DropReason>(['malformed', 'oversized', 'unreadable']);
    },
  };
}
