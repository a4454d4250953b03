// The registry's replicated state: a delta-state CRDT in which every node owns its registrations.
//
// State, per origin node: the origin's incarnation, a causal context (which of the origin's
// revisions this replica has incorporated), the origin's live entries (each carrying the
// revision of its last change), and tombstones for removals not yet safe to forget. Every
// change on the origin takes the next revision; only the origin writes its entries, so a
// revision names one change everywhere.
//
// Join, per origin (the lexicographic product of the incarnation order and an optimized
// observed-remove map keyed by registration id):
//   - a higher incarnation replaces a lower one entirely (the node restarted or refuted);
//   - at equal incarnations an entry survives unless the other side has covered its revision
//     without keeping it (then it was removed or superseded), or holds a newer revision of it,
//     or a tombstone at or above it; contexts are united;
//   - unless the two sides hold the incarnation under different life ids (drawn at each start),
//     or one names another change at a revision both have: that is a second life of the
//     incarnation (a restart that reused it), retired as departed (see `applyDelta`).
// Departure records (node, incarnation) join by maximum and empty the origin's state for every
// incarnation at or below them.
//
// Tombstones and garbage collection: a replica refuses any entry whose revision its context
// already covers and that it does not hold, so a tombstone is never needed to stop a removed
// entry from coming back once its revision is covered; it is kept only (a) while the context
// does not yet cover every revision up to the tombstone's (a removal that overtook its history:
// the removed entry's earlier revision, unknown here, may still arrive, and its own revision
// being covered does not refuse it), and (b) for `tombstoneRetentionMs` afterwards, to pass the
// removal on to peers that are behind. A peer further behind than the retained tombstones
// receives the origin's full key list instead, from which it drops what was removed; a replica
// that learned an origin from a key list never saw the forgotten tombstones either, so it
// answers peers behind it with the key list too. Nothing here can bring a removed entry back.
//
// This module is a pure state machine: time comes in as arguments, changes go out through
// `onChange`, nothing touches the network.
import { hashString32 } from '@foundation/core';
import { InvalidPeerMessageError } from '../errors/invalid-peer-message-error';
import { CausalContext, highestCovered, lowestCovered } from './causal-context';
import type { Interval } from './causal-context';
import { AWAITED_RETENTION_MS, KEY_LIST_STALENESS_MS, MAX_CLOUD_INTERVALS, MAX_INCARNATION, MAX_KEY_LISTS_PER_ORIGIN, MAX_PENDING_TOMBSTONES } from './limits';
import { PendingRemovals } from './pending-removals';
import type { PendingRemoval } from './pending-removals';
import type { DownReason } from './service-view';
import { inRange } from './summary-range';
import type { SummaryRange } from './summary-range';
import type { ServiceInstance } from './types';
import { sameEntry } from './wire';

/** A removal: registration `id` of the origin was removed by its change number `revision`. */
export interface Tombstone {
  readonly id: string;
  readonly revision: number;
}

/** An entry of an origin's full key list: the id and revision of a live entry. */
export interface KeyRevision {
  readonly id: string;
  readonly revision: number;
}

/**
 * A piece of one origin's state. `covers` lists the revisions this delta completes: a receiver
 * that applies it has incorporated every change in those intervals (for the origin's own
 * deltas, the new changes; for anti-entropy, the sender's whole context, computed against the
 * receiver's summary). A large delta travels in pieces that each cover their own revisions
 * (see `encodeDeltas`); an empty `covers` carries entries only, as pieces from peers before
 * that change did. A receiver whose history would then hold more than MAX_CLOUD_INTERVALS gaps
 * takes only the ranges that fit (see `coversTaken`). The pieces of a key-listed delta are
 * taken from the lowest up (see `keyListCovers`).
 */
export interface OriginDelta {
  readonly node: string;
  readonly incarnation: number;
  readonly covers: readonly Interval[];
  readonly entries: readonly ServiceInstance[];
  readonly removed: readonly Tombstone[];
  /** When present: every live entry of the origin at the sender, for the covered revisions. */
  readonly keys: readonly KeyRevision[] | undefined;
  /**
   * For a piece of a delta (see `encodeDeltas`): the covers of the whole delta, or for a piece
   * without keys those above its own. A piece of a key list has its covers taken once every piece
   * below it has arrived (see `keyListCovers`); any piece leaves the receiver's digest apart until
   * it covers the revisions above the piece (see `awaitedAfter`). Pieces from older senders carry
   * it with a key list only.
   */
  readonly whole?: readonly Interval[] | undefined;
  /** The origin's life id for this incarnation (see `ReplicaOptions.life`), when the sender knows it. */
  readonly life?: string | undefined;
}

/** What a replica has of one origin, as exchanged in anti-entropy. */
export interface OriginSummary {
  readonly node: string;
  readonly incarnation: number;
  readonly prefix: number;
  readonly cloud: readonly Interval[];
  /** The origin's life id for this incarnation, when known. */
  readonly life?: string | undefined;
}

/** The node left (or was declared failed) as incarnation `incarnation`, declared at wall time `at`. */
export interface DepartureRecord {
  readonly node: string;
  readonly incarnation: number;
  readonly at: number;
}

export interface ReplicaSummary {
  readonly origins: readonly OriginSummary[];
  readonly departed: readonly DepartureRecord[];
  /** Undefined: the summary speaks for every node id. */
  readonly range?: SummaryRange | undefined;
}

export type RemovalReason = DownReason;

/**
 * The record of one held entry. The replica writes only `instance`; the view keeps its own
 * bookkeeping in the same record, so a node holds one record per entry, not one per index.
 */
export interface Slot {
  instance: ServiceInstance;
  /** Whether the view shows it (conflict losers are hidden). */
  visible: boolean;
  /** Whether the view holds it at all. */
  held: boolean;
  /** The id of the instance that hides it, when hidden (conflicts are reported once per winner). */
  hiddenBy: string | undefined;
  /** The view's number for it while it is visible (its place in the capability posting lists). */
  ordinal: number;
}

export function newSlot(instance: ServiceInstance): Slot {
  return { instance, visible: false, held: false, hiddenBy: undefined, ordinal: 0 };
}

export type ReplicaChange =
  | { readonly type: 'put'; readonly slot: Slot; readonly instance: ServiceInstance; readonly previous: ServiceInstance | undefined }
  | { readonly type: 'delete'; readonly slot: Slot; readonly instance: ServiceInstance; readonly reason: RemovalReason };

/** The fields of an own registration; the replica adds the incarnation and the revision. */
export type OwnEntryFields = Omit<ServiceInstance, 'incarnation' | 'revision' | 'node'>;

export interface ReplicaOptions {
  readonly nodeId: string;
  readonly incarnation: number;
  /**
   * An id drawn at random at each start, sent with the incarnation. A start that reuses an
   * incarnation numbers its changes as the earlier one did, and a delta may cover a revision
   * without naming its change (superseded before it was published, a piece of a large delta,
   * anti-entropy), so what a peer holds cannot always tell the two starts apart; their life ids
   * do. Undefined: none is sent, and starts are told apart by their changes alone.
   */
  readonly life?: string | undefined;
  /** Other nodes whose state is held. */
  readonly maxNodes: number;
  /** Entries held for one other node. */
  readonly maxServicesPerNode: number;
  /** How long a covered tombstone is kept to inform peers that are behind. */
  readonly tombstoneRetentionMs: number;
  /** Covered tombstones kept per origin at most, whatever their age. */
  readonly maxStableTombstones: number;
  /** How long a departure record is replicated. */
  readonly departureRetentionMs: number;
  /**
   * Departed (node, incarnation) floors remembered after their records expire; also departures
   * seen of nodes nothing was heard of (see `declareDeparted`).
   */
  readonly maxRememberedDepartures: number;
  readonly onChange: (change: ReplicaChange) => void;
  /**
   * False for a registry with no peers: own changes are not kept for deltas and removals leave
   * no tombstones (nothing would ever collect them). Default true.
   */
  readonly replicated?: boolean;
  /** Called when this node refutes a departure (or a newer incarnation of itself) by moving to `incarnation`. */
  readonly onRefute?: (incarnation: number, reason: string) => void;
}

interface StoredTombstone {
  revision: number;
  /** Local time it became covered (Infinity while not covered). */
  coveredAt: number;
}

const NO_TOMBSTONES = new Map<string, StoredTombstone>();

function setTombstone(state: OriginState, id: string, tombstone: StoredTombstone): void {
  if (state.tombstones === NO_TOMBSTONES) state.tombstones = new Map();
  const previous = state.tombstones.get(id);
  if (previous !== undefined) forgetRevision(state, previous.revision, id);
  state.tombstones.set(id, tombstone);
  state.revisions?.set(tombstone.revision, id);
}

/** True when `tombstone` is the removal `removal` names and is not yet stable. */
function stillPending(tombstone: StoredTombstone, removal: PendingRemoval): boolean {
  return tombstone.revision === removal.revision && tombstone.coveredAt === Number.POSITIVE_INFINITY;
}

/** `id` no longer holds `revision` here (see OriginState.revisions). */
function forgetRevision(state: OriginState, revision: number, id: string): void {
  if (state.revisions?.get(revision) === id) state.revisions.delete(revision);
}

/** Revision → id of every change held for `state`, entries first, then removals. */
function revisionsOf(state: OriginState): Map<number, string> {
  const revisions = new Map<number, string>();
  for (const [held, slot] of state.entries) revisions.set(slot.instance.revision, held);
  for (const [removed, tombstone] of state.tombstones) revisions.set(tombstone.revision, removed);
  return revisions;
}

/**
 * The pieces of one key-listed delta that arrived (see `keyListCovers`): the sender, the covers
 * of the whole delta, the revisions of the pieces that arrived, taken or waiting, and when the
 * last of them arrived (the list last moved).
 */
interface KeyListPieces {
  readonly peer: string;
  readonly whole: CausalContext;
  readonly received: CausalContext;
  readonly movedAt: number;
}

class OriginState {
  readonly context = new CausalContext();
  readonly entries = new Map<string, Slot>();
  /** Shared and empty until the first removal: most origins never need one. */
  tombstones: Map<string, StoredTombstone> = NO_TOMBSTONES;
  /** Removals at or below this revision may be unknown here (collected, or never received). */
  tombstoneFloor = 0;
  /** Tombstones not yet stable: the context does not cover every revision up to theirs. */
  pendingTombstones = 0;
  /** Those tombstones by revision, so that a delta finds the ones it makes stable without a scan. */
  readonly pendingRemovals = new PendingRemovals();
  /**
   * Revision → id of what is held (entries and tombstones), made the first time `contradicts`
   * needs it and kept current from then on. Made anew for each delta, as it was, a peer naming
   * changes not held here made the receiver scan the whole origin once per delta: a message of
   * 32,769 such deltas, against an origin of 100,000 entries, took minutes.
   */
  revisions: Map<number, string> | undefined = undefined;
  /**
   * The pieces of key lists arriving from peers, one per peer and oldest first, while some below
   * others are missing (see `keyListCovers`).
   */
  keyLists: readonly KeyListPieces[] = [];
  /**
   * Revisions not covered here that may hold the replacement of a change a piece covered without
   * carrying it (see `awaitedAfter`); while any remain, the digest is this replica's own.
   */
  awaited: readonly Interval[] = [];
  /** Local time the awaited revisions were first awaited (see `collectGarbage`). */
  awaitedSince = 0;
  hashLow = 0;
  hashHigh = 0;

  constructor(
    readonly node: string,
    public incarnation: number,
    /** The life id of the start that holds this incarnation, once heard (see `ReplicaOptions.life`). */
    public life: string | undefined,
  ) {}
}

/**
 * What `applyDelta` did. `stale` names a departure floor the sender should learn. The others are
 * departure records this replica made, applied here and to be broadcast: `retired`, because the
 * delta came from a second life of an incarnation it holds (see `applyDelta`); `departed`,
 * because it came from a node seen to leave before anything of it was heard here (see
 * `identifyDeparture`).
 */
export interface ApplyResult {
  readonly changed: boolean;
  readonly stale: DepartureRecord | undefined;
  readonly retired: DepartureRecord | undefined;
  readonly departed: DepartureRecord | undefined;
}

const UNCHANGED: ApplyResult = Object.freeze({ changed: false, stale: undefined, retired: undefined, departed: undefined });
const CHANGED: ApplyResult = Object.freeze({ changed: true, stale: undefined, retired: undefined, departed: undefined });

function itemHash(text: string): [number, number] {
  return [hashString32(text), hashString32(text, 0x9e37_79b9)];
}

function toHex(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}

export class Replica {
  readonly nodeId: string;
  private readonly options: ReplicaOptions;
  private readonly origins = new Map<string, OriginState>();
  private readonly departed = new Map<string, DepartureRecord>();
  /** node → highest departed incarnation; outlives the records, oldest first. */
  private readonly floors = new Map<string, number>();
  /**
   * node → local time it was seen to leave while nothing of it was heard here (its incarnation
   * unknown), oldest first; at most `maxRememberedDepartures`, for `departureRetentionMs`.
   */
  private readonly unheard = new Map<string, number>();
  private own: OriginState;
  /** Own revision up to which deltas have been taken for broadcast. */
  private published = 0;
  /** Own ids changed since the last taken delta. */
  private readonly dirty = new Set<string>();
  private hashLow = 0;
  private hashHigh = 0;

  constructor(options: ReplicaOptions) {
    this.options = options;
    this.nodeId = options.nodeId;
    this.own = new OriginState(options.nodeId, options.incarnation, options.life);
    this.origins.set(options.nodeId, this.own);
    this.rehash(this.own);
  }

  get incarnation(): number {
    return this.own.incarnation;
  }

  /** This start's life id (see `ReplicaOptions.life`). */
  get life(): string | undefined {
    return this.own.life;
  }

  /** The own origin's latest revision. */
  get revision(): number {
    return this.own.context.prefix;
  }

  // ---- own changes ----------------------------------------------------------------------

  /** Adds or replaces an own entry; it takes the next revision. */
  putOwn(fields: OwnEntryFields): ServiceInstance {
    const own = this.own;
    const revision = own.context.prefix + 1;
    // Object.assign, not a spread followed by fields: instances live long and are read on every
    // lookup, and in Node 20 `{ ...fields, node }` gives each one a V8 map of its own.
    const instance: ServiceInstance = Object.freeze(Object.assign({}, fields, { node: this.nodeId, incarnation: own.incarnation, revision }));
    let slot = own.entries.get(instance.id);
    const previous = slot?.instance;
    if (slot === undefined) {
      slot = newSlot(instance);
      own.entries.set(instance.id, slot);
    } else slot.instance = instance;
    own.context.add(revision, revision);
    if (this.options.replicated !== false) this.dirty.add(instance.id);
    this.rehash(own);
    this.options.onChange({ type: 'put', slot, instance, previous });
    return instance;
  }

  /** Removes an own entry (a tombstone takes the next revision); false when it is not held. */
  removeOwn(id: string, now: number, reason: RemovalReason = 'unregistered'): boolean {
    const own = this.own;
    const slot = own.entries.get(id);
    if (slot === undefined) return false;
    const revision = own.context.prefix + 1;
    own.entries.delete(id);
    if (this.options.replicated !== false) {
      setTombstone(own, id, { revision, coveredAt: now });
      this.dirty.add(id);
    }
    own.context.add(revision, revision);
    this.rehash(own);
    this.options.onChange({ type: 'delete', slot, instance: slot.instance, reason });
    return true;
  }

  ownEntry(id: string): ServiceInstance | undefined {
    return this.own.entries.get(id)?.instance;
  }

  /** The record of an own entry (for the view's visibility flag). */
  ownSlot(id: string): Slot | undefined {
    return this.own.entries.get(id);
  }

  /** How many entries are held for a node. */
  countOf(node: string): number {
    return this.origins.get(node)?.entries.size ?? 0;
  }

  /** The records held for a node's entries (empty when none). */
  slotsOf(node: string): IterableIterator<Slot> {
    return (this.origins.get(node)?.entries ?? EMPTY).values();
  }

  /** The own changes since the last call, as one delta; undefined when there are none. */
  takeOwnDelta(): OriginDelta | undefined {
    const own = this.own;
    const to = own.context.prefix;
    if (to === this.published) return undefined;
    const from = this.published;
    const entries: ServiceInstance[] = [];
    const removed: Tombstone[] = [];
    for (const id of this.dirty) {
      const instance = own.entries.get(id)?.instance;
      if (instance !== undefined) {
        if (instance.revision > from) entries.push(instance);
      } else {
        const tombstone = own.tombstones.get(id);
        if (tombstone !== undefined && tombstone.revision > from) removed.push({ id, revision: tombstone.revision });
      }
    }
    this.dirty.clear();
    this.published = to;
    return { node: this.nodeId, incarnation: own.incarnation, covers: [{ low: from + 1, high: to }], entries, removed, keys: undefined, life: own.life };
  }

  /**
   * Moves this node to a new incarnation: every own entry is re-issued under it (revisions
   * 1..n), so that peers that purged the old incarnation take them again.
   */
  refute(incarnation: number, reason: string): void {
    if (incarnation <= this.own.incarnation) return;
    const previous = this.own;
    // The same start under a new incarnation: the life id goes with it.
    const fresh = new OriginState(this.nodeId, incarnation, previous.life);
    this.origins.set(this.nodeId, fresh);
    this.own = fresh;
    this.published = 0;
    this.dirty.clear();
    const changes: { readonly slot: Slot; readonly instance: ServiceInstance; readonly previous: ServiceInstance }[] = [];
    for (const slot of previous.entries.values()) {
      const revision = fresh.context.prefix + 1;
      const before = slot.instance;
      const next: ServiceInstance = Object.freeze({ ...before, incarnation, revision });
      slot.instance = next;
      fresh.entries.set(next.id, slot);
      fresh.context.add(revision, revision);
      this.dirty.add(next.id);
      changes.push({ slot, instance: next, previous: before });
    }
    this.unhash(previous);
    this.rehash(fresh);
    // Told once every entry is in the new state: a listener that removes or changes an own
    // entry (a watcher that unregisters) finds it there, and what it did is not undone here.
    for (const change of changes) {
      if (fresh.entries.get(change.instance.id) !== change.slot || change.slot.instance !== change.instance) continue;
      this.options.onChange({ type: 'put', ...change });
    }
    this.options.onRefute?.(incarnation, reason);
  }

  // ---- remote state -----------------------------------------------------------------------

  /**
   * Merges a delta from a peer (already checked for shape and bounds by the wire decoder).
   * Throws InvalidPeerMessageError when it would exceed the per-node or node-count limits;
   * nothing is merged then.
   *
   * A delta that changes, at a revision, something other than what that revision changed here
   * comes from another life of the same incarnation: the node restarted and reused it (a fixed
   * or persisted incarnation lost with its state, a clock that went back). The two lives number
   * their changes alike, so merging them would keep one life's entries under the other's
   * revisions, for good and with equal digests. Neither side can tell which life is the newer
   * one, so the incarnation is retired: this replica declares it departed, as a failure detector
   * would, and the record purges it everywhere and makes the node, if it lives, move past it and
   * re-issue its entries. A delta that carries another life id than the one held is told at
   * once; one without (from a peer that sends none) by its changes (see `contradicts`).
   */
  applyDelta(delta: OriginDelta, now: number, peer: string): ApplyResult {
    if (delta.node === this.nodeId) {
      return this.checkOwn(delta.incarnation, highestCovered(delta.covers), delta.life) ? CHANGED : UNCHANGED;
    }
    const floor = this.floorOf(delta.node);
    if (delta.incarnation <= floor) {
      return { changed: false, stale: { node: delta.node, incarnation: floor, at: 0 }, retired: undefined, departed: undefined };
    }
    let state = this.origins.get(delta.node);
    if (state === undefined) {
      const departed = this.identifyDeparture(delta.node, delta.incarnation, now);
      if (departed !== undefined) return { changed: true, stale: undefined, retired: undefined, departed };
    }
    if (state !== undefined && state.incarnation > delta.incarnation) return UNCHANGED;
    const fresh = state === undefined || state.incarnation < delta.incarnation;
    if (!fresh && (otherLife(state!.life, delta.life) || contradicts(state!, delta))) {
      const retired: DepartureRecord = { node: delta.node, incarnation: delta.incarnation, at: now };
      this.applyDeparture(retired, now, 'restarted');
      return { changed: true, stale: undefined, retired, departed: undefined };
    }
    const base = fresh ? new OriginState(delta.node, delta.incarnation, delta.life) : state!;
    // The covered ranges taken: all of them, unless together with this replica's history they
    // leave more gaps than it holds (see `coversTaken`), or they are a piece of a key list whose
    // pieces below have not all arrived (see `keyListCovers`).
    const keyList = keyListCovers(base, delta, peer, now);
    const covers = this.checkLimits(base, delta, peer, state === undefined, keyList.covers);
    if (fresh) {
      if (state !== undefined) this.dropOrigin(state, 'restarted');
      state = base;
      this.origins.set(delta.node, state);
    }
    const target = state!;
    let changed = fresh;
    // Held from a peer that sends no life id: the first one heard is taken.
    if (target.life === undefined && delta.life !== undefined) {
      target.life = delta.life;
      changed = true;
    }
    const context = target.context;
    for (const tombstone of delta.removed) {
      if (context.covers(tombstone.revision)) continue;
      const existing = target.entries.get(tombstone.id);
      if (existing !== undefined && existing.instance.revision < tombstone.revision) {
        target.entries.delete(tombstone.id);
        forgetRevision(target, existing.instance.revision, tombstone.id);
        this.options.onChange({ type: 'delete', slot: existing, instance: existing.instance, reason: 'unregistered' });
        changed = true;
      }
      const stored = target.tombstones.get(tombstone.id);
      if (stored === undefined || stored.revision < tombstone.revision) {
        if (stored === undefined || stored.coveredAt !== Number.POSITIVE_INFINITY) target.pendingTombstones += 1;
        setTombstone(target, tombstone.id, { revision: tombstone.revision, coveredAt: Number.POSITIVE_INFINITY });
        target.pendingRemovals.add(tombstone);
        changed = true;
      }
    }
    for (const instance of delta.entries) {
      // A revision of a key list's piece that waits for the pieces below is refused as a covered
      // one is: the piece carried the change at it, so another one is old.
      if (context.covers(instance.revision) || waitingCovers(target, instance.revision)) continue;
      const tombstone = target.tombstones.get(instance.id);
      if (tombstone !== undefined && tombstone.revision >= instance.revision) continue;
      const existing = target.entries.get(instance.id);
      if (existing !== undefined && existing.instance.revision >= instance.revision) continue;
      const previous = existing?.instance;
      let slot = existing;
      if (slot === undefined) {
        slot = newSlot(instance);
        target.entries.set(instance.id, slot);
      } else {
        forgetRevision(target, slot.instance.revision, instance.id);
        slot.instance = instance;
      }
      target.revisions?.set(instance.revision, instance.id);
      this.options.onChange({ type: 'put', slot, instance, previous });
      changed = true;
    }
    const pruned = prunedRange(delta, covers);
    if (delta.keys !== undefined && pruned.length > 0) {
      const live = new Map<string, number>();
      for (const key of delta.keys) live.set(key.id, key.revision);
      for (const [id, slot] of target.entries) {
        const instance = slot.instance;
        if (!coveredBy(pruned, instance.revision)) continue;
        const revision = live.get(id);
        if (revision === undefined || revision < instance.revision) {
          target.entries.delete(id);
          forgetRevision(target, instance.revision, id);
          this.options.onChange({ type: 'delete', slot, instance, reason: 'unregistered' });
          changed = true;
        }
      }
      // The sender sent the key list because it had forgotten some removals among the revisions
      // it covers. This replica never saw those tombstones either, so it must answer peers that
      // are behind with the key list too, or they would keep what was removed.
      target.tombstoneFloor = Math.max(target.tombstoneFloor, highestCovered(covers));
    }
    target.keyLists = keyList.pieces;
    const before = context.describe();
    for (const interval of covers) context.add(interval.low, interval.high);
    if (context.describe() !== before) changed = true;
    const awaited = awaitedAfter(target, delta);
    if (describeIntervals(awaited) !== describeIntervals(target.awaited)) {
      if (target.awaited.length === 0) target.awaitedSince = now;
      target.awaited = awaited;
      changed = true;
    }
    // Stable only once every earlier revision is covered too: the removed entry's own revision
    // is below the tombstone's, and a gap there would let it in.
    for (const removal of target.pendingRemovals.takeThrough(context.prefix)) {
      const tombstone = target.tombstones.get(removal.id);
      if (tombstone === undefined || !stillPending(tombstone, removal)) continue;
      tombstone.coveredAt = now;
      target.pendingTombstones -= 1;
    }
    if (changed) this.rehash(target);
    return changed ? CHANGED : UNCHANGED;
  }

  /**
   * Throws InvalidPeerMessageError if `applyDelta` would refuse the delta for its bounds, without
   * changing anything: a message with several deltas is checked whole before any is merged. A
   * key-listed delta past maxServicesPerNode until its key list is counted is left to
   * `applyDelta` (see `checkLimits`).
   */
  checkDelta(delta: OriginDelta, peer: string): void {
    if (delta.node === this.nodeId || delta.incarnation <= this.floorOf(delta.node)) return;
    const state = this.origins.get(delta.node);
    if (state !== undefined && state.incarnation > delta.incarnation) return;
    const fresh = state === undefined || state.incarnation < delta.incarnation;
    const base = fresh ? new OriginState(delta.node, delta.incarnation, delta.life) : state;
    // The covers a key list takes do not depend on the time, only which lists are kept after it.
    this.checkLimits(base, delta, peer, state === undefined, keyListCovers(base, delta, peer, 0).covers, true);
  }

  /**
   * Throws if merging `delta` into `state` would pass a bound. `beforeMerge`: the check of
   * `checkDelta`, made for each delta of a message before any is merged; it does not count the
   * entries a key list removes, which takes a look at all of the origin's entries (a message of
   * many key-listed deltas that are not joined, under as many life ids, cost that once per
   * delta), and leaves such a delta to `applyDelta`, whose merge looks at them anyway.
   *
   * Returns the covered ranges of `offered` (those of the delta the merge may take, see
   * `keyListCovers`) that the merge takes (see `coversTaken`).
   */
  private checkLimits(state: OriginState, delta: OriginDelta, peer: string, newOrigin: boolean, offered: readonly Interval[], beforeMerge = false): readonly Interval[] {
    if (newOrigin && this.origins.size - 1 >= this.options.maxNodes) {
      throw new InvalidPeerMessageError(peer, 'node', `state of more than ${this.options.maxNodes} nodes (maxNodes)`);
    }
    let additions = 0;
    for (const instance of delta.entries) if (!state.entries.has(instance.id)) additions += 1;
    // Counted first without what the delta removes, which is cheap; one past the bound that way
    // is counted as it would be merged. Refused on the first count alone, an origin at the bound
    // that replaced a registration (a removal and a registration in one delta, or a key list once
    // the removal was collected) was refused on every round: its peers kept the removed entry
    // and never held the new one.
    // A key-listed delta checked before the merge is left to applyDelta (see above).
    const { covers, prefix } = coversTaken(state.context, offered);
    const pruned = prunedRange(delta, covers);
    const pruning = delta.keys !== undefined && pruned.length > 0;
    if (state.entries.size + additions > this.options.maxServicesPerNode && !(pruning && beforeMerge)) {
      if (sizeAfter(state, delta, pruned) > this.options.maxServicesPerNode) {
        throw new InvalidPeerMessageError(peer, 'entries', `node "${delta.node}" would hold more than ${this.options.maxServicesPerNode} services (maxServicesPerNode)`);
      }
    }
    if (pendingAfter(state, delta, prefix) > MAX_PENDING_TOMBSTONES) {
      throw new InvalidPeerMessageError(peer, 'removed', `more than ${MAX_PENDING_TOMBSTONES} removals ahead of node "${delta.node}"'s history`);
    }
    return covers;
  }

  /**
   * A peer holds `incarnation` of this node with revisions up to `highest`, under life id `life`
   * when it knows one. If that is newer than what this node is, or of another start under this
   * incarnation (a restart that reused an incarnation, a clock that went back), this node moves
   * past it, or its new changes would be taken for old ones. True when it refuted.
   *
   * Not past MAX_INCARNATION, though: peers refuse anything above it, so a node that moved
   * there would never be heard again. No honest node comes near (incarnations start at the
   * clock's milliseconds and grow by one per refute), so a claim of it is a hostile peer's,
   * and is ignored; so is a departure record of this node at it.
   */
  checkOwn(incarnation: number, highest: number, life?: string): boolean {
    const own = this.own;
    if (incarnation >= MAX_INCARNATION) return false;
    if (incarnation > own.incarnation || (incarnation === own.incarnation && highest > own.context.prefix)) {
      this.refute(incarnation + 1, 'a peer holds a newer history of this node');
      return true;
    }
    if (incarnation === own.incarnation && otherLife(own.life, life)) {
      this.refute(incarnation + 1, 'a peer holds an earlier start of this node under its incarnation');
      return true;
    }
    return false;
  }

  /** `checkOwn` for the entry about this node in a peer's summary. */
  checkOwnIn(summary: ReplicaSummary): boolean {
    for (const origin of summary.origins) {
      if (origin.node !== this.nodeId) continue;
      const highest = origin.cloud.length === 0 ? origin.prefix : origin.cloud[origin.cloud.length - 1]!.high;
      return this.checkOwn(origin.incarnation, highest, origin.life);
    }
    return false;
  }

  // ---- departures ---------------------------------------------------------------------------

  /**
   * This node saw `node` leave: its state is purged here and the returned record (to be
   * broadcast) purges it everywhere. Undefined when nothing is known of the node.
   */
  declareDeparted(node: string, now: number): DepartureRecord | undefined {
    if (node === this.nodeId) return undefined;
    const state = this.origins.get(node);
    if (state === undefined) {
      // Nothing of it heard here: which incarnation left is not known yet, but what it sent
      // before it left may still arrive, relayed late, or a claim of it commit in the log.
      // Remembered, bounded in number and in time, until then. Not when a departure record of it
      // is held: it was purged already, and this is that departure again (a detector that keeps
      // reporting a node it cannot reach), whose record says which incarnation left.
      if (!this.departed.has(node)) {
        this.unheard.delete(node);
        this.unheard.set(node, now);
        while (this.unheard.size > this.options.maxRememberedDepartures) this.unheard.delete(this.unheard.keys().next().value!);
      }
      return undefined;
    }
    const record: DepartureRecord = { node, incarnation: state.incarnation, at: now };
    this.applyDeparture(record, now);
    return record;
  }

  /**
   * `node` is heard of as `incarnation` (a delta, a claim in the consensus log) after it was seen
   * to leave with nothing of it heard here (see `declareDeparted`): that is the incarnation that
   * left, and its record is made, applied and returned (to be broadcast) as if it had been known
   * then. Undefined when no such departure is remembered, or it is older than
   * `departureRetentionMs`. It serves once: a later incarnation is the node's next start.
   *
   * A node that was alive after all (its failure detector was wrong and its first delta late)
   * hears the record and moves to a new incarnation, as with any mistaken departure.
   */
  identifyDeparture(node: string, incarnation: number, now: number): DepartureRecord | undefined {
    const at = this.unheard.get(node);
    if (at === undefined) return undefined;
    this.unheard.delete(node);
    if (now - at > this.options.departureRetentionMs || incarnation <= this.floorOf(node)) return undefined;
    const record: DepartureRecord = { node, incarnation, at: Math.min(at, now) };
    this.applyDeparture(record, now);
    return record;
  }

  /** `node` joined again: a departure of it seen before anything of it was heard no longer stands. */
  rejoined(node: string): void {
    this.unheard.delete(node);
  }

  /**
   * Merges a departure record. A record about this node at or above its incarnation makes it
   * refute (move to a higher incarnation and re-issue its entries). Records older than the
   * retention purge but are not kept (`at` 0 is a floor notice). Returns the incarnation of the
   * node it purged here: the one held, at or below the record's; undefined when none was held.
   */
  applyDeparture(record: DepartureRecord, now: number, reason: RemovalReason = 'departed'): number | undefined {
    if (record.node === this.nodeId) {
      if (record.incarnation >= this.own.incarnation && record.incarnation < MAX_INCARNATION) {
        this.refute(record.incarnation + 1, 'declared departed by a peer');
      }
    } else if (record.incarnation > this.floorOf(record.node)) {
      // Whoever declared it knew which incarnation left: a departure of it seen here with
      // nothing heard of it is that one (a later incarnation would be its next start).
      this.unheard.delete(record.node);
      this.floors.delete(record.node);
      this.floors.set(record.node, record.incarnation);
      while (this.floors.size > this.options.maxRememberedDepartures) this.floors.delete(this.floors.keys().next().value!);
    }
    // The record itself is replicated state, kept (also about this node) until it expires.
    const fresh = now - record.at <= this.options.departureRetentionMs;
    const existing = this.departed.get(record.node);
    if (fresh && (existing === undefined || existing.incarnation < record.incarnation)) {
      if (existing !== undefined) this.toggleHash(departureText(existing));
      // A declaration time from a clock ahead of this one is kept as now, so that it expires.
      this.departed.set(record.node, record.at > now ? { ...record, at: now } : record);
      this.toggleHash(departureText(record));
      // Bounded like everything a peer can make this node hold: past maxNodes records (made-up
      // node ids), the oldest go, or every summary and delta would carry more than a peer's
      // decoder accepts and this node would drop out of anti-entropy. Floors stay.
      while (this.departed.size > this.options.maxNodes) {
        const oldest = this.departed.keys().next().value!;
        this.toggleHash(departureText(this.departed.get(oldest)!));
        this.departed.delete(oldest);
      }
    }
    const state = record.node === this.nodeId ? undefined : this.origins.get(record.node);
    if (state === undefined || state.incarnation > record.incarnation) return undefined;
    this.dropOrigin(state, reason);
    this.origins.delete(record.node);
    return state.incarnation;
  }

  private floorOf(node: string): number {
    return this.floors.get(node) ?? Number.NEGATIVE_INFINITY;
  }

  private dropOrigin(state: OriginState, reason: RemovalReason): void {
    this.unhash(state);
    for (const slot of state.entries.values()) this.options.onChange({ type: 'delete', slot, instance: slot.instance, reason });
    state.entries.clear();
    state.revisions = undefined;
  }

  // ---- anti-entropy -------------------------------------------------------------------------

  /** What this replica holds, of every node or of the node ids in `range` only. */
  summary(range?: SummaryRange): ReplicaSummary {
    const origins: OriginSummary[] = [];
    for (const state of this.origins.values()) {
      if (!inRange(state.node, range)) continue;
      origins.push({ node: state.node, incarnation: state.incarnation, prefix: state.context.prefix, cloud: state.context.cloud.slice(), life: state.life });
    }
    const departed = [...this.departed.values()].filter((record) => inRange(record.node, range));
    return range === undefined ? { origins, departed } : { origins, departed, range };
  }

  /**
   * What a peer with `summary` lacks of this replica, as deltas and departure records. A part of
   * a summary (one with a range) speaks only for the node ids in its range: an origin outside it
   * is not one the peer lacks, but one another part tells of.
   */
  deltasFor(summary: ReplicaSummary): { deltas: OriginDelta[]; departed: DepartureRecord[] } {
    const theirs = new Map<string, OriginSummary>();
    for (const origin of summary.origins) theirs.set(origin.node, origin);
    const deltas: OriginDelta[] = [];
    for (const state of this.origins.values()) {
      if (!inRange(state.node, summary.range)) continue;
      const peer = theirs.get(state.node);
      if (peer !== undefined && peer.incarnation > state.incarnation) continue;
      // A peer holding the incarnation under another life id holds another start's history:
      // nothing of it counts, and the whole state goes, with the life id that makes it retire.
      const same = peer !== undefined && peer.incarnation === state.incarnation && !otherLife(peer.life, state.life);
      const peerContext = new CausalContext();
      if (same) peerContext.join(peer.prefix, peer.cloud);
      // One that holds everything but no life id (it heard the origin from a peer that sends
      // none) still learns it, so that their digests agree.
      if (same && containsContext(peerContext, state.context) && (peer.life !== undefined || state.life === undefined)) continue;
      const entries: ServiceInstance[] = [];
      for (const { instance } of state.entries.values()) if (!peerContext.covers(instance.revision)) entries.push(instance);
      const removed: Tombstone[] = [];
      for (const [id, tombstone] of state.tombstones) if (!peerContext.covers(tombstone.revision)) removed.push({ id, revision: tombstone.revision });
      // Removals at or below the floor may have been forgotten; a peer behind it gets the key list.
      const needKeys = peerContext.prefix < state.tombstoneFloor;
      const keys = needKeys ? [...state.entries.values()].map(({ instance }) => ({ id: instance.id, revision: instance.revision })) : undefined;
      const covers: Interval[] = [];
      if (state.context.prefix > 0) covers.push({ low: 1, high: state.context.prefix });
      covers.push(...state.context.cloud);
      deltas.push({ node: state.node, incarnation: state.incarnation, covers, entries, removed, keys, life: state.life });
    }
    const theirDepartures = new Map<string, number>();
    for (const record of summary.departed) theirDepartures.set(record.node, record.incarnation);
    const departed: DepartureRecord[] = [];
    for (const record of this.departed.values()) {
      if (!inRange(record.node, summary.range)) continue;
      const known = theirDepartures.get(record.node);
      if (known === undefined || known < record.incarnation) departed.push(record);
    }
    return { deltas, departed };
  }

  /** True when a peer with `summary` holds something this replica does not. */
  lacksFrom(summary: ReplicaSummary): boolean {
    for (const origin of summary.origins) {
      if (origin.node === this.nodeId) {
        if (origin.incarnation > this.own.incarnation) return true;
        continue;
      }
      if (origin.incarnation <= this.floorOf(origin.node)) continue;
      const state = this.origins.get(origin.node);
      if (state === undefined || state.incarnation < origin.incarnation) return true;
      if (state.incarnation > origin.incarnation) continue;
      if (otherLife(state.life, origin.life) || (state.life === undefined && origin.life !== undefined)) return true;
      const theirs = new CausalContext();
      theirs.join(origin.prefix, origin.cloud);
      if (!containsContext(state.context, theirs)) return true;
    }
    for (const record of summary.departed) {
      const mine = this.departed.get(record.node);
      if ((mine === undefined || mine.incarnation < record.incarnation) && record.incarnation > this.floorOf(record.node)) return true;
    }
    return false;
  }

  // ---- maintenance ----------------------------------------------------------------------------

  /**
   * Collects covered tombstones past retention and expired departure records, and stops awaiting
   * revisions awaited for AWAITED_RETENTION_MS.
   */
  collectGarbage(now: number): { tombstones: number; departures: number } {
    let tombstones = 0;
    for (const state of this.origins.values()) {
      // Awaited that long, they may be revisions no live replica covers (see AWAITED_RETENTION_MS):
      // the digest is the history's again, as it was before pieces named them, and it still
      // differs from that of any peer that covers more.
      if (state.awaited.length > 0 && now - state.awaitedSince >= AWAITED_RETENTION_MS) {
        state.awaited = [];
        this.rehash(state);
      }
      // This node's own removals are stable at once, but until the next own delta carries them
      // the tombstone is the only record of them: collected before that, the delta would cover
      // their revisions without naming them, and peers would keep the entries for good.
      const unpublishedAbove = state === this.own ? this.published : Number.POSITIVE_INFINITY;
      let stable = 0;
      for (const tombstone of state.tombstones.values()) if (tombstone.coveredAt !== Number.POSITIVE_INFINITY) stable += 1;
      for (const [id, tombstone] of state.tombstones) {
        if (tombstone.coveredAt === Number.POSITIVE_INFINITY || tombstone.revision > unpublishedAbove) continue;
        if (now - tombstone.coveredAt < this.options.tombstoneRetentionMs && stable <= this.options.maxStableTombstones) continue;
        state.tombstones.delete(id);
        forgetRevision(state, tombstone.revision, id);
        state.tombstoneFloor = Math.max(state.tombstoneFloor, tombstone.revision);
        stable -= 1;
        tombstones += 1;
      }
    }
    let departures = 0;
    for (const [node, record] of this.departed) {
      if (now - record.at > this.options.departureRetentionMs) {
        this.toggleHash(departureText(record));
        this.departed.delete(node);
        departures += 1;
      }
    }
    for (const [node, at] of this.unheard) {
      if (now - at <= this.options.departureRetentionMs) break;
      this.unheard.delete(node);
    }
    return { tombstones, departures };
  }

  // ---- digests ------------------------------------------------------------------------------

  /**
   * 64-bit digest of the summary (every origin's incarnation, life id and context, every departure
   * record), as 16 hex digits; this replica's own while it awaits revisions above a piece it took
   * (see `awaitedAfter`).
   */
  digest(): string {
    return toHex(this.hashLow) + toHex(this.hashHigh);
  }

  /** Counts for stats. */
  counts(): { origins: number; entries: number; tombstones: number; departed: number; floors: number } {
    let entries = 0;
    let tombstones = 0;
    for (const state of this.origins.values()) {
      entries += state.entries.size;
      tombstones += state.tombstones.size;
    }
    return { origins: this.origins.size, entries, tombstones, departed: this.departed.size, floors: this.floors.size };
  }

  /** Every record held, own and replicated. */
  *slots(): IterableIterator<Slot> {
    for (const state of this.origins.values()) yield* state.entries.values();
  }

  /** Every entry held, own and replicated. */
  *entries(): IterableIterator<ServiceInstance> {
    for (const state of this.origins.values()) for (const slot of state.entries.values()) yield slot.instance;
  }

  /** Incarnation of a node as this replica holds it (undefined when none). */
  incarnationOf(node: string): number | undefined {
    return this.origins.get(node)?.incarnation;
  }

  private rehash(state: OriginState): void {
    this.hashLow ^= state.hashLow;
    this.hashHigh ^= state.hashHigh;
    // The life id is part of it, so that two replicas holding different starts under one
    // incarnation never look converged (none held: the text is as before life ids).
    const life = state.life === undefined ? '' : `\u0000${state.life}`;
    // While it awaits the replacement of a change a piece covered without carrying it, this
    // replica may lack an entry that a peer with the same history holds, or hold one the peer
    // lacks: its digest is then its own, so that anti-entropy goes on (see `awaitedAfter`).
    // Nothing awaited: the text is as before.
    const awaiting = state.awaited.length === 0 ? '' : `\u0000awaiting\u0000${this.nodeId}`;
    const [low, high] = itemHash(`o\u0000${state.node}\u0000${state.incarnation}\u0000${state.context.describe()}${life}${awaiting}`);
    state.hashLow = low;
    state.hashHigh = high;
    this.hashLow ^= low;
    this.hashHigh ^= high;
  }

  private unhash(state: OriginState): void {
    this.hashLow ^= state.hashLow;
    this.hashHigh ^= state.hashHigh;
    state.hashLow = 0;
    state.hashHigh = 0;
  }

  private toggleHash(text: string): void {
    const [low, high] = itemHash(text);
    this.hashLow ^= low;
    this.hashHigh ^= high;
  }
}

const EMPTY = new Map<string, Slot>();

function departureText(record: DepartureRecord): string {
  return `d\u0000${record.node}\u0000${record.incarnation}`;
}

/** True when both life ids are known and differ: two starts under one incarnation. */
function otherLife(held: string | undefined, heard: string | undefined): boolean {
  return held !== undefined && heard !== undefined && held !== heard;
}

/**
 * True when `delta` (of the incarnation `state` holds) names a change at a revision this
 * replica has incorporated that is not the change it holds for that revision: the same id with
 * other content, a registration where a removal was or the reverse, or another id. One
 * revision names one change of one life, whoever relays it, so this is a second life of the
 * incarnation.
 *
 * Only what is held can be compared: a revision whose change was superseded and whose tombstone
 * is collected tells nothing. A node that restarts under its incarnation and registers its
 * services again is caught by the first revision a peer still holds (the same ids come back, as
 * its sequence starts over, with other registration times); a history longer than the node's
 * own is caught by the node itself (`checkOwn`). A change that its own id explains here (the id
 * held at a later revision, or removed at or after it) is not looked further into, which keeps
 * duplicates cheap; an id held at an earlier revision is no contradiction either, as a piece of
 * a delta can cover a revision whose change travels in a later piece.
 */
function contradicts(state: OriginState, delta: OriginDelta): boolean {
  const context = state.context;
  const heldOtherwise = (id: string, revision: number): boolean => {
    // Made only when needed, and kept for the next delta (see OriginState.revisions).
    const known = (state.revisions ??= revisionsOf(state)).get(revision);
    return known !== undefined && known !== id;
  };
  for (const removal of delta.removed) {
    if (!context.covers(removal.revision)) continue;
    const held = state.entries.get(removal.id)?.instance.revision;
    if (held === removal.revision) return true;
    if (held !== undefined && held > removal.revision) continue;
    const removed = state.tombstones.get(removal.id)?.revision;
    if (removed !== undefined && removed >= removal.revision) continue;
    if (heldOtherwise(removal.id, removal.revision)) return true;
  }
  for (const instance of delta.entries) {
    if (!context.covers(instance.revision)) continue;
    const held = state.entries.get(instance.id)?.instance;
    if (held !== undefined && held.revision === instance.revision) {
      if (sameEntry(held, instance)) continue;
      return true;
    }
    if (held !== undefined && held.revision > instance.revision) continue;
    const removed = state.tombstones.get(instance.id)?.revision;
    if (removed === instance.revision) return true;
    if (removed !== undefined && removed > instance.revision) continue;
    if (heldOtherwise(instance.id, instance.revision)) return true;
  }
  return false;
}

/**
 * How many entries `state` holds once `delta` is merged as `applyDelta` merges it (removals,
 * then entries, then the key list over `covers`), without changing anything.
 */
function sizeAfter(state: OriginState, delta: OriginDelta, covers: readonly Interval[]): number {
  const context = state.context;
  const removedAt = removalsAnew(state, delta);
  // The ids the delta changes, each with the revision held after it (undefined: removed).
  const changed = new Map<string, number | undefined>();
  for (const tombstone of delta.removed) {
    if (context.covers(tombstone.revision)) continue;
    const held = state.entries.get(tombstone.id)?.instance.revision;
    if (held !== undefined && held < tombstone.revision) changed.set(tombstone.id, undefined);
  }
  const heldRevision = (id: string): number | undefined => (changed.has(id) ? changed.get(id) : state.entries.get(id)?.instance.revision);
  const removalRevision = (id: string): number | undefined => removedAt.get(id) ?? state.tombstones.get(id)?.revision;
  for (const instance of delta.entries) {
    if (context.covers(instance.revision) || waitingCovers(state, instance.revision)) continue;
    const removed = removalRevision(instance.id);
    if (removed !== undefined && removed >= instance.revision) continue;
    const held = heldRevision(instance.id);
    if (held !== undefined && held >= instance.revision) continue;
    changed.set(instance.id, instance.revision);
  }
  let size = state.entries.size;
  for (const [id, revision] of changed) {
    const before = state.entries.has(id);
    if (revision !== undefined && !before) size += 1;
    else if (revision === undefined && before) size -= 1;
  }
  if (delta.keys === undefined || covers.length === 0) return size;
  const live = new Map<string, number>();
  for (const key of delta.keys) live.set(key.id, key.revision);
  const pruned = (id: string, revision: number): boolean => {
    if (!coveredBy(covers, revision)) return false;
    const kept = live.get(id);
    return kept === undefined || kept < revision;
  };
  for (const [id, slot] of state.entries) if (!changed.has(id) && pruned(id, slot.instance.revision)) size -= 1;
  for (const [id, revision] of changed) if (revision !== undefined && pruned(id, revision)) size -= 1;
  return size;
}

/**
 * The ids `delta` removes anew in `state` (at a revision not covered and above any removal held),
 * each with the highest revision it removes them at.
 */
function removalsAnew(state: OriginState, delta: OriginDelta): Map<string, number> {
  const removedAt = new Map<string, number>();
  for (const removal of delta.removed) {
    if (state.context.covers(removal.revision)) continue;
    const stored = removedAt.get(removal.id) ?? state.tombstones.get(removal.id)?.revision;
    if (stored === undefined || stored < removal.revision) removedAt.set(removal.id, removal.revision);
  }
  return removedAt;
}

/**
 * The ranges of `covers` a replica whose history is `context` takes, and its prefix after them:
 * every one, unless together they leave more than MAX_CLOUD_INTERVALS gaps; then those that fit,
 * lowest first, and no others.
 *
 * The bound keeps what a peer can make a replica hold (and send in every summary) small. Two
 * honest replicas that each lost other deltas of an origin can pass it together, though: each
 * holds at most MAX_CLOUD_INTERVALS gaps, but gaps that interleave add up. Refused whole, as such
 * a delta was, neither ever took anything of the other's (on every round), although what either
 * holds cannot fill the other's gaps anyway: only a peer that holds the revisions in them can.
 * Taking part of the ranges is safe, as covering fewer revisions only claims less (the merge
 * takes the delta's entries and removals whether it covers their revisions or not, as with pieces
 * that cover none), and it takes the lowest first, so that the prefix, on which removals become
 * stable, moves as far as it can.
 */
function coversTaken(context: CausalContext, covers: readonly Interval[]): { covers: readonly Interval[]; prefix: number } {
  const after = context.clone();
  for (const interval of covers) after.add(interval.low, interval.high);
  if (after.cloud.length <= MAX_CLOUD_INTERVALS) return { covers, prefix: after.prefix };
  after.prefix = context.prefix;
  after.cloud = context.cloud;
  const taken: Interval[] = [];
  for (const interval of [...covers].sort((left, right) => left.low - right.low)) {
    const { prefix, cloud } = after;
    after.add(interval.low, interval.high);
    if (after.cloud.length <= MAX_CLOUD_INTERVALS) taken.push(interval);
    else {
      // `add` replaces the cloud rather than changing it, so the one before is as it was.
      after.prefix = prefix;
      after.cloud = cloud;
    }
  }
  return { covers: taken, prefix: after.prefix };
}

/**
 * How many removals of `state` wait ahead of its history once `delta` is merged as `applyDelta`
 * merges it (its removals, then its covers, after which the prefix is `prefix`), without
 * changing anything. Counted as those held plus every removal the delta carries, as it was, an
 * honest delta was refused when about 9,000 were held: one that fills the gap below them and
 * carries the removals in it (each becomes stable at once), or a duplicate of one already merged
 * (each is held already), though after the merge fewer wait than before.
 */
function pendingAfter(state: OriginState, delta: OriginDelta, prefix: number): number {
  const context = state.context;
  const removedAt = removalsAnew(state, delta);
  // Those held that the prefix reaches become stable (counted below); one replaced by a removal
  // of the delta no longer waits as itself, and the delta's wait when the prefix does not reach them.
  let pending = state.pendingTombstones;
  for (const [id, revision] of removedAt) {
    const stored = state.tombstones.get(id);
    if (stored !== undefined && stored.coveredAt === Number.POSITIVE_INFINITY && stored.revision > prefix) pending -= 1;
    if (revision > prefix) pending += 1;
  }
  if (pending <= MAX_PENDING_TOMBSTONES || prefix <= context.prefix) return pending;
  // Past the bound unless enough of those held become stable: counted only as far as needed,
  // which costs no more than the delta's own removals.
  return pending - state.pendingRemovals.countThrough(prefix, pending - MAX_PENDING_TOMBSTONES);
}

/**
 * The revisions whose entries a key-listed delta prunes: those of its covers taken, or for a
 * piece of one (see `keyListCovers`), all of its own, taken or not. A piece's keys list every
 * live entry of the sender at the piece's revisions, whether or not the pieces below arrived.
 */
function prunedRange(delta: OriginDelta, taken: readonly Interval[]): readonly Interval[] {
  return delta.whole === undefined ? taken : delta.covers;
}

/**
 * The covered ranges of `delta` a merge may take, and the pieces of its key list held after it.
 *
 * A key list removes the entries at the revisions it covers that its keys leave out: the sender
 * forgot some removals among them. In pieces (see `encodeDeltas`), each piece prunes only at its
 * own revisions, but a forgotten removal in one piece may have removed an entry whose revision
 * lies in a piece below it. Taken alone, as it was, a piece above a lost one covered the removal
 * while the entry stayed, and when the lost piece held only revisions this replica covered
 * already, nothing showed a gap: no key list was sent again and the entry stayed for good, with
 * the digest of the peers that had removed it (and this replica passed it on in its own key
 * list). So a piece's covers are taken only once every piece below it in the whole delta has
 * arrived from the same peer (a later answer of the same peer with the same whole covers lists
 * the same changes); until then they wait, and the changes at them are refused as if covered
 * (the piece carried them). A delta not in pieces is taken at once, as before.
 *
 * Each peer's key list is followed on its own: when two peers answer the same round, their pieces
 * arrive interleaved, and with one key list per origin each piece of the other peer replaced it,
 * so no piece above the lowest was ever taken and the history stayed where it was round after
 * round. Bounded as a history is: at most MAX_KEY_LISTS_PER_ORIGIN key lists per origin, one per
 * peer (a peer's new one replaces its own), and one whose pieces arrived in more than
 * MAX_CLOUD_INTERVALS separate ranges starts again. A key list dropped so takes nothing and
 * refuses nothing any more: the revisions of its pieces that waited are not covered, so peers send
 * them again.
 *
 * A new peer past the cap replaces the list that moved least recently only if that one has not
 * moved for KEY_LIST_STALENESS_MS (its peer went silent or departed). Replaced at once, as it
 * was, with more peers answering a round than the cap, each newcomer evicted the list whose next
 * piece came next, so no list got its second piece and the history stayed at the first piece's
 * round after round. Otherwise the newcomer's key list is not followed: its piece is taken as one
 * whose pieces below never arrived (its covers wait for nothing and are not taken unless it is
 * the lowest, its prunes at its own revisions still apply), so the peer sends it again next round.
 */
function keyListCovers(state: OriginState, delta: OriginDelta, peer: string, now: number): { covers: readonly Interval[]; pieces: readonly KeyListPieces[] } {
  if (delta.keys === undefined || delta.whole === undefined) return { covers: delta.covers, pieces: state.keyLists };
  const whole = new CausalContext();
  for (const interval of delta.whole) whole.add(interval.low, interval.high);
  const held = state.keyLists.find((candidate) => candidate.peer === peer);
  const others = state.keyLists.filter((candidate) => candidate.peer !== peer);
  const same = held !== undefined && held.whole.describe() === whole.describe();
  let received = same ? held.received.clone() : new CausalContext();
  for (const interval of delta.covers) received.add(interval.low, interval.high);
  if (received.cloud.length > MAX_CLOUD_INTERVALS) {
    received = new CausalContext();
    for (const interval of delta.covers) received.add(interval.low, interval.high);
  }
  // The whole delta's ranges, lowest first, as far as the pieces that arrived reach without a hole.
  const covers: Interval[] = [];
  const ranges = whole.prefix > 0 ? [{ low: 1, high: whole.prefix }, ...whole.cloud] : whole.cloud;
  let complete = true;
  for (const interval of ranges) {
    const reach = reachFrom(received, interval.low);
    if (reach >= interval.low) covers.push({ low: interval.low, high: Math.min(reach, interval.high) });
    if (reach < interval.high) {
      complete = false;
      break;
    }
  }
  if (complete) return { covers, pieces: others };
  const followed = { peer, whole, received, movedAt: now };
  if (held !== undefined || others.length < MAX_KEY_LISTS_PER_ORIGIN) return { covers, pieces: [...others, followed] };
  // Oldest first: the lists are kept in the order they last moved.
  const [least, ...rest] = others;
  if (now - least!.movedAt >= KEY_LIST_STALENESS_MS) return { covers, pieces: [...rest, followed] };
  return { covers, pieces: others };
}

/**
 * Whether a piece of a key list that waits for the pieces below covers `revision` (see
 * `keyListCovers`). Any peer's will do: its piece carried the change at the revision, or the
 * entry there was gone at that peer, and a change at one revision is the same whoever passes it on.
 */
function waitingCovers(state: OriginState, revision: number): boolean {
  return state.keyLists.some((pieces) => pieces.received.covers(revision));
}

/**
 * The revisions `state` awaits once `delta` is merged: those it awaited, and for a piece of a
 * larger delta those of the whole delta at and above the piece's lowest, less what its history
 * now covers.
 *
 * A piece covers revisions whose changes were replaced before the sender answered (an entry
 * changed again, or removed); the replacement has a higher revision and may travel in a piece
 * above, lost or still on its way. Until it arrives, this replica covers the replaced change
 * without holding its replacement: it refuses the replaced entry from a peer that holds it (and a
 * piece of a key list prunes it), while that peer, once it covers the same revisions, holds it.
 * Their histories and so their digests were equal with different entries, and anti-entropy had
 * nothing to repair between them until a peer holding the replacement answered. The replacement
 * lies in the whole delta above the piece's lowest revision, so once the history covers those
 * revisions it has arrived (or a later one has). Only the sender's covers are awaited (a piece
 * without keys names those above its own), never the gaps between them: the sender holds those
 * revisions, while no live replica may hold the ones it lacks (see `encodeDeltas`). The whole delta's covers may hold up to MAX_CLOUD_INTERVALS + 1
 * ranges; more than that awaited, from many pieces, are kept as the one range from the lowest to
 * the highest, which awaits more, never less.
 */
function awaitedAfter(state: OriginState, delta: OriginDelta): readonly Interval[] {
  const context = state.context;
  const lowest = lowestCovered(delta.covers);
  // The common case, cheaply: nothing awaited, and nothing of the delta left to await.
  if (state.awaited.length === 0 && (delta.whole === undefined || lowest === undefined || containsAbove(context, delta.whole, lowest))) return state.awaited;
  const awaited = new CausalContext();
  for (const interval of state.awaited) awaited.add(interval.low, interval.high);
  if (delta.whole !== undefined && lowest !== undefined) {
    for (const interval of delta.whole) if (interval.high >= lowest) awaited.add(Math.max(interval.low, lowest), interval.high);
  }
  const ranges = awaited.prefix > 0 ? [{ low: 1, high: awaited.prefix }, ...awaited.cloud] : awaited.cloud;
  const remaining = ranges.flatMap((interval) => uncovered(context, interval));
  if (remaining.length <= MAX_CLOUD_INTERVALS + 1) return remaining;
  return [{ low: remaining[0]!.low, high: remaining[remaining.length - 1]!.high }];
}

/** True when `context` covers every revision of `intervals` at or above `low`. */
function containsAbove(context: CausalContext, intervals: readonly Interval[], low: number): boolean {
  for (const interval of intervals) if (interval.high >= low && !coversRange(context, Math.max(interval.low, low), interval.high)) return false;
  return true;
}

/** The parts of `interval` that `context` does not cover, lowest first. */
function uncovered(context: CausalContext, interval: Interval): Interval[] {
  const parts: Interval[] = [];
  let next = Math.max(interval.low, context.prefix + 1);
  for (const covered of context.cloud) {
    if (next > interval.high) break;
    if (covered.high < next) continue;
    if (covered.low > next) parts.push({ low: next, high: Math.min(covered.low - 1, interval.high) });
    next = covered.high + 1;
  }
  if (next <= interval.high) parts.push({ low: next, high: interval.high });
  return parts;
}

/** Text form of sorted intervals, to tell whether they changed. */
function describeIntervals(intervals: readonly Interval[]): string {
  return intervals.map((interval) => `${interval.low}-${interval.high}`).join(',');
}

/** The highest revision up to which `context` covers every revision from `low` on (low - 1 when it does not cover `low`). */
function reachFrom(context: CausalContext, low: number): number {
  if (low <= context.prefix) return context.prefix;
  for (const interval of context.cloud) if (interval.low <= low && low <= interval.high) return interval.high;
  return low - 1;
}

function coveredBy(intervals: readonly Interval[], revision: number): boolean {
  for (const interval of intervals) if (revision >= interval.low && revision <= interval.high) return true;
  return false;
}

/** True when `outer` covers every revision `inner` covers. */
function containsContext(outer: CausalContext, inner: CausalContext): boolean {
  if (inner.prefix > 0 && !coversRange(outer, 1, inner.prefix)) return false;
  for (const interval of inner.cloud) if (!coversRange(outer, interval.low, interval.high)) return false;
  return true;
}

function coversRange(context: CausalContext, low: number, high: number): boolean {
  if (high <= context.prefix) return true;
  const start = Math.max(low, context.prefix + 1);
  for (const interval of context.cloud) if (interval.low <= start && interval.high >= high) return true;
  return false;
}
