// A transport that records whom a membership sends to, for tests of the membership's seed
// handling (the transport itself is not under test there).
import type { InboundMessage, PeerTransport } from '../../src/driver/transport';

export function recordingTransport(nodeId: string): PeerTransport & { readonly contacted: Set<string> } {
  const contacted = new Set<string>();
  return {
    nodeId,
    contacted,
    send(peer) {
      contacted.add(peer);
      return true;
    },
    onMessage: (_channel: string, _handler: (message: InboundMessage) => void) => () => undefined,
    on: () => () => undefined,
    connect: () => undefined,
    disconnect: () => undefined,
    peers: () => [],
  };
}
