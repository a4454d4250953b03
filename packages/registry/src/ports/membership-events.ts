// The port through which the registry learns who is in the cluster. membership-hyparview
// satisfies it (through the `foundation` meta-package) from its membership view and failure
// detector.
//
// `member-leave` carries a reason, as membership-hyparview reports it: `failed` (its connection
// or heartbeats failed) and `left` (it left the cluster) make the registry purge the node's
// registrations everywhere (a node that is in fact alive re-announces itself under a new
// incarnation); `disconnected` (alive, an overlay link was dropped, as HyParView does to make
// room) changes nothing. A leave without a reason counts as `failed`.
// `members()` is where anti-entropy picks its random peer: a partial view (HyParView's active
// and passive views) is enough, since rounds with random neighbours still spread state to all.

export type MembershipEvent = 'member-join' | 'member-leave';

/** Why a member left: `failed` and `left` purge it, `disconnected` does not. */
export type LeaveReason = 'failed' | 'left' | 'disconnected';

export interface MembershipEvents {
  /** Nodes currently believed to be members, other than this one. */
  members(): readonly string[];
  /** Subscribes to joins and leaves (a leave may say why); returns the function that unsubscribes. */
  on(event: MembershipEvent, handler: (node: string, reason?: LeaveReason) => void): () => void;
}
