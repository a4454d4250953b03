/** Error codes of @foundation/channels (range 5800–5899). Stable: never renumbered. */
export const CHANNELS_ERROR_CODES = Object.freeze({
  /** Transport or channel options are invalid (ChannelsConfigError). */
  invalidConfig: 5801,
  /** `send`, `request` or a handler named a channel this transport was not configured with. */
  unknownChannel: 5802,
  /** A request got no reply within its timeout. */
  requestTimeout: 5803,
  /** The peer is not connected (never was, went down, or was disconnected) so the message was not queued. */
  peerUnavailable: 5804,
  /** A connection attempt was refused or failed during the handshake; `closeCode` says why. */
  connectionRefused: 5805,
  /** A peer sent something that breaks the protocol; the connection was closed with `closeCode`. */
  protocolViolation: 5806,
  /** The transport is closed (or closing). */
  transportClosed: 5807,
  /** A payload is larger than its channel's `maxMessageBytes`. */
  messageTooLarge: 5808,
  /** A payload could not be encoded as CBOR. */
  payloadEncoding: 5809,
  /** The peer has no request handler on that channel. */
  noResponder: 5810,
  /** The queue for that peer and channel is full (backpressure). */
  queueFull: 5811,
  /**
   * The peer went down while a request to it was pending: it may have been delivered and handled,
   * and its reply will not come (RequestInterruptedError). Unlike 5804, the outcome is unknown.
   */
  requestInterrupted: 5812,
  /**
   * Two live processes present one node id (a configuration mistake): this node saw both of
   * their incarnations at once (DuplicateNodeIdError, on the `identity-error` event).
   */
  duplicateNodeId: 5813,
});

export type ChannelsErrorKind = keyof typeof CHANNELS_ERROR_CODES;
