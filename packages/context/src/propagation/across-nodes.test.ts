import { describe, expect, it } from '@jest/globals';
import { createSimulation, seedFromEnvironment } from '@foundation/testkit';
import type { Context } from '../context';
import { createFlightRecorder } from '../flight-recorder';
import type { FlightRecorder } from '../flight-recorder';
import { reconstructPath } from '../hop-path';
import { createPropagator } from './propagator';

const seed = seedFromEnvironment(3);

// Three nodes on testkit's simulated network, their wall clocks an hour apart: a request enters
// at a with a 25 ms deadline, b works on it for 26 ms and forwards it to c anyway. Links take 8 ms.
describe(`a request crossing simulated nodes (seed=${seed})`, () => {
  it('counts hops, carries the deadline as remaining time, and leaves a path the recorders reconstruct', () => {
    const simulation = createSimulation({ seed, network: { latency: 8 } });
    const recorders = new Map<string, FlightRecorder>();
    const seen = new Map<string, { hops: number; remaining: number; expired: boolean; correlationId: string | undefined }>();
    const skews: Record<string, number> = { a: 0, b: 3_600_000, c: -3_600_000 };

    for (const id of ['a', 'b', 'c']) {
      simulation.addNode(id, {
        clockSkewMs: skews[id]!,
        start: ({ clock, random, transport }) => {
          const recorder = createFlightRecorder({ capacity: 100 });
          recorders.set(id, recorder);
          const propagator = createPropagator({ nodeId: id, processId: 'main', clock, random, recorder });
          const forward = (context: Context, to: string): void => {
            const headers: Record<string, string> = {};
            propagator.inject(context, headers, undefined, { peer: to });
            transport.send(to, 'work', { step: to }, { headers });
          };
          transport.onMessage('work', (message) => {
            const context = propagator.extract(message.headers ?? {}, undefined, { peer: message.from });
            seen.set(id, { hops: context.hops, remaining: context.remainingTime(clock), expired: context.isExpired(clock), correlationId: context.correlationId });
            if (context.isExpired(clock)) return; // the caller has given up: do not start
            if (id === 'b') clock.setTimer(26, () => forward(context, 'c'));
          });
          if (id === 'a') {
            clock.setTimer(1, () => {
              const entry = propagator.extract({}).withTimeout(25, clock); // enters the cluster here
              forward(entry, 'b');
            });
          }
        },
      });
    }
    simulation.run();

    const atB = seen.get('b')!;
    const atC = seen.get('c')!;
    // The remaining time travels; transit time is not known to the receiver, so b sees all 25 ms.
    expect(atB).toMatchObject({ hops: 1, remaining: 25, expired: false });
    // b sent with nothing left (25 − 26 → 0), so c does not start the work.
    expect(atC).toMatchObject({ hops: 2, remaining: 0, expired: true });
    expect(atC.correlationId).toBe(atB.correlationId);

    const correlationId = atB.correlationId!;
    const gathered = [...recorders.values()].flatMap((recorder) => recorder.query(correlationId));
    const path = reconstructPath(gathered);
    expect(path.map((hop) => `${hop.node}:${hop.direction}:${hop.hops}`)).toEqual(['a:in:0', 'a:out:0', 'b:in:1', 'b:out:1', 'c:in:2']);
    expect(path.map((hop) => hop.peer)).toEqual([undefined, 'b', 'a', 'c', 'b']);
    // Wall times alone would put c's arrival first: its clock is two hours behind b's.
    expect(Math.min(...gathered.map((hop) => hop.time))).toBe(path[4]!.time);
  });
});
