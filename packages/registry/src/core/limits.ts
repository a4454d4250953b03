// Limits on everything the registry stores, whether it comes from a local caller or a peer.
// One set of numbers bounds memory per node and the size of every message.

export interface RegistryLimits {
  /** Service names and serviceType: at most this many characters. Default 255. */
  readonly maxNameLength: number;
  /** Capabilities per registration. Default 32. */
  readonly maxCapabilities: number;
  /** Characters per capability. Default 128. */
  readonly maxCapabilityLength: number;
  /** Metadata, as UTF-8 JSON. Default 4,096 bytes. */
  readonly maxMetadataBytes: number;
  /** A target, as UTF-8 JSON. Default 1,024 bytes. */
  readonly maxTargetBytes: number;
  /** Registrations this node may hold: its cluster registrations and global claims together. Default 100,000. */
  readonly maxLocalServices: number;
  /** Registrations accepted from one other node. Default 100,000. */
  readonly maxServicesPerNode: number;
  /** Other nodes whose registrations are held. Default 32,768 (the simulator's bound). */
  readonly maxNodes: number;
  /** A message from a peer, before decoding. Default 4 MiB. */
  readonly maxMessageBytes: number;
  /** Entries per delta message (larger deltas are split). Default 1,000. */
  readonly maxEntriesPerMessage: number;
}

export const DEFAULT_LIMITS: RegistryLimits = Object.freeze({
  maxNameLength: 255,
  maxCapabilities: 32,
  maxCapabilityLength: 128,
  maxMetadataBytes: 4096,
  maxTargetBytes: 1024,
  maxLocalServices: 100_000,
  maxServicesPerNode: 100_000,
  maxNodes: 32_768,
  maxMessageBytes: 4 * 1024 * 1024,
  maxEntriesPerMessage: 1000,
});

/** Cap on the number of out-of-order version intervals kept per origin (hostile input bound). */
export const MAX_CLOUD_INTERVALS = 64;
/**
 * Cap on the key lists in pieces followed per origin, one per sender (see `keyListCovers`): a
 * few peers answer a round together, and a new sender past it replaces the oldest.
 */
export const MAX_KEY_LISTS_PER_ORIGIN = 4;
/**
 * How long a followed key list must have gone without a piece before a new sender past
 * MAX_KEY_LISTS_PER_ORIGIN takes its place (see `keyListCovers`): ten anti-entropy rounds at the
 * default interval (1 s), so that the lists of senders answering the same round are not evicted
 * by each other, while a departed peer's list gives way.
 */
export const KEY_LIST_STALENESS_MS = 10_000;
/**
 * How long a replica awaits the revisions above a piece it took before its digest is its
 * history's again (see `awaitedAfter` in replica.ts): thirty anti-entropy rounds at the default
 * interval (1 s), time enough for a live replica that covers them to answer. A peer may name
 * revisions that no live replica covers (a forged piece, or one whose origin stopped with no
 * failure detector to declare it), and awaited for good they kept the digest apart and the
 * replica exchanging summaries on every round.
 */
export const AWAITED_RETENTION_MS = 30_000;
/** Cap on tombstones held above an origin's contiguous prefix (out-of-order removals). */
export const MAX_PENDING_TOMBSTONES = 10_000;
/** Longest life id (the id a node draws at each start; this version's take 11 characters). */
export const MAX_LIFE_LENGTH = 32;
/** Largest incarnation (2^48): a node moving past one stays within the safe integers. */
export const MAX_INCARNATION = 2 ** 48;
/** Longest namespace. */
export const MAX_NAMESPACE_LENGTH = 128;
/** Longest node id (the process package's bound). */
export const MAX_NODE_ID_LENGTH = 255;
