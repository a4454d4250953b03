// Synchronous publish/subscribe with three guarantees that services built on it (config change
// notifications, live event delivery) rely on:
//   - order: every subscriber sees messages in the order they were published, including
//     messages published from inside a subscriber, which wait until the current message has
//     reached everybody (a queue, drained by the outermost publish);
//   - isolation: a subscriber that throws, or returns a promise that rejects, is reported to
//     `onError` and neither stops delivery to the others nor reaches the publisher;
//   - membership at delivery: each message goes to the subscribers present when its delivery
//     starts; one removed meanwhile is skipped.

export interface PublisherOptions<Message> {
  /**
   * Receives what a subscriber threw (or its promise rejected with) and the message it was
   * handling. Should not throw; if it does, that error is dropped, so that a failing reporter
   * never turns a subscriber's failure into the publisher's.
   */
  readonly onError: (error: unknown, message: Message) => void;
}

export interface Publisher<Message> {
  /**
   * Adds a subscriber and returns the function that removes it. Each call is a subscription of
   * its own: the same function subscribed twice receives every message twice.
   */
  subscribe(listener: (message: Message) => unknown): () => void;
  /** Delivers `message` to every subscriber before returning, unless a delivery is under way (then it is queued). */
  publish(message: Message): void;
  /** `publish` of each message in turn, except that messages published meanwhile wait until all of these are delivered. */
  publishAll(messages: readonly Message[]): void;
  /** How many subscriptions there are. */
  size(): number;
  /** Removes every subscription. */
  clear(): void;
}

export function createPublisher<Message>(options: PublisherOptions<Message>): Publisher<Message> {
  const { onError } = options;
  const listeners = new Set<(message: Message) => unknown>();
  const queue: Message[] = [];
  let draining = false;

  const report = (error: unknown, message: Message): void => {
    try {
      onError(error, message);
    } catch {
      // Dropped: see PublisherOptions.onError.
    }
  };

  const deliver = (listener: (message: Message) => unknown, message: Message): void => {
    try {
      const returned = listener(message);
      if (returned !== null && typeof returned === 'object' && typeof (returned as { then?: unknown }).then === 'function') {
        (returned as PromiseLike<unknown>).then(undefined, (error: unknown) => report(error, message));
      }
    } catch (error) {
      report(error, message);
    }
  };

  const drain = (): void => {
    draining = true;
    try {
      for (let position = 0; position < queue.length; position += 1) {
        const message = queue[position]!;
        // The subscribers at the start of this message's delivery; one removed meanwhile is skipped.
        for (const listener of [...listeners]) if (listeners.has(listener)) deliver(listener, message);
      }
    } finally {
      queue.length = 0;
      draining = false;
    }
  };

  return {
    subscribe(listener) {
      // A wrapper per subscription, so subscribing one function twice gives two subscriptions.
      const entry = (message: Message): unknown => listener(message);
      listeners.add(entry);
      return () => {
        listeners.delete(entry);
      };
    },
    publish(message) {
      // Nobody to deliver to, and nothing being delivered: a subscriber added later must not see it.
      if (listeners.size === 0 && !draining) return;
      queue.push(message);
      if (!draining) drain();
    },
    publishAll(messages) {
      if (listeners.size === 0 && !draining) return;
      for (const message of messages) queue.push(message);
      if (!draining) drain();
    },
    size: () => listeners.size,
    clear: () => listeners.clear(),
  };
}
