// The point-to-point part of the transport port (docs/architecture.md), for anti-entropy: a
// digest exchange is a conversation between two nodes, and sending it through the Broadcast
// port would deliver every digest to every node. @foundation/channels and testkit's
// SimTransport satisfy it as they are.

export interface PeerMessage {
  readonly from: string;
  readonly payload: unknown;
}

export interface PeerTransport {
  /** Sends to one peer; false when the message cannot be accepted. Never throws for a peer that is down. */
  send(peer: string, channel: string, payload: Uint8Array): boolean;
  /** Receives on a channel; returns the function that removes the handler. Bytes handed over must not change afterwards. */
  onMessage(channel: string, handler: (message: PeerMessage) => void): () => void;
}
