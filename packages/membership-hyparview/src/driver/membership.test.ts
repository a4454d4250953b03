// The driver's API and its failure detection, hostile-input handling and port shapes, on
// testkit's simulated network and clock.
import { describe, expect, it } from '@jest/globals';
import { FoundationError } from '@foundation/core';
import { countTimers, createSimulation, seedFromEnvironment } from '@foundation/testkit';
import type { SimTransport, Simulation } from '@foundation/testkit';
import { simulationConfig } from '../internal/sim-cluster';
import { createMembership } from './membership';
import type { Membership, MembershipOptions } from './membership';

const seed = Number(seedFromEnvironment(4_242));

interface Node {
  readonly id: string;
  membership: Membership;
  transport: SimTransport;
}

/**
 * A small cluster with heartbeats on (the transport's own failure detection is slowed down to
 * 20 s). `wrap` gives each membership its transport through a wrapper (to watch what it sends).
 */
function cluster(simulation: Simulation, count: number, overrides: Partial<MembershipOptions> = {}, wrap = (transport: SimTransport): SimTransport => transport): Node[] {
  const nodes: Node[] = [];
  for (let index = 0; index < count; index += 1) {
    const id = `n${index}`;
    simulation.addNode(id, {
      start: ({ clock, random, transport }) => {
        const membership = createMembership({
          nodeId: id,
          transport: wrap(transport),
          clock,
          random,
          seeds: index === 0 ? [] : ['n0'],
          topology: 'hyparview',
          config: {
            ...simulationConfig(1_000),
            failureDetection: { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 1_000, phiThreshold: 8, phiWindow: 50, phiMinStdDeviationMs: 10, phiAcceptablePauseMs: 0 },
          },
          ...overrides,
        });
        nodes[index] = { id, membership, transport };
        clock.setTimer(index * 5, () => {
          membership.join().catch(() => undefined);
        });
      },
    });
  }
  return nodes;
}

describe('connections made before join()', () => {
  // Found by seed 20 of the client-server merge test: a peer connected to this node's transport
  // before its membership joined (the transport runs from the start; the membership subscribes
  // to its events at join). The driver never heard that peer-up, counted the peer unconnected,
  // and gave up the link the peer then made over that connection as one-sided, 2.8 s later: the
  // node was cut off until it linked again.
  it('a peer already connected when the membership joins counts as connected: its link is kept', () => {
    const simulation = createSimulation({ seed });
    const left: string[] = [];
    const nodes: Membership[] = [];
    for (const [index, id] of ['a', 'b'].entries()) {
      simulation.addNode(id, {
        start: ({ clock, random, transport }) => {
          const membership = createMembership({ nodeId: id, transport, clock, random, seeds: index === 0 ? [] : ['a'], topology: 'hyparview', config: simulationConfig(1_000) });
          nodes[index] = membership;
          membership.on('member-leave', (peer, reason) => left.push(`${id} lost ${peer} (${String(reason)})`));
          // `b`'s transport connects to `a` before `a` joins.
          if (index === 1) transport.connect('a');
          clock.setTimer(index === 0 ? 100 : 200, () => {
            membership.join().catch(() => undefined);
          });
        },
      });
    }
    simulation.runFor(10_000);
    expect({ left, a: nodes[0]!.activeView(), b: nodes[1]!.activeView() }).toEqual({ left: [], a: ['b'], b: ['a'] });
  });

  it('a connection made before join() that serves no link is closed after the linger time, as a one-off one is', () => {
    // `c`'s transport connects to `a` (its seed) and `x` (a node that runs no membership) before
    // `c` joins. Its join goes over the connection it has, so no connection comes up later that
    // would start the collection, and the one to `x` stayed open for good.
    const simulation = createSimulation({ seed });
    const transports = new Map<string, SimTransport>();
    for (const id of ['x', 'a', 'c']) {
      simulation.addNode(id, {
        start: ({ clock, random, transport }) => {
          transports.set(id, transport);
          if (id === 'x') return;
          const membership = createMembership({ nodeId: id, transport, clock, random, seeds: id === 'a' ? [] : ['a'], topology: 'hyparview', config: simulationConfig(1_000) });
          if (id === 'c') {
            transport.connect('a');
            transport.connect('x');
          }
          clock.setTimer(id === 'a' ? 0 : 200, () => {
            membership.join().catch(() => undefined);
          });
        },
      });
    }
    simulation.runFor(1_000);
    expect(transports.get('c')!.peers().sort()).toEqual(['a', 'x']);
    simulation.runFor(30_000);
    expect(transports.get('c')!.peers()).toEqual(['a']);
  });

  it('a connection that came up while the seeds were resolving and serves no link is closed after the linger time', async () => {
    // As above, but `c`'s connections come up after join(), while its seed provider has not
    // answered yet: their peer-ups arrive before the node runs. The provider answers in a
    // promise, whose callbacks run once the simulation hands back control.
    const simulation = createSimulation({ seed });
    const transports = new Map<string, SimTransport>();
    for (const id of ['x', 'a', 'c']) {
      simulation.addNode(id, {
        start: ({ clock, random, transport }) => {
          transports.set(id, transport);
          if (id === 'x') return;
          const seeds = id === 'a' ? [] : { name: 'slow', resolve: () => new Promise<readonly string[]>((resolve) => clock.setTimer(300, () => resolve(['a']))) };
          const membership = createMembership({ nodeId: id, transport, clock, random, seeds, topology: 'hyparview', config: simulationConfig(1_000) });
          clock.setTimer(id === 'a' ? 0 : 200, () => {
            membership.join().catch(() => undefined);
            if (id === 'c') {
              clock.setTimer(50, () => {
                transport.connect('a');
                transport.connect('x');
              });
            }
          });
        },
      });
    }
    simulation.runFor(1_000);
    expect(transports.get('c')!.peers().sort()).toEqual(['a', 'x']);
    for (let turn = 0; turn < 5; turn += 1) await Promise.resolve();
    simulation.runFor(30_000);
    expect(transports.get('c')!.peers()).toEqual(['a']);
  });
});

describe('createMembership', () => {
  it('rejects a node id that differs from the transport\'s, unknown options and bad seeds', () => {
    const simulation = createSimulation({ seed });
    const { transport } = simulation.addNode('a');
    expect(() => createMembership({ nodeId: 'b', transport })).toThrow(/nodeId/);
    expect(() => createMembership({ nodeId: 'a', transport, config: { hyparview: { bogus: 1 } as never } })).toThrow(/not a known option/);
    expect(() => createMembership({ nodeId: 'a', transport, seeds: [1] as never })).toThrow(/seeds/);
  });

  it('refuses an initialView that is not lists of node ids (5901), as it refuses bad seeds', () => {
    const holed = (last: string): unknown[] => {
      const list: unknown[] = [];
      list[1] = last;
      return list;
    };
    // A view remembered on disk comes back as whatever the file held: a string where a list was
    // had each of its characters asked as a neighbour, and a number went to the transport as a peer.
    const simulation = createSimulation({ seed });
    const { transport } = simulation.addNode('a');
    const bad: unknown[] = [
      { active: 'bcd' },
      { passive: [1, 2] },
      { active: ['b', ''] },
      { passive: ['x'.repeat(10_000)] },
      { active: ['b'], trusted: 'yes' },
      null,
      'b,c',
      // An array with a hole (every() skips holes): restore() took the hole for a peer.
      { passive: holed('b') },
    ];
    for (const initialView of bad) {
      let caught: unknown;
      try {
        createMembership({ nodeId: 'a', transport, initialView: initialView as never });
      } catch (error) {
        caught = error;
      }
      expect({ initialView, code: FoundationError.is(caught) ? caught.code : caught, field: (caught as { field?: unknown } | undefined)?.field }).toEqual({ initialView, code: 5901, field: 'initialView' });
    }
    expect(() => createMembership({ nodeId: 'a', transport, initialView: { active: ['b'], passive: ['c', 'd'], trusted: false } })).not.toThrow();
    expect(() => createMembership({ nodeId: 'a', transport, initialView: {} })).not.toThrow();
  });

  it('join() resolves at once for the first node, and rejects with JoinTimeoutError (5903) when no seed answers', async () => {
    const simulation = createSimulation({ seed });
    const first = simulation.addNode('first').transport;
    simulation.addNode('lonely');
    const alone = createMembership({ nodeId: 'first', transport: first, clock: simulation.clock, random: simulation.random, topology: 'hyparview' });
    await expect(alone.join()).resolves.toBeUndefined();
    const lonely = createMembership({
      nodeId: 'lonely',
      transport: simulation.node('lonely').transport,
      clock: simulation.clock,
      random: simulation.random,
      seeds: ['ghost'],
      topology: 'hyparview',
      config: { ...simulationConfig(), joinTimeoutMs: 2_000 },
    });
    simulation.addNode('ghost').crash();
    const outcome = lonely.join().then(
      () => 'joined',
      (error: unknown) => error,
    );
    await simulation.runForAsync(2_500);
    const error = await outcome;
    expect(FoundationError.hasType(error, 5903)).toBe(true);
    // leave() waits (on the membership's clock) for goodbyes to go out.
    const left = lonely.leave();
    await simulation.runForAsync(500);
    await left;
  });

  it(`join() called again while the seeds are still being resolved waits like the first call for a neighbour (seed=${seed})`, async () => {
    const simulation = createSimulation({ seed });
    simulation.addNode('a');
    const { transport } = simulation.addNode('b');
    const first = createMembership({ nodeId: 'a', transport: simulation.node('a').transport, clock: simulation.clock, random: simulation.random, topology: 'hyparview', config: simulationConfig() });
    await first.join();
    // A seed provider that answers late, as DNS does.
    let answer: (seeds: string[]) => void = () => undefined;
    const slow = { name: 'slow', resolve: () => new Promise<string[]>((resolve) => (answer = resolve)) };
    const membership = createMembership({ nodeId: 'b', transport, clock: simulation.clock, random: simulation.random, topology: 'hyparview', config: simulationConfig(), seeds: slow });
    const joined: string[][] = [];
    const track = (promise: Promise<void>): void => {
      promise.then(
        () => joined.push(membership.members()),
        () => undefined,
      );
    };
    track(membership.join());
    track(membership.join());
    await simulation.runForAsync(100);
    // Neither call may resolve as if this node were the first: it has seeds, just not yet.
    expect(joined).toEqual([]);
    answer(['a']);
    await simulation.runForAsync(1_000);
    expect(joined).toEqual([['a'], ['a']]);
  });

  it(`a seed provider that never answers counts as failed after a while: the node starts, reports it and resolves again; leave() leaves no timer (seed=${seed})`, async () => {
    // A provider whose promise never settled (a fetch without a timeout, a custom resolver that
    // hangs) held the node in 'joining' for good: join() timed out, the node never started and
    // never asked the provider again. A refresh that hung likewise stopped every later one.
    const simulation = createSimulation({ seed });
    const first = createMembership({ nodeId: 'a', transport: simulation.addNode('a').transport, clock: simulation.clock, random: simulation.random.fork('a'), topology: 'hyparview', config: simulationConfig() });
    await first.join();
    let calls = 0;
    const flaky = {
      name: 'flaky',
      // The first and the third answer never come.
      resolve: (): Promise<string[]> => {
        calls += 1;
        return calls === 1 || calls === 3 ? new Promise<string[]>(() => undefined) : Promise.resolve(['a']);
      },
    };
    const { clock, pending } = countTimers(simulation.clock);
    const membership = createMembership({ nodeId: 'b', transport: simulation.addNode('b').transport, clock, random: simulation.random.fork('b'), topology: 'hyparview', config: simulationConfig(), seeds: flaky });
    const errors: unknown[] = [];
    membership.on('seed-error', (error) => errors.push(error));
    const joined = membership.join().then(
      () => 'joined',
      (error: unknown) => error,
    );
    await simulation.runForAsync(10_000);
    expect(await joined).toBe('joined');
    expect(membership.members()).toEqual(['a']);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors.every((error) => FoundationError.hasType(error, 5904))).toBe(true);
    expect(calls).toBeGreaterThan(5);
    // Left while a resolution hangs: its timeout is cancelled with the rest.
    calls = 2;
    await simulation.runForAsync(1_000);
    expect(calls).toBe(3);
    const left = membership.leave();
    // Only the wait for the goodbyes.
    expect(pending('one-shot')).toBe(1);
    await simulation.runForAsync(1_000);
    await left;
    expect(pending('one-shot')).toBe(0);
  });

  it(`a seed provider slower than its bound but healthy is still heard: join() waits for its late answer and the node joins the cluster (seed=${seed})`, async () => {
    // The bound on a resolution (seedRefreshMs, 1 s with the local preset) is shorter than a DNS
    // query retried after a lost packet (2 s). Its late answer was ignored, every one: join()
    // resolved at the bound as if the node were the first, and it ran alone for good.
    const simulation = createSimulation({ seed });
    const first = createMembership({ nodeId: 'a', transport: simulation.addNode('a').transport, clock: simulation.clock, random: simulation.random.fork('a'), topology: 'hyparview', config: simulationConfig() });
    await first.join();
    const slow = {
      name: 'slow',
      resolve: (): Promise<string[]> => new Promise<string[]>((resolve) => simulation.clock.setTimer(1_500, () => resolve(['a']))),
    };
    const membership = createMembership({ nodeId: 'b', transport: simulation.addNode('b').transport, clock: simulation.clock, random: simulation.random.fork('b'), topology: 'hyparview', config: simulationConfig(), seeds: slow });
    const errors: unknown[] = [];
    membership.on('seed-error', (error) => errors.push(error));
    let joinedAt: number | undefined;
    const joined = membership.join().then(() => {
      joinedAt = simulation.clock.monotonic();
    });
    await simulation.runForAsync(10_000);
    await joined;
    expect(joinedAt).toBeGreaterThanOrEqual(1_500);
    expect(membership.members()).toEqual(['a']);
    expect(first.members()).toEqual(['b']);
    expect(errors.every((error) => FoundationError.hasType(error, 5904))).toBe(true);
    const left = Promise.all([membership.leave(), first.leave()]);
    await simulation.runForAsync(1_000);
    await left;
  });

  it('broadcast() checks topics and sizes; a stopped membership refuses (publish returns false)', async () => {
    const simulation = createSimulation({ seed });
    const { transport } = simulation.addNode('a');
    const membership = createMembership({ nodeId: 'a', transport, clock: simulation.clock, random: simulation.random, config: { plumtree: { maxPayloadBytes: 16 } } });
    await membership.join();
    expect(() => membership.broadcast('', 'x')).toThrow(expect.objectContaining({ code: 5906 }));
    expect(() => membership.broadcast('$topology', 'x')).toThrow(/reserved/);
    expect(() => membership.subscribe('$servers', () => undefined)).toThrow(/reserved/);
    expect(() => membership.broadcast('t', new Uint8Array(17))).toThrow(expect.objectContaining({ code: 5905 }));
    expect(typeof membership.broadcast('t', new Uint8Array(16))).toBe('string');
    const left = membership.leave();
    await simulation.runForAsync(500);
    await left;
    expect(membership.publish('t', new Uint8Array(1))).toBe(false);
    expect(() => membership.broadcast('t', 'x')).toThrow(expect.objectContaining({ code: 5902 }));
  });
});

describe('failure detection', () => {
  it(`heartbeats find a neighbour that went silent (cut off, not crashed): member-suspect first, then member-leave "failed" (seed=${seed})`, () => {
    const simulation = createSimulation({ seed, network: { latency: { min: 1, max: 3 }, failureDetectionMs: 20_000 } });
    const nodes = cluster(simulation, 6);
    simulation.runFor(2_000);
    const watcher = nodes.find((node) => node.membership.members().includes('n5') && node.id !== 'n5')!;
    expect(watcher).toBeDefined();
    const suspected: [string, number][] = [];
    const left: [string, string][] = [];
    watcher.membership.on('member-suspect', (member, phi) => suspected.push([member, phi]));
    watcher.membership.on('member-leave', (member, reason) => left.push([member, reason]));
    simulation.network.isolate('n5');
    const cutAt = simulation.now();
    simulation.runUntil(() => left.some(([member]) => member === 'n5'), { maxTime: 3_000 });
    const suspicion = suspected.find(([member]) => member === 'n5');
    expect(suspicion).toBeDefined();
    expect(suspicion![1]).toBeGreaterThanOrEqual(8);
    expect(left).toContainEqual(['n5', 'failed']);
    // Found by the heartbeat timeout (1 s), long before the transport's 20 s.
    expect(simulation.now() - cutAt).toBeLessThan(1_600);
    expect(watcher.membership.members()).not.toContain('n5');
    expect(watcher.membership.stats().driver.heartbeatTimeouts).toBeGreaterThanOrEqual(1);
    // Round trips were measured from the echoed heartbeats.
    expect(watcher.membership.health().latencyMs).toBeGreaterThan(0);
  });

  it(`the transport's peer-down ends a link at once (seed=${seed})`, () => {
    const simulation = createSimulation({ seed, network: { latency: { min: 1, max: 3 }, failureDetectionMs: 200 } });
    const nodes = cluster(simulation, 6, { config: { ...simulationConfig(1_000) } });
    simulation.runFor(2_000);
    const victim = nodes[3]!;
    const neighbours = nodes.filter((node) => node.membership.members().includes(victim.id));
    expect(neighbours.length).toBeGreaterThan(0);
    simulation.crash(victim.id);
    simulation.runFor(400);
    for (const node of neighbours) expect(node.membership.members()).not.toContain(victim.id);
  });
});

describe('hostile peers through the driver', () => {
  it(`garbage and unknown message types are dropped and counted; views stay bounded under a JOIN flood (seed=${seed})`, () => {
    const simulation = createSimulation({ seed });
    const nodes = cluster(simulation, 4);
    const attacker = simulation.addNode('attacker').transport;
    simulation.runFor(1_000);
    const target = nodes[0]!.membership;
    const garbage: unknown[] = [null, 42, 'join', [], { type: 'teleport' }, { type: 'shuffle', epoch: 0, origin: 'x', ttl: 'six', nodes: [] }, { type: 'neighbor', epoch: 0, priority: 'urgent' }];
    for (const payload of garbage) attacker.send('n0', 'coordination', payload);
    for (const payload of garbage) attacker.send('n0', 'gossip', payload);
    // A flood of JOINs under many identities and of oversized shuffles.
    for (let index = 0; index < 200; index += 1) attacker.send('n0', 'coordination', { type: 'join', epoch: 0 });
    attacker.send('n0', 'coordination', { type: 'shuffle', epoch: 0, origin: 'attacker', ttl: 1, nodes: Array.from({ length: 5_000 }, (_, index) => `fake${index}`) });
    simulation.runFor(1_000);
    const stats = target.stats();
    expect(stats.decode.malformed).toBeGreaterThanOrEqual(10);
    // "teleport" on both channels, and membership messages sent on the broadcast channel.
    expect(stats.decode.unknownType).toBe(4);
    expect(stats.decode.truncated).toBe(1);
    expect(stats.service.joinsRateLimited).toBeGreaterThanOrEqual(190);
    expect(target.activeView().length).toBeLessThanOrEqual(5);
    expect(target.passiveView().length).toBeLessThanOrEqual(30);
    expect(target.passiveView().filter((peer) => peer.startsWith('fake')).length).toBeLessThanOrEqual(8);
  });
});

describe('hostile broadcasts through the driver', () => {
  it(`a GOSSIP whose payload exceeds maxPayloadBytes is dropped and counted, neither delivered, stored nor passed on (seed=${seed})`, async () => {
    const simulation = createSimulation({ seed });
    const { transport } = simulation.addNode('a');
    const sender = simulation.addNode('sender').transport;
    const membership = createMembership({ nodeId: 'a', transport, clock: simulation.clock, random: simulation.random, config: { plumtree: { maxPayloadBytes: 16 } } });
    await membership.join();
    const received: unknown[] = [];
    membership.subscribe('t', ({ payload }) => received.push(payload));
    sender.send('a', 'gossip', { type: 'gossip', id: 'big', topic: 't', origin: 'sender', round: 1, payload: new Uint8Array(1_024) });
    sender.send('a', 'gossip', { type: 'gossip', id: 'small', topic: 't', origin: 'sender', round: 1, payload: new Uint8Array(16) });
    simulation.runFor(100);
    expect(received).toEqual([new Uint8Array(16)]);
    const stats = membership.stats();
    expect(stats.decode.malformed).toBe(1);
    expect(stats.plumtree.storedMessages).toBe(1);
  });
});

describe('hostile server announcements', () => {
  it(`a $servers announcement counts for the servers it names only when it names its origin first, and a list longer than a mesh, or one with anything but node ids, counts for the origin alone (seed=${seed})`, async () => {
    const simulation = createSimulation({ seed });
    const { transport } = simulation.addNode('a');
    const sender = simulation.addNode('sender').transport;
    // Named servers exist but never answer, so an attachment to one waits out its timeout.
    for (const id of ['s2', 's3', 's4']) simulation.addNode(id);
    const membership = createMembership({ nodeId: 'a', transport, clock: simulation.clock, random: simulation.random, topology: 'client-server', config: { clientServer: { role: 'client' } } });
    await membership.join();
    const known = (): number => membership.stats().service.knownServers ?? 0;
    let round = 0;
    const announce = (payload: unknown): number => {
      round += 1;
      sender.send('a', 'gossip', { type: 'gossip', id: `announce-${round}`, topic: '$servers', origin: 'sender', round: 1, payload });
      simulation.runFor(20);
      return known();
    };
    // Someone else's announcement, relayed under another origin: nothing.
    expect(announce({ server: 's2', servers: ['s2'] })).toBe(0);
    // Too long for any mesh (2 × maxServers + 1), or not all ids: the origin only.
    expect(announce({ server: 'sender', servers: ['sender', ...Array.from({ length: 200 }, (_, index) => `fake${index}`)] })).toBe(1);
    expect(announce({ server: 'sender', servers: ['sender', 's2', 42] })).toBe(1);
    // A list with a hole (a transport that clones structurally keeps holes; every() skips them): the origin only, not a server named undefined.
    const holed: unknown[] = ['sender'];
    holed[2] = 's2';
    expect(announce({ server: 'sender', servers: holed })).toBe(1);
    // The origin and its mesh.
    expect(announce({ server: 'sender', servers: ['sender', 's2', 's3', 's4'] })).toBe(4);
  });
});

describe('client-server after a switch away and back', () => {
  it(`the answer to a hello of the client-server service of an older epoch, still retiring, reaches the current client-server service too, which attaches to the server it names (seed=${seed})`, () => {
    // It went to the retiring service alone, which attached at its old epoch, and the current
    // one, with no server yet, learnt nothing from it.
    const simulation = createSimulation({ seed });
    const { transport } = simulation.addNode('a');
    const server = simulation.addNode('s').transport;
    const heard: { type?: unknown; epoch?: unknown }[] = [];
    server.onMessage('coordination', ({ payload }) => heard.push(payload as { type?: unknown; epoch?: unknown }));
    const membership = createMembership({ nodeId: 'a', transport, clock: simulation.clock, random: simulation.random, seeds: ['s'], topology: 'client-server', config: { clientServer: { role: 'client' } } });
    membership.join().catch(() => undefined);
    simulation.runFor(50);
    expect(heard).toContainEqual({ type: 'cs-hello', epoch: 0 });
    membership.setTopology('hyparview');
    membership.setTopology('client-server');
    expect(membership.topology().epoch).toBe(2);
    simulation.runFor(50);
    heard.length = 0;
    server.send('a', 'coordination', { type: 'cs-servers', epoch: 0, servers: ['s'] });
    simulation.runFor(50);
    expect(heard.filter((message) => message.type === 'cs-attach')).toContainEqual({ type: 'cs-attach', epoch: 2, server: false });
  });
});

describe('the ports other packages declare', () => {
  it('Membership satisfies a Broadcast port (publish bytes / subscribe) and a MembershipEvents port as registry and events declare them', async () => {
    // The shapes, as a consumer package declares them in its own src/ (structural typing).
    interface BroadcastPort {
      readonly nodeId: string;
      publish(topic: string, payload: Uint8Array): boolean;
      subscribe(topic: string, handler: (message: { readonly from: string; readonly payload: unknown }) => void): () => void;
    }
    interface MembershipEventsPort {
      members(): readonly string[];
      on(event: 'member-join' | 'member-leave', handler: (node: string, reason?: 'failed' | 'left' | 'disconnected') => void): () => void;
    }
    const simulation = createSimulation({ seed });
    const nodes = cluster(simulation, 3, { config: { ...simulationConfig(1_000) } });
    simulation.runFor(1_000);
    const broadcast: BroadcastPort = nodes[0]!.membership;
    const events: MembershipEventsPort = nodes[2]!.membership;
    const received: [string, unknown][] = [];
    const unsubscribe = (nodes[1]!.membership as BroadcastPort).subscribe('orders', ({ from, payload }) => received.push([from, payload]));
    const joined: string[] = [];
    events.on('member-join', (member) => joined.push(member));
    expect(broadcast.publish('orders', new Uint8Array([1, 2, 3]))).toBe(true);
    simulation.runFor(500);
    expect(received).toEqual([['n0', new Uint8Array([1, 2, 3])]]);
    unsubscribe();
    broadcast.publish('orders', new Uint8Array([4]));
    simulation.runFor(500);
    expect(received).toHaveLength(1);
    expect(events.members().length).toBeGreaterThan(0);
    expect(joined).toEqual([]);
    await Promise.resolve();
  });
});

describe('handlers changed during delivery', () => {
  // A subscriber or listener that unsubscribes and subscribes itself again while it is called
  // (to move to another handler, or to renew itself) was called again for the same message,
  // and again, for ever: the driver looped over a Set that the handler kept adding to. Each is
  // capped here at 10 calls so that the test fails instead of hanging.
  it(`a subscriber or listener that resubscribes itself during delivery is called once per message, and one added during delivery not for that message (seed=${seed})`, () => {
    const simulation = createSimulation({ seed });
    const nodes = cluster(simulation, 2);
    const [a, b] = nodes.map((node) => node.membership) as [Membership, Membership];
    let deliveries = 0;
    let stopDelivery = (): void => undefined;
    const renewing = (): void => {
      deliveries += 1;
      if (deliveries > 10) return;
      stopDelivery();
      stopDelivery = b.subscribe('orders', renewing);
    };
    stopDelivery = b.subscribe('orders', renewing);
    // Another subscriber keeps the topic's set alive while the first one leaves it.
    const other: string[] = [];
    b.subscribe('orders', (message) => other.push(String(message.payload)));
    let joins = 0;
    let stopListening = (): void => undefined;
    const listening = (): void => {
      joins += 1;
      if (joins > 10) return;
      stopListening();
      stopListening = b.on('member-join', listening);
    };
    stopListening = b.on('member-join', listening);
    simulation.runFor(2_000);
    expect(joins).toBe(1);
    a.broadcast('orders', 'first');
    simulation.runFor(500);
    expect({ deliveries, other }).toEqual({ deliveries: 1, other: ['first'] });
  });
});

describe('connections', () => {
  /**
   * The transport as the membership sees it, recording which peers it was last asked to keep a
   * connection to. `@foundation/channels` redials a peer passed to `connect` with backoff until
   * `disconnect` is called for it, so a peer left in `wanted` is dialled for as long as the
   * process lives.
   */
  function recordingTransport(transport: SimTransport): { transport: SimTransport; wanted: Set<string> } {
    const wanted = new Set<string>();
    return {
      wanted,
      transport: {
        nodeId: transport.nodeId,
        send: (peer, channel, payload, options) => transport.send(peer, channel, payload, options),
        onMessage: (channel, handler) => transport.onMessage(channel, handler),
        on: (event, handler) => transport.on(event, handler),
        connect: (peer) => {
          wanted.add(peer);
          transport.connect(peer);
        },
        disconnect: (peer) => {
          wanted.delete(peer);
          transport.disconnect(peer);
        },
        peers: () => transport.peers(),
      },
    };
  }

  /** A transport that, as @foundation/channels does, sends only over an established connection. */
  function needsConnection(transport: SimTransport): SimTransport {
    return { ...transport, nodeId: transport.nodeId, send: (peer, channel, payload, options) => transport.peers().includes(peer) && transport.send(peer, channel, payload, options) };
  }

  it(`a connection opened for a one-off exchange is closed after connectionLingerMs, even in a cluster whose links do not change (seed=${seed})`, () => {
    const simulation = createSimulation({ seed, network: { latency: { min: 1, max: 3 } } });
    const memberships = new Map<string, Membership>();
    for (let index = 0; index < 3; index += 1) {
      const id = `n${index}`;
      simulation.addNode(id, {
        start: ({ clock, random, transport }) => {
          const membership = createMembership({ nodeId: id, transport: needsConnection(transport), clock, random, seeds: index === 0 ? [] : ['n0'], topology: 'hyparview', config: simulationConfig(1_000) });
          memberships.set(id, membership);
          clock.setTimer(index * 5, () => {
            membership.join().catch(() => undefined);
          });
        },
      });
    }
    const stray = simulation.addNode('stray').transport;
    const answers: unknown[] = [];
    stray.onMessage('coordination', ({ payload }) => answers.push(payload));
    simulation.runFor(5_000);
    const n0 = simulation.node('n0').transport;
    expect([...n0.peers()].sort()).toEqual(['n1', 'n2']);
    // A heartbeat from a node that is no neighbour is answered with DISCONNECT, over a connection
    // n0 opens for it (the stray node sends without one: it is the simulation's raw transport).
    stray.send('n0', 'coordination', { type: 'heartbeat', sentAt: 1 });
    simulation.runFor(100);
    expect(answers).toEqual([expect.objectContaining({ type: 'disconnect', alive: true })]);
    expect(n0.peers()).toContain('stray');
    // connectionLingerMs is 1 s in this configuration.
    simulation.runFor(5_000);
    expect(n0.peers()).not.toContain('stray');
    expect(memberships.get('n0')!.stats().driver.connectionsClosed).toBe(1);
    expect([...n0.peers()].sort()).toEqual(['n1', 'n2']);
  });

  it(`a JOIN waits for a slow connection to its seed (up to connectTimeoutMs) instead of timing out and being sent again (seed=${seed})`, () => {
    const simulation = createSimulation({ seed, network: { latency: { min: 1, max: 3 } } });
    const config = simulationConfig(1_000);
    expect([config.hyparview.neighborRequestTimeoutMs, config.hyparview.joinRetryMs, config.hyparview.connectTimeoutMs]).toEqual([400, 400, 2_000]);
    // Connections take 1.5 s to come up (a loaded seed), and nothing is sent without one.
    const nodes = cluster(simulation, 2, { config }, (transport) => ({
      ...needsConnection(transport),
      nodeId: transport.nodeId,
      connect: (peer) => {
        simulation.schedule(1_500, () => transport.connect(peer));
      },
    }));
    const joiner = nodes[1]!.membership;
    simulation.runFor(1_400);
    expect(joiner.activeView()).toEqual([]);
    simulation.runFor(600);
    expect(joiner.activeView()).toEqual(['n0']);
    // One JOIN: it waited for the connection. Before, it timed out after 400 ms and was sent
    // again every 400 ms, and the copies queued behind the same dial.
    expect([joiner.stats().service.rejoins, joiner.stats().service.promotionsTimedOut]).toEqual([0, 0]);
  });

  it(`a full mesh's contact waits for a slow connection too, instead of timing out, tombstoning the seed and calling it again (seed=${seed})`, () => {
    const simulation = createSimulation({ seed, network: { latency: { min: 1, max: 3 } } });
    const config = simulationConfig(1_000);
    expect([config.hyparview.neighborRequestTimeoutMs, config.hyparview.connectTimeoutMs]).toEqual([400, 2_000]);
    let meshJoins = 0;
    const nodes = cluster(simulation, 2, { config, topology: 'full-mesh' }, (transport) => ({
      ...needsConnection(transport),
      nodeId: transport.nodeId,
      send: (peer, channel, payload, options) => {
        if (!transport.peers().includes(peer)) return false;
        if ((payload as { type?: unknown }).type === 'mesh-join' && transport.nodeId === 'n1') meshJoins += 1;
        return transport.send(peer, channel, payload, options);
      },
      connect: (peer) => {
        simulation.schedule(1_500, () => transport.connect(peer));
      },
    }));
    const joiner = nodes[1]!.membership;
    simulation.runFor(2_000);
    expect(joiner.members()).toEqual(['n0']);
    // Before, the contact timed out after 400 ms, tombstoning n0, and a node with no member
    // called its seeds again every 400 ms: more mesh-joins queued behind the same dial.
    expect([joiner.stats().service.contactsTimedOut, meshJoins]).toEqual([0, 1]);
  });

  it(`a pinned topology estimates the size once per seed-rejoin interval, not per sizeEstimateIntervalMs (seed=${seed})`, () => {
    const simulation = createSimulation({ seed, network: { latency: { min: 1, max: 3 } } });
    const config = simulationConfig(1_000);
    expect([config.topology.sizeEstimateIntervalMs, config.seedRejoinIntervalMs]).toEqual([2_000, 10_000]);
    const rounds = new Set<number>();
    let sizeMessages = 0;
    cluster(simulation, 12, { config }, (transport) => ({
      ...transport,
      send: (to, channel, payload, options) => {
        const message = payload as { type?: unknown; round?: unknown };
        if (message.type === 'size' && simulation.now() >= 10_000) {
          sizeMessages += 1;
          rounds.add(message.round as number);
        }
        return transport.send(to, channel, payload, options);
      },
    }));
    simulation.runFor(50_000);
    // 40 s: about one round per 10 s interval (a node starts one unless one began within 9 s),
    // so 4 or 5 here. Rounds every sizeEstimateIntervalMs gave 38, and skipping only rounds begun
    // within half an interval gave 6 to 8. But rounds all the same.
    expect(rounds.size).toBeGreaterThanOrEqual(2);
    expect(rounds.size).toBeLessThanOrEqual(5);
    expect(sizeMessages).toBeGreaterThan(0);
  });

  it(`a neighbour whose figure for the size round lacks this node's minima is sent them, though they did not change (seed=${seed})`, () => {
    // Minima went out only when they changed, so a node that began on its own the round number
    // its neighbours had already spread (back from being cut off) kept a figure of about 1, and
    // decided a switch for the whole cluster on it.
    const simulation = createSimulation({ seed, network: { latency: { min: 1, max: 3 } } });
    const config = simulationConfig(1_000);
    const sent: { from: string; to: string; at: number; round: number; values: readonly number[] }[] = [];
    const nodes = cluster(simulation, 8, { config }, (transport) => ({
      ...transport,
      send: (to, channel, payload, options) => {
        const message = payload as { type?: unknown; round?: unknown; values?: unknown };
        if (message.type === 'size') sent.push({ from: transport.nodeId, to, at: simulation.now(), round: message.round as number, values: message.values as number[] });
        return transport.send(to, channel, payload, options);
      },
    }));
    simulation.runFor(12_000);
    // Until n0 has passed on the newest round any node sent and then sent nothing for a second
    // (a batch goes out every twentieth of the interval while minima change). Waiting a fixed
    // second after n0's first message, the test injected just after a neighbour's new round had
    // reached n0 (seed 5), and n0's answer was the batch already due for it, past the window below.
    const settled = (): boolean => {
      const fromN0 = sent.filter((message) => message.from === 'n0');
      const newest = Math.max(...sent.map((message) => message.round));
      return fromN0.length > 0 && fromN0.at(-1)!.round === newest && simulation.now() - fromN0.at(-1)!.at >= 1_000;
    };
    while (!settled()) simulation.runFor(100);
    const round = sent.filter((message) => message.from === 'n0').at(-1)!.round;
    const neighbour = nodes.find((node) => node.id !== 'n0' && nodes[0]!.membership.activeView().includes(node.id))!;
    const injectedAt = simulation.now();
    neighbour.transport.send('n0', config.membershipChannel, { type: 'size', round, values: Array.from({ length: config.topology.sizeEstimateSamples }, () => 1e9) });
    simulation.runFor(100);
    const answers = sent.filter((message) => message.from === 'n0' && message.to === neighbour.id && message.at >= injectedAt);
    expect(answers.map((answer) => ({ round: answer.round, lacking: answer.values.filter((value) => value >= 1e9).length }))).toEqual([{ round, lacking: 0 }]);
  });

  it(`a size round or topology epoch at the top of the range does not wedge the cluster (review finding, seed=${seed})`, () => {
    // Compared as plain integers, 2^31 - 1 (the decoder's largest) was adopted everywhere and the
    // next round or epoch, above the range, refused everywhere: estimates collapsed to 1, and the
    // node that proposed the next switch cut itself off. They are serial numbers now.
    const simulation = createSimulation({ seed, network: { latency: { min: 1, max: 3 } } });
    const config = simulationConfig(1_000);
    const nodes = cluster(simulation, 6, { config });
    simulation.addNode('evil');
    simulation.runFor(20_000);
    const evil = simulation.node('evil').transport;
    evil.send('n0', config.membershipChannel, { type: 'size', round: 2 ** 31 - 1, values: Array.from({ length: config.topology.sizeEstimateSamples }, () => 1e-9) });
    evil.send('n0', config.membershipChannel, { type: 'topology', epoch: 2 ** 31 - 1, mode: 'hyparview', pinned: true });
    simulation.runFor(30_000);
    for (const node of nodes) expect(node.membership.topology().estimatedSize).toBeGreaterThanOrEqual(3);
    nodes[1]!.membership.setTopology('full-mesh');
    simulation.runFor(10_000);
    for (const node of nodes) {
      expect(node.membership.topology().mode).toBe('full-mesh');
      expect(node.membership.members()).toHaveLength(5);
    }
  });

  it(`a neighbour that failed (peer-down) is no longer dialled: the transport is told to disconnect it (seed=${seed})`, () => {
    const simulation = createSimulation({ seed, network: { latency: { min: 1, max: 3 }, failureDetectionMs: 200 } });
    const wanted = new Map<string, Set<string>>();
    const memberships = new Map<string, Membership>();
    for (let index = 0; index < 6; index += 1) {
      const id = `n${index}`;
      simulation.addNode(id, {
        start: ({ clock, random, transport }) => {
          const recording = recordingTransport(transport);
          wanted.set(id, recording.wanted);
          const membership = createMembership({ nodeId: id, transport: recording.transport, clock, random, seeds: index === 0 ? [] : ['n0'], topology: 'hyparview', config: simulationConfig(1_000) });
          memberships.set(id, membership);
          clock.setTimer(index * 5, () => {
            membership.join().catch(() => undefined);
          });
        },
      });
    }
    simulation.runFor(3_000);
    // n5 has the largest id, so every neighbour of n5 dialled it.
    const dialers = [...memberships].filter(([id, membership]) => id !== 'n5' && membership.members().includes('n5')).map(([id]) => id);
    expect(dialers.length).toBeGreaterThan(0);
    for (const id of dialers) expect(wanted.get(id)!.has('n5')).toBe(true);
    simulation.crash('n5');
    simulation.runFor(5_000);
    for (const id of dialers) {
      expect(memberships.get(id)!.members()).not.toContain('n5');
      expect({ id, dialling: wanted.get(id)!.has('n5') }).toEqual({ id, dialling: false });
    }
  });

  it('leave() stops the transport dialling a neighbour that failed while the goodbyes went out (review finding)', async () => {
    // A peer-down during leave's wait found the node stopped and returned before forgetting the
    // peer; closeAll then missed it (neither connected nor dialling), and the transport kept it.
    const simulation = createSimulation({ seed, network: { latency: { min: 1, max: 3 }, failureDetectionMs: 50 } });
    const wanted = new Map<string, Set<string>>();
    const memberships = new Map<string, Membership>();
    for (const id of ['a', 'b']) {
      simulation.addNode(id, {
        start: ({ clock, random, transport }) => {
          const recording = recordingTransport(transport);
          wanted.set(id, recording.wanted);
          const membership = createMembership({ nodeId: id, transport: recording.transport, clock, random, seeds: id === 'a' ? [] : ['a'], topology: 'hyparview', config: simulationConfig(1_000) });
          memberships.set(id, membership);
          clock.setTimer(id === 'a' ? 0 : 5, () => void membership.join().catch(() => undefined));
        },
      });
    }
    await simulation.runForAsync(1_000);
    expect(memberships.get('a')!.members()).toEqual(['b']);
    expect(wanted.get('a')!.has('b') || wanted.get('b')!.has('a')).toBe(true);
    const dialler = wanted.get('a')!.has('b') ? 'a' : 'b';
    const other = dialler === 'a' ? 'b' : 'a';
    const leaving = memberships.get(dialler)!.leave();
    simulation.crash(other);
    await simulation.runForAsync(1_000);
    await leaving;
    expect(wanted.get(dialler)!.has(other)).toBe(false);
  });

  it('broadcast() from inside a handler returns the id of what it sends, and a second leave() waits like the first (review finding)', async () => {
    const simulation = createSimulation({ seed, network: { latency: { min: 1, max: 3 } } });
    const nodes = cluster(simulation, 2);
    await simulation.runForAsync(1_000);
    const [a, b] = nodes as [Node, Node];
    const ids: string[] = [];
    const pongs: string[] = [];
    b.membership.subscribe('ping', () => ids.push(b.membership.broadcast('pong', 'pong')));
    a.membership.subscribe('pong', (message) => pongs.push(message.id));
    a.membership.broadcast('ping', 'ping');
    await simulation.runForAsync(100);
    expect(ids).toHaveLength(1);
    expect(ids[0]).not.toBe('');
    expect(pongs).toEqual(ids);
    let first = false;
    void a.membership.leave().then(() => (first = true));
    let second = false;
    void a.membership.leave().then(() => (second = true));
    await simulation.runForAsync(0);
    expect(second).toBe(first);
    await simulation.runForAsync(1_000);
    expect(first && second).toBe(true);
  });

  it(`leave() called by a listener while the node leaves gets the same promise and stops nothing twice (seed=${seed})`, async () => {
    // The goodbyes end the links, whose member-leave listeners ran before leave() had kept its
    // promise: a listener calling leave() (a common "shut down when alone" reaction) started a
    // second stop, which disconnected every peer again, and got a promise of its own.
    const simulation = createSimulation({ seed, network: { latency: { min: 1, max: 3 } } });
    const disconnects: string[] = [];
    const nodes = cluster(simulation, 4, {}, (transport) => {
      if (transport.nodeId !== 'n1') return transport;
      const original = transport.disconnect.bind(transport);
      return Object.assign(Object.create(transport) as SimTransport, {
        disconnect: (peer: string) => {
          disconnects.push(peer);
          original(peer);
        },
      });
    });
    await simulation.runForAsync(3_000);
    const node = nodes[1]!.membership;
    const before = disconnects.length;
    const fromListeners: Promise<void>[] = [];
    node.on('member-leave', () => fromListeners.push(node.leave()));
    const leaving = node.leave();
    await simulation.runForAsync(1_000);
    await leaving;
    expect(fromListeners.length).toBeGreaterThan(0);
    expect(fromListeners.every((promise) => promise === leaving)).toBe(true);
    const after = disconnects.slice(before);
    expect(after).toEqual([...new Set(after)]);
  });

  it(`after leave() stats() counts no connection, as the transport has none (seed=${seed})`, async () => {
    // The connections were closed, but the membership had stopped listening for their
    // peer-down first, and went on counting them as connected.
    const simulation = createSimulation({ seed, network: { latency: { min: 1, max: 3 } } });
    const nodes = cluster(simulation, 3);
    await simulation.runForAsync(3_000);
    const node = nodes[1]!;
    expect(node.membership.stats().driver['connected']).toBeGreaterThan(0);
    const leaving = node.membership.leave();
    await simulation.runForAsync(1_000);
    await leaving;
    expect({ transport: node.transport.peers(), counted: node.membership.stats().driver['connected'] }).toEqual({ transport: [], counted: 0 });
  });

  it('sets no timer before the node runs, whatever was broadcast before join (review finding)', () => {
    // A broadcast before join stored a message whose expiry asked for a tick; tick() did nothing
    // before start, and the driver set a 1 ms timer again and again until the node started.
    const simulation = createSimulation({ seed, network: { latency: { min: 1, max: 3 } } });
    let fired = 0;
    simulation.addNode('a', {
      start: ({ clock, random, transport }) => {
        const counting = { ...clock, setTimer: (delayMs: number, callback: () => void) => clock.setTimer(delayMs, () => {
          fired += 1;
          callback();
        }) };
        const membership = createMembership({ nodeId: 'a', transport, clock: counting, random, seeds: [], topology: 'hyparview', config: simulationConfig(1_000) });
        membership.publish('topic', new Uint8Array([1]));
      },
    });
    simulation.runFor(60_000);
    expect(fired).toBe(0);
  });
});

describe('a transport that throws', () => {
  /** A ws:// address that cannot be dialed: @foundation/channels' connect throws for one (ChannelsConfigError). */
  const undialable = (peer: string): boolean => /^wss?:\/\//i.test(peer);

  /**
   * As @foundation/channels behaves towards a peer named by a URL that cannot be dialed: `send`
   * refuses (no link), `connect` throws, `disconnect` does nothing.
   */
  function channelsLike(transport: SimTransport): SimTransport {
    return {
      ...transport,
      nodeId: transport.nodeId,
      send: (peer, channel, payload, options) => !undialable(peer) && transport.send(peer, channel, payload, options),
      connect: (peer) => {
        if (undialable(peer)) throw new TypeError('peer: a ws:// or wss:// URL that cannot be dialed');
        transport.connect(peer);
      },
      disconnect: (peer) => {
        if (!undialable(peer)) transport.disconnect(peer);
      },
    };
  }

  it(`a peer the transport throws for when dialled counts as unreachable: the node carries on, and drops it from its views (review finding, seed=${seed})`, () => {
    // Node ids are any strings, and a member named one in a SHUFFLE: the node promoted it, the
    // dial threw out of the driver's timer (in a real process, an uncaught exception), and every
    // effect after it in that input was lost.
    const simulation = createSimulation({ seed });
    const nodes = cluster(simulation, 4, {}, channelsLike);
    const attacker = simulation.addNode('attacker').transport;
    simulation.runFor(1_000);
    const target = nodes[0]!.membership;
    const bogus = 'ws://[bogus';
    attacker.send('n0', 'coordination', { type: 'shuffle', epoch: 0, origin: 'attacker', ttl: 1, nodes: [bogus] });
    expect(() => simulation.runFor(5_000)).not.toThrow();
    expect(target.stats().driver['connectErrors']).toBeGreaterThan(0);
    expect([...target.activeView(), ...target.passiveView()]).not.toContain(bogus);
    // The overlay is whole: every node still has neighbours, and links are symmetric.
    for (const node of nodes) {
      expect(node.membership.activeView().length).toBeGreaterThan(0);
      for (const peer of node.membership.activeView()) expect(nodes.find((other) => other.id === peer)!.membership.activeView()).toContain(node.id);
    }
  });

  it(`a send the transport throws for is handled as one refused: the peer is dialled, and one the transport cannot reach leaves the views at once (review finding, seed=${seed})`, () => {
    // A member names "ghost", a node the simulated transport does not know (it throws for it from
    // send and from connect). The low-priority NEIGHBOR to it threw and counted as sent: nothing
    // dialled the peer, and the request waited out its timeout (5 s here) for an answer that
    // could not come.
    const simulation = createSimulation({ seed });
    const nodes = cluster(simulation, 2, { config: { ...simulationConfig(1_000), hyparview: { ...simulationConfig(1_000).hyparview, neighborRequestTimeoutMs: 5_000 } } });
    const attacker = simulation.addNode('attacker').transport;
    simulation.runFor(1_000);
    const target = nodes[0]!.membership;
    expect(target.activeView()).toEqual(['n1']);
    attacker.send('n0', 'coordination', { type: 'shuffle', epoch: 0, origin: 'attacker', ttl: 1, nodes: ['ghost'] });
    simulation.runFor(200);
    expect(target.stats().driver['sendErrors']).toBeGreaterThan(0);
    expect({ passive: target.passiveView().includes('ghost'), active: target.activeView() }).toEqual({ passive: false, active: ['n1'] });
  });

  it(`a JOIN to a seed the transport throws for is retried at another seed as soon as the seed proves unreachable, not after the JOIN's timeout (review finding, seed=${seed})`, () => {
    // The simulated transport throws for a node it does not know, from send and from connect, as
    // a transport may for a peer id it cannot use. The JOIN's dial threw out of join(); a send
    // that threw counted as sent, and its JOIN waited out neighborRequestTimeoutMs.
    const simulation = createSimulation({ seed });
    let joiner: Membership | undefined;
    simulation.addNode('a', {
      start: ({ clock, random, transport }) => {
        void createMembership({ nodeId: 'a', transport, clock, random, seeds: [], topology: 'hyparview', config: simulationConfig(1_000) }).join();
      },
    });
    simulation.addNode('b', {
      start: ({ clock, random, transport }) => {
        const config = { ...simulationConfig(1_000), hyparview: { ...simulationConfig(1_000).hyparview, neighborRequestTimeoutMs: 5_000, joinRetryMs: 5_000 } };
        // Eight seeds the transport does not know and one it does: each JOIN to one of the eight waited 5 s.
        const seeds = [...Array.from({ length: 8 }, (_, index) => `nowhere-${index}`), 'a'];
        joiner = createMembership({ nodeId: 'b', transport, clock, random, seeds, topology: 'hyparview', config });
        clock.setTimer(10, () => void joiner!.join().catch(() => undefined));
      },
    });
    simulation.runFor(1_000);
    expect(joiner!.activeView()).toEqual(['a']);
    expect(joiner!.stats().driver['sendErrors']).toBeGreaterThan(0);
  });
});

describe('transport error counters', () => {
  it(`a throwing send counts once, in sendErrors, a throwing connect once, in connectErrors, and a throwing disconnect once, in disconnectErrors (review finding, seed=${seed})`, () => {
    // Each throw was counted twice: in sendErrors or connectErrors and again in transportErrors,
    // so the driver's counters summed to twice the failures; a throwing disconnect counted as a
    // throwing connect, though the two end differently (the peer unreachable, or nothing).
    const simulation = createSimulation({ seed });
    const thrown = { send: 0, connect: 0, disconnect: 0 };
    // The transport throws for 'ghost' from send, connect and disconnect (as one may for a peer id it cannot use), and counts its throws.
    const [node] = cluster(simulation, 1, {}, (transport) => ({
      ...transport,
      nodeId: transport.nodeId,
      send: (peer, channel, payload, options) => {
        if (peer !== 'ghost') return transport.send(peer, channel, payload, options);
        thrown.send += 1;
        throw new TypeError('send: unknown peer');
      },
      connect: (peer) => {
        if (peer !== 'ghost') return transport.connect(peer);
        thrown.connect += 1;
        throw new TypeError('connect: unknown peer');
      },
      disconnect: (peer) => {
        if (peer !== 'ghost') return transport.disconnect(peer);
        thrown.disconnect += 1;
        throw new TypeError('disconnect: unknown peer');
      },
    }));
    const attacker = simulation.addNode('attacker').transport;
    simulation.runFor(100);
    // A shuffle names 'ghost': the node, with no neighbour, asks it at once; the NEIGHBOR's send
    // throws, the node dials it, and the dial throws: the peer is unreachable, not asked again,
    // and the transport is told to stop dialling it, which throws too.
    attacker.send('n0', 'coordination', { type: 'shuffle', epoch: 0, origin: 'attacker', ttl: 1, nodes: ['ghost'] });
    simulation.runFor(2_000);
    expect(thrown).toEqual({ send: 1, connect: 1, disconnect: 1 });
    const { driver } = node!.membership.stats();
    expect({ sendErrors: driver['sendErrors'], connectErrors: driver['connectErrors'], disconnectErrors: driver['disconnectErrors'], transportErrors: driver['transportErrors'] }).toEqual({
      sendErrors: 1,
      connectErrors: 1,
      disconnectErrors: 1,
      transportErrors: undefined,
    });
  });
});
