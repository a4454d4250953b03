// The client-server peer service: election, announcements, attachment by rendezvous hashing.
import { describe, expect, it } from '@jest/globals';
import { createSeededRandom } from '@foundation/core';
import { ClientServerCore, electedShare, electionPoint, isElectedServer, rendezvousScore, serversKept, targetServerCount } from './client-server';
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
    expect(server.takeEffects()).toContainEqual({ kind: 'publish', topic: '$servers', payload: { server: 's1', servers: ['s1'] } });
    expect(server.nextTick()).toBe(base.announceIntervalMs);
  });

  it('a client attaches to k servers, then moves to its k best by rendezvous score, attaching before letting go', () => {
    const client = node('c1', 'client', { serversPerClient: 2 });
    client.join([], 0);
    const servers = ['s1', 's2', 's3', 's4', 's5', 's6'];
    const expected = [...servers].sort((a, b) => rendezvousScore('c1', b) - rendezvousScore('c1', a)).slice(0, 2).sort();
    for (const server of servers) client.serverAnnounced([server], 1);
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
    client.serverAnnounced(['s1'], 1);
    client.serverAnnounced(['s2'], 1);
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
      client.serverAnnounced(['s1'], 0);
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
    server.serverAnnounced(['s2'], 2);
    expect(sends(server.takeEffects())).toContainEqual(['s2', { type: 'cs-attach', epoch: 0, server: true }]);
  });

  it('a client asks a seed that is not a server it knows at its seed rejoins, names the servers the answer taught it to its own servers, and a server meshes with servers a client names', () => {
    // Only servers used to ask: when the one seed across a healed partition was a client's, the
    // two overlays stayed apart for good. Size 1: the rejoin chance (servers / size) is certain.
    const interval = 1_000;
    const client = new ClientServerCore({
      self: 'c1',
      config: { ...base, role: 'client' },
      random: createSeededRandom(3),
      estimatedSize: 1,
      requestTimeoutMs: 200,
      connectTimeoutMs: 1_000,
      seedRejoin: { intervalMs: interval, clusterSize: () => 1 },
    });
    client.join(['x', 's1'], 0);
    for (const [to, message] of sends(client.takeEffects())) if (message.type === 'cs-hello') client.receive(to, { type: 'cs-servers', epoch: 0, servers: to === 's1' ? ['s1'] : [] }, 1);
    const attach = sends(client.takeEffects()).find(([, message]) => message.type === 'cs-attach');
    expect(attach?.[0]).toBe('s1');
    client.receive('s1', { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: ['s1'] }, 2);
    client.takeEffects();
    const asked: string[] = [];
    let lastAskedAt = 0;
    for (let now = 100; now <= 3 * interval && asked.filter((to) => to === 'x').length < 3; now += 100) {
      client.tick(now);
      for (const [to, message] of sends(client.takeEffects())) {
        if (message.type !== 'cs-hello') continue;
        asked.push(to);
        if (to === 'x') lastAskedAt = now;
      }
    }
    // s1 is a server it knows (it shares this overlay): only x is asked, once an interval (the
    // hello to s1 is the client's refresh of its contacts, not a rejoin).
    expect({ rejoins: client.stats().seedRejoins, asked: asked.filter((to) => to !== 's1') }).toEqual({ rejoins: 3, asked: ['x', 'x', 'x'] });
    client.receive('x', { type: 'cs-servers', epoch: 0, servers: ['t1', 't2', 's1'] }, lastAskedAt + 10);
    expect(sends(client.takeEffects())).toContainEqual(['s1', { type: 'cs-servers', epoch: 0, servers: ['t1', 't2'] }]);

    const server = node('s1', 'server');
    server.join([], 0);
    server.receive('c1', { type: 'cs-attach', epoch: 0, server: false }, 1);
    server.takeEffects();
    server.receive('c1', { type: 'cs-servers', epoch: 0, servers: ['t1', 't2'] }, 1);
    const meshing = sends(server.takeEffects()).filter(([, message]) => message.type === 'cs-attach');
    expect(meshing).toEqual([
      ['t1', { type: 'cs-attach', epoch: 0, server: true }],
      ['t2', { type: 'cs-attach', epoch: 0, server: true }],
    ]);
  });

  it('a server takes servers it did not ask for only from its clients and mesh, at most four new ones a period, and all that an answer to its own hello names', () => {
    // Any node could send a server a list of made-up ids, and the server dialled them all as
    // servers to mesh with, up to its mesh's capacity (128 by default). A client's pass-on (see
    // `passOnServers`) needs one live server of the other overlay: its answer names the rest.
    const attachesTo = (effects: readonly ServiceEffect[]): string[] => sends(effects).flatMap(([to, message]) => (message.type === 'cs-attach' ? [to] : []));
    const server = node('s1', 'server');
    server.join([], 0);
    server.takeEffects();
    const named = (prefix: string): string[] => Array.from({ length: 40 }, (_, index) => `${prefix}${index}`);
    server.receive('stranger', { type: 'cs-servers', epoch: 0, servers: named('x') }, 1);
    const fromStranger = attachesTo(server.takeEffects());
    server.receive('c1', { type: 'cs-attach', epoch: 0, server: false }, 2);
    server.takeEffects();
    server.receive('c1', { type: 'cs-servers', epoch: 0, servers: named('t') }, 3);
    server.receive('c1', { type: 'cs-servers', epoch: 0, servers: named('u') }, 4);
    const fromClientFirstPeriod = attachesTo(server.takeEffects());
    server.receive('c1', { type: 'cs-servers', epoch: 0, servers: named('v') }, 5 + base.announceIntervalMs);
    const fromClientNextPeriod = attachesTo(server.takeEffects());
    expect({ fromStranger, fromClientFirstPeriod, fromClientNextPeriod }).toEqual({ fromStranger: [], fromClientFirstPeriod: ['t0', 't1', 't2', 't3'], fromClientNextPeriod: ['v0', 'v1', 'v2', 'v3'] });

    // The seed rejoins: the answer to its own hello teaches it every server named, as before.
    const asking = node('s2', 'server');
    asking.join(['seed'], 0);
    expect(sends(asking.takeEffects())).toContainEqual(['seed', { type: 'cs-hello', epoch: 0 }]);
    asking.receive('seed', { type: 'cs-servers', epoch: 0, servers: named('w').slice(0, 10) }, 1);
    expect(attachesTo(asking.takeEffects())).toEqual(named('w').slice(0, 10));
  });

  it('a server takes at most four servers new to it a period from $servers announcements, and refreshes those it knows whatever their number', () => {
    // Any node can publish on `$servers` (the origin is the sender's word) naming up to
    // 2·maxServers + 1 ids, and every server dialled each as a server to mesh with, up to its
    // mesh's capacity (128 by default), at every such announcement.
    const attachesTo = (effects: readonly ServiceEffect[]): string[] => sends(effects).flatMap(([to, message]) => (message.type === 'cs-attach' ? [to] : []));
    const named = (prefix: string): string[] => Array.from({ length: 2 * base.maxServers }, (_, index) => `${prefix}${index}`);
    const server = node('s1', 'server');
    server.join([], 0);
    server.takeEffects();
    server.serverAnnounced(['x', ...named('x')], 1);
    server.serverAnnounced(['y', ...named('y')], 2);
    const firstPeriod = attachesTo(server.takeEffects());
    server.serverAnnounced(['z', ...named('z')], 3 + base.announceIntervalMs);
    const nextPeriod = attachesTo(server.takeEffects());
    expect({ firstPeriod, nextPeriod }).toEqual({ firstPeriod: ['x', 'x0', 'x1', 'x2'], nextPeriod: ['z', 'z0', 'z1', 'z2'] });

    // A client dials only its k best, and learns every server an announcement names, as before.
    const client = node('c1', 'client');
    client.join([], 0);
    client.serverAnnounced(['x', ...named('x')], 1);
    expect(client.knownServers().length).toBe(2 * base.maxServers + 1);
  });

  it('an attach reply counts only as the answer to an attach this node sent: a stranger\'s, accepted or not, teaches no server or contact and links nothing', () => {
    // Any node could send one: an accepted reply from a node never asked made a server take its
    // sender into the mesh, and any node learnt every server and contact it named and dialled them.
    const dialled = (effects: readonly ServiceEffect[]): string[] => sends(effects).flatMap(([to, message]) => (message.type === 'cs-attach' || message.type === 'cs-hello' ? [to] : []));
    const made = Array.from({ length: 10 }, (_, index) => `x${index}`);
    const peers = Array.from({ length: 10 }, (_, index) => `p${index}`);
    const outcome = (core: ClientServerCore): { neighbors: number; known: string[]; dialled: string[] } => {
      core.receive('stranger', { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: ['stranger', ...made], peers }, 1);
      core.receive('refuser', { type: 'cs-attach-reply', epoch: 0, accepted: false, servers: ['refuser', ...made], peers }, 1);
      const effects = [...core.takeEffects()];
      for (let now = 2; now <= 12 * base.announceIntervalMs; now += base.announceIntervalMs / 2) {
        core.tick(now);
        effects.push(...core.takeEffects());
      }
      return {
        neighbors: effects.filter((effect) => effect.kind === 'neighbor-up').length,
        known: core.knownServers().filter((server) => server === 'stranger' || server === 'refuser' || made.includes(server)),
        dialled: dialled(effects).filter((to) => to === 'stranger' || to === 'refuser' || made.includes(to) || peers.includes(to)),
      };
    };
    const server = node('s1', 'server');
    server.join([], 0);
    server.takeEffects();
    const client = node('c1', 'client');
    client.join(['seed'], 0);
    client.takeEffects();
    const none = { neighbors: 0, known: [], dialled: [] };
    expect({ server: outcome(server), client: outcome(client) }).toEqual({ server: none, client: none });

    // The answer to an attach this node sent counts; one to an attach given up on is undone on
    // the server, which holds this node as a client, and teaches nothing either.
    const answered = node('c2', 'client', { serversPerClient: 1 });
    answered.join([], 0);
    answered.serverAnnounced(['s1'], 0);
    answered.takeEffects();
    answered.receive('s1', { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: ['s1', 's2'] }, 1);
    const late = node('c3', 'client', { serversPerClient: 1 });
    late.join([], 0);
    late.serverAnnounced(['s1'], 0);
    late.tick(201);
    late.takeEffects();
    late.receive('s1', { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: ['s1', 's2'] }, 202);
    expect({ answered: [answered.members(), answered.knownServers().sort()], late: [late.members(), late.knownServers(), sends(late.takeEffects())] }).toEqual({
      answered: [['s1'], ['s1', 's2']],
      late: [[], [], [['s1', { type: 'cs-detach', epoch: 0, alive: true }]]],
    });
  });

  it('a server list counts only as the answer to a hello this node sent, once, up to twice the longest a request waits after it: a stranger\'s teaches no contact, server or seeker', () => {
    // Any node could send one unasked: a client took every server and up to 8 contacts it named,
    // so a few lists replaced the 16 live contacts it falls back on when every server is gone
    // with made-up names; a server took the contacts too. (The test nodes' requests wait 200 ms,
    // and 1,000 ms more for a connection.)
    const made = Array.from({ length: 8 }, (_, index) => `x${index}`);
    const stranger = (core: ClientServerCore, now: number): void => {
      core.receive('stranger', { type: 'cs-servers', epoch: 0, servers: made, peers: made }, now);
      core.receive('other', { type: 'cs-servers', epoch: 0, servers: [], peers: made, seeking: true, lowest: 'x0' }, now);
    };
    /** What `core` knows, as its answer to a hello shows it: its servers and (up to 8 of) its contacts. */
    const answer = (core: ClientServerCore, now: number): { servers: string[]; peers: string[] } => {
      core.receive('probe', { type: 'cs-hello', epoch: 0 }, now);
      const [, message] = sends(core.takeEffects()).find(([to, sent]) => to === 'probe' && sent.type === 'cs-servers')!;
      const { servers, peers } = message as { servers: readonly string[]; peers?: readonly string[] };
      return { servers: [...servers].sort(), peers: [...(peers ?? [])].sort() };
    };

    // A client that asked its seed, whose answer named s1 and two live nodes.
    const client = node('c1', 'client');
    client.join(['seed'], 0);
    client.receive('seed', { type: 'cs-servers', epoch: 0, servers: ['s1'], peers: ['p1', 'p2'] }, 1);
    client.takeEffects();
    const before = answer(client, 2);
    stranger(client, 3);
    // The seed answers again, a hello it was sent once: the second copy is unasked too.
    client.receive('seed', { type: 'cs-servers', epoch: 0, servers: ['s1', 'x9'], peers: ['x9'] }, 4);
    const dialled = sends(client.takeEffects()).map(([to]) => to);
    expect({ before, after: answer(client, 5), dialled, ignored: client.stats().serverListsIgnored }).toEqual({
      before: { servers: ['s1'], peers: ['p1', 'p2', 'seed'] },
      after: { servers: ['s1'], peers: ['p1', 'p2', 'seed'] },
      dialled: [],
      ignored: 3,
    });
    // A server with no clients names its contacts: a stranger's list adds none to them either.
    const server = node('s1', 'server');
    server.join([], 0);
    server.takeEffects();
    const serverBefore = answer(server, 1);
    stranger(server, 2);
    expect({ before: serverBefore, after: answer(server, 3) }).toEqual({ before: { servers: ['s1'], peers: [] }, after: { servers: ['s1'], peers: [] } });
    // Nor does an unasked `seeking` make a node that knows no server defer to its sender (or to
    // the node it names): it would name that one in its answers.
    const [low, lower, id] = Array.from({ length: 200 }, (_, index) => `c${index}`)
      .filter((candidate) => !isElectedServer(candidate, 100, base))
      .sort((a, b) => electionPoint(a) - electionPoint(b));
    const lost = node(id!, 'auto');
    lost.join([], 0);
    lost.receive(low!, { type: 'cs-servers', epoch: 0, servers: [], seeking: true, lowest: lower! }, 1);
    lost.receive('probe', { type: 'cs-hello', epoch: 0 }, 2);
    expect(sends(lost.takeEffects()).find(([to]) => to === 'probe')?.[1]).toEqual({ type: 'cs-servers', epoch: 0, servers: [], peers: [], seeking: true });

    // A client attached to s1 (so it asks no contacts) whose hello to its seed, sent at 0, was
    // given up on at 200 ms; it asks the seed nothing more. The answer still counts 2 s on,
    // within twice the request's 1,200 ms; 3 s on it is unasked.
    const late = (at: number): { servers: string[]; peers: string[]; hellosToSeed: number } => {
      const core = node('c2', 'client', { serversPerClient: 1 });
      core.join(['seed'], 0);
      core.serverAnnounced(['s1'], 0);
      core.receive('s1', { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: ['s1'] }, 1);
      let hellosToSeed = 0;
      for (let now = 100; now <= at; now += 100) {
        hellosToSeed += sends(core.takeEffects()).filter(([to, message]) => to === 'seed' && message.type === 'cs-hello').length;
        if (now < at) core.tick(now);
      }
      core.receive('seed', { type: 'cs-servers', epoch: 0, servers: ['s2'], peers: ['p1'] }, at);
      return { ...answer(core, at + 1), hellosToSeed };
    };
    expect({ inWindow: late(2_000), afterIt: late(3_000) }).toEqual({
      inWindow: { servers: ['s1', 's2'], peers: ['p1', 'seed'], hellosToSeed: 1 },
      afterIt: { servers: ['s1'], peers: [], hellosToSeed: 1 },
    });
  });

  it('hellos are answered at most helloBurst at once and helloRatePerSecond after, per source; those over the budget go unanswered and are counted (review finding)', () => {
    // Each hello is answered with a server list and a sample of contacts: without a bound, any
    // node could make a server do that work, and send that much, as often as it liked.
    const server = node('s1', 'server', { helloRatePerSecond: 5, helloBurst: 10 });
    server.join([], 0);
    server.takeEffects();
    const answered = (from: string, count: number, now: number): number => {
      for (let index = 0; index < count; index += 1) server.receive(from, { type: 'cs-hello', epoch: 0 }, now);
      return sends(server.takeEffects()).filter(([to, message]) => to === from && message.type === 'cs-servers').length;
    };
    expect(answered('flood', 100, 10)).toBe(10);
    // Another node is answered whatever the first sends.
    expect(answered('honest', 1, 10)).toBe(1);
    // Half a second refills 2.5 tokens: two more answers, then nothing.
    expect(answered('flood', 100, 510)).toBe(2);
    expect(server.stats()).toMatchObject({ hellosRateLimited: 90 + 98 });
    // A node that asks about once a period (local preset: 500 ms) is always answered.
    for (let now = 1_000; now < 20_000; now += 500) expect(answered('steady', 1, now)).toBe(1);
  });

  it('a cs-servers from a server this node asked to attach to is not its attach reply: the reply still counts, and a refusal to mesh still lets the link go', () => {
    // A client elected while the answer to its contact refresh (a hello) was on its way from its
    // server: that answer ended the attach to mesh, and the server's refusal (its mesh full, it
    // keeps this node as a client) came as a stray and was ignored, so this node held it in its
    // mesh while the server held this node as a client, for good.
    const id = Array.from({ length: 100 }, (_, index) => `c${index}`).find((candidate) => !isElectedServer(candidate, 100, base))!;
    const client = node(id, 'auto');
    client.join([], 0);
    client.serverAnnounced(['s1'], 0);
    client.takeEffects();
    client.receive('s1', { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: ['s1'] }, 1);
    client.receive('s1', { type: 'cs-promote', epoch: 0 }, 2);
    client.takeEffects();
    client.receive('s1', { type: 'cs-servers', epoch: 0, servers: ['s1'] }, 3);
    client.receive('s1', { type: 'cs-attach-reply', epoch: 0, accepted: false, servers: ['s1'] }, 4);
    expect({ role: client.role, members: client.members(), sent: sends(client.takeEffects()).filter(([, message]) => message.type === 'cs-detach') }).toEqual({
      role: 'server',
      members: [],
      sent: [['s1', { type: 'cs-detach', epoch: 0, alive: true }]],
    });
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
    server.serverAnnounced(['s2'], 1);
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

describe('client-server when every server is gone', () => {
  const interval = base.announceIntervalMs;
  /** Ids not elected at 100 nodes, in the order of their election points. */
  const clientIds = Array.from({ length: 200 }, (_, index) => `c${index}`)
    .filter((id) => !isElectedServer(id, 100, base))
    .sort((a, b) => electionPoint(a) - electionPoint(b));
  const hellosTo = (effects: readonly ServiceEffect[]): string[] => sends(effects).flatMap(([to, message]) => (message.type === 'cs-hello' ? [to] : []));

  /** A client attached to s1 alone, which named `peers` among its clients when it accepted. */
  function attachedClient(id: string, peers: string[]): ClientServerCore {
    const client = node(id, 'auto');
    client.join(['seed'], 0);
    client.receive('seed', { type: 'cs-servers', epoch: 0, servers: ['s1'] }, 1);
    client.receive('s1', { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: ['s1'], peers }, 2);
    client.takeEffects();
    return client;
  }

  it('a server names some of its clients in its answers (never the asker), and a node that knows no server says it is seeking one unless pinned a client', () => {
    const server = node('s1', 'server');
    server.join([], 0);
    for (const client of ['c1', 'c2', 'c3']) server.receive(client, { type: 'cs-attach', epoch: 0, server: false }, 1);
    server.takeEffects();
    server.receive('c1', { type: 'cs-hello', epoch: 0 }, 2);
    const [answer] = sends(server.takeEffects());
    expect(answer).toEqual(['c1', { type: 'cs-servers', epoch: 0, servers: ['s1'], peers: expect.arrayContaining(['c2', 'c3']) as unknown as string[] }]);
    expect((answer![1] as { peers: readonly string[] }).peers).toHaveLength(2);
    for (const [role, seeking] of [['auto', true], ['client', undefined]] as const) {
      const lost = node(clientIds[0]!, role);
      lost.join([], 0);
      lost.receive('other', { type: 'cs-hello', epoch: 0 }, 1);
      const reply = sends(lost.takeEffects()).find(([to]) => to === 'other')![1] as { seeking?: true; servers: readonly string[] };
      expect({ role, servers: reply.servers, seeking: reply.seeking }).toEqual({ role, servers: [], seeking });
    }
  });

  it('a client whose servers and seed all failed asks the live nodes its server named, not only its dead contacts', () => {
    const client = attachedClient(clientIds[5]!, ['c7', 'c8']);
    const failedAt = 100 * interval;
    client.peerDown('s1', failedAt);
    client.peerDown('seed', failedAt);
    const asked = new Set<string>();
    for (let now = failedAt; now < failedAt + 3 * interval; now += interval / 10) {
      client.tick(now);
      for (const to of hellosTo(client.takeEffects())) asked.add(to);
    }
    expect([...asked].filter((to) => to === 'c7' || to === 'c8')).not.toEqual([]);
    // c7 answers with a server it knows: the client attaches to it.
    client.receive('c7', { type: 'cs-servers', epoch: 0, servers: ['s2'] }, failedAt + 3 * interval);
    expect(sends(client.takeEffects())).toContainEqual(['s2', { type: 'cs-attach', epoch: 0, server: false }]);
  });

  it('a client with no server leaves the election to a seeking node before it, asks it every period, and attaches once it names a server; it steps up itself once that node is gone', () => {
    const [low, high] = [clientIds[0]!, clientIds[1]!];
    const client = attachedClient(high, [low]);
    const failedAt = 100 * interval;
    client.peerDown('s1', failedAt);
    client.peerDown('seed', failedAt);
    const askedLow: number[] = [];
    for (let now = failedAt; now < failedAt + 8 * interval; now += interval / 10) {
      client.tick(now);
      if (hellosTo(client.takeEffects()).includes(low)) {
        askedLow.push(now);
        client.receive(low, { type: 'cs-servers', epoch: 0, servers: [], seeking: true }, now + 1);
      }
      expect({ now, role: client.role }).toEqual({ now, role: 'client' });
    }
    expect(askedLow.length).toBeGreaterThanOrEqual(6);
    // `low` made itself a server and says so when next asked: the client attaches to it.
    let askedAt = failedAt + 8 * interval;
    for (client.tick(askedAt); !hellosTo(client.takeEffects()).includes(low) && askedAt < failedAt + 9 * interval; client.tick(askedAt)) askedAt += interval / 10;
    client.receive(low, { type: 'cs-servers', epoch: 0, servers: [low], peers: [] }, askedAt + 1);
    expect(sends(client.takeEffects())).toContainEqual([low, { type: 'cs-attach', epoch: 0, server: false }]);
    // It fails before answering; no other seeker comes first: the client steps up within a period.
    client.peerDown(low, askedAt + 2);
    for (let now = askedAt + 2; now <= askedAt + 4 * interval; now += interval / 10) client.tick(now);
    expect(client.role).toBe('server');
    // A seeker after it in the election does not hold it back.
    const first = attachedClient(low, [high]);
    first.peerDown('s1', failedAt);
    first.peerDown('seed', failedAt);
    for (let now = failedAt; now <= failedAt + 4 * interval; now += interval / 10) {
      first.tick(now);
      if (hellosTo(first.takeEffects()).includes(high)) first.receive(high, { type: 'cs-servers', epoch: 0, servers: [], seeking: true }, now);
    }
    expect(first.role).toBe('server');
  });

  it('a seeking node names the first seeker it heard of, and the asker defers to that one too and asks it', () => {
    const [lowest, middle, high] = [clientIds[0]!, clientIds[1]!, clientIds[2]!];
    // `middle` knows no server and has heard from `lowest`, seeking too: it names it in its answer.
    const named = node(middle, 'auto');
    named.join([lowest], 0);
    named.receive(lowest, { type: 'cs-servers', epoch: 0, servers: [], seeking: true }, 1);
    named.takeEffects();
    named.receive(high, { type: 'cs-hello', epoch: 0 }, 2);
    expect(sends(named.takeEffects()).find(([to]) => to === high)?.[1]).toMatchObject({ servers: [], seeking: true, lowest });
    // `high`, with no server, hears only from `middle` (its one live contact, which answers its
    // first hello): it asks `lowest` as well, and waits for it.
    const client = attachedClient(high, [middle]);
    const failedAt = 100 * interval;
    client.peerDown('s1', failedAt);
    client.peerDown('seed', failedAt);
    const asked = new Set<string>();
    for (let now = failedAt; now < failedAt + 4 * interval; now += interval / 10) {
      client.tick(now);
      for (const to of hellosTo(client.takeEffects())) {
        if (to === middle && !asked.has(middle)) client.receive(middle, { type: 'cs-servers', epoch: 0, servers: [], seeking: true, lowest }, now + 1);
        asked.add(to);
      }
      expect({ now, role: client.role }).toEqual({ now, role: 'client' });
    }
    expect(asked.has(middle)).toBe(true);
    expect(asked.has(lowest)).toBe(true);
    // Named only, it never answers itself: three periods on, the client no longer waits for it.
    for (let now = failedAt + 4 * interval; now <= failedAt + 8 * interval; now += interval / 10) client.tick(now);
    expect(client.role).toBe('server');
  });

  it('a client defers to a seeking node before it for at most nine periods with no server in sight, even if that node answers for ever and never steps up', () => {
    const [low, high] = [clientIds[0]!, clientIds[1]!];
    const client = attachedClient(high, [low]);
    const failedAt = 100 * interval;
    client.peerDown('s1', failedAt);
    client.peerDown('seed', failedAt);
    let steppedUpAt: number | undefined;
    for (let now = failedAt; now <= failedAt + 12 * interval && steppedUpAt === undefined; now += interval / 10) {
      // `low` answers every hello, seeking, and never becomes a server (a hostile node would).
      client.receive(low, { type: 'cs-servers', epoch: 0, servers: [], seeking: true }, now);
      client.tick(now);
      client.takeEffects();
      if (client.role === 'server') steppedUpAt = now;
    }
    expect(steppedUpAt).toBeDefined();
    expect(steppedUpAt! - failedAt).toBeGreaterThanOrEqual(9 * interval);
    expect(steppedUpAt! - failedAt).toBeLessThanOrEqual(10 * interval);
  });

  it('a client that made itself a server on its own asks a live contact too in its first periods, though it has meshed with a server since', () => {
    const client = attachedClient(clientIds[6]!, ['c7']);
    const failedAt = 100 * interval;
    client.peerDown('s1', failedAt);
    client.peerDown('seed', failedAt);
    let now = failedAt;
    for (; client.role === 'client' && now <= failedAt + 12 * interval; now += interval / 10) {
      client.tick(now);
      client.takeEffects();
    }
    expect(client.role).toBe('server');
    // It hears of a server at once (an announcement), and meshes with it.
    client.serverAnnounced(['s9'], now);
    client.receive('s9', { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: ['s9'] }, now);
    client.takeEffects();
    expect(client.members()).toEqual(['s9']);
    const asked: string[] = [];
    for (const end = now + 3 * interval; now <= end; now += interval / 10) {
      client.tick(now);
      asked.push(...hellosTo(client.takeEffects()));
    }
    // The seed and s1 are its seed and former server; c7 is the live contact its server named.
    // Meshes formed apart by nodes stepping up at once found each other only through seed
    // rejoins when a server in this state asked its seeds and former servers alone.
    expect(asked).toContain('c7');
  });

  it('the announcer of a mesh with fewer servers than the target asks its clients first in the election to become ones, four a period, and a client of it does', () => {
    // An estimate of 100 nodes: a target of 10 servers.
    const server = node('s1', 'server');
    server.join([], 0);
    // Clients after it in the election too, so that it still announces for the mesh when they join it.
    const clients = clientIds.filter((client) => electionPoint(client) > electionPoint('s1')).slice(0, 6).sort((a, b) => electionPoint(a) - electionPoint(b));
    for (const client of [...clients].reverse()) server.receive(client, { type: 'cs-attach', epoch: 0, server: false }, 1);
    // Servers after it in the election, so that it announces for the mesh (the first one by hash does).
    const peers = Array.from({ length: 100 }, (_, index) => `s${index + 2}`).filter((peer) => electionPoint(peer) > electionPoint('s1'));
    // Three servers in its mesh, as many as minServers: short of the target all the same.
    for (const peer of peers.slice(0, 3)) server.receive(peer, { type: 'cs-attach', epoch: 0, server: true }, 1);
    server.takeEffects();
    const promotions = (): string[] => sends(server.takeEffects()).flatMap(([to, message]) => (message.type === 'cs-promote' ? [to] : []));
    const promoted: string[][] = [];
    for (let period = 1; period <= 3; period += 1) {
      server.tick(period * interval);
      promoted.push(promotions());
    }
    // First in the election first, four a period; none answers here, and each is asked once in
    // three periods.
    expect(promoted).toEqual([clients.slice(0, 4), clients.slice(4, 6), []]);
    // Two of the first four stepped up and meshed: with 6 servers, 4 are missing, and the two
    // asked in the last period are on their way, so two more are asked once the first asks lapse.
    for (const peer of clients.slice(0, 2)) server.receive(peer, { type: 'cs-attach', epoch: 0, server: true }, 4 * interval);
    server.tick(4 * interval);
    expect(promotions()).toEqual([]);
    server.tick(5 * interval);
    expect(promotions()).toEqual(clients.slice(2, 4));
    // Ten servers in its mesh: no more asked.
    for (const peer of peers.slice(3, 7)) server.receive(peer, { type: 'cs-attach', epoch: 0, server: true }, 6 * interval);
    server.tick(9 * interval);
    expect({ mesh: server.stats().serverPeers, promotions: promotions() }).toEqual({ mesh: 9, promotions: [] });
    // A client asked by one of its servers steps up, keeping that server as a peer of the mesh;
    // asked by a node it is not attached to, or pinned a client, it does not.
    const client = attachedClient(clients[3]!, []);
    client.receive('elsewhere', { type: 'cs-promote', epoch: 0 }, 3);
    expect(client.role).toBe('client');
    client.receive('s1', { type: 'cs-promote', epoch: 0 }, 4);
    expect({ role: client.role, members: client.members() }).toEqual({ role: 'server', members: ['s1'] });
    const pinned = node(clients[4]!, 'client');
    pinned.join(['seed'], 0);
    pinned.receive('s1', { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: ['s1'] }, 2);
    pinned.receive('s1', { type: 'cs-promote', epoch: 0 }, 3);
    expect(pinned.role).toBe('client');
  });

  it('a mesh tops up only once it has joined every server it knows of, and not while a server that made itself one alone looks for the others', () => {
    const later = (count: number, after: string): string[] =>
      Array.from({ length: 400 }, (_, index) => `p${index}`).filter((peer) => electionPoint(peer) > electionPoint(after)).slice(0, count);
    // Requests that run out after ten periods: the unanswered one below is still pending.
    const server = new ClientServerCore({ self: 's1', config: { ...base, role: 'server' }, random: createSeededRandom(3), estimatedSize: 100, requestTimeoutMs: 10 * interval, connectTimeoutMs: 1_000 });
    server.join([], 0);
    for (const client of later(3, 's1')) server.receive(client, { type: 'cs-attach', epoch: 0, server: false }, 1);
    // It knows of another server (after it by hash), asked to mesh and not answered yet.
    const [other] = later(4, 's1').slice(3);
    server.serverAnnounced([other!], 1);
    expect(sends(server.takeEffects())).toContainEqual([other, { type: 'cs-attach', epoch: 0, server: true }]);
    const promotions = (): string[] => sends(server.takeEffects()).flatMap(([to, message]) => (message.type === 'cs-promote' ? [to] : []));
    server.tick(interval);
    expect(promotions()).toEqual([]);
    server.receive(other!, { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: [other!] }, interval + 1);
    server.tick(2 * interval);
    expect(promotions()).toHaveLength(3);

    // A client with no server in sight for three periods makes itself a server: for its first
    // four periods it asks contacts for the other servers, and asks no client to step up.
    const id = Array.from({ length: 400 }, (_, index) => `q${index}`).find((candidate) => electionPoint(candidate) > 0.5)!;
    const alone = new ClientServerCore({ self: id, config: { ...base, role: 'auto' }, random: createSeededRandom(3), estimatedSize: 100, requestTimeoutMs: 200, connectTimeoutMs: 1_000 });
    alone.join(['seed'], 0);
    let now = 0;
    while (alone.role === 'client' && now < 10 * interval) {
      now += interval;
      alone.tick(now);
    }
    expect({ role: alone.role, selfPromotions: alone.stats().selfPromotions }).toEqual({ role: 'server', selfPromotions: 1 });
    for (const client of later(3, id)) alone.receive(client, { type: 'cs-attach', epoch: 0, server: false }, now + 1);
    alone.takeEffects();
    const asked: number[] = [];
    for (let period = 1; period <= 5; period += 1) {
      alone.tick(now + period * interval);
      asked.push(sends(alone.takeEffects()).filter(([, message]) => message.type === 'cs-promote').length);
    }
    expect(asked).toEqual([0, 0, 0, 3, 0]);
  });

  it('a server that failed here is not learnt again from another node\'s list for three periods, only from itself', () => {
    // With no server left, the client asks its seed and its former server; the seed still names s1.
    const client = attachedClient(clientIds[3]!, []);
    client.peerDown('s1', 10 * interval);
    expect(hellosTo(client.takeEffects()).sort()).toEqual(['s1', 'seed']);
    client.receive('seed', { type: 'cs-servers', epoch: 0, servers: ['s1'] }, 10 * interval + 1);
    expect(client.knownServers()).toEqual([]);
    client.receive('s1', { type: 'cs-servers', epoch: 0, servers: ['s1'] }, 10 * interval + 2);
    expect(client.knownServers()).toEqual(['s1']);
    // Attached to s1 again when its link fails a second time (between two periods, so that the
    // client does not ask s1, which would keep it marked while it does not answer): three periods
    // on, the seed's answer teaches it again.
    client.receive('s1', { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: ['s1'] }, 10 * interval + 3);
    client.tick(20 * interval - 1);
    client.peerDown('s1', 20 * interval);
    client.tick(23 * interval + 1);
    expect(hellosTo(client.takeEffects())).toContain('seed');
    client.receive('seed', { type: 'cs-servers', epoch: 0, servers: ['s1'] }, 23 * interval + 2);
    expect(client.knownServers()).toEqual(['s1']);
  });

  it('a server whose attach went unanswered, or that refused as a client (it stepped down), is not learnt again from another node\'s list, only from itself', () => {
    // Seed 28 of the 100-node crash simulation: the dials to crashed servers that ran out and the
    // servers elected away before the crash went round the clients' lists, each node that learnt
    // one again counted a server in sight, and no node elected itself for good (92 components).
    const client = node(clientIds[4]!, 'auto');
    client.join(['seed'], 0);
    client.receive('seed', { type: 'cs-servers', epoch: 0, servers: ['s1', 's2'] }, 1);
    expect(sends(client.takeEffects()).filter(([, message]) => message.type === 'cs-attach').map(([to]) => to).sort()).toEqual(['s1', 's2']);
    client.receive('s2', { type: 'cs-attach-reply', epoch: 0, accepted: false, servers: ['s3'] }, 2);
    client.tick(interval / 2);
    expect(client.knownServers()).toEqual([]);
    client.takeEffects();
    // It asks its seed again a period on, and the answer names both: each is asked itself.
    client.tick(interval);
    expect(hellosTo(client.takeEffects())).toEqual(['seed']);
    client.receive('seed', { type: 'cs-servers', epoch: 0, servers: ['s1', 's2'] }, interval + 1);
    expect(client.knownServers()).toEqual([]);
    expect(hellosTo(client.takeEffects()).sort()).toEqual(['s1', 's2']);
    // s2 is a server again and says so itself, naming s1 too; s1 does not answer, and stays unlearnt.
    client.receive('s2', { type: 'cs-servers', epoch: 0, servers: ['s2', 's1'] }, interval + 2);
    expect(client.knownServers()).toEqual(['s2']);
  });

  it('a server whose link failed here, named by another node, is asked itself, and learnt again from its answer at once', () => {
    // Seed 4 of the partition merge simulation: a client lost the link to the only server of its
    // side, learnt of it from no one for three periods, and made itself a server alone.
    // The link fails while the answer to the client's hello to its seed is on its way, naming s1.
    const client = node(clientIds[6]!, 'auto');
    client.join(['seed'], 10 * interval - 2);
    client.serverAnnounced(['s1'], 10 * interval - 2);
    client.receive('s1', { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: ['s1'] }, 10 * interval - 1);
    client.peerDown('s1', 10 * interval);
    client.takeEffects();
    client.receive('seed', { type: 'cs-servers', epoch: 0, servers: ['s1'] }, 10 * interval + 1);
    expect(client.knownServers()).toEqual([]);
    expect(hellosTo(client.takeEffects())).toEqual(['s1']);
    client.receive('s1', { type: 'cs-servers', epoch: 0, servers: ['s1'] }, 10 * interval + 2);
    expect(sends(client.takeEffects())).toContainEqual(['s1', { type: 'cs-attach', epoch: 0, server: false }]);
  });

  it('a failed server that answered itself is live again here: lists that name it later do not have it asked again (review finding)', () => {
    // Marked failed still, it was asked again at every list that named it, as soon as the hello
    // before was answered: one booting client sent its seed 20 hellos in 2 s, and a 300-node
    // cluster sent ten times the hellos it needed while it formed.
    const client = node(clientIds[6]!, 'auto');
    client.join(['seed'], 10 * interval - 2);
    client.serverAnnounced(['s1'], 10 * interval - 2);
    client.receive('s1', { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: ['s1'] }, 10 * interval - 1);
    client.peerDown('s1', 10 * interval);
    client.takeEffects();
    client.receive('seed', { type: 'cs-servers', epoch: 0, servers: ['s1'] }, 10 * interval + 1);
    expect(hellosTo(client.takeEffects())).toEqual(['s1']);
    client.receive('s1', { type: 'cs-servers', epoch: 0, servers: ['s1'] }, 10 * interval + 2);
    client.takeEffects();
    // Its attach is refused (its clients are full): not a neighbour, nothing pending.
    client.receive('s1', { type: 'cs-attach-reply', epoch: 0, accepted: false, servers: ['s1'] }, 10 * interval + 3);
    client.takeEffects();
    client.serverAnnounced(['s2', 's1'], 10 * interval + 4);
    client.receive('s2', { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: ['s2', 's1'] }, 10 * interval + 5);
    expect(hellosTo(client.takeEffects())).toEqual([]);
    expect(client.knownServers().sort()).toEqual(['s1', 's2']);
  });
});

describe('client-server election by the size estimate', () => {
  const ids = Array.from({ length: 2_000 }, (_, index) => `n${index}`);
  const withoutEstimate = (self: string): ClientServerCore =>
    new ClientServerCore({ self, config: { ...base, role: 'auto' }, random: createSeededRandom(3), estimatedSize: undefined, requestTimeoutMs: 200, connectTimeoutMs: 1_000 });
  const withEstimate = (self: string, size: number): ClientServerCore =>
    new ClientServerCore({ self, config: { ...base, role: 'auto' }, random: createSeededRandom(3), estimatedSize: size, requestTimeoutMs: 200, connectTimeoutMs: 1_000 });

  it('without an estimate, a node with seeds starts as a client and the first node (no seeds) as a server, not every node a server', () => {
    const clients = ids.slice(1, 51).map((id) => {
      const core = withoutEstimate(id);
      core.join(['n0'], 0);
      return core.role;
    });
    expect(new Set(clients)).toEqual(new Set(['client']));
    const first = withoutEstimate('n0');
    first.join([], 0);
    expect(first.role).toBe('server');
  });

  it('a server elected away by a larger estimate lets its clients and mesh go, with a detach each, and attaches as a client', () => {
    // Elected among 10 nodes, well past the line among 400.
    const id = ids.find((candidate) => isElectedServer(candidate, 10, base) && electionPoint(candidate) >= 1.3 * electedShare(400, base))!;
    // `serversKept` servers of its mesh come before it in the election: they stay servers whatever it does.
    const before = ids.filter((candidate) => electionPoint(candidate) < electionPoint(id)).slice(0, serversKept(400, base));
    expect(before).toHaveLength(25);
    const server = withEstimate(id, 10);
    server.join([], 0);
    // They ask it to mesh (announced, 25 new servers in a period, it would take four of them).
    for (const peer of before) server.receive(peer, { type: 'cs-attach', epoch: 0, server: true }, 1);
    server.receive('c1', { type: 'cs-attach', epoch: 0, server: false }, 3);
    server.takeEffects();
    expect(server.members().sort()).toEqual(['c1', ...before].sort());
    server.sizeEstimated(400, 10);
    const effects = server.takeEffects();
    expect(server.role).toBe('client');
    expect(server.stats().demotions).toBe(1);
    for (const peer of ['c1', ...before]) {
      expect(effects).toContainEqual({ kind: 'neighbor-down', peer, reason: 'disconnected' });
      expect(sends(effects)).toContainEqual([peer, { type: 'cs-detach', epoch: 0, alive: true }]);
    }
    const attaches = sends(effects).filter(([, message]) => message.type === 'cs-attach');
    expect(attaches.map(([, message]) => message)).toEqual([
      { type: 'cs-attach', epoch: 0, server: false },
      { type: 'cs-attach', epoch: 0, server: false },
    ]);
    // It no longer announces itself.
    for (const [to] of attaches) server.receive(to, { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: [to] }, 11);
    server.tick(10 * base.announceIntervalMs);
    expect(server.takeEffects().filter((effect) => effect.kind === 'publish')).toEqual([]);
  });

  it('a server stays one while fewer than serversKept servers of its mesh come before it in the election, and within the margin of a noisy estimate', () => {
    const id = ids.find((candidate) => isElectedServer(candidate, 10, base) && electionPoint(candidate) >= 1.3 * electedShare(400, base))!;
    const alone = withEstimate(id, 10);
    alone.join([], 0);
    alone.serverAnnounced(['s1'], 1);
    alone.sizeEstimated(400, 2);
    expect(alone.role).toBe('server');
    // Meshed with three servers that come after it, and knowing of more: it stays too.
    const after = ids.filter((candidate) => electionPoint(candidate) > electionPoint(id)).slice(0, 5);
    const meshed = withEstimate(id, 10);
    meshed.join([], 0);
    meshed.serverAnnounced(after, 1);
    for (const peer of after.slice(0, 3)) meshed.receive(peer, { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: [peer] }, 2);
    expect(meshed.stats().serverPeers).toBe(3);
    meshed.sizeEstimated(400, 3);
    expect(meshed.role).toBe('server');
    // Meshed with one server fewer than `serversKept` before it (more than the target of 20 for
    // 400 nodes, as after a top-up): it stays, so a top-up is not elected away.
    const before = ids.filter((candidate) => electionPoint(candidate) < electionPoint(id)).slice(0, serversKept(400, base) - 1);
    expect(before.length).toBeGreaterThan(targetServerCount(400, base));
    const toppedUp = withEstimate(id, 10);
    toppedUp.join([], 0);
    for (const peer of before) toppedUp.receive(peer, { type: 'cs-attach', epoch: 0, server: true }, 1);
    expect(toppedUp.stats().serverPeers).toBe(before.length);
    toppedUp.sizeEstimated(400, 2);
    expect(toppedUp.role).toBe('server');
    // Just past the line (elected at the size before, not at the new one, but within 25%): it stays.
    const near = ids.find((candidate) => {
      const point = electionPoint(candidate);
      return point >= electedShare(400, base) && point < 1.2 * electedShare(400, base);
    })!;
    const server = withEstimate(near, 10);
    server.join([], 0);
    for (const peer of ['s1', 's2', 's3']) server.serverAnnounced([peer], 1);
    server.sizeEstimated(400, 2);
    expect(server.role).toBe('server');
  });

  it('a client elected by a smaller estimate becomes a server and keeps its servers as peers of the mesh, on the same links', () => {
    const id = ids.find((candidate) => !isElectedServer(candidate, 400, base) && electionPoint(candidate) < 0.7 * electedShare(100, base))!;
    const client = withEstimate(id, 400);
    client.join([], 0);
    client.serverAnnounced(['s1'], 1);
    client.serverAnnounced(['s2'], 1);
    for (const [to, message] of sends(client.takeEffects())) if (message.type === 'cs-attach') client.receive(to, { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: [to] }, 2);
    client.takeEffects();
    expect(client.members().sort()).toEqual(['s1', 's2']);
    client.sizeEstimated(100, 3);
    const effects = client.takeEffects();
    expect(client.role).toBe('server');
    expect(client.stats().promotions).toBe(1);
    expect(effects.filter((effect) => effect.kind === 'neighbor-down')).toEqual([]);
    expect(client.members().sort()).toEqual(['s1', 's2']);
    expect(sends(effects)).toContainEqual(['s1', { type: 'cs-attach', epoch: 0, server: true }]);
    expect(effects).toContainEqual({ kind: 'publish', topic: '$servers', payload: { server: id, servers: [id, 's1', 's2'] } });
  });

  it('a server asked to mesh by one of its clients moves it into the mesh, one neighbour throughout', () => {
    const server = withEstimate('s1', 1);
    server.join([], 0);
    server.receive('c1', { type: 'cs-attach', epoch: 0, server: false }, 1);
    server.takeEffects();
    server.receive('c1', { type: 'cs-attach', epoch: 0, server: true }, 2);
    const effects = server.takeEffects();
    expect(effects.filter((effect) => effect.kind === 'neighbor-down' || effect.kind === 'neighbor-up')).toEqual([]);
    expect(sends(effects)).toContainEqual(['c1', expect.objectContaining({ type: 'cs-attach-reply', epoch: 0, accepted: true, servers: expect.arrayContaining(['s1', 'c1']) as unknown as string[] })]);
    expect(server.stats()).toMatchObject({ serverPeers: 1, clients: 0 });
    server.peerDown('c1', 3);
    expect(server.members()).toEqual([]);
  });

  it('a refusal that does not list its sender among the servers means it is a server no more: it is forgotten, and so is what it lists', () => {
    const client = withEstimate('c1', 10_000);
    client.join([], 0);
    client.serverAnnounced(['s1'], 1);
    client.receive('s1', { type: 'cs-attach-reply', epoch: 0, accepted: false, servers: ['s2'] }, 2);
    expect(client.knownServers()).toEqual([]);
    // A full server lists itself: it stays known, and what it lists is learnt.
    client.serverAnnounced(['s2'], 3);
    client.receive('s2', { type: 'cs-attach-reply', epoch: 0, accepted: false, servers: ['s2', 's3'] }, 3);
    expect(client.knownServers().sort()).toEqual(['s2', 's3']);
  });

  it('before any estimate, a client with no server in sight asked by another that has none becomes one if its point comes first', () => {
    const [low, high] = [...ids.slice(0, 20)].sort((a, b) => electionPoint(a) - electionPoint(b));
    const asked = withoutEstimate(low!);
    asked.join(['elsewhere'], 0);
    asked.receive('elsewhere', { type: 'cs-servers', epoch: 0, servers: [] }, 1);
    asked.takeEffects();
    asked.receive(high!, { type: 'cs-hello', epoch: 0 }, 2);
    expect(asked.role).toBe('server');
    expect(sends(asked.takeEffects())).toContainEqual([high, expect.objectContaining({ type: 'cs-servers', epoch: 0, servers: [low] })]);
    // The other way round, or once an estimate has elected the role, the asked node stays a client.
    const later = withoutEstimate(high!);
    later.join(['elsewhere'], 0);
    later.receive('elsewhere', { type: 'cs-servers', epoch: 0, servers: [] }, 1);
    later.receive(low!, { type: 'cs-hello', epoch: 0 }, 2);
    expect(later.role).toBe('client');
  });

  it('a server that made itself one asks a contact for servers every period for four periods, also while it knows some, so that its mesh joins one it had not heard of', () => {
    const [low, high] = [...ids.slice(0, 20)].sort((a, b) => electionPoint(a) - electionPoint(b));
    const server = withoutEstimate(low!);
    server.join(['seed'], 0);
    server.receive('seed', { type: 'cs-servers', epoch: 0, servers: [] }, 1);
    server.receive(high!, { type: 'cs-hello', epoch: 0 }, 2);
    expect(server.role).toBe('server');
    server.serverAnnounced(['other'], 3);
    server.receive('other', { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: ['other'] }, 4);
    server.takeEffects();
    const hellos: number[] = [];
    for (let now = 5; now <= 8 * base.announceIntervalMs; now += base.announceIntervalMs / 5) {
      server.tick(now);
      for (const [to, message] of sends(server.takeEffects())) if (message.type === 'cs-hello') {
        hellos.push(now);
        server.receive(to, { type: 'cs-servers', epoch: 0, servers: [] }, now);
      }
    }
    expect(hellos.length).toBeGreaterThanOrEqual(3);
    expect(hellos.every((at) => at <= 2 + 4 * base.announceIntervalMs)).toBe(true);
  });

  it('a client with no link left keeps the servers it knows while it tries them, however long the failed tries take (none comes to refresh them)', () => {
    const client = withEstimate('c1', 10_000);
    client.join([], 0);
    const known = Array.from({ length: 24 }, (_, index) => `s${index}`);
    for (const server of known) client.serverAnnounced([server], 0);
    // The two it attaches to fail, and so does every other but the two it would try last.
    const byScore = [...known].sort((a, b) => rendezvousScore('c1', b) - rendezvousScore('c1', a));
    const live = new Set(byScore.slice(-2));
    let now = 0;
    const answer = (): void => {
      for (const [to, message] of sends(client.takeEffects())) {
        if (message.type !== 'cs-attach') continue;
        if (live.has(to)) client.receive(to, { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: [to] }, now);
      }
    };
    answer();
    for (const server of client.members()) client.peerDown(server, 1);
    while (now < 20 * base.announceIntervalMs && client.members().length < 2) {
      now = Math.max(now + 1, client.nextTick());
      client.tick(now);
      answer();
    }
    expect({ role: client.role, members: client.members().sort() }).toEqual({ role: 'client', members: [...live].sort() });
  });

  it('one server a period announces the mesh: the one whose election point comes first among it and its linked servers; when it fails the next takes over', () => {
    const ranked = [...ids.slice(0, 20)].sort((a, b) => electionPoint(a) - electionPoint(b)).slice(0, 3);
    const servers = ranked.map((id) => withEstimate(id, 1));
    const interval = base.announceIntervalMs;
    servers.forEach((server) => server.join([], 0));
    // Each meshes with the other two.
    for (const server of servers) {
      for (const other of ranked) if (other !== server.self) server.receive(other, { type: 'cs-attach', epoch: 0, server: true }, 1);
      server.takeEffects();
    }
    const announcers = (now: number): string[] =>
      servers.flatMap((server) => {
        server.tick(now);
        return server.takeEffects().flatMap((effect) => (effect.kind === 'publish' ? [server.self] : []));
      });
    expect(announcers(interval)).toEqual([ranked[0]]);
    expect(announcers(2 * interval)).toEqual([ranked[0]]);
    // The first fails: the next announces from its next period.
    servers[1]!.peerDown(ranked[0]!, 2 * interval + 1);
    servers[2]!.peerDown(ranked[0]!, 2 * interval + 1);
    expect(announcers(3 * interval).filter((id) => id !== ranked[0])).toEqual([ranked[1]]);
  });

  it('an announcement names the mesh, and a client learns every server it names', () => {
    const [first, ...others] = [...ids.slice(0, 20)].sort((a, b) => electionPoint(a) - electionPoint(b)).slice(0, 3);
    const server = withEstimate(first!, 1);
    server.join([], 0);
    for (const peer of others) server.receive(peer, { type: 'cs-attach', epoch: 0, server: true }, 1);
    server.takeEffects();
    server.tick(base.announceIntervalMs);
    const published = server.takeEffects().find((effect) => effect.kind === 'publish');
    const named = published?.kind === 'publish' ? (published.payload as { servers: string[] }).servers : [];
    expect([...named].sort()).toEqual([first, ...others].sort());
    const client = withEstimate('c1', 10_000);
    client.join([], 0);
    client.serverAnnounced(named, 2);
    expect(client.knownServers().sort()).toEqual([first, ...others].sort());
  });
});

describe('client-server role changes with requests in flight', () => {
  const ids = Array.from({ length: 2_000 }, (_, index) => `n${index}`);
  const withEstimate = (self: string, size: number): ClientServerCore =>
    new ClientServerCore({ self, config: { ...base, role: 'auto' }, random: createSeededRandom(3), estimatedSize: size, requestTimeoutMs: 200, connectTimeoutMs: 1_000 });

  /** Delivers the messages the cores send each other, in order, until none is left; counts each core's neighbour-ups less its neighbour-downs, by peer. */
  function network(cores: readonly ClientServerCore[]): { deliver: (now: number) => void; links: Map<string, Map<string, number>> } {
    const bySelf = new Map(cores.map((core) => [core.self, core]));
    const links = new Map(cores.map((core) => [core.self, new Map<string, number>()]));
    const deliver = (now: number): void => {
      for (let pass = 0; pass < 50; pass += 1) {
        let sent = false;
        for (const core of cores) {
          for (const effect of core.takeEffects()) {
            const count = links.get(core.self)!;
            if (effect.kind === 'neighbor-up') count.set(effect.peer, (count.get(effect.peer) ?? 0) + 1);
            if (effect.kind === 'neighbor-down') count.set(effect.peer, (count.get(effect.peer) ?? 0) - 1);
            if (effect.kind !== 'send') continue;
            const to = bySelf.get(effect.to);
            if (to === undefined) continue;
            sent = true;
            to.receive(core.self, effect.message, now);
          }
        }
        if (!sent) return;
      }
    };
    return { deliver, links };
  }

  it('a client elected a server while its attach to a server is unanswered meshes with it on both sides: one set each, one neighbour-up each', () => {
    const id = ids.find((candidate) => !isElectedServer(candidate, 400, base) && electionPoint(candidate) < 0.7 * electedShare(100, base))!;
    const client = withEstimate(id, 400);
    const server = withEstimate('s1', 1);
    client.join([], 0);
    server.join([], 0);
    const { deliver, links } = network([client, server]);
    deliver(0);
    // The client asks s1 to take it as a client, and is elected a server before the answer comes.
    client.serverAnnounced(['s1'], 1);
    const attach = sends(client.takeEffects()).find(([, message]) => message.type === 'cs-attach');
    expect(attach).toEqual(['s1', { type: 'cs-attach', epoch: 0, server: false }]);
    client.sizeEstimated(100, 2);
    expect(client.role).toBe('server');
    server.receive(id, attach![1], 3);
    deliver(3);
    // s1 hears of the new server (an announcement) and asks it to mesh.
    server.serverAnnounced([id], 4);
    deliver(4);
    const view = (core: ClientServerCore): Record<string, number> => ({ serverPeers: core.stats().serverPeers!, clients: core.stats().clients!, attached: core.stats().attached! });
    expect({ server: view(server), client: view(client) }).toEqual({ server: { serverPeers: 1, clients: 0, attached: 0 }, client: { serverPeers: 1, clients: 0, attached: 0 } });
    expect({ server: links.get('s1')!.get(id), client: links.get(id)!.get('s1') }).toEqual({ server: 1, client: 1 });
    // When it fails, s1 lets it go once, and has no neighbour left.
    server.peerDown(id, 5);
    deliver(5);
    expect({ members: server.members(), links: links.get('s1')!.get(id) }).toEqual({ members: [], links: 0 });
  });

  it('the answer to a hello sent as a client still counts once the node was elected a server, also after its request was given up', () => {
    // A server takes unasked lists only from its clients (pass-ons): taken for one, this late
    // answer from a seed taught the new server nothing.
    const id = ids.find((candidate) => !isElectedServer(candidate, 400, base) && electionPoint(candidate) < 0.7 * electedShare(100, base))!;
    const core = withEstimate(id, 400);
    core.join(['seed'], 0);
    core.sizeEstimated(100, 100);
    expect(core.role).toBe('server');
    core.tick(250);
    const hellos = sends(core.takeEffects()).flatMap(([to, message]) => (message.type === 'cs-hello' ? [to] : []));
    core.receive('seed', { type: 'cs-servers', epoch: 0, servers: ['s9'] }, 300);
    const meshing = sends(core.takeEffects()).flatMap(([to, message]) => (message.type === 'cs-attach' ? [[to, message]] : []));
    expect({ hellos, meshing }).toEqual({ hellos: ['seed'], meshing: [['s9', { type: 'cs-attach', epoch: 0, server: true }]] });
  });

  it('a client-server service of a newer epoch counts the answers to the hellos of the one it took them over from, once each, and no other list', () => {
    // After a switch to another mode and back, an answer to a hello of the service of the last
    // switch to client-server went to that one, retiring, and the new one, with no server yet,
    // learnt nothing from it. (The test nodes' requests wait 200 ms, and 1,000 ms more for a
    // connection: an answer counts up to 2,400 ms after its hello.)
    const previous = node('c1', 'client');
    previous.join(['seed'], 0);
    previous.takeEffects();
    const fresh = (): ClientServerCore => new ClientServerCore({ self: 'c1', config: { ...base, role: 'client' }, random: createSeededRandom(4), epoch: 2, estimatedSize: 100, requestTimeoutMs: 200, connectTimeoutMs: 1_000 });
    const attaches = (core: ClientServerCore): [string, ClientServerMessage][] => sends(core.takeEffects()).filter(([, message]) => message.type === 'cs-attach');
    const current = fresh();
    current.takeOverHellos(previous, 500);
    current.join(['other'], 500);
    current.takeEffects();
    expect([current.awaitsServersFrom('seed', 600), current.awaitsServersFrom('stranger', 600)]).toEqual([true, false]);
    current.receive('stranger', { type: 'cs-servers', epoch: 0, servers: ['x1'] }, 600);
    current.receive('seed', { type: 'cs-servers', epoch: 0, servers: ['s1'] }, 600);
    current.receive('seed', { type: 'cs-servers', epoch: 0, servers: ['x2'] }, 610);
    expect({ attaches: attaches(current), known: current.knownServers(), ignored: current.stats().serverListsIgnored }).toEqual({
      attaches: [['s1', { type: 'cs-attach', epoch: 2, server: false }]],
      known: ['s1'],
      ignored: 2,
    });
    // A hello older than the window is not taken over.
    const late = fresh();
    late.takeOverHellos(previous, 2_500);
    late.join(['other'], 2_500);
    late.receive('seed', { type: 'cs-servers', epoch: 0, servers: ['s1'] }, 2_500);
    expect({ attaches: attaches(late), known: late.knownServers() }).toEqual({ attaches: [], known: [] });
  });

  it('a server elected away while its request to mesh is unanswered does not stay in that server\'s mesh', () => {
    const id = ids.find((candidate) => isElectedServer(candidate, 10, base) && electionPoint(candidate) >= 1.3 * electedShare(400, base))!;
    const before = ids.filter((candidate) => electionPoint(candidate) < electionPoint(id)).slice(0, serversKept(400, base));
    const leaving = withEstimate(id, 10);
    const other = withEstimate('s1', 1);
    leaving.join([], 0);
    other.join([], 0);
    const { deliver, links } = network([leaving, other]);
    // Meshed with `serversKept` servers before it by hash (which never answer here), it asks s1 to mesh.
    for (const peer of before) leaving.receive(peer, { type: 'cs-attach', epoch: 0, server: true }, 1);
    leaving.serverAnnounced(['s1'], 1);
    const attach = sends(leaving.takeEffects()).find(([to, message]) => to === 's1' && message.type === 'cs-attach');
    expect(attach).toEqual(['s1', { type: 'cs-attach', epoch: 0, server: true }]);
    leaving.sizeEstimated(400, 2);
    expect(leaving.role).toBe('client');
    deliver(2);
    other.receive(id, attach![1], 3);
    deliver(3);
    // s1 does not count it in its mesh (nor announce it as a server); it may hold it as a client.
    expect({ mesh: other.stats().serverPeers, links: links.get('s1')!.get(id) ?? 0, linked: leaving.members().includes('s1') }).toEqual({
      mesh: 0,
      links: other.stats().clients,
      linked: other.stats().clients === 1,
    });
  });
});

describe('client-server attaches that run out', () => {
  const ids = Array.from({ length: 2_000 }, (_, index) => `n${index}`);
  /** A client now that the estimate (100) elects a server. */
  const id = ids.find((candidate) => !isElectedServer(candidate, 400, base) && electionPoint(candidate) < 0.7 * electedShare(100, base))!;
  const core = (self: string, size: number, overrides: Partial<ClientServerConfig> = {}): ClientServerCore =>
    new ClientServerCore({ self, config: { ...base, role: 'auto', ...overrides }, random: createSeededRandom(3), estimatedSize: size, requestTimeoutMs: 200, connectTimeoutMs: 1_000 });
  /** Hands `from`'s messages to `to` (only those to it), but the attach replies, which are lost. */
  const deliverLosingReplies = (from: ClientServerCore, to: ClientServerCore, now: number): void => {
    for (const [peer, message] of sends(from.takeEffects())) if (peer === to.self && message.type !== 'cs-attach-reply') to.receive(from.self, message, now);
  };
  const linked = (a: ClientServerCore, b: ClientServerCore): [boolean, boolean] => [a.isNeighbor(b.self), b.isNeighbor(a.self)];

  it('an attach that runs out is undone on the peer (a detach): a server that took the node in, its answer lost, lets it go, and the two agree on the link (review finding)', () => {
    // Elected a server while its attach as a client was out: s1 took it as a client and its
    // answer was lost. The attach ran out, and s1 held the node for good (heartbeats, when on,
    // found it after a while).
    const node = core(id, 400);
    const server = core('s1', 1);
    node.join([], 0);
    server.join([], 0);
    server.takeEffects();
    node.serverAnnounced(['s1'], 1);
    node.sizeEstimated(100, 2);
    expect(node.role).toBe('server');
    deliverLosingReplies(node, server, 3);
    deliverLosingReplies(server, node, 3);
    expect(linked(node, server)).toEqual([false, true]);
    node.tick(3 + 200 + 1);
    deliverLosingReplies(node, server, 204);
    expect(linked(node, server)).toEqual([false, false]);

    // A client elected a server asks its servers to mesh, over the links it has; s2's mesh is
    // full, and its refusal was lost. The node held s2 in its mesh, s2 held it as a client.
    const client = core(id, 400);
    const full = core('s2', 1, { maxServers: 1 });
    client.join([], 0);
    full.join([], 0);
    for (const peer of ['x1', 'x2']) full.receive(peer, { type: 'cs-attach', epoch: 0, server: true }, 0);
    full.takeEffects();
    client.serverAnnounced(['s2'], 1);
    deliverLosingReplies(client, full, 1);
    client.receive('s2', { type: 'cs-attach-reply', epoch: 0, accepted: true, servers: ['s2'] }, 2);
    full.takeEffects();
    expect(linked(client, full)).toEqual([true, true]);
    client.sizeEstimated(100, 3);
    deliverLosingReplies(client, full, 3);
    expect({ mesh: client.stats().serverPeers, clients: full.stats().clients }).toEqual({ mesh: 1, clients: 1 });
    client.tick(3 + 200 + 1);
    deliverLosingReplies(client, full, 204);
    expect(linked(client, full)).toEqual([false, false]);
  });
});

describe('client-server after servers were elected away', () => {
  // minServers 1: with the default 3, the one server left asks its clients to step up (see the
  // top-up test), which is not what this test is about.
  const config = { ...base, role: 'auto' as const, minServers: 1 };
  const core = (self: string, size: number): ClientServerCore =>
    new ClientServerCore({ self, config, random: createSeededRandom(5), estimatedSize: size, requestTimeoutMs: 200, connectTimeoutMs: 1_000 });

  it('clients stop asking nodes elected away once refused, although each still names the others among the servers it knew', () => {
    // s0 the one server left; x0..x9 were servers, elected away, and still know one another as
    // servers, as do the clients c0..c9.
    const server = core('s0', 1);
    const formerIds = Array.from({ length: 10 }, (_, index) => `x${index}`);
    const former = formerIds.map((id) => core(id, 1_000_000));
    const clients = Array.from({ length: 10 }, (_, index) => core(`c${index}`, 1_000_000));
    const client = clients[0]!;
    const all = [server, ...former, ...clients];
    const bySelf = new Map(all.map((node) => [node.self, node]));
    for (const node of all) node.join([], 0);
    for (const node of [...former, ...clients]) node.serverAnnounced(['s0', ...formerIds], 0);
    let attachesByClient = 0;
    const deliver = (now: number): void => {
      for (let pass = 0; pass < 50; pass += 1) {
        let sent = false;
        for (const node of all) {
          for (const [to, message] of sends(node.takeEffects())) {
            if (node === client && message.type === 'cs-attach') attachesByClient += 1;
            sent = true;
            bySelf.get(to)?.receive(node.self, message, now);
          }
        }
        if (!sent) return;
      }
    };
    let now = 0;
    deliver(now);
    for (let period = 0; period < 20; period += 1) {
      now += base.announceIntervalMs / 2;
      for (const node of all) node.tick(now);
      deliver(now);
      // The server's announcement of its mesh (itself): what every node hears.
      if (period % 2 === 0) for (const node of [...former, ...clients]) node.serverAnnounced(['s0'], now);
      deliver(now);
    }
    const before = attachesByClient;
    for (let period = 0; period < 10; period += 1) {
      now += base.announceIntervalMs / 2;
      for (const node of all) node.tick(now);
      deliver(now);
      if (period % 2 === 0) for (const node of [...former, ...clients]) node.serverAnnounced(['s0'], now);
      deliver(now);
    }
    expect({ known: client.knownServers(), members: client.members(), attachesLastFivePeriods: attachesByClient - before }).toEqual({ known: ['s0'], members: ['s0'], attachesLastFivePeriods: 0 });
  });

  it('a node elected away, marked failed and named by another, is asked once: its answer as a client, naming another marked so, does not have that one asked again, and so on', () => {
    // Seed 4129 of the crash simulation (FOUNDATION_SEED 4103), at boot: n0 and n10 were elected
    // away together and each still named the other among the servers it knew. A client that had
    // both marked asked n10, whose answer named n0, which it asked, whose answer named n10, ...,
    // a round trip apart: 12 hellos to n10 in 240 ms, the last over n10's hello budget.
    const clientId = Array.from({ length: 20 }, (_, index) => `c${index}`).find((id) => !isElectedServer(id, 100, base))!;
    const client = node(clientId, 'auto');
    client.join(['seed'], 0);
    client.receive('seed', { type: 'cs-servers', epoch: 0, servers: ['x1', 'x2'] }, 1);
    expect(client.role).toBe('client');
    // Both refuse as clients (neither lists itself): marked failed here.
    client.receive('x1', { type: 'cs-attach-reply', epoch: 0, accepted: false, servers: ['x2'] }, 2);
    client.receive('x2', { type: 'cs-attach-reply', epoch: 0, accepted: false, servers: ['x1'] }, 3);
    client.tick(base.announceIntervalMs / 2);
    client.takeEffects();
    // A period on it asks its seed again, which still names both: each is asked whether it is live.
    client.tick(base.announceIntervalMs);
    expect(sends(client.takeEffects()).filter(([, message]) => message.type === 'cs-hello').map(([to]) => to)).toEqual(['seed']);
    const hellos: string[] = [];
    let now = base.announceIntervalMs + 1;
    client.receive('seed', { type: 'cs-servers', epoch: 0, servers: ['x1', 'x2'] }, now);
    for (let roundTrip = 0; roundTrip < 20; roundTrip += 1) {
      const asked = sends(client.takeEffects()).flatMap(([to, message]) => (message.type === 'cs-hello' ? [to] : []));
      if (asked.length === 0) break;
      hellos.push(...asked);
      now += 10;
      for (const peer of asked) client.receive(peer, { type: 'cs-servers', epoch: 0, servers: [peer === 'x1' ? 'x2' : 'x1'] }, now);
    }
    expect({ hellos: hellos.sort(), known: client.knownServers() }).toEqual({ hellos: ['x1', 'x2'], known: [] });
    // A list that names them later, while they are still marked, does not have them asked again either.
    client.serverAnnounced(['s9', 'x1', 'x2'], now + 1);
    expect({ hellos: sends(client.takeEffects()).filter(([, message]) => message.type === 'cs-hello'), known: client.knownServers() }).toEqual({ hellos: [], known: ['s9'] });
    // Marked anew (a connection to it failed, as when a request to it runs out): asked once more.
    client.peerDown('x2', now + 2);
    client.serverAnnounced(['s9', 'x1', 'x2'], now + 3);
    expect(sends(client.takeEffects()).filter(([, message]) => message.type === 'cs-hello').map(([to]) => to)).toEqual(['x2']);
  });
});

describe('client-server servers stepping down together', () => {
  const ids = Array.from({ length: 2_000 }, (_, index) => `n${index}`);
  const withEstimate = (self: string, size: number): ClientServerCore =>
    new ClientServerCore({ self, config: { ...base, role: 'auto' }, random: createSeededRandom(3), estimatedSize: size, requestTimeoutMs: 200, connectTimeoutMs: 1_000 });

  it('servers all elected away by one estimate keep serversKept of them, whatever order they hear it in', () => {
    // Thirty servers among 10 nodes, all well past the line among 400 (where 25 are kept).
    const chosen = ids.filter((candidate) => isElectedServer(candidate, 10, base) && electionPoint(candidate) >= 1.3 * electedShare(400, base)).slice(0, 30);
    expect(chosen).toHaveLength(30);
    for (const order of [chosen, [...chosen].reverse()]) {
      const servers = order.map((id) => withEstimate(id, 10));
      const bySelf = new Map(servers.map((server) => [server.self, server]));
      const deliver = (now: number): void => {
        for (let pass = 0; pass < 50; pass += 1) {
          let sent = false;
          for (const server of servers) {
            for (const [to, message] of sends(server.takeEffects())) {
              sent = true;
              bySelf.get(to)?.receive(server.self, message, now);
            }
          }
          if (!sent) return;
        }
      };
      for (const server of servers) server.join([], 0);
      for (const server of servers) server.serverAnnounced(chosen, 1);
      deliver(1);
      expect(new Set(servers.map((server) => server.stats().serverPeers))).toEqual(new Set([29]));
      // Each hears the estimate in turn, the detaches of those before it delivered.
      for (const server of servers) {
        server.sizeEstimated(400, 2);
        deliver(2);
      }
      expect({ order, servers: servers.filter((server) => server.role === 'server').length }).toEqual({ order, servers: serversKept(400, base) });
    }
  });
});

describe('client-server announcements beside servers of an older version', () => {
  const ids = Array.from({ length: 2_000 }, (_, index) => `n${index}`);
  const withEstimate = (self: string, size: number): ClientServerCore =>
    new ClientServerCore({ self, config: { ...base, role: 'auto' }, random: createSeededRandom(3), estimatedSize: size, requestTimeoutMs: 200, connectTimeoutMs: 1_000 });

  it('a server whose mesh peer before it announces only itself (an older version) announces the mesh itself', () => {
    const [older, newer, third] = [...ids.slice(0, 20)].sort((a, b) => electionPoint(a) - electionPoint(b));
    const server = withEstimate(newer!, 1);
    server.join([], 0);
    for (const peer of [older!, third!]) server.receive(peer, { type: 'cs-attach', epoch: 0, server: true }, 1);
    server.takeEffects();
    const publishes = (now: number): unknown[] => {
      server.tick(now);
      return server.takeEffects().flatMap((effect) => (effect.kind === 'publish' ? [effect.payload] : []));
    };
    // The peer before it announces the mesh: this server does not.
    server.serverAnnounced([older!, newer!, third!], 2, true);
    expect(publishes(base.announceIntervalMs)).toEqual([]);
    // It announces only itself, as servers did before one announced the mesh: nobody else would name this mesh.
    server.serverAnnounced([older!], base.announceIntervalMs + 1, false);
    expect(publishes(2 * base.announceIntervalMs)).toEqual([{ server: newer, servers: [newer, older, third] }]);
    // Upgraded, it names the mesh again.
    server.serverAnnounced([older!, newer!, third!], 2 * base.announceIntervalMs + 1, true);
    expect(publishes(3 * base.announceIntervalMs)).toEqual([]);
    // Heard as an older version once more, then restarted (its link failed, and it meshes again):
    // it is left to announce, as a newer version would.
    server.serverAnnounced([older!], 3 * base.announceIntervalMs + 1, false);
    server.peerDown(older!, 3 * base.announceIntervalMs + 2);
    server.receive(older!, { type: 'cs-attach', epoch: 0, server: true }, 3 * base.announceIntervalMs + 3);
    server.takeEffects();
    expect(publishes(4 * base.announceIntervalMs)).toEqual([]);
  });
});
