// Connection bookkeeping between the membership and its transport, apart from the protocol:
// which peers are connected, messages held while a connection is being set up, connections
// opened for one-off exchanges closed again after they linger unused, and which side opens a
// connection. Neighbours are connected from the side with the smaller node id, so two nodes
// never dial each other at once; the other side connects only when a send fails for want of a
// connection (transports such as @foundation/channels need one to send at all).
import type { PeerTransport, TransportSendOptions } from './transport';

/**
 * A call to the transport that throws is counted once, in the counter of the call (there is no
 * total: add the three).
 */
export interface ConnectionCounters {
  sendRefused: number;
  queuedDropped: number;
  /** Calls to the transport's `send` that threw (each handled as a refused send). */
  sendErrors: number;
  /** Calls to the transport's `connect` that threw (each peer taken as one whose dial failed). */
  connectErrors: number;
  /** Calls to the transport's `disconnect` that threw (nothing more is done). */
  disconnectErrors: number;
  connectionsClosed: number;
}

/** What became of a message handed to the transport. */
type SendOutcome = 'sent' | 'refused' | 'threw';

interface Queued {
  readonly channel: string;
  readonly payload: unknown;
  readonly options: TransportSendOptions | undefined;
}

export class ConnectionManager {
  readonly connected = new Set<string>();
  private readonly dialing = new Map<string, number>();
  private readonly queues = new Map<string, Queued[]>();
  /**
   * When each connected peer was last used. Only connected peers have an entry (`peerUp` sets it,
   * `peerDown` drops it): it is read for them alone, and a one-off send to a peer reached without
   * a connection (as in the simulation) would otherwise leave one behind.
   */
  private readonly lastUse = new Map<string, number>();
  /** Peers this side disconnected, so their `peer-down` is not taken for a failure. */
  private readonly closedByUs = new Set<string>();
  readonly counters: ConnectionCounters = { sendRefused: 0, queuedDropped: 0, sendErrors: 0, connectErrors: 0, disconnectErrors: 0, connectionsClosed: 0 };

  /**
   * `onUnreachable`: the transport threw when asked to connect to `peer`, so no `peer-down` will
   * come for it: the caller takes the peer as one whose dial failed (it is called while this
   * manager still counts the peer as dialled).
   */
  constructor(
    private readonly self: string,
    private readonly transport: PeerTransport,
    private readonly lingerMs: number,
    private readonly maxQueuedPerPeer: number,
    private readonly onUnreachable: (peer: string) => void,
  ) {}

  /** Sends now if the transport accepts it; otherwise holds it and connects. True when it is held for a connection. */
  send(peer: string, channel: string, payload: unknown, options: TransportSendOptions | undefined, now: number, linked: boolean): boolean {
    // Links are never collected, so their use need not be tracked (it is, from the moment they end).
    if (!linked) this.touch(peer, now);
    // A send that threw left nothing on the wire: it is handled as one refused, not as sent (a
    // transport throws for a message it cannot encode, or a peer id it cannot use).
    const outcome = this.trySend(peer, channel, payload, options);
    if (outcome === 'sent') return false;
    if (this.connected.has(peer)) {
      // Connected but refused: a full queue or a stopping transport. Best effort: drop it.
      if (outcome === 'refused') this.counters.sendRefused += 1;
      return false;
    }
    let queue = this.queues.get(peer);
    if (queue === undefined) {
      queue = [];
      this.queues.set(peer, queue);
    }
    if (queue.length >= this.maxQueuedPerPeer) {
      this.counters.queuedDropped += 1;
      return false;
    }
    queue.push({ channel, payload, options });
    this.dial(peer, now);
    return true;
  }

  private trySend(peer: string, channel: string, payload: unknown, options: TransportSendOptions | undefined): SendOutcome {
    try {
      return this.transport.send(peer, channel, payload, options) ? 'sent' : 'refused';
    } catch {
      this.counters.sendErrors += 1;
      return 'threw';
    }
  }

  /** Keeps a connection to a neighbour; only the side with the smaller id dials. */
  ensure(peer: string, now: number): void {
    this.touch(peer, now);
    if (this.connected.has(peer) || this.self > peer) return;
    this.dial(peer, now);
  }

  private dial(peer: string, now: number): void {
    if (this.dialing.has(peer) || this.connected.has(peer)) return;
    this.dialing.set(peer, now);
    this.closedByUs.delete(peer);
    try {
      this.transport.connect(peer);
    } catch {
      // Thrown out of a timer, it was an uncaught exception (channels throws for a ws:// URL it
      // cannot dial, and node ids are any strings a member names), and the rest of the input's
      // effects were lost.
      this.counters.connectErrors += 1;
      this.onUnreachable(peer);
    }
  }

  private release(peer: string): void {
    try {
      this.transport.disconnect(peer);
    } catch {
      this.counters.disconnectErrors += 1;
    }
  }

  touch(peer: string, now: number): void {
    if (this.connected.has(peer)) this.lastUse.set(peer, now);
  }

  peerUp(peer: string, now: number): void {
    this.connected.add(peer);
    this.dialing.delete(peer);
    this.closedByUs.delete(peer);
    this.lastUse.set(peer, now);
    const queue = this.queues.get(peer);
    if (queue === undefined) return;
    this.queues.delete(peer);
    for (const message of queue) {
      if (this.trySend(peer, message.channel, message.payload, message.options) === 'refused') this.counters.sendRefused += 1;
    }
  }

  /** Returns false when this side closed the connection itself (not a failure). */
  peerDown(peer: string): boolean {
    this.connected.delete(peer);
    this.dialing.delete(peer);
    this.lastUse.delete(peer);
    const dropped = this.queues.get(peer)?.length ?? 0;
    if (dropped > 0) this.counters.queuedDropped += dropped;
    this.queues.delete(peer);
    if (this.closedByUs.delete(peer)) return false;
    return true;
  }

  /** Stops (re)connecting to a failed peer. */
  forget(peer: string): void {
    this.queues.delete(peer);
    this.dialing.delete(peer);
    this.lastUse.delete(peer);
    if (!this.connected.has(peer)) this.release(peer);
  }

  /**
   * Closes connections that serve no link and were unused for the linger time; gives up dials
   * that never came up within it.
   */
  collect(now: number, needed: (peer: string) => boolean): void {
    for (const peer of this.connected) {
      if (needed(peer)) continue;
      if (now - (this.lastUse.get(peer) ?? 0) < this.lingerMs) continue;
      this.close(peer);
    }
    for (const [peer, since] of this.dialing) {
      if (needed(peer) || now - since < 4 * this.lingerMs) continue;
      this.dialing.delete(peer);
      this.queues.delete(peer);
      this.release(peer);
    }
  }

  close(peer: string): void {
    this.counters.connectionsClosed += 1;
    this.closedByUs.add(peer);
    this.lastUse.delete(peer);
    this.release(peer);
  }

  /** Closes every connection for good (leave): their peer-downs are no longer listened to, so nothing stays counted. */
  closeAll(): void {
    for (const peer of [...this.connected, ...this.dialing.keys()]) this.close(peer);
    this.connected.clear();
    this.dialing.clear();
    this.closedByUs.clear();
    this.queues.clear();
  }

  /** When `collect` next has something to do (ms), or Infinity. */
  nextCollection(needed: (peer: string) => boolean): number {
    let next = Number.POSITIVE_INFINITY;
    for (const peer of this.connected) {
      if (needed(peer)) continue;
      const due = (this.lastUse.get(peer) ?? 0) + this.lingerMs;
      if (due < next) next = due;
    }
    for (const [peer, since] of this.dialing) if (!needed(peer) && since + 4 * this.lingerMs < next) next = since + 4 * this.lingerMs;
    return next;
  }

  isDialing(peer: string): boolean {
    return this.dialing.has(peer);
  }

  queued(peer: string): number {
    return this.queues.get(peer)?.length ?? 0;
  }
}
