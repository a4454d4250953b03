// The framing property over real sockets: random sizes on random channels and keys between
// two nodes on loopback; every message arrives intact and in order per key. Few runs (each
// is a real stream); the pure property test in src/core runs the many cases.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Transport } from '../src/index';
import { closeNodes, link, startNode, waitFor } from './helpers';

const channels = {
  one: { parallelism: 1 },
  three: { parallelism: 3, priority: 4 },
  sure: { parallelism: 2, reliable: true },
};

let a: Transport;
let b: Transport;
const received = new Map<string, unknown[]>();

beforeAll(async () => {
  a = await startNode('sender', { channels, limits: { frameBytes: 8192, chunkBytes: 8192 } });
  b = await startNode('receiver', { channels, limits: { frameBytes: 8192, chunkBytes: 8192 } });
  await link(a, b);
  for (const channel of Object.keys(channels)) {
    b.onMessage(channel, ({ payload }) => {
      const { run, key } = payload as { run: number; key: string };
      const id = `${run}/${channel}/${key}`;
      received.set(id, [...(received.get(id) ?? []), payload]);
    });
  }
});
afterAll(closeNodes);

describe('framing over real sockets (property)', () => {
  it('random sizes, channels and keys: intact and in order per key', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            channel: fc.constantFrom('one', 'three', 'sure'),
            key: fc.constantFrom('k1', 'k2', 'k3'),
            size: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 200 }) }, { weight: 1, arbitrary: fc.integer({ min: 8000, max: 60_000 }) }),
          }),
          { minLength: 1, maxLength: 80 },
        ),
        async (messages) => {
          run += 1;
          const expected = new Map<string, unknown[]>();
          messages.forEach(({ channel, key, size }, index) => {
            const payload = { run, key, index, body: 'b'.repeat(size) };
            const id = `${run}/${channel}/${key}`;
            expected.set(id, [...(expected.get(id) ?? []), payload]);
            expect(a.send('receiver', channel, payload, { partitionKey: key })).toBe(true);
          });
          await waitFor(() => [...expected].every(([id, list]) => (received.get(id)?.length ?? 0) >= list.length), 5_000, `run ${run}`);
          for (const [id, list] of expected) expect(received.get(id)).toEqual(list);
        },
      ),
      { numRuns: 15 },
    );
  });
});
