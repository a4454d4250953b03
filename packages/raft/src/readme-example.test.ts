// The README's example, run as a test so that it stays true: each of three nodes runs it, as
// each would in its own process, on the simulated network and clock instead of the real ones.
import { expect, it } from '@jest/globals';
import type { Random, Scheduler } from '@foundation/core';
import { createSimulation } from '@foundation/testkit';
import { createKvStateMachine, createMemoryPersistence, createRaftNode } from './index';
import type { KvQueryResult, KvResult, RaftTransport } from './index';

interface Outcome {
  readonly leader: string;
  readonly results?: { readonly cas: KvResult; readonly limit: KvQueryResult; readonly voters: readonly string[] };
}

async function example(id: string, transport: RaftTransport, clock: Scheduler, random: Random): Promise<Outcome> {
  const node = createRaftNode({
    id,
    peers: ['n1', 'n2', 'n3'], // the voters of a new cluster, the same on every node
    persistence: createMemoryPersistence(), // the README: createFileStorage(`./data/${id}`)
    transport, // the cluster transport
    stateMachine: createKvStateMachine(),
    clock,
    random,
  });
  node.on('leader-change', ({ leader, term }) => console.log(`term ${term}: ${leader ?? 'no leader'}`));
  const elected = new Promise<string>((resolve) => {
    const stop = node.on('leader-change', ({ leader }) => {
      if (leader === null) return;
      stop();
      resolve(leader);
    });
  });
  await node.start();

  const leader = await elected;
  if (leader === node.id) {
    await node.propose({ op: 'put', key: 'config/limit', value: 10 }); // resolves once applied here
    const cas = await node.propose({ op: 'cas', key: 'config/limit', expected: 10, value: 20 }); // { op: 'cas', ok: true, current: 20 }
    const limit = await node.read({ op: 'get', key: 'config/limit' }); // linearizable: 20

    await node.addLearner('n4'); // n4 started with peers: []; it catches up without voting
    const membership = await node.addVoter('n4');
    return { leader, results: { cas, limit, voters: [...membership.voters].sort() } };
  }
  return { leader };
}

it('runs the README example on each node of a three-node cluster', async () => {
  const simulation = createSimulation({ seed: 7, network: { latency: { min: 0.5, max: 2 } } });
  const outcomes = new Map<string, Outcome>();
  const failures: unknown[] = [];
  for (const id of ['n1', 'n2', 'n3']) {
    simulation.addNode(id, {
      start: ({ transport, clock, random }) => {
        example(id, transport, clock, random).then(
          (outcome) => outcomes.set(id, outcome),
          (error: unknown) => failures.push(error),
        );
      },
    });
  }
  simulation.addNode('n4', {
    start: ({ transport, clock, random }) => {
      const learner = createRaftNode({ id: 'n4', peers: [], persistence: createMemoryPersistence(), transport, stateMachine: createKvStateMachine(), clock, random });
      learner.start().catch((error: unknown) => failures.push(error));
    },
  });

  const silenced = console.log;
  console.log = () => undefined;
  try {
    await simulation.runUntilAsync(() => failures.length > 0 || (outcomes.size === 3 && [...outcomes.values()].some((outcome) => outcome.results !== undefined)), { maxTime: 30_000 });
  } finally {
    console.log = silenced;
  }

  expect(failures).toEqual([]);
  const leaders = new Set([...outcomes.values()].map((outcome) => outcome.leader));
  expect(leaders.size).toBe(1);
  const [leader] = leaders;
  expect(outcomes.get(leader!)?.results).toEqual({
    cas: { op: 'cas', ok: true, current: 20 },
    limit: 20,
    voters: ['n1', 'n2', 'n3', 'n4'],
  });
});
