// The sizes two nodes must agree on for their frames to pass, which each side states in the
// handshake (HELLO and CHALLENGE, see handshake.ts): its `limits.frameBytes` and
// `limits.chunkBytes`, and the `maxMessageBytes` of each channel, in channel-set order.
//
// A node's caps on what it receives follow from its own values: a BLOCK of at most `frameBytes`,
// a CHUNK of at most `chunkBytes` (and no more than a whole message), a chunked message of at
// most the channel's `maxMessageBytes`, and a WebSocket message no larger than the largest of
// those. A peer configured with larger values used to connect all the same, then have its first
// larger frame or message refused (1009, 4007 or 4009), lose the session, and, on a reliable
// channel, send it again after every reconnect, for ever.
//
// Each of these can be honoured by the sender alone, so none is refused: towards a peer, a node
// frames and sends by the smaller of its own value and the peer's. Its own caps stay as they are,
// and are never below the smaller value, so what it receives from the peer passes them, and what
// it sends passes the peer's. Frame sizes are how a node cuts its traffic, not what it means, so
// any pair works. For `maxMessageBytes`, `send` and `request` to that peer throw
// MessageTooLargeError above the peer's value (naming both), a reply above it becomes an error
// reply, and what was queued before the peer's values were known (its first session, or its
// restart with other ones) and is above them is dropped when the session opens (a request among
// them fails with MessageTooLargeError). Refusing the connection instead would split a cluster
// for as long as a changed size is rolled out node by node, over values each side can keep to.
//
// Everything else both sides must agree on is checked elsewhere: the channel set and the
// connection mode (a digest, 4017), and constants of the protocol version (4001). Timings,
// windows, queue bounds and the reassembly budget are each node's own.

/** What a node states in the handshake. */
export interface WireLimits {
  /** Largest BLOCK frame it sends, and takes. */
  readonly frameBytes: number;
  /** Largest chunk it sends, and takes; Infinity: a message in one CHUNK frame. */
  readonly chunkBytes: number;
  /** Per channel, in channel-set order: the largest payload it sends, and takes. */
  readonly maxMessageBytes: readonly number[];
}

/** What a node keeps to towards a peer: the smaller of its own value and the peer's, for each. */
export function agreedLimits(own: WireLimits, peer: WireLimits): WireLimits {
  return {
    frameBytes: Math.min(own.frameBytes, peer.frameBytes),
    chunkBytes: Math.min(own.chunkBytes, peer.chunkBytes),
    maxMessageBytes: own.maxMessageBytes.map((bytes, index) => Math.min(bytes, peer.maxMessageBytes[index] ?? bytes)),
  };
}
