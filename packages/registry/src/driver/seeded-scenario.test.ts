// A randomized scenario, replayed from its seed: a few nodes register, unregister and claim
// global names at random while nodes restart (some faster than failure detection, so that the
// report of the old start comes late), followers install snapshots of the consensus log, and
// watchers on every node keep the view they are told. Once the faults stop, every node's view
// and every watcher's must be exactly the live registrations: the cluster registrations whose
// handles still hold them, and the global names the log holds, each of the node's current start.
//
// The network loses, duplicates and reorders a few messages meanwhile. Three seeds by default
// (under a second each); `FOUNDATION_SEED=n` starts from another, `REGISTRY_SCENARIO_SEEDS=k`
// runs k seeds from it (seeds 1–200 passed when it was written, and 410 more of longer runs).
import { describe, expect, it } from '@jest/globals';
import type { Random } from '@foundation/core';
import { createSimulation, seedFromEnvironment } from '@foundation/testkit';
import type { Simulation } from '@foundation/testkit';
import { createCluster } from '../../test/support/cluster';
import type { Cluster, ClusterNode } from '../../test/support/cluster';
import type { DiscoveryCriteria } from '../core/criteria';
import { GlobalNames } from '../core/global-names';
import { DEFAULT_LIMITS } from '../core/limits';
import type { ServiceInstance } from '../core/types';
import type { Registration, WatchEvent } from '../registry';

const NODES = ['n0', 'n1', 'n2', 'n3', 'n4'];
/** Holds the log; never restarted (the sequencer log keeps its entries in memory). */
const SEQUENCER = 'n0';
const STEPS = 70;
const UNIQUE = ['u0', 'u1', 'u2', 'u3'];
const GROUPS = ['g0', 'g1', 'g2'];
const GLOBALS = ['G0', 'G1', 'G2'];
const CAPABILITIES = ['read', 'write', 'admin'];

/** What the watchers of every start of a node watch. */
const WATCHED: readonly (string | DiscoveryCriteria)[] = [{ health: 'any' }, { capabilities: ['write'], health: 'any' }, 'g0', { scope: 'global', health: 'any' }];

function key(instance: ServiceInstance<unknown>): string {
  return `${instance.id}#${instance.incarnation}@${instance.revision} ${instance.scope} ${instance.name} ${instance.health} ${JSON.stringify(instance.target)} [${instance.capabilities.join(',')}]`;
}

/** Whether `instance` matches one of WATCHED (every instance here is healthy, and its criteria take any health). */
function matches(criteria: string | DiscoveryCriteria, instance: ServiceInstance<unknown>): boolean {
  if (typeof criteria === 'string') return instance.name === criteria;
  if (criteria.scope !== undefined && instance.scope !== criteria.scope) return false;
  return (criteria.capabilities ?? []).every((capability) => instance.capabilities.includes(capability));
}

interface Watched {
  readonly node: string;
  readonly start: number;
  readonly criteria: string | DiscoveryCriteria;
  /** What the watcher was told, applied in order: id → instance. */
  readonly view: Map<string, ServiceInstance<unknown>>;
  readonly problems: string[];
}

function watchAll(member: ClusterNode, start: number, watchers: Watched[]): void {
  for (const criteria of WATCHED) {
    const watched: Watched = { node: member.id, start, criteria, view: new Map(), problems: [] };
    watchers.push(watched);
    member.registry.watch(
      criteria,
      (event: WatchEvent<unknown>) => {
        const id = event.instance.id;
        if (event.type === 'service-down') {
          if (!watched.view.delete(id)) watched.problems.push(`down of ${id}, never up`);
        } else if (event.type === 'service-up') {
          if (watched.view.has(id)) watched.problems.push(`up of ${id}, up already`);
          watched.view.set(id, event.instance);
        } else {
          if (!watched.view.has(id)) watched.problems.push(`change of ${id}, never up`);
          watched.view.set(id, event.instance);
        }
      },
      { initial: true },
    );
  }
}

async function runScenario(seed: number | string): Promise<void> {
  const simulation: Simulation = createSimulation({ seed, network: { latency: { min: 1, max: 8 }, failureDetectionMs: 300 } });
  const random: Random = simulation.random.fork('scenario');
  const watchers: Watched[] = [];
  /** The cluster registrations made by each node's current start. */
  const handles = new Map<string, Registration<unknown>[]>();
  const cluster: Cluster = createCluster(simulation, NODES, {
    sequencer: SEQUENCER,
    neighbours: 2,
    registry: { consensusTimeoutMs: 1000, releaseJitterMs: 200 },
    onStart: (member) => {
      handles.set(member.id, []);
      watchAll(member, simulation.node(member.id).incarnation, watchers);
    },
  });
  let serial = 0;
  /** A target that names the start that registered it. */
  const targetOf = (id: string, name: string): string => `${id}:s${simulation.node(id).incarnation}:${name}:${(serial += 1)}`;
  const live = (): ClusterNode[] => NODES.filter((id) => simulation.node(id).up && cluster.has(id)).map((id) => cluster.get(id)!);
  /** Nodes down, and when each comes back. */
  const down = new Map<string, number>();
  const ignore = (): undefined => undefined;

  await simulation.runForAsync(300);
  // Deltas are idempotent and commute, and anti-entropy repairs losses: a lossy network that
  // duplicates and reorders changes only how long convergence takes.
  simulation.network.configure({ dropRate: 0.01, duplicateRate: 0.05, reorderRate: 0.1 });
  for (let step = 0; step < STEPS; step += 1) {
    for (const [id, at] of [...down]) {
      if (simulation.now() < at) continue;
      down.delete(id);
      simulation.restart(id);
    }
    const members = live();
    const member = members[random.int(0, members.length)]!;
    const registry = member.registry;
    const roll = random.float();
    try {
      if (roll < 0.2) {
        const name = random.pick(UNIQUE);
        handles.get(member.id)!.push(registry.register(name, targetOf(member.id, name), { capabilities: random.sample(CAPABILITIES, random.int(1, 3)) }));
      } else if (roll < 0.4) {
        const name = random.pick(GROUPS);
        handles.get(member.id)!.push(registry.register(name, targetOf(member.id, name), { mode: 'group', capabilities: random.sample(CAPABILITIES, random.int(1, 3)) }));
      } else if (roll < 0.55) {
        const own = handles.get(member.id)!;
        if (own.length > 0) own.splice(random.int(0, own.length), 1)[0]!.unregister();
      } else if (roll < 0.67) {
        const name = random.pick(GLOBALS);
        registry.registerGlobal(name, targetOf(member.id, name), { capabilities: ['write'] }).then(ignore, ignore);
      } else if (roll < 0.72) {
        registry.unregisterGlobal(random.pick(GLOBALS)).then(ignore, ignore);
      } else if (roll < 0.82 && member.id !== SEQUENCER && down.size < 2) {
        // Back faster than failure detection (its peers hear of the old start's end late), or after it.
        simulation.crash(member.id);
        handles.set(member.id, []);
        down.set(member.id, simulation.now() + (random.float() < 0.6 ? random.int(0, 200) : random.int(400, 1500)));
      } else if (roll < 0.9 && member.id !== SEQUENCER) {
        // A follower behind the log (entries lost on the way) installs a snapshot of it.
        simulation.network.cut(SEQUENCER, member.id, { oneWay: true });
        const follower = member;
        simulation.schedule(random.int(50, 400), () => {
          simulation.network.heal();
          if (simulation.node(follower.id).up && cluster.get(follower.id) === follower) follower.log!.requestSnapshot();
        });
      }
    } catch (error) {
      // A name taken (5601) is an expected answer to a random registration; anything else is not.
      if ((error as { code?: unknown }).code !== 5601) throw error;
    }
    await simulation.runForAsync(random.int(5, 150));
  }
  for (const id of down.keys()) simulation.restart(id);
  down.clear();
  simulation.network.heal();
  simulation.network.configure({ dropRate: 0, duplicateRate: 0, reorderRate: 0 });
  // Failure detection, releases of earlier starts' names (jitter, retries), anti-entropy.
  await simulation.runForAsync(10_000);

  const expected = new Map<string, ServiceInstance<unknown>>();
  for (const member of live()) {
    for (const handle of handles.get(member.id)!) {
      const instance = handle.instance();
      if (instance !== undefined) expected.set(instance.id, instance);
    }
  }
  const log = cluster.get(SEQUENCER)!.log!;
  const names = new GlobalNames('test', DEFAULT_LIMITS);
  for (const entry of log.committed()) {
    try {
      names.apply(entry.command, entry.index);
    } catch {
      // Refused when applied: it changed nothing.
    }
  }
  for (const holder of names.all()) {
    expected.set(holder.id, holder);
    // Held for the node's current start: an earlier start's names were released.
    expect({ holder: holder.id, target: holder.target }).toEqual({ holder: holder.id, target: expect.stringMatching(new RegExp(`^${holder.node}:s${simulation.node(holder.node).incarnation}:`)) });
  }
  const wanted = [...expected.values()].map(key).sort();
  for (const member of live()) {
    expect({ node: member.id, view: member.registry.discover({ health: 'any' }).map(key).sort() }).toEqual({ node: member.id, view: wanted });
  }
  for (const watched of watchers) {
    if (watched.start !== simulation.node(watched.node).incarnation) continue;
    const told = [...watched.view.values()].map(key).sort();
    const criteria = JSON.stringify(watched.criteria);
    expect({ node: watched.node, criteria, problems: watched.problems, view: told }).toEqual({
      node: watched.node,
      criteria,
      problems: [],
      view: [...expected.values()].filter((instance) => matches(watched.criteria, instance)).map(key).sort(),
    });
  }
}

describe('a seeded random scenario: registrations, claims, restarts, late failure reports, snapshots', () => {
  const first = seedFromEnvironment(4242);
  const count = Number(process.env.REGISTRY_SCENARIO_SEEDS ?? 3);
  const seeds = Array.from({ length: count }, (_, index) => (typeof first === 'number' ? first + index : `${first}-${index}`));
  it.each(seeds)('every node and every watcher ends with exactly the live registrations (seed=%s)', async (seed) => {
    await runScenario(seed);
  }, 60_000);
});
