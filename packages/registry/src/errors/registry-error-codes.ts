/**
 * Codes of @foundation/registry. The 1.x codes are reused where 1.x defined them (a missing
 * service is `data_not_found`, bad arguments are `invalid_input`, limits are
 * `validation_failed`...); codes of this package's own (range 5600–5699) cover what 1.x had no
 * code for.
 */
export const REGISTRY_ERROR_CODES = Object.freeze({
  /** 1.x `service_unavailable`: instances match, but none is in a state to be routed to. */
  serviceUnavailable: 2102,
  /** 1.x `resource_exhausted`: this node holds as many registrations as it is allowed. */
  resourceExhausted: 2201,
  /** 1.x `deserialization_failed`: bytes from a peer that are not a registry message. */
  deserializationFailed: 3102,
  /** 1.x `validation_failed`: a value over a limit (metadata size, capability count...). */
  validationFailed: 3203,
  /** 1.x `invalid_input`: an invalid name, capability, namespace or argument. */
  invalidInput: 3204,
  /** 1.x `service_not_found` (`data_not_found`): no instance is registered under the name. */
  serviceNotFound: 3401,
  /** 1.x `timeout`: `waitFor`, a health check or a consensus wait took longer than allowed. */
  timeout: 4301,
  /** 1.x `{:already_registered, pid}`: the unique name is taken (locally, cluster-wide or globally). */
  alreadyRegistered: 5601,
  /** A version string that is not semantic versioning 2.0.0. */
  invalidVersion: 5602,
  /** A version range this package's matcher does not understand. */
  invalidVersionRange: 5603,
  /** A message from a peer that decoded but breaks the protocol: bad fields, sizes, counts, names. */
  invalidPeerMessage: 5604,
  /** The registry was closed. */
  registryClosed: 5605,
  /** `registerGlobal` without a `ConsensusLog`. */
  consensusNotConfigured: 5606,
  /** The consensus log failed to take a command; whether it was applied is unknown. */
  consensusFailed: 5607,
});

export type RegistryErrorCode = (typeof REGISTRY_ERROR_CODES)[keyof typeof REGISTRY_ERROR_CODES];
