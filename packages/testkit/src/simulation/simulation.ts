// The deterministic simulation: one event queue in virtual time, nodes with their own clocks
// and randomness, and a simulated network. Every event runs to completion, in (time, seq)
// order; given the same seed and the same scenario, the same events run in the same order.
import { FoundationError, createSeededRandom } from '@foundation/core';
import type { Random, Scheduler, Seed, Timer } from '@foundation/core';
import { SimulationError } from '../errors/simulation-error';
import { EventQueue } from './event-queue';
import { latencySampler } from './latency';
import type { LatencyModel, LatencySampler } from './latency';
import { LINK_FIELD, LinkTable } from './link-table';
import { RouteCache } from './route-cache';
import type {
  InboundMessage,
  NetworkOptions,
  NetworkStats,
  NodeContext,
  NodeOptions,
  PartitionOptions,
  PeerEvent,
  RunUntilOptions,
  SendOptions,
  SimNetwork,
  SimNode,
  SimTransport,
  Simulation,
  SimulationOptions,
  TraceCheckpoint,
  TraceMode,
} from './types';
import { PayloadMeter, hashString, hashValue, mixInto } from './value-hash';

/** A timer that never fires (set for Infinity). */
const NEVER_FIRES: Timer = Object.freeze({ cancel: () => undefined });

const DEFAULT_START_TIME = Date.UTC(2026, 0, 1);
const DEFAULT_MAX_EVENTS = 50_000_000;
const DEFAULT_MAX_TIME = 60_000;
const CHECKPOINT_EVERY = 1024;
/** Node indexes index the link table; this bound keeps its keys small integers. */
const MAX_NODES = 32_768;

const enum Kind {
  Timer = 1,
  Deliver = 2,
  PeerUp = 3,
  PeerDown = 4,
  ConnectArrive = 5,
  ConnectReply = 6,
  ConnectFail = 7,
  LinkCheck = 8,
}

/** One queued event. A single class keeps every event the same shape for the JIT. */
class SimEvent {
  kind: Kind = Kind.Timer;
  /**
   * Index of the node the event happens on (-1 for simulation-level timers). Indexes rather
   * than node references: a delivery then reads per-node columns and never touches the node.
   */
  target = -1;
  /** Index of the other end: sender of a message, peer of a connection event. */
  source = -1;
  /**
   * Incarnation of `node` (timers, peer events, and the receiver of a message) or of `peer`
   * (connection attempts) when scheduled.
   */
  incarnation = 0;
  /**
   * Incarnation of `source`: the sender's when it sent a message; for a peer-down, that of the
   * peer's life whose connection it ends; for a dial's failure, the peer's when it failed (see
   * deliverEarlierLifeDown).
   */
  sourceIncarnation = 0;
  callback: (() => void) | null = null;
  /** A repeating timer's interval, in the milliseconds of the clock it was set on. */
  interval = 0;
  /** Rate of that clock against simulated time (1 + drift); 1 for the simulation's own. */
  rate = 1;
  /** On a drifting clock, the clock's monotonic reading at which the timer fires next. */
  due = 0;
  cancelled = false;
  channel = '';
  payload: unknown = undefined;
  headers: Readonly<Record<string, string>> | undefined = undefined;
  /** Structural hash of the payload, taken when it was sent (full traces only). */
  payloadHash = 0;
  connection: Connection | null = null;
  /** The link a message travels on, so delivery need not look it up again. */
  link = -1;
  /** The dial a connection event belongs to (see NodeState.pendingConnects). */
  attempt = 0;
}

class Connection {
  open = true;
  checkPending = false;
  constructor(
    readonly initiator: NodeState,
    readonly acceptor: NodeState,
  ) {}
}

type MessageHandler = (message: InboundMessage) => void;
/**
 * A node's handlers for one channel: the function itself when there is one (the common case:
 * one load fewer per delivery), an array when there are several. Replaced, never mutated, so a
 * delivery that adds or removes handlers does not change the ones it is calling.
 */
type HandlerEntry = MessageHandler | readonly MessageHandler[];
type PeerHandler = (peer: string) => void;

/** A channel's message handlers by node index, and its name's hash for the trace. */
class Channel {
  readonly byNode: (HandlerEntry | undefined)[] = [];
  constructor(readonly hash: number) {}
}

class NodeState {
  up = true;
  incarnation = 1;
  isolated = false;
  cutTo: Set<NodeState> | null = null;
  peerUp: PeerHandler[] = [];
  peerDown: PeerHandler[] = [];
  readonly connections = new Map<NodeState, Connection>();
  /**
   * Dials of this node still waiting for an answer, by peer: the number of each attempt, which
   * its connection events carry. A connection with the peer, whoever dialled, ends the wait, so
   * the answer of an attempt no longer waited for (a failure scheduled failure detection later)
   * is stale and tells nothing.
   */
  readonly pendingConnects = new Map<NodeState, number>();
  /**
   * peer-down events scheduled for this node and not yet delivered, by peer. Their number is
   * mirrored in SimulationImpl.pendingDownCounts (syncPendingDowns after each change).
   */
  readonly pendingDowns = new Map<NodeState, SimEvent>();
  /**
   * Failures of this node's dials, decided and waiting out failure detection before they are
   * told as peer-down, by peer. Each carries the peer's incarnation when its dial failed (see
   * deliverEarlierLifeDown); counted in SimulationImpl.pendingDownCounts with pendingDowns.
   */
  readonly failingDials = new Map<NodeState, SimEvent>();
  readonly durable = new Map<string, unknown>();
  context!: NodeContext;
  handle!: SimNode;

  constructor(
    readonly id: string,
    readonly index: number,
    readonly rate: number,
    readonly skewMs: number,
    readonly start: ((context: NodeContext) => void) | undefined,
  ) {}
}

interface Partition {
  readonly masks: Map<NodeState, number>;
  readonly oneWay: boolean;
}

function lowestBit(mask: number): number {
  return 31 - Math.clz32(mask & -mask);
}

function flushPromises(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

class SimulationImpl implements Simulation {
  readonly seed: Seed;
  readonly random: Random;
  readonly clock: Scheduler;
  readonly network: SimNetwork;

  private time = 0;
  private events = 0;
  private running = false;
  /** The async run in progress (`runForAsync` or `runUntilAsync`), named for error messages. */
  private asyncRun: string | undefined;
  /**
   * A run call refused while a run was in progress. It is thrown at the call and again by the
   * run in progress, so a refusal in a promise chain nobody awaits still stops the run.
   */
  private refused: SimulationError | undefined;
  private readonly queue = new EventQueue<SimEvent>();
  /**
   * Delivery events already dispatched, for reuse. Nothing outside the queue refers to a
   * delivery (a timer's event, which its cancel handle refers to, is never reused), and reusing
   * them keeps the events in flight in a few hundred kilobytes that stay in cache, where fresh
   * ones would stream through the young generation.
   */
  private readonly spareDeliveries: SimEvent[] = [];
  /** Node index by id; ids resolve to indexes once per call, and the hot paths work on indexes. */
  private readonly nodeIndexes = new Map<string, number>();
  private readonly nodeList: NodeState[] = [];
  private readonly nodeIds: string[] = [];
  /**
   * By node index: the current incarnation while the node is up, 0 while it is down. Mirrors
   * NodeState.up and .incarnation (an incarnation is never 0) so that a send or a delivery checks
   * liveness in a small dense column instead of loading a node object.
   */
  private live = new Int32Array(64);
  /**
   * By node index: how many peer-downs wait to be told to the node (NodeState.pendingDowns.size),
   * so that a delivery looks for one of its sender's only when there is any.
   */
  private pendingDownCounts = new Int32Array(64);
  private readonly rootRandom: Random;
  private readonly networkRandom: Random;
  private readonly startTime: number;
  private readonly traceMode: TraceMode;
  private readonly maxEvents: number;
  private readonly invariants: { name: string; check: () => boolean | string | void }[] = [];
  private hashA = 0x2545_f491;
  private hashB = 0x9e37_79b9 | 0;
  private readonly checkpoints: TraceCheckpoint[] = [];

  // network state
  private latency: LatencySampler;
  private dropRate = 0;
  private duplicateRate = 0;
  private reorderRate = 0;
  private reorderWindowMs = 10;
  private maxFrameBytes = 64 * 1024 * 1024;
  private failureDetectionMs = 500;
  /** Numbers the dials (`connect`), so the answer to an earlier one is told from the current one's. */
  private connectAttempts = 0;
  private sizeOf: ((payload: unknown) => number) | undefined;
  private readonly meter = new PayloadMeter();
  private partitions: Partition[] = [];
  /** Whether any cut, isolation or partition is in force; while not, nothing is blocked. */
  private faulty = false;
  private readonly links = new LinkTable(MAX_NODES);
  /** (sender, peer id) → peer index and link id, for sends: one probe instead of two lookups. */
  private readonly routes = new RouteCache();
  /**
   * Message handlers by channel, then by node index: a delivery finds its handlers, and the
   * channel's hash for the trace, with one lookup among the few channels and one array index.
   */
  private readonly channels = new Map<string, Channel>();
  /** Per-link overrides, by link id; rare, so kept apart from the hot columns. */
  private readonly linkDropRates = new Map<number, number>();
  private readonly linkLatencies = new Map<number, LatencySampler>();
  private readonly totals: NetworkStats = {
    sent: 0,
    delivered: 0,
    dropped: 0,
    duplicated: 0,
    bytes: 0,
    reordered: 0,
    droppedBy: { partition: 0, loss: 0, nodeDown: 0, oversize: 0, noHandler: 0 },
  };

  constructor(options: SimulationOptions) {
    if (options === undefined || options.seed === undefined) {
      throw new SimulationError({ kind: 'misuse', message: 'createSimulation needs a seed, e.g. createSimulation({ seed: 1 })' });
    }
    this.seed = options.seed;
    this.rootRandom = createSeededRandom(options.seed);
    this.random = this.rootRandom.fork('simulation');
    this.networkRandom = this.rootRandom.fork('network');
    this.startTime = options.startTime ?? DEFAULT_START_TIME;
    this.traceMode = options.trace ?? 'full';
    this.maxEvents = options.maxEvents ?? DEFAULT_MAX_EVENTS;
    this.latency = this.latencySampler({ min: 1, max: 5 });
    this.configureNetwork(options.network ?? {});
    this.clock = this.createClock(null, 0, 1, 0);
    this.network = this.createNetworkFacade();
  }

  // ---- errors -------------------------------------------------------------------------

  private misuse(message: string): SimulationError {
    return new SimulationError({ kind: 'misuse', message, seed: this.seed, time: this.time });
  }

  private checkProbability(value: number | undefined, what: string): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
      throw this.misuse(`${what} must be a probability in [0, 1] (got ${String(value)})`);
    }
    return value;
  }

  /** A sampler for `model` whose errors, at once or when it samples, are this simulation's misuse. */
  private latencySampler(model: LatencyModel): LatencySampler {
    return latencySampler(model, (message) => this.misuse(message));
  }

  private checkDelay(delayMs: number, what: string): void {
    if (typeof delayMs !== 'number' || Number.isNaN(delayMs) || delayMs < 0 || delayMs === Number.POSITIVE_INFINITY) {
      throw this.misuse(`${what} must be a finite, non-negative number of milliseconds (got ${String(delayMs)})`);
    }
  }

  private indexOf(id: string): number {
    const index = this.nodeIndexes.get(id);
    if (index === undefined) {
      const known = this.nodeIds;
      const list = known.length > 10 ? `${known.slice(0, 10).join(', ')}, …` : known.join(', ');
      throw this.misuse(`unknown node "${id}" (known: ${list || 'none'})`);
    }
    return index;
  }

  private state(id: string): NodeState {
    return this.nodeList[this.indexOf(id)]!;
  }

  // ---- scheduling ---------------------------------------------------------------------

  private enqueue(event: SimEvent, time: number): void {
    this.queue.push(event, time);
  }

  private scheduleTimer(node: NodeState | null, incarnation: number, delayMs: number, callback: () => void, interval: number, rate = 1): Timer {
    this.checkDelay(delayMs, interval > 0 ? 'timer interval' : 'timer delay');
    if (interval > 0 && delayMs === 0) throw this.misuse('a repeating timer needs an interval greater than 0');
    const event = new SimEvent();
    event.kind = Kind.Timer;
    event.target = node === null ? -1 : node.index;
    event.incarnation = incarnation;
    event.callback = callback;
    event.interval = interval;
    event.rate = rate;
    let at = this.time + delayMs;
    if (interval > 0 && rate !== 1) {
      event.due = this.time * rate + interval;
      at = this.clockReaches(event.due, rate);
    }
    this.enqueue(event, at);
    return {
      cancel: () => {
        event.cancelled = true;
      },
    };
  }

  /**
   * The simulated delay after which a timer of `delayMs` on a clock running at `rate` fires: not
   * before the clock's own monotonic() reaches the due time. delayMs / rate alone can fire it a
   * rounding error early on a drifting clock, and code that checks `elapsed >= timeout` then fails.
   */
  private driftedDelay(delayMs: number, rate: number): number {
    if (rate === 1) return delayMs;
    const due = this.time * rate + delayMs;
    let delay = delayMs / rate;
    while ((this.time + delay) * rate < due) delay += Math.max(Number.MIN_VALUE, (this.time + delay) * Number.EPSILON);
    return delay;
  }

  /**
   * The earliest simulated time, not before now, at which a clock running at `rate` reads `due`
   * on its monotonic(). A repeating timer fires its n-th time there for its start plus n
   * intervals: adding interval / rate up in simulated time fired most of them a rounding error
   * early by the node's own clock.
   */
  private clockReaches(due: number, rate: number): number {
    let time = Math.max(this.time, due / rate);
    while (time * rate < due) time += Math.max(Number.MIN_VALUE, time * Number.EPSILON);
    return time;
  }

  /**
   * A clock for one node incarnation (or, with node null, for the simulation itself). Timers
   * set through a dead incarnation's clock are queued but never fire, as a dead process's
   * timers would not.
   */
  private createClock(node: NodeState | null, incarnation: number, rate: number, skewMs: number): Scheduler {
    return {
      now: () => this.startTime + skewMs + this.time * rate,
      monotonic: () => this.time * rate,
      setTimer: (delayMs, callback) => {
        // The Scheduler contract (and the system clock): a timer set for Infinity never fires.
        if (delayMs === Number.POSITIVE_INFINITY) return NEVER_FIRES;
        this.checkDelay(delayMs, 'timer delay');
        return this.scheduleTimer(node, incarnation, this.driftedDelay(delayMs, rate), callback, 0);
      },
      setRepeatingTimer: (intervalMs, callback) => {
        if (intervalMs === Number.POSITIVE_INFINITY) return NEVER_FIRES;
        this.checkDelay(intervalMs, 'timer interval');
        return this.scheduleTimer(node, incarnation, intervalMs / rate, callback, intervalMs, rate);
      },
    };
  }

  schedule(delayMs: number, callback: () => void): Timer {
    return this.scheduleTimer(null, 0, delayMs, callback, 0);
  }

  now(): number {
    return this.time;
  }

  // ---- nodes --------------------------------------------------------------------------

  addNode(id: string, options: NodeOptions = {}): SimNode {
    if (typeof id !== 'string' || id.length === 0) throw this.misuse('a node id is a non-empty string');
    if (this.nodeIndexes.has(id)) throw this.misuse(`node "${id}" already exists`);
    if (this.nodeList.length >= MAX_NODES) throw this.misuse(`a simulation holds at most ${MAX_NODES} nodes`);
    const skew = options.clockSkewMs ?? 0;
    const drift = options.driftPpm ?? 0;
    if (!Number.isFinite(skew)) throw this.misuse(`clockSkewMs of node "${id}" must be finite`);
    if (!Number.isFinite(drift) || drift <= -1_000_000) throw this.misuse(`driftPpm of node "${id}" must be finite and above -1,000,000`);
    const node = new NodeState(id, this.nodeList.length, 1 + drift / 1_000_000, skew, options.start);
    this.nodeIndexes.set(id, node.index);
    this.nodeList.push(node);
    this.nodeIds.push(id);
    if (node.index === this.live.length) {
      const live = new Int32Array(2 * this.live.length);
      live.set(this.live);
      this.live = live;
      const counts = new Int32Array(2 * this.pendingDownCounts.length);
      counts.set(this.pendingDownCounts);
      this.pendingDownCounts = counts;
    }
    this.live[node.index] = node.incarnation;
    node.handle = this.createHandle(node);
    this.startIncarnation(node);
    return node.handle;
  }

  node(id: string): SimNode {
    return this.state(id).handle;
  }

  nodes(): SimNode[] {
    return this.nodeList.map((node) => node.handle);
  }

  private createHandle(node: NodeState): SimNode {
    return {
      id: node.id,
      get up() {
        return node.up;
      },
      get incarnation() {
        return node.incarnation;
      },
      get clock() {
        return node.context.clock;
      },
      get random() {
        return node.context.random;
      },
      get transport() {
        return node.context.transport;
      },
      durable: node.durable,
      crash: () => this.crash(node.id),
      restart: () => this.restart(node.id),
    };
  }

  private startIncarnation(node: NodeState): void {
    const incarnation = node.incarnation;
    node.context = {
      id: node.id,
      incarnation,
      clock: this.createClock(node, incarnation, node.rate, node.skewMs),
      random: this.rootRandom.fork(`node:${node.id}#${incarnation}`),
      transport: this.createTransport(node, incarnation),
      durable: node.durable,
    };
    if (node.start !== undefined) {
      const start = node.start;
      this.guard(node, 'start', () => start(node.context));
    }
  }

  crash(id: string): void {
    const node = this.state(id);
    if (!node.up) throw this.misuse(`node "${id}" is already down`);
    node.up = false;
    // The life that ends, which the peer-downs its peers will hear belong to.
    const ended = node.incarnation;
    node.incarnation += 1;
    this.live[node.index] = 0;
    for (const channel of this.channels.values()) channel.byNode[node.index] = undefined;
    node.peerUp = [];
    node.peerDown = [];
    for (const [peer, connection] of node.connections) {
      connection.open = false;
      if (peer.connections.get(node) === connection) {
        peer.connections.delete(node);
        this.schedulePeerEvent(peer, node, Kind.PeerDown, this.failureDetectionMs, ended);
      }
    }
    // Dials the peer already accepted but whose reply has not reached this node: the peer holds
    // the connection (and heard peer-up), this node does not, so the loop above missed them.
    for (const peer of node.pendingConnects.keys()) {
      const connection = peer.connections.get(node);
      if (connection === undefined || !connection.open || connection.initiator !== node) continue;
      connection.open = false;
      peer.connections.delete(node);
      this.schedulePeerEvent(peer, node, Kind.PeerDown, this.failureDetectionMs, ended);
    }
    node.pendingConnects.clear();
    node.pendingDowns.clear();
    node.failingDials.clear();
    this.syncPendingDowns(node);
    node.connections.clear();
    this.mixTrace(0x10, node.index, 0);
  }

  restart(id: string): void {
    const node = this.state(id);
    if (node.up) throw this.misuse(`node "${id}" is running; crash it before restarting it`);
    node.up = true;
    node.incarnation += 1;
    this.live[node.index] = node.incarnation;
    this.mixTrace(0x11, node.index, 0);
    this.startIncarnation(node);
  }

  // ---- the transport ------------------------------------------------------------------

  private createTransport(node: NodeState, incarnation: number): SimTransport {
    const index = node.index;
    const live = (): boolean => this.live[index] === incarnation;
    return {
      nodeId: node.id,
      send: (peer, channel, payload, options) => {
        if (this.live[index] !== incarnation) return false;
        this.send(index, peer, channel, payload, options);
        return true;
      },
      onMessage: (channel, handler) => {
        if (!live()) return () => undefined;
        if (typeof channel !== 'string') throw this.misuse('a channel name is a string');
        let known = this.channels.get(channel);
        if (known === undefined) {
          known = new Channel(hashString(0, channel));
          this.channels.set(channel, known);
        }
        const registry = known.byNode;
        const current = registry[index];
        registry[index] = current === undefined ? handler : typeof current === 'function' ? [current, handler] : [...current, handler];
        return () => {
          const current = registry[index];
          if (current === undefined || node.incarnation !== incarnation) return;
          const remaining = (typeof current === 'function' ? [current] : current).filter((candidate) => candidate !== handler);
          registry[index] = remaining.length === 0 ? undefined : remaining.length === 1 ? remaining[0] : remaining;
        };
      },
      on: (event: PeerEvent, handler) => {
        if (event !== 'peer-up' && event !== 'peer-down') throw this.misuse(`unknown transport event "${String(event)}"`);
        if (!live()) return () => undefined;
        const key = event === 'peer-up' ? 'peerUp' : 'peerDown';
        node[key] = [...node[key], handler];
        return () => {
          // As for onMessage: an earlier incarnation's handle leaves this incarnation's handlers alone.
          if (node.incarnation !== incarnation) return;
          node[key] = node[key].filter((candidate) => candidate !== handler);
        };
      },
      connect: (peer) => {
        if (live()) this.connect(node, this.state(peer));
      },
      disconnect: (peer) => {
        if (live()) this.disconnect(node, this.state(peer));
      },
      peers: () => (live() ? [...node.connections.keys()].map((peer) => peer.id) : []),
    };
  }

  private send(from: number, peer: string, channel: string, payload: unknown, options: SendOptions | undefined): void {
    const links = this.links;
    const routes = this.routes;
    let to: number;
    let link = -1;
    let route = typeof peer === 'string' ? routes.lookup(from, peer, this.nodeIds) : -1;
    if (route >= 0) {
      to = routes.to;
      link = routes.link;
    } else {
      to = this.indexOf(peer);
    }
    if (typeof channel !== 'string') throw this.misuse('a channel name is a string');
    if (link < 0) {
      link = links.id(from, to);
      route = routes.add(from, peer, to, link);
    }
    const generation = routes.generation;
    const traced = this.traceMode === 'full';
    let size: number;
    let payloadHash = 0;
    if (this.sizeOf === undefined) {
      this.meter.measure(payload, traced);
      size = this.meter.size;
      payloadHash = this.meter.hash;
    } else {
      size = this.sizeOf(payload);
      if (traced) payloadHash = hashValue(0, payload);
    }
    // Headers (trace context, say) are part of what a run sends, so they enter the trace too.
    if (traced && options?.headers !== undefined) payloadHash = hashValue(payloadHash, options.headers);
    const totals = this.totals;
    links.countSend(link, size);
    totals.sent += 1;
    totals.bytes += size;
    if (size > this.maxFrameBytes) return this.dropped(link, 'oversize');
    if (this.faulty && this.blocked(this.nodeList[from]!, this.nodeList[to]!)) return this.dropped(link, 'partition');
    const random = this.networkRandom;
    const loss = this.linkDropRates.size > 0 ? (this.linkDropRates.get(link) ?? this.dropRate) : this.dropRate;
    if (loss > 0 && random.float() < loss) return this.dropped(link, 'loss');
    const copies = this.duplicateRate > 0 && random.float() < this.duplicateRate ? 2 : 1;
    if (copies === 2) {
      links.add(link, LINK_FIELD.DUPLICATED, 1);
      totals.duplicated += 1;
    }
    const sampler = this.linkLatencies.size > 0 ? (this.linkLatencies.get(link) ?? this.latency) : this.latency;
    for (let copy = 0; copy < copies; copy += 1) {
      let arrival = this.time + sampler(this.nodeIds[from]!, this.nodeIds[to]!, random);
      if (this.reorderRate > 0 && random.float() < this.reorderRate) {
        arrival += random.float() * this.reorderWindowMs;
        totals.reordered += 1;
      } else {
        // A latency function that sends (and so moves the routes) invalidates the entry found.
        if (routes.generation !== generation) route = routes.lookup(from, peer, this.nodeIds);
        const earliest = routes.lastArrival(route);
        if (arrival < earliest) arrival = earliest;
        routes.setLastArrival(route, arrival);
      }
      const event = this.spareDeliveries.pop() ?? new SimEvent();
      event.kind = Kind.Deliver;
      event.target = to;
      event.source = from;
      // The incarnation it is sent to (0 while the node is down): a crash in between loses it.
      event.incarnation = this.live[to]!;
      event.sourceIncarnation = this.live[from]!;
      event.channel = channel;
      event.payload = payload;
      event.headers = options?.headers;
      event.link = link;
      event.payloadHash = payloadHash;
      this.enqueue(event, arrival);
    }
  }

  private dropped(link: number, reason: keyof NetworkStats['droppedBy']): void {
    this.links.add(link, LINK_FIELD.DROPPED, 1);
    this.totals.dropped += 1;
    this.totals.droppedBy[reason] += 1;
  }

  private blocked(from: NodeState, to: NodeState): boolean {
    if (!this.faulty) return false;
    if (from.isolated || to.isolated) return from !== to;
    if (from.cutTo !== null && from.cutTo.has(to)) return true;
    for (const partition of this.partitions) {
      const fromMask = partition.masks.get(from);
      if (fromMask === undefined) continue;
      const toMask = partition.masks.get(to);
      if (toMask === undefined || (fromMask & toMask) !== 0) continue;
      if (!partition.oneWay || lowestBit(fromMask) < lowestBit(toMask)) return true;
    }
    return false;
  }

  private connect(from: NodeState, to: NodeState): void {
    if (from === to) throw this.misuse(`node "${from.id}" cannot connect to itself`);
    if (from.connections.has(to) || from.pendingConnects.has(to)) return;
    const attempt = ++this.connectAttempts;
    from.pendingConnects.set(to, attempt);
    const event = new SimEvent();
    event.target = to.index;
    event.source = from.index;
    event.incarnation = from.incarnation;
    event.attempt = attempt;
    if (this.blocked(from, to)) {
      this.failConnect(from, to, from.incarnation, attempt, this.failureDetectionMs);
      return;
    }
    event.kind = Kind.ConnectArrive;
    this.enqueue(event, this.time + this.latencyOf(from, to));
  }

  private disconnect(from: NodeState, to: NodeState): void {
    const connection = from.connections.get(to);
    if (connection === undefined) return;
    this.closeConnection(connection, 0, this.latencyOf(from, to), from);
  }

  private latencyOf(from: NodeState, to: NodeState): number {
    const sampler = this.linkLatencies.get(this.links.id(from.index, to.index)) ?? this.latency;
    return sampler(from.id, to.id, this.networkRandom);
  }

  /** Closes a connection; each side that had it established hears `peer-down` after its delay. */
  private closeConnection(connection: Connection, delayInitiatorSide: number, delayOtherSide: number, closer: NodeState): void {
    if (!connection.open) return;
    connection.open = false;
    const ends: [NodeState, NodeState][] = [
      [connection.initiator, connection.acceptor],
      [connection.acceptor, connection.initiator],
    ];
    for (const [side, other] of ends) {
      if (side.connections.get(other) !== connection) continue;
      side.connections.delete(other);
      this.schedulePeerEvent(side, other, Kind.PeerDown, side === closer ? delayInitiatorSide : delayOtherSide, other.incarnation);
    }
  }

  /** `peerIncarnation`: for a peer-down, the peer's life whose connection it ends. */
  private schedulePeerEvent(node: NodeState, peer: NodeState, kind: Kind, delayMs: number, peerIncarnation = peer.incarnation): void {
    const event = new SimEvent();
    event.kind = kind;
    event.target = node.index;
    event.source = peer.index;
    event.incarnation = node.incarnation;
    event.sourceIncarnation = peerIncarnation;
    if (kind === Kind.PeerDown) {
      node.pendingDowns.set(peer, event);
      this.syncPendingDowns(node);
    }
    this.enqueue(event, this.time + delayMs);
  }

  private syncPendingDowns(node: NodeState): void {
    this.pendingDownCounts[node.index] = node.pendingDowns.size + node.failingDials.size;
  }

  /**
   * A new connection with `peer` proves the old one is gone: a peer-down still waiting for its
   * failure-detection delay is told now, before the new connection's peer-up, as a real
   * transport tells them (a late one would leave the node taking a connected peer for down).
   */
  private deliverPendingDown(node: NodeState, peer: NodeState): void {
    const pending = node.pendingDowns.get(peer);
    if (pending === undefined) return;
    node.pendingDowns.delete(peer);
    this.syncPendingDowns(node);
    pending.cancelled = true;
    if (!node.up || node.incarnation !== pending.incarnation) return;
    this.mixTrace(Kind.PeerDown, node.index, peer.index);
    for (const handler of node.peerDown) {
      // A handler that crashed the node ends the event for it: the rest belong to a dead life.
      if (this.live[node.index] !== pending.incarnation) return;
      this.guard(node, 'peer-down handler', () => handler(peer.id));
    }
  }

  /**
   * A message from a later life of `peer` than the one a pending peer-down ends proves that
   * life gone too: the peer-down is told now, before the message, as a real transport orders them
   * (the new life reaches the node only over a new session, and the old session ends first). A
   * node that heard the message first would take it for one of the life it then hears go down.
   * A message of the same life leaves the peer-down where failure detection put it.
   */
  private deliverEarlierLifeDown(to: number, from: number, senderIncarnation: number): void {
    const node = this.nodeList[to]!;
    const peer = this.nodeList[from]!;
    const pending = node.pendingDowns.get(peer);
    if (pending !== undefined && pending.sourceIncarnation < senderIncarnation) this.deliverPendingDown(node, peer);
    // So does a dial that failed against an earlier life (or while the peer was down): its
    // failure, waiting out failure detection, would otherwise be heard after the message.
    const dial = node.failingDials.get(peer);
    if (dial !== undefined && dial.sourceIncarnation < senderIncarnation) this.deliverDialFailure(node, peer, dial);
  }

  /** Tells the failure of a dial now rather than when failure detection runs out (see deliverEarlierLifeDown). */
  private deliverDialFailure(node: NodeState, peer: NodeState, failure: SimEvent): void {
    failure.cancelled = true;
    this.tellDialFailure(node, peer, failure);
  }

  /** Tells `node` that its dial of `peer` failed, unless the node restarted or dialled (or connected) again since. */
  private tellDialFailure(node: NodeState, peer: NodeState, failure: SimEvent): void {
    if (node.failingDials.get(peer) === failure) {
      node.failingDials.delete(peer);
      this.syncPendingDowns(node);
    }
    if (!node.up || node.incarnation !== failure.incarnation) return;
    // Stale when the node connected to the peer since (or dialled again after that).
    if (node.pendingConnects.get(peer) !== failure.attempt) return;
    node.pendingConnects.delete(peer);
    this.mixTrace(Kind.ConnectFail, node.index, peer.index);
    for (const handler of node.peerDown) {
      if (this.live[node.index] !== failure.incarnation) return;
      this.guard(node, 'peer-down handler', () => handler(peer.id));
    }
  }

  /** After a fault, connections whose path is now blocked break once failure detection runs out. */
  private scheduleLinkChecks(): void {
    for (const node of this.nodeList) {
      for (const [peer, connection] of node.connections) {
        if (connection.checkPending || !connection.open) continue;
        if (!this.blocked(node, peer) && !this.blocked(peer, node)) continue;
        connection.checkPending = true;
        const event = new SimEvent();
        event.kind = Kind.LinkCheck;
        event.connection = connection;
        this.enqueue(event, this.time + this.failureDetectionMs);
      }
    }
  }

  // ---- the network facade -------------------------------------------------------------

  private configureNetwork(options: NetworkOptions): void {
    if (options.latency !== undefined) this.latency = this.latencySampler(options.latency);
    this.dropRate = this.checkProbability(options.dropRate, 'dropRate') ?? this.dropRate;
    this.duplicateRate = this.checkProbability(options.duplicateRate, 'duplicateRate') ?? this.duplicateRate;
    this.reorderRate = this.checkProbability(options.reorderRate, 'reorderRate') ?? this.reorderRate;
    if (options.reorderWindowMs !== undefined) {
      this.checkDelay(options.reorderWindowMs, 'reorderWindowMs');
      this.reorderWindowMs = options.reorderWindowMs;
    }
    if (options.failureDetectionMs !== undefined) {
      this.checkDelay(options.failureDetectionMs, 'failureDetectionMs');
      this.failureDetectionMs = options.failureDetectionMs;
    }
    if (options.maxFrameBytes !== undefined) {
      if (!(options.maxFrameBytes > 0)) throw this.misuse('maxFrameBytes must be positive');
      this.maxFrameBytes = options.maxFrameBytes;
    }
    if (options.sizeOf !== undefined) this.sizeOf = options.sizeOf;
  }

  private createNetworkFacade(): SimNetwork {
    const afterFault = (label: number, a: number, b: number): void => {
      this.faulty = true;
      this.mixTrace(label, a, b);
      this.scheduleLinkChecks();
    };
    return {
      configure: (options) => this.configureNetwork(options),
      setLatency: (from, to, model) => {
        this.linkLatencies.set(this.links.id(this.indexOf(from), this.indexOf(to)), this.latencySampler(model));
      },
      drop: (from, to, probability) => {
        const link = this.links.id(this.indexOf(from), this.indexOf(to));
        const rate = this.checkProbability(probability, 'drop probability') ?? 0;
        if (rate > 0) this.linkDropRates.set(link, rate);
        else this.linkDropRates.delete(link);
      },
      cut: (a, b, options?: PartitionOptions) => {
        const first = this.state(a);
        const second = this.state(b);
        (first.cutTo ??= new Set()).add(second);
        if (options?.oneWay !== true) (second.cutTo ??= new Set()).add(first);
        afterFault(0x20, first.index, second.index);
      },
      isolate: (id) => {
        const node = this.state(id);
        node.isolated = true;
        afterFault(0x21, node.index, 0);
      },
      partition: (groups, options?: PartitionOptions) => {
        const given: unknown = groups;
        if (!Array.isArray(given) || groups.length < 2) throw this.misuse('partition needs at least two groups');
        if (groups.length > 31) throw this.misuse('partition supports at most 31 groups');
        const masks = new Map<NodeState, number>();
        groups.forEach((group, index) => {
          for (const id of group) {
            const node = this.state(id);
            masks.set(node, (masks.get(node) ?? 0) | (1 << index));
          }
        });
        this.partitions = [...this.partitions, { masks, oneWay: options?.oneWay === true }];
        afterFault(0x22, masks.size, groups.length);
      },
      heal: () => {
        this.partitions = [];
        for (const node of this.nodeList) {
          node.isolated = false;
          node.cutTo = null;
        }
        this.faulty = false;
        this.linkDropRates.clear();
        this.mixTrace(0x23, 0, 0);
      },
      isReachable: (from, to) => !this.blocked(this.state(from), this.state(to)),
      stats: () => ({ ...this.totals, droppedBy: { ...this.totals.droppedBy } }),
      linkStats: (from, to) => this.links.stats(this.links.find(this.indexOf(from), this.indexOf(to))),
    };
  }

  // ---- running ------------------------------------------------------------------------

  step(): boolean {
    return this.runLoop('step()', () => this.processNext());
  }

  private processNext(): boolean {
    const time = this.queue.peekTime();
    const event = this.queue.pop();
    if (event === undefined) return false;
    if (event.cancelled) return true;
    this.time = time;
    this.dispatch(event);
    this.events += 1;
    if ((this.events & (CHECKPOINT_EVERY - 1)) === 0) {
      this.checkpoints.push({ events: this.events, time: this.time, hash: this.traceHash() });
    }
    if (this.invariants.length > 0) this.checkInvariants();
    return true;
  }

  private dispatch(event: SimEvent): void {
    const kind = event.kind;
    if (kind === Kind.Deliver) {
      this.deliver(event);
      event.payload = undefined;
      event.headers = undefined;
      this.spareDeliveries.push(event);
      return;
    }
    const target = event.target;
    if (kind === Kind.Timer) {
      if (target >= 0 && this.live[target] !== event.incarnation) return;
      this.mixTrace(Kind.Timer, target, 0);
      const callback = event.callback!;
      if (event.interval > 0) {
        if (event.rate === 1) this.enqueue(event, this.time + event.interval);
        else {
          event.due += event.interval;
          this.enqueue(event, this.clockReaches(event.due, event.rate));
        }
      }
      this.guard(target < 0 ? null : this.nodeList[target]!, 'timer', callback);
      return;
    }
    if (kind === Kind.LinkCheck) {
      const connection = event.connection!;
      connection.checkPending = false;
      if (!connection.open) return;
      const { initiator, acceptor } = connection;
      if (this.blocked(initiator, acceptor) || this.blocked(acceptor, initiator)) {
        this.mixTrace(Kind.LinkCheck, initiator.index, acceptor.index);
        this.closeConnection(connection, 0, 0, initiator);
      }
      return;
    }
    const node = this.nodeList[target]!;
    const peer = this.nodeList[event.source]!;
    switch (kind) {
      case Kind.PeerUp:
      case Kind.PeerDown: {
        if (event.kind === Kind.PeerDown && node.pendingDowns.get(peer) === event) {
          node.pendingDowns.delete(peer);
          this.syncPendingDowns(node);
        }
        if (!node.up || node.incarnation !== event.incarnation) return;
        this.mixTrace(event.kind, node.index, peer.index);
        const handlers = event.kind === Kind.PeerUp ? node.peerUp : node.peerDown;
        const peerId = peer.id;
        for (const handler of handlers) {
          if (this.live[node.index] !== event.incarnation) return;
          this.guard(node, event.kind === Kind.PeerUp ? 'peer-up handler' : 'peer-down handler', () => handler(peerId));
        }
        return;
      }
      case Kind.ConnectArrive: {
        const initiator = peer;
        if (!initiator.up || initiator.incarnation !== event.incarnation) return;
        if (!node.up || this.blocked(initiator, node) || this.blocked(node, initiator)) {
          this.failConnect(initiator, node, event.incarnation, event.attempt, this.failureDetectionMs);
          return;
        }
        this.mixTrace(Kind.ConnectArrive, node.index, initiator.index);
        let connection = node.connections.get(initiator);
        if (connection === undefined) {
          // Both sides dialled at once: the initiator already holds the connection this node's
          // own dial opened, and both must share it (or a crash of one end is not reported to
          // the other, whose record would be a different connection).
          const theirs = initiator.connections.get(node);
          connection = theirs?.open === true ? theirs : new Connection(initiator, node);
          node.connections.set(initiator, connection);
          // Connected: this node's own dial of the initiator, if any, is answered.
          node.pendingConnects.delete(initiator);
          this.deliverPendingDown(node, initiator);
          this.schedulePeerEvent(node, initiator, Kind.PeerUp, 0);
        }
        const reply = new SimEvent();
        reply.kind = Kind.ConnectReply;
        reply.target = initiator.index;
        reply.source = node.index;
        reply.incarnation = event.incarnation;
        reply.attempt = event.attempt;
        reply.connection = connection;
        this.enqueue(reply, this.time + this.latencyOf(node, initiator));
        return;
      }
      case Kind.ConnectReply: {
        const acceptor = peer;
        if (!node.up || node.incarnation !== event.incarnation) return;
        const connection = event.connection!;
        if (!connection.open) {
          this.failConnect(node, acceptor, event.incarnation, event.attempt, 0);
          return;
        }
        if (node.pendingConnects.get(acceptor) === event.attempt) node.pendingConnects.delete(acceptor);
        this.mixTrace(Kind.ConnectReply, node.index, acceptor.index);
        if (!node.connections.has(acceptor)) {
          node.connections.set(acceptor, connection);
          this.deliverPendingDown(node, acceptor);
          this.schedulePeerEvent(node, acceptor, Kind.PeerUp, 0);
        }
        return;
      }
      case Kind.ConnectFail: {
        this.tellDialFailure(node, peer, event);
        return;
      }
    }
  }

  private failConnect(initiator: NodeState, target: NodeState, incarnation: number, attempt: number, delayMs: number): void {
    const event = new SimEvent();
    event.kind = Kind.ConnectFail;
    event.target = initiator.index;
    event.source = target.index;
    event.incarnation = incarnation;
    // The life the dial failed against (while the target is down, the number its next life
    // exceeds): a message of a later life tells the failure first.
    event.sourceIncarnation = target.incarnation;
    event.attempt = attempt;
    if (initiator.up && initiator.incarnation === incarnation) {
      initiator.failingDials.set(target, event);
      this.syncPendingDowns(initiator);
    }
    this.enqueue(event, this.time + delayMs);
  }

  private deliver(event: SimEvent): void {
    const link = event.link;
    const to = event.target;
    const from = event.source;
    const incarnation = this.live[to]!;
    if (incarnation === 0 || incarnation !== event.incarnation) return this.dropped(link, 'nodeDown');
    if (this.faulty && this.blocked(this.nodeList[from]!, this.nodeList[to]!)) return this.dropped(link, 'partition');
    if (this.pendingDownCounts[to] !== 0) {
      this.deliverEarlierLifeDown(to, from, event.sourceIncarnation);
      // A peer-down handler may have crashed the node.
      if (this.live[to] !== incarnation) return this.dropped(link, 'nodeDown');
    }
    const channel = this.channels.get(event.channel);
    const handlers = channel === undefined ? undefined : channel.byNode[to];
    if (handlers === undefined) return this.dropped(link, 'noHandler');
    this.links.countDelivery(link);
    this.totals.delivered += 1;
    if (this.traceMode !== 'off') {
      this.mixTrace(Kind.Deliver, to, from ^ channel!.hash);
      if (this.traceMode === 'full') this.hashB = mixInto(this.hashB, event.payloadHash);
    }
    const message: InboundMessage = { from: this.nodeIds[from]!, to: this.nodeIds[to]!, channel: event.channel, payload: event.payload, headers: event.headers };
    try {
      if (typeof handlers === 'function') handlers(message);
      else {
        for (const handler of handlers) {
          // A handler that crashed the node (a fault injected on receipt) ends the delivery:
          // the other handlers belong to the dead incarnation, or a restart replaced them.
          if (this.live[to] !== incarnation) break;
          handler(message);
        }
      }
    } catch (error) {
      throw this.handlerFailure(this.nodeList[to]!, `message handler for channel "${event.channel}"`, error);
    }
  }

  private guard(node: NodeState | null, what: string, callback: () => void): void {
    try {
      callback();
    } catch (error) {
      throw this.handlerFailure(node, what, error);
    }
  }

  private handlerFailure(node: NodeState | null, what: string, error: unknown): SimulationError {
    if (error instanceof SimulationError) return error;
    const detail = error instanceof Error ? error.message : String(error);
    const where = node === null ? 'simulation' : `node "${node.id}"`;
    return new SimulationError({
      kind: 'handlerFailed',
      message: `${where}: ${what} threw: ${detail}`,
      seed: this.seed,
      time: this.time,
      cause: error,
      context: { node: node?.id, errorCode: FoundationError.is(error) ? error.code : undefined },
    });
  }

  private checkInvariants(): void {
    for (const { name, check } of this.invariants) {
      let outcome: boolean | string | void;
      try {
        outcome = check();
      } catch (error) {
        throw new SimulationError({
          kind: 'invariantViolated',
          message: `invariant "${name}" threw: ${error instanceof Error ? error.message : String(error)}`,
          seed: this.seed,
          time: this.time,
          cause: error,
        });
      }
      if (outcome === false || typeof outcome === 'string') {
        throw new SimulationError({
          kind: 'invariantViolated',
          message: `invariant "${name}" violated${typeof outcome === 'string' ? `: ${outcome}` : ''}`,
          seed: this.seed,
          time: this.time,
          context: { invariant: name, events: this.events },
        });
      }
    }
  }

  run(options: { readonly maxEvents?: number } = {}): void {
    const budget = options.maxEvents ?? this.maxEvents;
    this.runLoop('run()', () => {
      let processed = 0;
      while (this.queue.size > 0) {
        if (processed >= budget) {
          throw new SimulationError({
            kind: 'budgetExceeded',
            message: `run() processed ${budget} events and the queue still has ${this.queue.size}; a repeating timer never lets it drain, so use runFor() or runUntil()`,
            seed: this.seed,
            time: this.time,
          });
        }
        this.processNext();
        processed += 1;
      }
    });
  }

  runFor(durationMs: number): void {
    this.checkDelay(durationMs, 'runFor duration');
    const end = this.time + durationMs;
    this.runLoop('runFor()', () => {
      while (this.queue.peekTime() <= end) this.processNext();
      this.time = end;
    });
  }

  runUntil(predicate: () => boolean, options: RunUntilOptions = {}): number {
    const { start, deadline } = this.untilBounds(options);
    return this.runLoop('runUntil()', () => {
      if (predicate()) return 0;
      for (;;) {
        const next = this.queue.peekTime();
        if (next > deadline) throw this.untilFailure(this.queue.size === 0, start, deadline);
        this.processNext();
        if (predicate()) return this.time - start;
      }
    });
  }

  async runForAsync(durationMs: number): Promise<void> {
    this.checkDelay(durationMs, 'runForAsync duration');
    const end = this.time + durationMs;
    await this.asyncLoop('runForAsync()', async () => {
      while (this.queue.peekTime() <= end) {
        this.drive(() => this.processNext());
        await this.settle();
      }
      this.time = end;
    });
  }

  async runUntilAsync(predicate: () => boolean, options: RunUntilOptions = {}): Promise<number> {
    const { start, deadline } = this.untilBounds(options);
    return this.asyncLoop('runUntilAsync()', async () => {
      if (predicate()) return 0;
      for (;;) {
        if (this.queue.peekTime() > deadline) throw this.untilFailure(this.queue.size === 0, start, deadline);
        this.drive(() => this.processNext());
        await this.settle();
        if (predicate()) return this.time - start;
      }
    });
  }

  private untilBounds(options: RunUntilOptions): { start: number; deadline: number } {
    const maxTime = options.maxTime ?? DEFAULT_MAX_TIME;
    this.checkDelay(maxTime, 'maxTime');
    return { start: this.time, deadline: this.time + maxTime };
  }

  private untilFailure(drained: boolean, start: number, deadline: number): SimulationError {
    if (!drained) this.time = deadline;
    return new SimulationError({
      kind: 'budgetExceeded',
      message: drained
        ? `runUntil: no events left after ${this.time - start}ms of simulated time and the predicate still does not hold`
        : `runUntil: the predicate did not hold within maxTime=${deadline - start}ms of simulated time`,
      seed: this.seed,
      time: this.time,
    });
  }

  /**
   * Refuses a run call made while a run is in progress: from inside an event, or while an async
   * run lets promise callbacks settle. Either would drive the same queue from two loops at once,
   * and the outer one would then set the time back to its own end.
   */
  private checkNotRunning(what: string): void {
    let message: string | undefined;
    if (this.running) message = `${what} called from inside a simulated event; schedule it instead`;
    else if (this.asyncRun !== undefined) {
      message = `${what} called while ${this.asyncRun} is running the simulation (from a promise callback it let settle, or a second driver); await it first, or schedule the work with schedule()`;
    }
    if (message === undefined) return;
    const error = this.misuse(message);
    this.refused ??= error;
    throw error;
  }

  /** Throws the refusal recorded during the run, if any; a run that failed otherwise drops it. */
  private throwRefused(): void {
    const error = this.refused;
    if (error === undefined) return;
    this.refused = undefined;
    throw error;
  }

  private runLoop<T>(what: string, body: () => T): T {
    this.checkNotRunning(what);
    return this.drive(body);
  }

  private drive<T>(body: () => T): T {
    this.running = true;
    let result: T;
    try {
      result = body();
    } catch (error) {
      this.refused = undefined;
      throw error;
    } finally {
      this.running = false;
    }
    this.throwRefused();
    return result;
  }

  private async asyncLoop<T>(what: string, body: () => Promise<T>): Promise<T> {
    this.checkNotRunning(what);
    this.asyncRun = what;
    try {
      await this.settle();
      return await body();
    } finally {
      this.asyncRun = undefined;
      this.refused = undefined;
    }
  }

  /** Lets promise callbacks settle, then throws any run call they made that was refused. */
  private async settle(): Promise<void> {
    await flushPromises();
    this.throwRefused();
  }

  addInvariant(name: string, check: () => boolean | string | void): void {
    this.invariants.push({ name, check });
  }

  // ---- the trace ----------------------------------------------------------------------

  private mixTrace(kind: number, a: number, b: number): void {
    if (this.traceMode === 'off') return;
    // Time enters at 1/4096 ms resolution; ToInt32 wraps it deterministically on long runs.
    let h = mixInto(this.hashA, (kind << 24) ^ a);
    h = mixInto(h, b);
    h = mixInto(h, (this.time * 4096) | 0);
    this.hashA = h;
    this.hashB = mixInto(this.hashB, h);
  }

  record(label: string, data?: unknown): void {
    this.hashA = hashString(this.hashA, label);
    this.hashB = hashValue(this.hashB, data);
  }

  traceHash(): string {
    return (this.hashA >>> 0).toString(16).padStart(8, '0') + (this.hashB >>> 0).toString(16).padStart(8, '0');
  }

  traceCheckpoints(): readonly TraceCheckpoint[] {
    return this.checkpoints;
  }

  stats(): { readonly events: number; readonly time: number; readonly pending: number } {
    return { events: this.events, time: this.time, pending: this.queue.size };
  }
}

/**
 * A deterministic simulation: the same seed and the same scenario replay the same run. Every
 * failure it reports names the seed (`seed=...`).
 */
export function createSimulation(options: SimulationOptions): Simulation {
  return new SimulationImpl(options);
}
