/** Error codes of @foundation/telemetry (range 5300–5399). */
export const TELEMETRY_ERROR_CODES = Object.freeze({
  /** An event name that is not a non-empty array of non-empty strings. */
  invalidEventName: 5301,
  /** Measurements that are not an object, or a sample value that is not a finite number. */
  invalidMeasurement: 5302,
  /** `attach` with a handler id that is already attached. */
  handlerExists: 5303,
  /** A metric definition that is incomplete, contradictory, or clashes with another metric. */
  invalidMetricDefinition: 5304,
  /** A metrics or sketch snapshot that does not decode (input from another node is hostile). */
  invalidSnapshot: 5305,
  /** Two sketches with different relative accuracy cannot be merged without losing the bound. */
  incompatibleSketch: 5306,
  /** Options out of range: a quantile outside [0, 1], a relative accuracy outside (0, 1)... */
  invalidOptions: 5307,
});
