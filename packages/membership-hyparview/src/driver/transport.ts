// The transport port this package is written against (docs/architecture.md). It is declared
// here, not imported: @foundation/channels satisfies it over WebSocket, @foundation/testkit's
// SimTransport in simulation, and any object of this shape will do.

/** A message as a handler receives it. */
export interface InboundMessage {
  /** The sending node's id. */
  readonly from: string;
  readonly to: string;
  readonly channel: string;
  /** Untrusted: this package validates it before use. */
  readonly payload: unknown;
  /** Context propagation headers, when the sender set some. */
  readonly headers: Readonly<Record<string, string>> | undefined;
}

export interface TransportSendOptions {
  /** Messages with one key keep their order (the membership keys its messages by its node id). */
  readonly partitionKey?: string;
  readonly headers?: Record<string, string>;
}

export interface PeerTransport {
  readonly nodeId: string;
  /**
   * Hands a message to the transport. False when it cannot be accepted: the node is stopping,
   * a bounded queue is full, or (for transports that need one) there is no connection to the
   * peer yet; the membership then connects and retries once the peer is up. Never throws for a
   * peer that is down.
   */
  send(peer: string, channel: string, payload: unknown, options?: TransportSendOptions): boolean;
  onMessage(channel: string, handler: (message: InboundMessage) => void): () => void;
  /** `peer-up` when a connection is established; `peer-down` when it is lost or could not be made. */
  on(event: 'peer-up' | 'peer-down', handler: (peer: string) => void): () => void;
  connect(peer: string): void;
  disconnect(peer: string): void;
  /** Peers with an established connection. */
  peers(): string[];
}
