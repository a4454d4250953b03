// Shared links over two real channels transports on loopback: the membership letting a link go
// must not close it for Raft (the demo's learners stopped hearing from the leader when it did),
// nor Raft letting one go close it for the membership.
import { describe, expect, it } from '@jest/globals';
import type { InboundMessage, Transport } from '@foundation/channels';
import { loopbackTransports, until } from '../../test/support/loopback';
import { shareConnections } from './shared-connections';

// peer-down 200 ms after a link breaks, not the default grace.
const transportFor = loopbackTransports('shared-connections-test-secret');
const node = (name: string): Promise<Transport> => transportFor(name, { timing: { peerDownGraceMs: 200 } });

/** Records the peer events a view reports. */
function heard(view: Transport): string[] {
  const events: string[] = [];
  view.on('peer-up', (peer) => events.push(`up ${peer.split('@')[0]!}`));
  view.on('peer-down', (peer) => events.push(`down ${peer.split('@')[0]!}`));
  return events;
}

describe('shared links', () => {
  it('a link the membership lets go of stays up while Raft wants it; the membership sees it go and come back', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const links = shareConnections(a);
    const membership = links.membership();
    const raft = links.owner('raft');
    const membershipEvents = heard(membership);
    const received: unknown[] = [];
    b.onMessage('data', (message: InboundMessage) => received.push(message.payload));

    membership.connect(b.nodeId);
    raft.connect(b.nodeId);
    await until('the link up', () => a.peers().includes(b.nodeId));
    expect(links.wantedBy(b.nodeId)).toEqual(['membership', 'raft']);
    expect(membershipEvents).toEqual(['up b']);

    membership.disconnect(b.nodeId);
    expect(membershipEvents).toEqual(['up b', 'down b']);
    expect(membership.peers()).toEqual([]);
    expect(membership.send(b.nodeId, 'data', 'from the membership')).toBe(false);
    expect(a.peers()).toEqual([b.nodeId]);
    expect(raft.send(b.nodeId, 'data', 'from raft')).toBe(true);
    await until('raft message delivered', () => received.length === 1);
    expect(received).toEqual(['from raft']);

    // Connecting again finds the link up: the membership hears peer-up without a new connection.
    const accepted = b.stats().acceptedConnections;
    membership.connect(b.nodeId);
    await until('the membership to hear peer-up', () => membershipEvents.length === 3);
    expect(membershipEvents).toEqual(['up b', 'down b', 'up b']);
    expect(membership.peers()).toEqual([b.nodeId]);
    expect(b.stats().acceptedConnections).toBe(accepted);

    // Raft lets go first: the membership still wants it. Then the membership: now it closes.
    raft.disconnect(b.nodeId);
    expect(a.peers()).toEqual([b.nodeId]);
    membership.disconnect(b.nodeId);
    expect(a.peers()).toEqual([]);
    expect(membershipEvents).toEqual(['up b', 'down b', 'up b', 'down b']);
    await until("b's end of the link closed", () => b.stats().openConnections === 0);
    expect(links.wantedBy(b.nodeId)).toEqual([]);
  });

  it('a link the peer dialled is only hidden when the membership lets it go, and its real end is not reported twice', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const links = shareConnections(a);
    const membership = links.membership();
    const membershipEvents = heard(membership);

    b.connect(a.nodeId);
    await until('the link up on both sides', () => a.peers().includes(b.nodeId) && b.peers().includes(a.nodeId));
    await until('the membership to hear it', () => membershipEvents.length === 1);
    membership.disconnect(b.nodeId);
    expect(membershipEvents).toEqual(['up b', 'down b']);
    expect(a.peers()).toEqual([b.nodeId]);
    expect(b.peers()).toEqual([a.nodeId]);

    b.disconnect(a.nodeId);
    await until('a to see the link end', () => a.peers().length === 0);
    // The peer dials again: the membership hears the new link come up.
    b.connect(a.nodeId);
    await until('the membership to hear the new link', () => membershipEvents.length === 3);
    expect(membershipEvents).toEqual(['up b', 'down b', 'up b']);
  });

  it('a part letting go of a link it never wished for leaves it up', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const links = shareConnections(a);
    const membership = links.membership();
    const raft = links.owner('raft');

    b.connect(a.nodeId);
    await until('the link up on both sides', () => a.peers().includes(b.nodeId) && b.peers().includes(a.nodeId));
    raft.disconnect(b.nodeId);
    expect(a.peers()).toEqual([b.nodeId]);
    expect(membership.peers()).toEqual([b.nodeId]);
    expect(links.wantedBy(b.nodeId)).toEqual([]);
  });

  it('a part letting go of a link the peer dialled leaves it up for the membership, which hears nothing, and stops wanting it', async () => {
    // Review finding: Raft connecting to a link the peer dialled and then letting it go (a leader
    // removing a learner) closed the link, which the membership used as a neighbour's without a
    // wish of its own: it took the peer for failed.
    const [a, b] = [await node('a'), await node('b')];
    const links = shareConnections(a);
    const membership = links.membership();
    const raft = links.owner('raft');
    const membershipEvents = heard(membership);

    b.connect(a.nodeId);
    await until('the link up on both sides', () => a.peers().includes(b.nodeId) && b.peers().includes(a.nodeId));
    await until('the membership to hear it', () => membershipEvents.length === 1);
    raft.connect(b.nodeId);
    expect(links.wantedBy(b.nodeId)).toEqual(['raft']);
    raft.disconnect(b.nodeId);
    expect(links.wantedBy(b.nodeId)).toEqual([]);
    expect(a.peers()).toEqual([b.nodeId]);
    // Longer than the grace period: a link closed at either end would have been reported down.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(a.peers()).toEqual([b.nodeId]);
    expect(b.peers()).toEqual([a.nodeId]);
    expect(membership.peers()).toEqual([b.nodeId]);
    expect(membershipEvents).toEqual(['up b']);

    // Nothing here wants it any more: when the peer closes it, this side does not dial it again.
    const accepted = b.stats().acceptedConnections;
    b.disconnect(a.nodeId);
    await until('a to see the link end', () => a.peers().length === 0);
    expect(membershipEvents).toEqual(['up b', 'down b']);
    expect(a.stats().peers.map((peer) => peer.peer)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(b.stats().acceptedConnections).toBe(accepted);
  });

  it('a link this side dialled for a part stays up while the membership uses it, and closes when the membership lets go too', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const links = shareConnections(a);
    const membership = links.membership();
    const raft = links.owner('raft');
    const membershipEvents = heard(membership);

    raft.connect(b.nodeId);
    await until('the membership to hear the link up', () => membershipEvents.length === 1);
    raft.disconnect(b.nodeId);
    expect(a.peers()).toEqual([b.nodeId]);
    expect(membershipEvents).toEqual(['up b']);

    membership.disconnect(b.nodeId);
    expect(a.peers()).toEqual([]);
    expect(membershipEvents).toEqual(['up b', 'down b']);
    await until("b's end of the link closed", () => b.stats().openConnections === 0);
  });

  it('a part wishing for a link the peer dialled dials it once the peer closes it', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const links = shareConnections(a);
    const raft = links.owner('raft');

    b.connect(a.nodeId);
    await until('the link up on both sides', () => a.peers().includes(b.nodeId) && b.peers().includes(a.nodeId));
    raft.connect(b.nodeId);
    const events = heard(a);
    const accepted = b.stats().acceptedConnections;
    b.disconnect(a.nodeId);
    await until('a to dial it again', () => events.length === 2 && b.peers().includes(a.nodeId));
    expect(events).toEqual(['down b', 'up b']);
    expect(b.stats().acceptedConnections).toBeGreaterThan(accepted);
    expect(links.wantedBy(b.nodeId)).toEqual(['raft']);
  });

  it('a link only the membership wanted is closed for real when it lets it go', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const links = shareConnections(a);
    const membership = links.membership();

    membership.connect(b.nodeId);
    await until('the link up', () => a.peers().includes(b.nodeId) && b.peers().includes(a.nodeId));
    membership.disconnect(b.nodeId);
    expect(a.peers()).toEqual([]);
    await until("b's end of the link closed", () => b.stats().openConnections === 0);
  });

  it('a link wished for until down is not redialled after the peer went away; one wished for is', async () => {
    const [a, b, c] = [await node('a'), await node('b'), await node('c')];
    const links = shareConnections(a);
    const eager = links.owner('eager', a, { untilDown: true });
    const raft = links.owner('raft');

    eager.connect(b.nodeId);
    raft.connect(c.nodeId);
    await until('both links up', () => a.peers().length === 2);
    await b.close();
    await c.close();
    await until('both links down', () => a.peers().length === 0);
    // b's link was on demand: forgotten, no longer dialled. c's is still wanted: redialled.
    expect(links.wantedBy(b.nodeId)).toEqual([]);
    expect(a.stats().peers.map((peer) => peer.peer)).toEqual([c.nodeId]);
    expect(links.wantedBy(c.nodeId)).toEqual(['raft']);
  });

  it('another part letting go of a link the membership still holds leaves it up', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const links = shareConnections(a);
    const membership = links.membership();
    const eager = links.owner('eager');

    eager.connect(b.nodeId);
    membership.connect(b.nodeId);
    await until('the link up', () => a.peers().includes(b.nodeId));
    eager.disconnect(b.nodeId);
    expect(a.peers()).toEqual([b.nodeId]);
    expect(membership.peers()).toEqual([b.nodeId]);
    expect(links.wantedBy(b.nodeId)).toEqual(['membership']);
  });

  it.each([
    ['this side dialled', false],
    ['the peer dialled', true],
  ])('breaking a link (%s) ends it for every part and on both sides, and the parts that still wish for it get it back', async (_case, peerDials) => {
    // The process runtime breaks a link after a signal was lost on it, so that both nodes hear
    // noconnection. Released by the processes' part alone, the link stayed up for Raft's and the
    // membership's sake, nobody heard it go, and the runtime refused every later signal to that
    // node while it waited for a nodeDown that never came.
    const [a, b] = [await node('a'), await node('b')];
    const links = shareConnections(a);
    const membership = links.membership();
    const membershipEvents = heard(membership);
    const raft = links.owner('raft');
    const eager = links.owner('eager', a, { untilDown: true });
    const fromB = heard(b);
    if (peerDials) b.connect(a.nodeId);
    else raft.connect(b.nodeId);
    await until('the link up', () => a.peers().includes(b.nodeId) && b.peers().includes(a.nodeId));
    if (peerDials) raft.connect(b.nodeId);
    eager.connect(b.nodeId);
    membership.connect(b.nodeId);

    links.breakLink(b.nodeId);
    expect(a.peers()).toEqual([]);
    expect(links.wantedBy(b.nodeId)).toEqual(['membership', 'raft']);
    await until('b to hear it go', () => fromB.includes('down a'));
    // Wanted still by Raft and the membership: dialled again from this side.
    await until('the link back', () => a.peers().includes(b.nodeId) && b.peers().includes(a.nodeId));
    expect(fromB.slice(0, 3)).toEqual(['up a', 'down a', 'up a']);
    expect(membershipEvents).toEqual(['up b', 'down b', 'up b']);
    expect(links.wantedBy(b.nodeId)).toEqual(['membership', 'raft']);
    expect(a.send(b.nodeId, 'data', 'again')).toBe(true);
  });
});
