// The transport's life as production users meet it first, over real sockets on loopback: what
// close() releases and when its promise says so, and what a peer's own close() tells this node.
import { afterEach, describe, expect, it } from '@jest/globals';
import { createTransport, defaultLocalConfig } from '../src/index';
import { SECRET, closeNodes, link, startNode } from './helpers';

afterEach(closeNodes);

describe('close()', () => {
  it('called twice, both promises settle only once the listening port is free: a new transport can listen on it', async () => {
    const a = await startNode('node-a');
    const b = await startNode('node-b');
    await link(a, b);
    const { port } = a.address()!;
    const first = a.close();
    // A second caller (a shutdown hook beside the owner, say) waits for the same close.
    await a.close();
    const successor = createTransport({ nodeId: 'node-a', listen: { host: '127.0.0.1', port }, security: { secret: SECRET }, timing: defaultLocalConfig().timing });
    try {
      await expect(successor.ready()).resolves.toBeUndefined();
    } finally {
      await successor.close();
      await first;
    }
  });
});
