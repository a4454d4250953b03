// Sending to a node before a link to it is up. A channels transport refuses a message for a peer
// it has no link to; this wrapper opens the link and holds the message (up to a bound per peer)
// until the peer comes up, then sends in order (core's createConnectWait, which process's
// transport router uses too). If the link cannot be made, held messages are dropped and counted —
// as a real network would lose them. If the transport refuses one as they go out (a full channel
// queue), it and the ones after it are dropped and counted too, so that none of them arrives after
// a gap; but the link stays up, and messages sent from then on reach the peer after that gap.
// `lost` says which were dropped so, for a caller to whom a gap matters (it can end the link).
// Remote process messages need the holding: the first message to a pid on a node this one never
// talked to must not vanish. A request to such a peer waits for its link (within the request's
// timeout) before it is sent.
import type { RequestOptions, SendOptions, Transport } from '@foundation/channels';
import { createConnectWait, createSystemClock } from '@foundation/core';
import type { Scheduler } from '@foundation/core';

/** A message held for a peer while its link came up. */
export interface HeldMessage {
  readonly channel: string;
  readonly payload: unknown;
  readonly options: SendOptions | undefined;
}

export interface EagerTransportOptions {
  /** Messages held per peer while its link comes up. Default 1,024. */
  readonly maxHeldPerPeer?: number;
  /**
   * Held messages (`send` returned true for them) dropped, in order, after the transport refused
   * the first of them as the link came up. The link stays up and later messages go out after the
   * gap: a caller that must not skip ends the link here (`disconnect`, or whatever ends it for
   * every part). They are counted in `droppedWhileConnecting` either way.
   */
  readonly lost?: (peer: string, messages: readonly HeldMessage[]) => void;
  /**
   * The clock a request's wait for its link is timed on, and what that wait took measured with:
   * the node's own, so that under a virtual clock the wait ends on virtual time. Default: the
   * real clock, whose timers do not keep the process alive.
   */
  readonly clock?: Scheduler;
}

export interface EagerTransport extends Transport {
  /** Messages dropped because their peer did not come up (or too many were held). */
  droppedWhileConnecting(): number;
}

export function withEagerConnect(transport: Transport, options: EagerTransportOptions = {}): EagerTransport {
  const clock = options.clock ?? createSystemClock({ keepAlive: false });
  /** This node, or a peer whose link is up: nothing to wait for. */
  const linked = (peer: string): boolean => peer === transport.nodeId || transport.peers().includes(peer);
  const waiting = createConnectWait<HeldMessage>({
    deliver: (peer, message) => transport.send(peer, message.channel, message.payload, message.options),
    reachable: linked,
    connect: (peer) => transport.connect(peer),
    ...(options.lost === undefined ? {} : { lost: options.lost }),
    maxHeldPerPeer: options.maxHeldPerPeer ?? 1024,
  });
  transport.on('peer-up', (peer) => waiting.up(peer));
  transport.on('peer-down', (peer) => waiting.down(peer));
  const wrapped = Object.create(transport) as EagerTransport;
  return Object.assign(wrapped, {
    send(peer: string, channel: string, payload: unknown, sendOptions?: SendOptions): boolean {
      return waiting.send(peer, { channel, payload, options: sendOptions });
    },
    async request(peer: string, channel: string, payload: unknown, requestOptions?: RequestOptions): Promise<unknown> {
      if (linked(peer)) return transport.request(peer, channel, payload, requestOptions);
      const timeoutMs = requestOptions?.timeout ?? 5000;
      const waitedFrom = clock.monotonic();
      await linkUp(peer, timeoutMs);
      // One timeout for the whole request: what the link took is not there again for the reply.
      // One the transport refuses (negative, NaN) goes on as given, to be refused.
      const left = timeoutMs >= 0 ? Math.max(0, Math.floor(timeoutMs - (clock.monotonic() - waitedFrom))) : timeoutMs;
      return transport.request(peer, channel, payload, Object.assign({}, requestOptions, { timeout: left }));
    },
    droppedWhileConnecting: () => waiting.dropped(),
  });

  /** Connects to `peer` and resolves once it is up (or after `timeoutMs`; the request then fails as it would). */
  function linkUp(peer: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      // A timeout the transport refuses (negative, NaN) ends the wait at once: the request then fails as it would.
      const timer = clock.setTimer(timeoutMs >= 0 ? timeoutMs : 0, done);
      const offUp = transport.on('peer-up', (up) => {
        if (up === peer) done();
      });
      const offDown = transport.on('peer-down', (down) => {
        if (down === peer) done();
      });
      function done(): void {
        timer.cancel();
        offUp();
        offDown();
        resolve();
      }
      transport.connect(peer);
    });
  }
}
