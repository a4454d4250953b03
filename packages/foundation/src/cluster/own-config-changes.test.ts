// One party's changes of a config told apart from everyone else's: the party's changes are
// delivered within its call or, made from within a subscriber, after it returned; others' with
// each notification, the first of each change marked (a change of several paths notifies once
// per path), so that the party knows where the config changed.
import { describe, expect, it } from '@jest/globals';
import { createConfig } from '@foundation/config';
import type { Config, StandardSchemaV1 } from '@foundation/config';
import { watchOwnConfigChanges } from './own-config-changes';
import type { ConfigChangeHeard } from './own-config-changes';

function watched() {
  const config = createConfig({ defaults: { a: 0, b: 0, c: 0 }, updatablePaths: ['a', 'b', 'c'] }) as Config<unknown>;
  /** Each notification told, its path (or `reset`), `+` before one that is not the first of its change. */
  const told: string[] = [];
  const own = watchOwnConfigChanges(config, (notification, first) => {
    told.push(`${first ? '' : '+'}${notification.type === 'config-reset' ? 'reset' : notification.path.join('.')}`);
  });
  return { config, own, told };
}

/** A notification as `told` writes it. */
const named = (notification: ConfigChangeHeard<unknown>): string => (notification.type === 'config-reset' ? 'reset' : notification.path.join('.'));

describe('watchOwnConfigChanges', () => {
  it('tells each notification of others\' changes, the first of each change marked, and none of its own, whether delivered within its call or after it', () => {
    const node = watched();
    node.config.updateMany([
      { path: 'a', value: 1 },
      { path: 'b', value: 1 },
    ]);
    expect(node.told).toEqual(['a', '+b']);
    node.config.reset();
    node.config.reset();
    expect(node.told).toEqual(['a', '+b', 'reset', 'reset']);

    node.own.config.safeUpdateMany([
      { path: 'a', value: 2 },
      { path: 'b', value: 2 },
    ]);
    node.own.config.safeUpdate('a', 3);
    node.own.config.reset();
    expect(node.told).toHaveLength(4);

    // Made from within a subscriber, its own are delivered after its call returned; an update
    // and a reset of others that come after are told.
    const unsubscribe = node.config.subscribe((change) => {
      if (change.type === 'config-updated' && change.path[0] === 'c') {
        node.own.config.safeUpdate('a', 4);
        node.own.config.reset();
        node.config.update('b', 5);
        node.config.reset();
      }
    });
    node.config.update('c', 1);
    unsubscribe();
    expect(node.told.slice(4)).toEqual(['c', 'b', 'reset']);
    expect(node.own.takeOthersMeanwhile()).toEqual([]);
  });

  it('keeps the changes others make on hearing one of its own apart, with their notifications, for later', () => {
    const node = watched();
    let answer: 'update' | 'reset' | null = 'update';
    node.config.subscribe((change) => {
      if (answer === 'update' && change.type === 'config-updated' && change.path[0] === 'a') {
        answer = null;
        node.config.updateMany([
          { path: 'b', value: 1 },
          { path: 'c', value: 1 },
        ]);
      }
      // A reset on hearing this party's reset: the same snapshot, another change.
      if (answer === 'reset' && change.type === 'config-reset') {
        answer = null;
        node.config.reset();
      }
    });
    node.own.config.safeUpdate('a', 1);
    expect(node.told).toEqual([]);
    expect(node.own.takeOthersMeanwhile().map(named)).toEqual(['b', 'c']);
    expect(node.own.takeOthersMeanwhile()).toEqual([]);

    node.config.update('b', 2); // told, as others'
    answer = 'reset';
    node.own.config.reset();
    expect(node.told).toEqual(['b']);
    expect(node.own.takeOthersMeanwhile().map(named)).toEqual(['reset']);

    node.own.stop();
    node.config.update('c', 2);
    expect(node.told).toEqual(['b']);
  });

  it('tells others\' writes that change nothing served, as config-written, and none of its own', () => {
    // `b` follows `a` unless set: setting it to what it follows, or taking it back, writes it
    // without changing what is served, and a party keeping its own value there must hear it.
    const follows: StandardSchemaV1<unknown, unknown> = {
      '~standard': { version: 1, vendor: 'test', validate: (value) => ({ value: { ...(value as object), b: (value as { a: number; b?: number }).b ?? (value as { a: number }).a } }) },
    };
    const config: Config<unknown> = createConfig({ defaults: { a: 0 }, schema: follows, updatablePaths: ['a', 'b'] });
    const told: string[] = [];
    const own = watchOwnConfigChanges(config, (notification, first) => void told.push(`${first ? '' : '+'}${notification.type} ${named(notification)}`));

    own.config.safeUpdate('b', 0);
    expect(told).toEqual([]);
    config.revert('b');
    config.update('b', 0);
    config.updateMany([
      { path: 'a', value: 1 },
      { path: 'b', value: 0 }, // what it holds already: written nowhere
    ]);
    expect(told).toEqual(['config-written b', 'config-written b', 'config-updated a']);
  });
});
