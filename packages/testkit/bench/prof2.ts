import { createSimulation } from '../src/simulation/simulation';
const nodes = Number(process.env.N ?? 10_000), degree = 8, inflight = Number(process.env.F ?? 20_000), target = 3_000_000;
const simulation = createSimulation({ seed: 1, trace: (process.argv[2] as 'full') ?? 'full' });
const ids = Array.from({ length: nodes }, (_, i) => `n${i}`);
const neighbours: string[][] = ids.map(() => []);
const r = simulation.random;
for (let i = 0; i < nodes; i++) for (let k = 0; k < degree / 2; k++) { const j = r.int(0, nodes); if (j !== i) { neighbours[i]!.push(ids[j]!); neighbours[j]!.push(ids[i]!); } }
let delivered = 0;
ids.forEach((id, i) => simulation.addNode(id, { start: ({ transport, random }) => {
  const mine = neighbours[i]!;
  transport.onMessage('hop', (m) => { delivered++; transport.send(mine[random.int(0, mine.length)]!, 'hop', m.payload); });
}}));
for (let k = 0; k < inflight; k++) { const i = r.int(0, nodes); simulation.node(ids[i]!).transport.send(neighbours[i]![0]!, 'hop', { hop: k }); }
const t0 = performance.now();
simulation.runUntil(() => delivered >= target, { maxTime: 1e9 });
const t1 = performance.now();
console.log(simulation.traceHash(), 'deliveries/s', Math.round(delivered / ((t1 - t0) / 1000)), simulation.stats());
