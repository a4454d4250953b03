/**
 * Codes of @foundation/events. The 1.x data codes (3101, 3102, 3203, 3301, 3401) and system
 * codes (2201, 2301) are reused where 1.x defined them; codes of this package's own (range
 * 5500–5599) cover what 1.x had no code for.
 */
export const EVENT_ERROR_CODES = Object.freeze({
  /** 1.x `resource_exhausted`: a bounded memory store that rejects when full. */
  storageFull: 2201,
  /** 1.x `resource_exhausted`: no safe integer id is left for a new event. */
  idsExhausted: 2201,
  /** 1.x `resource_exhausted`: a correlation group larger than a whole-group read takes (`maxEvents`). */
  correlationGroupTooLarge: 2201,
  /** 1.x `dependency_failed`: better-sqlite3 is not installed or did not load. */
  dependencyMissing: 2301,
  /** 1.x `serialization_failed`: an event that CBOR cannot carry. */
  serializationFailed: 3101,
  /** 1.x `deserialization_failed`: bytes that are not a serialized event (hostile or damaged). */
  deserializationFailed: 3102,
  /** 1.x `validation_failed`: a malformed event, data over `maxDataBytes`, a bad query. */
  validationFailed: 3203,
  /** 1.x `data_corruption`: a stored row that no longer decodes. */
  dataCorruption: 3301,
  /** 1.x `data_not_found`: no event with that id. */
  notFound: 3401,
  /** A key in event data that could reach a prototype (`__proto__`, `constructor`, `prototype`). */
  securityViolation: 5501,
  /** An event whose id is already stored. */
  duplicateId: 5502,
  /** The storage failed (disk full, I/O error, locked database); the cause says why. */
  storageFailed: 5503,
  /** The store was closed. */
  storeClosed: 5504,
  /** A live subscriber threw, or its promise rejected; reported, never propagated to the writer. */
  subscriberFailed: 5505,
});

export type EventErrorCode = (typeof EVENT_ERROR_CODES)[keyof typeof EVENT_ERROR_CODES];
