// Getters and setters for carriers, in OpenTelemetry's TextMapGetter/TextMapSetter shape, and
// the defaults for plain string maps (a channel envelope's headers, Node's IncomingHttpHeaders).
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

export type { TextMapGetter, TextMapSetter };
