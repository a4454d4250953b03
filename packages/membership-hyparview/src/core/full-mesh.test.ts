// The full mesh peer service: members by direct contact, gossiped lists, tombstones.
import { describe, expect, it } from '@jest/globals';
import { createSeededRandom } from '@foundation/core';
import { defaultLocalConfig } from './config';
import { FullMeshCore } from './full-mesh';
import type { FullMeshMessage } from './messages';
import type { ServiceEffect } from './peer-service';

function mesh(self = 'me'): FullMeshCore {
  return new FullMeshCore({ self, config: { ...defaultLocalConfig().fullMesh, maxMembers: 4, tombstoneMs: 1_000 }, random: createSeededRandom(1), contactTimeoutMs: 100, connectTimeoutMs: 1_000 });
}

function sends(effects: readonly ServiceEffect[]): [string, FullMeshMessage][] {
  return effects.flatMap((effect) => (effect.kind === 'send' ? [[effect.to, effect.message as FullMeshMessage] as [string, FullMeshMessage]] : []));
}

describe('full mesh', () => {
  it('contacts every seed; a node becomes a member only when it answers', () => {
    const node = mesh();
    node.join(['a', 'b'], 0);
    expect(sends(node.takeEffects()).map(([to, message]) => [to, message.type])).toEqual([
      ['a', 'mesh-join'],
      ['b', 'mesh-join'],
    ]);
    expect(node.members()).toEqual([]);
    node.receive('a', { type: 'mesh-members', epoch: 0, nodes: ['a', 'c'] }, 10);
    expect(node.members()).toEqual(['a']);
    expect(sends(node.takeEffects())).toContainEqual(['c', { type: 'mesh-join', epoch: 0 }]);
  });

  it('a contact held for a connection times out only after connectTimeoutMs more; once the connection is up, the contact timeout counts from then', () => {
    const quick = mesh();
    quick.join(['a'], 0);
    quick.tick(101);
    expect(quick.stats().contactsTimedOut).toBe(1);

    const held = mesh();
    held.join(['a'], 0);
    held.peerConnecting('a', 0);
    held.tick(1_099);
    expect(held.stats().contactsTimedOut).toBe(0);
    held.tick(1_101);
    expect(held.stats().contactsTimedOut).toBe(1);

    const connected = mesh();
    connected.join(['a'], 0);
    connected.peerConnecting('a', 0);
    connected.peerUp('a', 600);
    connected.tick(699);
    expect(connected.stats().contactsTimedOut).toBe(0);
    connected.tick(701);
    expect(connected.stats().contactsTimedOut).toBe(1);
    // A peer that was not being contacted is left alone.
    connected.peerConnecting('b', 800);
    connected.peerUp('b', 800);
    expect(connected.stats().contacting).toBe(0);
  });

  it('keeps calling seeds that are not up yet every contact timeout until one answers', () => {
    const node = mesh();
    node.join(['a'], 0);
    node.takeEffects();
    node.peerDown('a', 5); // the seed does not listen yet
    // Inside the tombstone period (1,000 ms) the seed is called again every contact timeout (100 ms).
    let calls = 0;
    let now = 5;
    while (node.nextTick() < 900) {
      now = node.nextTick();
      node.tick(now);
      for (const [to, message] of sends(node.takeEffects())) {
        if (to !== 'a' || message.type !== 'mesh-join') continue;
        calls += 1;
        node.peerDown('a', now); // still not listening
      }
    }
    expect(calls).toBeGreaterThanOrEqual(7);
    node.receive('a', { type: 'mesh-members', epoch: 0, nodes: ['a'] }, now + 1);
    expect(node.members()).toEqual(['a']);
    node.takeEffects();
    // Once in, seeds are checked only every tombstone period.
    node.tick(now + 150);
    expect(sends(node.takeEffects()).filter(([, message]) => message.type === 'mesh-join')).toEqual([]);
  });

  it('answers a mesh-join with its member list (the joiner then contacts each member itself)', () => {
    const node = mesh();
    node.join([], 0);
    node.receive('a', { type: 'mesh-join', epoch: 0 }, 1);
    node.takeEffects();
    node.receive('b', { type: 'mesh-join', epoch: 0 }, 2);
    expect(sends(node.takeEffects())).toEqual([['b', { type: 'mesh-members', epoch: 0, nodes: ['me', 'a', 'b'] }]]);
  });

  it('gossips its member list to one random member every gossip interval', () => {
    const node = mesh();
    node.join([], 0);
    node.receive('a', { type: 'mesh-join', epoch: 0 }, 1);
    node.takeEffects();
    node.tick(node.nextTick());
    expect(sends(node.takeEffects())).toEqual([['a', { type: 'mesh-members', epoch: 0, nodes: ['me', 'a'] }]]);
  });

  it('failed members are tombstoned: third-party lists do not bring them back until the tombstone ends, direct contact does', () => {
    const node = mesh();
    node.join([], 0);
    node.receive('a', { type: 'mesh-join', epoch: 0 }, 1);
    node.receive('b', { type: 'mesh-join', epoch: 0 }, 1);
    node.peerDown('a', 10);
    expect(node.members()).toEqual(['b']);
    node.takeEffects();
    node.receive('b', { type: 'mesh-members', epoch: 0, nodes: ['a'] }, 20);
    expect(sends(node.takeEffects())).not.toContainEqual(['a', { type: 'mesh-join', epoch: 0 }]);
    node.receive('a', { type: 'mesh-join', epoch: 0 }, 30);
    expect(node.members().sort()).toEqual(['a', 'b']);
  });

  it('probes a failed member that third parties still list, at most once per probe interval, and takes it back when it answers', () => {
    const node = mesh(); // contact timeout 100 ms, gossip interval 300 ms (local preset): probes ≥ 300 ms apart
    node.join([], 0);
    node.receive('a', { type: 'mesh-join', epoch: 0 }, 1);
    node.receive('b', { type: 'mesh-join', epoch: 0 }, 1);
    node.peerDown('a', 10); // a paused: declared failed
    node.takeEffects();
    const probes = (): number => sends(node.takeEffects()).filter(([to, message]) => to === 'a' && message.type === 'mesh-join').length;
    node.receive('b', { type: 'mesh-members', epoch: 0, nodes: ['b', 'a'] }, 100);
    expect(probes()).toBe(0); // too soon after the failure
    node.receive('b', { type: 'mesh-members', epoch: 0, nodes: ['b', 'a'] }, 320);
    expect(probes()).toBe(1);
    node.receive('b', { type: 'mesh-members', epoch: 0, nodes: ['b', 'a'] }, 330);
    expect(probes()).toBe(0); // one probe in flight, none again before the interval
    node.tick(421); // the probe was not answered: given up
    node.takeEffects();
    node.receive('b', { type: 'mesh-members', epoch: 0, nodes: ['b', 'a'] }, 500);
    expect(probes()).toBe(0);
    node.receive('b', { type: 'mesh-members', epoch: 0, nodes: ['b', 'a'] }, 730);
    expect(probes()).toBe(1);
    node.receive('a', { type: 'mesh-members', epoch: 0, nodes: ['a', 'b'] }, 740); // a is back and answers
    expect(node.members().sort()).toEqual(['a', 'b']);
    expect(node.stats()).toMatchObject({ tombstones: 0, tombstonedProbed: 2 });
  });

  it('does not probe a member that left', () => {
    const node = mesh();
    node.join([], 0);
    node.receive('a', { type: 'mesh-join', epoch: 0 }, 1);
    node.receive('b', { type: 'mesh-join', epoch: 0 }, 1);
    node.receive('a', { type: 'mesh-leave', epoch: 0 }, 10);
    node.takeEffects();
    node.receive('b', { type: 'mesh-members', epoch: 0, nodes: ['b', 'a'] }, 900);
    expect(sends(node.takeEffects()).filter(([to]) => to === 'a')).toEqual([]);
  });

  it('a contact that never answers is given up and tombstoned', () => {
    const node = mesh();
    node.join(['ghost'], 0);
    node.tick(101);
    expect(node.stats().contactsTimedOut).toBe(1);
    node.takeEffects();
    node.receive('x', { type: 'mesh-members', epoch: 0, nodes: ['ghost'] }, 150);
    expect(sends(node.takeEffects()).filter(([to]) => to === 'ghost')).toEqual([]);
  });

  it('holds at most maxMembers members whatever lists arrive', () => {
    const node = mesh();
    node.join([], 0);
    node.receive('a', { type: 'mesh-members', epoch: 0, nodes: Array.from({ length: 50 }, (_, index) => `n${index}`) }, 1);
    for (let index = 0; index < 50; index += 1) node.receive(`n${index}`, { type: 'mesh-join', epoch: 0 }, 2);
    expect(node.members().length).toBeLessThanOrEqual(4);
  });

  it('mesh-leave removes the member with reason "left"', () => {
    const node = mesh();
    node.join([], 0);
    node.receive('a', { type: 'mesh-join', epoch: 0 }, 1);
    node.takeEffects();
    node.receive('a', { type: 'mesh-leave', epoch: 0 }, 2);
    expect(node.takeEffects()).toContainEqual({ kind: 'neighbor-down', peer: 'a', reason: 'left' });
  });
});
