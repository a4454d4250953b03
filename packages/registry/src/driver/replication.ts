// The driver that moves the CRDT between nodes: it publishes this node's changes on the
// Broadcast port, runs anti-entropy rounds with a random member over the PeerTransport port,
// turns membership events into purges, and feeds everything it receives, decoded and checked,
// into the replica. Timers come from the injected Scheduler, peer choice from the injected
// Random, so the same code runs over sockets and in the simulator.
//
// Anti-entropy, one round (push-pull, Demers et al., "Epidemic algorithms for replicated
// database maintenance", 1987, with digests first as in Scuttlebutt):
//   A → B  digest  { hash }                      most rounds end here: the digests agree
//   B → A  summary { origins, departed, reply }  B's causal contexts, per origin
//   A → B  delta   ...                           what B lacks of A
//   A → B  summary { ..., reply: false }         only if B holds something A lacks
//   B → A  delta   ...                           what A lacks of B
// A summary larger than half of maxMessageBytes goes in parts, each for a range of node ids;
// the steps after it run per part, on that range alone.
import type { Random, Scheduler, Timer } from '@foundation/core';
import { FoundationError } from '@foundation/core';
import { joinPieces } from '../core/join-pieces';
import type { RegistryLimits } from '../core/limits';
import type { ApplyResult, DepartureRecord, Replica } from '../core/replica';
import type { SummaryRange } from '../core/summary-range';
import type { RegistryMessage } from '../core/wire';
import { decodeMessage, encodeDeltas, encodeDigest, encodeSummaries } from '../core/wire';
import type { Broadcast, BroadcastMessage } from '../ports/broadcast';
import type { LeaveReason, MembershipEvents } from '../ports/membership-events';
import type { PeerMessage, PeerTransport } from '../ports/peer-transport';

export interface ReplicationOptions {
  readonly namespace: string;
  readonly replica: Replica;
  readonly limits: RegistryLimits;
  readonly clock: Scheduler;
  readonly random: Random;
  readonly broadcast: Broadcast | undefined;
  readonly transport: PeerTransport | undefined;
  readonly membership: MembershipEvents | undefined;
  readonly antiEntropyIntervalMs: number;
  readonly publishDelayMs: number;
  /** A message from a peer was refused. */
  readonly onReject: (peer: string, error: FoundationError) => void;
  /**
   * This node saw a member leave and purged it; or, with a record, learned which incarnation of
   * a member it saw leave with nothing heard of it (see Replica.identifyDeparture).
   */
  readonly onMemberLeave: (node: string, record: DepartureRecord | undefined) => void;
  /**
   * `incarnation` of `node` was purged here other than by this node seeing it leave: by a peer's
   * departure record (the one held, at or below the record's; once per incarnation, as a record
   * that finds nothing held purges nothing), or retired because a second life of the node reused
   * it (see Replica.applyDelta).
   */
  readonly onPurge?: (node: string, incarnation: number) => void;
}

export interface ReplicationStats {
  deltasPublished: number;
  messagesReceived: number;
  messagesRejected: number;
  antiEntropyRounds: number;
  summariesSent: number;
  deltaMessagesSent: number;
}

export class Replication {
  readonly topic: string;
  readonly stats: ReplicationStats = {
    deltasPublished: 0,
    messagesReceived: 0,
    messagesRejected: 0,
    antiEntropyRounds: 0,
    summariesSent: 0,
    deltaMessagesSent: 0,
  };
  private readonly options: ReplicationOptions;
  private readonly replica: Replica;
  private readonly unsubscribers: (() => void)[] = [];
  private publishTimer: Timer | undefined;
  private roundTimer: Timer | undefined;
  /** Exchanges with newcomers, a little after each joins (cancelled at close). */
  private readonly joinTimers = new Set<Timer>();
  private closed = false;
  private announce = false;
  /** Departures this node declared, published with the next delta. */
  private pendingDepartures: DepartureRecord[] = [];

  constructor(options: ReplicationOptions) {
    this.options = options;
    this.replica = options.replica;
    this.topic = `foundation.registry/${options.namespace}`;
  }

  /** Subscribes to the ports and starts the rounds; announces this node's incarnation. */
  start(): void {
    const { broadcast, transport, membership, clock, random, antiEntropyIntervalMs } = this.options;
    if (broadcast !== undefined) this.unsubscribers.push(broadcast.subscribe(this.topic, (message) => this.receive(message, false)));
    if (transport !== undefined) this.unsubscribers.push(transport.onMessage(this.topic, (message) => this.receive(message, true)));
    if (membership !== undefined) {
      this.unsubscribers.push(membership.on('member-join', (node) => this.memberJoined(node)));
      this.unsubscribers.push(membership.on('member-leave', (node, reason) => this.memberLeft(node, reason)));
    }
    if (transport !== undefined && antiEntropyIntervalMs > 0) {
      // A random phase, so that the nodes' rounds do not fall in step.
      this.roundTimer = clock.setTimer(random.float() * antiEntropyIntervalMs, () => {
        if (this.closed) return;
        this.roundTimer = clock.setRepeatingTimer(antiEntropyIntervalMs, () => this.round());
        this.round();
      });
    }
    // Peers drop a previous incarnation's entries as soon as they hear of this one: with the
    // first delta, or alone if there is nothing to publish by then.
    this.announce = true;
    this.changed();
  }

  /** Own state changed (or a departure to announce): publish soon; what happens in the same turn goes together. */
  changed(): void {
    if (this.closed || this.options.broadcast === undefined || this.publishTimer !== undefined) return;
    this.publishTimer = this.options.clock.setTimer(this.options.publishDelayMs, () => {
      this.publishTimer = undefined;
      this.flush();
    });
  }

  /** Publishes pending own changes now. */
  flush(): void {
    if (this.closed) return;
    const delta = this.replica.takeOwnDelta();
    const departed = this.pendingDepartures;
    this.pendingDepartures = [];
    if (delta !== undefined) this.publish([delta], departed);
    else if (this.announce) this.publish([{ node: this.replica.nodeId, incarnation: this.replica.incarnation, covers: [], entries: [], removed: [], keys: undefined, life: this.replica.life }], departed);
    else if (departed.length > 0) this.publish([], departed);
    this.announce = false;
  }

  /**
   * Broadcasts departure records (this node's own purge decisions, or its own graceful leave).
   * With `now`, at once (a node that closes); otherwise with the next publication, so that
   * the departures a failure detector reports together travel in one message.
   */
  publishDepartures(records: readonly DepartureRecord[], now = false): void {
    if (records.length === 0) return;
    if (now) {
      this.publish([], records);
      return;
    }
    this.pendingDepartures.push(...records);
    this.changed();
  }

  private publish(deltas: Parameters<typeof encodeDeltas>[1], departed: readonly DepartureRecord[]): void {
    const broadcast = this.options.broadcast;
    if (broadcast === undefined) return;
    for (const payload of encodeDeltas(this.options.namespace, deltas, departed, this.options.limits.maxEntriesPerMessage, this.options.limits.maxMessageBytes)) {
      broadcast.publish(this.topic, payload);
      this.stats.deltasPublished += 1;
    }
  }

  /** Starts an anti-entropy exchange with `peer` now. */
  syncWith(peer: string): void {
    const transport = this.options.transport;
    if (this.closed || transport === undefined || peer === this.replica.nodeId) return;
    transport.send(peer, this.topic, encodeDigest(this.options.namespace, this.replica.digest()));
  }

  /** Members known to this node (from the membership port, else from the replicated state). */
  peers(): readonly string[] {
    if (this.options.membership !== undefined) return this.options.membership.members();
    const result: string[] = [];
    for (const origin of this.replica.summary().origins) if (origin.node !== this.replica.nodeId) result.push(origin.node);
    return result;
  }

  private round(): void {
    if (this.closed) return;
    this.stats.antiEntropyRounds += 1;
    this.replica.collectGarbage(this.options.clock.now());
    const peers = this.peers();
    if (peers.length === 0) return;
    const peer = this.options.random.pick(peers);
    if (peer !== this.replica.nodeId) this.syncWith(peer);
  }

  private memberJoined(node: string): void {
    if (node === this.replica.nodeId || this.closed) return;
    this.replica.rejoined(node);
    // Exchange with the newcomer soon, after a random fraction of a round: when a whole cluster
    // starts at once, every node sees joins while its first deltas are still being broadcast,
    // and exchanging at once would ship half-built state back and forth.
    const { clock, random, antiEntropyIntervalMs } = this.options;
    const timer = clock.setTimer(random.float() * (antiEntropyIntervalMs / 4), () => {
      this.joinTimers.delete(timer);
      this.syncWith(node);
    });
    this.joinTimers.add(timer);
  }

  private memberLeft(node: string, reason: LeaveReason | undefined): void {
    // An overlay link that was dropped is not a departure.
    if (node === this.replica.nodeId || this.closed || reason === 'disconnected') return;
    const record = this.replica.declareDeparted(node, this.options.clock.now());
    if (record !== undefined) this.publishDepartures([record]);
    this.options.onMemberLeave(node, record);
  }

  private receive(message: BroadcastMessage | PeerMessage, direct: boolean): void {
    if (this.closed) return;
    this.stats.messagesReceived += 1;
    const peer = typeof message.from === 'string' ? message.from : 'unknown';
    let decoded: RegistryMessage;
    try {
      decoded = decodeMessage(message.payload, peer, this.options.namespace, this.options.limits);
      this.handle(decoded, peer, direct);
    } catch (error) {
      if (!FoundationError.is(error)) throw error;
      this.reject(peer, error);
    }
  }

  private handle(message: RegistryMessage, peer: string, direct: boolean): void {
    const { replica, clock, transport, namespace, limits } = this.options;
    const now = clock.now();
    switch (message.type) {
      case 'delta': {
        for (const error of message.rejected) this.reject(peer, error);
        // The key-listed pieces of one origin are merged as one delta: each looks at all of the
        // origin's entries, and one by one a message of many of them blocked for minutes.
        const { origins, rejected: scattered } = joinPieces(message.origins, peer);
        for (const error of scattered) this.reject(peer, error);
        // Each origin's delta is checked against the bounds before anything is merged; one
        // that would exceed them is refused alone.
        const accepted = origins.filter((delta) => {
          try {
            replica.checkDelta(delta, peer);
            return true;
          } catch (error) {
            if (!FoundationError.is(error)) throw error;
            this.reject(peer, error);
            return false;
          }
        });
        const notices: DepartureRecord[] = [];
        const purged: { node: string; incarnation: number }[] = [];
        for (const record of message.departed) {
          const incarnation = replica.applyDeparture(record, now);
          if (incarnation !== undefined) purged.push({ node: record.node, incarnation });
        }
        let ownChanged = false;
        const retired: DepartureRecord[] = [];
        const departed: DepartureRecord[] = [];
        for (const delta of accepted) {
          const before = replica.incarnation;
          // Checked above against the state before the message: an origin named twice can pass
          // that check and exceed the bounds once its first delta is merged, and a key-listed
          // delta is left to the merge to count what its key list removes. applyDelta then
          // refuses it (merging nothing of it), alone, as the check would have; the deltas after
          // it, and what the ones before it asked to publish, are still taken.
          let result: ApplyResult;
          try {
            result = replica.applyDelta(delta, now, peer);
          } catch (error) {
            if (!FoundationError.is(error)) throw error;
            this.reject(peer, error);
            continue;
          }
          if (result.stale !== undefined && !notices.some((notice) => notice.node === result.stale!.node)) notices.push(result.stale);
          if (result.retired !== undefined) retired.push(result.retired);
          if (result.departed !== undefined) departed.push(result.departed);
          if (replica.incarnation !== before) ownChanged = true;
        }
        // Told once the whole message is merged, as the purges this node decides below.
        for (const { node, incarnation } of purged) this.options.onPurge?.(node, incarnation);
        // Every holder of the reused incarnation purges it, and the node moves past it.
        this.publishDepartures(retired);
        for (const record of retired) this.options.onPurge?.(record.node, record.incarnation);
        // A departure seen before anything of the node was heard, now that its incarnation is.
        this.publishDepartures(departed);
        for (const record of departed) this.options.onMemberLeave(record.node, record);
        if (message.departed.some((record) => record.node === replica.nodeId)) ownChanged = true;
        if (ownChanged) this.changed();
        // Whoever still spreads a departed incarnation learns the floor (not kept, not replicated).
        if (notices.length > 0 && transport !== undefined && peer !== replica.nodeId) {
          for (const payload of encodeDeltas(namespace, [], notices, limits.maxEntriesPerMessage, limits.maxMessageBytes)) transport.send(peer, this.topic, payload);
        }
        return;
      }
      case 'digest':
        if (!direct || transport === undefined) return;
        if (message.hash !== replica.digest()) this.sendSummary(peer, true);
        return;
      case 'summary': {
        if (!direct || transport === undefined) return;
        if (replica.checkOwnIn(message)) this.changed();
        const { deltas, departed } = replica.deltasFor(message);
        if (deltas.length > 0 || departed.length > 0) {
          for (const payload of encodeDeltas(namespace, deltas, departed, limits.maxEntriesPerMessage, limits.maxMessageBytes)) {
            transport.send(peer, this.topic, payload);
            this.stats.deltaMessagesSent += 1;
          }
        }
        // To a part, the answer is this node's summary of the same range.
        if (message.reply && replica.lacksFrom(message)) this.sendSummary(peer, false, message.range);
        return;
      }
    }
  }

  private reject(peer: string, error: FoundationError): void {
    this.stats.messagesRejected += 1;
    this.options.onReject(peer, error);
  }

  private sendSummary(peer: string, reply: boolean, range?: SummaryRange): void {
    for (const payload of encodeSummaries(this.options.namespace, this.replica.summary(range), reply, this.options.limits.maxMessageBytes)) {
      this.options.transport!.send(peer, this.topic, payload);
      this.stats.summariesSent += 1;
    }
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.pendingDepartures = [];
    this.publishTimer?.cancel();
    this.roundTimer?.cancel();
    for (const timer of this.joinTimers) timer.cancel();
    this.joinTimers.clear();
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
  }
}
