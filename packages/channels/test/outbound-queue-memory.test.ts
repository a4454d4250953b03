// What the outbound queue keeps in memory, checked with a forced GC and WeakRefs (here rather
// than beside the queue in src/core, whose lint rules keep timers out of protocol cores).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from '@jest/globals';
import { createCborCodec } from '../src/core/cbor';
import { createOutboundQueue } from '../src/core/outbound-queue';

const codec = createCborCodec();

describe('outbound queue memory', () => {
  it.each([
    ['best-effort', false],
    ['reliable', true],
  ])('%s lanes keep nothing of a message once it is sent (or acknowledged)', async (_kind, reliable) => {
    // Sent messages used to stay in the queue's arrays until 1,024 more had gone: a lane that
    // went quiet after a few large messages (a bulk transfer, raw payloads sent by reference)
    // kept them for as long as the lane stayed quiet.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const queue = createOutboundQueue({ channel: 0, lane: 0, reliable, monotonic: false, frameBytes: 1024, chunkBytes: 1024 });
    const sent = ((): WeakRef<Uint8Array>[] => {
      const payloads = [new Uint8Array(5000).fill(1), codec.encode({ small: 1 }), codec.encode({ small: 2 })];
      queue.push({ payload: payloads[0]!, raw: true, meta: undefined, key: undefined });
      for (const payload of payloads.slice(1)) queue.push({ payload, raw: false, meta: undefined, key: undefined });
      while (queue.nextFrame(1024) !== undefined);
      if (reliable) expect(queue.acknowledge(queue.lastSeq)).toBe(3);
      return payloads.map((payload) => new WeakRef(payload));
    })();
    expect(queue.queuedMessages + queue.unackedMessages).toBe(0);
    // A WeakRef keeps its target alive until the end of the job that made it.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(sent.map((reference) => reference.deref() === undefined)).toEqual([true, true, true]);
  });
});
