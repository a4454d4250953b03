// The active context: which Context the running code sees, across `await`, timers and callbacks.
//
// Two stores, one at a time:
// - When an OpenTelemetry context manager is registered (`context.setGlobalContextManager`),
//   the Foundation context rides on the active OpenTelemetry context as one of its values, and
//   a trace position carried by a Foundation context (from `extract`) becomes the active span's
//   context, so spans started inside `withContext` and Foundation values flow together.
// - Otherwise a private AsyncLocalStorage holds it, at the cost of one `run`.
//
// Whether a manager is registered is decided per call, so registration and `context.disable()`
// take effect at any time: outside any OpenTelemetry scope the active context is ROOT_CONTEXT,
// and a registered manager is one that makes a probe context active inside `context.with`.
import { AsyncLocalStorage } from 'node:async_hooks';
import { ROOT_CONTEXT, createContextKey as createOpenTelemetryKey, context as openTelemetryContext, trace as openTelemetryTrace } from '@opentelemetry/api';
import type { Context as OpenTelemetryContext } from '@opentelemetry/api';
import { checkFunction } from './arguments';
import { EMPTY_CONTEXT, isContext } from './context';
import { writableSpanContext } from './core/trace-context';
import type { Context, ContextKey, ContextValues, WellKnownKey } from './context';

/** Where the Foundation context rides inside an OpenTelemetry context (Symbol.for, so shared by copies). */
export const FOUNDATION_CONTEXT_KEY: symbol = createOpenTelemetryKey('@foundation/context');

const storage = new AsyncLocalStorage<Context>();

// Where @opentelemetry/api 1.x keeps what was registered globally (its getGlobal reads the same
// key). While it holds no context manager, the API's context calls are no-ops and the probe
// below could only answer false, so it is skipped: the path without OpenTelemetry stays one
// AsyncLocalStorage run. When something is registered, the public probe decides.
const OPENTELEMETRY_GLOBALS = Symbol.for('opentelemetry.js.api.1');

function contextManagerRegistered(): boolean {
  return (globalThis as { [OPENTELEMETRY_GLOBALS]?: { context?: unknown } })[OPENTELEMETRY_GLOBALS]?.context !== undefined;
}
const PROBE = ROOT_CONTEXT.setValue(createOpenTelemetryKey('@foundation/context/probe'), true);
const probe = (): boolean => openTelemetryContext.active() === PROBE;
/** Contexts with the active span attached, per OpenTelemetry context (those are immutable). */
const withSpanCache = new WeakMap<OpenTelemetryContext, Context>();

function openTelemetryManaged(active: OpenTelemetryContext): boolean {
  return active !== ROOT_CONTEXT || openTelemetryContext.with(PROBE, probe);
}

/** The Foundation context stored in `active`, else the private store's, else the empty one. */
function storedIn(active: OpenTelemetryContext): Context {
  return (active.getValue(FOUNDATION_CONTEXT_KEY) as Context | undefined) ?? storage.getStore() ?? EMPTY_CONTEXT;
}

/** `stored` with the active OpenTelemetry span as its trace position. */
function attachActiveSpan(stored: Context, active: OpenTelemetryContext): Context {
  const activeSpan = openTelemetryTrace.getSpanContext(active);
  if (activeSpan === undefined || activeSpan === stored.trace || !openTelemetryTrace.isSpanContextValid(activeSpan)) return stored;
  // A span OpenTelemetry accepts but traceparent cannot carry as is (uppercase hex, flags over
  // a byte) is written lowercased, or left out: reading the context must not throw.
  const spanContext = writableSpanContext(activeSpan);
  if (spanContext === undefined) return stored;
  if (active.getValue(FOUNDATION_CONTEXT_KEY) !== stored) return stored.withTrace(spanContext);
  let cached = withSpanCache.get(active);
  if (cached === undefined) {
    cached = stored.withTrace(spanContext);
    withSpanCache.set(active, cached);
  }
  return cached;
}

/**
 * The context of the running code: the one given to the innermost enclosing `withContext`, or
 * the empty context. With OpenTelemetry active, its `trace` is the active span's context.
 */
export function currentContext(): Context {
  if (!contextManagerRegistered()) return storage.getStore() ?? EMPTY_CONTEXT;
  const active = openTelemetryContext.active();
  if (active === ROOT_CONTEXT) return storage.getStore() ?? EMPTY_CONTEXT;
  return attachActiveSpan(storedIn(active), active);
}

/** A value of the current context (see `Context.getValue`). */
export function getValue<T>(key: ContextKey<T>): T | undefined;
export function getValue<K extends WellKnownKey>(key: K): Context[K];
export function getValue(key: string | symbol): unknown;
export function getValue(key: string | symbol): unknown {
  if (!contextManagerRegistered()) return (storage.getStore() ?? EMPTY_CONTEXT).getValue(key);
  const active = openTelemetryContext.active();
  return (active === ROOT_CONTEXT ? (storage.getStore() ?? EMPTY_CONTEXT) : storedIn(active)).getValue(key);
}

/**
 * Runs `fn` with a context: `values` merged onto the current context, or a whole `Context`
 * (from `extract`, `createContext` or an earlier `currentContext()`) in place of it. The context
 * is visible to everything `fn` starts, however it continues (awaits, timers, emitters), and is
 * gone when `fn` returns. Returns what `fn` returns (its promise, for an async `fn`).
 */
export function withContext<T>(values: Context | ContextValues, fn: () => T): T {
  checkFunction(fn);
  const active = contextManagerRegistered() ? openTelemetryContext.active() : undefined;
  if (active !== undefined && openTelemetryManaged(active)) {
    const next = isContext(values) ? values : attachActiveSpan(storedIn(active), active).with(values);
    let nextActive = active.setValue(FOUNDATION_CONTEXT_KEY, next);
    const trace = next.trace;
    if (trace !== undefined) {
      if (trace !== openTelemetryTrace.getSpanContext(active)) nextActive = openTelemetryTrace.setSpanContext(nextActive, trace);
    } else if (isContext(values) && openTelemetryTrace.getSpan(active) !== undefined) {
      // A whole Context takes the place of the current one, trace position included: one without
      // any (a message that arrived without traceparent, EMPTY_CONTEXT) must not run in the span
      // active here, or its spans and the traceparent it sends would join an unrelated trace.
      nextActive = openTelemetryTrace.deleteSpan(nextActive);
    }
    return openTelemetryContext.with(nextActive, fn);
  }
  const next = isContext(values) ? values : (storage.getStore() ?? EMPTY_CONTEXT).with(values);
  return storage.run(next, fn);
}

/**
 * `fn` bound to the context current now: wherever it is called later (an emitter listener, a
 * pooled callback), it runs with this context, OpenTelemetry's included.
 */
export function bindContext<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  checkFunction(fn);
  const active = contextManagerRegistered() ? openTelemetryContext.active() : undefined;
  if (active !== undefined && openTelemetryManaged(active)) return openTelemetryContext.bind(active, fn);
  const captured = storage.getStore() ?? EMPTY_CONTEXT;
  return (...args: A): R => storage.run(captured, fn, ...args);
}
