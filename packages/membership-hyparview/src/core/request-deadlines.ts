// When a request a peer service sent must be answered, allowing for the connection it waits on.
// The driver holds messages to a peer it is still connecting to (`PeerService.peerConnecting`):
// a loaded peer that accepts slowly is slow, not dead, so a held request gets `connectTimeoutMs`
// more, and its own timeout counts again from the moment the connection is up (`peerUp`).

/** The deadline of a request found waiting for a connection at `now`. */
export function heldRequestDeadline(deadline: number, now: number, timeoutMs: number, connectTimeoutMs: number): number {
  return Math.max(deadline, now + connectTimeoutMs + timeoutMs);
}

/** Deadlines of the requests waiting for an answer, by peer (the full mesh's contacts, client-server's attach and hello). */
export class RequestDeadlines extends Map<string, number> {
  constructor(
    private readonly timeoutMs: number,
    private readonly connectTimeoutMs: number,
  ) {
    super();
  }

  /** A request to `peer` leaves at `now`. */
  start(peer: string, now: number): void {
    this.set(peer, now + this.timeoutMs);
  }

  /** The request to `peer`, if any, waits for a connection being set up. */
  connecting(peer: string, now: number): void {
    const deadline = this.get(peer);
    if (deadline !== undefined) this.set(peer, heldRequestDeadline(deadline, now, this.timeoutMs, this.connectTimeoutMs));
  }

  /** The connection to `peer` came up and what was held for it left. */
  connected(peer: string, now: number): void {
    if (this.has(peer)) this.set(peer, now + this.timeoutMs);
  }
}
