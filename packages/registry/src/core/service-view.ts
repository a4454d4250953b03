// What this node can see: every instance it holds (its own and replicated ones, plus global
// registrations), indexed so that queries do not scan. A name resolves by these rules:
//
//   - a `global` registration (through consensus) holds its name alone;
//   - otherwise instances are ordered by (registeredAt, node, id), the same order on every
//     node; if the first is `unique` it holds the name alone, and if it is a `group` member,
//     every group member is visible and unique registrations of the name are not;
//   - hidden instances are conflict losers: their own node hears `name-conflict`.
//
// Indexes (capability, service type, node → instances) hold visible instances only; discovery
// starts from the smallest index set the criteria name and checks the rest per candidate.
import type { SemVer } from '../semver/version';
import { parseVersion } from '../semver/version';
import type { CompiledCriteria } from './criteria';
import { matches } from './criteria';
import type { HealthStatus, ServiceInstance } from './types';

/** Why an instance went away. */
export type DownReason = 'unregistered' | 'restarted' | 'departed' | 'process-exit' | 'name-conflict';

export type ViewEvent =
  | { readonly type: 'up'; readonly instance: ServiceInstance }
  | { readonly type: 'down'; readonly instance: ServiceInstance; readonly reason: DownReason }
  | { readonly type: 'change'; readonly instance: ServiceInstance; readonly previous: ServiceInstance };

/** An instance hidden by another that holds its name. */
export interface Conflict {
  readonly loser: ServiceInstance;
  readonly winner: ServiceInstance;
}

export interface Slot {
  instance: ServiceInstance;
  visible: boolean;
  /** The id of the instance that hides this one, when hidden (conflicts are reported once per winner). */
  hiddenBy: string | undefined;
  /** The parsed version, or null when the instance has none. */
  readonly version: SemVer | null;
}

interface NameGroup {
  readonly slots: Slot[];
  /** Unique or global slots in the group; 0 means every slot is a visible group member. */
  exclusive: number;
  preferred: Slot | undefined;
}

const HEALTH_RANK: Record<HealthStatus, number> = { healthy: 0, degraded: 1, unhealthy: 2 };

function precedes(left: ServiceInstance, right: ServiceInstance): boolean {
  if ((left.scope === 'global') !== (right.scope === 'global')) return left.scope === 'global';
  if (left.registeredAt !== right.registeredAt) return left.registeredAt < right.registeredAt;
  if (left.node !== right.node) return left.node < right.node;
  return left.id < right.id;
}

function parseOptionalVersion(version: string | undefined): SemVer | null {
  if (version === undefined) return null;
  try {
    return parseVersion(version);
  } catch {
    return null;
  }
}

export class ServiceView {
  private readonly slots = new Map<string, Slot>();
  private readonly groups = new Map<string, NameGroup>();
  private readonly byCapability = new Map<string, Set<Slot>>();
  private readonly byType = new Map<string, Set<Slot>>();
  private readonly byNode = new Map<string, Set<Slot>>();
  private readonly visible = new Set<Slot>();

  constructor(
    private readonly nodeId: string,
    private readonly emit: (event: ViewEvent) => void,
    private readonly onConflict: (conflict: Conflict) => void,
  ) {}

  get size(): number {
    return this.visible.size;
  }

  /** Adds or replaces an instance (by id). */
  put(instance: ServiceInstance): void {
    const existing = this.slots.get(instance.id);
    if (existing !== undefined && existing.instance.name === instance.name && existing.instance.mode === instance.mode && sameIndexing(existing.instance, instance)) {
      const previous = existing.instance;
      existing.instance = instance;
      const group = this.groups.get(instance.name)!;
      if (previous.registeredAt !== instance.registeredAt && group.exclusive > 0) this.resolve(group, 'name-conflict');
      if (previous.health !== instance.health || previous.registeredAt !== instance.registeredAt) {
        if (group.preferred === existing) this.prefer(group);
        else this.offer(group, existing);
      }
      if (existing.visible && previous !== instance) this.emit({ type: 'change', instance, previous });
      return;
    }
    if (existing !== undefined) this.remove(existing, 'unregistered', true);
    const slot: Slot = { instance, visible: false, hiddenBy: undefined, version: parseOptionalVersion(instance.version) };
    this.slots.set(instance.id, slot);
    let group = this.groups.get(instance.name);
    if (group === undefined) {
      group = { slots: [], exclusive: 0, preferred: undefined };
      this.groups.set(instance.name, group);
    }
    group.slots.push(slot);
    if (isExclusive(instance)) group.exclusive += 1;
    if (group.exclusive === 0) {
      this.show(slot);
      this.emit({ type: 'up', instance });
      this.offer(group, slot);
    } else {
      this.resolve(group, 'name-conflict');
      this.prefer(group);
    }
  }

  /** Removes an instance by id; false when it is not held. */
  delete(id: string, reason: DownReason): boolean {
    const slot = this.slots.get(id);
    if (slot === undefined) return false;
    this.remove(slot, reason, false);
    return true;
  }

  private remove(slot: Slot, reason: DownReason, replacing: boolean): void {
    const instance = slot.instance;
    this.slots.delete(instance.id);
    const group = this.groups.get(instance.name)!;
    const index = group.slots.indexOf(slot);
    group.slots.splice(index, 1);
    if (isExclusive(instance)) group.exclusive -= 1;
    if (slot.visible) {
      this.hide(slot);
      if (!replacing) this.emit({ type: 'down', instance, reason });
    }
    if (group.slots.length === 0) {
      this.groups.delete(instance.name);
      return;
    }
    if (group.exclusive > 0 || isExclusive(instance)) this.resolve(group, 'name-conflict');
    if (group.preferred === slot || !group.preferred?.visible) this.prefer(group);
  }

  /** Recomputes which slots of a name are visible, emitting up/down and conflicts. */
  private resolve(group: NameGroup, reason: DownReason): void {
    let first: Slot | undefined;
    for (const slot of group.slots) if (first === undefined || precedes(slot.instance, first.instance)) first = slot;
    if (first === undefined) return;
    const exclusive = isExclusive(first.instance);
    for (const slot of group.slots) {
      const shouldShow = exclusive ? slot === first : !isExclusive(slot.instance);
      if (shouldShow && !slot.visible) {
        this.show(slot);
        this.emit({ type: 'up', instance: slot.instance });
      } else if (!shouldShow && slot.visible) {
        this.hide(slot);
        this.emit({ type: 'down', instance: slot.instance, reason });
      }
      if (shouldShow) slot.hiddenBy = undefined;
      else if (slot.hiddenBy !== first.instance.id) {
        slot.hiddenBy = first.instance.id;
        this.onConflict({ loser: slot.instance, winner: first.instance });
      }
    }
  }

  /** Makes `slot` the preferred one if it beats the current choice. */
  private offer(group: NameGroup, slot: Slot): void {
    if (!slot.visible) return;
    if (group.preferred === undefined || !group.preferred.visible || this.better(slot.instance, group.preferred.instance)) group.preferred = slot;
  }

  private prefer(group: NameGroup): void {
    let best: Slot | undefined;
    for (const slot of group.slots) {
      if (!slot.visible) continue;
      if (best === undefined || this.better(slot.instance, best.instance)) best = slot;
    }
    group.preferred = best;
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
    this.visible.add(slot);
    const instance = slot.instance;
    for (const capability of instance.capabilities) addTo(this.byCapability, capability, slot);
    if (instance.serviceType !== undefined) addTo(this.byType, instance.serviceType, slot);
    addTo(this.byNode, instance.node, slot);
  }

  private hide(slot: Slot): void {
    slot.visible = false;
    this.visible.delete(slot);
    const instance = slot.instance;
    for (const capability of instance.capabilities) removeFrom(this.byCapability, capability, slot);
    if (instance.serviceType !== undefined) removeFrom(this.byType, instance.serviceType, slot);
    removeFrom(this.byNode, instance.node, slot);
  }

  // ---- queries -------------------------------------------------------------------------------

  /** The instance a name resolves to (see `better`), or undefined. */
  lookup(name: string): ServiceInstance | undefined {
    return this.groups.get(name)?.preferred?.instance;
  }

  /** Visible instances of a name, oldest first. */
  lookupAll(name: string): ServiceInstance[] {
    const group = this.groups.get(name);
    if (group === undefined) return [];
    const result: ServiceInstance[] = [];
    for (const slot of group.slots) if (slot.visible) result.push(slot.instance);
    return result.sort((left, right) => (precedes(left, right) ? -1 : 1));
  }

  /** Every instance held under a name, visible or not. */
  allOf(name: string): ServiceInstance[] {
    return this.groups.get(name)?.slots.map((slot) => slot.instance) ?? [];
  }

  get(id: string): ServiceInstance | undefined {
    return this.slots.get(id)?.instance;
  }

  isVisible(id: string): boolean {
    return this.slots.get(id)?.visible ?? false;
  }

  /** Names with at least one visible instance, sorted. */
  names(): string[] {
    const result: string[] = [];
    for (const [name, group] of this.groups) if (group.preferred !== undefined) result.push(name);
    return result.sort();
  }

  /** Visible instances matching `criteria`, at most `limit`. */
  discover(criteria: CompiledCriteria, limit = Number.POSITIVE_INFINITY): ServiceInstance[] {
    const result: ServiceInstance[] = [];
    if (limit <= 0) return result;
    // The smallest candidate set the criteria name; the other all-of sets are checked by membership.
    let smallest: Iterable<Slot> | undefined;
    let smallestSize = Number.POSITIVE_INFINITY;
    const required: Set<Slot>[] = [];
    for (const capability of criteria.capabilities) {
      const set = this.byCapability.get(capability);
      if (set === undefined) return result;
      required.push(set);
      if (set.size < smallestSize) {
        smallest = set;
        smallestSize = set.size;
      }
    }
    if (criteria.name !== undefined) {
      const group = this.groups.get(criteria.name);
      if (group === undefined) return result;
      if (group.slots.length < smallestSize) {
        smallest = group.slots;
        smallestSize = group.slots.length;
      }
    }
    if (criteria.serviceType !== undefined) {
      const set = this.byType.get(criteria.serviceType);
      if (set === undefined) return result;
      if (set.size < smallestSize) {
        smallest = set;
        smallestSize = set.size;
      }
    }
    if (criteria.nodes !== undefined && criteria.nodes.length === 1) {
      const set = this.byNode.get(criteria.nodes[0]!);
      if (set === undefined) return result;
      if (set.size < smallestSize) smallest = set;
    }
    if (smallest === undefined && criteria.anyCapabilities.length > 0) {
      const union = new Set<Slot>();
      for (const capability of criteria.anyCapabilities) for (const slot of this.byCapability.get(capability) ?? []) union.add(slot);
      smallest = union;
    }
    for (const slot of smallest ?? this.visible) {
      if (!slot.visible) continue;
      let inAll = true;
      for (const set of required) {
        if (set !== smallest && !set.has(slot)) {
          inAll = false;
          break;
        }
      }
      if (!inAll || !matches(criteria, slot.instance, slot.version, true)) continue;
      result.push(slot.instance);
      if (result.length >= limit) break;
    }
    return result;
  }

  /** Whether an instance matches criteria (for watchers). */
  matches(criteria: CompiledCriteria, instance: ServiceInstance): boolean {
    const slot = this.slots.get(instance.id);
    const version = slot !== undefined && slot.instance === instance ? slot.version : parseOptionalVersion(instance.version);
    return matches(criteria, instance, version);
  }
}

function isExclusive(instance: ServiceInstance): boolean {
  return instance.mode === 'unique' || instance.scope === 'global';
}

function sameIndexing(left: ServiceInstance, right: ServiceInstance): boolean {
  if (left.serviceType !== right.serviceType || left.node !== right.node || left.scope !== right.scope || left.version !== right.version) return false;
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
