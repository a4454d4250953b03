// The event, as 1.x defined it: a positive integer id (monotonic per store), a type, data, a
// correlation id (a UUID v4 unless given), an optional parent, a monotonic timestamp in
// nanoseconds, the wall-clock time in milliseconds and the node that created it.

/** A stored or storable event. Events are immutable: stores freeze them and own their data. */
export interface FoundationEvent<Data = unknown> {
  /**
   * Positive safe integer, strictly increasing in creation order within the store that made it,
   * and never handed out twice by a store, even after pruning and reopening.
   */
  readonly id: number;
  /** What happened, e.g. `user-signed-in` or `config-updated`. 1–256 characters. */
  readonly type: string;
  /** Plain data: null, booleans, numbers, strings, bigints, Uint8Arrays, arrays and plain objects. */
  readonly data: Data;
  /** Groups the events of one flow (a request, a job). A UUID v4 unless given. */
  readonly correlationId: string;
  /** The id of the event that caused this one, or null. */
  readonly parentId: number | null;
  /**
   * Monotonic time in nanoseconds, strictly increasing within a store, and still increasing
   * after a durable store is reopened. Not comparable across nodes; use `wallTime` for that.
   */
  readonly timestamp: number;
  /** Wall-clock time in milliseconds since the Unix epoch, as the node's clock read it. */
  readonly wallTime: number;
  /** The node that created the event. */
  readonly node: string;
}

export interface NewEventOptions {
  /** Default: a new UUID v4. */
  readonly correlationId?: string | undefined;
  /** The id of the event that caused this one. */
  readonly parentId?: number | null | undefined;
}

/** Limits on the text fields of an event. */
export const MAX_TYPE_LENGTH = 256;
export const MAX_CORRELATION_ID_LENGTH = 256;
export const MAX_NODE_LENGTH = 256;
/**
 * The longest big integer event data may hold, in bytes of magnitude: 64 bytes, 512 bits
 * (-(2^512) to 2^512 - 1). cbor-x encodes and decodes a big integer byte by byte, copying the
 * whole value at each step, so the cost grows with the square of its length; this bound keeps
 * it small, on the way in and on every decode (a 160 KB one took 14.6 s to decode).
 */
export const MAX_BIGINT_BYTES = 64;
/**
 * The highest id a store accepts in an event it did not make: 2^52. Such an event keeps its id,
 * and the store's own ids go on above it; the ids above 2^52 are thereby always left to the
 * store's own events (at a million events a second, 142 years of them), so no event from
 * elsewhere can use up a store's ids.
 */
export const MAX_FOREIGN_EVENT_ID = 2 ** 52;
/**
 * The highest timestamp a store accepts in an event it did not make: 2^62 ns, 146 years of
 * monotonic time. A store's own timestamps go on above every timestamp it holds, so a foreign
 * timestamp beyond any store's lifetime (a broken or hostile clock, up to Number.MAX_VALUE)
 * would move them there for good: to where doubles are far apart, or to Infinity and NaN,
 * which no other node's `deserialize` accepts. Below it a store's timestamps stay finite and
 * strictly increasing forever.
 */
export const MAX_FOREIGN_EVENT_TIMESTAMP = 2 ** 62;
/** 1.x capped event data at 1,000,000 bytes. */
export const DEFAULT_MAX_DATA_BYTES = 1_000_000;
