// Cluster-wide events (2.0's emit_distributed / subscribe_cluster_wide): an event is stored
// locally, then published over the membership's broadcast; every node that subscribes hears
// it. The correlation id travels inside the event; the sender's request context travels with
// the broadcast message.
//
// The broadcast may deliver a message twice: Plumtree remembers the ids it delivered for a
// bounded time and number (5 min, 100,000 ids of every topic), and a copy that arrives after
// (a neighbour announcing its recent messages when a link comes back, a graft) is delivered
// again. The bridge therefore remembers the events it delivered, in a cache bounded both ways,
// and hands each to this node's subscribers at most once while it is remembered.
import { currentContext, withContext } from '@foundation/context';
import { FoundationError, systemClock } from '@foundation/core';
import type { Clock } from '@foundation/core';
import { EVENTS_TOPIC, dataHoldsBytes, eventMatches, withOwnBytes } from '@foundation/events';
import type { Broadcast, EventFilter, EventStore, FoundationEvent, NewEventOptions } from '@foundation/events';

export interface ClusterEvents {
  /** Stores the event here and broadcasts it to the cluster. */
  emitDistributed(type: string, data: unknown, options?: NewEventOptions): FoundationEvent;
  /**
   * Local and remote events matching `filter`; returns an unsubscribe function. A remote event
   * reaches the handler at most once, while this node remembers it (see ClusterEventsOptions).
   */
  subscribeClusterWide(filter: EventFilter, handler: (event: FoundationEvent) => void): () => void;
}

export interface ClusterEventsOptions {
  /** Times the memory of delivered events. Default the system clock. */
  readonly clock?: Clock;
  /** How many delivered remote events are remembered, at most. Default 50,000. */
  readonly maxEvents?: number;
  /** How long a delivered remote event is remembered after its last copy arrived. Default 10 minutes. */
  readonly ttlMs?: number;
}

export const DEFAULT_MAX_REMEMBERED_EVENTS = 50_000;
export const DEFAULT_REMEMBERED_EVENT_TTL_MS = 10 * 60_000;

/**
 * An event's identity: its node and id, and its creation time. The id alone is unique only per
 * store: a node restarted with in-memory events (the node id is its address, and stays) numbers
 * them from 1 again, and those are new events, not copies.
 */
function identity(event: FoundationEvent): string {
  return `${event.node}\u0000${event.id}\u0000${event.wallTime}\u0000${event.timestamp}`;
}

/** Keys seen within `ttlMs` (of their last sighting), at most `max` of them: the oldest go first. */
function recentKeys(clock: Clock, max: number, ttlMs: number) {
  // Insertion order is the order of last sightings, so expiry order too.
  const seenAt = new Map<string, number>();
  return {
    /** Whether `key` was seen (and remembered); remembers it as seen now either way. */
    check(key: string): boolean {
      const now = clock.monotonic();
      for (const [oldest, at] of seenAt) {
        if (now - at < ttlMs) break;
        seenAt.delete(oldest);
      }
      const known = seenAt.delete(key);
      seenAt.set(key, now);
      if (seenAt.size > max) seenAt.delete(seenAt.keys().next().value!);
      return known;
    },
  };
}

export function createClusterEvents(store: EventStore, broadcast: Broadcast, report: (error: FoundationError) => void, options: ClusterEventsOptions = {}): ClusterEvents {
  const maxEvents = options.maxEvents ?? DEFAULT_MAX_REMEMBERED_EVENTS;
  const ttlMs = options.ttlMs ?? DEFAULT_REMEMBERED_EVENT_TTL_MS;
  if (!Number.isSafeInteger(maxEvents) || maxEvents < 1) throw new RangeError(`maxEvents must be a positive integer (got ${String(maxEvents)})`);
  if (typeof ttlMs !== 'number' || !(ttlMs > 0)) throw new RangeError(`ttlMs must be a positive number of milliseconds (got ${String(ttlMs)})`);
  const delivered = recentKeys(options.clock ?? systemClock, maxEvents, ttlMs);
  const subscribers = new Set<{ readonly filter: EventFilter; readonly handler: (event: FoundationEvent) => void }>();
  let unsubscribeBroadcast: (() => void) | null = null;

  const deliver = (handler: (event: FoundationEvent) => void, event: FoundationEvent): void => {
    // The handler runs in the event's request: what it sends on carries the correlation id.
    let context;
    try {
      context = currentContext().with({ correlationId: event.correlationId });
    } catch {
      // A correlation id the context refuses (not visible ASCII): the handler runs without it.
      context = undefined;
    }
    // As for local events: a handler that throws or rejects is reported, never left to
    // become an unhandled rejection (which ends the process) or lost in the broadcast's own
    // error event.
    const run = (): unknown => handler(event);
    let result: unknown;
    try {
      result = context === undefined ? run() : withContext(context, run);
    } catch (error) {
      report(FoundationError.from(error));
      return;
    }
    if (typeof (result as { then?: unknown } | null)?.then === 'function') {
      (result as Promise<unknown>).then(undefined, (error: unknown) => report(FoundationError.from(error)));
    }
  };

  // One broadcast subscription for all of this node's subscribers, so that an event is decoded
  // once and checked against what was delivered once: a second copy reaches none of them.
  const receive = ({ payload }: { readonly payload: unknown }): void => {
    let event: FoundationEvent;
    try {
      event = store.deserialize(payload as Uint8Array);
    } catch (error) {
      report(FoundationError.from(error));
      return;
    }
    if (event.node === store.node || delivered.check(identity(event))) return;
    // Byte arrays cannot be frozen: with any in its data, each handler gets copies of its own,
    // as local subscribers do, and the filters read the event as it came.
    const ownCopies = dataHoldsBytes(event.data);
    for (const subscriber of [...subscribers]) {
      // One subscriber's filter that throws (a `where`) is reported; the others still hear it.
      let matches: boolean;
      try {
        matches = subscribers.has(subscriber) && eventMatches(subscriber.filter, event);
      } catch (error) {
        report(FoundationError.from(error));
        continue;
      }
      if (matches) deliver(subscriber.handler, ownCopies ? withOwnBytes(event) : event);
    }
  };

  return {
    emitDistributed(type, data, emitOptions) {
      // The event joins the request it was emitted in: its correlation id unless one is given.
      const correlationId = emitOptions?.correlationId ?? currentContext().correlationId;
      const event = store.emit(type, data, correlationId === undefined ? emitOptions : Object.assign({}, emitOptions, { correlationId }));
      broadcast.publish(EVENTS_TOPIC, store.serialize(event));
      return event;
    },
    subscribeClusterWide(filter, handler) {
      const local = store.subscribe(filter, handler);
      const subscriber = { filter, handler };
      subscribers.add(subscriber);
      unsubscribeBroadcast ??= broadcast.subscribe(EVENTS_TOPIC, receive);
      return () => {
        local();
        if (!subscribers.delete(subscriber) || subscribers.size > 0) return;
        unsubscribeBroadcast?.();
        unsubscribeBroadcast = null;
      };
    },
  };
}
