// Sending before a link is up, over two real channels transports on loopback.
import { describe, expect, it } from '@jest/globals';
import { RequestTimeoutError } from '@foundation/channels';
import type { Transport, TransportOptions } from '@foundation/channels';
import { createSimulation } from '@foundation/testkit';
import { loopbackTransports, until } from '../../test/support/loopback';
import { withEagerConnect } from './eager-transport';

const start = loopbackTransports('eager-transport-test-secret');
const node = (name: string, channels?: TransportOptions['channels']): Promise<Transport> => start(name, channels === undefined ? {} : { channels });

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

  it('waits for a link on the clock it was given: the wait ends when that clock reaches the timeout', async () => {
    // It waited on a real setTimeout, so under a virtual clock a request to a peer that never came
    // up still waited out its timeout in real time, whatever the node's clock said.
    const simulation = createSimulation({ seed: 1 });
    const a = await node('a');
    const eager = withEagerConnect(a, { clock: simulation.clock });
    let outcome: unknown = 'waiting';
    // A node id with no address: the link is kept wanted, and never comes up or goes down.
    void eager.request('nowhere', 'data', 'never sent', { timeout: 60_000 }).then(
      (reply) => (outcome = reply),
      (error: unknown) => (outcome = error),
    );

    simulation.runFor(59_999);
    await new Promise((resolve) => setImmediate(resolve));
    expect(outcome).toBe('waiting');
    // Ended by the virtual timer, the wait hands the request to the transport with none of its
    // timeout left, and the transport times it out at once. (The transport's own report that the
    // link is down comes seconds of real time later, and would end the wait with the request
    // refused as unreachable instead.)
    simulation.runFor(1);
    await until('the request to end', () => outcome !== 'waiting');
    expect(outcome).toBeInstanceOf(RequestTimeoutError);
    expect((outcome as RequestTimeoutError).timeoutMs).toBe(0);
  });

  it('takes the time the link took from the request\'s timeout as the clock it was given measures it', async () => {
    const simulation = createSimulation({ seed: 1 });
    const [a, b] = [await node('a'), await node('b')];
    b.onRequest('data', () => new Promise(() => undefined));
    const eager = withEagerConnect(a, { clock: simulation.clock });

    const failure = eager.request(b.nodeId, 'data', 'never answered', { timeout: 1_000 }).catch((error: unknown) => error);
    // The link cannot come up before the sockets have had a turn: 900 ms pass first on the node's clock.
    simulation.runFor(900);
    const outcome = await failure;
    expect(outcome).toBeInstanceOf(RequestTimeoutError);
    expect((outcome as RequestTimeoutError).timeoutMs).toBe(100);
  });

  it('tells the caller which held messages it dropped after the transport refused one as the link came up, and counts them', async () => {
    // The held messages go out in order when the link comes up; a full channel queue refused one,
    // and it and those after it were dropped while the link stayed up, so messages sent from then
    // on reached the peer after a gap. Nothing said which, or that there was a gap at all, so a
    // caller for whom a gap matters could not end the link.
    const channels = { data: { maxQueueMessages: 2 } };
    const [a, b] = [await node('a', channels), await node('b', channels)];
    const received: unknown[] = [];
    b.onMessage('data', (message) => received.push(message.payload));
    const lost: [string, unknown[]][] = [];
    const eager = withEagerConnect(a, { lost: (peer, messages) => lost.push([peer, messages.map((message) => message.payload)]) });
    for (let index = 0; index < 5; index += 1) expect(eager.send(b.nodeId, 'data', index)).toBe(true);
    await until('the accepted ones to arrive', () => received.length === 2);
    expect(received).toEqual([0, 1]);
    expect(lost).toEqual([[b.nodeId, [2, 3, 4]]]);
    expect(eager.droppedWhileConnecting()).toBe(3);
  });
});
