// The full mesh: every node is linked to every other, as libcluster with Distributed Erlang
// does; the right choice below about ten nodes. A node becomes a member once it answered
// directly (a mesh-join or its reply); members learned from third parties are contacted first.
// Member lists are gossiped to a random member every `gossipIntervalMs`; failed and departed
// members are tombstoned so that stale lists do not bring them back. A failed member that others
// still list is probed directly now and then (a node paused for a few seconds is alive again
// and answers): the tombstone keeps dead nodes from being dialled on every list, without keeping
// a live one out for the whole tombstone period.
import type { Random } from '@foundation/core';
import type { FullMeshConfig } from './config';
import type { FullMeshMessage, ServiceMessage } from './messages';
import { PeerSet } from './peer-set';
import { RequestDeadlines } from './request-deadlines';
import { EffectQueue } from './peer-service';
import type { PeerService, ServiceEffect } from './peer-service';
import { serialAfter } from './serial';

export interface FullMeshOptions {
  readonly self: string;
  readonly config: FullMeshConfig;
  readonly random: Random;
  readonly epoch?: number;
  /** A contact that does not answer within this long is given up (and tombstoned). */
  readonly contactTimeoutMs: number;
  /** How much longer a contact waits while its connection is being set up (see `peerConnecting`). */
  readonly connectTimeoutMs: number;
}

export class FullMeshCore implements PeerService {
  readonly mode = 'full-mesh' as const;
  readonly self: string;
  epoch: number;
  private readonly config: FullMeshConfig;
  private readonly random: Random;
  private readonly contactTimeoutMs: number;
  private readonly memberSet: PeerSet;
  /** Nodes contacted with mesh-join and not yet heard from: id → deadline. */
  private readonly contacting: RequestDeadlines;
  private readonly tombstones = new Map<string, number>();
  /** Failed (not departed) tombstoned nodes: when a third party's list may next make us probe it. */
  private readonly probeAt = new Map<string, number>();
  /** How long a failed node is left alone before a list that names it leads to a direct probe. */
  private readonly probeIntervalMs: number;
  private readonly effects = new EffectQueue<ServiceEffect>();
  private seeds: string[] = [];
  private started = false;
  private stopped = false;
  private nextGossipAt = Number.POSITIVE_INFINITY;
  private nextSeedCheckAt = Number.POSITIVE_INFINITY;
  private readonly counters = { membersAdded: 0, membersFailed: 0, membersLeft: 0, contactsTimedOut: 0, ignoredFull: 0, ignoredTombstoned: 0, tombstonedProbed: 0 };

  constructor(options: FullMeshOptions) {
    this.self = options.self;
    this.config = options.config;
    this.random = options.random;
    this.epoch = options.epoch ?? 0;
    this.contactTimeoutMs = options.contactTimeoutMs;
    this.contacting = new RequestDeadlines(options.contactTimeoutMs, options.connectTimeoutMs);
    this.memberSet = new PeerSet(options.config.maxMembers);
    this.probeIntervalMs = Math.max(options.contactTimeoutMs, options.config.gossipIntervalMs);
  }

  neighbors(): readonly string[] {
    return this.memberSet.values();
  }

  isNeighbor(peer: string): boolean {
    return this.memberSet.has(peer);
  }

  members(): string[] {
    return this.memberSet.toArray();
  }

  stats(): Record<string, number> {
    return { ...this.counters, members: this.memberSet.size, contacting: this.contacting.size, tombstones: this.tombstones.size };
  }

  setEpoch(epoch: number): void {
    if (serialAfter(epoch, this.epoch)) this.epoch = epoch;
  }

  takeEffects(): readonly ServiceEffect[] {
    return this.effects.take();
  }

  join(contacts: readonly string[], now: number): void {
    if (this.stopped) return;
    this.started = true;
    this.updateSeeds(contacts, now);
    for (const contact of contacts) this.contact(contact, now);
    this.nextGossipAt = now + this.random.float() * this.config.gossipIntervalMs;
    this.nextSeedCheckAt = now + this.contactTimeoutMs;
  }

  /** Seeds are members to be (libcluster's strategies connect to every node they resolve). */
  updateSeeds(seeds: readonly string[], now: number): void {
    this.seeds = seeds.filter((seed) => seed !== this.self);
    if (this.started && !this.stopped) for (const seed of this.seeds) this.contact(seed, now);
  }

  leave(now: number): void {
    if (this.stopped) return;
    for (const peer of this.memberSet.values()) this.send(peer, { type: 'mesh-leave', epoch: this.epoch }, false);
    this.retire(now);
  }

  retire(_now: number): void {
    if (this.stopped) return;
    for (const peer of this.memberSet.toArray()) this.effects.push({ kind: 'neighbor-down', peer, reason: 'disconnected' });
    this.memberSet.clear();
    this.contacting.clear();
    this.stopped = true;
    this.nextGossipAt = Number.POSITIVE_INFINITY;
    this.nextSeedCheckAt = Number.POSITIVE_INFINITY;
  }

  receive(from: string, message: ServiceMessage, now: number): void {
    if (this.stopped || from === this.self) return;
    const typed = message as FullMeshMessage;
    switch (typed.type) {
      case 'mesh-join':
        // The joiner contacts every member on the list it gets back, so the others learn of it
        // directly; gossip covers whatever is missed.
        this.addMember(from, now);
        this.send(from, { type: 'mesh-members', epoch: this.epoch, nodes: [this.self, ...this.memberSet.values()] }, false);
        return;
      case 'mesh-members':
        this.addMember(from, now);
        for (const node of typed.nodes) this.contact(node, now);
        return;
      case 'mesh-leave':
        this.contacting.delete(from);
        this.tombstones.set(from, now + this.config.tombstoneMs);
        this.probeAt.delete(from); // it left: nothing to probe
        if (this.memberSet.delete(from)) {
          this.counters.membersLeft += 1;
          this.effects.push({ kind: 'neighbor-down', peer: from, reason: 'left' });
        }
        return;
      default:
        return;
    }
  }

  peerDown(peer: string, now: number): void {
    if (this.stopped) return;
    const wasContacting = this.contacting.delete(peer);
    if (this.memberSet.delete(peer)) {
      this.counters.membersFailed += 1;
      this.effects.push({ kind: 'neighbor-down', peer, reason: 'failed' });
    } else if (!wasContacting) return;
    this.tombstoneFailed(peer, now);
  }

  private tombstoneFailed(peer: string, now: number): void {
    this.tombstones.set(peer, now + this.config.tombstoneMs);
    this.probeAt.set(peer, now + this.probeIntervalMs);
  }

  /** A heartbeat is direct evidence that the peer is alive and counts this node as a member. */
  heartbeatFrom(peer: string, now: number): void {
    if (this.stopped || this.memberSet.has(peer)) return;
    this.addMember(peer, now);
  }

  /**
   * The driver holds the mesh-join to `peer` until a connection to it is set up: the contact
   * gets `connectTimeoutMs` more before it counts as failed, so a slow dial to a loaded node
   * does not tombstone it (a dial that fails ends the contact sooner, through `peerDown`).
   */
  peerConnecting(peer: string, now: number): void {
    this.contacting.connecting(peer, now);
  }

  /** The connection to `peer` came up and the held mesh-join left: the answer is due within the contact timeout from now. */
  peerUp(peer: string, now: number): void {
    this.contacting.connected(peer, now);
  }

  tick(now: number): void {
    if (this.stopped || !this.started) return;
    for (const [peer, deadline] of this.contacting) {
      if (deadline > now) continue;
      this.contacting.delete(peer);
      this.counters.contactsTimedOut += 1;
      this.tombstoneFailed(peer, now);
    }
    for (const [peer, until] of this.tombstones) {
      if (until > now) continue;
      this.tombstones.delete(peer);
      this.probeAt.delete(peer);
    }
    if (now >= this.nextSeedCheckAt) {
      // A node with no member yet keeps calling its seeds every contact timeout, tombstones or
      // not: seeds started after it (a cluster whose nodes all start at once) are found as soon
      // as they listen. Once in, a seed check every tombstone period is enough.
      const isolated = this.memberSet.size === 0;
      for (const seed of this.seeds) {
        if (isolated) this.tombstones.delete(seed);
        this.contact(seed, now);
      }
      this.nextSeedCheckAt = now + (isolated ? this.contactTimeoutMs : Math.max(this.contactTimeoutMs, this.config.tombstoneMs));
    }
    if (now >= this.nextGossipAt) {
      this.nextGossipAt = now + this.config.gossipIntervalMs;
      const peer = this.memberSet.random(this.random);
      if (peer !== undefined) this.send(peer, { type: 'mesh-members', epoch: this.epoch, nodes: [this.self, ...this.memberSet.values()] }, false);
    }
  }

  nextTick(): number {
    if (this.stopped || !this.started) return Number.POSITIVE_INFINITY;
    let next = Math.min(this.nextGossipAt, this.nextSeedCheckAt);
    for (const deadline of this.contacting.values()) if (deadline < next) next = deadline;
    for (const until of this.tombstones.values()) if (until < next) next = until;
    return next;
  }

  /** Direct contact: the node is alive. A tombstone is lifted by direct contact. */
  private addMember(peer: string, _now: number): boolean {
    this.contacting.delete(peer);
    if (peer === this.self || this.memberSet.has(peer)) return false;
    if (this.memberSet.isFull()) {
      this.counters.ignoredFull += 1;
      return false;
    }
    this.tombstones.delete(peer);
    this.probeAt.delete(peer);
    this.memberSet.add(peer);
    this.counters.membersAdded += 1;
    this.effects.push({ kind: 'neighbor-up', peer });
    return true;
  }

  private contact(peer: string, now: number): void {
    if (peer === this.self || this.memberSet.has(peer) || this.contacting.has(peer)) return;
    if (this.tombstones.has(peer)) {
      // Named by a list while tombstoned: ignored, unless it failed long enough ago to probe it.
      const probeAt = this.probeAt.get(peer);
      if (probeAt === undefined || now < probeAt) {
        this.counters.ignoredTombstoned += 1;
        return;
      }
      this.probeAt.set(peer, now + this.probeIntervalMs);
      this.counters.tombstonedProbed += 1;
    }
    if (this.memberSet.size + this.contacting.size >= this.config.maxMembers) {
      this.counters.ignoredFull += 1;
      return;
    }
    this.contacting.start(peer, now);
    this.send(peer, { type: 'mesh-join', epoch: this.epoch }, true);
  }

  private send(to: string, message: FullMeshMessage, watch: boolean): void {
    this.effects.push({ kind: 'send', to, message, watch });
  }
}
