// The README's example, run as a test so that it stays true.
import { expect, it } from '@jest/globals';
import { createFlightRecorder, createPropagator, currentContext, getValue, withContext } from './index';

it('runs the README example', async () => {
  const recorder = createFlightRecorder({ capacity: 10_000 });
  const nodeA = createPropagator({ nodeId: 'node-a', recorder });
  const nodeB = createPropagator({ nodeId: 'node-b', recorder });

  const entry = nodeA.extract({}).withTimeout(250).setBaggage('tenant', 'acme');
  const headers: Record<string, string> = {};
  await withContext(entry, async () => {
    await Promise.resolve();
    nodeA.inject(currentContext(), headers, undefined, { peer: 'node-b' });
  });

  const received = nodeB.extract(headers, undefined, { peer: 'node-a' });
  expect(received.hops).toBe(1);
  expect(received.remainingTime()).toBeLessThanOrEqual(250);
  expect(received.getBaggage('tenant')).toEqual({ value: 'acme' });
  await withContext(received, async () => {
    received.throwIfExpired();
    expect(getValue('correlationId')).toBe(entry.correlationId);
  });

  expect(recorder.query(received.correlationId!).map((hop) => `${hop.node}:${hop.direction}:${hop.hops}`)).toEqual(['node-a:in:0', 'node-a:out:0', 'node-b:in:1']);
});
