// Cluster-wide events (2.0's emit_distributed / subscribe_cluster_wide): an event is stored
// locally, then published over the membership's broadcast; every node that subscribes hears
// it. The correlation id travels inside the event; the sender's request context travels with
// the broadcast message.
import { currentContext, withContext } from '@foundation/context';
import { FoundationError } from '@foundation/core';
import { EVENTS_TOPIC, eventMatches } from '@foundation/events';
import type { Broadcast, EventFilter, EventStore, FoundationEvent, NewEventOptions } from '@foundation/events';

export interface ClusterEvents {
  /** Stores the event here and broadcasts it to the cluster. */
  emitDistributed(type: string, data: unknown, options?: NewEventOptions): FoundationEvent;
  /** Local and remote events matching `filter`; returns an unsubscribe function. */
  subscribeClusterWide(filter: EventFilter, handler: (event: FoundationEvent) => void): () => void;
}

export function createClusterEvents(store: EventStore, broadcast: Broadcast, report: (error: FoundationError) => void): ClusterEvents {
  return {
    emitDistributed(type, data, options) {
      // The event joins the request it was emitted in: its correlation id unless one is given.
      const correlationId = options?.correlationId ?? currentContext().correlationId;
      const event = store.emit(type, data, correlationId === undefined ? options : Object.assign({}, options, { correlationId }));
      broadcast.publish(EVENTS_TOPIC, store.serialize(event));
      return event;
    },
    subscribeClusterWide(filter, handler) {
      const local = store.subscribe(filter, handler);
      const remote = broadcast.subscribe(EVENTS_TOPIC, ({ payload }) => {
        let event: FoundationEvent;
        try {
          event = store.deserialize(payload as Uint8Array);
        } catch (error) {
          report(FoundationError.from(error));
          return;
        }
        // The handler runs in the event's request: what it sends on carries the correlation id.
        if (event.node === store.node || !eventMatches(filter, event)) return;
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
        const run = (): unknown => (handler)(event);
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
      });
      return () => {
        local();
        remote();
      };
    },
  };
}
