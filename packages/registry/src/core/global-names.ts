// Names held through consensus (`registerGlobal`): a deterministic state machine over the
// commands of a ConsensusLog. Every replica applies the same commands in the same order, so
// every replica agrees on who holds each name; the first claim of a free name wins, later
// ones are refused until the holder releases it, leaves, or its process exits.
//
// Commands travel through the log as plain data and are checked again when applied: a replica
// never trusts the log's content more than a peer's message.
import { InvalidPeerMessageError } from '../errors/invalid-peer-message-error';
import { MAX_INCARNATION } from './limits';
import type { RegistryLimits } from './limits';
import type { ServiceInstance } from './types';
import { Reader } from './wire';

export type RegistryCommand =
  | { readonly type: 'registry-claim'; readonly namespace: string; readonly claim: Record<string, unknown> }
  | { readonly type: 'registry-release'; readonly namespace: string; readonly name: string; readonly id: string }
  | { readonly type: 'registry-release-node'; readonly namespace: string; readonly node: string; readonly incarnation: number };

/** What applying one command did, for the driver to show and to answer waiting callers. */
export interface GlobalOutcome {
  readonly added: ServiceInstance | undefined;
  readonly removed: readonly ServiceInstance[];
  /** For a claim: whether it won, and who holds the name. */
  readonly claim: { readonly id: string; readonly won: boolean; readonly holder: ServiceInstance } | undefined;
}

/** Released (node, incarnation) floors remembered; older ones are forgotten first. */
const RELEASED_NODES_KEPT = 10_000;

const NOTHING: GlobalOutcome = Object.freeze({ added: undefined, removed: [], claim: undefined });

/** The claim's plain data, as it goes into the log. */
export function claimData(instance: ServiceInstance): Record<string, unknown> {
  return {
    id: instance.id,
    name: instance.name,
    node: instance.node,
    incarnation: instance.incarnation,
    target: instance.target,
    capabilities: instance.capabilities,
    metadata: instance.metadata,
    ...(instance.version === undefined ? {} : { version: instance.version }),
    ...(instance.serviceType === undefined ? {} : { serviceType: instance.serviceType }),
    ...(instance.zone === undefined ? {} : { zone: instance.zone }),
    weight: instance.weight,
    registeredAt: instance.registeredAt,
  };
}

export class GlobalNames {
  private readonly holders = new Map<string, ServiceInstance>();
  /**
   * claim id → the name it holds. A claim id holds one name at most: the driver keeps its
   * records of global names by id, and a second name under one id (a forged or broken command)
   * took the first's record there, so the release of either left the view out of step with
   * the log.
   */
  private readonly namesById = new Map<string, string>();
  /** node → highest released incarnation: a claim from it that commits after its release is refused. */
  private readonly released = new Map<string, number>();

  constructor(
    private readonly namespace: string,
    private readonly limits: RegistryLimits,
  ) {}

  holder(name: string): ServiceInstance | undefined {
    return this.holders.get(name);
  }

  all(): IterableIterator<ServiceInstance> {
    return this.holders.values();
  }

  /** The highest released incarnation of `node`, if one is remembered. */
  releasedFloor(node: string): number | undefined {
    return this.released.get(node);
  }

  /**
   * Applies a command at log index `index`. Commands for other namespaces are ignored; a
   * malformed command throws InvalidPeerMessageError (5604) and changes nothing.
   */
  apply(command: unknown, index: number): GlobalOutcome {
    const reader: Reader = new Reader('consensus-log', this.limits);
    const record = reader.record(command, 'command');
    if (record.namespace !== this.namespace) return NOTHING;
    switch (record.type) {
      case 'registry-claim': {
        const claim = reader.record(record.claim, 'claim');
        const node = reader.nodeId(claim.node, 'claim.node');
        const incarnation = reader.incarnation(claim.incarnation, 'claim.incarnation');
        const decoded = reader.entry({ ...claim, mode: 'unique', health: 'healthy', load: 0, revision: index }, 'claim', node, incarnation);
        const instance: ServiceInstance = Object.freeze(Object.assign({}, decoded, { scope: 'global' as const }));
        const heldName = this.namesById.get(instance.id);
        if (heldName !== undefined && heldName !== instance.name) reader.fail('claim.id', `the id already holds the name "${heldName}"`);
        if (incarnation <= (this.released.get(node) ?? -1)) return { added: undefined, removed: [], claim: { id: instance.id, won: false, holder: instance } };
        const holder = this.holders.get(instance.name);
        if (holder !== undefined) return { added: undefined, removed: [], claim: { id: instance.id, won: holder.id === instance.id, holder } };
        this.holders.set(instance.name, instance);
        this.namesById.set(instance.id, instance.name);
        return { added: instance, removed: [], claim: { id: instance.id, won: true, holder: instance } };
      }
      case 'registry-release': {
        const name = reader.name(record.name, 'name', this.limits.maxNameLength);
        const holder = this.holders.get(name);
        if (holder === undefined || holder.id !== record.id) return NOTHING;
        this.holders.delete(name);
        this.namesById.delete(holder.id);
        return { added: undefined, removed: [holder], claim: undefined };
      }
      case 'registry-release-node': {
        const node = reader.nodeId(record.node, 'node');
        const incarnation = reader.incarnation(record.incarnation, 'incarnation');
        // A node released while it lives moves past its release (see Registry), which it cannot
        // past MAX_INCARNATION: a release at it, which no node reaches, is a buggy or hostile
        // peer's, and would refuse every claim of the node for good.
        if (incarnation >= MAX_INCARNATION) reader.fail('incarnation', `a release at ${MAX_INCARNATION}, an incarnation no node reaches`);
        if (incarnation > (this.released.get(node) ?? -1)) {
          this.released.delete(node);
          this.released.set(node, incarnation);
          if (this.released.size > RELEASED_NODES_KEPT) this.released.delete(this.released.keys().next().value!);
        }
        const removed: ServiceInstance[] = [];
        for (const [name, holder] of this.holders) {
          if (holder.node === node && holder.incarnation <= incarnation) {
            this.holders.delete(name);
            this.namesById.delete(holder.id);
            removed.push(holder);
          }
        }
        return removed.length === 0 ? NOTHING : { added: undefined, removed, claim: undefined };
      }
      default:
        throw new InvalidPeerMessageError('consensus-log', 'command.type', `unknown command ${JSON.stringify(record.type)?.slice(0, 40)}`);
    }
  }
}

/** A command of the log at its index, as a consensus log's history keeps it. */
export interface LoggedCommand {
  readonly index: number;
  readonly command: unknown;
}

/**
 * The shortest history that replays to the same global names as `history` (for a log that
 * keeps its registry commands across snapshots and would otherwise keep every one for good):
 * the claims that hold a name now, and the release of each node whose floor is still
 * remembered, in log order. Commands of other namespaces are kept; malformed ones (not even
 * an object included), claims that lost or were released, and releases that no longer matter
 * are dropped.
 *
 * Pass the registry's own namespace and limits: a command refused under them must be dropped
 * here too, or it could hold a name in the compacted history that another claim won.
 * Replaying the result gives the same holders, with the same revisions (their claims keep
 * their indexes), and the same release floors in the same order.
 */
export function compactRegistryCommands<Entry extends LoggedCommand>(history: readonly Entry[], namespace: string, limits: RegistryLimits): Entry[] {
  const names = new GlobalNames(namespace, limits);
  const kept: Entry[] = [];
  const claims = new Map<number, Entry>();
  const floors = new Map<string, Entry>();
  for (const entry of history) {
    const command = entry.command as Record<string, unknown> | null;
    const isRecord = typeof command === 'object' && command !== null;
    if (isRecord && command.namespace !== namespace) {
      kept.push(entry);
      continue;
    }
    let outcome: GlobalOutcome;
    const node = isRecord && command.type === 'registry-release-node' ? command.node : undefined;
    const before = typeof node === 'string' ? names.releasedFloor(node) : undefined;
    try {
      outcome = names.apply(command, entry.index);
    } catch {
      continue; // refused when applied, so it changed nothing
    }
    if (outcome.added !== undefined) claims.set(entry.index, entry);
    if (typeof node === 'string' && names.releasedFloor(node) !== before) floors.set(node, entry);
  }
  for (const holder of names.all()) kept.push(claims.get(holder.revision)!);
  for (const [node, entry] of floors) if (names.releasedFloor(node) !== undefined) kept.push(entry);
  return kept.sort((a, b) => a.index - b.index);
}
