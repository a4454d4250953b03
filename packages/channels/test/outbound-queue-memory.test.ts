// What the outbound queue keeps in memory, checked with a forced GC and WeakRefs (here rather
// than beside the queue in src/core, whose lint rules keep timers out of protocol cores).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from '@jest/globals';
import { createCborCodec } from '../src/core/cbor';
import { createOutboundQueue } from '../src/core/outbound-queue';
import type { QueuedRequest } from '../src/core/outbound-queue';

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

  it.each([
    ['best-effort', false],
    ['reliable', true],
  ])('on %s lanes, a request held for its timeout keeps nothing of its bytes once sent (or acknowledged) or cancelled', async (_kind, reliable) => {
    // The link keeps each request's handle until the request settles, to take it back at its
    // timeout if it is still queued; the handle must not keep the payload alive after that.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const queue = createOutboundQueue({ channel: 0, lane: 0, reliable, monotonic: false, frameBytes: 1024, chunkBytes: 1024 });
    const held: QueuedRequest[] = [];
    const payloads = ((): WeakRef<Uint8Array>[] => {
      const sent = [new Uint8Array(5000).fill(1), codec.encode({ small: 1 })];
      for (const payload of sent) held.push(queue.pushRequest({ payload, raw: payload.length > 1000, meta: undefined, key: undefined }));
      while (queue.nextFrame(1024) !== undefined);
      if (reliable) expect(queue.acknowledge(queue.lastSeq)).toBe(2);
      const cancelled = new Uint8Array(5000).fill(2);
      held.push(queue.pushRequest({ payload: cancelled, raw: true, meta: undefined, key: undefined }));
      expect(queue.cancel(held[2]!)).toBe(true);
      return [...sent, cancelled].map((payload) => new WeakRef(payload));
    })();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(held).toHaveLength(3);
    expect(payloads.map((reference) => reference.deref() === undefined)).toEqual([true, true, true]);
  });
});
