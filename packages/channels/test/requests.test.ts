// Request/reply across the life of links over real sockets on loopback: ids that stay unique
// when a link is replaced, replies that answer nothing, and the bound on queued replies.
import { afterEach, describe, expect, it } from '@jest/globals';
import { createCborCodec } from '../src/core/cbor';
import { writeBlockHeader } from '../src/core/frames';
import { META_KINDS, metaToWire } from '../src/core/meta';
import { closeNodes, link, nextEvent, rawClient, startNode, waitFor } from './helpers';

afterEach(closeNodes);

const codec = createCborCodec();

/** A BLOCK frame on channel 0, lane 0 (best effort) holding one reply to request `id`. */
function replyFrame(id: number, value: unknown): Buffer {
  const header = Buffer.alloc(14);
  const length = writeBlockHeader(header, 0, 0, true, false, 1, 0);
  return Buffer.concat([header.subarray(0, length), codec.encode([[metaToWire({ kind: META_KINDS.reply, id, headers: undefined }), value]])]);
}

/** A promise with its resolve function outside. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

describe('request ids', () => {
  it('a reply held across disconnect and connect does not settle a new request of the new link', async () => {
    // Review finding C2: ids restarted at 1 on every link, so the reply to the old link's
    // request 1, sent late over the new session, answered the new link's request 1.
    const channels = { rpc: {} };
    const a = await startNode('node-a', { channels });
    const b = await startNode('node-b', { channels });
    await link(a, b);
    const firstArrived = deferred<void>();
    const releaseFirst = deferred<string>();
    let firstReplied: Promise<string> | undefined;
    b.onRequest('rpc', ({ payload }) => {
      if (payload === 'first') {
        firstArrived.resolve();
        firstReplied = releaseFirst.promise;
        return firstReplied;
      }
      // Answer the old request first, on the same lane, then this one.
      releaseFirst.resolve('reply to the first request');
      return firstReplied!.then(() => 'reply to the second request');
    });
    const first = a.request('node-b', 'rpc', 'first', { timeout: 5_000 }).catch((error: unknown) => error);
    await firstArrived.promise;
    const downOnA = nextEvent<string>(a, 'peer-down');
    a.disconnect('node-b');
    await downOnA;
    expect(await first).toMatchObject({ name: 'PeerUnavailableError' });
    // b still holds its link (within its grace period) and the pending first request.
    expect(b.stats().peers.find((peer) => peer.peer === 'node-a')?.state).not.toBe('down');
    await link(a, b);
    await expect(a.request('node-b', 'rpc', 'second', { timeout: 2_000 })).resolves.toBe('reply to the second request');
    await waitFor(() => a.stats().channels.rpc!.lateReplies === 1, 2_000, 'the late reply to be counted');
    expect(a.stats().channels.rpc!.unknownReplies).toBe(0);
  });

  it('replies to ids this transport never issued are dropped and counted; the link stays up', async () => {
    const channels = { rpc: {} };
    const node = await startNode('target', { channels });
    const client = await rawClient(node.address()!.url);
    await client.handshake({ nodeId: 'forger', channels });
    await waitFor(() => node.peers().includes('forger'), 2_000, 'the forger to be up');
    client.send(replyFrame(4242, 'not yours'));
    client.send(replyFrame(0, 'nor this'));
    await waitFor(() => node.stats().channels.rpc!.unknownReplies === 2, 2_000, 'the forged replies to be counted');
    expect(node.stats().channels.rpc!.lateReplies).toBe(0);
    expect(node.peers()).toEqual(['forger']);
  });
});
