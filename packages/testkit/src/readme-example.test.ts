// The README's examples, run as a test so that they stay true.
import { expect, it } from '@jest/globals';
import { checkDeterminism, checkLinearizability, createHistoryRecorder, createSimulation, kvModel } from './index';

it('runs the README simulation example', async () => {
  const simulation = createSimulation({ seed: 42, network: { latency: { min: 1, max: 5 } } });
  const pings = new Map<string, number>();
  for (const id of ['a', 'b', 'c']) {
    simulation.addNode(id, {
      // Called at start and after every restart: this is the node's volatile state.
      start: ({ id, clock, random, transport }) => {
        pings.set(id, 0);
        transport.onMessage('ping', () => pings.set(id, pings.get(id)! + 1));
        clock.setRepeatingTimer(100, () => transport.send(random.pick(['a', 'b', 'c'].filter((peer) => peer !== id)), 'ping', { from: id }));
      },
    });
  }
  simulation.network.partition([['a'], ['b', 'c']], { oneWay: true }); // a → b, c lost; b, c → a delivered
  simulation.runFor(1_000);
  expect(simulation.network.stats().droppedBy.partition).toBeGreaterThan(0);
  expect(pings.get('a')).toBeGreaterThan(0);
  simulation.crash('b');
  simulation.network.heal();
  simulation.restart('b');
  simulation.runUntil(() => simulation.network.stats().delivered > 50, { maxTime: 10_000 });
  expect(simulation.network.stats().delivered).toBeGreaterThan(50);

  // The same seed replays the same run; a scenario that reads the real clock fails here.
  await checkDeterminism(42, (sim) => {
    sim.addNode('a', { start: ({ clock, transport }) => void clock.setRepeatingTimer(10, () => transport.send('a', 'tick', null)) });
    sim.runFor(100);
  });
  // A scenario whose runs differ (here by a counter outside the simulation, as the real clock would).
  let runs = 0;
  await expect(
    checkDeterminism(42, (sim) => {
      runs += 1;
      sim.schedule(runs, () => undefined);
      sim.run();
    }),
  ).rejects.toThrow(/seed=42/);
});

it('runs the README linearizability example', () => {
  const history = createHistoryRecorder();
  const put = history.invoke('client-1', 'put', { key: 'x', value: 1 });
  history.ok(put);
  const get = history.invoke('client-2', 'get', { key: 'x' });
  history.ok(get, null); // a lost write

  const result = checkLinearizability(history.events(), kvModel());
  expect(result).toMatchObject({ valid: false, partition: 'x' });
  expect(result.valid === false && result.minimal.map((event) => `${event.type} ${event.f}`)).toEqual(['invoke put', 'ok put', 'invoke get', 'ok get']);
  expect(result.valid === false && result.explanation).toMatch(/^linearized at most 1 of 2 /);
});
