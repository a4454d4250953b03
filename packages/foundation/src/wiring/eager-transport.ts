// Sending to a node before a link to it is up. A channels transport refuses a message for a peer
// it has no link to; this wrapper opens the link and holds the message (up to a bound per peer)
// until the peer comes up, then sends in order. If the link cannot be made, held messages are
// dropped and counted — as a real network would lose them. Remote process messages need this:
// the first message to a pid on a node this one never talked to must not vanish. A request to
// such a peer waits for its link (within the request's timeout) before it is sent.
import type { RequestOptions, SendOptions, Transport } from '@foundation/channels';

export interface EagerTransportOptions {
  /** Messages held per peer while its link comes up. Default 1,024. */
  readonly maxHeldPerPeer?: number;
}

export interface EagerTransport extends Transport {
  /** Messages dropped because their peer did not come up (or too many were held). */
  droppedWhileConnecting(): number;
}

interface Held {
  readonly channel: string;
  readonly payload: unknown;
  readonly options: SendOptions | undefined;
}

export function withEagerConnect(transport: Transport, options: EagerTransportOptions = {}): EagerTransport {
  const limit = options.maxHeldPerPeer ?? 1024;
  const held = new Map<string, Held[]>();
  let dropped = 0;
  transport.on('peer-up', (peer) => {
    const queue = held.get(peer);
    if (queue === undefined) return;
    held.delete(peer);
    for (const message of queue) if (!transport.send(peer, message.channel, message.payload, message.options)) dropped += 1;
  });
  transport.on('peer-down', (peer) => {
    const queue = held.get(peer);
    if (queue === undefined) return;
    held.delete(peer);
    dropped += queue.length;
  });
  const wrapped = Object.create(transport) as EagerTransport;
  return Object.assign(wrapped, {
    send(peer: string, channel: string, payload: unknown, sendOptions?: SendOptions): boolean {
      const queue = held.get(peer);
      if (queue === undefined && transport.send(peer, channel, payload, sendOptions)) return true;
      if (peer === transport.nodeId || transport.peers().includes(peer)) return false;
      if (queue === undefined) {
        held.set(peer, [{ channel, payload, options: sendOptions }]);
        transport.connect(peer);
        return true;
      }
      if (queue.length >= limit) {
        dropped += 1;
        return false;
      }
      queue.push({ channel, payload, options: sendOptions });
      return true;
    },
    async request(peer: string, channel: string, payload: unknown, requestOptions?: RequestOptions): Promise<unknown> {
      if (peer !== transport.nodeId && !transport.peers().includes(peer)) await linkUp(peer, requestOptions?.timeout ?? 5000);
      return transport.request(peer, channel, payload, requestOptions);
    },
    droppedWhileConnecting: () => dropped,
  });

  /** Connects to `peer` and resolves once it is up (or after `timeoutMs`; the request then fails as it would). */
  function linkUp(peer: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      const offUp = transport.on('peer-up', (up) => {
        if (up === peer) done();
      });
      const offDown = transport.on('peer-down', (down) => {
        if (down === peer) done();
      });
      function done(): void {
        clearTimeout(timer);
        offUp();
        offDown();
        resolve();
      }
      transport.connect(peer);
    });
  }
}
