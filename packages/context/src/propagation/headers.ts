// The carrier keys Foundation reads and writes. Lowercase, so they work unchanged as HTTP/1.1
// and HTTP/2 header names and as keys of a channel envelope's header map.

export const HEADER_NAMES = Object.freeze({
  /** W3C Trace Context. */
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  /** W3C Baggage. */
  baggage: 'baggage',
  correlationId: 'foundation-correlation-id',
  requestId: 'foundation-request-id',
  originNode: 'foundation-origin-node',
  /** Hop count of the sender; the receiver adds one. */
  hops: 'foundation-hops',
  /** Milliseconds left before the deadline when the sender sent it (an integer ≥ 0). */
  deadline: 'foundation-deadline-ms',
});

/** The fields a carrier can hold, named as in `HEADER_NAMES`. */
export type PropagatedField = keyof typeof HEADER_NAMES;

export const PROPAGATED_FIELDS: readonly PropagatedField[] = Object.freeze(Object.keys(HEADER_NAMES) as PropagatedField[]);

/**
 * Why a received field was dropped: `malformed` (outside its grammar, not a number...),
 * `oversized` (longer than its limit), `unreadable` (the getter threw or returned something
 * other than strings).
 */
export type DropReason = 'malformed' | 'oversized' | 'unreadable';
