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
import type { SpanContext, TextMapGetter, TextMapSetter, TraceState } from '@opentelemetry/api';
import { hostname } from 'node:os';
import { isObjectArgument } from '../arguments';
import { Context, EMPTY_CONTEXT, isContext } from '../context';
import { MAX_BAGGAGE_BYTES, checkBaggage, formatBaggage } from '../core/baggage';
import type { Baggage } from '../core/baggage';
import { MAX_COUNTER_VALUE, MAX_IDENTIFIER_LENGTH, isIdentifier, parseCounter } from '../core/fields';
import { MAX_TRACEPARENT_LENGTH, MAX_TRACESTATE_LENGTH, formatTraceParent, parseTraceParent, parseTraceState } from '../core/trace-context';
import { W3CTraceState, traceStateWithinLimits } from '../core/trace-state';
import { ContextOptionsError } from '../errors/context-options-error';
import { describeValue } from '../errors/describe-value';
import { InvalidContextValueError } from '../errors/invalid-context-value-error';
import { columnWriterOf } from '../flight-recorder';
import type { FlightRecorder, HopRecord, RecordHop } from '../flight-recorder';
import { fetchHeadersGetter, fetchHeadersSetter, headerMapGetter, headerMapSetter, isFetchHeaders } from './carrier';
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
  /** Extracts that fell back to an empty context because the injected clock or random threw. */
  readonly extractFailures: number;
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

/** Longest hop count or remaining time read (digits of 2^31 − 1). */
const MAX_COUNTER_DIGITS = 10;

/** Fields whose repeated values form one list (RFC 9110 §5.3); the others must appear once. */
const LIST_FIELDS: ReadonlySet<PropagatedField> = new Set(['tracestate', 'baggage']);
const MAX_REPEATED_VALUES = 64;
const EMPTY_STATE = {
  values: undefined,
  correlationId: undefined,
  requestId: undefined,
  originNode: undefined,
  hops: 0,
  deadline: undefined,
  trace: undefined,
  baggage: EMPTY_CONTEXT.baggage,
} as const;

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
  if (!isIdentifier(value)) throw new ContextOptionsError(option, `must be 1–${MAX_IDENTIFIER_LENGTH} visible ASCII characters (got ${describeValue(value, 300)})`);
  return value;
}

/** What a carrier holds for each field, before any checking. */
type RawHeaders = Record<PropagatedField, unknown>;

/** Stands for a field whose getter threw. */
const UNREADABLE: unique symbol = Symbol('unreadable');

function readWithGetter<C>(carrier: C, getter: TextMapGetter<C>): RawHeaders {
  const read = (name: string): unknown => {
    try {
      return getter.get(carrier, name);
    } catch {
      return UNREADABLE;
    }
  };
  return {
    traceparent: read(HEADER_NAMES.traceparent),
    tracestate: read(HEADER_NAMES.tracestate),
    baggage: read(HEADER_NAMES.baggage),
    correlationId: read(HEADER_NAMES.correlationId),
    requestId: read(HEADER_NAMES.requestId),
    originNode: read(HEADER_NAMES.originNode),
    hops: read(HEADER_NAMES.hops),
    deadline: read(HEADER_NAMES.deadline),
  };
}

/**
 * The default getter's reads, done as named property loads (several times faster than a getter
 * call with a computed key per field). For a plain object (prototype Object.prototype or null)
 * a value found this way is its own, unless Object.prototype itself was polluted; any other
 * object goes through the own-property getter.
 */
function readHeaderMap(carrier: HeaderMap): RawHeaders {
  if (typeof carrier !== 'object' || carrier === null) return readWithGetter(carrier, headerMapGetter);
  const prototype: unknown = Object.getPrototypeOf(carrier);
  if (prototype !== Object.prototype && prototype !== null) {
    return isFetchHeaders(carrier) ? readWithGetter(carrier, fetchHeadersGetter) : readWithGetter(carrier, headerMapGetter);
  }
  try {
    return readNamed(carrier);
  } catch {
    return readWithGetter(carrier, headerMapGetter); // an accessor threw: read field by field
  }
}

function readNamed(carrier: HeaderMap): RawHeaders {
  return {
    traceparent: carrier.traceparent,
    tracestate: carrier.tracestate,
    baggage: carrier.baggage,
    correlationId: carrier['foundation-correlation-id'],
    requestId: carrier['foundation-request-id'],
    originNode: carrier['foundation-origin-node'],
    hops: carrier['foundation-hops'],
    deadline: carrier['foundation-deadline-ms'],
  };
}

/** The header values inject writes; undefined ones are not written. */
type OutgoingHeaders = Record<PropagatedField, string | undefined>;

function writeWithSetter<C>(carrier: C, setter: TextMapSetter<C>, values: OutgoingHeaders): void {
  for (const field of PROPAGATED_FIELDS) {
    const value = values[field];
    if (value !== undefined) setter.set(carrier, HEADER_NAMES[field], value);
  }
}

/**
 * The `tracestate` to send for a trace state, or undefined when there is nothing valid to send.
 * One built here (from a received header, or through its checked `set`) is valid as it is. Any
 * other comes from OpenTelemetry, whose `createTraceState(...).set` takes any key and value: its
 * text is checked as a received header would be (§3.3), so a value holding a line break or
 * another character outside the grammar cannot reach the carrier. Valid members too many or too
 * long for a receiver are cut as this package's own `set` cuts them, not left out whole.
 */
function writableTraceState(traceState: TraceState): string | undefined {
  const serialized = traceState.serialize();
  if (traceState instanceof W3CTraceState) return serialized === '' ? undefined : serialized;
  if (typeof serialized !== 'string') return undefined;
  const checked = parseTraceState(serialized);
  if (checked.ok) return checked.value !== '' ? checked.value : undefined;
  if (checked.reason !== 'oversized') return undefined;
  const cut = traceStateWithinLimits(serialized)?.serialize();
  return cut === '' ? undefined : cut;
}

/** A propagator for one node. Nodes simulated in one process each get their own. */
export function createPropagator(options: PropagatorOptions = {}): Propagator {
  if (!isObjectArgument(options)) throw new ContextOptionsError('options', `must be an object (got ${describeValue(options)})`);
  const nodeId = checkIdentifier('nodeId', options.nodeId ?? defaultNodeId());
  const processId = checkIdentifier('processId', options.processId ?? String(process.pid));
  const clock = options.clock ?? createSystemClock({ keepAlive: false });
  const { random, recorder, onDrop } = options;
  const assignCorrelationId = options.assignCorrelationId ?? true;

  let injected = 0;
  let extracted = 0;
  let failures = 0;
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

  /**
   * A field's raw value as one string of at most `limit` characters, or undefined when absent or
   * dropped. (The limit comes from each call site: looking it up by field name here would be a
   * keyed load with a different key every call.)
   */
  const text = (field: PropagatedField, raw: unknown, limit: number): string | undefined => {
    if (raw === undefined || raw === null) return undefined;
    if (typeof raw === 'string') return raw.length > limit ? drop(field, 'oversized') : raw;
    if (raw === UNREADABLE || !Array.isArray(raw)) return drop(field, 'unreadable');
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

  const identifier = (field: PropagatedField, raw: unknown): string | undefined => {
    const value = text(field, raw, MAX_IDENTIFIER_LENGTH);
    if (value === undefined) return undefined;
    return isIdentifier(value) ? value : drop(field, 'malformed');
  };

  const counter = (field: PropagatedField, raw: unknown): number | undefined => {
    const value = text(field, raw, MAX_COUNTER_DIGITS);
    if (value === undefined) return undefined;
    const parsed = parseCounter(value, MAX_COUNTER_VALUE);
    return parsed === undefined ? drop(field, 'malformed') : parsed;
  };

  const readTrace = (raw: RawHeaders): SpanContext | undefined => {
    const value = text('traceparent', raw.traceparent, MAX_TRACEPARENT_LENGTH);
    if (value === undefined) return undefined;
    const parsed = parseTraceParent(value);
    // §3.3: without a valid traceparent, tracestate is not used either.
    if (!parsed.ok) return drop('traceparent', parsed.reason);
    const { traceId, spanId, traceFlags } = parsed.value;
    const state = text('tracestate', raw.tracestate, MAX_TRACESTATE_LENGTH);
    if (state !== undefined) {
      const checked = parseTraceState(state);
      if (!checked.ok) drop('tracestate', checked.reason);
      else if (checked.value !== '') return { traceId, spanId, traceFlags, isRemote: true, traceState: new W3CTraceState(checked.value) };
    }
    return { traceId, spanId, traceFlags, isRemote: true };
  };

  const readBaggage = (raw: unknown): Baggage => {
    const value = text('baggage', raw, MAX_BAGGAGE_BYTES);
    if (value === undefined) return EMPTY_CONTEXT.baggage;
    const parsed = checkBaggage(value);
    if (!parsed.ok) {
      drop('baggage', parsed.reason);
      return EMPTY_CONTEXT.baggage;
    }
    return parsed.value;
  };

  const recordHop: RecordHop | undefined = recorder === undefined ? undefined : columnWriterOf(recorder);
  const record = (context: Context, direction: 'in' | 'out', peer: string | undefined): void => {
    if (recorder === undefined || context.correlationId === undefined) return;
    const trace = context.trace;
    const checkedPeer = peer !== undefined && isIdentifier(peer) ? peer : undefined;
    if (recordHop !== undefined) {
      recordHop(context.correlationId, context.requestId, nodeId, processId, direction, context.hops, context.originNode, checkedPeer, trace?.traceId, trace?.spanId, clock.now());
      return;
    }
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
    if (checkedPeer !== undefined) hop.peer = checkedPeer;
    if (trace !== undefined) {
      hop.traceId = trace.traceId;
      hop.spanId = trace.spanId;
    }
    recorder.record(hop);
  };

  const parse = <C>(carrier: C, getter: TextMapGetter<C>): Context => {
    const raw = getter === headerMapGetter ? readHeaderMap(carrier as HeaderMap) : readWithGetter(carrier, getter);
    const hops = counter('hops', raw.hops);
    const remaining = counter('deadline', raw.deadline);
    let correlationId = identifier('correlationId', raw.correlationId);
    if (correlationId === undefined && assignCorrelationId) correlationId = uuidV4(random);
    return new Context({
      values: undefined,
      correlationId,
      requestId: identifier('requestId', raw.requestId),
      originNode: identifier('originNode', raw.originNode) ?? nodeId,
      hops: hops === undefined ? 0 : Math.min(hops + 1, MAX_COUNTER_VALUE),
      deadline: remaining === undefined ? undefined : clock.monotonic() + remaining,
      trace: readTrace(raw),
      baggage: readBaggage(raw.baggage),
    });
  };

  return {
    nodeId,
    processId,
    inject<C = HeaderMap>(context: Context, carrier: C, setter: TextMapSetter<C> = headerMapSetter as TextMapSetter<C>, injectOptions?: InjectOptions): void {
      if (!isContext(context)) throw new InvalidContextValueError('context', 'must be a Context', context);
      const trace = context.trace;
      let traceparent: string | undefined;
      let tracestate: string | undefined;
      // Every way a trace reaches a Context (withTrace, extract, the active span) validated it.
      if (trace !== undefined && trace.traceId.length === 32 && trace.spanId.length === 16) {
        traceparent = formatTraceParent(trace.traceId, trace.spanId, trace.traceFlags);
        if (trace.traceState !== undefined) tracestate = writableTraceState(trace.traceState);
      }
      const formatted = formatBaggage(context.baggage);
      truncated += formatted.dropped;
      const baggage = formatted.header === '' ? undefined : formatted.header;
      const deadline =
        context.deadline === undefined ? undefined : String(Math.min(MAX_COUNTER_VALUE, Math.max(0, Math.floor(context.deadline - clock.monotonic()))));
      const correlationId = context.correlationId;
      const requestId = context.requestId;
      const originNode = context.originNode ?? nodeId;
      const hops = String(context.hops);
      if (setter === headerMapSetter && typeof carrier === 'object' && carrier !== null && !isFetchHeaders(carrier)) {
        // Named stores in a fixed order: carriers share one hidden class, and no setter call
        // with a computed key per field.
        const headers = carrier as HeaderMap;
        if (traceparent !== undefined) headers.traceparent = traceparent;
        if (tracestate !== undefined) headers.tracestate = tracestate;
        if (baggage !== undefined) headers.baggage = baggage;
        if (correlationId !== undefined) headers['foundation-correlation-id'] = correlationId;
        if (requestId !== undefined) headers['foundation-request-id'] = requestId;
        headers['foundation-origin-node'] = originNode;
        headers['foundation-hops'] = hops;
        if (deadline !== undefined) headers['foundation-deadline-ms'] = deadline;
      } else {
        const values = { traceparent, tracestate, baggage, correlationId, requestId, originNode, hops, deadline };
        if (setter === headerMapSetter && isFetchHeaders(carrier)) writeWithSetter(carrier, fetchHeadersSetter, values);
        else writeWithSetter(carrier, setter, values);
      }
      injected += 1;
      record(context, 'out', injectOptions?.peer);
    },

    extract<C = HeaderMap>(carrier: C, getter: TextMapGetter<C> = headerMapGetter as TextMapGetter<C>, extractOptions?: ExtractOptions): Context {
      extracted += 1;
      let context: Context;
      try {
        context = parse(carrier, getter);
      } catch {
        // Only the injected clock or random can get here (every field is checked, every read
        // guarded); the receive path still does not throw.
        failures += 1;
        context = new Context({ ...EMPTY_STATE, originNode: nodeId });
      }
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
      extractFailures: failures,
      dropped: { ...dropped },
      droppedBy: { ...droppedBy },
      baggageEntriesTruncated: truncated,
    }),

    resetStats() {
      injected = 0;
      extracted = 0;
      failures = 0;
      truncated = 0;
      dropped = zeroCounts(PROPAGATED_FIELDS);
      droppedBy = zeroCounts<DropReason>(['malformed', 'oversized', 'unreadable']);
    },
  };
}
