// Delivery of notifications to subscribers: in the order changes happened, to every subscriber,
// with each subscriber isolated from the others. A subscriber that updates the config from
// inside its callback does not jump the queue: its change is delivered after the current one
// has reached everybody.

export interface Notifier<Notification> {
  subscribe(listener: (notification: Notification) => unknown): () => void;
  publish(notification: Notification): void;
  size(): number;
}

export function createNotifier<Notification>(report: (error: unknown, notification: Notification) => void): Notifier<Notification> {
  const listeners = new Set<(notification: Notification) => unknown>();
  const queue: Notification[] = [];
  let draining = false;

  const deliver = (listener: (notification: Notification) => unknown, notification: Notification): void => {
    try {
      const returned = listener(notification);
      if (returned !== null && typeof returned === 'object' && typeof (returned as { then?: unknown }).then === 'function') {
        (returned as PromiseLike<unknown>).then(undefined, (error: unknown) => report(error, notification));
      }
    } catch (error) {
      report(error, notification);
    }
  };

  const drain = (): void => {
    draining = true;
    try {
      for (let position = 0; position < queue.length; position += 1) {
        const notification = queue[position]!;
        // Subscribers at the time of delivery; one that unsubscribes meanwhile is skipped.
        for (const listener of [...listeners]) if (listeners.has(listener)) deliver(listener, notification);
      }
    } finally {
      queue.length = 0;
      draining = false;
    }
  };

  return {
    subscribe(listener) {
      // A wrapper per subscription, so subscribing one function twice gives two subscriptions.
      const entry = (notification: Notification): unknown => listener(notification);
      listeners.add(entry);
      return () => {
        listeners.delete(entry);
      };
    },
    publish(notification) {
      queue.push(notification);
      if (!draining) drain();
    },
    size: () => listeners.size,
  };
}
