// The client-server peer service: election, announcements, attachment by rendezvous hashing.
import { describe, expect, it } from '@jest/globals';
import { createSeededRandom } from '@foundation/core';
import { ClientServerCore, isElectedServer, rendezvousScore, targetServerCount } from './client-server';
import { defaultLocalConfig } from './config';
import type { ClientServerConfig } from './config';
import type { ClientServerMessage } from './messages';
import type { ServiceEffect } from './peer-service';

const base = defaultLocalConfig().clientServer;

function node(self: string, role: ClientServerConfig['role'], overrides: Partial<ClientServerConfig> = {}): ClientServerCore {
  return new ClientServerCore({ self, config: { ...base, role, ...overrides }, random: createSeededRandom(3), estimatedSize: 100, requestTimeoutMs: 200, connectTimeoutMs: 1_000 });
}

function sends(effects: readonly ServiceEffect[]): [string, ClientServerMessage][] {
  return effects.flatMap((effect) => (effect.kind === 'send' ? [[effect.to, effect.message as ClientServerMessage] as [string, ClientServerMessage]] : []));
}

describe('client-server election', () => {
  it('aims for ceil(sqrt(n)) servers within the bounds', () => {
    expect([targetServerCount(1, base), targetServerCount(100, base), targetServerCount(10_000, base), targetServerCount(1e7, base)]).toEqual([3, 10, 64, 64]);
  });

  it('elects about the target share of nodes, the same nodes on every node', () => {
    const ids = Array.from({ length: 5_000 }, (_, index) => `node-${index}`);
    const elected = ids.filter((id) => isElectedServer(id, 5_000, base));
    expect(elected.length).toBeGreaterThan(50);
    expect(elected.length).toBeLessThan(100);
    expect(ids.filter((id) => isElectedServer(id, 5_000, base))).toEqual(elected);
  });
});

describe('client-server', () => {
  it('a server announces itself on $servers at once and then every announce interval', () => {
    const server = node('s1', 'server');
    server.join([], 0);
    expect(server.takeEffects()).toContainEqual({ kind: 'publish', topic: '$servers', payload: { server: 's1' } });
    expect(server.nextTick()).toBe(base.announceIntervalMs);
  });

  it('a client attaches to k servers, then moves to its k best by rendezvous score, attaching before letting go', () => {
    const client = node('c1', 'client', { serversPerClient: 2 });
    client.join([], 0);
    const servers = ['s1', 's2', 's3', 's4', 's5', 's6'];
    const expected = [...servers].sort((a, b) => rendezvousScore('c1', b) - rendezvousScore('c1', a)).slice(0, 2).sort();
    for (const server of servers) client.serverAnnounced(server, 1);
    let now = 1;
    for (let period = 0; period < 8; period += 1) {
      for (const [to, message] of sends(client.takeEffects())) {
        if (message.type === 'cs-attach') client.receive(to, { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: [] }, now);
      }
      expect(client.members().length).toBeGreaterThanOrEqual(1);
      expect(client.members().length).toBeLessThanOrEqual(2);
      now += base.announceIntervalMs;
      client.tick(now);
    }
    expect(client.members().sort()).toEqual(expected);
  });

  it('a refused attachment is retried elsewhere; a failed server is replaced', () => {
    const client = node('c1', 'client', { serversPerClient: 1 });
    client.join([], 0);
    client.serverAnnounced('s1', 1);
    client.serverAnnounced('s2', 1);
    const first = sends(client.takeEffects()).find(([, message]) => message.type === 'cs-attach')![0];
    client.receive(first, { type: 'cs-attach-reply', epoch: 0, accepted: false, servers: [] }, 2);
    const second = sends(client.takeEffects()).find(([, message]) => message.type === 'cs-attach')![0];
    expect(second).not.toBe(first);
    client.receive(second, { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: [] }, 3);
    expect(client.members()).toEqual([second]);
    client.peerDown(second, 4);
    expect(client.takeEffects()).toContainEqual({ kind: 'neighbor-down', peer: second, reason: 'failed' });
  });

  it('an attachment held for a connection is given up only after connectTimeoutMs more; once the connection is up, the request timeout counts from then', () => {
    const attaching = (): ClientServerCore => {
      const client = node('c1', 'client', { serversPerClient: 1 });
      client.join([], 0);
      client.serverAnnounced('s1', 0);
      expect(sends(client.takeEffects())).toContainEqual(['s1', { type: 'cs-attach', epoch: 0, server: false }]);
      return client;
    };
    // Unanswered within the request timeout (200 ms): the server is forgotten.
    const quick = attaching();
    quick.tick(201);
    expect(quick.knownServers()).toEqual([]);

    const held = attaching();
    held.peerConnecting('s1', 0);
    held.tick(1_199);
    expect(held.knownServers()).toEqual(['s1']);
    held.tick(1_201);
    expect(held.knownServers()).toEqual([]);

    const connected = attaching();
    connected.peerConnecting('s1', 0);
    connected.peerUp('s1', 500);
    connected.tick(699);
    expect(connected.knownServers()).toEqual(['s1']);
    connected.receive('s1', { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: [] }, 699);
    expect(connected.members()).toEqual(['s1']);
  });

  it('a server accepts clients up to maxClientsPerServer and meshes with the servers it hears of', () => {
    const server = node('s1', 'server', { maxClientsPerServer: 2 });
    server.join([], 0);
    server.takeEffects();
    for (const client of ['c1', 'c2', 'c3']) server.receive(client, { type: 'cs-attach', epoch: 0, server: false }, 1);
    const replies = sends(server.takeEffects()).filter(([, message]) => message.type === 'cs-attach-reply');
    expect(replies.map(([to, message]) => [to, (message as { accepted: boolean }).accepted])).toEqual([
      ['c1', true],
      ['c2', true],
      ['c3', false],
    ]);
    server.serverAnnounced('s2', 2);
    expect(sends(server.takeEffects())).toContainEqual(['s2', { type: 'cs-attach', epoch: 0, server: true }]);
  });

  it('a client that loses its servers asks its seeds, and becomes a server only after three periods with none in sight, not at once', () => {
    const id = Array.from({ length: 100 }, (_, index) => `c${index}`).find((candidate) => !isElectedServer(candidate, 100, base))!;
    const client = node(id, 'auto');
    const interval = base.announceIntervalMs;
    client.join(['seed'], 0);
    client.receive('seed', { type: 'cs-servers', epoch: 0, servers: ['s1'] }, 1);
    client.receive('s1', { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: [] }, 2);
    client.takeEffects();
    expect(client.members()).toEqual(['s1']);
    // Long after it started, its only server fails (its link broke: cut off for a moment, say).
    const failedAt = 100 * interval;
    client.peerDown('s1', failedAt);
    const hellos: number[] = [];
    for (let now = failedAt; now < failedAt + 3 * interval; now += interval / 10) {
      client.tick(now);
      for (const [to, message] of sends(client.takeEffects())) if (to === 'seed' && message.type === 'cs-hello') hellos.push(now);
      expect({ now, role: client.role }).toEqual({ now, role: 'client' });
    }
    expect(hellos.length).toBeGreaterThanOrEqual(2);
    // A seed answers: it attaches again.
    client.receive('seed', { type: 'cs-servers', epoch: 0, servers: ['s2'] }, failedAt + 3 * interval);
    expect(sends(client.takeEffects())).toContainEqual(['s2', { type: 'cs-attach', epoch: 0, server: false }]);
    // No answer ever comes, no server is in sight for three periods: then it becomes one.
    client.peerDown('s2', failedAt + 3 * interval);
    for (let now = failedAt + 3 * interval; now <= failedAt + 7 * interval; now += interval / 10) client.tick(now);
    expect(client.role).toBe('server');
  });

  it('a server that lost sight of every other server asks a former server every period (it has no seeds), and meshes again once answered', () => {
    const server = node('s1', 'server');
    const interval = base.announceIntervalMs;
    server.join([], 0);
    server.serverAnnounced('s2', 1);
    server.receive('s2', { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: ['s2'] }, 2);
    expect(server.members()).toEqual(['s2']);
    // Cut off: the link to its only server peer breaks.
    server.peerDown('s2', 10 * interval);
    server.takeEffects();
    const hellos: number[] = [];
    for (let now = 10 * interval; now <= 14 * interval; now += interval / 10) {
      server.tick(now);
      for (const [to, message] of sends(server.takeEffects())) if (to === 's2' && message.type === 'cs-hello') hellos.push(now);
    }
    // One a period (an unanswered hello is given up after the request timeout).
    expect(hellos.length).toBeGreaterThanOrEqual(3);
    server.receive('s2', { type: 'cs-servers', epoch: 0, servers: ['s2', 's3'] }, 14 * interval);
    const attaches = sends(server.takeEffects()).filter(([, message]) => message.type === 'cs-attach');
    expect(attaches.map(([to]) => to).sort()).toEqual(['s2', 's3']);
  });

  it('a client with no server in sight for three periods becomes one (auto role)', () => {
    const client = node('lonely', 'auto', { role: 'auto' });
    client.join([], 0);
    if (client.role === 'server') return;
    for (let now = 0; now <= 4 * base.announceIntervalMs; now += base.announceIntervalMs) client.tick(now);
    expect(client.role).toBe('server');
    expect(client.stats().selfPromotions).toBe(1);
  });
});
