// One channel, many kinds of request: channels allow one request handler per channel, so the
// composition routes requests on its `control` channel by the `kind` they carry.
import { NoResponderError } from '@foundation/channels';
import type { InboundMessage, Transport } from '@foundation/channels';

export type RequestKindHandler = (message: InboundMessage) => unknown;

export interface RequestRouter {
  /** Handles requests whose `kind` starts with `prefix`; returns the function that removes it. */
  handle(prefix: string, handler: RequestKindHandler): () => void;
  close(): void;
}

/**
 * Requests of a kind nothing handles (yet: a node still starting) are answered with channels'
 * NoResponderError, which callers treat as "try elsewhere or later".
 */
export function createRequestRouter(transport: Transport, channel: string): RequestRouter {
  const handlers = new Map<string, RequestKindHandler>();
  const off = transport.onRequest(channel, (message) => {
    const kind = (message.payload as { kind?: unknown } | null)?.kind;
    if (typeof kind === 'string') {
      for (const [prefix, handler] of handlers) if (kind.startsWith(prefix)) return handler(message);
    }
    throw new NoResponderError(transport.nodeId, `${channel} (request kind ${JSON.stringify(kind)})`);
  });
  return {
    handle(prefix, handler) {
      // A function of this call's own, so that its removal removes only what it registered: not
      // a later registration of the prefix (were it even of the same handler).
      const registered: RequestKindHandler = (message) => handler(message);
      handlers.set(prefix, registered);
      return () => {
        if (handlers.get(prefix) === registered) handlers.delete(prefix);
      };
    },
    close: off,
  };
}
