// Decoding of everything a peer sends. Input is hostile: only plain objects with a known `type`
// and well-formed fields pass; ids and lists are bounded; lists longer than their cap are cut to
// it; anything else is dropped and counted. Fields are read by name and never copied by key, so
// decoded data cannot reach a prototype.
import { isPlainObject, utf8Length } from '@foundation/core';
import { TOPOLOGY_MODES } from './config';
import type { TopologyMode } from './config';
import { MAX_PEER_SAMPLE } from './messages';
import type { MembershipMessage, PlumtreeMessage } from './messages';

export interface DecodeLimits {
  /** Longest node id. */
  readonly maxNodeIdLength: number;
  /** Entries of a SHUFFLE or SHUFFLE_REPLY: ka + kp + 1. */
  readonly maxShuffleNodes: number;
  /** Entries of a full-mesh member list. */
  readonly maxMeshMembers: number;
  /** Entries of a server list. */
  readonly maxServers: number;
  /** Samples of a size-estimate message. */
  readonly sizeSamples: number;
  /** Ids in one IHAVE, GRAFT or DIGEST. */
  readonly maxIdsPerMessage: number;
  /**
   * Largest GOSSIP payload, in bytes, for byte and string payloads (`plumtree.maxPayloadBytes`,
   * the bound `broadcast` applies to this node's own): stored for GRAFTs and passed on, a larger
   * one would make the store's bound by count no bound on memory.
   */
  readonly maxPayloadBytes: number;
}

export interface DecodeStats {
  /** Not an object, a known type with a missing or ill-typed field, an oversized id. */
  malformed: number;
  /** A `type` this version does not know. */
  unknownType: number;
  /** Lists cut to their cap (the rest of the message was used). */
  truncated: number;
}

export function createDecodeStats(): DecodeStats {
  return { malformed: 0, unknownType: 0, truncated: 0 };
}

export const MAX_MESSAGE_ID_LENGTH = 64;
export const MAX_TOPIC_LENGTH = 200;
const MAX_TTL = 255;
/** Largest NEIGHBOR/JOIN request id accepted. */
const MAX_REQUEST_ID = 0xffff_ffff;
const MAX_ROUND = 1_000_000;
const MAX_EPOCH = 2 ** 31 - 1;

class Malformed extends Error {}
const MALFORMED = new Malformed('malformed');

function fail(): never {
  throw MALFORMED;
}

function validNodeId(value: unknown, limits: DecodeLimits): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= limits.maxNodeIdLength;
}

function nodeId(value: unknown, limits: DecodeLimits): string {
  if (!validNodeId(value, limits)) fail();
  return value;
}

function integer(value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) fail();
  return value;
}

/** A request id, when present, is an integer in 0..2^32 − 1 (messages without one are valid too). */
function requestId(value: unknown): number | undefined {
  return value === undefined ? undefined : integer(value, MAX_REQUEST_ID);
}

function boolean(value: unknown): boolean {
  if (typeof value !== 'boolean') fail();
  return value;
}

function finite(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail();
  return value;
}

/**
 * A list of distinct node ids, cut to `cap`. A list that is already well-formed is returned as it
 * is (read only from here on); otherwise a cleaned copy is made.
 */
function nodeList(value: unknown, cap: number, limits: DecodeLimits, stats: DecodeStats): readonly string[] {
  if (!Array.isArray(value)) fail();
  const length = value.length;
  const end = Math.min(length, cap);
  let clean = length <= cap;
  for (let index = 0; index < end; index += 1) {
    const id = nodeId(value[index], limits);
    for (let earlier = 0; earlier < index && clean; earlier += 1) if (value[earlier] === id) clean = false;
  }
  if (clean) return value as string[];
  if (length > cap) stats.truncated += 1;
  const result: string[] = [];
  for (let index = 0; index < end; index += 1) {
    const id = value[index] as string;
    if (!result.includes(id)) result.push(id);
  }
  return result;
}

/**
 * The `peers` of a client-server answer: contacts that matter only once every server is gone. A
 * malformed list is left out, not the answer, which settles a request (as `vacant` in
 * neighbor-reply); invalid and repeated ids are skipped, and the list is cut at `cap`.
 */
function peerList(value: unknown, cap: number, limits: DecodeLimits, stats: DecodeStats): readonly string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  if (value.length > cap) stats.truncated += 1;
  const result: string[] = [];
  for (let index = 0; index < value.length && result.length < cap; index += 1) {
    const id: unknown = value[index];
    if (validNodeId(id, limits) && !result.includes(id)) result.push(id);
  }
  return result;
}

function messageIds(value: unknown, cap: number, stats: DecodeStats): string[] {
  if (!Array.isArray(value)) fail();
  if (value.length > cap) stats.truncated += 1;
  const end = Math.min(value.length, cap);
  const result = new Array<string>(end);
  for (let index = 0; index < end; index += 1) {
    const id: unknown = value[index];
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_MESSAGE_ID_LENGTH) fail();
    result[index] = id;
  }
  return result;
}

/** Whether `text` takes more than `max` bytes in UTF-8, counted only as far as needed to tell. */
function utf8LengthAbove(text: string, max: number): boolean {
  if (text.length > max) return true;
  if (text.length * 3 <= max) return false;
  return utf8Length(text, max) > max;
}

/** A payload as received, unless it is bytes or a string above the bound. */
function payloadWithin(value: unknown, limits: DecodeLimits): unknown {
  if (value instanceof Uint8Array) {
    if (value.byteLength > limits.maxPayloadBytes) fail();
  } else if (typeof value === 'string' && utf8LengthAbove(value, limits.maxPayloadBytes)) fail();
  return value;
}

function topologyMode(value: unknown): TopologyMode {
  if (typeof value !== 'string' || !(TOPOLOGY_MODES as readonly string[]).includes(value)) fail();
  return value as TopologyMode;
}

type Typed = Record<string, unknown> & { readonly type: string };

/**
 * Runs `decode` on a plain object with a string `type`. Input of another shape, a field that
 * fails a check (`fail()`) and a type `decode` does not know (it returns undefined) give
 * undefined and are counted in `stats`. `decode` is a module-level function that is passed the
 * limits and stats: a closure over them would be made anew for every message received.
 */
function decodeTyped<Message>(input: unknown, limits: DecodeLimits, stats: DecodeStats, decode: (message: Typed, limits: DecodeLimits, stats: DecodeStats) => Message | undefined): Message | undefined {
  if (!isPlainObject(input) || typeof input.type !== 'string') {
    stats.malformed += 1;
    return undefined;
  }
  try {
    const message = decode(input as Typed, limits, stats);
    if (message === undefined) stats.unknownType += 1;
    return message;
  } catch (error) {
    if (error !== MALFORMED) throw error;
    stats.malformed += 1;
    return undefined;
  }
}

/** A membership-channel message, or undefined (counted in `stats`) when the input is not one. */
export function decodeMembershipMessage(received: unknown, limits: DecodeLimits, stats: DecodeStats): MembershipMessage | undefined {
  return decodeTyped(received, limits, stats, membershipFields);
}

/** A broadcast-channel (Plumtree) message, or undefined (counted) when the input is not one. */
export function decodePlumtreeMessage(received: unknown, limits: DecodeLimits, stats: DecodeStats): PlumtreeMessage | undefined {
  return decodeTyped(received, limits, stats, plumtreeFields);
}

function membershipFields(input: Typed, limits: DecodeLimits, stats: DecodeStats): MembershipMessage | undefined {
  switch (input.type) {
    case 'join': {
      const epoch = integer(input.epoch, MAX_EPOCH);
      const id = requestId(input.id);
      return id === undefined ? { type: 'join', epoch } : { type: 'join', epoch, id };
    }
    case 'forward-join':
      return { type: 'forward-join', epoch: integer(input.epoch, MAX_EPOCH), node: nodeId(input.node, limits), ttl: integer(input.ttl, MAX_TTL) };
    case 'neighbor': {
      const priority = input.priority;
      if (priority !== 'high' && priority !== 'low') fail();
      const epoch = integer(input.epoch, MAX_EPOCH);
      const id = requestId(input.id);
      return id === undefined ? { type: 'neighbor', epoch, priority } : { type: 'neighbor', epoch, priority, id };
    }
    case 'neighbor-reply': {
      const epoch = integer(input.epoch, MAX_EPOCH);
      const accepted = boolean(input.accepted);
      const id = requestId(input.id);
      // A node named in a refusal is asked next; only an answer to an identified request names one.
      // A name that is not a valid node id is left out, not the reply: the reply still settles the
      // request (a malformed reply would leave it to time out, and the refuser taken for dead).
      if (input.vacant !== undefined && id !== undefined && validNodeId(input.vacant, limits)) return { type: 'neighbor-reply', epoch, accepted, id, vacant: input.vacant };
      return id === undefined ? { type: 'neighbor-reply', epoch, accepted } : { type: 'neighbor-reply', epoch, accepted, id };
    }
    case 'disconnect':
      return { type: 'disconnect', epoch: integer(input.epoch, MAX_EPOCH), alive: boolean(input.alive) };
    case 'shuffle': {
      const epoch = integer(input.epoch, MAX_EPOCH);
      const origin = nodeId(input.origin, limits);
      const ttl = integer(input.ttl, MAX_TTL);
      const nodes = nodeList(input.nodes, limits.maxShuffleNodes, limits, stats);
      const id = requestId(input.id);
      // Literals of fixed shapes (a spread would give each message a hidden class of its own).
      // The way back needs the id: without one the walk's end answers the origin directly.
      if (input.back === undefined || id === undefined) return id === undefined ? { type: 'shuffle', epoch, origin, ttl, nodes } : { type: 'shuffle', epoch, origin, ttl, nodes, id };
      if (input.back !== true) fail();
      return { type: 'shuffle', epoch, origin, ttl, nodes, id, back: true };
    }
    case 'shuffle-reply': {
      const epoch = integer(input.epoch, MAX_EPOCH);
      const nodes = nodeList(input.nodes, limits.maxShuffleNodes, limits, stats);
      const id = requestId(input.id);
      if (input.origin === undefined) return id === undefined ? { type: 'shuffle-reply', epoch, nodes } : { type: 'shuffle-reply', epoch, nodes, id };
      // A reply on its way back is found by origin and id: one without an id goes nowhere.
      if (id === undefined) fail();
      return { type: 'shuffle-reply', epoch, nodes, id, origin: nodeId(input.origin, limits) };
    }
    case 'mesh-join':
      return { type: 'mesh-join', epoch: integer(input.epoch, MAX_EPOCH) };
    case 'mesh-members':
      return { type: 'mesh-members', epoch: integer(input.epoch, MAX_EPOCH), nodes: nodeList(input.nodes, limits.maxMeshMembers, limits, stats) };
    case 'mesh-leave':
      return { type: 'mesh-leave', epoch: integer(input.epoch, MAX_EPOCH) };
    case 'cs-hello':
      return { type: 'cs-hello', epoch: integer(input.epoch, MAX_EPOCH) };
    case 'cs-attach':
      return { type: 'cs-attach', epoch: integer(input.epoch, MAX_EPOCH), server: boolean(input.server) };
    case 'cs-attach-reply': {
      const epoch = integer(input.epoch, MAX_EPOCH);
      const accepted = boolean(input.accepted);
      const servers = nodeList(input.servers, limits.maxServers, limits, stats);
      const peers = peerList(input.peers, MAX_PEER_SAMPLE, limits, stats);
      return peers === undefined ? { type: 'cs-attach-reply', epoch, accepted, servers } : { type: 'cs-attach-reply', epoch, accepted, servers, peers };
    }
    case 'cs-promote':
      return { type: 'cs-promote', epoch: integer(input.epoch, MAX_EPOCH) };
    case 'cs-detach':
      return { type: 'cs-detach', epoch: integer(input.epoch, MAX_EPOCH), alive: boolean(input.alive) };
    case 'cs-servers': {
      const epoch = integer(input.epoch, MAX_EPOCH);
      const servers = nodeList(input.servers, limits.maxServers, limits, stats);
      const peers = peerList(input.peers, MAX_PEER_SAMPLE, limits, stats);
      const seeking = input.seeking === true;
      // As `peers`: a malformed name is left out, not the answer.
      const lowest = seeking && validNodeId(input.lowest, limits) ? input.lowest : undefined;
      return {
        type: 'cs-servers',
        epoch,
        servers,
        ...(peers === undefined ? {} : { peers }),
        ...(seeking ? { seeking: true as const } : {}),
        ...(lowest === undefined ? {} : { lowest }),
      };
    }
    case 'heartbeat': {
      const sentAt = finite(input.sentAt);
      if (input.echo === undefined) return { type: 'heartbeat', sentAt };
      return { type: 'heartbeat', sentAt, echo: finite(input.echo), held: Math.max(0, finite(input.held)) };
    }
    case 'topology':
      return { type: 'topology', epoch: integer(input.epoch, MAX_EPOCH), mode: topologyMode(input.mode), pinned: boolean(input.pinned) };
    case 'size': {
      const values = input.values;
      if (!Array.isArray(values) || values.length !== limits.sizeSamples) fail();
      const copy = new Array<number>(values.length);
      for (let index = 0; index < values.length; index += 1) {
        // Minima of exponential samples are above zero. Zeros sum to nothing, which the estimate
        // reads as a single node: one peer sending them would have every node that merged them
        // measure the cluster as one node for the round (and a large cluster switch to a full mesh).
        const value = finite(values[index]);
        if (value <= 0) fail();
        copy[index] = value;
      }
      return { type: 'size', round: integer(input.round, MAX_EPOCH), values: copy };
    }
    default:
      return undefined;
  }
}

function plumtreeFields(input: Typed, limits: DecodeLimits, stats: DecodeStats): PlumtreeMessage | undefined {
  switch (input.type) {
    case 'gossip': {
      const id = input.id;
      const topic = input.topic;
      if (typeof id !== 'string' || id.length === 0 || id.length > MAX_MESSAGE_ID_LENGTH) fail();
      if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) fail();
      return { type: 'gossip', id, topic, origin: nodeId(input.origin, limits), round: integer(input.round, MAX_ROUND), payload: payloadWithin(input.payload, limits) };
    }
    case 'ihave': {
      const ids = messageIds(input.ids, limits.maxIdsPerMessage, stats);
      const rounds = input.rounds;
      if (!Array.isArray(rounds) || rounds.length < ids.length) fail();
      const copy = new Array<number>(ids.length);
      for (let index = 0; index < ids.length; index += 1) copy[index] = integer(rounds[index], MAX_ROUND);
      return { type: 'ihave', ids, rounds: copy };
    }
    case 'graft':
      return { type: 'graft', ids: messageIds(input.ids, limits.maxIdsPerMessage, stats) };
    case 'prune':
      return { type: 'prune' };
    case 'digest':
      return { type: 'digest', ids: messageIds(input.ids, limits.maxIdsPerMessage, stats), reply: boolean(input.reply) };
    default:
      return undefined;
  }
}
