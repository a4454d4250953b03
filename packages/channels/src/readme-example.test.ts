// The README's example, run as a test so that it stays true: two transports on loopback. What it
// logs is collected here, and the test waits for each arrival instead of a fixed delay.
import { expect, it } from '@jest/globals';
import { createTransport, defaultLocalConfig } from './index';

it('runs the README example', async () => {
  const secret = 'at-least-sixteen-bytes-of-secret';
  const { timing } = defaultLocalConfig();
  const a = createTransport({ nodeId: 'a', listen: { port: 0 }, security: { secret }, timing });
  const b = createTransport({ nodeId: 'b', listen: { port: 0 }, security: { secret }, timing });
  try {
    await Promise.all([a.ready(), b.ready()]);

    const event = new Promise<unknown[]>((resolve) => b.onMessage('events', ({ from, payload, headers }) => resolve([from, payload, headers])));
    const bulk = new Promise<number>((resolve) => b.onMessage('bulk', ({ payload }) => resolve((payload as Uint8Array).byteLength)));
    b.onRequest('coordination', ({ payload }) => ({ echoed: payload }));

    const reply = new Promise<unknown>((resolve, reject) => {
      a.on('peer-up', (peer) => {
        a.send(peer, 'events', { kind: 'joined' }, { headers: { traceparent: '00-…-01' } });
        a.request(peer, 'coordination', 'ping', { timeout: 1_000 }).then(resolve, reject);
        a.send(peer, 'bulk', new Uint8Array(8 * 1024 * 1024)); // chunked, never in front of the request
      });
    });
    a.connect(b.address()!.url);

    expect(await reply).toEqual({ echoed: 'ping' });
    expect(await event).toEqual(['a', { kind: 'joined' }, { traceparent: '00-…-01' }]);
    expect(await bulk).toBe(8 * 1024 * 1024);
  } finally {
    await a.close();
    await b.close();
  }
});
