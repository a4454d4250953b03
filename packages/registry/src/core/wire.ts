// The registry's messages between nodes, and their decoder. Messages are JSON in UTF-8 bytes:
// the registry depends on nothing but core, every runtime has JSON, and bytes let the size be
// bounded exactly before anything is parsed. Everything a peer sends is treated as hostile:
// the byte size, every field's type, every count, name, version and size is checked before a
// single value is merged; a violation refuses the whole message with a typed error.
//
//   { v: 1, t: 'delta',   ns, origins: [OriginDelta...], departed: [DepartureRecord...] }
//   { v: 1, t: 'digest',  ns, hash }                              anti-entropy, step 1
//   { v: 1, t: 'summary', ns, origins: [OriginSummary...], departed, reply, lives, range }   step 2 (and 3)
//
// Life ids (see ReplicaOptions.life) came after the first release: a delta carries its origin's
// as `life`, a summary carries them as `lives`, one per origin in order (null where none is
// known), beside the origins rather than in their tuples, which earlier decoders bound to four
// items. A message without them is read as before, and earlier decoders ignore them.
//
// A summary larger than a message may be goes out in parts (see `encodeSummaries`), each with
// the range of node ids it speaks for as `range: [after, through]` (null for an open end). A
// summary without one speaks for every node, as before; an earlier decoder reads a part as a
// whole summary and sends more than the peer lacks, which costs traffic but merges to the same
// state.
import { FoundationError, utf8Length } from '@foundation/core';
import { InvalidPeerMessageError } from '../errors/invalid-peer-message-error';
import { PeerDecodeError } from '../errors/peer-decode-error';
import { isValidVersion } from '../semver/version';
import { highestCovered } from './causal-context';
import type { Interval } from './causal-context';
import type { RegistryLimits } from './limits';
import { MAX_CLOUD_INTERVALS, MAX_INCARNATION, MAX_LIFE_LENGTH, MAX_PENDING_TOMBSTONES } from './limits';
import { nameProblem, nodeIdProblem } from './names';
import { PlainJsonProblem, copyPlainJson } from './plain-json';
import type { DepartureRecord, KeyRevision, OriginDelta, OriginSummary, ReplicaSummary, Tombstone } from './replica';
import { inRange } from './summary-range';
import type { SummaryRange } from './summary-range';
import type { HealthStatus, RegistrationMode, ServiceInstance } from './types';

export const WIRE_VERSION = 1;

export type RegistryMessage =
  | {
      readonly type: 'delta';
      readonly origins: readonly OriginDelta[];
      readonly departed: readonly DepartureRecord[];
      /** Origin deltas of the message that broke the protocol: refused alone, the rest is merged. */
      readonly rejected: readonly InvalidPeerMessageError[];
    }
  | { readonly type: 'digest'; readonly hash: string }
  | {
      readonly type: 'summary';
      readonly origins: readonly OriginSummary[];
      readonly departed: readonly DepartureRecord[];
      readonly reply: boolean;
      /** A part of a larger summary: the node ids it speaks for. */
      readonly range?: SummaryRange;
    };

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Largest weight and load accepted. */
const MAX_WEIGHT = 1_000_000;
const MAX_LOAD = 1e12;
const HEALTH: readonly HealthStatus[] = ['healthy', 'degraded', 'unhealthy'];
const MODES: readonly RegistrationMode[] = ['unique', 'group'];
const LIFE = new RegExp(`^[0-9A-Za-z_-]{1,${MAX_LIFE_LENGTH}}$`);

// ---- encoding ---------------------------------------------------------------------------------

/**
 * Entries as JSON text, by instance: instances are immutable and the same one is sent to many
 * peers (anti-entropy, chunks), so each is encoded once.
 */
const encodedEntries = new WeakMap<ServiceInstance, string>();

function encodeEntry(instance: ServiceInstance): string {
  let text = encodedEntries.get(instance);
  if (text === undefined) {
    text = JSON.stringify({
      id: instance.id,
      name: instance.name,
      mode: instance.mode,
      target: instance.target,
      capabilities: instance.capabilities,
      metadata: instance.metadata,
      ...(instance.version === undefined ? {} : { version: instance.version }),
      ...(instance.serviceType === undefined ? {} : { serviceType: instance.serviceType }),
      ...(instance.zone === undefined ? {} : { zone: instance.zone }),
      weight: instance.weight,
      health: instance.health,
      load: instance.load,
      registeredAt: instance.registeredAt,
      revision: instance.revision,
    });
    encodedEntries.set(instance, text);
  }
  return text;
}

/** True when two entries carry the same change: what the wire says of them is the same text. */
export function sameEntry(left: ServiceInstance, right: ServiceInstance): boolean {
  return left === right || encodeEntry(left) === encodeEntry(right);
}

function encodeDelta(delta: OriginDelta): string {
  const head = JSON.stringify({
    node: delta.node,
    incarnation: delta.incarnation,
    covers: delta.covers.map((interval) => [interval.low, interval.high]),
    removed: delta.removed.map((tombstone) => [tombstone.id, tombstone.revision]),
    ...(delta.keys === undefined ? {} : { keys: delta.keys.map((key) => [key.id, key.revision]) }),
    ...(delta.whole === undefined ? {} : { whole: delta.whole.map((interval) => [interval.low, interval.high]) }),
    ...(delta.life === undefined ? {} : { life: delta.life }),
  });
  // The entries go in as cached text: `{...head, "entries":[...]}`.
  return `${head.slice(0, -1)},"entries":[${delta.entries.map(encodeEntry).join(',')}]}`;
}

function encodeDeparted(records: readonly DepartureRecord[]): unknown[] {
  return records.map((record) => [record.node, record.incarnation, record.at]);
}

function bytes(namespace: string, type: string, body: Record<string, unknown>): Uint8Array {
  return encoder.encode(JSON.stringify({ v: WIRE_VERSION, t: type, ns: namespace, ...body }));
}

export function encodeDigest(namespace: string, hash: string): Uint8Array {
  return bytes(namespace, 'digest', { hash });
}

function summaryTuple(origin: OriginSummary): unknown[] {
  return [origin.node, origin.incarnation, origin.prefix, origin.cloud.map((interval) => [interval.low, interval.high])];
}

export function encodeSummary(namespace: string, origins: readonly OriginSummary[], departed: readonly DepartureRecord[], reply: boolean, range?: SummaryRange): Uint8Array {
  return bytes(namespace, 'summary', {
    origins: origins.map(summaryTuple),
    departed: encodeDeparted(departed),
    reply,
    ...(origins.some((origin) => origin.life !== undefined) ? { lives: origins.map((origin) => origin.life ?? null) } : {}),
    ...(range === undefined ? {} : { range: [range.after ?? null, range.through ?? null] }),
  });
}

/**
 * Summary messages for `summary`, split so that the origins and departure records of each take
 * at most half of `maxMessageBytes` (as `encodeDeltas` leaves the rest for the message head).
 * A summary lists every origin a node holds, each with up to MAX_CLOUD_INTERVALS intervals, so
 * with enough origins one message would be past what peers accept, refused on every round, and
 * anti-entropy would stop between two such nodes.
 *
 * Parts split the node ids in order: each part carries a range (the ids above the previous
 * part's last one, through its own last one; the last part through the summary's own end), and
 * lists everything of the ids in it. A receiver compares each part with what it holds in that
 * range only, so an origin missing from one part is not taken as one the sender lacks. A summary
 * that fits goes out as one message, with its own range if it has one (none: as before).
 */
export function encodeSummaries(namespace: string, summary: ReplicaSummary, reply: boolean, maxMessageBytes = Number.POSITIVE_INFINITY): Uint8Array[] {
  const byteBudget = maxMessageBytes / 2;
  const sizes = new Map<string, number>();
  const grow = (node: string, size: number): void => {
    sizes.set(node, (sizes.get(node) ?? 0) + size);
  };
  // Each origin's tuple and life id, each departure record, with their commas.
  for (const origin of summary.origins) grow(origin.node, utf8Length(JSON.stringify(summaryTuple(origin))) + utf8Length(JSON.stringify(origin.life ?? null)) + 2);
  for (const record of summary.departed) grow(record.node, departureBytes(record));
  let total = 0;
  for (const size of sizes.values()) total += size;
  if (total <= byteBudget) return [encodeSummary(namespace, summary.origins, summary.departed, reply, summary.range)];
  const nodes = [...sizes.keys()].sort(compareIds);
  // The last id of each part, the last part's through the summary's own end.
  const ends: (string | undefined)[] = [];
  let partBytes = 0;
  for (const [index, node] of nodes.entries()) {
    const size = sizes.get(node)!;
    if (partBytes > 0 && partBytes + size > byteBudget) {
      ends.push(nodes[index - 1]);
      partBytes = 0;
    }
    partBytes += size;
  }
  ends.push(summary.range?.through);
  const messages: Uint8Array[] = [];
  let after = summary.range?.after;
  for (const through of ends) {
    const range: SummaryRange = { after, through };
    const origins = summary.origins.filter((origin) => inRange(origin.node, range));
    const departed = summary.departed.filter((record) => inRange(record.node, range));
    messages.push(encodeSummary(namespace, origins, departed, reply, range));
    after = through;
  }
  return messages;
}

/** Node ids in the order ranges use (`<` on strings). */
function compareIds(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

/**
 * Delta messages for `deltas` and `departed`, split so that no message carries more than
 * `maxEntriesPerMessage` entries and removals, nor more than half of `maxMessageBytes` in
 * all: entries, removals, keys, departure records and each delta's node id, covers and life id.
 * Departure records go first, as many to a message as fit.
 *
 * An origin's delta that is too large goes out in pieces by revision: each piece carries the
 * changes (and, with a key list, the keys) in one range of revisions, and covers exactly that
 * range of the delta's covered revisions. Each piece is then complete on its own. A broadcast
 * may lose, duplicate or reorder pieces; a receiver that misses one is left with a gap in its
 * context, which the next anti-entropy round shows and fills. (Pieces that covered nothing
 * until the last one did lost their entries for good when the last arrived first: the receiver
 * then covered their revisions and refused them as old.) Every piece also carries covers of the
 * whole delta (`whole`). A piece may cover a change replaced by one in a piece above it, so the
 * receiver's digest stays apart until it covers the revisions above (see `awaitedAfter` in
 * replica.ts). A piece without keys carries the covers above its own, exactly: not one range
 * from the delta's lowest revision to its highest, which held the gaps in the sender's own
 * history too, so that the receiver awaited them, and when no live replica covered them (their
 * origin stopped before anyone heard them, with no failure detector to declare it) it kept a
 * digest of its own for good, though it held what the sender held, and exchanged summaries on
 * every round. Those above its own and its own are two slices of the delta's covers, so together
 * they take no more room than the covers of the last piece, which holds every range above the
 * changes. A piece of a key list prunes only at its own revisions, so the receiver takes its
 * covers once the pieces below it have arrived (see `keyListCovers`): it carries the whole
 * delta's covers.
 */
export function encodeDeltas(namespace: string, deltas: readonly OriginDelta[], departed: readonly DepartureRecord[], maxEntriesPerMessage: number, maxMessageBytes = Number.POSITIVE_INFINITY): Uint8Array[] {
  // Entries and removals are also bounded by bytes: a thousand entries with metadata near its
  // limit encode to several megabytes, past what a receiver accepts (`maxMessageBytes`), and
  // such a delta would be refused on every round. So are departure records: a node holds up to
  // maxNodes of them, which with long node ids come to several megabytes. So is what each delta
  // says besides its changes: a message holds up to maxEntriesPerMessage deltas, and with long
  // node ids and MAX_CLOUD_INTERVALS + 1 intervals of covers each they alone come to about 2.7 MB.
  // Half the bound goes to all of these; the rest is margin for the message head.
  const byteBudget = maxMessageBytes / 2;
  const messages: Uint8Array[] = [];
  let batch: OriginDelta[] = [];
  let batchDeparted: DepartureRecord[] = [];
  let batchSize = 0;
  let batchBytes = 0;
  const flush = (): void => {
    if (batch.length === 0 && batchDeparted.length === 0) return;
    const head = JSON.stringify({ v: WIRE_VERSION, t: 'delta', ns: namespace, departed: encodeDeparted(batchDeparted) });
    messages.push(encoder.encode(`${head.slice(0, -1)},"origins":[${batch.map(encodeDelta).join(',')}]}`));
    batch = [];
    batchDeparted = [];
    batchSize = 0;
    batchBytes = 0;
  };
  // True when the message being built holds something and `size` and `bytes` more would pass a bound.
  const full = (size: number, bytes: number): boolean =>
    (batch.length > 0 || batchDeparted.length > 0) && (batchSize + size > maxEntriesPerMessage || batchBytes + bytes > byteBudget);
  const add = (delta: OriginDelta, size: number, bytes: number): void => {
    if (full(size, bytes)) flush();
    batch.push(delta);
    batchSize += size;
    batchBytes += bytes;
  };
  // Departure records first, as before: a receiver that takes the messages in order purges a
  // departed incarnation before it reads the deltas that follow.
  for (const record of departed) {
    const bytes = departureBytes(record);
    if (full(0, bytes)) flush();
    batchDeparted.push(record);
    batchBytes += bytes;
  }
  for (const delta of deltas) {
    const size = delta.entries.length + delta.removed.length;
    let bytes = deltaHeadBytes(delta);
    for (const entry of delta.entries) bytes += entryBytes(entry);
    for (const removal of delta.removed) bytes += idBytes(removal.id);
    for (const key of delta.keys ?? []) bytes += idBytes(key.id);
    if (size <= maxEntriesPerMessage && bytes <= byteBudget) {
      add(delta, Math.max(1, size), bytes);
      continue;
    }
    const items = deltaItems(delta);
    // A piece of a key list carries the whole delta's covers besides its own; one without keys,
    // those above its own (see above).
    const keyed = delta.keys !== undefined;
    const highest = highestCovered(delta.covers);
    // A piece covers a slice of the delta's covers: no more intervals, and no number above an
    // interval's highest revision, so the head with every interval at its highest revision is
    // at least as long as any piece's. Without keys, the covers above a piece are the slice
    // after it, which splits at most one interval in two. The changes of a piece get what that leaves.
    const wholeBound = keyed ? delta.covers : [{ low: highest, high: highest }];
    const pieceBudget = byteBudget - deltaHeadBytes({ ...delta, whole: wholeBound }, delta.covers.map((interval) => ({ low: interval.high, high: interval.high })));
    // Pieces of whole revisions (an entry and its key share one), each within both bounds and
    // holding at least one revision.
    let low = Number.NEGATIVE_INFINITY;
    let index = 0;
    while (index < items.length) {
      const entries: ServiceInstance[] = [];
      const removed: Tombstone[] = [];
      const keys: KeyRevision[] = [];
      let pieceSize = 0;
      let pieceBytes = 0;
      let high = low;
      while (index < items.length) {
        const revision = items[index]!.revision;
        let end = index;
        let groupSize = 0;
        let groupBytes = 0;
        while (end < items.length && items[end]!.revision === revision) {
          const item = items[end]!;
          if (item.kind !== 'key') groupSize += 1;
          groupBytes += item.bytes;
          end += 1;
        }
        if (high > low && (pieceSize + groupSize > maxEntriesPerMessage || pieceBytes + groupBytes > pieceBudget)) break;
        for (; index < end; index += 1) {
          const item = items[index]!;
          if (item.kind === 'entry') entries.push(item.entry);
          else if (item.kind === 'removal') removed.push(item.removal);
          else keys.push(item.key);
        }
        pieceSize += groupSize;
        pieceBytes += groupBytes;
        high = revision;
      }
      // The last piece also covers whatever lies above the last change.
      if (index === items.length) high = Number.POSITIVE_INFINITY;
      const whole = keyed ? delta.covers : sliceIntervals(delta.covers, high, Number.POSITIVE_INFINITY);
      const piece: OriginDelta = { ...delta, covers: sliceIntervals(delta.covers, low, high), entries, removed, keys: keyed ? keys : undefined, whole };
      add(piece, Math.max(1, pieceSize), deltaHeadBytes(piece) + pieceBytes);
      low = high;
    }
  }
  flush();
  return messages;
}

type DeltaItem =
  | { readonly kind: 'entry'; readonly revision: number; readonly bytes: number; readonly entry: ServiceInstance }
  | { readonly kind: 'removal'; readonly revision: number; readonly bytes: number; readonly removal: Tombstone }
  | { readonly kind: 'key'; readonly revision: number; readonly bytes: number; readonly key: KeyRevision };

/**
 * The most bytes an entry that `node` registers, with id `id`, may take on the wire for the
 * node's own delta piece holding it to fit in a message of `maxMessageBytes` (see
 * `encodeDeltas`): half the bound, less the head of such a piece at its largest numbers (its
 * covers and the whole delta's are one interval each: a node's own revisions follow one another)
 * and the entry's key. A piece holds at least one revision, so an entry past this would go out in
 * a message every receiver refuses, on every round.
 */
export function entryRoom(node: string, id: string, maxMessageBytes: number): number {
  const head: OriginDelta = {
    node,
    incarnation: MAX_INCARNATION,
    covers: [{ low: Number.MAX_SAFE_INTEGER, high: Number.MAX_SAFE_INTEGER }],
    entries: [],
    removed: [],
    keys: [],
    whole: [{ low: Number.MAX_SAFE_INTEGER, high: Number.MAX_SAFE_INTEGER }],
    life: 'x'.repeat(MAX_LIFE_LENGTH),
  };
  return maxMessageBytes / 2 - deltaHeadBytes(head) - idBytes(id);
}

/** Encoded size of an entry (its cached text and a comma): what it takes in a delta (see `entryRoom`). */
export const entryBytes = (entry: ServiceInstance): number => utf8Length(encodeEntry(entry)) + 1;
/** Encoded size of a delta without its changes (its node id, incarnation, `covers` and life id), and a comma. */
const deltaHeadBytes = (delta: OriginDelta, covers = delta.covers): number =>
  utf8Length(encodeDelta({ ...delta, covers, entries: [], removed: [], keys: delta.keys === undefined ? undefined : [] })) + 1;
/** Encoded size of a departure record (its tuple and a comma). */
const departureBytes = (record: DepartureRecord): number => utf8Length(JSON.stringify(encodeDeparted([record])));
/**
 * Encoded size, at most, of an `[id, revision]` pair (a removal or a key) and a comma. The id is
 * measured as JSON writes it: ids from peers are checked for origin and length only, and a
 * control character in one takes six bytes.
 */
const idBytes = (id: string): number => utf8Length(JSON.stringify(id)) + 20;

/** A delta's entries, removals and keys in revision order, each with its encoded size (for splitting). */
function deltaItems(delta: OriginDelta): DeltaItem[] {
  const items: DeltaItem[] = [];
  for (const entry of delta.entries) items.push({ kind: 'entry', revision: entry.revision, bytes: entryBytes(entry), entry });
  for (const removal of delta.removed) items.push({ kind: 'removal', revision: removal.revision, bytes: idBytes(removal.id), removal });
  for (const key of delta.keys ?? []) items.push({ kind: 'key', revision: key.revision, bytes: idBytes(key.id), key });
  return items.sort((a, b) => a.revision - b.revision);
}

/** The parts of `intervals` within (low, high]. */
function sliceIntervals(intervals: readonly Interval[], low: number, high: number): Interval[] {
  const slice: Interval[] = [];
  for (const interval of intervals) {
    const from = Math.max(interval.low, low + 1);
    const to = Math.min(interval.high, high);
    if (from <= to) slice.push({ low: from, high: to });
  }
  return slice;
}

// ---- decoding ---------------------------------------------------------------------------------

export class Reader {
  constructor(
    readonly peer: string,
    readonly limits: RegistryLimits,
  ) {}

  fail(path: string, reason: string): never {
    throw new InvalidPeerMessageError(this.peer, path, reason);
  }

  record(value: unknown, path: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(path, 'expected an object');
    return value as Record<string, unknown>;
  }

  array(value: unknown, path: string, max: number): unknown[] {
    if (!Array.isArray(value)) this.fail(path, 'expected an array');
    if (value.length > max) this.fail(path, `more than ${max} items`);
    return value;
  }

  integer(value: unknown, path: string, min: number): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) this.fail(path, `expected an integer ≥ ${min}`);
    return value;
  }

  /** Incarnations stay below 2^48, so that moving past one never leaves the safe integers. */
  incarnation(value: unknown, path: string): number {
    const incarnation = this.integer(value, path, 0);
    if (incarnation > MAX_INCARNATION) this.fail(path, `an incarnation above ${MAX_INCARNATION}`);
    return incarnation;
  }

  finite(value: unknown, path: string, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) this.fail(path, `expected a number in [${min}, ${max}]`);
    return value;
  }

  name(value: unknown, path: string, maxLength: number): string {
    const problem = nameProblem(value, maxLength);
    if (problem !== undefined) this.fail(path, problem);
    return value as string;
  }

  /** A life id: a short string of letters, digits, `-` and `_` (this version draws base-36 digits). */
  life(value: unknown, path: string): string {
    if (typeof value !== 'string' || !LIFE.test(value)) this.fail(path, `expected a life id (1 to ${MAX_LIFE_LENGTH} letters, digits, "-" or "_")`);
    return value;
  }

  optionalName(value: unknown, path: string, maxLength: number): string | undefined {
    return value === undefined ? undefined : this.name(value, path, maxLength);
  }

  nodeId(value: unknown, path: string): string {
    const problem = nodeIdProblem(value);
    if (problem !== undefined) this.fail(path, problem);
    return value as string;
  }

  member<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) this.fail(path, `expected one of ${allowed.join(', ')}`);
    return value as T;
  }

  plain(value: unknown, path: string, maxBytes: number): unknown {
    let copy: unknown;
    try {
      copy = copyPlainJson(value, path, 10_000);
    } catch (error) {
      if (error instanceof PlainJsonProblem) this.fail(error.path, error.reason);
      throw error;
    }
    const size = utf8Length(JSON.stringify(copy));
    if (size > maxBytes) this.fail(path, `${size} bytes, more than ${maxBytes}`);
    return copy;
  }

  intervals(value: unknown, path: string, max: number): Interval[] {
    return this.array(value, path, max).map((item, index) => {
      const pair = this.array(item, `${path}[${index}]`, 2);
      const low = this.integer(pair[0], `${path}[${index}][0]`, 1);
      const high = this.integer(pair[1], `${path}[${index}][1]`, 1);
      if (high < low) this.fail(`${path}[${index}]`, 'an interval ends before it starts');
      return { low, high };
    });
  }

  departed(value: unknown, path: string): DepartureRecord[] {
    return this.array(value, path, this.limits.maxNodes).map((item, index) => {
      const tuple = this.array(item, `${path}[${index}]`, 3);
      return {
        node: this.nodeId(tuple[0], `${path}[${index}][0]`),
        incarnation: this.incarnation(tuple[1], `${path}[${index}][1]`),
        at: this.finite(tuple[2], `${path}[${index}][2]`, 0, Number.MAX_SAFE_INTEGER),
      };
    });
  }

  entry(value: unknown, path: string, node: string, incarnation: number): ServiceInstance {
    const limits = this.limits;
    const record = this.record(value, path);
    const id = record.id;
    if (typeof id !== 'string' || id.length > 600 || !id.startsWith(`${node}/`)) this.fail(`${path}.id`, `expected an id of node "${node}" ("${node}/…", at most 600 characters)`);
    const capabilities = this.array(record.capabilities, `${path}.capabilities`, limits.maxCapabilities).map((capability, index) =>
      this.name(capability, `${path}.capabilities[${index}]`, limits.maxCapabilityLength),
    );
    if (new Set(capabilities).size !== capabilities.length) this.fail(`${path}.capabilities`, 'a capability is listed twice');
    const metadata = this.plain(record.metadata, `${path}.metadata`, limits.maxMetadataBytes);
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) this.fail(`${path}.metadata`, 'expected an object');
    const version = record.version;
    if (version !== undefined && !isValidVersion(version)) this.fail(`${path}.version`, 'not a semantic version');
    return Object.freeze({
      id,
      name: this.name(record.name, `${path}.name`, limits.maxNameLength),
      node,
      mode: this.member(record.mode, `${path}.mode`, MODES),
      scope: 'cluster' as const,
      target: this.plain(record.target, `${path}.target`, limits.maxTargetBytes),
      capabilities: Object.freeze(capabilities),
      metadata: metadata as Readonly<Record<string, unknown>>,
      version: version as string | undefined,
      serviceType: this.optionalName(record.serviceType, `${path}.serviceType`, limits.maxNameLength),
      zone: this.optionalName(record.zone, `${path}.zone`, limits.maxNameLength),
      weight: this.finite(record.weight, `${path}.weight`, 0, MAX_WEIGHT),
      health: this.member(record.health, `${path}.health`, HEALTH),
      load: this.finite(record.load, `${path}.load`, 0, MAX_LOAD),
      registeredAt: this.finite(record.registeredAt, `${path}.registeredAt`, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
      incarnation,
      revision: this.integer(record.revision, `${path}.revision`, 1),
    });
  }

  delta(value: unknown, path: string): OriginDelta {
    const limits = this.limits;
    const record = this.record(value, path);
    const node = this.nodeId(record.node, `${path}.node`);
    const incarnation = this.incarnation(record.incarnation, `${path}.incarnation`);
    const covers = this.intervals(record.covers, `${path}.covers`, MAX_CLOUD_INTERVALS + 1);
    const entries = this.array(record.entries, `${path}.entries`, limits.maxEntriesPerMessage).map((entry, index) =>
      this.entry(entry, `${path}.entries[${index}]`, node, incarnation),
    );
    const ids = new Set<string>();
    for (const entry of entries) {
      if (ids.has(entry.id)) this.fail(`${path}.entries`, `id "${entry.id}" appears twice`);
      ids.add(entry.id);
    }
    const removed: Tombstone[] = this.array(record.removed, `${path}.removed`, Math.max(limits.maxEntriesPerMessage, MAX_PENDING_TOMBSTONES)).map((item, index) => {
      const pair = this.array(item, `${path}.removed[${index}]`, 2);
      const id = pair[0];
      if (typeof id !== 'string' || id.length > 600 || !id.startsWith(`${node}/`)) this.fail(`${path}.removed[${index}][0]`, `expected an id of node "${node}"`);
      return { id, revision: this.integer(pair[1], `${path}.removed[${index}][1]`, 1) };
    });
    let keys: KeyRevision[] | undefined;
    if (record.keys !== undefined) {
      keys = this.array(record.keys, `${path}.keys`, limits.maxServicesPerNode).map((item, index) => {
        const pair = this.array(item, `${path}.keys[${index}]`, 2);
        const id = pair[0];
        if (typeof id !== 'string' || id.length > 600) this.fail(`${path}.keys[${index}][0]`, 'expected an id');
        return { id, revision: this.integer(pair[1], `${path}.keys[${index}][1]`, 1) };
      });
    }
    const whole = record.whole === undefined ? undefined : this.intervals(record.whole, `${path}.whole`, MAX_CLOUD_INTERVALS + 1);
    const life = record.life === undefined ? undefined : this.life(record.life, `${path}.life`);
    return { node, incarnation, covers, entries, removed, keys, ...(whole === undefined ? {} : { whole }), life };
  }

  /** A summary part's range: `[after, through]`, each a node id or null (an open end), after below through. */
  range(value: unknown, path: string): SummaryRange {
    const pair = this.array(value, path, 2);
    if (pair.length !== 2) this.fail(path, 'expected [after, through]');
    const after = pair[0] === null ? undefined : this.nodeId(pair[0], `${path}[0]`);
    const through = pair[1] === null ? undefined : this.nodeId(pair[1], `${path}[1]`);
    if (after !== undefined && through !== undefined && !(after < through)) this.fail(path, 'a range that ends before it starts');
    return { after, through };
  }

  summaryOrigin(value: unknown, path: string): OriginSummary {
    const tuple = this.array(value, path, 4);
    return {
      node: this.nodeId(tuple[0], `${path}[0]`),
      incarnation: this.incarnation(tuple[1], `${path}[1]`),
      prefix: this.integer(tuple[2], `${path}[2]`, 0),
      cloud: this.intervals(tuple[3], `${path}[3]`, MAX_CLOUD_INTERVALS),
    };
  }
}

/**
 * Decoded messages by payload: a broadcast hands the same bytes to every registry of a process
 * (several namespaces, or a simulation of many nodes), and decoded messages are immutable, so
 * they are decoded and checked once. The ports require that bytes handed to a subscriber are
 * not changed afterwards (a transport that reuses buffers hands out copies).
 */
const decoded = new WeakMap<Uint8Array, { readonly namespace: string; readonly limits: RegistryLimits; readonly length: number; readonly message: RegistryMessage }>();

function sameLimits(left: RegistryLimits, right: RegistryLimits): boolean {
  if (left === right) return true;
  for (const key of Object.keys(left) as (keyof RegistryLimits)[]) if (left[key] !== right[key]) return false;
  return true;
}

/**
 * Decodes a message from `peer`. Throws PeerDecodeError (3102) for bytes that are not a
 * registry message, InvalidPeerMessageError (5604) for one that breaks the protocol or its
 * bounds; a message for another namespace is also refused.
 */
export function decodeMessage(payload: unknown, peer: string, namespace: string, limits: RegistryLimits): RegistryMessage {
  if (!(payload instanceof Uint8Array)) throw new PeerDecodeError(peer, `expected bytes, got ${payload === null ? 'null' : typeof payload}`);
  if (payload.byteLength > limits.maxMessageBytes) throw new PeerDecodeError(peer, `${payload.byteLength} bytes, more than maxMessageBytes (${limits.maxMessageBytes})`);
  const cached = decoded.get(payload);
  if (cached !== undefined && cached.namespace === namespace && cached.length === payload.byteLength && sameLimits(cached.limits, limits)) return cached.message;
  let message: RegistryMessage;
  try {
    message = decodeFresh(payload, peer, namespace, limits);
  } catch (error) {
    if (FoundationError.is(error)) throw error;
    // A peer's bytes must not make the receiver throw anything but a refusal (a value nested
    // deep enough to exhaust the stack somewhere, say).
    throw new PeerDecodeError(peer, `undecodable (${error instanceof Error ? `${error.name}: ${error.message.slice(0, 80)}` : 'non-error thrown'})`);
  }
  if (message.type !== 'delta' || message.rejected.length === 0) decoded.set(payload, { namespace, limits, length: payload.byteLength, message });
  return message;
}

/**
 * A peer's value for an error message: a string quoted and cut, a number or boolean as is,
 * anything else by its kind. Never serialised whole: a deeply nested value overflows
 * `JSON.stringify`'s stack (a `RangeError`, not a refusal).
 */
function shown(value: unknown, max: number): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, max));
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  return Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : typeof value;
}

function decodeFresh(payload: Uint8Array, peer: string, namespace: string, limits: RegistryLimits): RegistryMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(payload));
  } catch (error) {
    throw new PeerDecodeError(peer, error instanceof TypeError ? 'not UTF-8' : 'not JSON');
  }
  const reader: Reader = new Reader(peer, limits);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new PeerDecodeError(peer, 'not a JSON object');
  const message = parsed as Record<string, unknown>;
  if (message.v !== WIRE_VERSION) throw new PeerDecodeError(peer, `unsupported protocol version ${shown(message.v, 20)}`);
  if (message.ns !== namespace) reader.fail('ns', `namespace ${shown(message.ns, 140)} is not "${namespace}"`);
  switch (message.t) {
    case 'delta': {
      // Each origin's delta stands alone: one that breaks the protocol is refused, the others
      // (anti-entropy carries many origins in one message) are still merged.
      const origins: OriginDelta[] = [];
      const rejected: InvalidPeerMessageError[] = [];
      reader.array(message.origins, 'origins', limits.maxNodes + 1).forEach((delta, index) => {
        try {
          origins.push(reader.delta(delta, `origins[${index}]`));
        } catch (error) {
          if (!(error instanceof InvalidPeerMessageError)) throw error;
          rejected.push(error);
        }
      });
      return { type: 'delta', origins, departed: reader.departed(message.departed, 'departed'), rejected };
    }
    case 'digest': {
      const hash = message.hash;
      if (typeof hash !== 'string' || !/^[0-9a-f]{16}$/.test(hash)) reader.fail('hash', 'expected 16 hex digits');
      return { type: 'digest', hash };
    }
    case 'summary': {
      const origins = reader.array(message.origins, 'origins', limits.maxNodes + 1).map((origin, index) => reader.summaryOrigin(origin, `origins[${index}]`));
      const seen = new Set<string>();
      for (const origin of origins) {
        if (seen.has(origin.node)) reader.fail('origins', `node "${origin.node}" appears twice`);
        seen.add(origin.node);
      }
      if (typeof message.reply !== 'boolean') reader.fail('reply', 'expected a boolean');
      if (message.lives !== undefined) {
        const lives = reader.array(message.lives, 'lives', origins.length);
        if (lives.length !== origins.length) reader.fail('lives', `expected one per origin (${origins.length})`);
        for (const [index, life] of lives.entries()) {
          if (life !== null) origins[index] = { ...origins[index]!, life: reader.life(life, `lives[${index}]`) };
        }
      }
      const departed = reader.departed(message.departed, 'departed');
      if (message.range === undefined) return { type: 'summary', origins, departed, reply: message.reply };
      const range = reader.range(message.range, 'range');
      for (const [index, origin] of origins.entries()) if (!inRange(origin.node, range)) reader.fail(`origins[${index}][0]`, 'a node outside the range of the summary');
      for (const [index, record] of departed.entries()) if (!inRange(record.node, range)) reader.fail(`departed[${index}][0]`, 'a node outside the range of the summary');
      return { type: 'summary', origins, departed, reply: message.reply, range };
    }
    default:
      throw new PeerDecodeError(peer, `unknown message type ${shown(message.t, 40)}`);
  }
}
