// What this node can see: every instance it holds (its own and replicated ones, plus global
// registrations), indexed so that queries do not scan. A name resolves by these rules:
//
//   - a `global` registration (through consensus) holds its name alone;
//   - otherwise instances are ordered by (registeredAt, node, registration order), the same
//     order on every node; if the first is `unique` it holds the name alone, and if it is a
//     `group` member, every group member is visible and unique registrations of the name are not;
//   - hidden instances are conflict losers: their own node hears `name-conflict`.
//
// Indexes (capability, service type → instances) hold visible instances only; discovery starts
// from the smallest candidate set the criteria name (an index set, a name's instances, a node's
// records) and checks the rest per candidate. The records are the replica's (one per entry and
// node), which the view marks as held and visible.
import type { SemVer } from '../semver/version';
import { parseVersion } from '../semver/version';
import type { CompiledCriteria } from './criteria';
import { matches } from './criteria';
import { PostingList, intersect } from './posting-list';
import type { Slot } from './replica';
import type { HealthStatus, ServiceInstance } from './types';

/** Why an instance went away. */
export type DownReason = 'unregistered' | 'restarted' | 'departed' | 'process-exit' | 'name-conflict';

export type ViewEvent =
  /**
   * `previous`: the entry was re-indexed under its id, shown before in that old form (told
   * going just before) and shown again now; the registry tells a change of health between the two.
   */
  | { readonly type: 'up'; readonly instance: ServiceInstance; readonly previous?: ServiceInstance }
  /**
   * `next`: the entry was re-indexed under its id (another name, capabilities, type or mode) and
   * this is its old form going; `next` is the form it has now. Nothing was unregistered: the
   * registry tells such a down as a change that left the criteria, not by `reason`.
   */
  | { readonly type: 'down'; readonly instance: ServiceInstance; readonly reason: DownReason; readonly next?: ServiceInstance }
  | { readonly type: 'change'; readonly instance: ServiceInstance; readonly previous: ServiceInstance };

/** An instance hidden by another that holds its name. */
export interface Conflict {
  readonly loser: ServiceInstance;
  readonly winner: ServiceInstance;
}

/**
 * A slot as it ranked when it went into a group's heap: the entry stands for the slot while the
 * slot is a visible member of the group and still ranks so (see `standsFor`).
 */
interface Ranked {
  readonly slot: Slot;
  readonly instance: ServiceInstance;
}

/** A name held by more than one instance. A name with one instance maps to its Slot directly (most names). */
class NameGroup {
  /** Unique or global slots in the group; 0 means every slot is a visible group member. */
  exclusive: number;
  preferred: Slot | undefined;
  /**
   * While `exclusive` is 0: a binary heap of the members by lookup preference (`better`), so
   * that the next preferred one is found without comparing every member when the preferred
   * one leaves or gets worse. Entries that no longer stand for their slot are dropped as they
   * reach the top, and the heap is rebuilt (or, as a member leaves, dropped) once they may make
   * up half of it, so it never holds more than twice the members. Undefined until needed, and
   * while a unique or global slot is in the group (then `prefer` scans).
   */
  heap: Ranked[] | undefined = undefined;

  constructor(
    /** In arrival order; a Set, so that one leaving a large group costs O(1). */
    readonly slots: Set<Slot>,
    exclusive: number,
    preferred: Slot | undefined,
  ) {
    this.exclusive = exclusive;
    this.preferred = preferred;
  }
}

type NameEntry = Slot | NameGroup;

function isGroup(entry: NameEntry): entry is NameGroup {
  return entry instanceof NameGroup;
}

const HEALTH_RANK: Record<HealthStatus, number> = { healthy: 0, degraded: 1, unhealthy: 2 };

function precedes(left: ServiceInstance, right: ServiceInstance): boolean {
  if ((left.scope === 'global') !== (right.scope === 'global')) return left.scope === 'global';
  if (left.registeredAt !== right.registeredAt) return left.registeredAt < right.registeredAt;
  if (left.node !== right.node) return left.node < right.node;
  if (left.incarnation !== right.incarnation) return left.incarnation < right.incarnation;
  // A node's ids in one incarnation end in a growing sequence number, so the shorter id is the
  // older: as text alone, `…/10` came before `…/2` (registrations in one millisecond are common).
  if (left.id.length !== right.id.length) return left.id.length < right.id.length;
  return left.id < right.id;
}

/** Parsed versions by text: services share few distinct versions, and every node parses them. */
const parsedVersions = new Map<string, SemVer | null>();
const PARSED_VERSIONS_KEPT = 4096;

function parseOptionalVersion(version: string | undefined): SemVer | null {
  if (version === undefined) return null;
  let parsed = parsedVersions.get(version);
  if (parsed === undefined) {
    try {
      parsed = parseVersion(version);
    } catch {
      parsed = null;
    }
    if (parsedVersions.size >= PARSED_VERSIONS_KEPT) parsedVersions.delete(parsedVersions.keys().next().value!);
    parsedVersions.set(version, parsed);
  }
  return parsed;
}

/** Where the view finds every record, and a node's records, without keeping maps of its own. */
export interface SlotSource {
  all(): Iterable<Slot>;
  ofNode(node: string): Iterable<Slot>;
  /** How many records `ofNode(node)` yields. */
  countOfNode(node: string): number;
}

export class ServiceView {
  private readonly names = new Map<string, NameEntry>();
  /** Name → the target it resolves to, kept beside `names` so that a lookup is one map read. */
  private readonly targets = new Map<string, unknown>();
  private readonly byCapability = new Map<string, PostingList>();
  /** Gives each slot that becomes visible a new, larger ordinal: posting lists stay sorted by appending. */
  private nextOrdinal = 0;
  private readonly byType = new Map<string, Set<Slot>>();
  private visibleCount = 0;

  /**
   * What the change in progress has to tell, in order. It is told once the view is consistent
   * again (names, targets and indexes all updated), so that a watcher or a conflict handler
   * that reads the view, or changes it, sees the state its event describes.
   */
  private readonly pending: ({ readonly event: ViewEvent; readonly sequence: number } | { readonly conflict: Conflict })[] = [];
  private telling = false;
  /** Events emitted so far, told or pending; each event's sequence number is its place in them. */
  private emitted = 0;
  /** While a re-indexed slot that was shown is put back: the slot and its old form (see ViewEvent 'up'). */
  private reindexed: { readonly slot: Slot; readonly previous: ServiceInstance } | undefined;

  constructor(
    private readonly nodeId: string,
    private readonly source: SlotSource,
    private readonly tellEvent: (event: ViewEvent, sequence: number) => void,
    private readonly tellConflict: (conflict: Conflict) => void,
  ) {}

  /** Emits `slot` coming up, with its old form if it is a re-indexed slot that was shown before. */
  private emitUp(slot: Slot): void {
    const reindexed = this.reindexed;
    this.emit(reindexed?.slot === slot ? { type: 'up', instance: slot.instance, previous: reindexed.previous } : { type: 'up', instance: slot.instance });
  }

  private emit(event: ViewEvent): void {
    this.pending.push({ event, sequence: this.emitted });
    this.emitted += 1;
  }

  /**
   * The sequence number the next event will have. The view already shows every event below it,
   * told or not: a listener that starts from the view as it is now (a watch with `initial`, from
   * inside a handler while events are pending) skips the events numbered below.
   */
  get nextSequence(): number {
    return this.emitted;
  }

  private onConflict(conflict: Conflict): void {
    this.pending.push({ conflict });
  }

  /** Tells what is pending; a change made by a listener meanwhile queues behind and is told by this loop. */
  private tell(): void {
    if (this.telling) return;
    this.telling = true;
    try {
      for (let index = 0; index < this.pending.length; index += 1) {
        const next = this.pending[index]!;
        if ('conflict' in next) this.tellConflict(next.conflict);
        else this.tellEvent(next.event, next.sequence);
      }
    } finally {
      this.pending.length = 0;
      this.telling = false;
    }
  }

  /** Visible instances. */
  get size(): number {
    return this.visibleCount;
  }

  /**
   * Takes in a record that is new, or whose instance changed from `previous`. A change of
   * name, mode, scope, node, type or capabilities is handled as a removal and an addition, both told.
   */
  put(slot: Slot, previous: ServiceInstance | undefined): void {
    this.putSlot(slot, previous);
    this.syncTarget(slot.instance.name);
    if (previous !== undefined && previous.name !== slot.instance.name) this.syncTarget(previous.name);
    this.tell();
  }

  private putSlot(slot: Slot, previous: ServiceInstance | undefined): void {
    const instance = slot.instance;
    if (slot.held && previous !== undefined) {
      if (previous.name === instance.name && previous.mode === instance.mode && sameIndexing(previous, instance)) {
        const entry = this.names.get(instance.name)!;
        if (isGroup(entry)) {
          if (previous.registeredAt !== instance.registeredAt && entry.exclusive > 0) this.resolve(entry);
          if (rankChanged(previous, instance)) {
            // Offered first: the heap then holds the slot as it ranks now.
            this.offer(entry, slot);
            if (entry.preferred === slot) this.prefer(entry);
          }
        }
        if (slot.visible && previous !== instance) this.emit({ type: 'change', instance, previous });
        return;
      }
      // The instance as it was goes down, told: watchers of its old name, capabilities or type
      // hear it leave (told only the addition, they kept it for good).
      const shown = slot.visible;
      slot.instance = previous;
      this.remove(slot, 'unregistered', instance);
      slot.instance = instance;
      if (shown) this.reindexed = { slot, previous };
    }
    this.addSlot(slot);
    this.reindexed = undefined;
  }

  /** Adds a slot that is not held (new, or a re-indexed one whose old form was taken out). */
  private addSlot(slot: Slot): void {
    const instance = slot.instance;
    slot.held = true;
    slot.visible = false;
    slot.hiddenBy = undefined;
    const entry = this.names.get(instance.name);
    if (entry === undefined) {
      // Alone under its name: visible, whatever its mode.
      this.names.set(instance.name, slot);
      this.show(slot);
      this.emitUp(slot);
      return;
    }
    let group: NameGroup;
    if (isGroup(entry)) group = entry;
    else {
      group = new NameGroup(new Set([entry]), isExclusive(entry.instance) ? 1 : 0, entry);
      this.names.set(instance.name, group);
    }
    group.slots.add(slot);
    if (isExclusive(instance)) group.exclusive += 1;
    if (group.exclusive === 0) {
      this.show(slot);
      this.emitUp(slot);
      this.offer(group, slot);
    } else {
      this.resolve(group);
      this.prefer(group);
    }
  }

  /** Lets go of a record (its instance as it was last shown). */
  delete(slot: Slot, reason: DownReason): void {
    if (!slot.held) return;
    this.remove(slot, reason);
    this.syncTarget(slot.instance.name);
    this.tell();
  }

  private syncTarget(name: string): void {
    const entry = this.names.get(name);
    const instance = entry === undefined ? undefined : isGroup(entry) ? entry.preferred?.instance : entry.instance;
    if (instance === undefined) this.targets.delete(name);
    else this.targets.set(name, instance.target);
  }

  private remove(slot: Slot, reason: DownReason, next?: ServiceInstance): void {
    const instance = slot.instance;
    slot.held = false;
    if (slot.visible) {
      this.hide(slot);
      this.emit(next === undefined ? { type: 'down', instance, reason } : { type: 'down', instance, reason, next });
    }
    const entry = this.names.get(instance.name)!;
    if (!isGroup(entry)) {
      this.names.delete(instance.name);
      return;
    }
    entry.slots.delete(slot);
    // The heap's entries of members that left hold their instances (targets, metadata): once
    // they may make up half of it, it goes, and the next `prefer` builds it from the members.
    // Otherwise a group that shrank while its preferred member stayed would keep them all.
    if (entry.heap !== undefined && entry.heap.length >= 2 * entry.slots.size + 16) entry.heap = undefined;
    if (isExclusive(instance)) entry.exclusive -= 1;
    if (entry.exclusive > 0 || isExclusive(instance)) this.resolve(entry);
    if (entry.slots.size === 1) {
      // Back to one instance: it holds the name alone, and is visible.
      const last = entry.slots.values().next().value!;
      if (!last.visible) {
        this.show(last);
        this.emit({ type: 'up', instance: last.instance });
      }
      last.hiddenBy = undefined;
      this.names.set(instance.name, last);
      return;
    }
    if (entry.preferred === slot || !entry.preferred?.visible) this.prefer(entry);
  }

  /** Recomputes which slots of a name are visible, emitting up/down and conflicts. */
  private resolve(group: NameGroup): void {
    let first: Slot | undefined;
    for (const slot of group.slots) if (first === undefined || precedes(slot.instance, first.instance)) first = slot;
    if (first === undefined) return;
    const exclusive = isExclusive(first.instance);
    for (const slot of group.slots) {
      const shouldShow = exclusive ? slot === first : !isExclusive(slot.instance);
      if (shouldShow && !slot.visible) {
        this.show(slot);
        this.emitUp(slot);
      } else if (!shouldShow && slot.visible) {
        this.hide(slot);
        this.emit({ type: 'down', instance: slot.instance, reason: 'name-conflict' });
      }
      if (shouldShow) slot.hiddenBy = undefined;
      else if (slot.hiddenBy !== first.instance.id) {
        slot.hiddenBy = first.instance.id;
        this.onConflict({ loser: slot.instance, winner: first.instance });
      }
    }
  }

  /** Makes `slot` the preferred one if it beats the current choice; a new or changed member goes into the heap. */
  private offer(group: NameGroup, slot: Slot): void {
    if (!slot.visible) return;
    if (group.heap !== undefined && group.exclusive === 0) {
      if (group.heap.length >= 2 * group.slots.size + 16) this.rebuildHeap(group);
      else this.pushRanked(group.heap, { slot, instance: slot.instance });
    }
    if (group.preferred === undefined || !group.preferred.visible || this.better(slot.instance, group.preferred.instance)) group.preferred = slot;
  }

  /** Finds the preferred slot again (the preferred one left, or got worse). */
  private prefer(group: NameGroup): void {
    if (group.exclusive > 0) {
      // Rare (a conflict): a scan, and the heap is rebuilt when the group is all members again.
      group.heap = undefined;
      let best: Slot | undefined;
      for (const slot of group.slots) {
        if (!slot.visible) continue;
        if (best === undefined || this.better(slot.instance, best.instance)) best = slot;
      }
      group.preferred = best;
      return;
    }
    if (group.heap === undefined || group.heap.length >= 2 * group.slots.size + 16) this.rebuildHeap(group);
    const heap = group.heap!;
    while (heap.length > 0 && !standsFor(group, heap[0]!)) this.popRanked(heap);
    group.preferred = heap[0]?.slot;
  }

  private rebuildHeap(group: NameGroup): void {
    const heap: Ranked[] = [];
    for (const slot of group.slots) if (slot.visible) heap.push({ slot, instance: slot.instance });
    for (let index = (heap.length >>> 1) - 1; index >= 0; index -= 1) this.siftDown(heap, index);
    group.heap = heap;
  }

  private pushRanked(heap: Ranked[], entry: Ranked): void {
    heap.push(entry);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >>> 1;
      if (!this.better(heap[index]!.instance, heap[parent]!.instance)) break;
      [heap[index], heap[parent]] = [heap[parent]!, heap[index]!];
      index = parent;
    }
  }

  private popRanked(heap: Ranked[]): void {
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    this.siftDown(heap, 0);
  }

  private siftDown(heap: Ranked[], start: number): void {
    let index = start;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= heap.length) return;
      const right = left + 1;
      const child = right < heap.length && this.better(heap[right]!.instance, heap[left]!.instance) ? right : left;
      if (!this.better(heap[child]!.instance, heap[index]!.instance)) return;
      [heap[index], heap[child]] = [heap[child]!, heap[index]!];
      index = child;
    }
  }

  /** Lookup preference: healthier first, then this node's, then the oldest, then by id. */
  private better(left: ServiceInstance, right: ServiceInstance): boolean {
    const health = HEALTH_RANK[left.health] - HEALTH_RANK[right.health];
    if (health !== 0) return health < 0;
    const leftLocal = left.node === this.nodeId;
    if (leftLocal !== (right.node === this.nodeId)) return leftLocal;
    return precedes(left, right);
  }

  private show(slot: Slot): void {
    slot.visible = true;
    this.visibleCount += 1;
    this.nextOrdinal += 1;
    slot.ordinal = this.nextOrdinal;
    const instance = slot.instance;
    for (const capability of instance.capabilities) {
      let list = this.byCapability.get(capability);
      if (list === undefined) {
        list = new PostingList();
        this.byCapability.set(capability, list);
      }
      list.add(slot.ordinal, slot);
    }
    if (instance.serviceType !== undefined) addTo(this.byType, instance.serviceType, slot);
  }

  private hide(slot: Slot): void {
    slot.visible = false;
    this.visibleCount -= 1;
    const instance = slot.instance;
    for (const capability of instance.capabilities) {
      const list = this.byCapability.get(capability);
      if (list === undefined) continue;
      list.delete(slot.ordinal);
      if (list.size === 0) this.byCapability.delete(capability);
    }
    if (instance.serviceType !== undefined) removeFrom(this.byType, instance.serviceType, slot);
  }

  // ---- queries -------------------------------------------------------------------------------

  /** The target a name resolves to (see `better`), or undefined: one map read. */
  target(name: string): unknown {
    return this.targets.get(name);
  }

  /** The instance a name resolves to (see `better`), or undefined. */
  lookup(name: string): ServiceInstance | undefined {
    const entry = this.names.get(name);
    if (entry === undefined) return undefined;
    return isGroup(entry) ? entry.preferred?.instance : entry.instance;
  }

  /** Visible instances of a name, oldest first. */
  lookupAll(name: string): ServiceInstance[] {
    const entry = this.names.get(name);
    if (entry === undefined) return [];
    if (!isGroup(entry)) return [entry.instance];
    const result: ServiceInstance[] = [];
    for (const slot of entry.slots) if (slot.visible) result.push(slot.instance);
    return result.sort((left, right) => (precedes(left, right) ? -1 : 1));
  }

  /** Every instance held under a name, visible or not. */
  allOf(name: string): ServiceInstance[] {
    const entry = this.names.get(name);
    if (entry === undefined) return [];
    return isGroup(entry) ? [...entry.slots].map((slot) => slot.instance) : [entry.instance];
  }

  /** Names with at least one visible instance, sorted. */
  nameList(): string[] {
    const result: string[] = [];
    for (const [name, entry] of this.names) if (!isGroup(entry) || entry.preferred !== undefined) result.push(name);
    return result.sort();
  }

  /** Visible instances matching `criteria`, at most `limit`. */
  discover(criteria: CompiledCriteria, limit = Number.POSITIVE_INFINITY): ServiceInstance[] {
    const result: ServiceInstance[] = [];
    if (limit <= 0) return result;
    // The all-of capabilities' posting lists; a capability nobody has matches nothing.
    const lists: PostingList[] = [];
    let shortest = Number.POSITIVE_INFINITY;
    for (const capability of criteria.capabilities) {
      const list = this.byCapability.get(capability);
      if (list === undefined) return result;
      lists.push(list);
      shortest = Math.min(shortest, list.size);
    }
    // Another candidate set the criteria name, when it is smaller: a name's instances, a type's, a node's.
    let other: Iterable<Slot> | undefined;
    let otherSize = Number.POSITIVE_INFINITY;
    if (criteria.name !== undefined) {
      const entry = this.names.get(criteria.name);
      if (entry === undefined) return result;
      other = isGroup(entry) ? entry.slots : [entry];
      otherSize = isGroup(entry) ? entry.slots.size : 1;
    }
    if (criteria.serviceType !== undefined) {
      const set = this.byType.get(criteria.serviceType);
      if (set === undefined) return result;
      if (set.size < otherSize) {
        other = set;
        otherSize = set.size;
      }
    }
    if (criteria.nodes !== undefined && criteria.nodes.length === 1) {
      const node = criteria.nodes[0]!;
      const count = this.source.countOfNode(node);
      if (count < otherSize) {
        other = this.source.ofNode(node);
        otherSize = count;
      }
    }
    let candidates: Iterable<Slot>;
    let checkLists = false;
    if (other !== undefined && otherSize < shortest) {
      candidates = other;
      checkLists = lists.length > 0;
    } else if (lists.length > 0) {
      candidates = intersect(lists);
    } else if (criteria.anyCapabilities.length > 0) {
      const union = new Set<Slot>();
      for (const capability of criteria.anyCapabilities) {
        const list = this.byCapability.get(capability);
        if (list !== undefined) for (const slot of list.values()) union.add(slot);
      }
      candidates = union;
    } else candidates = this.source.all();
    const needsVersion = criteria.range !== undefined;
    for (const slot of candidates) {
      if (!slot.visible) continue;
      if (checkLists) {
        let inAll = true;
        for (const list of lists) {
          if (!list.has(slot.ordinal)) {
            inAll = false;
            break;
          }
        }
        if (!inAll) continue;
      }
      const instance = slot.instance;
      if (!matches(criteria, instance, needsVersion ? parseOptionalVersion(instance.version) : null, true)) continue;
      result.push(instance);
      if (result.length >= limit) break;
    }
    return result;
  }

  /** Whether an instance matches criteria (for watchers). */
  matches(criteria: CompiledCriteria, instance: ServiceInstance): boolean {
    return matches(criteria, instance, criteria.range === undefined ? null : parseOptionalVersion(instance.version));
  }
}

/** Whether a change of an instance can change its lookup preference (see `better` and `precedes`). */
function rankChanged(previous: ServiceInstance, instance: ServiceInstance): boolean {
  return previous.health !== instance.health || previous.registeredAt !== instance.registeredAt || previous.incarnation !== instance.incarnation;
}

/** Whether a heap entry still stands for its slot: a visible member of the group, ranking as it did. */
function standsFor(group: NameGroup, entry: Ranked): boolean {
  const slot = entry.slot;
  return slot.visible && group.slots.has(slot) && !rankChanged(entry.instance, slot.instance);
}

function isExclusive(instance: ServiceInstance): boolean {
  return instance.mode === 'unique' || instance.scope === 'global';
}

function sameIndexing(left: ServiceInstance, right: ServiceInstance): boolean {
  if (left.serviceType !== right.serviceType || left.node !== right.node || left.scope !== right.scope) return false;
  if (left.capabilities === right.capabilities) return true;
  if (left.capabilities.length !== right.capabilities.length) return false;
  for (let index = 0; index < left.capabilities.length; index += 1) if (left.capabilities[index] !== right.capabilities[index]) return false;
  return true;
}

function addTo(index: Map<string, Set<Slot>>, key: string, slot: Slot): void {
  let set = index.get(key);
  if (set === undefined) {
    set = new Set();
    index.set(key, set);
  }
  set.add(slot);
}

function removeFrom(index: Map<string, Set<Slot>>, key: string, slot: Slot): void {
  const set = index.get(key);
  if (set === undefined) return;
  set.delete(slot);
  if (set.size === 0) index.delete(key);
}
