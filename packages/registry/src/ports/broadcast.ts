// The port over which each node publishes changes to its own registrations. membership-hyparview's
// Plumtree broadcast satisfies it (the same shape @foundation/events declares, so one broadcast
// serves both). Delivery is best effort and may duplicate, reorder or lose messages: the
// registry's deltas are idempotent and commute, and anti-entropy repairs what was lost.

/** A message as subscribers receive it: the payload is untrusted until decoded and checked. */
export interface BroadcastMessage {
  /** The node that published it. */
  readonly from: string;
  readonly payload: unknown;
}

export interface Broadcast {
  /** Hands bytes to the cluster; false when they cannot be accepted now (stopping, queue full). */
  publish(topic: string, payload: Uint8Array): boolean;
  /**
   * Receives what other nodes publish on `topic`; returns the function that unsubscribes. The
   * bytes handed to a handler must not change afterwards (the registry keeps decoded messages
   * by payload; a transport that reuses buffers hands out copies).
   */
  subscribe(topic: string, handler: (message: BroadcastMessage) => void): () => void;
}
