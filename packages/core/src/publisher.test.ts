import { describe, expect, it } from '@jest/globals';
import { createPublisher } from './publisher';

function recording() {
  const failures: [unknown, string][] = [];
  const publisher = createPublisher<string>({ onError: (error, message) => failures.push([error, message]) });
  return { publisher, failures };
}

describe('createPublisher', () => {
  it('delivers each message to every subscriber, in publication order, before publish returns', () => {
    const { publisher } = recording();
    const seen: string[] = [];
    publisher.subscribe((message) => seen.push(`a:${message}`));
    publisher.subscribe((message) => seen.push(`b:${message}`));
    publisher.publish('1');
    expect(seen).toEqual(['a:1', 'b:1']);
    publisher.publishAll(['2', '3']);
    expect(seen).toEqual(['a:1', 'b:1', 'a:2', 'b:2', 'a:3', 'b:3']);
    expect(publisher.size()).toBe(2);
  });

  it('delivers a message published from inside a subscriber after the current one has reached everybody', () => {
    const { publisher } = recording();
    const seen: string[] = [];
    publisher.subscribe((message) => {
      seen.push(`a:${message}`);
      if (message === '1') publisher.publish('inner');
    });
    publisher.subscribe((message) => seen.push(`b:${message}`));
    publisher.publishAll(['1', '2']);
    // Everybody sees the same order: the inner message waits for the whole batch.
    expect(seen).toEqual(['a:1', 'b:1', 'a:2', 'b:2', 'a:inner', 'b:inner']);
  });

  it('isolates a subscriber that throws or rejects, and reports it with the message', async () => {
    const { publisher, failures } = recording();
    const seen: string[] = [];
    const boom = new Error('boom');
    publisher.subscribe(() => {
      throw boom;
    });
    publisher.subscribe(() => Promise.reject(new Error('later')));
    publisher.subscribe((message) => seen.push(message));
    expect(() => publisher.publish('1')).not.toThrow();
    expect(seen).toEqual(['1']);
    expect(failures).toEqual([[boom, '1']]);
    await Promise.resolve();
    expect(failures.map(([error, message]) => [(error as Error).message, message])).toEqual([
      ['boom', '1'],
      ['later', '1'],
    ]);
    publisher.publish('2'); // the failing subscribers stay subscribed
    expect(seen).toEqual(['1', '2']);
    expect(failures).toHaveLength(3);
  });

  it('drops an error thrown by onError, so it never reaches the publisher', async () => {
    const publisher = createPublisher<string>({
      onError: () => {
        throw new Error('reporter failed');
      },
    });
    const seen: string[] = [];
    publisher.subscribe(() => {
      throw new Error('subscriber failed');
    });
    publisher.subscribe(() => Promise.reject(new Error('subscriber rejected')));
    publisher.subscribe((message) => seen.push(message));
    expect(() => publisher.publishAll(['1', '2'])).not.toThrow();
    await Promise.resolve();
    expect(seen).toEqual(['1', '2']);
  });

  it('skips a subscription removed meanwhile, and gives one made meanwhile only what is published after it', () => {
    const { publisher } = recording();
    const seen: string[] = [];
    let removeB: () => void = () => undefined;
    publisher.subscribe((message) => {
      seen.push(`a:${message}`);
      if (message === '1') {
        removeB();
        publisher.subscribe((later) => seen.push(`c:${later}`));
      }
    });
    removeB = publisher.subscribe((message) => seen.push(`b:${message}`));
    publisher.publishAll(['1', '2']);
    // '2' was published before c subscribed, though it was still waiting for delivery.
    expect(seen).toEqual(['a:1', 'a:2']);
    publisher.publish('3');
    expect(seen).toEqual(['a:1', 'a:2', 'a:3', 'c:3']);
  });

  it('gives a subscription made inside a subscriber, during a publishAll of several messages, none of that batch', () => {
    const { publisher } = recording();
    const seen: string[] = [];
    publisher.subscribe((message) => {
      seen.push(`a:${message}`);
      if (message === '1') publisher.subscribe((later) => seen.push(`late:${later}`));
    });
    publisher.publishAll(['1', '2', '3', '4']);
    expect(seen).toEqual(['a:1', 'a:2', 'a:3', 'a:4']);
    publisher.publishAll(['5', '6']);
    expect(seen).toEqual(['a:1', 'a:2', 'a:3', 'a:4', 'a:5', 'late:5', 'a:6', 'late:6']);
  });

  it('gives a subscription made inside a subscriber none of the messages queued before it, and those published after it in order', () => {
    const { publisher } = recording();
    const seen: string[] = [];
    publisher.subscribe((message) => {
      seen.push(`a:${message}`);
      if (message === '1') {
        publisher.publish('queued-1');
        publisher.publish('queued-2');
        publisher.subscribe((later) => seen.push(`late:${later}`));
        publisher.publish('after-1');
      }
      if (message === 'queued-1') publisher.publish('after-2');
    });
    publisher.publish('1');
    expect(seen).toEqual(['a:1', 'a:queued-1', 'a:queued-2', 'a:after-1', 'late:after-1', 'a:after-2', 'late:after-2']);
  });

  it('gives each subscription of one function made during a delivery only what follows it', () => {
    const { publisher } = recording();
    const seen: string[] = [];
    const late = (message: string): number => seen.push(`late:${message}`);
    publisher.subscribe((message) => {
      seen.push(`a:${message}`);
      if (message === '1') publisher.subscribe(late);
      if (message === '2') publisher.subscribe(late);
    });
    publisher.publishAll(['1', '2']);
    publisher.publish('3');
    expect(seen).toEqual(['a:1', 'a:2', 'a:3', 'late:3', 'late:3']);
    expect(publisher.size()).toBe(3);
  });

  it('hears each message once through a subscriber that replaces its own subscription on every message', () => {
    const { publisher } = recording();
    const seen: string[] = [];
    const listener = (message: string): void => {
      seen.push(message);
      unsubscribe();
      unsubscribe = publisher.subscribe(listener);
    };
    let unsubscribe = publisher.subscribe(listener);
    publisher.publishAll(['1', '2', '3']);
    expect(seen).toEqual(['1']);
    publisher.publish('4');
    expect(seen).toEqual(['1', '4']);
    expect(publisher.size()).toBe(1);
  });

  it('counts each subscription of the same function, and unsubscribes each on its own', () => {
    const { publisher } = recording();
    const seen: string[] = [];
    const listener = (message: string): number => seen.push(message);
    const first = publisher.subscribe(listener);
    publisher.subscribe(listener);
    publisher.publish('1');
    expect(seen).toEqual(['1', '1']);
    first();
    first(); // twice is harmless
    publisher.publish('2');
    expect(seen).toEqual(['1', '1', '2']);
    publisher.clear();
    publisher.publish('3');
    expect(seen).toEqual(['1', '1', '2']);
    expect(publisher.size()).toBe(0);
  });

  it('gives a subscriber nothing published before it subscribed', () => {
    const { publisher } = recording();
    publisher.publish('early');
    const seen: string[] = [];
    publisher.subscribe((message) => seen.push(message));
    publisher.publish('late');
    expect(seen).toEqual(['late']);
  });

  it('keeps delivering after a publish from inside a subscriber, with a clean queue each time', () => {
    const { publisher } = recording();
    const seen: string[] = [];
    let depth = 0;
    publisher.subscribe((message) => {
      seen.push(message);
      if (depth < 3) {
        depth += 1;
        publisher.publish(`${message}+`);
      }
    });
    publisher.publish('x');
    expect(seen).toEqual(['x', 'x+', 'x++', 'x+++']);
    publisher.publish('y');
    expect(seen.at(-1)).toBe('y');
  });
});
