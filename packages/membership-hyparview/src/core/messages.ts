// The wire messages of the membership (one channel) and of Plumtree (another), as plain objects
// tagged by `type`. Everything that arrives goes through decode.ts before a core sees it.
import type { TopologyMode } from './config';

// ---- HyParView (paper §4) ----------------------------------------------------------------

/** A new node asks its contact to let it in. The contact adds it and starts FORWARD_JOIN walks. */
export interface JoinMessage {
  readonly type: 'join';
  readonly epoch: number;
  /** Request id, echoed by the contact's NEIGHBOR_REPLY (see NeighborMessage.id). */
  readonly id?: number;
}

/** A random walk carrying a joining node (`node`) through the overlay. */
export interface ForwardJoinMessage {
  readonly type: 'forward-join';
  readonly epoch: number;
  readonly node: string;
  readonly ttl: number;
}

/** Asks to become the receiver's neighbour: `high` is always accepted, `low` only with a free slot. */
export interface NeighborMessage {
  readonly type: 'neighbor';
  readonly epoch: number;
  readonly priority: 'high' | 'low';
  /**
   * Request id (an addition to the paper), echoed by the reply, so that the sender can tell the
   * answer to its latest request from an answer to an earlier one still on the wire (the NEIGHBOR
   * that ends a FORWARD_JOIN included). Nodes of an earlier version send none.
   */
  readonly id?: number;
}

export interface NeighborReplyMessage {
  readonly type: 'neighbor-reply';
  readonly epoch: number;
  readonly accepted: boolean;
  /** The id of the request this answers, when it had one. */
  readonly id?: number;
  /**
   * On a refusal: another node whose low-priority request the sender refused recently, so it had a
   * free slot then. The two can fill each other's (see `HyParViewCore.onNeighbor`). Nodes of an
   * earlier version send none and ignore it.
   */
  readonly vacant?: string;
}

/** The sender dropped the receiver from its active view; `alive: false` when it is leaving the cluster. */
export interface DisconnectMessage {
  readonly type: 'disconnect';
  readonly epoch: number;
  readonly alive: boolean;
}

/** A random walk carrying `origin`'s sample of its views (itself, ka active, kp passive). */
export interface ShuffleMessage {
  readonly type: 'shuffle';
  readonly epoch: number;
  readonly origin: string;
  readonly ttl: number;
  readonly nodes: readonly string[];
  /**
   * A random id the origin draws for this shuffle (an addition to the paper), passed on along the
   * walk and echoed by the reply: the origin integrates only a reply that carries it, so a node
   * that saw nothing of the walk cannot feed it entries. Nodes of an earlier version send none.
   */
  readonly id?: number;
  /**
   * The origin wants the reply back along the walk (`shuffleReplyRoute: 'walk'`, an addition to
   * the paper): each node that forwards the walk remembers, by origin and id, whom it came from
   * and whom it went to. Nodes of an earlier version drop it, and the walk's end then answers
   * the origin directly.
   */
  readonly back?: true;
}

/** The node where a shuffle walk ended answers the origin with as many passive-view entries. */
export interface ShuffleReplyMessage {
  readonly type: 'shuffle-reply';
  readonly epoch: number;
  readonly nodes: readonly string[];
  /** The id of the shuffle this answers, when it had one. */
  readonly id?: number;
  /**
   * The shuffle's origin, on a reply travelling back along the walk: each node it passes finds
   * the previous hop in what it remembered of the walk. Absent on a reply sent to the origin.
   */
  readonly origin?: string;
}

// ---- full mesh ----------------------------------------------------------------------------

export interface MeshJoinMessage {
  readonly type: 'mesh-join';
  readonly epoch: number;
}

export interface MeshMembersMessage {
  readonly type: 'mesh-members';
  readonly epoch: number;
  readonly nodes: readonly string[];
}

export interface MeshLeaveMessage {
  readonly type: 'mesh-leave';
  readonly epoch: number;
}

// ---- client-server ------------------------------------------------------------------------

/** Most ids in the `peers` of a cs-servers or cs-attach-reply (more are cut off when decoded). */
export const MAX_PEER_SAMPLE = 8;

/** Any node asks any other for the servers it knows (how a client finds servers). */
export interface ServerHelloMessage {
  readonly type: 'cs-hello';
  readonly epoch: number;
}

/** A client attaches to a server; a server meshes with another server. */
export interface AttachMessage {
  readonly type: 'cs-attach';
  readonly epoch: number;
  readonly server: boolean;
}

export interface AttachReplyMessage {
  readonly type: 'cs-attach-reply';
  readonly epoch: number;
  readonly accepted: boolean;
  readonly servers: readonly string[];
  /** A few other nodes the sender knows to be live (a server: some of its clients): contacts for when every server is gone. Absent from older versions. */
  readonly peers?: readonly string[];
}

/**
 * A server asks one of its clients to become a server too: the mesh has fewer than `minServers`
 * servers, and the election by hash elects no more (those first by hash are gone). Older versions
 * drop it as an unknown type.
 */
export interface PromoteMessage {
  readonly type: 'cs-promote';
  readonly epoch: number;
}

export interface DetachMessage {
  readonly type: 'cs-detach';
  readonly epoch: number;
  readonly alive: boolean;
}

/** Servers known to the sender (the answer to cs-hello). */
export interface ServersMessage {
  readonly type: 'cs-servers';
  readonly epoch: number;
  readonly servers: readonly string[];
  /** As in cs-attach-reply. Absent from older versions. */
  readonly peers?: readonly string[];
  /**
   * The sender knows no server and will elect itself unless a node before it in the election
   * does (see ClientServerCore's `defersPromotion`). Absent from older versions and from nodes
   * that cannot become servers.
   */
  readonly seeking?: true;
  /**
   * With `seeking`: the seeking node first in the election that the sender has heard from, when
   * it comes before the sender. The asker defers to it too, so that the first node spreads like
   * a minimum and few nodes step up at once.
   */
  readonly lowest?: string;
}

// ---- shared by every peer service -----------------------------------------------------------

/** One-way heartbeat; echoes the last heartbeat received from the peer so both ends learn the round trip. */
export interface HeartbeatMessage {
  readonly type: 'heartbeat';
  /** Sender's monotonic time. */
  readonly sentAt: number;
  /** `sentAt` of the last heartbeat the sender received from the receiver, and how long it held it. */
  readonly echo?: number;
  readonly held?: number;
}

/** A topology decision: every node adopts the highest epoch it hears of. */
export interface TopologyMessage {
  readonly type: 'topology';
  readonly epoch: number;
  readonly mode: TopologyMode;
  /** Set by a manual switch: no node switches automatically until a manual switch back to `auto`. */
  readonly pinned: boolean;
}

/** Extrema propagation for the size estimate: the element-wise minima known for estimation round `round`. */
export interface SizeMessage {
  readonly type: 'size';
  readonly round: number;
  readonly values: readonly number[];
}

export type HyParViewMessage =
  | JoinMessage
  | ForwardJoinMessage
  | NeighborMessage
  | NeighborReplyMessage
  | DisconnectMessage
  | ShuffleMessage
  | ShuffleReplyMessage;

export type FullMeshMessage = MeshJoinMessage | MeshMembersMessage | MeshLeaveMessage;

export type ClientServerMessage = ServerHelloMessage | AttachMessage | AttachReplyMessage | DetachMessage | ServersMessage | PromoteMessage;

/** Messages that belong to one peer service (they carry the topology epoch they were sent in). */
export type ServiceMessage = HyParViewMessage | FullMeshMessage | ClientServerMessage;

export type MembershipMessage = ServiceMessage | HeartbeatMessage | TopologyMessage | SizeMessage;

// ---- Plumtree (Epidemic Broadcast Trees §3) -------------------------------------------------

/** The payload itself, pushed eagerly along the tree. `round` counts hops from the origin. */
export interface GossipMessage {
  readonly type: 'gossip';
  readonly id: string;
  readonly topic: string;
  readonly origin: string;
  readonly round: number;
  readonly payload: unknown;
}

/** Lazy push: ids (with their rounds) the sender has, batched. */
export interface IHaveMessage {
  readonly type: 'ihave';
  readonly ids: readonly string[];
  readonly rounds: readonly number[];
}

/** Asks the receiver to become a tree (eager) link and to send the listed messages. */
export interface GraftMessage {
  readonly type: 'graft';
  readonly ids: readonly string[];
}

/** The receiver should stop pushing eagerly to the sender (it became a lazy link). */
export interface PruneMessage {
  readonly type: 'prune';
}

/** Anti-entropy: recent ids of topics that need eventual completeness; a digest that is not a reply is answered with one. */
export interface DigestMessage {
  readonly type: 'digest';
  readonly ids: readonly string[];
  readonly reply: boolean;
}

export type PlumtreeMessage = GossipMessage | IHaveMessage | GraftMessage | PruneMessage | DigestMessage;

export const SERVICE_OF_TYPE: Readonly<Record<ServiceMessage['type'], TopologyMode>> = Object.freeze({
  join: 'hyparview',
  'forward-join': 'hyparview',
  neighbor: 'hyparview',
  'neighbor-reply': 'hyparview',
  disconnect: 'hyparview',
  shuffle: 'hyparview',
  'shuffle-reply': 'hyparview',
  'mesh-join': 'full-mesh',
  'mesh-members': 'full-mesh',
  'mesh-leave': 'full-mesh',
  'cs-hello': 'client-server',
  'cs-attach': 'client-server',
  'cs-attach-reply': 'client-server',
  'cs-detach': 'client-server',
  'cs-servers': 'client-server',
  'cs-promote': 'client-server',
});

export function isServiceMessage(message: MembershipMessage): message is ServiceMessage {
  return Object.prototype.hasOwnProperty.call(SERVICE_OF_TYPE, message.type);
}
