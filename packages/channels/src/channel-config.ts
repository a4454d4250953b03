// Channels: named streams between two nodes, each with its own options. The defaults follow the
// Foundation 2.0 design (FOUNDATION-REFERENCE, "2.0 design figures"): coordination (high
// priority, guaranteed delivery, 3 connections, buffer 1,000), data (medium, best effort, 5
// connections, buffer 10,000), gossip (low, best effort, 1 connection, buffer 5,000, newest
// value wins), events (medium, at least once, 2 connections, buffer 5,000), plus bulk for
// large transfers that must never delay the others.
import { createHash } from 'node:crypto';
import { ChannelsConfigError } from './errors/channels-config-error';

export interface ChannelOptions {
  /** Weight in the fair scheduler: bytes sent by backlogged channels follow these ratios. Default 1. */
  readonly priority?: number;
  /** Connections (lanes) for this channel; a partition key picks one by hash. Default 1. */
  readonly parallelism?: number;
  /** Largest payload, encoded, in bytes; larger sends are refused. Default 1 MiB. */
  readonly maxMessageBytes?: number;
  /** A newer message with the same partition key replaces a queued older one. Default false. */
  readonly monotonic?: boolean;
  /** Acknowledged, resent after a reconnect, delivered once. Default false. */
  readonly reliable?: boolean;
  /** Bound of the queue towards one peer, in messages (queued plus unacknowledged). Default 10,000. */
  readonly maxQueueMessages?: number;
  /** Bound of the queue towards one peer, in bytes (queued plus unacknowledged). Default 16 MiB. */
  readonly maxQueueBytes?: number;
  /** Credit this node grants a sender per lane: bytes in flight before the sender must wait. Default 1 MiB. */
  readonly windowBytes?: number;
  /**
   * The connections of this channel that this node dials run in a worker thread (the socket
   * thread), so that their socket reads and the garbage they leave do not delay the other
   * channels' messages (docs/decisions/0002). Local policy: the peer need not agree. Used in
   * per-channel connection mode only. Default false.
   */
  readonly thread?: boolean;
}

/** A channel with every option resolved, and its position in the channel set. */
export interface ChannelDefinition {
  readonly name: string;
  readonly index: number;
  readonly priority: number;
  readonly parallelism: number;
  readonly maxMessageBytes: number;
  readonly monotonic: boolean;
  readonly reliable: boolean;
  readonly maxQueueMessages: number;
  readonly maxQueueBytes: number;
  readonly windowBytes: number;
  readonly thread: boolean;
}

const MIB = 1024 * 1024;

/** The Foundation channel set. Each call returns a fresh object, to spread and extend. */
export function defaultChannels(): Record<string, ChannelOptions> {
  return {
    coordination: { priority: 8, parallelism: 3, reliable: true, maxMessageBytes: MIB, maxQueueMessages: 1_000, maxQueueBytes: 8 * MIB, windowBytes: MIB },
    data: { priority: 4, parallelism: 5, maxMessageBytes: 16 * MIB, maxQueueMessages: 10_000, maxQueueBytes: 32 * MIB, windowBytes: 2 * MIB },
    gossip: { priority: 1, parallelism: 1, monotonic: true, maxMessageBytes: MIB, maxQueueMessages: 5_000, maxQueueBytes: 8 * MIB, windowBytes: MIB },
    events: { priority: 4, parallelism: 2, reliable: true, maxMessageBytes: 4 * MIB, maxQueueMessages: 5_000, maxQueueBytes: 16 * MIB, windowBytes: MIB },
    bulk: { priority: 1, parallelism: 1, maxMessageBytes: 256 * MIB, maxQueueMessages: 64, maxQueueBytes: 512 * MIB, windowBytes: MIB },
  };
}

const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const MAX_CHANNELS = 64;
export const MAX_PARALLELISM = 16;
/** Largest `maxMessageBytes`: the body of a chunked message (meta included) is counted in 32 bits. */
export const MAX_MESSAGE_BYTES = 2 ** 32 - 1 - 16 * 1024;

function positive(field: string, value: number | undefined, fallback: number, options: { integer?: boolean; max?: number } = {}): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !Number.isFinite(resolved) || resolved <= 0) throw new ChannelsConfigError(field, 'must be a positive number');
  if (options.integer === true && !Number.isInteger(resolved)) throw new ChannelsConfigError(field, 'must be an integer');
  if (options.max !== undefined && resolved > options.max) throw new ChannelsConfigError(field, `must be at most ${options.max}`);
  return resolved;
}

function flag(field: string, value: boolean | undefined): boolean {
  if (value !== undefined && typeof value !== 'boolean') throw new ChannelsConfigError(field, 'must be a boolean');
  return value ?? false;
}

/** Validates and resolves a channel set, in the order given. */
export function resolveChannels(channels: Readonly<Record<string, ChannelOptions>>): ChannelDefinition[] {
  const names = Object.keys(channels);
  if (names.length === 0) throw new ChannelsConfigError('channels', 'at least one channel is needed');
  if (names.length > MAX_CHANNELS) throw new ChannelsConfigError('channels', `at most ${MAX_CHANNELS} channels`);
  return names.map((name, index) => {
    if (!NAME_PATTERN.test(name)) throw new ChannelsConfigError(`channels.${name}`, 'names are 1–64 characters of a-z, 0-9, ".", "_" and "-"');
    const options = channels[name]!;
    const field = (option: string): string => `channels.${name}.${option}`;
    return {
      name,
      index,
      priority: positive(field('priority'), options.priority, 1, { max: 1_000_000 }),
      parallelism: positive(field('parallelism'), options.parallelism, 1, { integer: true, max: MAX_PARALLELISM }),
      maxMessageBytes: positive(field('maxMessageBytes'), options.maxMessageBytes, MIB, { integer: true, max: MAX_MESSAGE_BYTES }),
      monotonic: options.monotonic ?? false,
      reliable: options.reliable ?? false,
      maxQueueMessages: positive(field('maxQueueMessages'), options.maxQueueMessages, 10_000, { integer: true }),
      maxQueueBytes: positive(field('maxQueueBytes'), options.maxQueueBytes, 16 * MIB, { integer: true }),
      windowBytes: positive(field('windowBytes'), options.windowBytes, MIB, { integer: true, max: 2 ** 32 - 1 }),
      thread: flag(field('thread'), options.thread),
    };
  });
}

export type ConnectionMode = 'per-channel' | 'single';

/** Where each channel lane travels: a connection index, and a global lane number for the scheduler. */
export interface LaneLayout {
  readonly mode: ConnectionMode;
  /** Number of connections per peer. */
  readonly connections: number;
  /** Lanes per channel actually used (1 for every channel in single mode). */
  readonly lanes: readonly number[];
  /** Global lane number of (channel, lane): offsets[channel] + lane. */
  readonly offsets: readonly number[];
  /** Connection index of each global lane. */
  readonly connectionOfLane: readonly number[];
  /** Channel index of each global lane. */
  readonly channelOfLane: readonly number[];
  readonly totalLanes: number;
}

export function layoutLanes(channels: readonly ChannelDefinition[], mode: ConnectionMode): LaneLayout {
  const lanes = channels.map((channel) => (mode === 'single' ? 1 : channel.parallelism));
  const offsets: number[] = [];
  const connectionOfLane: number[] = [];
  const channelOfLane: number[] = [];
  let total = 0;
  channels.forEach((channel, index) => {
    offsets.push(total);
    for (let lane = 0; lane < lanes[index]!; lane += 1) {
      connectionOfLane.push(mode === 'single' ? 0 : total + lane);
      channelOfLane.push(channel.index);
    }
    total += lanes[index]!;
  });
  if (total > 255) throw new ChannelsConfigError('channels', `at most 255 lanes in total (got ${total})`);
  return { mode, connections: mode === 'single' ? 1 : total, lanes, offsets, connectionOfLane, channelOfLane, totalLanes: total };
}

/**
 * A digest of what both sides must agree on: names and order, lanes, reliability and
 * monotonicity, and the connection mode. Sizes, weights and windows are local policy.
 */
export function channelSetDigest(channels: readonly ChannelDefinition[], layout: LaneLayout): string {
  const canonical = JSON.stringify([layout.mode, channels.map((channel, index) => [channel.name, layout.lanes[index], channel.reliable, channel.monotonic])]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 32);
}
