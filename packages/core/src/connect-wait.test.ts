import { describe, expect, it } from '@jest/globals';
import { createConnectWait } from './connect-wait';

/** A transport stand-in: peers in `connected` accept everything unless `refuse` says otherwise. */
function fixture(maxHeldPerPeer = 3) {
  const connected = new Set<string>(['self']);
  const delivered: [string, number][] = [];
  const connects: string[] = [];
  const lost: [string, number[]][] = [];
  let refuse = (_item: number): boolean => false;
  const wait = createConnectWait<number>({
    deliver: (peer, item) => {
      if (!connected.has(peer) || refuse(item)) return false;
      delivered.push([peer, item]);
      return true;
    },
    reachable: (peer) => connected.has(peer),
    connect: (peer) => connects.push(peer),
    lost: (peer, items) => lost.push([peer, [...items]]),
    maxHeldPerPeer,
  });
  return { wait, connected, delivered, connects, lost, setRefuse: (rule: (item: number) => boolean) => (refuse = rule) };
}

describe('createConnectWait', () => {
  it('delivers at once to a connected peer, and refuses what a connected peer refuses', () => {
    const { wait, connected, delivered, connects, setRefuse } = fixture();
    connected.add('b');
    expect(wait.send('b', 1)).toBe(true);
    setRefuse(() => true);
    expect(wait.send('b', 2)).toBe(false);
    expect(delivered).toEqual([['b', 1]]);
    expect(connects).toEqual([]);
    expect(wait.dropped()).toBe(0);
  });

  it('holds for a peer that is not connected, connects once, and sends in order when it comes up', () => {
    const { wait, connected, delivered, connects } = fixture();
    expect([wait.send('b', 1), wait.send('b', 2), wait.send('b', 3)]).toEqual([true, true, true]);
    expect(wait.send('b', 4)).toBe(false); // beyond the bound
    expect(connects).toEqual(['b']);
    expect(delivered).toEqual([]);
    connected.add('b');
    wait.up('b');
    expect(delivered).toEqual([['b', 1], ['b', 2], ['b', 3]]);
    expect(wait.send('b', 5)).toBe(true);
    expect(wait.dropped()).toBe(1);
  });

  it('stops at the first refusal when the peer comes up, and says which items it accepted were lost (review finding)', () => {
    // The items held were accepted (`send` returned true), so their loss must reach the user:
    // dropped in silence, nobody could tell the senders, and the next send went out over the same
    // connection, so the peer received 1 then 4, a gap, which stopping at the refusal was to avoid.
    const { wait, connected, delivered, lost, setRefuse } = fixture();
    for (const item of [1, 2, 3]) wait.send('b', item);
    connected.add('b');
    setRefuse((item) => item === 2);
    wait.up('b');
    expect(delivered).toEqual([['b', 1]]);
    expect(wait.dropped()).toBe(2);
    expect(lost).toEqual([['b', [2, 3]]]);
  });

  it('reports nothing lost when every held item goes out, or when the peer goes down instead', () => {
    const { wait, connected, lost } = fixture();
    wait.send('b', 1);
    connected.add('b');
    wait.up('b');
    wait.send('c', 2);
    wait.down('c');
    expect(lost).toEqual([]);
  });

  it('hands back, in order, the accepted items it drops when the peer goes down instead, so a user can report them', () => {
    // Each of them was accepted (`send` returned true), so its sender took it as sent: dropped
    // unseen, a user could not tell which never went out (process's router must report its
    // messages as dead letters) without making `up` refuse them all to reach them through `lost`.
    const { wait, lost } = fixture();
    for (const item of [1, 2, 3]) wait.send('b', item);
    expect(wait.send('b', 4)).toBe(false); // refused, so not the caller's to report as dropped
    expect(wait.down('b')).toEqual([1, 2, 3]);
    expect(wait.dropped()).toBe(4);
    expect(wait.down('b')).toEqual([]); // nothing held any more
    expect(wait.down('c')).toEqual([]); // nothing ever held
    expect(lost).toEqual([]);
  });

  it('drops what it held when the peer goes down instead, and starts over on the next send', () => {
    const { wait, delivered, connects } = fixture();
    wait.send('b', 1);
    wait.send('b', 2);
    wait.down('b');
    expect(wait.dropped()).toBe(2);
    wait.up('b'); // nothing held any more
    expect(delivered).toEqual([]);
    expect(wait.send('b', 3)).toBe(true);
    expect(connects).toEqual(['b', 'b']);
  });
});
