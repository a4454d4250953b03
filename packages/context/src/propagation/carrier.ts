// Getters and setters for carriers, in OpenTelemetry's TextMapGetter/TextMapSetter shape, and
// the defaults for plain string maps (a channel envelope's headers, Node's IncomingHttpHeaders)
// and for fetch's Headers.
import type { TextMapGetter, TextMapSetter } from '@opentelemetry/api';

/** A plain map of header values, as channels and Node's HTTP module use. */
export type HeaderMap = Record<string, string | string[] | undefined>;

/** Reads own properties only, so nothing on a prototype can pose as a header. */
export const headerMapGetter: TextMapGetter<HeaderMap> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => (Object.hasOwn(carrier, key) ? carrier[key] : undefined),
};

/** Writes as an own, enumerable property (keys are Foundation's fixed header names). */
export const headerMapSetter: TextMapSetter<HeaderMap> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/**
 * Whether the carrier is a WHATWG `Headers` (fetch's), which keeps its entries behind `get` and
 * `set`: the defaults use those for it. Written as properties, the headers never went out, and
 * none was read back, with nothing said.
 */
export function isFetchHeaders(carrier: unknown): carrier is Headers {
  return typeof Headers === 'function' && carrier instanceof Headers;
}

export const fetchHeadersGetter: TextMapGetter<Headers> = {
  keys: (carrier) => [...carrier.keys()],
  get: (carrier, key) => carrier.get(key) ?? undefined,
};

export const fetchHeadersSetter: TextMapSetter<Headers> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

export type { TextMapGetter, TextMapSetter };
