// HyParView (Leitão, Pereira, Rodrigues, "HyParView: a membership protocol for reliable
// gossip-based broadcast", DSN 2007) as a synchronous state machine. Section references are to
// the paper. A small active view of symmetric links carries broadcasts; a larger passive view
// of backups refills it when active peers fail; random walks (FORWARD_JOIN, SHUFFLE) mix the
// views. Time arrives as `now` (ms) with every input; randomness from the injected Random.
import { backoffDelay } from '@foundation/core';
import type { Random } from '@foundation/core';
import type { HyParViewConfig } from './config';
import { PeerSet } from './peer-set';
import { heldRequestDeadline } from './request-deadlines';
import { EffectQueue, SeedRejoinSchedule } from './peer-service';
import type { LeaveReason, PeerService, SeedRejoinOptions, ServiceEffect } from './peer-service';
import type { HyParViewMessage, ServiceMessage, ShuffleMessage, ShuffleReplyMessage } from './messages';
import { RateLimiter } from './rate-limiter';
import { integrateShuffle } from './shuffle';
import { serialAfter } from './serial';

/** Refusals in a row after which a starved node asks with high priority (see `promotionPriority`). */
const STARVED_REFUSALS = 2;
/**
 * Walks a node remembers for their replies (shuffleReplyRoute 'walk'), each for a shuffle
 * interval. A node forwards about as many walks per interval as a walk has hops (6), and each
 * neighbour may send it `shuffleBurst` (40) beyond its rate; past this bound the oldest walk is
 * forgotten, and its reply, should it come, dropped.
 */
const MAX_WALKS_BACK = 1024;

export interface HyParViewOptions {
  readonly self: string;
  readonly config: HyParViewConfig;
  readonly random: Random;
  /** Topology epoch stamped on every message (0 when the topology never changes). */
  readonly epoch?: number;
  /** Rejoining through the seeds now and then, so that overlays formed apart merge (see `seedRejoin`). Off when absent. */
  readonly seedRejoin?: SeedRejoinOptions;
}

/** A view remembered from an earlier run (or another simulation) to start from. */
export interface InitialView {
  /** Former neighbours: asked again with high-priority NEIGHBOR requests. */
  readonly active?: readonly string[];
  /** Former backups: the passive view to start from. */
  readonly passive?: readonly string[];
  /**
   * Take `active` as neighbours at once, without asking. Sound only when every node restores the
   * same consistent snapshot (a simulation started from another one's views, a whole-cluster
   * restart from a checkpoint): the links are then symmetric by construction.
   */
  readonly trusted?: boolean;
}

type PendingKind = 'join' | 'high' | 'low';

interface Pending {
  readonly kind: PendingKind;
  /** When the request counts as failed: moved by `peerConnecting` and `peerUp`. */
  deadline: number;
  /** Sent with the request and echoed by the reply. */
  readonly id: number;
  /** Sent because a refusal named the peer (see `askVacancy`): its own refusal names no one further. */
  readonly named: boolean;
}

interface Backoff {
  attempts: number;
  until: number;
}

export interface HyParViewStats {
  joinsAccepted: number;
  joinsRateLimited: number;
  forwardJoinsRateLimited: number;
  forwardJoinsAccepted: number;
  neighborRequestsAccepted: number;
  neighborRequestsRejected: number;
  neighborRequestsRateLimited: number;
  /** Answers to a NEIGHBOR or JOIN request that came while a later request to the same peer waited (ignored). */
  neighborRepliesSuperseded: number;
  promotionsSent: number;
  promotionsRefused: number;
  promotionsTimedOut: number;
  disconnectsSent: number;
  shufflesSent: number;
  shufflesAccepted: number;
  shufflesRateLimited: number;
  shuffleRepliesUnsolicited: number;
  /** Replies this node passed on towards their origin, back along a walk. */
  shuffleRepliesForwarded: number;
  /** Replies on their way back that matched no walk this node forwarded (or not from where it went): dropped. */
  shuffleRepliesUnrouted: number;
  /** Replies to this node's own shuffles that it integrated. */
  shuffleRepliesIntegrated: number;
  /** Refusals that named another node refused shortly before (see `onNeighbor`). */
  vacanciesShared: number;
  /** Requests this node sent to a node a refusal named. */
  vacanciesAsked: number;
  failuresDetected: number;
  rejoins: number;
  seedRejoins: number;
  selfReferences: number;
  [counter: string]: number;
}

export class HyParViewCore implements PeerService {
  readonly mode = 'hyparview' as const;
  readonly self: string;
  epoch: number;
  private readonly config: HyParViewConfig;
  private readonly random: Random;
  private readonly active: PeerSet;
  private readonly passive: PeerSet;
  private readonly pending = new Map<string, Pending>();
  private readonly backoffs = new Map<string, Backoff>();
  private readonly joinLimiter: RateLimiter;
  private readonly forwardJoinLimiter: RateLimiter;
  private readonly neighborLimiter: RateLimiter;
  private readonly shuffleLimiter: RateLimiter;
  /** Nodes whose JOIN came while this node had no other neighbour: their walks wait for one (see onJoin); made at the first. */
  private deferredWalks: string[] | undefined;
  /** Last time a DISCONNECT answered a stray heartbeat, per peer (at most one per shuffle interval); made at the first. */
  private strayAnswered: Map<string, number> | undefined;
  private readonly effects = new EffectQueue<ServiceEffect>();
  private seeds: string[] = [];
  private started = false;
  /** Whether a JOIN was ever sent (later ones are rejoins). */
  private joinedOnce = false;
  /** JOINs sent since this node last had a neighbour: each retry waits longer (see `joinRetryDelay`). */
  private joinAttempts = 0;
  private lastJoinAt = Number.NEGATIVE_INFINITY;
  /** The seed whose JOIN failed last (its connection went down, or it did not answer): the next JOIN goes to another, if there is one. */
  private failedSeed: string | undefined;
  private stopped = false;
  private nextShuffleAt = Number.POSITIVE_INFINITY;
  private nextJoinAt = Number.POSITIVE_INFINITY;
  /** When promotion should next be tried: now-ish after a slot frees or a candidate appears, or when a back-off ends. */
  private promotionAt = Number.POSITIVE_INFINITY;
  /** Low-priority promotions refused in a row while this node was starved (see `starved`). */
  private starvedRefusals = 0;
  /**
   * Low-priority promotions refused in a row while this node was not starved, and the time before
   * which such a node sends no other (see `promote`).
   */
  private settledRefusals = 0;
  private settledPromotionAt = Number.NEGATIVE_INFINITY;
  /** The last node whose low-priority request this node refused, not yet named to another (see `onNeighbor`). */
  private lastRefused: { peer: string; at: number } | undefined;
  /** The id of the last NEIGHBOR or JOIN request sent. */
  private requestIds = 0;
  /**
   * Walks this node forwarded that want their reply back along the walk, by origin and id: the
   * node the walk came from, the one it went to (only that one may send the reply back), and
   * until when. Bounded: the oldest go first.
   */
  private readonly walksBack = new Map<string, { readonly previous: string; next: string; readonly deadline: number }>();
  /** The outstanding shuffle: what it sent away, until when a reply is taken, and the id the reply must echo. */
  private shuffleSent: { nodes: string[]; deadline: number; id: number } | undefined;
  /** Shuffle ids, apart from the protocol's draws (a seeded run's other draws stay as they were); unguessable with crypto randomness. */
  private readonly shuffleIds: Random;
  /** Seed rejoins (see `seedRejoin`); a seed is reached when it accepts this node's JOIN or is among its neighbours. */
  private readonly rejoinSchedule: SeedRejoinSchedule;
  private readonly counters: HyParViewStats = {
    joinsAccepted: 0,
    joinsRateLimited: 0,
    forwardJoinsRateLimited: 0,
    forwardJoinsAccepted: 0,
    neighborRequestsAccepted: 0,
    neighborRequestsRejected: 0,
    neighborRequestsRateLimited: 0,
    neighborRepliesSuperseded: 0,
    promotionsSent: 0,
    promotionsRefused: 0,
    promotionsTimedOut: 0,
    disconnectsSent: 0,
    shufflesSent: 0,
    shufflesAccepted: 0,
    shufflesRateLimited: 0,
    shuffleRepliesUnsolicited: 0,
    shuffleRepliesForwarded: 0,
    shuffleRepliesUnrouted: 0,
    shuffleRepliesIntegrated: 0,
    vacanciesShared: 0,
    vacanciesAsked: 0,
    failuresDetected: 0,
    rejoins: 0,
    seedRejoins: 0,
    selfReferences: 0,
  };

  constructor(options: HyParViewOptions) {
    this.self = options.self;
    this.config = options.config;
    this.random = options.random;
    this.epoch = options.epoch ?? 0;
    this.active = new PeerSet(options.config.activeViewSize);
    this.passive = new PeerSet(options.config.passiveViewSize);
    this.joinLimiter = new RateLimiter(options.config.joinRatePerSecond, options.config.joinBurst);
    this.forwardJoinLimiter = new RateLimiter(options.config.forwardJoinRatePerSecond, options.config.forwardJoinBurst);
    this.neighborLimiter = new RateLimiter(options.config.neighborRatePerSecond, options.config.neighborBurst);
    this.shuffleLimiter = new RateLimiter(options.config.shuffleRatePerSecond, options.config.shuffleBurst);
    this.rejoinSchedule = new SeedRejoinSchedule(options.seedRejoin, options.random);
    this.shuffleIds = options.random.fork('shuffle-id');
  }

  // ---- views ------------------------------------------------------------------------------

  activeView(): string[] {
    return this.active.toArray();
  }

  passiveView(): string[] {
    return this.passive.toArray();
  }

  neighbors(): readonly string[] {
    return this.active.values();
  }

  isNeighbor(peer: string): boolean {
    return this.active.has(peer);
  }

  members(): string[] {
    return this.active.toArray();
  }

  /** Outstanding NEIGHBOR (or JOIN) requests, by peer. */
  pendingRequests(): string[] {
    return [...this.pending.keys()];
  }

  stats(): HyParViewStats {
    return { ...this.counters, activeViewSize: this.active.size, passiveViewSize: this.passive.size, pendingRequests: this.pending.size };
  }

  setEpoch(epoch: number): void {
    if (serialAfter(epoch, this.epoch)) this.epoch = epoch;
  }

  takeEffects(): readonly ServiceEffect[] {
    return this.effects.take();
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  /**
   * §4.2 Join: send JOIN to a contact; it adds this node to its active view and starts
   * FORWARD_JOIN walks. With no contact, this node starts a cluster of its own.
   */
  join(contacts: readonly string[], now: number, startAt: number = now): void {
    if (this.stopped) return;
    this.updateSeeds(contacts, now);
    this.start(now);
    this.nextJoinAt = startAt;
    this.tick(now);
  }

  /** Starts from a remembered view: NEIGHBOR (high) to the old active peers, the passive view as backups. */
  restore(view: InitialView, contacts: readonly string[], now: number): void {
    if (this.stopped) return;
    this.updateSeeds(contacts, now);
    // A remembered view is the cluster this node belonged to (a restart, a topology switch):
    // rejoining through the seeds is then the cluster-wide occasional one, not a retry.
    this.rejoinSchedule.reached = true;
    this.start(now);
    for (const peer of view.passive ?? []) this.addPassive(peer);
    for (const peer of (view.active ?? []).slice(0, this.config.activeViewSize)) {
      if (peer === this.self || this.pending.has(peer)) continue;
      if (view.trusted === true) this.addActive(peer);
      else {
        this.passive.delete(peer);
        this.request(peer, 'high', now);
      }
    }
    this.nextJoinAt = now + this.config.joinRetryMs;
    this.tick(now);
  }

  private start(now: number): void {
    if (this.started) return;
    this.started = true;
    // Shuffles start at a random offset so that nodes started together do not shuffle in step.
    this.nextShuffleAt = now + this.random.float() * this.config.shuffleIntervalMs;
    this.rejoinSchedule.start(now);
  }

  updateSeeds(seeds: readonly string[], now: number): void {
    const hadSeeds = this.seeds.length > 0;
    this.seeds = seeds.filter((seed) => seed !== this.self);
    this.rejoinSchedule.seedsChanged(hadSeeds, this.seeds.length > 0, now);
  }

  /** Leaving: DISCONNECT (not alive) to every active peer, so they drop this node from both views. */
  leave(now: number): void {
    if (this.stopped) return;
    for (const peer of this.active.toArray()) this.disconnect(peer, false);
    this.retire(now);
  }

  retire(_now: number): void {
    if (this.stopped) return;
    for (const peer of this.active.toArray()) this.effects.push({ kind: 'neighbor-down', peer, reason: 'disconnected' });
    this.active.clear();
    this.pending.clear();
    this.stopped = true;
    this.nextShuffleAt = Number.POSITIVE_INFINITY;
    this.nextJoinAt = Number.POSITIVE_INFINITY;
    this.rejoinSchedule.stop();
  }

  // ---- inputs -------------------------------------------------------------------------------

  receive(from: string, message: ServiceMessage, now: number): void {
    if (this.stopped) return;
    if (from === this.self) {
      this.counters.selfReferences += 1;
      return;
    }
    const typed = message as HyParViewMessage;
    switch (typed.type) {
      case 'join':
        this.onJoin(from, typed.id, now);
        return;
      case 'forward-join':
        this.onForwardJoin(from, typed.node, typed.ttl, now);
        return;
      case 'neighbor':
        this.onNeighbor(from, typed.priority, typed.id, now);
        return;
      case 'neighbor-reply':
        this.onNeighborReply(from, typed.accepted, typed.id, typed.vacant, now);
        return;
      case 'disconnect':
        this.onDisconnect(from, typed.alive);
        return;
      case 'shuffle':
        this.onShuffle(from, typed, now);
        return;
      case 'shuffle-reply':
        if (typed.origin === undefined || typed.origin === this.self) this.onShuffleReply(typed.nodes, typed.id, now);
        else this.passOnShuffleReply(from, typed, now);
        return;
      default:
        return;
    }
  }

  /** §4.3: the contact adds the new node to its active view and sends FORWARD_JOIN to every other active peer. */
  private onJoin(from: string, id: number | undefined, now: number): void {
    if (!this.joinLimiter.allow(from, now)) {
      this.counters.joinsRateLimited += 1;
      return;
    }
    this.counters.joinsAccepted += 1;
    const wasActive = this.active.has(from);
    this.addActive(from);
    this.send(from, this.reply(true, id), false);
    if (wasActive) return;
    if (this.active.size > 1) {
      this.sendWalks(from);
      return;
    }
    // No other neighbour to send walks to: this node is joining itself, or the first. Linked to
    // this node alone, the new node would know no one else, and nodes that join through either
    // would form an island; so its walks leave once this node has another neighbour.
    this.deferredWalks ??= [];
    if (this.deferredWalks.length >= this.config.activeViewSize) this.deferredWalks.shift();
    this.deferredWalks.push(from);
  }

  /** FORWARD_JOIN walks of ARWL hops for `node`, one to each active peer other than it. */
  private sendWalks(node: string): void {
    for (const peer of this.active.values()) {
      if (peer !== node) this.send(peer, { type: 'forward-join', epoch: this.epoch, node, ttl: this.config.activeRandomWalkLength }, false);
    }
  }

  /**
   * §4.3 FORWARD_JOIN: when the time to live runs out, or this node has no other neighbour, the
   * new node joins this node's active view; at the PRWL hop it joins the passive view; otherwise
   * the walk goes on to a random active peer other than the sender.
   */
  private onForwardJoin(from: string, node: string, ttl: number, now: number): void {
    if (!this.forwardJoinLimiter.allow(from, now)) {
      this.counters.forwardJoinsRateLimited += 1;
      return;
    }
    if (node === this.self) {
      this.counters.selfReferences += 1;
      return;
    }
    const timeToLive = Math.min(ttl, this.config.activeRandomWalkLength);
    if (timeToLive === 0 || this.active.size <= 1) {
      this.acceptForwardJoin(node, now);
      return;
    }
    if (timeToLive === this.config.passiveRandomWalkLength) this.addPassive(node);
    const next = this.active.random(this.random, from, node);
    if (next === undefined) {
      this.acceptForwardJoin(node, now);
      return;
    }
    this.send(next, { type: 'forward-join', epoch: this.epoch, node, ttl: timeToLive - 1 }, false);
  }

  private acceptForwardJoin(node: string, _now: number): void {
    if (this.active.has(node)) return;
    this.counters.forwardJoinsAccepted += 1;
    this.addActive(node);
    // The new node learns of the link from a high-priority NEIGHBOR, which it always accepts. It
    // asks nothing, so nothing waits for the reply, but it carries an id all the same: without
    // one, its acceptance would pass for the answer to a request sent to `node` later.
    this.send(node, { type: 'neighbor', epoch: this.epoch, priority: 'high', id: this.nextRequestId() }, false);
  }

  /** §4.4 NEIGHBOR: high priority is always accepted; low priority only with a free slot. */
  private onNeighbor(from: string, priority: 'high' | 'low', id: number | undefined, now: number): void {
    if (this.active.has(from)) {
      this.pending.delete(from);
      this.send(from, this.reply(true, id), false);
      return;
    }
    // Unanswered: the requester's timeout treats it as a dead candidate and backs off.
    if (!this.neighborLimiter.allow(from, now)) {
      this.counters.neighborRequestsRateLimited += 1;
      return;
    }
    const crossing = this.pending.has(from);
    if (priority === 'high' || !this.active.isFull() || (crossing && this.pending.get(from)!.kind !== 'low')) {
      this.pending.delete(from);
      this.addActive(from);
      this.counters.neighborRequestsAccepted += 1;
      this.send(from, this.reply(true, id), false);
      return;
    }
    this.counters.neighborRequestsRejected += 1;
    this.addPassive(from);
    // Requesters of an earlier version send no id, and ignore a node named in the reply.
    const vacant = id === undefined ? undefined : this.matchVacancy(from, now);
    if (vacant !== undefined) this.counters.vacanciesShared += 1;
    this.send(from, this.reply(false, id, vacant), false);
  }

  /**
   * A low-priority request comes from a node with a free slot. Nodes with free slots in a cluster
   * whose views are mostly full find each other slowly by asking at random, so a full node pairs
   * them: it names the node it refused last (within `4 × promotionBackoffMaxMs`) to the one it
   * refuses now, which asks that node next. Each refused node is named once.
   */
  private matchVacancy(from: string, now: number): string | undefined {
    const last = this.lastRefused;
    if (last === undefined || last.peer === from || now - last.at > 4 * this.config.promotionBackoffMaxMs || this.active.has(last.peer)) {
      this.lastRefused = { peer: from, at: now };
      return undefined;
    }
    this.lastRefused = undefined;
    return last.peer;
  }

  /** A NEIGHBOR reply; `vacant` (see `matchVacancy`) only beside the id of the request it answers. */
  private reply(accepted: boolean, id: number | undefined, vacant?: string): HyParViewMessage {
    if (id === undefined) return { type: 'neighbor-reply', epoch: this.epoch, accepted };
    return vacant === undefined ? { type: 'neighbor-reply', epoch: this.epoch, accepted, id } : { type: 'neighbor-reply', epoch: this.epoch, accepted, id, vacant };
  }

  private onNeighborReply(from: string, accepted: boolean, id: number | undefined, vacant: string | undefined, now: number): void {
    // The answer to the request pending now, or to an earlier one still on the wire (its id
    // differs). A peer that sends no id (an earlier version) answers the pending request. An
    // earlier answer is ignored while the later request waits: the peer reads the later request
    // (and any DISCONNECT sent between the two) after the earlier one, so the later answer
    // settles the link. Undoing the link here would drop the waiting request, and the promotion
    // that follows would ask the same peer again: each answer behind a newer request, for good.
    const pending = this.pending.get(from);
    if (pending !== undefined && id !== undefined && id !== pending.id) {
      this.counters.neighborRepliesSuperseded += 1;
      return;
    }
    if (pending !== undefined) this.pending.delete(from);
    if (accepted && pending?.kind === 'join') this.rejoinSchedule.reached = true;
    this.wantPromotion();
    if (!accepted) {
      if (pending === undefined) return;
      // §4.4: a refused promotion; try another passive peer, and this one again only after a back-off.
      this.counters.promotionsRefused += 1;
      if (this.starved()) this.starvedRefusals += 1;
      else this.settledBackOff(now);
      this.backOff(from, now);
      // A node asked because a refusal named it enters no view by being refused, and its own
      // refusal names no one further: a name is followed one step, so peers naming each other
      // (or themselves) get one request per request this node chose, and no place in its views.
      if (pending.named) return;
      this.addPassive(from);
      if (vacant !== undefined && vacant !== from) this.askVacancy(vacant, now);
      return;
    }
    this.backoffs.delete(from);
    if (pending !== undefined) {
      this.starvedRefusals = 0;
      this.endSettledBackOff();
    }
    if (this.active.has(from)) return;
    if (pending !== undefined && (pending.kind !== 'low' || !this.active.isFull())) {
      this.addActive(from);
      return;
    }
    // Undo the link on the other side: there is no slot for a low-priority acceptance, or this
    // node no longer waits for the answer. It stopped waiting when the request timed out, or when
    // it dropped `from` with a DISCONNECT that is still on its way there (the acceptance crossed
    // it). Linking on such an acceptance would leave `from` without the link once that DISCONNECT
    // arrives, and nothing would ever tell this node.
    this.disconnect(from, true);
    this.addPassive(from);
  }

  /** §4.2: a DISCONNECT moves the sender to the passive view (or forgets it when it is leaving). */
  private onDisconnect(from: string, alive: boolean): void {
    this.pending.delete(from);
    if (this.active.delete(from)) {
      this.endSettledBackOff();
      this.effects.push({ kind: 'neighbor-down', peer: from, reason: alive ? 'disconnected' : 'left' });
    }
    if (alive) this.addPassive(from);
    else {
      this.passive.delete(from);
      this.backoffs.delete(from);
    }
    // After the slot is free: with a full view, wanting a promotion before did nothing.
    this.wantPromotion();
  }

  /**
   * §4.5 SHUFFLE: a walk of at most `shuffleRandomWalkLength` hops; the node where it ends (time
   * to live spent, or no other neighbour) answers the origin with as many passive entries and
   * both integrate what they received. The shuffle's id (absent from an earlier version's) goes
   * along the walk and back with the reply.
   */
  private onShuffle(from: string, message: ShuffleMessage, now: number): void {
    const { origin, ttl, nodes, id } = message;
    const back = message.back === true && id !== undefined;
    // Each SHUFFLE costs a forward or a reply to its claimed origin, and fills the passive view.
    if (!this.shuffleLimiter.allow(from, now)) {
      this.counters.shufflesRateLimited += 1;
      return;
    }
    if (origin === this.self) {
      this.counters.selfReferences += 1;
      return;
    }
    const remaining = Math.min(ttl, this.config.shuffleRandomWalkLength) - 1;
    if (remaining > 0 && this.active.size > 1) {
      const next = this.active.random(this.random, from, origin);
      if (next !== undefined) {
        const epoch = this.epoch;
        if (!back) {
          this.send(next, id === undefined ? { type: 'shuffle', epoch, origin, ttl: remaining, nodes } : { type: 'shuffle', epoch, origin, ttl: remaining, nodes, id }, false);
          return;
        }
        this.rememberWalk(`${origin}\u0000${id}`, from, next, now);
        this.send(next, { type: 'shuffle', epoch, origin, ttl: remaining, nodes, id, back: true }, false);
        return;
      }
    }
    this.counters.shufflesAccepted += 1;
    const reply = this.passive.sample(this.random, nodes.length, origin);
    // The paper's way: straight to the origin.
    if (!back) this.send(origin, id === undefined ? { type: 'shuffle-reply', epoch: this.epoch, nodes: reply } : { type: 'shuffle-reply', epoch: this.epoch, nodes: reply, id }, false);
    else this.replyBack(from, origin, reply, id);
    this.integrate(nodes, reply);
  }

  /**
   * Sends a reply on its way back along a walk from a node the walk reached through `via`: to
   * `via`, or straight to the origin when that is `via` or a neighbour anyway.
   */
  private replyBack(via: string, origin: string, nodes: readonly string[], id: number): void {
    if (via === origin || this.active.has(origin)) this.send(origin, { type: 'shuffle-reply', epoch: this.epoch, nodes, id }, false);
    else this.send(via, { type: 'shuffle-reply', epoch: this.epoch, nodes, id, origin }, false);
  }

  private rememberWalk(key: string, previous: string, next: string, now: number): void {
    const known = this.walksBack.get(key);
    if (known !== undefined) {
      // The walk came by again: the reply may take the shortcut (the first way in, the last way out).
      known.next = next;
      return;
    }
    if (this.walksBack.size >= MAX_WALKS_BACK) this.walksBack.delete(this.walksBack.keys().next().value!);
    this.walksBack.set(key, { previous, next, deadline: now + this.config.shuffleIntervalMs });
  }

  /**
   * A reply on its way back along a walk this node forwarded: taken only from the node the walk
   * went to, once, before the walk is forgotten, and sent to the node it came from (or to the
   * origin at once when that is a neighbour). Anything else is dropped: a reply that matches no
   * walk here cannot be steered anywhere.
   */
  private passOnShuffleReply(from: string, message: ShuffleReplyMessage, now: number): void {
    const origin = message.origin!;
    const key = `${origin}\u0000${message.id}`;
    const walk = this.walksBack.get(key);
    if (walk === undefined || walk.next !== from || walk.deadline < now) {
      this.counters.shuffleRepliesUnrouted += 1;
      return;
    }
    this.walksBack.delete(key);
    this.counters.shuffleRepliesForwarded += 1;
    this.replyBack(walk.previous, origin, message.nodes, message.id!);
  }

  /** Forgets walks whose replies are overdue (they were taken in order, so the oldest come first). */
  private expireWalks(now: number): void {
    for (const [key, walk] of this.walksBack) {
      if (walk.deadline >= now) return;
      this.walksBack.delete(key);
    }
  }

  /**
   * Only the answer to the outstanding shuffle is integrated: one that echoes its id, before its
   * deadline, once. The walk's end is any node along it, so the sender cannot be checked; the id
   * is what only the walk's nodes know. Anything else (no shuffle out, a late answer, no id or
   * another one: a forgery, or a node of an earlier version that dropped the id) leaves the
   * views alone and keeps the shuffle waiting for its real answer.
   */
  private onShuffleReply(nodes: readonly string[], id: number | undefined, now: number): void {
    const sent = this.shuffleSent;
    if (sent === undefined || sent.deadline < now || id !== sent.id) {
      this.counters.shuffleRepliesUnsolicited += 1;
      return;
    }
    this.shuffleSent = undefined;
    this.counters.shuffleRepliesIntegrated += 1;
    this.integrate(nodes, sent.nodes);
  }

  private integrate(nodes: readonly string[], sentAway: readonly string[]): void {
    const added = integrateShuffle(nodes, sentAway, {
      self: this.self,
      active: this.active,
      passive: this.passive,
      random: this.random,
    });
    if (added.length > 0) this.wantPromotion();
  }

  /** §4.4: a failed active peer leaves the active view (not into the passive view); the tick promotes a replacement. */
  peerDown(peer: string, now: number): void {
    if (this.stopped) return;
    const pending = this.pending.get(peer);
    if (this.active.delete(peer)) {
      this.endSettledBackOff();
      this.counters.failuresDetected += 1;
      this.effects.push({ kind: 'neighbor-down', peer, reason: 'failed' });
      this.passive.delete(peer);
    }
    if (pending !== undefined) {
      this.pending.delete(peer);
      this.passive.delete(peer);
      // Another seed may answer: try it now. With this seed the only one, wait as scheduled.
      if (pending.kind === 'join') {
        this.failedSeed = peer;
        if (this.seeds.some((seed) => seed !== peer)) this.nextJoinAt = Math.min(this.nextJoinAt, now);
      } else this.counters.promotionsTimedOut += 1;
    }
    // After the slot is free: with a full view, wanting a promotion before did nothing, and the
    // failed neighbour was replaced only once a shuffle or a NEIGHBOR happened to ask again.
    this.wantPromotion();
  }

  /**
   * The driver holds messages to `peer` until a connection to it is set up: a request waiting on
   * that connection gets `connectTimeoutMs` more before it counts as failed (a dial that fails
   * ends it sooner, through `peerDown`).
   */
  peerConnecting(peer: string, now: number): void {
    const pending = this.pending.get(peer);
    if (pending === undefined) return;
    pending.deadline = heldRequestDeadline(pending.deadline, now, this.config.neighborRequestTimeoutMs, this.config.connectTimeoutMs);
  }

  /** A connection to `peer` came up, and the messages held for it left: a request to it is answered within its timeout from now. */
  peerUp(peer: string, now: number): void {
    const pending = this.pending.get(peer);
    if (pending === undefined) return;
    pending.deadline = now + this.config.neighborRequestTimeoutMs;
  }

  /** A heartbeat from a peer this node does not hold as active: the link is one-sided, so end it. */
  heartbeatFrom(peer: string, now: number): void {
    if (this.stopped || this.active.has(peer) || this.pending.has(peer) || peer === this.self) return;
    const answered = (this.strayAnswered ??= new Map<string, number>());
    const last = answered.get(peer);
    if (last !== undefined && now - last < this.config.shuffleIntervalMs) return;
    if (answered.size > 4 * this.config.passiveViewSize + 64) answered.clear();
    answered.set(peer, now);
    this.disconnect(peer, true);
  }

  // ---- ticks --------------------------------------------------------------------------------

  tick(now: number): void {
    if (this.stopped || !this.started) return;
    this.expirePending(now);
    if (this.shuffleSent !== undefined && this.shuffleSent.deadline < now) this.shuffleSent = undefined;
    this.expireWalks(now);
    this.maybeJoin(now);
    this.promote(now);
    if (now >= this.nextShuffleAt) {
      this.shuffle(now);
      this.nextShuffleAt = now + this.config.shuffleIntervalMs;
    }
    if (this.rejoinSchedule.due(now)) this.seedRejoin(now);
  }

  nextTick(): number {
    if (this.stopped || !this.started) return Number.POSITIVE_INFINITY;
    let next = Math.min(this.nextShuffleAt, this.promotionAt, this.rejoinSchedule.nextAt);
    if (this.pending.size > 0) for (const pending of this.pending.values()) if (pending.deadline < next) next = pending.deadline;
    if (this.shuffleSent !== undefined && this.shuffleSent.deadline < next) next = this.shuffleSent.deadline;
    // A JOIN still waiting (held for a connection, it may wait past the retry) holds the next one
    // back until its deadline, which is counted above: the retry time, passed, said "now" on every
    // tick until then, and the driver ticked every millisecond (5 s of them per attempt, LAN).
    if (this.active.size === 0 && this.passive.size === 0 && this.nextJoinAt < next && this.joinCandidate()) next = this.nextJoinAt;
    return next;
  }

  /** Something changed that may allow a promotion: try at the next tick. */
  private wantPromotion(): void {
    if (!this.active.isFull()) this.promotionAt = Number.NEGATIVE_INFINITY;
  }

  private expirePending(now: number): void {
    if (this.pending.size === 0) return;
    for (const [peer, pending] of this.pending) {
      if (pending.deadline > now) continue;
      this.pending.delete(peer);
      this.wantPromotion();
      // No answer: the node is dead or unreachable (§4.4 treats it as failed).
      this.passive.delete(peer);
      // A seed that swallows packets brings no peer-down: its silence is its failure, and the
      // next JOIN goes elsewhere (drawn among all the seeds, half the retries with two went back).
      if (pending.kind === 'join') this.failedSeed = peer;
      else this.counters.promotionsTimedOut += 1;
      // The peer may have taken the request (its acceptance lost, or slow and still to come): it
      // would hold this node as a neighbour that does not hold it, told only by heartbeats, when
      // on. A DISCONNECT follows the request on the wire and undoes any acceptance; one that
      // comes late is undone too (see `onNeighborReply`). Not to a peer linked meanwhile another
      // way (a FORWARD_JOIN for it ended here, its JOIN came here): it holds this node through that
      // link, and a DISCONNECT would end it on its side only.
      if (!this.active.has(peer)) this.disconnect(peer, true);
    }
  }

  private hasPendingJoin(): boolean {
    for (const pending of this.pending.values()) if (pending.kind === 'join') return true;
    return false;
  }

  /** Whether a JOIN could go out now, time aside: no JOIN waits, and a seed has no request waiting. */
  private joinCandidate(): boolean {
    if (this.seeds.length === 0 || this.hasPendingJoin()) return false;
    for (const seed of this.seeds) if (!this.pending.has(seed)) return true;
    return false;
  }

  /** Joins (or rejoins, when every view emptied) through a seed. */
  private maybeJoin(now: number): void {
    if (now < this.nextJoinAt || this.active.size > 0 || this.passive.size > 0 || !this.joinCandidate()) return;
    let candidates = this.seeds.filter((seed) => !this.pending.has(seed));
    if (this.failedSeed !== undefined && candidates.length > 1) candidates = candidates.filter((seed) => seed !== this.failedSeed);
    if (candidates.length === 0) return;
    const contact = this.random.pick(candidates);
    if (this.joinedOnce) this.counters.rejoins += 1;
    this.joinedOnce = true;
    this.joinAttempts += 1;
    this.lastJoinAt = now;
    const id = this.nextRequestId();
    this.pending.set(contact, { kind: 'join', deadline: now + this.config.neighborRequestTimeoutMs, id, named: false });
    this.send(contact, { type: 'join', epoch: this.epoch, id }, true);
    this.nextJoinAt = now + this.joinRetryDelay();
  }

  /**
   * The wait before the next JOIN: `joinRetryMs` after the first, then doubled per attempt up
   * to `joinRetryMaxMs`, a random time between half of that and all of it. Without the growth,
   * a cluster booting through one seed retried twice a second per node for as long as the seed
   * was too loaded to answer in time, and those retries were most of its load: 200 nodes on
   * two cores did not converge within 60 s (the socket benchmark, 2026-11-29).
   */
  private joinRetryDelay(): number {
    const { joinRetryMs, joinRetryMaxMs } = this.config;
    if (this.joinAttempts <= 1) return joinRetryMs;
    return backoffDelay(this.joinAttempts - 1, { initialMs: joinRetryMs, maxMs: joinRetryMaxMs, jitter: 'equal', random: this.random });
  }

  /**
   * Overlays formed apart (seeds unreachable at boot, no seed known yet, a partition long enough
   * for both sides to forget each other) never meet through the views alone: walks and shuffles
   * stay within an overlay. So now and then a node sends JOIN to a random seed not in its active
   * view; if the seed is in another overlay, the JOIN links the two and its FORWARD_JOIN
   * walks spread this node there, which the shuffles then mix. Every interval, a node sends one
   * with probability 1/n for an overlay of about n nodes, so an overlay sends about one per
   * interval whatever its size (and one that merged stays at about one: the estimate follows).
   * A node not known to share an overlay with any seed (see `SeedRejoinSchedule.reached`) asks
   * every interval. Called when the schedule says a rejoin is due.
   */
  private seedRejoin(now: number): void {
    const schedule = this.rejoinSchedule;
    // A node without neighbours is joining or promoting already.
    if (this.active.size === 0 || this.seeds.length === 0) return;
    if (!schedule.reached) {
      for (const seed of this.seeds) {
        if (this.active.has(seed)) {
          schedule.reached = true;
          break;
        }
      }
    }
    if (!schedule.chance((size) => Math.max(1, size))) return;
    // A seed in the passive view may be asked too: that entry says the seed was in this overlay
    // once, not that it is now. After a partition each half keeps the other's nodes there (in a
    // small cluster the passive view holds every node, and shuffles never displace them), and
    // with those seeds left out no node of either half had one to ask: they stayed apart for good.
    const candidates = this.seeds.filter((seed) => !this.active.has(seed) && !this.pending.has(seed));
    if (candidates.length === 0) return;
    const contact = schedule.pick(candidates);
    this.counters.seedRejoins += 1;
    const id = this.nextRequestId();
    this.pending.set(contact, { kind: 'join', deadline: now + this.config.neighborRequestTimeoutMs, id, named: false });
    this.send(contact, { type: 'join', epoch: this.epoch, id }, true);
  }

  private pendingPromotions(): number {
    let count = 0;
    if (this.pending.size > 0) for (const pending of this.pending.values()) if (pending.kind !== 'join') count += 1;
    return count;
  }

  /**
   * §4.4: while the active view has free slots, ask passive peers (at random, skipping those
   * backing off) to become neighbours: with high priority when the active view is empty (or a
   * starved node was refused twice; see `promotionPriority`), low otherwise. Up to
   * `maxPendingPromotions` requests are out at once, or one per free slot for a starved node:
   * after a mass failure most of its passive view is dead, each dead candidate costs a timeout,
   * and two at a time left survivors cut off for several rounds (docs/decisions/membership-hyparview.md,
   * also for why an empty node's requests are not capped at `maxPendingPromotions`).
   */
  private promote(now: number): void {
    if (now < this.promotionAt) return;
    this.promotionAt = Number.POSITIVE_INFINITY;
    let outstanding = this.pendingPromotions();
    const allowed = this.promotionsAllowed();
    // Full, or as many requests out as allowed (an answer or a timeout calls again), or nothing to ask.
    if (outstanding >= allowed || this.passive.size === 0) return;
    if (!this.starved() && now < this.settledPromotionAt) {
      this.promotionAt = this.settledPromotionAt;
      return;
    }
    const candidates: string[] = [];
    let earliestBackoff = Number.POSITIVE_INFINITY;
    for (const peer of this.passive.values()) {
      if (this.pending.has(peer)) continue;
      const backoff = this.backoffs.get(peer);
      if (backoff === undefined || backoff.until <= now) candidates.push(peer);
      else if (backoff.until < earliestBackoff) earliestBackoff = backoff.until;
    }
    for (const peer of this.random.sample(candidates, allowed - outstanding)) {
      this.request(peer, this.promotionPriority(), now);
      outstanding += 1;
    }
    if (outstanding < allowed) this.promotionAt = earliestBackoff;
  }

  /**
   * §4.4 asks with high priority only when the active view is empty, and a low-priority request
   * is accepted only by a node with a free slot. That leaves a small island for good: two nodes
   * that hold only each other, whose passive views name only nodes with full active views (found
   * in a 38-node simulation; Partisan's issue #75 reports the same, and Lasp reconnects isolated
   * nodes). So a starved node, one with at most a quarter of its active view, asks with high
   * priority after STARVED_REFUSALS refusals in a row; the node it asks makes room by dropping a
   * random neighbour, which then has a free slot of its own to fill.
   */
  private promotionPriority(): 'high' | 'low' {
    if (this.active.size === 0) return 'high';
    if (this.starved() && this.starvedRefusals >= STARVED_REFUSALS) {
      this.starvedRefusals = 0;
      return 'high';
    }
    return 'low';
  }

  /**
   * A refusal named a node that had a free slot: ask it now, whatever its back-off says (the
   * name is newer news than the refusal the back-off remembers). It joins the active view if it
   * accepts, and no view otherwise: a name comes from one peer's word, and must not displace the
   * passive view's entries.
   */
  private askVacancy(peer: string, now: number): void {
    if (peer === this.self || this.active.isFull() || this.active.has(peer) || this.pending.has(peer)) return;
    if (this.pendingPromotions() >= this.promotionsAllowed()) return;
    this.counters.vacanciesAsked += 1;
    this.request(peer, this.active.size === 0 ? 'high' : 'low', now, true);
  }

  /** Promotions that may be out at once: one per free slot for a starved node, else up to `maxPendingPromotions`. */
  private promotionsAllowed(): number {
    const free = this.config.activeViewSize - this.active.size;
    return this.starved() ? free : Math.min(this.config.maxPendingPromotions, free);
  }

  private starved(): boolean {
    return this.active.size <= Math.max(1, Math.floor(this.config.activeViewSize / 4));
  }

  private request(peer: string, priority: 'high' | 'low', now: number, named = false): void {
    this.counters.promotionsSent += 1;
    const id = this.nextRequestId();
    this.pending.set(peer, { kind: priority, deadline: now + this.config.neighborRequestTimeoutMs, id, named });
    // An urgent (high-priority) request watches the candidate's connection, to learn fast if it is
    // dead; a low-priority one relies on its timeout.
    this.send(peer, { type: 'neighbor', epoch: this.epoch, priority, id }, priority === 'high');
  }

  private nextRequestId(): number {
    this.requestIds = (this.requestIds + 1) >>> 0;
    return this.requestIds;
  }

  /**
   * A node that is not starved asks another passive peer at once after a refusal, as §4.4 says,
   * but after a second refusal in a row it waits before it asks anyone: `promotionBackoffInitialMs`,
   * doubling with each further refusal up to `promotionBackoffMaxMs`. The per-peer back-off alone
   * let a node with one free slot ask its whole passive view every `promotionBackoffMaxMs`, and
   * each request to a peer it holds no link with takes a connection of its own. Such a node is
   * connected; the peers it asks are full because most of the cluster is
   * (docs/decisions/membership-hyparview.md).
   */
  private settledBackOff(now: number): void {
    this.settledRefusals += 1;
    if (this.settledRefusals >= 2) this.settledPromotionAt = now + this.promotionDelay(this.settledRefusals - 1);
  }

  /**
   * After an acceptance, or when a neighbour leaves or fails (slots are free now at the peers it
   * left as well), a node that was backing off after refusals asks again at once.
   */
  private endSettledBackOff(): void {
    this.settledRefusals = 0;
    this.settledPromotionAt = Number.NEGATIVE_INFINITY;
  }

  /**
   * The wait after the `step`th refusal: `promotionBackoffInitialMs`, doubled per step up to
   * `promotionBackoffMaxMs`, and up to half again as jitter, which keeps nodes refused together
   * from asking again together.
   */
  private promotionDelay(step: number): number {
    const delay = Math.min(this.config.promotionBackoffMaxMs, this.config.promotionBackoffInitialMs * 2 ** (step - 1));
    return delay * (1 + this.random.float() / 2);
  }

  private backOff(peer: string, now: number): void {
    const backoff = this.backoffs.get(peer) ?? { attempts: 0, until: now };
    backoff.attempts += 1;
    backoff.until = now + this.promotionDelay(backoff.attempts);
    this.backoffs.set(peer, backoff);
    if (this.backoffs.size > 2 * this.config.passiveViewSize) {
      for (const key of this.backoffs.keys()) if (!this.passive.has(key)) this.backoffs.delete(key);
    }
  }

  /** §4.5: itself, ka active peers and kp passive peers, along a random walk from a random active peer. */
  private shuffle(now: number): void {
    const target = this.active.random(this.random);
    if (target === undefined) return;
    const nodes = [
      this.self,
      ...this.active.sample(this.random, this.config.shuffleActiveCount, target),
      ...this.passive.sample(this.random, this.config.shufflePassiveCount),
    ];
    this.counters.shufflesSent += 1;
    const id = this.shuffleIds.uint32();
    this.shuffleSent = { nodes: nodes.slice(1), deadline: now + this.config.shuffleIntervalMs, id };
    const ttl = this.config.shuffleRandomWalkLength;
    if (this.config.shuffleReplyRoute === 'walk') this.send(target, { type: 'shuffle', epoch: this.epoch, origin: this.self, ttl, nodes, id, back: true }, false);
    else this.send(target, { type: 'shuffle', epoch: this.epoch, origin: this.self, ttl, nodes, id }, false);
  }

  // ---- view changes -------------------------------------------------------------------------

  /** addNodeActiveView: a full active view drops a random peer first (DISCONNECT, into the passive view). */
  private addActive(peer: string): boolean {
    if (peer === this.self) {
      this.counters.selfReferences += 1;
      return false;
    }
    if (this.active.has(peer)) return false;
    if (this.active.isFull()) {
      const victim = this.active.random(this.random, peer)!;
      this.dropActive(victim, 'disconnected');
    }
    this.passive.delete(peer);
    this.backoffs.delete(peer);
    this.active.add(peer);
    if (this.joinAttempts > 0) {
      // Joined: should the view empty again, retries start over from joinRetryMs.
      this.joinAttempts = 0;
      this.failedSeed = undefined;
      this.nextJoinAt = Math.min(this.nextJoinAt, this.lastJoinAt + this.config.joinRetryMs);
    }
    this.effects.push({ kind: 'neighbor-up', peer });
    if (this.deferredWalks !== undefined && this.active.size > 1) {
      const joiners = this.deferredWalks;
      this.deferredWalks = undefined;
      for (const joiner of joiners) this.sendWalks(joiner);
    }
    return true;
  }

  private dropActive(peer: string, reason: LeaveReason): void {
    if (!this.active.delete(peer)) return;
    this.effects.push({ kind: 'neighbor-down', peer, reason });
    this.disconnect(peer, true);
    this.addPassive(peer);
  }

  /**
   * Sends DISCONNECT. It follows on the wire any request this node sent `peer` and undoes an
   * acceptance of it, so that request is forgotten here: its answer is stale when it comes.
   */
  private disconnect(peer: string, alive: boolean): void {
    this.pending.delete(peer);
    this.send(peer, { type: 'disconnect', epoch: this.epoch, alive }, false);
    this.counters.disconnectsSent += 1;
  }

  /** addNodePassiveView: never itself or an active peer; a full passive view drops a random entry. */
  private addPassive(peer: string): void {
    if (peer === this.self || this.active.has(peer) || this.passive.has(peer)) return;
    if (this.passive.capacity === 0) return;
    if (this.passive.isFull()) this.passive.delete(this.passive.random(this.random)!);
    this.passive.addNew(peer);
    this.wantPromotion();
  }

  private send(to: string, message: HyParViewMessage, watch: boolean): void {
    this.effects.push({ kind: 'send', to, message, watch });
  }
}
