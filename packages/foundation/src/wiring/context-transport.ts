// Request context across nodes: a transport whose messages carry the sender's current context
// as headers (W3C trace context, baggage, correlation id, hop count, deadline), and whose
// handlers run inside the context that arrived. Every subsystem the composition connects over
// it — remote processes, events, registry calls, forwarded Raft proposals — carries context
// without knowing about it. Raft's own replication traffic is left plain: it belongs to no
// request.
import { EMPTY_CONTEXT, currentContext, withContext } from '@foundation/context';
import type { Context } from '@foundation/context';
import type { ContextCarrier } from '@foundation/process';
import type { Propagator } from '@foundation/context';
import type { InboundMessage, RequestHandler, RequestOptions, SendOptions, Transport } from '@foundation/channels';

export interface ContextTransportOptions {
  readonly propagator: Propagator;
  /** Channels whose messages never carry context. Default none. */
  readonly plainChannels?: readonly string[];
}

/** The transport, with context carried on every message and request outside `plainChannels`. */
export function withContextPropagation(transport: Transport, options: ContextTransportOptions): Transport {
  const plain = new Set(options.plainChannels ?? []);
  const { propagator } = options;

  const headersFor = (peer: string, given: Readonly<Record<string, string>> | undefined): Readonly<Record<string, string>> | undefined => {
    const context = currentContext();
    const carrier: Record<string, string> = { ...given };
    propagator.inject(context, carrier, undefined, { peer });
    return Object.keys(carrier).length === 0 ? given : carrier;
  };
  const outgoing = <T extends SendOptions>(peer: string, channel: string, sendOptions: T | undefined): T | undefined => {
    if (plain.has(channel)) return sendOptions;
    const headers = headersFor(peer, sendOptions?.headers);
    // Object.assign, not `{ ...sendOptions, headers }`: see docs/architecture.md (object shapes).
    return headers === undefined ? sendOptions : Object.assign({}, sendOptions, { headers });
  };
  const inside = <R>(message: InboundMessage, run: () => R): R => {
    // No context arrived: the handler runs in none, not in whatever is active where the socket
    // reads (for a link this node dialled, the request that happened to open it).
    if (plain.has(message.channel) || message.headers === undefined) return withContext(EMPTY_CONTEXT, run);
    const context = propagator.extract(message.headers, undefined, { peer: message.from });
    return withContext(context, run);
  };

  const wrapped: Transport = Object.create(transport) as Transport;
  return Object.assign(wrapped, {
    send: (peer: string, channel: string, payload: unknown, sendOptions?: SendOptions) => transport.send(peer, channel, payload, outgoing(peer, channel, sendOptions)),
    sendAsync: (peer: string, channel: string, payload: unknown, sendOptions?: SendOptions) =>
      transport.sendAsync(peer, channel, payload, outgoing(peer, channel, sendOptions)),
    request: (peer: string, channel: string, payload: unknown, requestOptions?: RequestOptions) =>
      transport.request(peer, channel, payload, outgoing(peer, channel, requestOptions)),
    onMessage: (channel: string, handler: (message: InboundMessage) => void) => transport.onMessage(channel, (message) => inside(message, () => handler(message))),
    onRequest: (channel: string, handler: RequestHandler) => transport.onRequest(channel, (message) => inside(message, () => handler(message))),
  });
}

/**
 * The process runtime's carrier for @foundation/context: a message is handled in the context it
 * was sent in (for a message from another node, the context its headers brought).
 */
export function processContextCarrier(): ContextCarrier {
  return {
    capture: () => {
      const context = currentContext();
      return context === EMPTY_CONTEXT ? undefined : context;
    },
    run: (context, fn) => withContext((context as Context | undefined) ?? EMPTY_CONTEXT, fn),
  };
}
