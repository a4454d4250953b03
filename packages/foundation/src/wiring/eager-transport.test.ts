// Sending before a link is up, over two real channels transports on loopback.
import { afterEach, describe, expect, it } from '@jest/globals';
import { RequestTimeoutError, createTransport } from '@foundation/channels';
import type { Transport } from '@foundation/channels';
import { freePort, urlOf } from '../options';
import { withEagerConnect } from './eager-transport';

const SECRET = 'eager-transport-test-secret';
const started: Transport[] = [];

async function node(name: string): Promise<Transport> {
  const port = await freePort('127.0.0.1');
  const transport = createTransport({ nodeId: `${name}@127.0.0.1:${port}`, listen: { host: '127.0.0.1', port }, security: { secret: SECRET }, resolveAddress: urlOf });
  await transport.ready();
  started.push(transport);
  return transport;
}

afterEach(async () => {
  for (const transport of started.splice(0)) await transport.close();
});

describe('eager connect', () => {
  it('a request to a peer whose link is not up gets what is left of its timeout once the link is, not all of it again', async () => {
    const [a, b] = [await node('a'), await node('b')];
    b.onRequest('data', () => new Promise(() => undefined));
    const eager = withEagerConnect(a);

    const failure = await eager.request(b.nodeId, 'data', 'never answered', { timeout: 3000 }).catch((error: unknown) => error);
    // Sent once the link was up (not refused as unreachable), and timed with the rest of the 3 s.
    expect(failure).toBeInstanceOf(RequestTimeoutError);
    const { timeoutMs } = failure as RequestTimeoutError;
    expect(timeoutMs).toBeGreaterThan(0);
    expect(timeoutMs).toBeLessThan(3000);
  });
});
