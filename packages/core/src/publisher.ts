// Synchronous publish/subscribe with four guarantees that services built on it (config change
// notifications, live event delivery) rely on:
//   - order: every subscriber sees messages in the order they were published, including
//     messages published from inside a subscriber, which wait until the current message has
//     reached everybody (a queue, drained by the outermost publish);
//   - isolation: a subscriber that throws, or returns a promise that rejects, is reported to
//     `onError` and neither stops delivery to the others nor reaches the publisher;
//   - from subscription on: a subscription hears exactly the messages published after
//     `subscribe` returned, none before, even when it is made during a delivery (from inside a
//     subscriber, or in the middle of a `publishAll`) while earlier messages are still queued.
//     Each message is numbered when it is published, each subscription remembers the number of
//     the last message published before it, and a message goes only to subscriptions older
//     than it;
//   - membership at delivery: a subscription removed before a message reaches it is skipped.

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
   * Adds a subscriber and returns the function that removes it. The subscriber hears the messages
   * published after this returns, and none published before (even ones still being delivered).
   * Each call is a subscription of its own: the same function subscribed twice receives every
   * message twice.
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

/** One call of `subscribe`: its listener, and the number of the last message published before it. */
interface Subscription<Message> {
  readonly listener: (message: Message) => unknown;
  readonly after: number;
}

export function createPublisher<Message>(options: PublisherOptions<Message>): Publisher<Message> {
  const { onError } = options;
  // An object per call, so subscribing one function twice gives two subscriptions.
  const subscriptions = new Set<Subscription<Message>>();
  // Messages waiting for delivery. Each publish numbers one and queues it, and the queue empties
  // only when a drain ends, so queue[i] is message number published - queue.length + 1 + i.
  const queue: Message[] = [];
  // The number of the last message published.
  let published = 0;
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

  const enqueue = (message: Message): void => {
    published += 1;
    queue.push(message);
  };

  const drain = (): void => {
    draining = true;
    try {
      for (let position = 0; position < queue.length; position += 1) {
        const message = queue[position]!;
        const number = published - queue.length + 1 + position;
        // The set itself, not a copy: a subscription removed meanwhile is not visited, and one
        // added meanwhile is (a Set's iteration sees additions) but is younger than the message.
        for (const subscription of subscriptions) if (number > subscription.after) deliver(subscription.listener, message);
      }
    } finally {
      queue.length = 0;
      draining = false;
    }
  };

  return {
    subscribe(listener) {
      const subscription: Subscription<Message> = { listener, after: published };
      subscriptions.add(subscription);
      return () => {
        subscriptions.delete(subscription);
      };
    },
    publish(message) {
      // Nobody to deliver to, and nothing being delivered: a subscriber added later must not see it.
      if (subscriptions.size === 0 && !draining) return;
      enqueue(message);
      if (!draining) drain();
    },
    publishAll(messages) {
      if (subscriptions.size === 0 && !draining) return;
      for (const message of messages) enqueue(message);
      if (!draining) drain();
    },
    size: () => subscriptions.size,
    clear: () => subscriptions.clear(),
  };
}
