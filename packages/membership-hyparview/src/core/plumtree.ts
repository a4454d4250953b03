// Plumtree (Leitão, Pereira, Rodrigues, "Epidemic Broadcast Trees", SRDS 2007) as a synchronous
// state machine over whatever neighbours the peer service provides. Section references are to
// the paper. Payloads travel eagerly along a spanning tree; every other link carries lazy IHAVE
// announcements, so a node whose tree branch broke notices what it misses and GRAFTs it, which
// also repairs the tree. Duplicates PRUNE the link they came over.
import type { Random } from '@foundation/core';
import type { PlumtreeConfig } from './config';
import { MessageCache } from './message-cache';
import type { GossipMessage, PlumtreeMessage } from './messages';
import { payloadBytes } from './payload-size';
import { EffectQueue } from './peer-service';
import { RateLimiter } from './rate-limiter';

/** A broadcast as it is delivered to this node. */
export interface Delivery {
  readonly id: string;
  readonly topic: string;
  readonly origin: string;
  readonly payload: unknown;
  /** Hops from the origin. */
  readonly hops: number;
}

export type PlumtreeEffect =
  | { readonly kind: 'send'; readonly to: string; readonly message: PlumtreeMessage }
  | { readonly kind: 'deliver'; readonly delivery: Delivery };

export interface PlumtreeOptions {
  readonly self: string;
  readonly config: PlumtreeConfig;
  readonly random: Random;
  /** Ids per IHAVE, GRAFT or DIGEST message. Default 1,024. */
  readonly maxIdsPerMessage?: number;
}

export interface PlumtreeStats {
  broadcasts: number;
  delivered: number;
  gossipSent: number;
  gossipReceived: number;
  duplicates: number;
  ihaveSent: number;
  ihaveIdsSent: number;
  graftsSent: number;
  graftsReceived: number;
  /** GRAFTs refused in whole (per-source GRAFT rate) or in part (an id refused: see `graftIdsRefused`). */
  graftsRateLimited: number;
  /** Stored messages a GRAFT asked for and was not sent: a repeat within `graftRepeatMs`, or beyond the peer's payload budget. */
  graftIdsRefused: number;
  prunesSent: number;
  prunesReceived: number;
  optimizations: number;
  missingDropped: number;
  digestsSent: number;
  [counter: string]: number;
}

/**
 * `payload`, or a copy when it is bytes viewing a larger buffer. The store keeps payloads for
 * `storeTtlMs` (a minute) to answer GRAFTs: a received payload is a view of the frame it came in
 * (a socket read of up to 64 KiB), an own one often of cbor-x's buffer, which every encoder of
 * the process shares, and views would keep those buffers alive (in a soak run, 3,300 stored
 * messages of a few hundred bytes kept 8 MB).
 */
function ownBytes(payload: unknown): unknown {
  if (!(payload instanceof Uint8Array) || (payload.byteOffset === 0 && payload.byteLength === payload.buffer.byteLength)) return payload;
  return Uint8Array.prototype.slice.call(payload);
}

interface Seen {
  readonly round: number;
  /** The neighbour it came from (null for this node's own broadcasts). */
  readonly from: string | null;
  readonly at: number;
}

interface Stored {
  /** The message as received (or as first sent, for this node's own): GRAFTs are answered with its round + 1. */
  readonly message: GossipMessage;
  readonly at: number;
  /** The payload's size as `maxStoredBytes` counts it (0 for a payload that is neither bytes nor a string). */
  readonly bytes: number;
}

function storedBytes(entry: Stored): number {
  return entry.bytes;
}

interface Announcement {
  readonly peer: string;
  /**
   * The round the announcer had it at; Infinity when unknown (a digest's), which never rewires
   * the tree. The lowest it announced: an IHAVE after its digest says how far the message came.
   */
  round: number;
}

interface Missing {
  readonly announcements: Announcement[];
  timerAt: number;
}

/** Message ids (and their rounds) waiting for the next IHAVE to one lazy peer. */
interface LazyBatch {
  readonly ids: string[];
  readonly rounds: number[];
}

const MAX_ANNOUNCEMENTS_PER_ID = 16;
/** The topic set of every core configured without anti-entropy topics (read only, so shared). */
const NO_TOPICS: ReadonlySet<string> = new Set();

/** The key of a (peer, message id) pair: the peer's length first, so no two pairs share a key. */
function answerKey(peer: string, id: string): string {
  return `${peer.length}:${peer}${id}`;
}

function isMembershipTopic(topic: string): boolean {
  return topic.charCodeAt(0) === 36; // '$'
}

export class PlumtreeCore {
  readonly self: string;
  private readonly config: PlumtreeConfig;
  private readonly random: Random;
  private readonly maxIds: number;
  private readonly eager = new Set<string>();
  private readonly lazy = new Set<string>();
  private readonly seen: MessageCache<Seen>;
  private readonly store: MessageCache<Stored>;
  private readonly missing = new Map<string, Missing>();
  private readonly maxMissing: number;
  /** IHAVE batches per lazy peer; made at the first (never without a batching interval). */
  private lazyQueue: Map<string, LazyBatch> | undefined;
  private readonly graftLimiter: RateLimiter;
  /** Stored messages sent in answer to GRAFTs, per peer (`graftPayloadRatePerSecond`). */
  private readonly graftPayloadLimiter: RateLimiter;
  /**
   * When each (peer, message) pair was last sent in answer to a GRAFT, oldest first, for
   * `graftRepeatMs` (keys from `answerKey`); made at the first answer.
   */
  private graftAnswers: Map<string, number> | undefined;
  private readonly maxGraftAnswers: number;
  private readonly antiEntropyTopics: ReadonlySet<string>;
  private readonly effects = new EffectQueue<PlumtreeEffect>();
  private nextFlushAt = Number.POSITIVE_INFINITY;
  private nextMissingAt = Number.POSITIVE_INFINITY;
  private nextAntiEntropyAt = Number.POSITIVE_INFINITY;
  private nextExpiryAt = Number.POSITIVE_INFINITY;
  private readonly counters: PlumtreeStats = {
    broadcasts: 0,
    delivered: 0,
    gossipSent: 0,
    gossipReceived: 0,
    duplicates: 0,
    ihaveSent: 0,
    ihaveIdsSent: 0,
    graftsSent: 0,
    graftsReceived: 0,
    graftsRateLimited: 0,
    graftIdsRefused: 0,
    prunesSent: 0,
    prunesReceived: 0,
    optimizations: 0,
    missingDropped: 0,
    digestsSent: 0,
  };

  constructor(options: PlumtreeOptions) {
    this.self = options.self;
    this.config = options.config;
    this.random = options.random;
    this.maxIds = options.maxIdsPerMessage ?? 1024;
    this.seen = new MessageCache(options.config.maxSeenIds, options.config.seenTtlMs);
    this.store = new MessageCache(options.config.maxStoredMessages, options.config.storeTtlMs, options.config.maxStoredBytes, storedBytes);
    this.maxMissing = Math.max(1024, options.config.maxStoredMessages);
    this.graftLimiter = new RateLimiter(options.config.graftRatePerSecond, options.config.graftBurst);
    this.graftPayloadLimiter = new RateLimiter(options.config.graftPayloadRatePerSecond, options.config.graftPayloadBurst);
    this.maxGraftAnswers = 4 * Math.max(options.config.maxStoredMessages, this.maxIds);
    const topics = options.config.antiEntropyTopics;
    this.antiEntropyTopics = topics.length === 0 ? NO_TOPICS : new Set(topics);
  }

  // ---- queries ------------------------------------------------------------------------------

  eagerPeers(): string[] {
    return [...this.eager];
  }

  lazyPeers(): string[] {
    return [...this.lazy];
  }

  hasSeen(id: string): boolean {
    return this.seen.has(id);
  }

  missingIds(): string[] {
    return [...this.missing.keys()];
  }

  stats(): PlumtreeStats {
    return { ...this.counters, seenIds: this.seen.size, storedMessages: this.store.size, storedBytes: this.store.weight, missing: this.missing.size };
  }

  takeEffects(): readonly PlumtreeEffect[] {
    return this.effects.take();
  }

  /** A fresh message id: 64 random bits as 16 hex digits. */
  newId(): string {
    return this.random.uint32().toString(16).padStart(8, '0') + this.random.uint32().toString(16).padStart(8, '0');
  }

  // ---- broadcast ----------------------------------------------------------------------------

  /**
   * §3.3 Broadcast: push the payload to the eager peers and announce it to the lazy ones. This
   * node's own subscribers are not called (they published it). `id` may be given to make
   * identical broadcasts from several nodes one message (topology proposals do).
   */
  broadcast(topic: string, payload: unknown, now: number, id: string = this.newId()): string {
    if (this.seen.has(id)) return id;
    // Announced already (shared ids, as topology decisions use): this node has it now, and must
    // not GRAFT it from the announcers.
    this.missing.delete(id);
    this.counters.broadcasts += 1;
    const message: GossipMessage = { type: 'gossip', id, topic, origin: this.self, round: 1, payload };
    this.seen.set(id, { round: 0, from: null, at: now });
    const stored = this.store.set(id, { message: { ...message, round: 0, payload: ownBytes(payload) }, at: now, bytes: payloadBytes(payload) ?? 0 });
    this.scheduleExpiry(now);
    this.eagerPush(message, null);
    // Announced only when kept (see `lazyPush`).
    if (stored) this.lazyPush(id, 1, null, now);
    this.scheduleAntiEntropy(topic, now);
    return id;
  }

  receive(from: string, message: PlumtreeMessage, now: number): void {
    if (from === this.self) return;
    switch (message.type) {
      case 'gossip':
        this.onGossip(from, message, now);
        return;
      case 'ihave':
        this.onIHave(from, message.ids, message.rounds, now);
        return;
      case 'graft':
        this.onGraft(from, message.ids, now);
        return;
      case 'prune':
        this.counters.prunesReceived += 1;
        // §3.4: the sender already had the message: it becomes a lazy link.
        if (this.eager.delete(from)) this.lazy.add(from);
        return;
      case 'digest':
        this.onDigest(from, message.ids, message.reply, now);
        return;
    }
  }

  private isNeighbor(peer: string): boolean {
    return this.eager.has(peer) || this.lazy.has(peer);
  }

  /**
   * §3.4 GOSSIP: a new message is delivered, pushed on to the other eager peers, announced to
   * the lazy ones, and its sender becomes (or stays) an eager link. A duplicate turns the link
   * it came over into a lazy one and PRUNEs it.
   */
  private onGossip(from: string, message: GossipMessage, now: number): void {
    this.counters.gossipReceived += 1;
    const id = message.id;
    if (this.seen.has(id)) {
      this.counters.duplicates += 1;
      if (this.eager.delete(from)) {
        this.lazy.add(from);
        this.counters.prunesSent += 1;
        this.send(from, { type: 'prune' });
      }
      return;
    }
    const round = message.round;
    this.seen.set(id, { round, from, at: now });
    const payload = ownBytes(message.payload);
    const stored = this.store.set(id, { message: payload === message.payload ? message : { ...message, payload }, at: now, bytes: payloadBytes(payload) ?? 0 });
    this.scheduleExpiry(now);
    this.counters.delivered += 1;
    this.effects.push({ kind: 'deliver', delivery: { id, topic: message.topic, origin: message.origin, payload: message.payload, hops: round } });
    const missing = this.missing.get(id);
    if (missing !== undefined) this.missing.delete(id);
    const forward: GossipMessage = { type: 'gossip', id, topic: message.topic, origin: message.origin, round: round + 1, payload: message.payload };
    this.eagerPush(forward, from);
    if (stored) this.lazyPush(id, round + 1, from, now);
    if (this.lazy.delete(from)) this.eager.add(from);
    // §3.8 optimisation, after the pushes and the sender's move to eager, as the paper orders
    // them: an announcement that came by a much shorter path means the tree is worse than the
    // overlay: graft the lazy link, prune the eager one. Done first, the sender pruned here was
    // made eager again, and the neighbour grafted was also sent the message it already had (it
    // pruned back): neither pushed to this node any more.
    if (missing !== undefined) this.optimize(from, round, missing.announcements);
    this.scheduleAntiEntropy(message.topic, now);
  }

  private optimize(eagerPeer: string, round: number, announcements: readonly Announcement[]): void {
    let best: Announcement | undefined;
    for (const announcement of announcements) {
      if (!this.isNeighbor(announcement.peer) || announcement.peer === eagerPeer) continue;
      if (best === undefined || announcement.round < best.round) best = announcement;
    }
    if (best === undefined || round - best.round < this.config.optimizationThreshold) return;
    this.counters.optimizations += 1;
    this.lazy.delete(best.peer);
    this.eager.add(best.peer);
    this.counters.graftsSent += 1;
    this.send(best.peer, { type: 'graft', ids: [] });
    if (this.eager.delete(eagerPeer)) {
      this.lazy.add(eagerPeer);
      this.counters.prunesSent += 1;
      this.send(eagerPeer, { type: 'prune' });
    }
  }

  /** §3.4 IHAVE: an unknown id starts (or joins) a timer; when it fires, the announcer is grafted. */
  private onIHave(from: string, ids: readonly string[], rounds: readonly number[], now: number): void {
    for (let index = 0; index < ids.length; index += 1) {
      const id = ids[index]!;
      const round = rounds[index]!;
      const seen = this.seen.get(id);
      if (seen !== undefined) {
        if (seen.from !== null && seen.from !== from && this.eager.has(seen.from)) this.optimize(seen.from, seen.round, [{ peer: from, round }]);
        continue;
      }
      this.announce(id, from, round, now + this.config.ihaveTimeoutMs);
    }
  }

  private announce(id: string, peer: string, round: number, timerAt: number): void {
    const missing = this.missing.get(id);
    if (missing === undefined) {
      if (this.missing.size >= this.maxMissing) {
        this.counters.missingDropped += 1;
        return;
      }
      this.missing.set(id, { announcements: [{ peer, round }], timerAt });
      if (timerAt < this.nextMissingAt) this.nextMissingAt = timerAt;
      return;
    }
    // One announcement per neighbour, at the lowest round it named: kept at the first, an IHAVE
    // that followed the same neighbour's digest (no hop count) was dropped as a repeat, and a
    // copy the tree brought by a much longer path left the tree as it was.
    for (const announcement of missing.announcements) {
      if (announcement.peer !== peer) continue;
      if (round < announcement.round) announcement.round = round;
      return;
    }
    if (missing.announcements.length >= MAX_ANNOUNCEMENTS_PER_ID) return;
    missing.announcements.push({ peer, round });
  }

  /**
   * §3.4 GRAFT: the sender becomes an eager link and gets the messages it asks for. A GRAFT of a
   * few bytes names up to 1,024 stored payloads (of up to `maxPayloadBytes` each), so a hostile
   * peer could make this node send far more than it sent: each message goes to a peer at most
   * once per `graftRepeatMs`, and at most `graftPayloadRatePerSecond` of them (burst
   * `graftPayloadBurst`) whatever it asks. An honest peer grafts an id from a node once, unless
   * the answer was lost with the link (then forgotten, see `neighborDown`); refused ids are
   * grafted from the next announcer, as when the answer is late.
   */
  private onGraft(from: string, ids: readonly string[], now: number): void {
    this.counters.graftsReceived += 1;
    if (!this.graftLimiter.allow(from, now)) {
      this.counters.graftsRateLimited += 1;
      return;
    }
    if (this.isNeighbor(from)) {
      this.lazy.delete(from);
      this.eager.add(from);
    }
    this.expireGraftAnswers(now);
    let refused = 0;
    for (const id of ids) {
      const stored = this.store.get(id)?.message;
      if (stored === undefined) continue;
      if (!this.mayAnswer(from, id, now)) {
        refused += 1;
        continue;
      }
      this.counters.gossipSent += 1;
      this.send(from, { type: 'gossip', id, topic: stored.topic, origin: stored.origin, round: stored.round + 1, payload: stored.payload });
    }
    if (refused > 0) {
      this.counters.graftsRateLimited += 1;
      this.counters.graftIdsRefused += refused;
    }
  }

  /** Whether stored message `id` may be sent to `peer` in answer to a GRAFT now (and if so, records it). */
  private mayAnswer(peer: string, id: string, now: number): boolean {
    if (this.config.graftRepeatMs <= 0) return this.graftPayloadLimiter.allow(peer, now);
    const answers = (this.graftAnswers ??= new Map<string, number>());
    const key = answerKey(peer, id);
    if (answers.has(key) || !this.graftPayloadLimiter.allow(peer, now)) return false;
    answers.set(key, now);
    // Past the bound (a flood from many peers), the oldest record goes: that pair may be answered
    // again early, within its peer's payload budget still.
    if (answers.size > this.maxGraftAnswers) answers.delete(answers.keys().next().value!);
    return true;
  }

  /** Forgets the answers older than `graftRepeatMs` (the map is in time order). */
  private expireGraftAnswers(now: number): void {
    const answers = this.graftAnswers;
    if (answers === undefined || answers.size === 0) return;
    for (const [key, at] of answers) {
      if (now - at < this.config.graftRepeatMs) return;
      answers.delete(key);
    }
  }

  /**
   * Anti-entropy: the ids a neighbour holds for topics that need completeness. Unknown ones are
   * announced (so they are grafted like lazily announced ones); a digest that is not itself a
   * reply is answered with this node's digest, so both sides catch up.
   */
  private onDigest(from: string, ids: readonly string[], reply: boolean, now: number): void {
    // A digest says nothing of how far a message came: its announcements count as no path at all
    // for the §3.8 optimisation. As round 0, any copy that the tree brought 4 hops or more (and
    // that arrived before the GRAFT) grafted the digest's sender and pruned the eager parent.
    for (const id of ids) if (!this.seen.has(id)) this.announce(id, from, Number.POSITIVE_INFINITY, now);
    if (!reply && this.isNeighbor(from)) this.sendDigest(from, now, true);
  }

  // ---- neighbours ---------------------------------------------------------------------------

  /**
   * §3.6: a new neighbour starts as an eager link. Repair: it is told (lazily) of the messages
   * of the last `repairWindowMs`, so what was in flight while the overlay changed is grafted.
   */
  neighborUp(peer: string, now: number): void {
    if (peer === this.self || this.isNeighbor(peer)) return;
    this.eager.add(peer);
    if (this.config.repairWindowMs <= 0) return;
    const recent = this.store.recent(now - this.config.repairWindowMs, this.maxIds);
    if (recent.length === 0) return;
    const queue = { ids: [] as string[], rounds: [] as number[] };
    for (const { id, entry } of recent) {
      queue.ids.push(id);
      queue.rounds.push(entry.message.round + 1);
    }
    this.sendIHave(peer, queue.ids, queue.rounds);
  }

  /**
   * §3.6: a lost neighbour leaves both peer sets, and what was sent to it in answer to GRAFTs is
   * forgotten (the link may have lost it: it may graft it again). Its announcements are forgotten
   * too when it failed or left; a neighbour that is `alive` (one side dropped the link: HyParView
   * making room, a topology switch retiring a service) still holds what it announced and answers
   * a GRAFT from a node that is not its neighbour, so it stays an announcer. A switch drops most
   * links at once: forgetting their announcements lost every message in flight whose announcers
   * were all on the old service's links (at most MAX_ANNOUNCEMENTS_PER_ID are kept, so in a full
   * mesh the later announcements of the neighbours that stay linked had not been kept).
   */
  neighborDown(peer: string, alive = false): void {
    this.eager.delete(peer);
    this.lazy.delete(peer);
    this.lazyQueue?.delete(peer);
    if (this.graftAnswers !== undefined && this.graftAnswers.size > 0) {
      const prefix = answerKey(peer, '');
      for (const key of this.graftAnswers.keys()) if (key.startsWith(prefix)) this.graftAnswers.delete(key);
    }
    if (alive) return;
    for (const [id, missing] of this.missing) {
      const index = missing.announcements.findIndex((announcement) => announcement.peer === peer);
      if (index >= 0) missing.announcements.splice(index, 1);
      if (missing.announcements.length === 0) this.missing.delete(id);
    }
  }

  // ---- ticks --------------------------------------------------------------------------------

  tick(now: number): void {
    if (now >= this.nextFlushAt) this.flush();
    if (now >= this.nextMissingAt) this.graftMissing(now);
    if (now >= this.nextAntiEntropyAt) this.antiEntropy(now);
    if (now >= this.nextExpiryAt) {
      this.seen.expire(now);
      this.store.expire(now);
      this.nextExpiryAt = Math.min(this.seen.nextExpiry(), this.store.nextExpiry());
    }
  }

  nextTick(): number {
    return Math.min(this.nextFlushAt, this.nextMissingAt, this.nextAntiEntropyAt, this.nextExpiryAt);
  }

  /** §3.4 timer: GRAFT the first announcer of each overdue id (batched per peer), then wait timeout 2. */
  private graftMissing(now: number): void {
    const grafts = new Map<string, string[]>();
    let next = Number.POSITIVE_INFINITY;
    for (const [id, missing] of this.missing) {
      if (missing.timerAt > now) {
        if (missing.timerAt < next) next = missing.timerAt;
        continue;
      }
      const announcement = missing.announcements.shift();
      if (announcement === undefined) {
        this.missing.delete(id);
        continue;
      }
      missing.timerAt = now + this.config.graftTimeoutMs;
      if (missing.timerAt < next) next = missing.timerAt;
      let ids = grafts.get(announcement.peer);
      if (ids === undefined) {
        ids = [];
        grafts.set(announcement.peer, ids);
      }
      ids.push(id);
    }
    this.nextMissingAt = next;
    for (const [peer, ids] of grafts) {
      if (this.isNeighbor(peer)) {
        this.lazy.delete(peer);
        this.eager.add(peer);
      }
      // In GRAFTs of at most maxIds each (what a receiver decodes): ids past the first maxIds
      // were dropped, their announcement already used, and with no other announcer the
      // message was never delivered.
      for (let start = 0; start < ids.length; start += this.maxIds) {
        this.counters.graftsSent += 1;
        this.send(peer, { type: 'graft', ids: ids.slice(start, start + this.maxIds) });
      }
    }
  }

  private flush(): void {
    this.nextFlushAt = Number.POSITIVE_INFINITY;
    if (this.lazyQueue === undefined) return;
    for (const [peer, queue] of this.lazyQueue) {
      const held = this.stillStored(queue);
      if (held.ids.length > 0) this.sendIHave(peer, held.ids, held.rounds);
    }
    this.lazyQueue.clear();
  }

  /** Of a batch, the ids still in the store (evicted or expired while it waited, a GRAFT would get nothing); the batch itself when all are. */
  private stillStored(queue: LazyBatch): LazyBatch {
    let index = 0;
    while (index < queue.ids.length && this.store.has(queue.ids[index]!)) index += 1;
    if (index === queue.ids.length) return queue;
    const held: LazyBatch = { ids: queue.ids.slice(0, index), rounds: queue.rounds.slice(0, index) };
    for (index += 1; index < queue.ids.length; index += 1) {
      if (!this.store.has(queue.ids[index]!)) continue;
      held.ids.push(queue.ids[index]!);
      held.rounds.push(queue.rounds[index]!);
    }
    return held;
  }

  private sendIHave(peer: string, ids: readonly string[], rounds: readonly number[]): void {
    for (let start = 0; start < ids.length; start += this.maxIds) {
      const end = Math.min(ids.length, start + this.maxIds);
      this.counters.ihaveSent += 1;
      this.counters.ihaveIdsSent += end - start;
      this.send(peer, { type: 'ihave', ids: start === 0 && end === ids.length ? ids : ids.slice(start, end), rounds: start === 0 && end === rounds.length ? rounds : rounds.slice(start, end) });
    }
  }

  private antiEntropy(now: number): void {
    this.nextAntiEntropyAt = Number.POSITIVE_INFINITY;
    const neighbors = [...this.eager, ...this.lazy];
    if (neighbors.length === 0) return;
    if (this.sendDigest(this.random.pick(neighbors), now, false)) this.nextAntiEntropyAt = now + this.config.antiEntropyIntervalMs;
  }

  /** Sends the ids of stored messages whose topic needs anti-entropy; false when there are none. */
  private sendDigest(peer: string, now: number, reply: boolean): boolean {
    const ids: string[] = [];
    for (const { id, entry } of this.store.recent(now - this.config.storeTtlMs, Number.POSITIVE_INFINITY)) {
      if (ids.length >= this.maxIds) break;
      if (this.needsAntiEntropy(entry.message.topic)) ids.push(id);
    }
    if (ids.length === 0 && !reply) return false;
    this.counters.digestsSent += 1;
    this.send(peer, { type: 'digest', ids, reply });
    return true;
  }

  private needsAntiEntropy(topic: string): boolean {
    return isMembershipTopic(topic) || this.antiEntropyTopics.has(topic);
  }

  private scheduleAntiEntropy(topic: string, now: number): void {
    if (this.config.antiEntropyIntervalMs <= 0 || this.nextAntiEntropyAt !== Number.POSITIVE_INFINITY || !this.needsAntiEntropy(topic)) return;
    this.nextAntiEntropyAt = now + this.config.antiEntropyIntervalMs;
  }

  private scheduleExpiry(now: number): void {
    if (this.nextExpiryAt === Number.POSITIVE_INFINITY) this.nextExpiryAt = Math.min(now + this.config.seenTtlMs, now + this.config.storeTtlMs);
  }

  private eagerPush(message: GossipMessage, exclude: string | null): void {
    for (const peer of this.eager) {
      if (peer === exclude) continue;
      this.counters.gossipSent += 1;
      this.send(peer, message);
    }
  }

  /**
   * Queues an announcement for every lazy peer; the queue is flushed every `lazyPushIntervalMs`
   * (§3.5's policy). Only for a message in the store, and at the flush only those still there: a
   * GRAFT is answered from the store, and a message announced that was not kept (larger than
   * `maxStoredBytes`, or evicted or expired before the flush) got the peer that grafted it
   * nothing, and held its delivery back a `graftTimeoutMs` before it grafted the next announcer.
   */
  private lazyPush(id: string, round: number, exclude: string | null, now: number): void {
    if (this.lazy.size === 0) return;
    if (this.config.lazyPushIntervalMs <= 0) {
      // No batching: the queue would be flushed right away, so send what it would (one IHAVE per
      // lazy peer, in the same order) without filling it; its lists would be garbage at once.
      for (const peer of this.lazy) if (peer !== exclude) this.sendIHave(peer, [id], [round]);
      return;
    }
    const queues = (this.lazyQueue ??= new Map<string, LazyBatch>());
    for (const peer of this.lazy) {
      if (peer === exclude) continue;
      let queue = queues.get(peer);
      if (queue === undefined) {
        queue = { ids: [], rounds: [] };
        queues.set(peer, queue);
      }
      queue.ids.push(id);
      queue.rounds.push(round);
    }
    if (this.nextFlushAt === Number.POSITIVE_INFINITY) this.nextFlushAt = now + this.config.lazyPushIntervalMs;
  }

  private send(to: string, message: PlumtreeMessage): void {
    this.effects.push({ kind: 'send', to, message });
  }
}
