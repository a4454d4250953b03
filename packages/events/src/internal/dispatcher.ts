// Live delivery of stored events to subscribers: after the events are stored, in the order they
// were stored, each subscriber isolated from the others. An event stored from inside a
// subscriber is delivered after the current one has reached everybody.
import type { FoundationEvent } from '../event';
import type { EventFilter } from '../filter';
import { eventMatches } from '../filter';

export type EventHandler = (event: FoundationEvent) => unknown;

interface Subscription {
  readonly filter: EventFilter;
  readonly handler: EventHandler;
}

export interface Dispatcher {
  subscribe(filter: EventFilter, handler: EventHandler): () => void;
  publish(events: readonly FoundationEvent[]): void;
  size(): number;
  clear(): void;
}

export function createDispatcher(report: (error: unknown, event: FoundationEvent) => void): Dispatcher {
  const subscriptions = new Set<Subscription>();
  const queue: FoundationEvent[] = [];
  let draining = false;

  const deliver = (subscription: Subscription, event: FoundationEvent): void => {
    try {
      if (!eventMatches(subscription.filter, event)) return;
      const returned = subscription.handler(event);
      if (returned !== null && typeof returned === 'object' && typeof (returned as { then?: unknown }).then === 'function') {
        (returned as PromiseLike<unknown>).then(undefined, (error: unknown) => report(error, event));
      }
    } catch (error) {
      report(error, event);
    }
  };

  const drain = (): void => {
    draining = true;
    try {
      for (let position = 0; position < queue.length; position += 1) {
        const event = queue[position]!;
        for (const subscription of [...subscriptions]) if (subscriptions.has(subscription)) deliver(subscription, event);
      }
    } finally {
      queue.length = 0;
      draining = false;
    }
  };

  return {
    subscribe(filter, handler) {
      const subscription: Subscription = { filter, handler };
      subscriptions.add(subscription);
      return () => {
        subscriptions.delete(subscription);
      };
    },
    publish(events) {
      if (subscriptions.size === 0) return;
      for (const event of events) queue.push(event);
      if (!draining) drain();
    },
    size: () => subscriptions.size,
    clear: () => subscriptions.clear(),
  };
}
