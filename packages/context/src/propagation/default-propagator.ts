// The process-wide propagator behind the free `inject` and `extract` functions. Code that runs
// several nodes in one process (simulations, tests) creates one propagator per node instead.
import type { TextMapGetter, TextMapSetter } from '@opentelemetry/api';
import type { Context } from '../context';
import type { HeaderMap } from './carrier';
import { createPropagator } from './propagator';
import type { ExtractOptions, InjectOptions, Propagator, PropagatorOptions } from './propagator';

let installed: Propagator | undefined;

/** The propagator used by `inject` and `extract`; created with defaults on first use. */
export function defaultPropagator(): Propagator {
  installed ??= createPropagator();
  return installed;
}

/**
 * Replaces the process-wide propagator (node id, clock, flight recorder, drop listener) and
 * returns it. Its counters start at zero.
 */
export function configurePropagation(options: PropagatorOptions = {}): Propagator {
  installed = createPropagator(options);
  return installed;
}

/** Writes `context` into `carrier` with the process-wide propagator (see `Propagator.inject`). */
export function inject<C = HeaderMap>(context: Context, carrier: C, setter?: TextMapSetter<C>, options?: InjectOptions): void {
  defaultPropagator().inject(context, carrier, setter, options);
}

/** Reads a context from `carrier` with the process-wide propagator; never throws. */
export function extract<C = HeaderMap>(carrier: C, getter?: TextMapGetter<C>, options?: ExtractOptions): Context {
  return defaultPropagator().extract(carrier, getter, options);
}
