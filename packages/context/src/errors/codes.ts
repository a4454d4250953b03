/** Error codes of @foundation/context (range 5200–5299). */
export const CONTEXT_ERROR_CODES = Object.freeze({
  /** A well-known context field, a baggage entry or a context key was given a value it cannot hold. */
  invalidValue: 5201,
  /** The context's deadline has passed: the caller has given up on this work. */
  deadlineExceeded: 5202,
  /** Options given to a propagator or a flight recorder are out of range. */
  invalidOptions: 5203,
  /** Hop records received from elsewhere (another node, a file) are malformed. */
  invalidHopRecords: 5204,
});
