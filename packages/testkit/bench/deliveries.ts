// Simulated message deliveries per second. Each node sits in a random overlay of degree ~8
// (the shape of HyParView's active views) and forwards every message it receives to a random
// neighbour, so the number of messages in flight stays constant (two per node). The same
// traffic runs through a bare event loop (a heap of events and a callback per node, no
// network model) in the same run: the floor that JavaScript's memory access sets at this size.
import { createSimulation } from '../src/index';
import type { TraceMode } from '../src/index';

const DEGREE = 8;

function overlay(nodes: number, next: () => number): number[][] {
  const neighbours: number[][] = Array.from({ length: nodes }, () => []);
  for (let node = 0; node < nodes; node += 1) {
    for (let edge = 0; edge < DEGREE / 2; edge += 1) {
      const other = Math.floor(next() * nodes);
      if (other === node) continue;
      neighbours[node]!.push(other);
      neighbours[other]!.push(node);
    }
  }
  return neighbours;
}

/** Deliveries per second through the simulation, after a warm-up. */
export function simulationDeliveries(nodes: number, deliveries: number, trace: TraceMode): number {
  const simulation = createSimulation({ seed: 1, trace });
  const ids = Array.from({ length: nodes }, (_, index) => `n${index}`);
  const neighbours = overlay(nodes, () => simulation.random.float()).map((list) => list.map((index) => ids[index]!));
  let delivered = 0;
  ids.forEach((id, index) =>
    simulation.addNode(id, {
      start: ({ transport, random }) => {
        const mine = neighbours[index]!;
        transport.onMessage('hop', (message) => {
          delivered += 1;
          transport.send(mine[random.int(0, mine.length)]!, 'hop', message.payload);
        });
      },
    }),
  );
  for (let index = 0; index < 2 * nodes; index += 1) {
    const from = index % nodes;
    simulation.node(ids[from]!).transport.send(neighbours[from]![0] ?? ids[(from + 1) % nodes]!, 'hop', { hop: index });
  }
  simulation.runUntil(() => delivered >= deliveries / 10, { maxTime: 1e12 });
  const start = performance.now();
  const before = delivered;
  simulation.runUntil(() => delivered >= before + deliveries, { maxTime: 1e12 });
  return (delivered - before) / ((performance.now() - start) / 1000);
}

/** The same traffic through a bare binary-heap event loop. */
export function floorDeliveries(nodes: number, deliveries: number): number {
  let seed = 1;
  const next = (): number => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    return seed / 4_294_967_296;
  };
  const neighbours = overlay(nodes, next);
  const times: number[] = [];
  const targets: number[] = [];
  const payloads: unknown[] = [];
  let now = 0;
  const push = (time: number, target: number, payload: unknown): void => {
    let index = times.length;
    times.push(time);
    targets.push(target);
    payloads.push(payload);
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (times[parent]! <= time) break;
      times[index] = times[parent]!;
      targets[index] = targets[parent]!;
      payloads[index] = payloads[parent];
      index = parent;
    }
    times[index] = time;
    targets[index] = target;
    payloads[index] = payload;
  };
  const pop = (): [number, unknown] => {
    const target = targets[0]!;
    const payload = payloads[0];
    now = times[0]!;
    const lastTime = times.pop()!;
    const lastTarget = targets.pop()!;
    const lastPayload = payloads.pop();
    const length = times.length;
    if (length > 0) {
      let index = 0;
      for (;;) {
        let child = 2 * index + 1;
        if (child >= length) break;
        if (child + 1 < length && times[child + 1]! < times[child]!) child += 1;
        if (lastTime <= times[child]!) break;
        times[index] = times[child]!;
        targets[index] = targets[child]!;
        payloads[index] = payloads[child];
        index = child;
      }
      times[index] = lastTime;
      targets[index] = lastTarget;
      payloads[index] = lastPayload;
    }
    return [target, payload];
  };
  const handlers = neighbours.map((mine) => (payload: unknown) => push(now + 1 + next() * 4, mine[Math.floor(next() * mine.length)]!, payload));
  for (let index = 0; index < 2 * nodes; index += 1) push(1 + next() * 4, index % nodes, { hop: index });
  const run = (count: number): void => {
    for (let done = 0; done < count; done += 1) {
      const [target, payload] = pop();
      handlers[target]!(payload);
    }
  };
  run(deliveries / 10);
  const start = performance.now();
  run(deliveries);
  return deliveries / ((performance.now() - start) / 1000);
}
