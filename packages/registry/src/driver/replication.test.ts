// Cluster-wide behaviour over testkit's simulated network: every port is a real (small)
// implementation from test/support — push gossip for Broadcast, failure detection for
// MembershipEvents, the simulated transport for anti-entropy, a process table for Monitor.
import { describe, expect, it } from '@jest/globals';
import type { FoundationError } from '@foundation/core';
import { checkDeterminism, createSimulation, seedFromEnvironment } from '@foundation/testkit';
import type { Simulation } from '@foundation/testkit';
import { contents, converged, createCluster, liveNodes } from '../../test/support/cluster';
import { countScansOfMapsOf } from '../../test/support/count-scans';
import type { Cluster, ClusterOptions } from '../../test/support/cluster';
import { createGossipBroadcast } from '../../test/support/gossip-broadcast';
import { createSimMembership } from '../../test/support/sim-membership';
import type { LeaveReason, MembershipEvents } from '../ports/membership-events';
import type { NameConflictEvent, Registry } from '../registry';
import { createRegistry, defaultLocalTimings } from '../registry';
import { Replica } from '../core/replica';
import { encodeDeltas } from '../core/wire';

const ids = (count: number) => Array.from({ length: count }, (_, index) => `n${index}`);

function start(seed: number, count: number, options: ClusterOptions = {}): { simulation: Simulation; cluster: Cluster } {
  const simulation = createSimulation({ seed, network: { latency: { min: 1, max: 5 }, failureDetectionMs: 300 } });
  const cluster = createCluster(simulation, ids(count), options);
  return { simulation, cluster };
}

const node = (cluster: Cluster, id: string) => cluster.get(id)!;

/** A healthy group entry of `origin` as its node would publish it, for deltas written by hand. */
function entryOf(origin: string, name: string, target: number, revision = 1) {
  return Object.freeze({
    id: `${origin}/1/${revision}`,
    name,
    node: origin,
    mode: 'group' as const,
    scope: 'cluster' as const,
    target,
    capabilities: [],
    metadata: {},
    version: undefined,
    serviceType: undefined,
    zone: undefined,
    weight: 1,
    health: 'healthy' as const,
    load: 0,
    registeredAt: 0,
    incarnation: 1,
    revision,
  });
}

describe('replication', () => {
  it('a registration reaches every node through the broadcast; changes and removal follow (seed=101)', () => {
    const { simulation, cluster } = start(101, 6);
    simulation.runFor(200);
    const pid = node(cluster, 'n0').processes.spawn();
    const registration = node(cluster, 'n0').registry.register('db', pid, { capabilities: ['sql'], version: '2.1.0', metadata: { shard: 3 } });
    simulation.runFor(50);
    for (const { registry } of cluster.values()) {
      expect(registry.lookup('db')).toEqual(registry.nodeId === 'n0' ? pid : '<n0.1.0>');
      expect(registry.discover({ capabilities: ['sql'], version: '^2' }).map((instance) => instance.id)).toEqual([registration.id]);
    }
    registration.setHealth('degraded');
    registration.reportLoad(4);
    simulation.runFor(50);
    for (const { registry } of cluster.values()) expect(registry.find('db')).toMatchObject({ health: 'degraded', load: 4, metadata: { shard: 3 } });
    registration.unregister();
    simulation.runFor(50);
    for (const { registry } of cluster.values()) expect(registry.find('db')).toBeUndefined();
    expect(converged(simulation, cluster)).toBe(true);
  });

  it('a remote change of health and metadata together goes down as changed for a watcher that accepts any health (seed=119) (review finding)', () => {
    // Told 'health' whenever the health differed, though the watcher accepts every status and
    // only the metadata made the instance leave its criteria.
    const { simulation, cluster } = start(119, 2);
    simulation.runFor(200);
    const registration = node(cluster, 'n0').registry.register('db', 'tcp://db', { metadata: { shard: 3 } });
    simulation.runFor(50);
    const reasons: string[] = [];
    const healthy: string[] = [];
    node(cluster, 'n1').registry.watch({ metadata: { shard: 3 }, health: 'any' }, (event) => reasons.push(event.type === 'service-down' ? event.reason : event.type));
    node(cluster, 'n1').registry.watch({ name: 'db' }, (event) => healthy.push(event.type === 'service-down' ? event.reason : event.type));
    // In one turn, so that n1 hears both in one delta.
    registration.setHealth('degraded');
    registration.updateMetadata({ shard: 4 });
    simulation.runFor(50);
    expect(node(cluster, 'n1').registry.find('db')).toMatchObject({ health: 'degraded', metadata: { shard: 4 } });
    expect(reasons).toEqual(['changed']);
    // A watcher of healthy instances whose criteria the metadata does not touch: the health.
    expect(healthy).toEqual(['health']);
  });

  it('auto-removal on process exit is replicated (seed=102)', () => {
    const { simulation, cluster } = start(102, 4);
    simulation.runFor(200);
    const origin = node(cluster, 'n1');
    const pid = origin.processes.spawn();
    origin.registry.register('worker', pid, { mode: 'group' });
    simulation.runFor(50);
    expect(node(cluster, 'n3').registry.lookupAll('worker')).toHaveLength(1);
    origin.processes.exit(pid, 'killed');
    simulation.runFor(50);
    for (const { registry } of cluster.values()) expect(registry.lookupAll('worker')).toEqual([]);
  });

  it('a node that joins late converges by anti-entropy alone (seed=103)', () => {
    const { simulation, cluster } = start(103, 5, { startAt: { n4: 2000 } });
    simulation.runFor(100);
    for (const id of ['n0', 'n1', 'n2', 'n3']) node(cluster, id).registry.register(`svc-${id}`, id, { capabilities: ['x'] });
    simulation.runFor(1000);
    expect(cluster.has('n4')).toBe(false);
    simulation.runFor(1000);
    const late = node(cluster, 'n4').registry;
    const rounds = late.stats().antiEntropyRounds;
    simulation.runUntil(() => late.discover({ capabilities: ['x'] }).length === 4 && converged(simulation, cluster), { maxTime: 5000 });
    expect(late.listServices()).toEqual(['svc-n0', 'svc-n1', 'svc-n2', 'svc-n3']);
    // The broadcast never reached n4 for those: anti-entropy (at most a few rounds) did.
    expect(late.stats().antiEntropyRounds - rounds).toBeLessThanOrEqual(10);
  });

  it('a node that leaves has its entries purged everywhere, though only its neighbours noticed, and every node tells node-purge once (seed=104)', () => {
    const { simulation, cluster } = start(104, 8, { neighbours: 2 });
    simulation.runFor(200);
    for (const { registry } of cluster.values()) registry.register(`svc-${registry.nodeId}`, registry.nodeId, { mode: 'group' });
    simulation.runFor(300);
    const purges: string[] = [];
    for (const member of cluster.values()) member.registry.on('node-purge', ({ node: gone }) => purges.push(`${member.id}:${gone}`));
    simulation.crash('n5');
    simulation.runFor(2000);
    // Noticed by its neighbours (each reports every failed reconnection), not by everyone; the
    // others purge it on their departure records, and each node tells of its purge once.
    expect(purges.sort()).toEqual(
      liveNodes(simulation, cluster)
        .map((member) => `${member.id}:n5`)
        .sort(),
    );
    for (const member of liveNodes(simulation, cluster)) {
      expect(member.registry.find('svc-n5')).toBeUndefined();
      expect(member.registry.listServices()).toHaveLength(7);
    }
    expect(converged(simulation, cluster)).toBe(true);
  });

  it('a graceful close purges the node at once (seed=105)', () => {
    const { simulation, cluster } = start(105, 4);
    simulation.runFor(200);
    node(cluster, 'n2').registry.register('cache', 'c');
    simulation.runFor(50);
    expect(node(cluster, 'n0').registry.lookup('cache')).toBe('c');
    node(cluster, 'n2').registry.close();
    simulation.runFor(30);
    for (const id of ['n0', 'n1', 'n3']) expect(node(cluster, id).registry.find('cache')).toBeUndefined();
  });

  it('a restarted node replaces its earlier incarnation everywhere (seed=106)', () => {
    const { simulation, cluster } = start(106, 4, { onStart: (member) => member.registry.register(`boot-${member.id}`, `${member.id}#${member.registry.incarnation}`) });
    simulation.runFor(300);
    simulation.crash('n1');
    simulation.runFor(100); // faster than failure detection: nobody declared it gone
    simulation.restart('n1');
    simulation.runFor(500);
    for (const member of cluster.values()) {
      expect(member.registry.lookupAll('boot-n1').map((instance) => instance.incarnation)).toEqual([node(cluster, 'n1').registry.incarnation]);
    }
    expect(converged(simulation, cluster)).toBe(true);
  });

  it('partitions and heals: both sides keep serving their own, then converge; wrongly purged nodes come back (seed=107)', () => {
    const { simulation, cluster } = start(107, 6);
    simulation.runFor(200);
    for (const { registry } of cluster.values()) registry.register(`svc-${registry.nodeId}`, registry.nodeId);
    simulation.runFor(200);
    simulation.network.partition([
      ['n0', 'n1', 'n2'],
      ['n3', 'n4', 'n5'],
    ]);
    simulation.runFor(1500);
    node(cluster, 'n0').registry.register('during-left', 1);
    node(cluster, 'n4').registry.register('during-right', 2);
    node(cluster, 'n1').registry.unregister('svc-n1');
    simulation.runFor(500);
    expect(node(cluster, 'n0').registry.find('during-right')).toBeUndefined();
    simulation.network.heal();
    simulation.runUntil(() => converged(simulation, cluster), { maxTime: 10_000 });
    const expected = ['during-left', 'during-right', 'svc-n0', 'svc-n2', 'svc-n3', 'svc-n4', 'svc-n5'];
    const first = contents(node(cluster, 'n0').registry);
    for (const { registry } of cluster.values()) {
      expect(registry.listServices()).toEqual(expected);
      expect(contents(registry)).toBe(first);
    }
  });
});

describe('flush and syncWith', () => {
  it('flush publishes pending changes before publishDelayMs; syncWith exchanges state at once (seed=118)', () => {
    const { simulation, cluster } = start(118, 3, { registry: { timings: { ...defaultLocalTimings(), publishDelayMs: 10_000, antiEntropyIntervalMs: 0 } } });
    simulation.runFor(100);
    node(cluster, 'n0').registry.register('early', 1);
    simulation.runFor(100);
    expect(node(cluster, 'n1').registry.find('early')).toBeUndefined();
    node(cluster, 'n0').registry.flush();
    simulation.runFor(50);
    expect(node(cluster, 'n1').registry.lookup('early')).toBe(1);
    // Without the broadcast, anti-entropy on demand carries it.
    const quiet = start(119, 2, { broadcast: false, registry: { timings: { ...defaultLocalTimings(), antiEntropyIntervalMs: 0 } } });
    quiet.simulation.runFor(100);
    node(quiet.cluster, 'n0').registry.register('pulled', 2);
    quiet.simulation.runFor(100);
    expect(node(quiet.cluster, 'n1').registry.find('pulled')).toBeUndefined();
    node(quiet.cluster, 'n1').registry.syncWith('n0');
    quiet.simulation.runFor(50);
    expect(node(quiet.cluster, 'n1').registry.lookup('pulled')).toBe(2);
    expect(node(quiet.cluster, 'n1').registry.digest()).toBe(node(quiet.cluster, 'n0').registry.digest());
  });
});

describe('a restart under the same incarnation (review finding)', () => {
  it('is a new life: peers drop the old life\'s entries instead of keeping them under the new life\'s revisions (seed=120)', () => {
    // With an incarnation that repeats (a fixed one, a persisted one lost with the node's state,
    // a clock that went back), the new life's changes took the revisions of the old life's, which
    // peers already covered: they kept the old life's entries (here all of them, with equal
    // digests, so anti-entropy never repaired it) and showed the new life's only above them.
    // No failure detector notices the restart here, as none would if it was quick enough.
    const simulation = createSimulation({ seed: 120, network: { latency: { min: 1, max: 5 } } });
    const registries = new Map<string, Registry>();
    let starts = 0;
    for (const id of ['a', 'b']) {
      simulation.addNode(id, {
        start: ({ transport, clock, random }) => {
          const peers = () => ['a', 'b'].filter((peer) => peer !== id);
          const membership: MembershipEvents = { members: peers, on: () => () => undefined };
          const broadcast = {
            publish: (topic: string, payload: Uint8Array) => peers().every((peer) => transport.send(peer, `broadcast:${topic}`, payload)),
            subscribe: (topic: string, handler: (message: { from: string; payload: Uint8Array }) => void) =>
              transport.onMessage(`broadcast:${topic}`, (message) => handler({ from: message.from, payload: message.payload as Uint8Array })),
          };
          const registry = createRegistry({ nodeId: id, clock, random, broadcast, transport, membership, incarnation: 7, timings: defaultLocalTimings() });
          registries.set(id, registry);
          if (id !== 'b') return;
          starts += 1;
          registry.register('boot', `start-${starts}`);
          registry.register(`only-start-${starts}`, starts);
        },
      });
    }
    simulation.runFor(500);
    const a = registries.get('a')!;
    expect(a.lookup('boot')).toBe('start-1');
    const purges: unknown[] = [];
    a.on('node-purge', (event) => purges.push(event));
    simulation.crash('b');
    simulation.restart('b');
    simulation.runFor(2000);
    const b = registries.get('b')!;
    expect(a.listServices()).toEqual(['boot', 'only-start-2']);
    expect(a.lookup('boot')).toBe('start-2');
    expect(a.digest()).toBe(b.digest());
    // a retired incarnation 7 when b's new life contradicted what it held; b moved past it.
    expect(purges).toEqual([{ node: 'b', incarnation: 7 }]);
    expect(b.incarnation).toBe(8);
    expect(a.lookupAll('boot').map((instance) => instance.incarnation)).toEqual([8]);
  });

  it('is told from the earlier start even when no change it publishes names a revision a peer holds (seed=121) (review finding)', () => {
    // The second start's first changes are superseded before it publishes: its one delta covers
    // revisions 1-4 and names only 'new' at 4. Revision 2, where a holds 'old', is covered
    // without being named, so nothing in the delta contradicts what a holds; a kept 'old' for
    // good, with the same digest as b and c, which never had it. Each start draws a life id of
    // its own, and a peer holding the incarnation under another life retires it.
    const simulation = createSimulation({ seed: 121, network: { latency: { min: 1, max: 5 } } });
    const registries = new Map<string, Registry>();
    let starts = 0;
    for (const id of ['a', 'b', 'c']) {
      simulation.addNode(id, {
        start: ({ transport, clock, random }) => {
          const peers = () => ['a', 'b', 'c'].filter((peer) => peer !== id);
          const membership: MembershipEvents = { members: peers, on: () => () => undefined };
          const broadcast = {
            publish: (topic: string, payload: Uint8Array) => peers().every((peer) => transport.send(peer, `broadcast:${topic}`, payload)),
            subscribe: (topic: string, handler: (message: { from: string; payload: Uint8Array }) => void) =>
              transport.onMessage(`broadcast:${topic}`, (message) => handler({ from: message.from, payload: message.payload as Uint8Array })),
          };
          const registry = createRegistry({ nodeId: id, clock, random, broadcast, transport, membership, incarnation: 7, timings: defaultLocalTimings() });
          registries.set(id, registry);
          if (id !== 'b') return;
          starts += 1;
          if (starts === 1) {
            const x = registry.register('x', 'start-1');
            registry.register('old', 'start-1');
            clock.setTimer(100, () => x.reportLoad(1));
          } else {
            const registration = registry.register('new', 'start-2');
            registration.reportLoad(1);
            registration.reportLoad(2);
            registration.reportLoad(3);
          }
        },
      });
    }
    simulation.runFor(500);
    expect(registries.get('a')!.lookup('old')).toBe('start-1');
    const purges: unknown[] = [];
    registries.get('a')!.on('node-purge', (event) => purges.push(event));
    // c restarts too, so that it never heard of the first start.
    simulation.crash('c');
    simulation.crash('b');
    simulation.restart('b');
    simulation.restart('c');
    simulation.runFor(5000);
    const [a, b, c] = ['a', 'b', 'c'].map((id) => registries.get(id)!);
    expect(b!.listServices()).toEqual(['new']);
    expect(a!.listServices()).toEqual(['new']);
    expect(c!.listServices()).toEqual(['new']);
    expect(a!.digest()).toBe(b!.digest());
    expect(c!.digest()).toBe(b!.digest());
    // c's restart reused incarnation 7 too, and is retired like b's; both moved past it.
    expect(purges).toEqual(expect.arrayContaining([{ node: 'b', incarnation: 7 }, { node: 'c', incarnation: 7 }]));
    expect(purges).toHaveLength(2);
    expect([b!.incarnation, c!.incarnation]).toEqual([8, 8]);
  });
});

describe('registrations and maxMessageBytes', () => {
  // Each field within its own limit, a registration could still be larger than half of a
  // maxMessageBytes set low: its delta piece (which holds at least one revision) went out whole,
  // every peer refused it (message-reject) on every round, and it never replicated.
  it('a registration too large for one message is refused when made; one that fits reaches the peer (seed=125)', () => {
    const maxMessageBytes = 4096;
    const { simulation, cluster } = start(125, 2, { broadcast: false, registry: { limits: { maxMessageBytes } } });
    simulation.runFor(200);
    const rejected: FoundationError[] = [];
    for (const member of cluster.values()) member.registry.on('message-reject', ({ error }) => rejected.push(error));
    const n0 = node(cluster, 'n0').registry;
    const metadata = (bytes: number) => ({ note: 'm'.repeat(bytes) });
    let thrown: unknown;
    try {
      n0.register('too-large', 0, { metadata: metadata(2_500) });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ name: 'RegistryValidationError', context: { field: 'registration' } });
    expect(n0.discover({ name: 'too-large' })).toEqual([]);
    const fits = n0.register('fits', 0, { metadata: metadata(1_000) });
    // Metadata grown past the bound afterwards is refused the same way, and the entry kept as it was.
    expect(() => fits.updateMetadata(metadata(2_500))).toThrow(expect.objectContaining({ name: 'RegistryValidationError' }));
    simulation.runFor(2000);
    expect(rejected.map((error) => error.message)).toEqual([]);
    expect(node(cluster, 'n1').registry.lookup('fits')).toBe(0);
    expect(node(cluster, 'n1').registry.discover({ name: 'fits' })[0]?.metadata).toEqual(metadata(1_000));
    expect(converged(simulation, cluster)).toBe(true);
  });
});

describe('anti-entropy with many origins', () => {
  // A summary lists every origin a node holds, so with enough of them it outgrows
  // maxMessageBytes: it must go out in parts, each within the bound, or peers refuse it and
  // anti-entropy stops for good between nodes whose summaries are both that large.
  it('summaries larger than maxMessageBytes go in parts, and two such nodes still converge (seed=122)', () => {
    const maxMessageBytes = 4096;
    const { simulation, cluster } = start(122, 2, { broadcast: false, registry: { limits: { maxMessageBytes } } });
    simulation.runFor(200);
    const rejected: FoundationError[] = [];
    for (const member of cluster.values()) member.registry.on('message-reject', ({ error }) => rejected.push(error));
    // Both nodes hold the same 400 origins (relayed to them earlier): their summaries are about
    // 400 × 25 bytes, more than twice the bound.
    const origins = Array.from({ length: 400 }, (_, index) => {
      const origin = `relayed-${index}`;
      const entry = entryOf(origin, `svc-${index}`, index);
      return { node: origin, incarnation: 1, covers: [{ low: 1, high: 1 }], entries: [entry], removed: [], keys: undefined };
    });
    for (const [from, to] of [['n0', 'n1'], ['n1', 'n0']] as const) {
      for (const payload of encodeDeltas('test', origins, [], 1000, maxMessageBytes)) simulation.node(from).transport.send(to, 'foundation.registry/test', payload);
    }
    simulation.runFor(200);
    for (const member of cluster.values()) expect(member.registry.listServices()).toHaveLength(400);
    // Then each node registers something the other can learn only by anti-entropy.
    node(cluster, 'n0').registry.register('only-on-n0', 0);
    node(cluster, 'n1').registry.register('only-on-n1', 1);
    simulation.runFor(2000); // twenty rounds each
    expect(rejected.map((error) => error.message)).toEqual([]);
    expect(node(cluster, 'n0').registry.lookup('only-on-n1')).toBe(1);
    expect(node(cluster, 'n1').registry.lookup('only-on-n0')).toBe(0);
    expect(converged(simulation, cluster)).toBe(true);
    expect(contents(node(cluster, 'n0').registry)).toBe(contents(node(cluster, 'n1').registry));
  });

  // What anti-entropy sends back is measured whole: departure records and covers were not, so
  // a reply with many of either came out larger than maxMessageBytes and was refused. Each node
  // here holds its own half of the state, with ids above all of the other's: whichever node
  // starts an exchange, the other answers the last part of its summary (or its whole summary)
  // with all of its half at once.
  it('departure records past maxMessageBytes reach a peer that lacks them, in messages within the bound (seed=123)', () => {
    const maxMessageBytes = 4096;
    const { simulation, cluster } = start(123, 2, { broadcast: false, registry: { limits: { maxMessageBytes } } });
    simulation.runFor(200);
    const rejected: FoundationError[] = [];
    for (const member of cluster.values()) member.registry.on('message-reject', ({ error }) => rejected.push(error));
    // Each hears of 60 departures of nodes with long ids, about 60 × 240 bytes: more than three
    // times the bound. One message each, as they may have come.
    const now = simulation.clock.now();
    for (const [from, to] of [['n1', 'n0'], ['n0', 'n1']] as const) {
      for (let index = 0; index < 60; index += 1) {
        const record = { node: `gone-from-${to}-${String(index).padStart(2, '0')}-${'d'.repeat(200)}`, incarnation: 1_700_000_000_000 + index, at: now };
        for (const payload of encodeDeltas('test', [], [record], 1000, maxMessageBytes)) simulation.node(from).transport.send(to, 'foundation.registry/test', payload);
      }
    }
    simulation.runFor(2000); // twenty rounds each
    expect(rejected.map((error) => error.message)).toEqual([]);
    for (const member of cluster.values()) expect(member.registry.stats().departures).toBe(120);
    expect(converged(simulation, cluster)).toBe(true);
  });

  it('origins whose covers are long reach a peer that lacks them, in messages within the bound (seed=124)', () => {
    const maxMessageBytes = 4096;
    const { simulation, cluster } = start(124, 2, { broadcast: false, registry: { limits: { maxMessageBytes } } });
    simulation.runFor(200);
    const rejected: FoundationError[] = [];
    for (const member of cluster.values()) member.registry.on('message-reject', ({ error }) => rejected.push(error));
    // Each holds 30 origins with long ids, each with one entry and a context of 60 intervals
    // (later revisions seen, their changes since overwritten): about 30 × 1,400 bytes of ids and
    // covers, while the entries alone fit in a few messages.
    const origins = (holder: string) =>
      Array.from({ length: 30 }, (_, index) => {
        const origin = `relayed-to-${holder}-${String(index).padStart(2, '0')}-${'o'.repeat(200)}`;
        const entry = entryOf(origin, `svc-${holder}-${index}`, index);
        const covers = [{ low: 1, high: 1 }, ...Array.from({ length: 59 }, (_, interval) => ({ low: 1_000_000 + 2 * interval, high: 1_000_000 + 2 * interval }))];
        return { node: origin, incarnation: 1, covers, entries: [entry], removed: [], keys: undefined };
      });
    for (const [from, to] of [['n1', 'n0'], ['n0', 'n1']] as const) {
      for (const origin of origins(to)) {
        for (const payload of encodeDeltas('test', [origin], [], 1000, maxMessageBytes)) simulation.node(from).transport.send(to, 'foundation.registry/test', payload);
      }
    }
    simulation.runFor(2000); // twenty rounds each
    expect(rejected.map((error) => error.message)).toEqual([]);
    for (const member of cluster.values()) expect(member.registry.listServices()).toHaveLength(60);
    expect(converged(simulation, cluster)).toBe(true);
    expect(contents(node(cluster, 'n1').registry)).toBe(contents(node(cluster, 'n0').registry));
  });
});

describe('membership reasons', () => {
  it('a dropped overlay link (disconnected) purges nothing; failed and left do (seed=116)', () => {
    const simulation = createSimulation({ seed: 116 });
    const leaveHandlers: ((node: string, reason?: LeaveReason) => void)[] = [];
    const registries = new Map<string, Registry>();
    for (const id of ['a', 'b']) {
      simulation.addNode(id, {
        start: ({ transport, clock, random }) => {
          const peers = () => ['a', 'b'].filter((peer) => peer !== id);
          const membership: MembershipEvents = {
            members: peers,
            on: (event, handler) => {
              if (event === 'member-leave' && id === 'a') leaveHandlers.push(handler);
              return () => undefined;
            },
          };
          const broadcast = createGossipBroadcast(transport, peers, random);
          registries.set(id, createRegistry({ nodeId: id, clock, random, broadcast, transport, membership, timings: { ...defaultLocalTimings(), antiEntropyIntervalMs: 0 } }));
        },
      });
    }
    registries.get('b')!.register('svc', 'b');
    simulation.runFor(50);
    const a = registries.get('a')!;
    expect(a.lookup('svc')).toBe('b');
    for (const handler of leaveHandlers) handler('b', 'disconnected');
    expect(a.lookup('svc')).toBe('b');
    for (const handler of leaveHandlers) handler('b', 'left');
    expect(a.find('svc')).toBeUndefined();
  });
});

describe('failure reports', () => {
  /**
   * Node a, whose membership reports what a test says, beside the replicas of other nodes whose
   * deltas reach it by its broadcast (as if relayed). Records what a hears of purges and what it
   * broadcasts of departures.
   */
  function reported(seed: number) {
    const simulation = createSimulation({ seed });
    const subscribers: ((message: { from: string; payload: unknown }) => void)[] = [];
    const leaves: ((node: string, reason?: LeaveReason, incarnation?: number) => void)[] = [];
    const published: Uint8Array[] = [];
    const broadcast = {
      publish: (_topic: string, payload: Uint8Array) => published.push(payload) > 0,
      subscribe: (_topic: string, handler: (message: { from: string; payload: unknown }) => void) => {
        subscribers.push(handler);
        return () => undefined;
      },
    };
    const membership: MembershipEvents = {
      members: () => [],
      on: (event, handler) => {
        if (event === 'member-leave') leaves.push(handler);
        return () => undefined;
      },
    };
    const registry = createRegistry<unknown>({ nodeId: 'a', clock: simulation.clock, random: simulation.random, broadcast, membership, timings: defaultLocalTimings() });
    const purges: unknown[] = [];
    registry.on('node-purge', (event) => purges.push(event));
    /** `node`, started under `incarnation` (a start of its own: another life id), registers `name`; its delta reaches a. */
    const started = (node: string, incarnation: number, name: string): void => {
      const origin = new Replica({ nodeId: node, incarnation, life: `life-${incarnation}`, maxNodes: 100, maxServicesPerNode: 100, tombstoneRetentionMs: 1_000, maxStableTombstones: 100, departureRetentionMs: 60_000, maxRememberedDepartures: 100, onChange: () => undefined });
      origin.putOwn({ id: `${node}/${incarnation}/1`, name, mode: 'group', scope: 'cluster', target: `${node}#${incarnation}`, capabilities: [], metadata: {}, version: undefined, serviceType: undefined, zone: undefined, weight: 1, health: 'healthy', load: 0, registeredAt: 0 });
      for (const payload of encodeDeltas('production', [origin.takeOwnDelta()!], [], 1_000)) for (const handler of subscribers) handler({ from: node, payload });
    };
    const leave = (node: string, incarnation?: number): void => {
      for (const handler of leaves) handler(node, 'failed', incarnation);
    };
    /** `peer` broadcasts the departure of `node` under `incarnation` (its own purge decision), which reaches a. */
    const departedAt = (peer: string, node: string, incarnation: number): void => {
      const record = { node, incarnation, at: simulation.clock.now() };
      for (const payload of encodeDeltas('production', [], [record], 1_000)) for (const handler of subscribers) handler({ from: peer, payload });
    };
    /** The departure records a broadcast, as node#incarnation. */
    const departures = (): string[] =>
      published.flatMap((payload) => (JSON.parse(new TextDecoder().decode(payload)) as { departed: [string, number, number][] }).departed.map(([node, incarnation]) => `${node}#${incarnation}`));
    return { simulation, registry, purges, started, leave, departedAt, departures };
  }

  it('a report of a node nothing of which is held here purges nothing and tells no node-purge (seed=140) (review finding)', () => {
    // node-purge was emitted, with no incarnation, for a node never heard of, and again for each
    // further report of a node purged already (a detector that keeps probing reports each
    // failed probe): events about nothing this node held.
    const { simulation, registry, purges, started, leave, departures } = reported(140);
    leave('ghost');
    simulation.runFor(10);
    expect(purges).toEqual([]);
    started('m', 1, 'svc');
    expect(registry.find('svc')?.node).toBe('m');
    leave('m');
    leave('m');
    simulation.runFor(10);
    expect(registry.find('svc')).toBeUndefined();
    expect(purges).toEqual([{ node: 'm', incarnation: 1 }]);
    expect(departures()).toEqual(['m#1']);
  });

  it('a peer\'s departure record that purges an incarnation held here tells node-purge, once per incarnation (seed=141) (review finding)', () => {
    // node-purge told of purges this node decided alone: where a peer's departure record purged
    // the node (most nodes, as only a node's neighbours see it leave), nothing was told.
    const { simulation, registry, purges, started, leave, departedAt, departures } = reported(141);
    started('m', 1, 'svc');
    started('k', 2, 'other');
    departedAt('p', 'm', 1);
    expect(registry.find('svc')).toBeUndefined();
    expect(purges).toEqual([{ node: 'm', incarnation: 1 }]);
    // The same record again, from another peer, and this node's own detector: purged already.
    departedAt('q', 'm', 1);
    leave('m');
    // A record of a node never held here, and one of an incarnation older than the one held, purge nothing.
    departedAt('p', 'ghost', 3);
    departedAt('p', 'k', 1);
    simulation.runFor(10);
    expect(registry.find('other')?.node).toBe('k');
    expect(purges).toEqual([{ node: 'm', incarnation: 1 }]);
    // A record of a later incarnation than the one held purges the one held, and names it.
    departedAt('p', 'k', 3);
    expect(registry.find('other')).toBeUndefined();
    expect(purges).toEqual([
      { node: 'm', incarnation: 1 },
      { node: 'k', incarnation: 2 },
    ]);
    // A peer's record is that peer's to broadcast: a spreads none of its own for them.
    simulation.runFor(10);
    expect(departures()).toEqual([]);
  });
});

describe('routing across nodes', () => {
  it('local-first prefers this node, then this zone, then the lowest load (seed=114)', () => {
    const { simulation, cluster } = start(114, 4, { zoneOf: (id) => (id === 'n2' || id === 'n3' ? 'zone-b' : 'zone-a') });
    simulation.runFor(200);
    const sameZone = node(cluster, 'n1').registry.register('api', 'api@n1', { mode: 'group', load: 9 });
    node(cluster, 'n2').registry.register('api', 'api@n2', { mode: 'group', load: 0 });
    simulation.runFor(50);
    const route = (id: string) => node(cluster, id).registry.route('api', { strategy: 'local-first' }).target;
    expect(route('n0')).toBe('api@n1'); // zone-a beats the idle zone-b instance
    expect(route('n3')).toBe('api@n2'); // zone-b
    expect(route('n2')).toBe('api@n2'); // its own
    expect(node(cluster, 'n3').registry.route('api', { strategy: 'least-loaded' }).target).toBe('api@n2');
    sameZone.setHealth('unhealthy');
    simulation.runFor(50);
    expect(route('n0')).toBe('api@n2');
    node(cluster, 'n0').registry.register('api', 'api@n0', { mode: 'group', load: 50 });
    expect(route('n0')).toBe('api@n0');
  });

  it('consistent-hash picks the same instance for a key on every node (seed=115)', () => {
    const { simulation, cluster } = start(115, 4);
    simulation.runFor(200);
    for (const member of cluster.values()) member.registry.register('shard', `shard@${member.id}`, { mode: 'group' });
    simulation.runFor(100);
    for (const key of ['user-1', 'user-2', 'user-3', 'order-9']) {
      const choices = new Set([...cluster.values()].map((member) => member.registry.route('shard', { strategy: 'consistent-hash', key }).target));
      expect(choices.size).toBe(1);
    }
  });
});

describe('unique names across a partition', () => {
  function split(seed: number, options: ClusterOptions = {}) {
    const context = start(seed, 4, options);
    const { simulation, cluster } = context;
    simulation.runFor(200);
    simulation.network.partition([
      ['n0', 'n1'],
      ['n2', 'n3'],
    ]);
    simulation.runFor(100);
    node(cluster, 'n0').registry.register('leader', 'from-n0');
    simulation.runFor(100);
    node(cluster, 'n2').registry.register('leader', 'from-n2');
    simulation.runFor(100);
    expect(node(cluster, 'n1').registry.lookup('leader')).toBe('from-n0');
    expect(node(cluster, 'n3').registry.lookup('leader')).toBe('from-n2');
    const conflicts: NameConflictEvent[] = [];
    for (const member of cluster.values()) member.registry.on('name-conflict', (event) => conflicts.push(event));
    simulation.network.heal();
    simulation.runUntil(() => converged(simulation, cluster) && conflicts.length > 0, { maxTime: 10_000 });
    simulation.runFor(1000);
    return { ...context, conflicts };
  }

  it('the earliest registration wins everywhere; the loser hears name-conflict and gives the name up (seed=108)', () => {
    const { simulation, cluster, conflicts } = split(108);
    for (const { registry } of cluster.values()) {
      expect(registry.lookup('leader')).toBe('from-n0');
      expect(registry.lookupAll('leader')).toHaveLength(1);
    }
    expect(conflicts.map((event) => [event.loser.node, event.winner.node, event.action])).toEqual([['n2', 'n0', 'unregistered']]);
    expect(node(cluster, 'n2').registry.stats().localServices).toBe(0);
    expect(converged(simulation, cluster)).toBe(true);
  });

  it('with nameConflict "keep", the loser stays hidden and takes over when the winner leaves (seed=109)', () => {
    const { simulation, cluster, conflicts } = split(109, { registry: { nameConflict: 'keep' } });
    expect(conflicts.map((event) => event.action)).toEqual(['kept']);
    for (const { registry } of cluster.values()) expect(registry.lookup('leader')).toBe('from-n0');
    node(cluster, 'n0').registry.unregister('leader');
    simulation.runFor(500);
    for (const { registry } of cluster.values()) expect(registry.lookup('leader')).toBe('from-n2');
  });
});

describe('hostile peers', () => {
  it('garbage, oversized, malformed and prototype-reaching messages are refused with codes, nothing merged (seed=110)', () => {
    const { simulation, cluster } = start(110, 2, { registry: { limits: { maxMessageBytes: 4096 } } });
    simulation.runFor(200);
    const victim = node(cluster, 'n1').registry;
    const rejected: FoundationError[] = [];
    victim.on('message-reject', ({ error }) => rejected.push(error));
    const before = victim.digest();
    const topic = 'foundation.registry/test';
    const transport = simulation.node('n0').transport;
    const text = (value: unknown) => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
    const entry = { id: 'n0/1/1', name: 'evil', mode: 'unique', target: 'x', capabilities: [], metadata: {}, weight: 1, health: 'healthy', load: 0, registeredAt: 0, revision: 1 };
    const delta = (changes: Record<string, unknown>) => ({ v: 1, t: 'delta', ns: 'test', departed: [], origins: [{ node: 'n0', incarnation: 1, covers: [[1, 1]], entries: [{ ...entry, ...changes }], removed: [] }] });
    const payloads: unknown[] = [
      'not bytes',
      new Uint8Array([0xff, 0xfe, 0x00]),
      text('{"v":1,'),
      text({ v: 2, t: 'delta', ns: 'test' }),
      text({ v: 1, t: 'launch-missiles', ns: 'test' }),
      text({ v: 1, t: 'digest', ns: 'other', hash: '0000000000000000' }),
      new Uint8Array(5000),
      text(delta({ name: 'has space' })),
      text(delta({ capabilities: Array.from({ length: 40 }, (_, index) => `c${index}`) })),
      text(delta({ version: 'not.a.version' })),
      text(delta({ metadata: { blob: 'x'.repeat(5000) } })),
      text(delta({ health: 'great' })),
      text(delta({ revision: -1 })),
      text(delta({ id: 'someone-else/1/1' })),
      text(delta({ target: JSON.parse(`${'{"a":'.repeat(12)}1${'}'.repeat(12)}`) as unknown })),
      text(`{"v":1,"t":"delta","ns":"test","departed":[],"origins":[{"node":"n0","incarnation":1,"covers":[[1,1]],"removed":[],"entries":[${JSON.stringify(entry).replace('"metadata":{}', '"metadata":{"__proto__":{"polluted":true}}')}]}]}`),
      text({ v: 1, t: 'summary', ns: 'test', origins: [['n0', 1, 0, []], ['n0', 1, 0, []]], departed: [], reply: true }),
    ];
    for (const payload of payloads) transport.send('n1', topic, payload);
    simulation.runFor(50);
    expect(rejected.map((error) => error.code)).toEqual([3102, 3102, 3102, 3102, 3102, 5604, 3102, 5604, 5604, 5604, 3102, 5604, 5604, 5604, 5604, 5604, 5604]);
    expect(rejected[7]!.message).toContain('origins[0].entries[0].name');
    expect(rejected[14]!.message).toContain('nested deeper than 8 levels');
    expect(rejected[15]!.message).toContain('metadata.__proto__');
    expect(victim.find('evil')).toBeUndefined();
    expect(victim.digest()).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(victim.stats().messagesRejected).toBe(payloads.length);
  });

  it('in a message with several origins, a bad one is refused alone and the others are merged (seed=117)', () => {
    const { simulation, cluster } = start(117, 2);
    simulation.runFor(200);
    const rejected: FoundationError[] = [];
    node(cluster, 'n1').registry.on('message-reject', ({ error }) => rejected.push(error));
    const entry = (origin: string, name: string) => ({ id: `${origin}/1/1`, name, mode: 'unique', target: 'x', capabilities: [], metadata: {}, weight: 1, health: 'healthy', load: 0, registeredAt: 0, revision: 1 });
    const message = {
      v: 1,
      t: 'delta',
      ns: 'test',
      departed: [],
      origins: [
        { node: 'x1', incarnation: 1, covers: [[1, 1]], removed: [], entries: [entry('x1', 'good-one')] },
        { node: 'x2', incarnation: 1, covers: [[1, 1]], removed: [], entries: [entry('x2', 'bad one')] },
        { node: 'x3', incarnation: 1, covers: [[1, 1]], removed: [], entries: [entry('x3', 'good-two')] },
      ],
    };
    simulation.node('n0').transport.send('n1', 'foundation.registry/test', new TextEncoder().encode(JSON.stringify(message)));
    simulation.runFor(20);
    expect(rejected.map((error) => error.message)).toEqual([expect.stringContaining('origins[1].entries[0].name') as unknown]);
    expect(node(cluster, 'n1').registry.listServices()).toEqual(['good-one', 'good-two']);
  });

  it('an entry whose capabilities or name change under its id goes down for the watchers it leaves (seed=130) (review finding)', () => {
    // The view took such a change as a removal and an addition, but told only the addition: a
    // watcher of the old capability or name never heard the instance go.
    const { simulation, cluster } = start(130, 2);
    simulation.runFor(200);
    const registry = node(cluster, 'n1').registry;
    const byCapability: string[] = [];
    const byName: string[] = [];
    registry.watch({ capabilities: ['a'] }, (event) => byCapability.push(`${event.type} ${event.instance.name}`));
    registry.watch('first', (event) => byName.push(`${event.type} ${event.instance.name}`));
    const send = (revision: number, name: string, capabilities: string[]): void => {
      const entry = { id: 'x1/1/1', name, mode: 'unique', target: 'x', capabilities, metadata: {}, weight: 1, health: 'healthy', load: 0, registeredAt: 0, revision };
      const message = { v: 1, t: 'delta', ns: 'test', departed: [], origins: [{ node: 'x1', incarnation: 1, covers: [[revision, revision]], removed: [], entries: [entry] }] };
      simulation.node('n0').transport.send('n1', 'foundation.registry/test', new TextEncoder().encode(JSON.stringify(message)));
      simulation.runFor(20);
    };
    send(1, 'first', ['a']);
    send(2, 'first', ['b']);
    send(3, 'second', ['b']);
    expect(registry.discover({ capabilities: ['a'] })).toEqual([]);
    expect(registry.find('first')).toBeUndefined();
    expect(byCapability).toEqual(['service-up first', 'service-down first']);
    expect(byName).toEqual(['service-up first', 'service-down first', 'service-up first', 'service-down first']);
  });

  it('an entry re-indexed under its id goes down as changed, or for health when the health alone took it out, not as unregistered (seed=131) (review finding)', () => {
    // The old form of a re-indexed entry went down with reason 'unregistered', though nothing
    // was unregistered: a watcher of its name heard it unregistered and back at once, and one
    // whose criteria only the new health left heard 'unregistered' where a change in place says 'health'.
    const { simulation, cluster } = start(131, 2);
    simulation.runFor(200);
    const registry = node(cluster, 'n1').registry;
    const byName: string[] = [];
    const byCapability: string[] = [];
    registry.watch('first', (event) => byName.push(event.type === 'service-down' ? `down ${event.reason}` : event.type));
    registry.watch({ capabilities: ['a'] }, (event) => byCapability.push(event.type === 'service-down' ? `down ${event.reason}` : event.type));
    const send = (revision: number, capabilities: string[], health: string): void => {
      const entry = { id: 'x1/1/1', name: 'first', mode: 'group', target: 'x', capabilities, metadata: {}, weight: 1, health, load: 0, registeredAt: 0, revision };
      const message = { v: 1, t: 'delta', ns: 'test', departed: [], origins: [{ node: 'x1', incarnation: 1, covers: [[revision, revision]], removed: [], entries: [entry] }] };
      simulation.node('n0').transport.send('n1', 'foundation.registry/test', new TextEncoder().encode(JSON.stringify(message)));
      simulation.runFor(20);
    };
    send(1, ['a'], 'healthy');
    send(2, ['a', 'b'], 'healthy');
    send(3, ['a'], 'unhealthy');
    expect(byName).toEqual(['service-up', 'down changed', 'service-up', 'down changed', 'service-up']);
    expect(byCapability).toEqual(['service-up', 'down changed', 'service-up', 'down health']);
  });

  it('an entry re-indexed under its id with a new health is told as a health-change too, as a change in place is (seed=132) (review finding)', () => {
    // A re-indexed entry went down in its old form and came up in its new one, and a new health
    // that came with the re-index was never told as health-change.
    const { simulation, cluster } = start(132, 2);
    simulation.runFor(200);
    const registry = node(cluster, 'n1').registry;
    const heard: string[] = [];
    registry.on('health-change', ({ instance, previous }) => heard.push(`health-change ${previous}→${instance.health} [${instance.capabilities.join(',')}]`));
    registry.watch('first', (event) => heard.push(event.type === 'service-down' ? `down ${event.reason}` : `${event.type} ${event.instance.health}`));
    const send = (revision: number, capabilities: string[], health: string): void => {
      const entry = { id: 'x1/1/1', name: 'first', mode: 'group', target: 'x', capabilities, metadata: {}, weight: 1, health, load: 0, registeredAt: 0, revision };
      const message = { v: 1, t: 'delta', ns: 'test', departed: [], origins: [{ node: 'x1', incarnation: 1, covers: [[revision, revision]], removed: [], entries: [entry] }] };
      simulation.node('n0').transport.send('n1', 'foundation.registry/test', new TextEncoder().encode(JSON.stringify(message)));
      simulation.runFor(20);
    };
    send(1, ['a'], 'healthy');
    send(2, ['a', 'b'], 'degraded');
    send(3, ['a', 'b'], 'unhealthy');
    send(4, ['a'], 'unhealthy');
    expect(heard).toEqual([
      'service-up healthy',
      // Re-indexed with a new health: its old form goes, the change of health is told, then its new form comes.
      'down changed',
      'health-change healthy→degraded [a,b]',
      'service-up degraded',
      // In place, as before.
      'health-change degraded→unhealthy [a,b]',
      'service-change unhealthy',
      // Re-indexed with the same health: no health-change.
      'down changed',
      'service-up unhealthy',
    ]);
  });

  it('an origin named twice in one message past maxServicesPerNode is refused alone, and the origins after it are merged (seed=126)', () => {
    // Each origin's delta is checked against the state before the message; the second delta of
    // one origin is within the bound on its own and past it after the first is merged.
    const { simulation, cluster } = start(126, 2, { registry: { limits: { maxServicesPerNode: 2 } } });
    simulation.runFor(200);
    const rejected: FoundationError[] = [];
    node(cluster, 'n1').registry.on('message-reject', ({ error }) => rejected.push(error));
    const entry = (origin: string, name: string, revision: number) => ({ id: `${origin}/1/${revision}`, name, mode: 'group', target: 'x', capabilities: [], metadata: {}, weight: 1, health: 'healthy', load: 0, registeredAt: 0, revision });
    const message = {
      v: 1,
      t: 'delta',
      ns: 'test',
      departed: [],
      origins: [
        { node: 'x1', incarnation: 1, covers: [[1, 2]], removed: [], entries: [entry('x1', 'one', 1), entry('x1', 'two', 2)] },
        { node: 'x1', incarnation: 1, covers: [[3, 3]], removed: [], entries: [entry('x1', 'three', 3)] },
        { node: 'x2', incarnation: 1, covers: [[1, 1]], removed: [], entries: [entry('x2', 'after', 1)] },
      ],
    };
    simulation.node('n0').transport.send('n1', 'foundation.registry/test', new TextEncoder().encode(JSON.stringify(message)));
    simulation.runFor(20);
    expect(rejected.map((error) => error.code)).toEqual([5604]);
    expect(rejected[0]!.message).toMatch(/maxServicesPerNode/);
    expect(node(cluster, 'n1').registry.listServices()).toEqual(['after', 'one', 'two']);
  });

  it('the key-listed deltas of one origin in a message are checked against its entries once, not once each (seed=127)', () => {
    // A delta with a key list removes what its covered revisions hold and its keys leave out,
    // so it looks at every entry of its origin. A message may name one origin many times (an
    // origin's delta too large for one message travels in pieces, and two can share a message):
    // 32,769 such deltas in 2.7 MB, against an origin of 100,000 entries, took 82 s of CPU.
    const size = 2000;
    // No anti-entropy rounds: one in the window counted below walks the origin too (its summary
    // and delta), and under other seeds one fell there.
    const { simulation, cluster } = start(127, 2, { registry: { limits: { maxServicesPerNode: 10_000 }, timings: { ...defaultLocalTimings(), antiEntropyIntervalMs: 0 } } });
    simulation.runFor(200);
    const rejected: FoundationError[] = [];
    node(cluster, 'n1').registry.on('message-reject', ({ error }) => rejected.push(error));
    const transport = simulation.node('n0').transport;
    const send = (origins: unknown[]) => transport.send('n1', 'foundation.registry/test', new TextEncoder().encode(JSON.stringify({ v: 1, t: 'delta', ns: 'test', departed: [], origins })));
    const entry = (revision: number) => ({ id: `x1/1/${revision}`, name: 'many', mode: 'group', target: revision, capabilities: [], metadata: {}, weight: 1, health: 'healthy', load: 0, registeredAt: 0, revision });
    for (let low = 1; low <= size; low += 1000) {
      send([{ node: 'x1', incarnation: 1, covers: [[low, low + 999]], removed: [], entries: Array.from({ length: 1000 }, (_, index) => entry(low + index)) }]);
    }
    simulation.runFor(20);
    expect(node(cluster, 'n1').registry.lookupAll('many')).toHaveLength(size);
    const piece = { node: 'x1', incarnation: 1, covers: [[1, 1]], removed: [], entries: [], keys: [['x1/1/1', 1]] };
    send(Array.from({ length: 500 }, () => piece));
    const scans = countScansOfMapsOf(size, () => simulation.runFor(20));
    expect(rejected).toEqual([]);
    expect(node(cluster, 'n1').registry.lookupAll('many')).toHaveLength(size);
    expect(scans).toBeLessThanOrEqual(2);
  });

  it('a key-listed delta split by encodeDeltas, its pieces in one message, leaves the state the whole delta leaves (seed=128)', () => {
    // The origin held revisions 1 to 30; it has since removed the odd ones, forgotten those
    // removals, and registered 31 to 60. Its delta to a peer behind says so by a key list.
    const entry = (revision: number) => entryOf('x1', `svc-${revision % 4}`, revision, revision);
    const old = Array.from({ length: 30 }, (_, index) => entry(index + 1));
    const fresh = Array.from({ length: 30 }, (_, index) => entry(index + 31));
    const survivors = [...old.filter((instance) => instance.revision % 2 === 0), ...fresh];
    const delta = { node: 'x1', incarnation: 1, covers: [{ low: 1, high: 60 }], entries: fresh, removed: [], keys: survivors.map(({ id, revision }) => ({ id, revision })) };
    const pieces = encodeDeltas('test', [delta], [], 7).flatMap((payload) => (JSON.parse(new TextDecoder().decode(payload)) as { origins: unknown[] }).origins);
    expect(pieces.length).toBeGreaterThan(2);
    const whole = encodeDeltas('test', [delta], [], 1000);
    const inPieces = [new TextEncoder().encode(JSON.stringify({ v: 1, t: 'delta', ns: 'test', departed: [], origins: pieces }))];
    const states = [whole, inPieces].map((payloads) => {
      const { simulation, cluster } = start(128, 2);
      simulation.runFor(200);
      const rejected: FoundationError[] = [];
      node(cluster, 'n1').registry.on('message-reject', ({ error }) => rejected.push(error));
      const transport = simulation.node('n0').transport;
      for (const payload of encodeDeltas('test', [{ node: 'x1', incarnation: 1, covers: [{ low: 1, high: 30 }], entries: old, removed: [], keys: undefined }], [], 1000)) {
        transport.send('n1', 'foundation.registry/test', payload);
      }
      simulation.runFor(20);
      expect(node(cluster, 'n1').registry.discover({ health: 'any' })).toHaveLength(30);
      for (const payload of payloads) transport.send('n1', 'foundation.registry/test', payload);
      simulation.runFor(20);
      expect(rejected).toEqual([]);
      return { contents: contents(node(cluster, 'n1').registry), digest: node(cluster, 'n1').registry.digest() };
    });
    expect(states[0]!.contents.split('\n')).toHaveLength(survivors.length);
    expect(states[1]).toEqual(states[0]);
  });

  it('a node holding as many registrations as its peers accept replaces one, and its peers follow (seed=129)', () => {
    // Its delta removes one and adds one. Counted without the removal it went past the peers'
    // maxServicesPerNode, and was refused on every round after: they kept showing the removed
    // registration and never the new one.
    const limits = { maxServicesPerNode: 3, maxLocalServices: 3 };
    const { simulation, cluster } = start(129, 2, { registry: { limits } });
    simulation.runFor(200);
    const rejected: FoundationError[] = [];
    node(cluster, 'n1').registry.on('message-reject', ({ error }) => rejected.push(error));
    const origin = node(cluster, 'n0').registry;
    const first = origin.register('a', 'a');
    origin.register('b', 'b');
    origin.register('c', 'c');
    simulation.runUntil(() => node(cluster, 'n1').registry.listServices().length === 3, { maxTime: 5000 });
    first.unregister();
    origin.register('d', 'd');
    simulation.runFor(3000);
    expect(rejected).toEqual([]);
    expect(node(cluster, 'n1').registry.listServices()).toEqual(['b', 'c', 'd']);
    expect(converged(simulation, cluster)).toBe(true);
  });

  it('a peer that claims more services than maxServicesPerNode is refused whole (seed=111)', () => {
    const { simulation, cluster } = start(111, 2, { registry: { limits: { maxServicesPerNode: 5 } } });
    simulation.runFor(200);
    const rejected: FoundationError[] = [];
    node(cluster, 'n1').registry.on('message-reject', ({ error }) => rejected.push(error));
    const entries = Array.from({ length: 6 }, (_, index) =>
      entryOf('n9', `flood-${index}`, index, index + 1),
    );
    const [payload] = encodeDeltas('test', [{ node: 'n9', incarnation: 1, covers: [{ low: 1, high: 6 }], entries, removed: [], keys: undefined }], [], 100);
    simulation.node('n0').transport.send('n1', 'foundation.registry/test', payload);
    simulation.runFor(50);
    expect(rejected.map((error) => error.code)).toEqual([5604]);
    expect(rejected[0]!.message).toMatch(/maxServicesPerNode/);
    expect(node(cluster, 'n1').registry.listServices()).toEqual([]);
  });
});

describe('namespaces across the cluster', () => {
  it('two namespaces on the same nodes and network do not see each other (seed=112)', () => {
    const simulation = createSimulation({ seed: 112 });
    const registries = new Map<string, { production: Registry; test: Registry }>();
    for (const id of ['a', 'b']) {
      simulation.addNode(id, {
        start: ({ transport, clock, random }) => {
          clock.setTimer(0, () => {
          const membership = createSimMembership(transport, clock, random, ['a', 'b']);
          const broadcast = createGossipBroadcast(transport, () => membership.members(), random);
          const common = { nodeId: id, clock, random, broadcast, transport, membership, timings: defaultLocalTimings() };
          registries.set(id, { production: createRegistry(common), test: createRegistry({ ...common, namespace: 'test:ref-1' }) });
          });
        },
      });
    }
    simulation.runFor(100);
    registries.get('a')!.production.register('db', 'prod');
    registries.get('a')!.test.register('db', 'test');
    registries.get('a')!.test.register('only-in-test', 1);
    simulation.runFor(500);
    expect(registries.get('b')!.production.lookup('db')).toBe('prod');
    expect(registries.get('b')!.test.lookup('db')).toBe('test');
    expect(registries.get('b')!.production.listServices()).toEqual(['db']);
    expect(registries.get('b')!.production.digest()).not.toBe(registries.get('b')!.test.digest());
  });
});

describe('determinism', () => {
  it('the same seed replays the same cluster run exactly', async () => {
    const seed = seedFromEnvironment(113);
    await checkDeterminism(seed, (simulation) => {
      const cluster = createCluster(simulation, ids(5));
      simulation.runFor(100);
      for (const member of cluster.values()) member.registry.register(`svc-${member.id}`, member.id, { mode: 'group' });
      simulation.network.partition([['n0', 'n1'], ['n2', 'n3', 'n4']]);
      simulation.runFor(1000);
      simulation.network.heal();
      simulation.runFor(1000);
    });
  });
});

describe('closing', () => {
  it('cancels every timer it set, the exchange after a member join included (review finding)', () => {
    // The exchange with a newcomer was scheduled on an untracked timer that outlived close().
    const simulation = createSimulation({ seed: 119 });
    const live = new Set<{ cancel(): void }>();
    /** A handle counted as live until it is cancelled (or, for a one-shot timer, fires). */
    const tracked = (set: (done: () => void) => { cancel(): void }): { cancel(): void } => {
      const handle = {
        cancel: () => {
          live.delete(handle);
          timer.cancel();
        },
      };
      const timer = set(() => live.delete(handle));
      live.add(handle);
      return handle;
    };
    const clock = {
      now: () => simulation.clock.now(),
      monotonic: () => simulation.clock.monotonic(),
      setTimer: (delayMs: number, callback: () => void) =>
        tracked((done) =>
          simulation.clock.setTimer(delayMs, () => {
            done();
            callback();
          }),
        ),
      setRepeatingTimer: (intervalMs: number, callback: () => void) => tracked(() => simulation.clock.setRepeatingTimer(intervalMs, callback)),
    };
    const joins: ((node: string) => void)[] = [];
    const membership: MembershipEvents = {
      members: () => ['n1'],
      on: (event, handler) => {
        if (event === 'member-join') joins.push(handler);
        return () => undefined;
      },
    };
    const transport = { send: () => true, onMessage: () => () => undefined, request: () => Promise.reject(new Error('unused')), onRequest: () => () => undefined };
    const registry = createRegistry<unknown>({ nodeId: 'n0', clock, random: simulation.random.fork('registry'), timings: defaultLocalTimings(), membership, transport });
    for (const join of joins) join('n1');
    registry.close();
    expect(live.size).toBe(0);
  });
});

