// The port through which the registry learns who is in the cluster. membership-hyparview
// satisfies it (through the `foundation` meta-package) from its membership view and failure
// detector.
//
// `member-leave` means the node left the cluster or was declared failed, not that an overlay
// link was dropped: the registry purges the node's registrations everywhere when it hears it
// (and the node, if it is in fact alive, re-announces itself under a new incarnation).
// `members()` is where anti-entropy picks its random peer: a partial view (HyParView's active
// and passive views) is enough, since rounds with random neighbours still spread state to all.

export type MembershipEvent = 'member-join' | 'member-leave';

export interface MembershipEvents {
  /** Nodes currently believed to be members, other than this one. */
  members(): readonly string[];
  /** Subscribes to joins and leaves; returns the function that unsubscribes. */
  on(event: MembershipEvent, handler: (node: string) => void): () => void;
}
