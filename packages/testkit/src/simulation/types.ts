import type { Random, Scheduler, Seed, Timer } from '@foundation/core';
import type { LatencyModel } from './latency';

/** A message as a node's handler receives it. */
export interface InboundMessage {
  readonly from: string;
  readonly to: string;
  readonly channel: string;
  readonly payload: unknown;
  /** Carrier for context propagation (trace and correlation headers), when the sender set one. */
  readonly headers: Readonly<Record<string, string>> | undefined;
}

export interface SendOptions {
  /** Accepted for shape compatibility with real transports; the simulated network keeps per-link order anyway. */
  readonly partitionKey?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export type PeerEvent = 'peer-up' | 'peer-down';

/**
 * The transport port as the simulation implements it: send to a peer on a named channel,
 * receive per channel, and observe peers going up and down.
 *
 * Sending needs no connection: the network delivers, delays, loses, duplicates or reorders
 * each message according to its faults. Connections exist to observe failure, as a real
 * transport's heartbeats do: `connect(peer)` leads to `peer-up` on both sides, and a crash, a
 * cut or a partition between connected nodes leads to `peer-down` on both sides after the
 * network's `failureDetectionMs`. A connection attempt that cannot succeed ends in `peer-down`.
 */
export interface SimTransport {
  readonly nodeId: string;
  /** Hands a message to the network; false when this node is down (or this is a stale incarnation). */
  send(peer: string, channel: string, payload: unknown, options?: SendOptions): boolean;
  /** Registers a handler for a channel; returns a function that removes it. */
  onMessage(channel: string, handler: (message: InboundMessage) => void): () => void;
  on(event: PeerEvent, handler: (peer: string) => void): () => void;
  connect(peer: string): void;
  disconnect(peer: string): void;
  /** Peers with an established connection, in the order they connected. */
  peers(): string[];
}

/** What code running on a simulated node sees: everything here belongs to one incarnation. */
export interface NodeContext {
  readonly id: string;
  /** Starts at 1 and grows with every crash and restart. */
  readonly incarnation: number;
  /** This node's clock: virtual time, with the node's skew and drift. */
  readonly clock: Scheduler;
  /** This node's randomness, derived from the simulation seed, the node id and the incarnation. */
  readonly random: Random;
  readonly transport: SimTransport;
  /** Storage that survives crashes (what a real node would have fsynced). */
  readonly durable: Map<string, unknown>;
}

/** A simulated node. Its clock, random and transport are those of its current incarnation. */
export interface SimNode extends NodeContext {
  readonly up: boolean;
  /** Stops the node abruptly: timers, handlers and connections of this incarnation are gone. */
  crash(): void;
  /** Starts a new incarnation of a crashed node, calling its `start` function again. */
  restart(): void;
}

export interface NodeOptions {
  /** Offset of this node's wall clock from true virtual time, in ms. */
  readonly clockSkewMs?: number;
  /** Rate error of this node's clock in parts per million (100 = runs 0.01% fast). */
  readonly driftPpm?: number;
  /**
   * Builds the node's volatile state; called when the node is added and after each restart.
   * Whatever it creates dies with the incarnation: only `durable` carries over.
   */
  readonly start?: (context: NodeContext) => void;
}

export interface NetworkOptions {
  /** Default latency of every link. Default uniform in [1, 5) ms. */
  readonly latency?: LatencyModel;
  /** Probability that a message is lost. Default 0. */
  readonly dropRate?: number;
  /** Probability that a message is delivered twice. Default 0. */
  readonly duplicateRate?: number;
  /**
   * Probability that a message ignores per-link FIFO order and takes up to `reorderWindowMs`
   * extra, so later messages may overtake it. Default 0: links are FIFO.
   */
  readonly reorderRate?: number;
  /** Default 10 ms. */
  readonly reorderWindowMs?: number;
  /** Messages larger than this (by `sizeOf`) are dropped and counted. Default 64 MiB. */
  readonly maxFrameBytes?: number;
  /** Time until a broken connection is reported as `peer-down`. Default 500 ms. */
  readonly failureDetectionMs?: number;
  /** Size of a payload in bytes, for counters and `maxFrameBytes`. Default: a bounded estimate. */
  readonly sizeOf?: (payload: unknown) => number;
}

export type TraceMode = 'full' | 'events' | 'off';

export interface SimulationOptions {
  readonly seed: Seed;
  readonly network?: NetworkOptions;
  /** Wall-clock time (ms since epoch) at virtual time 0. Default 2026-01-01T00:00:00Z. */
  readonly startTime?: number;
  /**
   * What the trace hash covers: `full` (every event with its payload), `events` (every event,
   * payloads left out: faster) or `off`. Default `full`.
   */
  readonly trace?: TraceMode;
  /** Default event budget of `run()`. Default 50,000,000. */
  readonly maxEvents?: number;
}

export interface LinkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  bytes: number;
}

export interface NetworkStats extends LinkStats {
  reordered: number;
  /** Why messages were dropped. */
  droppedBy: { partition: number; loss: number; nodeDown: number; oversize: number; noHandler: number };
}

export interface PartitionOptions {
  /**
   * When true, only messages from an earlier group to a later one are dropped
   * (`[[a], [b]]`: a→b lost, b→a delivered). Default false: both directions.
   */
  readonly oneWay?: boolean;
}

export interface SimNetwork {
  /** Changes network-wide conditions; unspecified options keep their value. */
  configure(options: NetworkOptions): void;
  /** Latency of the link from → to (one direction). */
  setLatency(from: string, to: string, model: LatencyModel): void;
  /** Loses messages on the link from → to with the given probability (0 removes the rule). */
  drop(from: string, to: string, probability: number): void;
  /** Cuts the link between a and b, both ways unless `oneWay` (then only a → b). */
  cut(a: string, b: string, options?: PartitionOptions): void;
  /** Cuts a node off from every other node, both ways. */
  isolate(node: string): void;
  /**
   * Splits nodes into groups that cannot reach each other. A node listed in two groups bridges
   * them; nodes not listed are unaffected. Partitions add up until `heal()`.
   */
  partition(groups: readonly (readonly string[])[], options?: PartitionOptions): void;
  /** Removes every cut, isolation, partition and per-link drop rule. */
  heal(): void;
  /** Whether a message sent now from → to would get through the cuts and partitions. */
  isReachable(from: string, to: string): boolean;
  stats(): NetworkStats;
  linkStats(from: string, to: string): LinkStats;
}

export interface RunUntilOptions {
  /** How much virtual time, from now, the predicate may take to hold. Default 60,000 ms. */
  readonly maxTime?: number;
}

export interface Simulation {
  readonly seed: Seed;
  /** Virtual time without skew, for test drivers and fault schedules. */
  readonly clock: Scheduler;
  /** Randomness for test drivers, independent of every node's. */
  readonly random: Random;
  readonly network: SimNetwork;
  /** Virtual milliseconds since the simulation started. */
  now(): number;
  addNode(id: string, options?: NodeOptions): SimNode;
  node(id: string): SimNode;
  nodes(): SimNode[];
  crash(id: string): void;
  restart(id: string): void;
  /** Runs `callback` after `delayMs` of virtual time (outside any node). */
  schedule(delayMs: number, callback: () => void): Timer;
  /**
   * Processes the next event; false when none is left. This and the other run calls are refused
   * (SimulationError `misuse`) while a run is in progress: from inside an event, from a promise
   * callback an async run lets settle, or beside another async run.
   */
  step(): boolean;
  /** Runs until no event is left; throws when the event budget runs out first. */
  run(options?: { readonly maxEvents?: number }): void;
  /** Runs every event due in the next `durationMs`, then sets the time to exactly that point. */
  runFor(durationMs: number): void;
  /**
   * Runs until `predicate` holds, checking after every event; returns the virtual time taken.
   * Throws a SimulationError naming the seed when `maxTime` passes or no event is left first.
   */
  runUntil(predicate: () => boolean, options?: RunUntilOptions): number;
  /** `runFor` that lets promise callbacks settle after every event, for async drivers. */
  runForAsync(durationMs: number): Promise<void>;
  /** `runUntil` that lets promise callbacks settle after every event, for async drivers. */
  runUntilAsync(predicate: () => boolean, options?: RunUntilOptions): Promise<number>;
  /**
   * Checks `check` after every event; a `false`, a string (the explanation) or a throw stops
   * the run with a SimulationError naming the invariant, the time and the seed.
   */
  addInvariant(name: string, check: () => boolean | string | void): void;
  /** Mixes a label (and optional data) into the trace, e.g. a client operation's result. */
  record(label: string, data?: unknown): void;
  /** 64-bit hash of everything that happened, as 16 hex digits. */
  traceHash(): string;
  /** Hash checkpoints every 1,024 events, to locate where two runs diverged. */
  traceCheckpoints(): readonly TraceCheckpoint[];
  stats(): { readonly events: number; readonly time: number; readonly pending: number };
}

export interface TraceCheckpoint {
  readonly events: number;
  readonly time: number;
  readonly hash: string;
}
