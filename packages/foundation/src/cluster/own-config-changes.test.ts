// One party's changes of a config told apart from everyone else's: the party's changes are
// delivered within its call or, made from within a subscriber, after it returned; others' once
// per change, however many paths it notified.
import { describe, expect, it } from '@jest/globals';
import { createConfig } from '@foundation/config';
import type { Config } from '@foundation/config';
import { watchOwnConfigChanges } from './own-config-changes';

function watched() {
  const config: Config<unknown> = createConfig({ defaults: { a: 0, b: 0, c: 0 }, updatablePaths: ['a', 'b', 'c'] });
  let told = 0;
  const own = watchOwnConfigChanges(config, () => {
    told += 1;
  });
  return { config, own, told: () => told };
}

describe('watchOwnConfigChanges', () => {
  it('tells each change of others once, and none of its own, whether delivered within its call or after it', () => {
    const node = watched();
    node.config.updateMany([
      { path: 'a', value: 1 },
      { path: 'b', value: 1 },
    ]);
    expect(node.told()).toBe(1);
    node.config.reset();
    node.config.reset();
    expect(node.told()).toBe(3);

    node.own.config.safeUpdateMany([
      { path: 'a', value: 2 },
      { path: 'b', value: 2 },
    ]);
    node.own.config.safeUpdate('a', 3);
    node.own.config.reset();
    expect(node.told()).toBe(3);

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
    expect(node.told()).toBe(6); // c, b, the reset
    expect(node.own.takeOthersMeanwhile()).toBe(false);
  });

  it('tells a change others make on hearing one of its own apart, for later', () => {
    const node = watched();
    node.config.subscribe((change) => {
      if (change.type === 'config-updated' && change.path[0] === 'a') node.config.update('b', 1);
    });
    node.own.config.safeUpdate('a', 1);
    expect(node.told()).toBe(0);
    expect(node.own.takeOthersMeanwhile()).toBe(true);
    expect(node.own.takeOthersMeanwhile()).toBe(false);

    node.own.stop();
    node.config.update('c', 1);
    expect(node.told()).toBe(0);
  });
});
