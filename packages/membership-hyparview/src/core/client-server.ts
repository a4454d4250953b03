// Client-server: a few servers meshed with each other, every other node (a client) attached to
// k of them. For clusters beyond about a thousand nodes, where even HyParView's shuffles and
// walks cost more than a star of stars. Servers are elected by a hash of their id (or pinned by
// configuration), announce themselves with a broadcast on the `$servers` topic, and clients
// pick their k servers by rendezvous hashing, so the choice is stable and spread evenly.
import { hashString32 } from '@foundation/core';
import type { Random } from '@foundation/core';
import type { ClientServerConfig } from './config';
import { MAX_PEER_SAMPLE } from './messages';
import type { ClientServerMessage, ServiceMessage } from './messages';
import { PeerSet } from './peer-set';
import { RateLimiter } from './rate-limiter';
import { RequestDeadlines } from './request-deadlines';
import { EffectQueue, SeedRejoinSchedule } from './peer-service';
import type { PeerService, SeedRejoinOptions, ServiceEffect } from './peer-service';
import { serialAfter } from './serial';

export const SERVERS_TOPIC = '$servers';

export interface ClientServerOptions {
  readonly self: string;
  readonly config: ClientServerConfig;
  readonly random: Random;
  readonly epoch?: number;
  /**
   * The cluster size the election assumes (the topology manager's estimate); undefined when there
   * is none yet, and the node then starts as a server only if it has no seeds (see `join`).
   */
  readonly estimatedSize: number | undefined;
  /** An attach or hello not answered within this long is given up. */
  readonly requestTimeoutMs: number;
  /** How much longer a request waits while its connection is being set up (see `peerConnecting`). */
  readonly connectTimeoutMs: number;
  /** Servers, and a few clients, ask the seeds for their servers now and then, so that clusters formed apart merge (see `seedRejoin`). Off when absent. */
  readonly seedRejoin?: SeedRejoinOptions;
}

/** How many servers a cluster of `size` nodes should have: ceil(sqrt(n)) within the configured bounds. */
export function targetServerCount(size: number, config: ClientServerConfig): number {
  return Math.max(config.minServers, Math.min(config.maxServers, Math.ceil(Math.sqrt(Math.max(1, size)))));
}

/** Whether `node` is a server in a cluster of `size`: its id hashes below the target share. */
export function isElectedServer(node: string, size: number, config: ClientServerConfig): boolean {
  if (config.role !== 'auto') return config.role === 'server';
  return electionPoint(node) < electedShare(size, config);
}

export function electedShare(size: number, config: ClientServerConfig): number {
  return targetServerCount(size, config) / Math.max(1, size);
}

/**
 * How far past the line a node's hash must be before a new size estimate changes its role: a
 * server steps down only when its hash is 25% above the elected share, a client steps up only
 * when it is 20% below. Estimates of one cluster vary by some 15% from round to round (32
 * samples), the share by half of that; without the margin the nodes near the line changed role
 * at every round.
 */
const DEMOTE_MARGIN = 1.25;
const PROMOTE_MARGIN = 0.8;

/**
 * How many servers of its mesh must come before a server in the election for it to step down: a
 * quarter more than the target, the same margin as the hash's. Servers the mesh topped up (see
 * `topUpServers`) have points past the line, and with the target itself here an estimate 15% low
 * elected away those that one 15% high had just asked for.
 */
export function serversKept(size: number, config: ClientServerConfig): number {
  return Math.ceil(targetServerCount(size, config) * DEMOTE_MARGIN);
}

/** Clients a mesh's announcer asks to become servers at most each period (see `topUpServers`). */
const PROMOTIONS_PER_PERIOD = 4;

/**
 * Live nodes, clients included, a node keeps as contacts for when every server it knew is gone
 * (HyParView's passive view plays this part there). Before, its only contacts were its seeds and
 * the servers it had known: when every server crashed, a client whose seed was one of them had
 * no live contact at all, made itself a server alone, and stayed so. Seed 26 of a 40-node
 * cluster with chained seeds ended in 10 components, 30 s after its 9 servers crashed.
 */
const CONTACTS = 16;
/**
 * Periods with no server in sight after which a client steps up whatever seeking node comes
 * before it (see `defersPromotion`): three times the wait of the node first by hash, which
 * others hear of within a period or two of its stepping up.
 */
const MAX_DEFERRAL_PERIODS = 9;
/** A client asks one of its servers for fresh contacts about every this many periods. */
const CONTACT_REFRESH_PERIODS = 6;
/**
 * Servers not known to it a server takes, per announce period, from lists it did not ask for:
 * its clients' pass-ons (see `passOnServers`), and as many again from `$servers` announcements.
 * Taken from any node and all at once, a list of made-up ids had it dial each as a server to
 * mesh with, up to its mesh's capacity (128 by default), every time. A merge needs one live
 * server of the other overlay: its answer to the attach names the rest.
 */
const PASSED_ON_SERVERS_PER_PERIOD = 4;

/**
 * Peers a node keeps the hellos it sent them for, at most: the one asked longest ago is forgotten
 * first (its answer then counts only while the hello's request is pending). A node sends a few
 * hellos a period (two or three contacts, a seed rejoin, a contact refresh) and one to each
 * failed server a list names.
 */
const HELLOS_TRACKED = 64;
/**
 * Hellos to one peer whose answers count, at most (the oldest is forgotten first). A node asks a
 * peer again once its request ran out, a period later at the soonest; more answers from one peer
 * within a window tell nothing its latest do not.
 */
const HELLOS_PER_PEER = 4;

/** How many servers new to it a server may still take from lists it did not ask for this period, and when the period ends. */
interface NewServerBudget {
  left: number;
  until: number;
}

/** Where `node` falls in [0, 1) for the election (the same hash as `isElectedServer`). */
export function electionPoint(node: string): number {
  return hashString32(node, 0x5e57_e125) / 4_294_967_296;
}

/** Of `nodes`, the one whose election point comes first, if it comes before `before`. */
function firstInElection(nodes: Iterable<string>, before: number): string | undefined {
  let first: string | undefined;
  let firstPoint = before;
  for (const node of nodes) {
    const point = electionPoint(node);
    if (point < firstPoint) {
      first = node;
      firstPoint = point;
    }
  }
  return first;
}

/** Drops the entries of `stamped` (node → when) stamped before `time`. */
function forgetBefore(stamped: Map<string, number>, time: number): void {
  for (const [node, at] of stamped) if (at < time) stamped.delete(node);
}

/** Rendezvous (highest random weight) score of `server` for `client`. */
export function rendezvousScore(client: string, server: string): number {
  return hashString32(`${client}\u0000${server}`);
}

interface ServerInfo {
  lastSeen: number;
}

export class ClientServerCore implements PeerService {
  readonly mode = 'client-server' as const;
  readonly self: string;
  epoch: number;
  private readonly config: ClientServerConfig;
  private readonly random: Random;
  private isServerRole: boolean;
  /** This node's place in the election (`electionPoint`). */
  private readonly point: number;
  /** The latest estimate of the cluster's size (at construction or by `sizeEstimated`); undefined until one has elected this node's role. */
  private estimatedSize: number | undefined;
  private readonly servers = new Map<string, ServerInfo>();
  /** Server side: meshed servers. */
  private readonly serverPeers: PeerSet;
  /** Server side: attached clients. */
  private readonly clients: PeerSet;
  /** Client side: the servers attached to. */
  private readonly attached: PeerSet;
  /** Attach or hello requests awaiting an answer: peer → deadline. */
  private readonly pending: RequestDeadlines;
  /**
   * Attaches sent and not answered yet, each with whether this node asked as a client or as a
   * server: only the answer to one of them counts (see `onAttachReply`). Each is also in `pending`
   * and leaves with it. A client's answer may come after this node became a server itself, and
   * the server then holds it as a client.
   */
  private readonly attaches = new Map<string, 'client' | 'server'>();
  /**
   * When this node sent hellos, by peer (the peer asked longest ago first, at most
   * HELLOS_TRACKED, each with its HELLOS_PER_PEER latest): a `cs-servers` counts only as the
   * answer to one of them, once, within `helloWindowMs` of sending it (see `helloAnswered`).
   * Apart from `pending`, which holds a hello only until its request is given up, and the
   * contact refresh not at all; kept through a change of role.
   */
  private readonly hellosSent = new Map<string, number[]>();
  /**
   * How long after a hello its answer counts: twice the longest its request waits (for a
   * connection, then for the answer), so that an answer slow to come still counts.
   */
  private readonly helloWindowMs: number;
  private readonly refusedUntil = new Map<string, number>();
  /** Hellos answered per source (`helloRatePerSecond`, `helloBurst`). */
  private readonly helloLimiter: RateLimiter;
  private neighborCache: string[] | undefined;
  private readonly effects = new EffectQueue<ServiceEffect>();
  private seeds: string[] = [];
  /**
   * Servers this node was linked to or knew of when they failed, newest last (at most
   * `maxServers`): contacts, besides the seeds, for a node that has lost sight of every server.
   * They may have failed only as seen from here (this node was cut off), and the first node of a
   * cluster has no seeds at all.
   */
  private readonly formerServers = new Set<string>();
  /** Live nodes heard of, clients included: contacts when no server is left (see CONTACTS). */
  private readonly contacts = new PeerSet(CONTACTS);
  /**
   * Nodes that answered this node's hello knowing no server either, and ready to elect
   * themselves (`seeking`), with when they answered: this node leaves the election to those
   * among them that come before it (see `defersPromotion`).
   */
  private readonly seekers = new Map<string, number>();
  private nextContactRefreshAt = Number.POSITIVE_INFINITY;
  /** Clients this server asked to become servers (see `topUpServers`), with when. */
  private readonly promotionsAsked = new Map<string, number>();
  /**
   * Servers whose link or request failed here (a request that ran out included), or that refused
   * this node saying they are servers no more, with when: for three periods a list from another
   * node does not teach them again, but has them asked themselves (see `learnServer`). When every server crashed, the clients
   * that had not tried them all yet still named them in their answers, and each node that learnt
   * them again counted a server in sight, which put off its election for as long as the dead
   * servers went round.
   */
  private readonly failedServers = new Map<string, number>();
  /**
   * When a server marked in `failedServers` was last asked whether it is live (see
   * `learnServer`): it is asked once per mark. Answering as a client, it does not name itself and
   * stays marked, and nodes elected away together name one another: asked at every list that
   * named it, a client asked each in turn, a round trip apart, until one's hello budget refused
   * it (seed 4129 of the crash simulation: 12 hellos to one node in 240 ms).
   */
  private readonly failedServersAsked = new Map<string, number>();
  private started = false;
  private stopped = false;
  /** When this client last had a server attached or known (its start, before any). */
  private serverSeenAt = 0;
  private nextAnnounceAt = Number.POSITIVE_INFINITY;
  private nextHelloAt = Number.POSITIVE_INFINITY;
  /** Until when a server that made itself one asks its contacts for servers every period (see `promoteAlone`). */
  private askContactsUntil = Number.NEGATIVE_INFINITY;
  /**
   * Servers last heard announcing only themselves, as servers of an older version do: they do not
   * announce the mesh, so this server does not leave it to them (see `announcesForMesh`). Before,
   * a mixed cluster whose first server by hash was of the older version named no other server,
   * and clients forgot every server but those they were attached to.
   */
  private readonly announcingOnlyThemselves = new Set<string>();
  /** Seed rejoins (see `seedRejoin`); a seed is reached when it answers this node's hello (it then knows the seed's servers). */
  private readonly rejoinSchedule: SeedRejoinSchedule;
  /**
   * Servers not known to it this server may still take this period from its clients' pass-ons,
   * and from announcements (see `PASSED_ON_SERVERS_PER_PERIOD`). Apart, so that a node publishing
   * made-up ids on `$servers` cannot use up what a client's pass-on needs to join two overlays.
   */
  private readonly passedOnBudget: NewServerBudget = { left: 0, until: Number.NEGATIVE_INFINITY };
  private readonly announcedBudget: NewServerBudget = { left: 0, until: Number.NEGATIVE_INFINITY };
  private readonly counters = { attachesAccepted: 0, attachesRefused: 0, serverFailures: 0, selfPromotions: 0, announcements: 0, seedRejoins: 0, promotions: 0, demotions: 0, serverListsIgnored: 0, hellosRateLimited: 0 };

  constructor(options: ClientServerOptions) {
    this.self = options.self;
    this.config = options.config;
    this.random = options.random;
    this.epoch = options.epoch ?? 0;
    this.pending = new RequestDeadlines(options.requestTimeoutMs, options.connectTimeoutMs);
    this.helloWindowMs = 2 * (options.requestTimeoutMs + options.connectTimeoutMs);
    this.point = electionPoint(options.self);
    this.estimatedSize = options.estimatedSize;
    this.isServerRole = isElectedServer(options.self, options.estimatedSize ?? 1, options.config);
    this.serverPeers = new PeerSet(options.config.maxServers * 2);
    this.clients = new PeerSet(options.config.maxClientsPerServer);
    // One more than k: a better server is attached before the worst one is let go.
    this.attached = new PeerSet(options.config.serversPerClient + 1);
    this.rejoinSchedule = new SeedRejoinSchedule(options.seedRejoin, options.random);
    this.helloLimiter = new RateLimiter(options.config.helloRatePerSecond, options.config.helloBurst);
  }

  get role(): 'server' | 'client' {
    return this.isServerRole ? 'server' : 'client';
  }

  knownServers(): string[] {
    return [...this.servers.keys()];
  }

  neighbors(): readonly string[] {
    if (this.neighborCache === undefined) {
      this.neighborCache = this.isServerRole ? [...this.serverPeers.values(), ...this.clients.values()] : this.attached.toArray();
    }
    return this.neighborCache;
  }

  isNeighbor(peer: string): boolean {
    return this.isServerRole ? this.serverPeers.has(peer) || this.clients.has(peer) : this.attached.has(peer);
  }

  members(): string[] {
    return [...this.neighbors()];
  }

  stats(): Record<string, number> {
    return {
      ...this.counters,
      server: this.isServerRole ? 1 : 0,
      knownServers: this.servers.size,
      serverPeers: this.serverPeers.size,
      clients: this.clients.size,
      attached: this.attached.size,
    };
  }

  setEpoch(epoch: number): void {
    if (serialAfter(epoch, this.epoch)) this.epoch = epoch;
  }

  takeEffects(): readonly ServiceEffect[] {
    return this.effects.take();
  }

  /**
   * Takes over the hellos `previous` sent, this node's client-server service of an older epoch
   * (retiring after a switch to another mode and back): an answer to one of them counts here as
   * the answer to a hello this node sent, once, within `helloWindowMs` of it. Only `previous`
   * knew of them, so the answer taught this service nothing, though it may name its first
   * server. Called before `join`, with the retiring services oldest first.
   */
  takeOverHellos(previous: ClientServerCore, now: number): void {
    for (const [peer, sentAt] of previous.hellosSent) for (const at of sentAt) if (at + this.helloWindowMs >= now) this.noteHello(peer, at);
  }

  /** Whether a server list from `peer` would count here as the answer to a hello (see `helloAnswered`). */
  awaitsServersFrom(peer: string, now: number): boolean {
    return this.hellosSent.get(peer)?.some((at) => at + this.helloWindowMs >= now) ?? false;
  }

  join(contacts: readonly string[], now: number): void {
    if (this.stopped) return;
    const first = !this.started;
    this.started = true;
    this.serverSeenAt = now;
    this.updateSeeds(contacts, now);
    if (first && this.estimatedSize === undefined && this.config.role === 'auto') {
      // With no estimate of the cluster's size every node would count itself alone and elect
      // itself: a cluster started in client-server was all servers, each announcing itself to
      // every other (128,000 messages a second among 40 nodes). A node that has seeds starts as
      // a client of their servers instead, and the size estimates elect the servers
      // (`sizeEstimated`); the first node of a cluster, with no seeds, is its first server.
      this.isServerRole = this.seeds.length === 0;
    }
    if (this.isServerRole) this.nextAnnounceAt = now;
    for (const contact of this.random.sample(this.seeds, 3)) this.hello(contact, now);
    this.nextHelloAt = now + this.config.announceIntervalMs;
    this.nextContactRefreshAt = now + this.contactRefreshDelay();
    this.rejoinSchedule.start(now);
    this.tick(now);
  }

  updateSeeds(seeds: readonly string[], now: number): void {
    const hadSeeds = this.seeds.length > 0;
    this.seeds = seeds.filter((seed) => seed !== this.self);
    // Started with no seed known, this node may have made a cluster of its own: its first seeds are asked at once.
    this.rejoinSchedule.seedsChanged(hadSeeds, this.seeds.length > 0, now);
  }

  /**
   * A new estimate of the cluster's size: with the `auto` role, the node runs the election again,
   * so that the servers stay about the square root of the size as the cluster grows and shrinks
   * (before, the role was fixed when the service started). The margins keep a noisy estimate from
   * changing roles back and forth, and a server steps down only while `serversKept` servers of
   * its mesh come before it in the election, so the cluster never elects its servers away: those
   * first in the election stay whatever the others do. Counting every server it knew of, servers
   * elected away by the same estimate counted one another (a detach does not say the sender
   * stepped down) and all stepped down, leaving none.
   */
  sizeEstimated(size: number, now: number): void {
    if (this.stopped || !this.started || this.config.role !== 'auto') return;
    this.estimatedSize = size;
    const share = electedShare(size, this.config);
    if (this.isServerRole) {
      if (this.point >= share * DEMOTE_MARGIN && this.meshPeersBefore() >= serversKept(size, this.config)) this.becomeClient(now);
    } else if (this.point < share * PROMOTE_MARGIN) {
      this.counters.promotions += 1;
      this.becomeServer(now);
    }
  }

  /**
   * Before any size estimate, nodes with seeds start as clients (see `join`), and in a cluster
   * where every node has seeds (a static list shared by all) none would be a server until each
   * gave up after three periods and elected itself: all at once, and then every node a server. So
   * a client that knows no server, asked for servers by a node that knows none either, takes the
   * role when its point in the election comes before the asker's. The seeds, asked by many, are
   * the first servers, and the estimates then elect the rest.
   */
  private helloWithoutServers(from: string, now: number): void {
    if (this.estimatedSize !== undefined || this.isServerRole || this.config.role !== 'auto' || this.attached.size > 0 || this.servers.size > 0 || this.pending.size > 0) return;
    if (this.point >= electionPoint(from)) return;
    this.promoteAlone(now);
  }

  /**
   * Becomes a server with no server in sight. Others may be servers already, unknown to this
   * node and to the node that asked it: for its first four periods it asks a contact for servers
   * every period, and its mesh joins theirs through the answer (with seeds shared by a chain, a
   * node asked before it had heard of the first server made a second cluster that only the seed
   * rejoins, ten seconds apart, joined in the end).
   */
  private promoteAlone(now: number): void {
    this.counters.selfPromotions += 1;
    this.askContactsUntil = now + 4 * this.config.announceIntervalMs;
    this.becomeServer(now);
  }

  /**
   * A server announcement heard on the `$servers` topic: the servers it names, its sender first and
   * then the sender's mesh. `namesMesh` is false for an announcement of a server of an older
   * version, which names only itself (see `announcesForMesh`).
   */
  serverAnnounced(named: readonly string[], now: number, namesMesh = true): void {
    if (this.stopped) return;
    const sender = named[0];
    if (sender !== undefined) {
      if (namesMesh) this.announcingOnlyThemselves.delete(sender);
      else if (this.announcingOnlyThemselves.size < this.config.maxServers * 2 || this.announcingOnlyThemselves.has(sender)) this.announcingOnlyThemselves.add(sender);
    }
    // Any node can publish one, and the origin is its word: a server takes a few servers new to
    // it a period (those it knows, whatever their number, are refreshed). An honest announcement
    // names the same mesh every period, and the answer to an attach to any of it names the rest.
    const taken = this.isServerRole ? this.takeNewServers(this.announcedBudget, named, now) : named;
    for (const server of taken) this.learnServer(server, now, sender);
    this.tick(now);
  }

  /**
   * Whether this server announces the mesh this period: the one with the first election point
   * among itself and the servers it is linked to. Every server announced itself every period, to
   * every node: with √n servers that is n·√n messages a period, and in a 200-node cluster nine
   * tenths of all traffic (17 servers, 29,000 of 33,000 messages a simulated second). One
   * announcement naming the mesh refreshes the same servers at every node. A mesh not yet joined
   * up has an announcer per part; when the announcer fails, the next server takes over at its
   * next period, and announcements from servers of an older version, one each, still count.
   */
  private announcesForMesh(): boolean {
    // A peer of an older version announces only itself, and this mesh would go unnamed.
    for (const peer of this.serverPeers.values()) if (electionPoint(peer) < this.point && !this.announcingOnlyThemselves.has(peer)) return false;
    return true;
  }

  leave(now: number): void {
    if (this.stopped) return;
    for (const peer of this.neighbors()) this.send(peer, { type: 'cs-detach', epoch: this.epoch, alive: false }, false);
    this.retire(now);
  }

  retire(_now: number): void {
    if (this.stopped) return;
    for (const peer of this.neighbors()) this.effects.push({ kind: 'neighbor-down', peer, reason: 'disconnected' });
    this.serverPeers.clear();
    this.clients.clear();
    this.attached.clear();
    this.pending.clear();
    this.attaches.clear();
    this.hellosSent.clear();
    this.neighborCache = undefined;
    this.stopped = true;
    this.nextAnnounceAt = Number.POSITIVE_INFINITY;
    this.nextHelloAt = Number.POSITIVE_INFINITY;
    this.nextContactRefreshAt = Number.POSITIVE_INFINITY;
    this.rejoinSchedule.stop();
  }

  receive(from: string, message: ServiceMessage, now: number): void {
    if (this.stopped || from === this.self) return;
    this.noteServers(now);
    const typed = message as ClientServerMessage;
    switch (typed.type) {
      case 'cs-hello': {
        // Each is answered with a list: over its source's budget it is dropped, and its sender's
        // request runs out as one to a node that does not answer.
        if (!this.helloLimiter.allow(from, now)) {
          this.counters.hellosRateLimited += 1;
          return;
        }
        this.helloWithoutServers(from, now);
        const servers = this.serverList();
        const peers = this.peerSample(from);
        // A node that knows no server says whether it will elect itself (see `defersPromotion`).
        if (servers.length === 0 && this.config.role === 'auto') {
          const lowest = this.firstSeeker();
          this.send(from, { type: 'cs-servers', epoch: this.epoch, servers, peers, seeking: true, ...(lowest === undefined || lowest === from ? {} : { lowest }) }, false);
        } else this.send(from, { type: 'cs-servers', epoch: this.epoch, servers, peers }, false);
        this.learnContact(from);
        return;
      }
      case 'cs-servers': {
        // The answer to a hello, not to an attach: one to an attach comes as an attach reply. Taken
        // for it, a list on its way (the answer to a contact refresh, say) ended the attach, and
        // its real reply came as a stray: a refusal to mesh was ignored and the two disagreed on
        // the link for good.
        const answered = !this.attaches.has(from) && this.pending.delete(from);
        if (!this.helloAnswered(from, now) && !answered) {
          this.onUnaskedServers(from, typed.servers, now);
          return;
        }
        if (answered && this.seeds.includes(from)) this.rejoinSchedule.reached = true;
        // Servers a client hears of first from a seed it asked (a seed rejoin's answer), not from
        // its own servers, may be another overlay's: see `passOnServers`.
        const fromSeed = answered && !this.isServerRole && this.attached.size > 0 && this.seeds.includes(from);
        const unknown = fromSeed ? typed.servers.filter((server) => server !== this.self && !this.servers.has(server)) : [];
        for (const server of typed.servers) this.learnServer(server, now, from);
        this.passOnServers(unknown.filter((server) => this.servers.has(server)));
        if (typed.servers.length === 0 && typed.seeking === true) {
          if (this.seekers.has(from) || this.seekers.size < CONTACTS) this.seekers.set(from, now);
          // Named by another, not heard from: kept no longer than three periods from now unless it
          // answers itself (this node asks it, see `helloContact`), so a name passed round is no
          // way to keep a dead node deferred to.
          const lowest = typed.lowest;
          if (lowest !== undefined && lowest !== this.self && !this.seekers.has(lowest) && this.seekers.size < CONTACTS) this.seekers.set(lowest, now);
        } else this.seekers.delete(from);
        this.learnContact(from);
        for (const peer of typed.peers ?? []) this.learnContact(peer);
        this.tick(now);
        return;
      }
      case 'cs-attach':
        this.onAttach(from, typed.server, now);
        return;
      case 'cs-attach-reply':
        this.onAttachReply(from, typed.accepted, typed.servers, typed.peers ?? [], now);
        return;
      case 'cs-promote':
        if (this.isServerRole || this.config.role !== 'auto' || !this.attached.has(from)) return;
        this.counters.promotions += 1;
        this.becomeServer(now);
        return;
      case 'cs-detach':
        this.drop(from, typed.alive ? 'disconnected' : 'left');
        if (!typed.alive) this.servers.delete(from);
        return;
      default:
        return;
    }
  }

  /**
   * A server list this node did not ask for: no hello out to `from`, or its answer came already,
   * or more than `helloWindowMs` after it. The only one sent unasked is a client's pass-on to its
   * servers (see `passOnServers`), which a server takes a few servers from if `from` is one of
   * its clients (or of its mesh, a client elected since). Anything else is ignored and counted,
   * by a server and a client alike; that includes a pass-on reaching a server elected away
   * since, which is lost as one reaching a server that failed is (its servers' own seed rejoins
   * still join the overlays). Taken from any node, such a list had a client learn, and dial,
   * every server it named, and a client or a server take up to 8 of its names as contacts: a few
   * of them replaced the 16 live nodes a node falls back on when every server is gone with
   * made-up ones, and one saying `seeking` put off the election of a client with no server.
   */
  private onUnaskedServers(from: string, servers: readonly string[], now: number): void {
    if (!this.isServerRole || (!this.clients.has(from) && !this.serverPeers.has(from))) {
      this.counters.serverListsIgnored += 1;
      return;
    }
    for (const server of this.takeNewServers(this.passedOnBudget, servers, now)) this.learnServer(server, now, from);
    this.tick(now);
  }

  private onAttach(from: string, fromServer: boolean, now: number): void {
    if (!this.isServerRole) {
      this.counters.attachesRefused += 1;
      this.send(from, { type: 'cs-attach-reply', epoch: this.epoch, accepted: false, servers: this.serverList(), peers: this.peerSample(from) }, false);
      return;
    }
    if (fromServer) {
      this.learnServer(from, now);
      // A client of this server that was elected one: the same link, now in the mesh.
      if (this.clients.has(from) && !this.serverPeers.isFull()) this.moveIntoMesh(from);
      if (!this.serverPeers.has(from) && !this.serverPeers.isFull()) this.addNeighbor(this.serverPeers, from);
      this.send(from, { type: 'cs-attach-reply', epoch: this.epoch, accepted: this.serverPeers.has(from), servers: this.serverList(), peers: this.peerSample(from) }, false);
      return;
    }
    this.learnContact(from);
    const accepted = this.clients.has(from) || (!this.clients.isFull() && this.addNeighbor(this.clients, from));
    if (accepted) this.counters.attachesAccepted += 1;
    else this.counters.attachesRefused += 1;
    this.send(from, { type: 'cs-attach-reply', epoch: this.epoch, accepted, servers: this.serverList(), peers: this.peerSample(from) }, false);
  }

  private onAttachReply(from: string, accepted: boolean, servers: readonly string[], peers: readonly string[], now: number): void {
    const asked = this.attaches.get(from);
    if (asked === undefined) {
      // Not the answer to an attach this node sent, or to one given up on. Any node can send one,
      // and it was taken as an answer: a server took its sender into the mesh, and any node learnt
      // and dialled every server and contact it named. An acceptance is undone on its sender's
      // side (it may hold this node as a client or in its mesh, having answered late) unless the
      // two are linked already; nothing is learnt from it.
      if (accepted && !this.isNeighbor(from)) this.detach(from);
      return;
    }
    this.attaches.delete(from);
    this.pending.delete(from);
    const asClient = asked === 'client';
    for (const peer of peers) this.learnContact(peer);
    // A server lists itself first in its answers: one that does not is a client now (it was
    // elected away), and is no longer a server to attach to. What it lists is what it knew as a
    // client, unchecked, and names those elected away with it: learnt, they were asked in turn,
    // and their refusals named it again, so that the clients of a cluster whose servers had
    // stepped down together kept asking them all, every period, for good.
    const fromServer = accepted || servers.includes(from);
    if (fromServer) for (const server of servers) this.learnServer(server, now, from);
    if (!accepted) {
      if (!fromServer && this.servers.delete(from)) this.noteFailedServer(from, now);
      // A server this node stepped up beside, whose mesh is full: it keeps this node as a client,
      // so the link is not one of the mesh.
      if (this.isServerRole && this.serverPeers.has(from)) this.detach(from);
      this.refusedUntil.set(from, now + this.config.announceIntervalMs);
      this.tick(now);
      return;
    }
    this.learnServer(from, now);
    if (this.isServerRole) {
      if (this.clients.has(from)) {
        // A client of this node that became a server and took it into its mesh, its own request
        // to mesh still on the way: the same link, now in the mesh. Added to the mesh as well, it
        // was in two sets with two neighbour-ups, and its failure took only one of them away.
        if (!this.serverPeers.isFull()) this.moveIntoMesh(from);
      } else if (!this.serverPeers.has(from) && !this.serverPeers.isFull()) {
        this.addNeighbor(this.serverPeers, from);
        // Asked as a client before this node became a server: the server holds it as a client,
        // and is asked again, to mesh (see `onAttach`), or the two would disagree on the link.
        if (asClient) this.attach(from, true, now);
      }
    } else if (!asClient && !this.attached.has(from)) {
      // Asked to mesh before this node was elected away: the server holds it in its mesh (and
      // would announce it as a server). It lets it go, and attaches as a client in its turn.
      this.detach(from);
    } else if (!this.attached.has(from)) {
      // Attached unless this node holds one more than k already (see `rebalance`): one too many
      // is undone on the server.
      if (!this.attached.isFull()) {
        this.addNeighbor(this.attached, from);
        this.shedWorst();
      } else this.detach(from);
    }
    this.tick(now);
  }

  peerDown(peer: string, now: number): void {
    if (this.stopped) return;
    this.noteServers(now);
    const wasPending = this.pending.delete(peer);
    this.attaches.delete(peer);
    // Restarted, it may run a newer version: it is heard again before it counts as an older one.
    this.announcingOnlyThemselves.delete(peer);
    this.contacts.delete(peer);
    this.seekers.delete(peer);
    const linkedServer = this.serverPeers.has(peer) || this.attached.has(peer);
    const wasServer = this.servers.delete(peer);
    if (wasServer || linkedServer) this.rememberServer(peer);
    // A failed server asked whether it is live (see `learnServer`) stays marked while it does not answer.
    if (wasServer || linkedServer || this.failedServers.has(peer)) this.noteFailedServer(peer, now);
    if (this.drop(peer, 'failed') && wasServer) this.counters.serverFailures += 1;
    if (wasPending || wasServer) this.tick(now);
  }

  /**
   * The driver holds the attach or hello to `peer` until a connection to it is set up: the
   * request gets `connectTimeoutMs` more before it is given up, so a server slow to accept is
   * not forgotten for it (a dial that fails ends the request sooner, through `peerDown`).
   */
  peerConnecting(peer: string, now: number): void {
    this.pending.connecting(peer, now);
  }

  /** The connection to `peer` came up and the held request left: its answer is due within the request timeout from now. */
  peerUp(peer: string, now: number): void {
    this.pending.connected(peer, now);
  }

  heartbeatFrom(peer: string, _now: number): void {
    if (this.stopped || this.isNeighbor(peer) || this.pending.has(peer)) return;
    this.detach(peer);
  }

  tick(now: number): void {
    if (this.stopped || !this.started) return;
    for (const [peer, deadline] of this.pending) {
      if (deadline > now) continue;
      this.pending.delete(peer);
      const attach = this.attaches.delete(peer);
      if (this.servers.delete(peer) || this.failedServers.has(peer)) this.noteFailedServer(peer, now);
      // An attach unanswered may have been taken (its answer lost or on its way), and a node
      // elected a server asks its servers to mesh over the links it holds already: the peer is
      // told to let go, and so does this node. Left as they were, a server held a client that
      // held nothing (found only by heartbeats, when on), and a server refusing to mesh, its
      // refusal lost, held as a client a node that held it in its mesh, for good.
      if (attach) this.detach(peer);
    }
    for (const [peer, until] of this.refusedUntil) if (until <= now) this.refusedUntil.delete(peer);
    const threePeriodsAgo = now - 3 * this.config.announceIntervalMs;
    forgetBefore(this.seekers, threePeriodsAgo);
    forgetBefore(this.failedServers, threePeriodsAgo);
    forgetBefore(this.failedServersAsked, threePeriodsAgo);
    forgetBefore(this.promotionsAsked, threePeriodsAgo);
    for (const [peer, sentAt] of this.hellosSent) if (sentAt[sentAt.length - 1]! + this.helloWindowMs < now) this.hellosSent.delete(peer);
    if (this.rejoinSchedule.due(now)) this.seedRejoin(now);
    // Servers unheard of for three announcement periods are forgotten (not the ones linked to).
    // Announcements come over this node's links only: with none left, what it knows cannot be
    // refreshed and is kept until tried (a failed try forgets a server). Aged out, the live
    // servers a client had not reached yet while it tried failed ones were forgotten, and it
    // made itself a server alone, one no broadcast reached.
    if (this.neighbors().length > 0) {
      for (const [server, info] of this.servers) {
        if (now - info.lastSeen > 3 * this.config.announceIntervalMs && !this.isNeighbor(server) && !this.pending.has(server)) this.servers.delete(server);
      }
    }
    if (this.isServerRole) {
      if (now >= this.nextAnnounceAt) {
        this.nextAnnounceAt = now + this.config.announceIntervalMs;
        if (this.announcesForMesh()) {
          this.counters.announcements += 1;
          this.effects.push({ kind: 'publish', topic: SERVERS_TOPIC, payload: { server: this.self, servers: [this.self, ...this.serverPeers.values()] } });
          this.topUpServers(now);
        }
      }
      for (const server of this.servers.keys()) {
        if (server === this.self || this.serverPeers.has(server) || this.pending.has(server) || this.refusedUntil.has(server)) continue;
        if (this.serverPeers.size + this.pending.size >= this.serverPeers.capacity) break;
        this.attach(server, true, now);
      }
      if (now >= this.nextHelloAt) {
        this.nextHelloAt = now + this.config.announceIntervalMs;
        // A server that knows of no other server (cut off until every link failed, or a client
        // that became a server so) asks a seed or a former server every period, as a client
        // without servers does. Its announcements travel only over its links, so nobody else
        // would learn of it; left to the seed rejoins (an interval apart, and then only with a
        // chance of one in the server count) it stayed a server on its own, hearing no
        // broadcast, for up to a minute after the cut healed, and for good without seeds.
        // A server that made itself one asks also while it knows some (see `promoteAlone`).
        if ((this.serverPeers.size === 0 && this.servers.size === 0) || now < this.askContactsUntil) this.helloContact(now);
      }
      return;
    }
    this.noteServers(now);
    this.attachClient(now);
    if (now >= this.nextContactRefreshAt) {
      this.nextContactRefreshAt = now + this.contactRefreshDelay();
      // Not a request: a lost answer only leaves the contacts as they were until the next one.
      const server = this.attached.random(this.random);
      if (server !== undefined) {
        this.noteHello(server, now);
        this.send(server, { type: 'cs-hello', epoch: this.epoch }, false);
      }
    }
    if (now >= this.nextHelloAt) {
      this.nextHelloAt = now + this.config.announceIntervalMs;
      this.rebalance(now);
      if (this.attached.size === 0) {
        const known = this.servers.size;
        // No server anywhere in sight for three periods: become one (auto role only). Counted from
        // when one was last in sight, not from the start: a client whose servers all failed
        // (cut off for a moment, its attempts at the servers it knew failing too) became one at
        // its next period, without asking its seeds, and then a server cut off from the others.
        if (known === 0 && this.config.role === 'auto' && now - this.serverSeenAt >= 3 * this.config.announceIntervalMs && !this.defersPromotion(now)) {
          this.promoteAlone(now);
          return;
        }
        this.helloContact(now);
      }
    }
  }

  nextTick(): number {
    if (this.stopped || !this.started) return Number.POSITIVE_INFINITY;
    let next = Math.min(this.nextAnnounceAt, this.nextHelloAt, this.rejoinSchedule.nextAt, this.isServerRole ? Number.POSITIVE_INFINITY : this.nextContactRefreshAt);
    for (const deadline of this.pending.values()) if (deadline < next) next = deadline;
    for (const until of this.refusedUntil.values()) if (until < next) next = until;
    return next;
  }

  /**
   * Clusters formed apart (seeds unreachable at boot, a long partition) never learn of each
   * other's servers: announcements travel only over the server mesh. So now and then a node
   * says hello to a random seed it is not linked to; the answer lists the seed's servers, which
   * a server then attaches to (a client passes them on to its servers, see `passOnServers`), and
   * the meshes (and announcements, and broadcasts) join. Each server asks with probability 1 /
   * the server count the size estimate calls for, so a cluster's servers send about one per
   * interval. Clients ask too, each with probability servers / size (about one in the number of
   * clients a server's place in the election stands for): a cluster's clients send about as many
   * per interval as it has servers, √n, not one each, and a client whose seed is the only one
   * across a split asks it within about √n intervals times its candidate seeds on average (a
   * 40-node probe with one such client: 1.4 to 19 intervals). Only servers used to ask, so when the
   * one seed across a healed partition was a client's, the two overlays stayed apart for good. A
   * client asks only seeds that are not servers it knows (those share its overlay). A node that
   * no seed has answered yet asks every interval. Called when the schedule says a rejoin is due.
   */
  private seedRejoin(now: number): void {
    if (this.seeds.length === 0) return;
    const share = this.isServerRole ? (size: number) => targetServerCount(size, this.config) : (size: number) => size / targetServerCount(size, this.config);
    if (!this.rejoinSchedule.chance(share)) return;
    const candidates = this.seeds.filter((seed) => !this.isNeighbor(seed) && !this.pending.has(seed) && (this.isServerRole || !this.servers.has(seed)));
    if (candidates.length === 0) return;
    this.counters.seedRejoins += 1;
    this.hello(this.rejoinSchedule.pick(candidates), now);
  }

  /**
   * A client that learnt `servers` from a seed it asked (a seed rejoin's answer), not from its
   * own servers' announcements, tells its servers of them in a cs-servers of its own: they
   * attach to them as to any server they learn of, and if they were another overlay's the two
   * meshes join. Announcements cross only server meshes, so a client that merely knew of the
   * other overlay's servers linked nothing (it would move to one of them only if it scored
   * better than its own).
   */
  private passOnServers(servers: readonly string[]): void {
    if (servers.length === 0) return;
    for (const server of this.attached.values()) this.send(server, { type: 'cs-servers', epoch: this.epoch, servers }, false);
  }

  /**
   * Of `servers`, from a list this server did not ask for, those it takes: every one it knows,
   * and of those it does not, at most PASSED_ON_SERVERS_PER_PERIOD a period from `budget`, each
   * of which it dials (see `learnServer`).
   */
  private takeNewServers(budget: NewServerBudget, servers: readonly string[], now: number): string[] {
    if (now >= budget.until) {
      budget.left = PASSED_ON_SERVERS_PER_PERIOD;
      budget.until = now + this.config.announceIntervalMs;
    }
    const taken: string[] = [];
    for (const server of servers) {
      if (server === this.self || this.servers.has(server)) taken.push(server);
      else if (budget.left > 0) {
        budget.left -= 1;
        taken.push(server);
      }
    }
    return taken;
  }

  /**
   * Says hello to one contact (a seed, a former server or a live node heard of) not asked
   * already: its answer lists its servers. A client also asks again the first node before it in
   * the election that knows no server either: that node is the one to elect itself, and names
   * itself (or the server it found) in its next answer.
   */
  private helloContact(now: number): void {
    const askable = (contact: string): boolean => contact !== this.self && !this.pending.has(contact);
    if (this.isServerRole) {
      // A server asks its seeds and former servers, which may name another mesh; its live
      // contacts (mostly its own clients) only when none of those is left to ask. Drawn from all
      // of them, a server that had made itself one at boot asked its own clients most periods,
      // and its mesh and the one its seeds belonged to never heard of each other.
      const distant = [...new Set([...this.seeds, ...this.formerServers])].filter(askable);
      if (distant.length > 0) this.hello(this.random.pick(distant), now);
      // Knowing no server at all, or just made a server on its own, it asks a live contact as
      // well: when every server crashed its seeds and former servers may all be gone, and the
      // meshes that the nodes stepping up at once formed apart found each other only through the
      // seed rejoins (a 1,000-node cluster was two overlays for 25 s).
      if ((this.serverPeers.size === 0 && this.servers.size === 0) || now < this.askContactsUntil) {
        const live = this.contacts.random(this.random, this.self);
        if (live !== undefined && askable(live)) this.hello(live, now);
      }
      return;
    }
    const contacts = [...new Set([...this.seeds, ...this.formerServers, ...this.contacts.values()])].filter(askable);
    for (const contact of this.random.sample(contacts, 2)) this.hello(contact, now);
    const first = this.firstSeeker();
    if (first !== undefined && !this.pending.has(first)) this.hello(first, now);
  }

  /**
   * Whether a client that has had no server in sight for three periods leaves the election to
   * another: a node that answered it within three periods, knowing no server either, and whose
   * election point comes first. When every server crashed, every client made itself one after
   * three periods (85 to 93 of 100), and the size estimates took some 15 s to elect most of them
   * away. Now only the nodes first among those they heard from step up, and those that deferred
   * learn of them by asking again (see `helloContact`). It defers for at most
   * MAX_DEFERRAL_PERIODS with no server in sight: a node that answers `seeking` and never steps
   * up (a hostile one, whose hash comes first) held back every node that heard it for as long
   * as it answered.
   */
  private defersPromotion(now: number): boolean {
    return now - this.serverSeenAt < MAX_DEFERRAL_PERIODS * this.config.announceIntervalMs && this.firstSeeker() !== undefined;
  }

  /** The node with the first election point among the seekers, if it comes before this node. */
  private firstSeeker(): string | undefined {
    return firstInElection(this.seekers.keys(), this.point);
  }

  /** Keeps `peer`, a node heard of as live, among the contacts, in place of a random one when they are full. */
  private learnContact(peer: string): void {
    if (peer === this.self || this.contacts.has(peer)) return;
    if (this.contacts.isFull()) this.contacts.delete(this.contacts.random(this.random)!);
    this.contacts.addNew(peer);
  }

  /** Contacts to pass on to `asker`: some of a server's clients, or of the contacts a client keeps. */
  private peerSample(asker: string): string[] {
    const source = this.isServerRole && this.clients.size > 0 ? this.clients : this.contacts;
    return source.sample(this.random, MAX_PEER_SAMPLE, asker);
  }

  /** About CONTACT_REFRESH_PERIODS periods, spread so that the clients of a server do not ask together. */
  private contactRefreshDelay(): number {
    return this.config.announceIntervalMs * CONTACT_REFRESH_PERIODS * (0.5 + this.random.float());
  }

  /**
   * Marks `server` failed here (see `failedServers`). Only a failed link was marked at first: the
   * dials to crashed servers that ran out, and the servers elected away before the crash that
   * refused as clients, still went round the lists, and in seed 28 of the 100-node crash
   * simulation no node elected itself for 10 s (92 components).
   */
  private noteFailedServer(server: string, now: number): void {
    if (this.failedServers.has(server) || this.failedServers.size < this.config.maxServers * 4) this.failedServers.set(server, now);
  }

  private rememberServer(server: string): void {
    this.formerServers.delete(server);
    this.formerServers.add(server);
    if (this.formerServers.size > this.config.maxServers) this.formerServers.delete(this.formerServers.values().next().value!);
  }

  /** A server is in sight until now (called before an input may take the last one away). */
  private noteServers(now: number): void {
    if (this.attached.size > 0 || this.servers.size > 0) this.serverSeenAt = now;
  }

  private becomeServer(now: number): void {
    const servers = this.attached.toArray();
    this.attached.clear();
    this.isServerRole = true;
    // The servers it was a client of become its first peers in the mesh, on the same links.
    for (const server of servers) {
      this.serverPeers.add(server);
      this.attach(server, true, now);
    }
    this.neighborCache = undefined;
    this.nextAnnounceAt = now;
    // No server in sight: it asks its contacts at once (see `tick`).
    this.nextHelloAt = now;
    this.tick(now);
  }

  /** Elected away: lets its clients and the mesh go (they attach elsewhere) and attaches as a client. */
  private becomeClient(now: number): void {
    this.counters.demotions += 1;
    for (const peer of this.neighbors()) this.detach(peer);
    this.isServerRole = false;
    this.neighborCache = undefined;
    this.nextAnnounceAt = Number.POSITIVE_INFINITY;
    this.serverSeenAt = now;
    this.tick(now);
  }

  /**
   * The announcer of a mesh with fewer servers than the estimate's target asks its clients first
   * in the election to become servers, at most `PROMOTIONS_PER_PERIOD` a period. The election by
   * hash elects the nodes whose point is below the share, and when those are gone (every server
   * crashed, say, and a few clients stepped up in their place) no estimate elects any other.
   * Topping up to `minServers` only, a 100-node cluster ran on 3 servers (target 10) after every
   * server crashed, and a 1,000-node one on the 11 the estimates had not elected away (target
   * 32), each server with three times the clients it was sized for. A server made so stays: a server steps down
   * only with `serversKept` (a quarter more than the target) servers of its mesh before it, so a
   * noisy estimate neither tops the mesh up nor elects it down back and forth. One announcer per
   * mesh and a few clients a period, so no herd; a client asked in the last period that is not
   * in the mesh yet counts as on its way. Only once an estimate has elected the roles: before, at
   * boot, the estimates to come elect the servers, and meshes topped up apart in one partition
   * stayed apart until a seed rejoin.
   */
  private topUpServers(now: number): void {
    if (this.estimatedSize === undefined || now < this.askContactsUntil) return;
    // A mesh still joining servers it knows of waits: after every server of a 1,000-node cluster
    // crashed, some hundred nodes made themselves servers alone, each the announcer of a mesh of
    // one that asked four clients a period, and the cluster had 112 to 177 servers (target 32)
    // before the merged meshes elected them down.
    for (const server of this.servers.keys()) if (server !== this.self && !this.serverPeers.has(server)) return;
    const onTheirWay = [...this.promotionsAsked].filter(([client, at]) => at >= now - this.config.announceIntervalMs && !this.serverPeers.has(client)).length;
    const missing = targetServerCount(this.estimatedSize, this.config) - 1 - this.serverPeers.size - onTheirWay;
    for (let asked = 0; asked < Math.min(missing, PROMOTIONS_PER_PERIOD); asked += 1) {
      const first = firstInElection(
        this.clients.values().filter((client) => !this.promotionsAsked.has(client)),
        Number.POSITIVE_INFINITY,
      );
      if (first === undefined) return;
      this.promotionsAsked.set(first, now);
      this.send(first, { type: 'cs-promote', epoch: this.epoch }, false);
    }
  }

  /** Servers of this node's mesh whose election point comes before this node's. */
  private meshPeersBefore(): number {
    let count = 0;
    for (const peer of this.serverPeers.values()) if (electionPoint(peer) < this.point) count += 1;
    return count;
  }

  /** A client keeps `serversPerClient` servers: the best-scoring known ones that did not refuse it. */
  private attachClient(now: number): void {
    const wanted = this.config.serversPerClient - this.attached.size - this.pendingAttaches();
    if (wanted <= 0) return;
    for (const server of this.candidates().slice(0, wanted)) this.attach(server, false, now);
  }

  private candidates(): string[] {
    return [...this.servers.keys()]
      .filter((server) => server !== this.self && !this.attached.has(server) && !this.pending.has(server) && !this.refusedUntil.has(server))
      .sort((a, b) => rendezvousScore(this.self, b) - rendezvousScore(this.self, a));
  }

  /**
   * Servers are heard of one by one, so a client first attaches to whatever it knows. Once a
   * period, it moves to a better-scoring server (attach first, then let the worst go), so that
   * clients end up spread over the servers by rendezvous hashing whatever order they heard in.
   */
  private rebalance(now: number): void {
    if (this.attached.size < this.config.serversPerClient || this.pendingAttaches() > 0) return;
    const best = this.candidates()[0];
    if (best === undefined) return;
    const worst = this.worstAttached();
    if (worst !== undefined && rendezvousScore(this.self, best) > rendezvousScore(this.self, worst)) this.attach(best, false, now);
  }

  private worstAttached(): string | undefined {
    let worst: string | undefined;
    for (const server of this.attached.values()) if (worst === undefined || rendezvousScore(this.self, server) < rendezvousScore(this.self, worst)) worst = server;
    return worst;
  }

  /** Lets the worst-scoring server go while more than k are attached. */
  private shedWorst(): void {
    while (this.attached.size > this.config.serversPerClient) {
      const worst = this.worstAttached()!;
      this.detach(worst);
    }
  }

  private pendingAttaches(): number {
    let count = 0;
    for (const peer of this.pending.keys()) if (this.servers.has(peer)) count += 1;
    return count;
  }

  private attach(server: string, asServer: boolean, now: number): void {
    this.pending.start(server, now);
    this.attaches.set(server, asServer ? 'server' : 'client');
    this.send(server, { type: 'cs-attach', epoch: this.epoch, server: asServer }, true);
  }

  private hello(peer: string, now: number): void {
    this.pending.start(peer, now);
    this.noteHello(peer, now);
    this.send(peer, { type: 'cs-hello', epoch: this.epoch }, true);
  }

  /** A hello leaves for `peer`: one more answer from it counts, within `helloWindowMs` from now. */
  private noteHello(peer: string, now: number): void {
    const sentAt = (this.hellosSent.get(peer) ?? []).filter((at) => at + this.helloWindowMs >= now);
    sentAt.push(now);
    if (sentAt.length > HELLOS_PER_PEER) sentAt.shift();
    // Last in the map, the peer asked most recently.
    this.hellosSent.delete(peer);
    if (this.hellosSent.size >= HELLOS_TRACKED) this.hellosSent.delete(this.hellosSent.keys().next().value!);
    this.hellosSent.set(peer, sentAt);
  }

  /** Whether a server list from `peer` answers a hello sent to it within `helloWindowMs` and not answered yet; if so, the oldest such hello is answered. */
  private helloAnswered(peer: string, now: number): boolean {
    const sentAt = this.hellosSent.get(peer);
    if (sentAt === undefined) return false;
    while (sentAt.length > 0 && sentAt[0]! + this.helloWindowMs < now) sentAt.shift();
    const answered = sentAt.shift() !== undefined;
    if (sentAt.length === 0) this.hellosSent.delete(peer);
    return answered;
  }

  /** Learns of, or refreshes, `server`; `via`, the node whose list named it (undefined: the server itself). */
  private learnServer(server: string, now: number, via?: string): void {
    if (server === this.self) return;
    // Its own word (its answer, its request to mesh, its announcement) says it is live: marked
    // still, it was asked again at every list that named it, as soon as the hello before was
    // answered, a round trip apart (20 hellos in 2 s from one booting client to its seed).
    if (via === undefined || via === server) {
      this.failedServers.delete(server);
      this.failedServersAsked.delete(server);
    } else if (this.failedServers.has(server)) {
      // It may have failed only as seen from here (a link lost, this node cut off for a moment):
      // it is asked itself, and its own answer teaches it again. Learnt from no one, a live
      // server lost over one link stayed unknown for three periods, and a client whose only
      // server it was made itself a server alone (seed 4 of the partition merge simulation).
      // Asked once per mark (a request that runs out marks it anew): an answer that does not
      // name it says it is a server no more (see `failedServersAsked`).
      const markedAt = this.failedServers.get(server)!;
      const askedAt = this.failedServersAsked.get(server);
      if (!this.pending.has(server) && !this.isNeighbor(server) && (askedAt === undefined || askedAt < markedAt)) {
        this.failedServersAsked.set(server, now);
        this.hello(server, now);
      }
      return;
    }
    const info = this.servers.get(server);
    if (info !== undefined) {
      info.lastSeen = now;
      return;
    }
    if (this.servers.size >= this.config.maxServers * 4) return;
    this.servers.set(server, { lastSeen: now });
  }

  private serverList(): string[] {
    const list = [...this.servers.keys()].slice(0, this.config.maxServers - 1);
    return this.isServerRole ? [this.self, ...list] : list;
  }

  /** A client's link becomes one of the mesh: the same neighbour, so no neighbour-down or -up. */
  private moveIntoMesh(peer: string): void {
    this.clients.delete(peer);
    this.serverPeers.add(peer);
    this.neighborCache = undefined;
  }

  private addNeighbor(set: PeerSet, peer: string): boolean {
    if (!set.add(peer)) return false;
    this.neighborCache = undefined;
    this.effects.push({ kind: 'neighbor-up', peer });
    return true;
  }

  private drop(peer: string, reason: 'failed' | 'left' | 'disconnected'): boolean {
    const removed = this.serverPeers.delete(peer) || this.clients.delete(peer) || this.attached.delete(peer);
    if (!removed) return false;
    this.neighborCache = undefined;
    this.effects.push({ kind: 'neighbor-down', peer, reason });
    return true;
  }

  /** Tells `peer` this node does not count it as linked (dropping it if it did): it lets the link go on its side too. */
  private detach(peer: string): void {
    this.drop(peer, 'disconnected');
    this.send(peer, { type: 'cs-detach', epoch: this.epoch, alive: true }, false);
  }

  private send(to: string, message: ClientServerMessage, watch: boolean): void {
    this.effects.push({ kind: 'send', to, message, watch });
  }
}
