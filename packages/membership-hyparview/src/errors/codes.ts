// Error codes of @foundation/membership-hyparview (range 5900–5999, docs/architecture.md).

export const MEMBERSHIP_ERROR_CODES = Object.freeze({
  /** An option is missing, of the wrong type or out of range. */
  invalidConfig: 5901,
  /** The membership was stopped (`leave()`), so it cannot do what was asked. */
  stopped: 5902,
  /** `join()` found no neighbour within its timeout (the node keeps trying). */
  joinTimeout: 5903,
  /** Seeds could not be resolved (DNS failure, empty answer). */
  seedResolution: 5904,
  /** A broadcast payload is larger than `maxPayloadBytes`. */
  payloadTooLarge: 5905,
  /** A topic is empty, too long, or reserved for the membership itself. */
  invalidTopic: 5906,
});

export type MembershipErrorKind = keyof typeof MEMBERSHIP_ERROR_CODES;
