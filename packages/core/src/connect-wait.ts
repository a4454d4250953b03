// Sending to a peer before the connection to it is up, as the BEAM allows: the first message
// for a peer that is not connected opens the connection and waits, with those sent after it,
// until the peer comes up; then they go out in order. One implementation for process's
// transport router and foundation's eager transport, which both need it.

export interface ConnectWaitOptions<Item> {
  /** Hands `item` to the transport; false when it is refused (no connection, full queue, closing). */
  readonly deliver: (peer: string, item: Item) => boolean;
  /** Whether a refusal has another cause than a missing connection (the peer is connected, or is this node). */
  readonly reachable: (peer: string) => boolean;
  /** Opens a connection to `peer`; `up` or `down` must follow. */
  readonly connect: (peer: string) => void;
  /**
   * Items `send` accepted (held) that `up` then dropped, in order, after `deliver` refused the
   * first of them. Their senders were told they went, and items sent from now on go out over the
   * same connection, after the gap: a user for whom that matters ends the connection here, so
   * that the peer sees the sequence end rather than skip (process's router does; the BEAM never
   * loses a signal on a connection that stays up).
   */
  readonly lost?: (peer: string, items: readonly Item[]) => void;
  /** Items held per peer while its connection comes up; more are refused. */
  readonly maxHeldPerPeer: number;
}

export interface ConnectWait<Item> {
  /** Delivers `item` now, or holds it and connects; false when it is refused. */
  send(peer: string, item: Item): boolean;
  /**
   * The peer came up: its held items go out in order. After a refusal none of the later ones go
   * either, so that none of them reaches the peer after a gap; `lost` hears of them all.
   */
  up(peer: string): void;
  /**
   * The peer went down (or could not be reached): its held items are dropped, and returned in
   * order (none when nothing was held). `send` accepted each of them, so its sender took it as
   * sent: a user for whom that matters reports them (process's router makes its messages dead
   * letters).
   */
  down(peer: string): readonly Item[];
  /** Items dropped so far: held ones that never went out, and ones refused for a full hold. */
  dropped(): number;
}

export function createConnectWait<Item>(options: ConnectWaitOptions<Item>): ConnectWait<Item> {
  const { deliver, reachable, connect, lost, maxHeldPerPeer } = options;
  /** Items waiting for their peer, in the order they were sent. */
  const held = new Map<string, Item[]>();
  let dropped = 0;
  return {
    send(peer, item) {
      const queue = held.get(peer);
      if (queue !== undefined) {
        if (queue.length >= maxHeldPerPeer) {
          dropped += 1;
          return false;
        }
        queue.push(item);
        return true;
      }
      if (deliver(peer, item)) return true;
      if (reachable(peer)) return false;
      held.set(peer, [item]);
      connect(peer);
      return true;
    },
    up(peer) {
      const queue = held.get(peer);
      if (queue === undefined) return;
      held.delete(peer);
      for (let index = 0; index < queue.length; index += 1) {
        if (deliver(peer, queue[index]!)) continue;
        dropped += queue.length - index;
        lost?.(peer, queue.slice(index));
        return;
      }
    },
    down(peer) {
      const queue = held.get(peer);
      if (queue === undefined) return [];
      held.delete(peer);
      dropped += queue.length;
      return queue;
    },
    dropped: () => dropped,
  };
}
