// The port through which events go cluster-wide later. membership-hyparview's Plumtree
// broadcast satisfies it structurally; the `foundation` meta-package wires it to each node's
// EventStore and adds, by composition and without this package changing shape:
//
//   emitDistributed(type, data, options):
//     event = store.emit(type, data, options)                 stored locally first
//     broadcast.publish(EVENTS_TOPIC, store.serialize(event))
//   subscribeClusterWide(filter, handler):
//     local  = store.subscribe(filter, handler)
//     remote = broadcast.subscribe(EVENTS_TOPIC, ({ from, payload }) => {
//       event = store.deserialize(payload)                    hostile input: checked and bounded
//       if (event.node !== store.node && eventMatches(filter, event)) handler(event)
//     })
//
// An event's identity across the cluster is (node, id): ids are only unique per store.

/** A message as subscribers receive it: the payload is untrusted until decoded and checked. */
export interface BroadcastMessage {
  /** The node that published it. */
  readonly from: string;
  readonly payload: unknown;
}

/**
 * Publish to the cluster, receive from it. Delivery is best effort and may duplicate or reorder
 * (Plumtree's guarantees): receivers decide what to do with duplicates, by (node, id).
 */
export interface Broadcast {
  readonly nodeId: string;
  /** Hands bytes to the cluster; false when they cannot be accepted now (stopping, queue full). */
  publish(topic: string, payload: Uint8Array): boolean;
  /** Receives what other nodes publish on `topic`; returns the function that unsubscribes. */
  subscribe(topic: string, handler: (message: BroadcastMessage) => void): () => void;
}

/** The topic events travel on. */
export const EVENTS_TOPIC = 'foundation.events';
