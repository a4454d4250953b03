// Real channels transports on loopback for the wiring tests, each closed after its test, and a
// wait on a condition over real sockets (never a fixed delay).
import { afterEach } from '@jest/globals';
import { createTransport } from '@foundation/channels';
import type { Transport, TransportOptions } from '@foundation/channels';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startNode } from '../../src/index';
import type { FoundationNode } from '../../src/index';
import { freePort, urlOf } from '../../src/options';

/** Starts transports named `name@127.0.0.1:port` on free ports with `secret`; each is closed after the test that started it. */
export function loopbackTransports(secret: string): (name: string, options?: Partial<TransportOptions>) => Promise<Transport> {
  const started: Transport[] = [];
  afterEach(async () => {
    for (const transport of started.splice(0)) await transport.close();
  });
  return async (name, options = {}) => {
    const port = await freePort('127.0.0.1');
    const transport = createTransport({ nodeId: `${name}@127.0.0.1:${port}`, listen: { host: '127.0.0.1', port }, security: { secret }, resolveAddress: urlOf, ...options });
    await transport.ready();
    started.push(transport);
    return transport;
  };
}

/** Resolves once `condition` holds; throws after `timeoutMs` (10 s) naming `what`. */
export async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > timeoutMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Whether something accepts connections on 127.0.0.1:`port` (the probe's connection is closed at once). */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The cluster secret of the nodes `startVoterAndLearners` starts. */
export const LOOPBACK_SECRET = 'a-test-secret-of-enough-bytes';

/**
 * Starts one node per name on loopback (`name@127.0.0.1:port`, data under `root/name`): the
 * first the only voter, then the others at once, each joining it as a learner. Each node goes
 * into `started` as soon as it is up, for the caller to stop. Resolves with them in name order.
 */
export async function startVoterAndLearners(root: string, names: readonly string[], started: FoundationNode[]): Promise<FoundationNode[]> {
  const ids = await Promise.all(names.map(async (name) => `${name}@127.0.0.1:${await freePort('127.0.0.1')}`));
  const start = async (index: number): Promise<FoundationNode> => {
    const node = await startNode({ name: ids[index]!, secret: LOOPBACK_SECRET, voters: [ids[0]!], seeds: index === 0 ? [] : [ids[0]!], timing: 'local', dataDir: join(root, names[index]!) });
    started.push(node);
    return node;
  };
  const voter = await start(0);
  const learners = await Promise.all(names.slice(1).map((_, offset) => start(offset + 1)));
  return [voter, ...learners];
}
