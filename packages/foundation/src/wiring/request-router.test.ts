// Routing requests by kind, over a stand-in transport that hands the router's handler requests.
import { describe, expect, it } from '@jest/globals';
import { NoResponderError } from '@foundation/channels';
import type { RequestHandler, Transport } from '@foundation/channels';
import { createRequestRouter } from './request-router';

/** A transport that only takes a request handler, and the way to make it handle a request. */
function standIn(): { transport: Transport; request: (kind: string) => unknown } {
  let handler: RequestHandler | undefined;
  const transport = {
    nodeId: 'a@127.0.0.1:7001',
    onRequest: (_channel: string, given: RequestHandler) => {
      handler = given;
      return () => (handler = undefined);
    },
  } as unknown as Transport;
  return { transport, request: (kind) => handler!({ from: 'b@127.0.0.1:7002', to: transport.nodeId, channel: 'control', payload: { kind }, headers: undefined }) };
}

describe('request router', () => {
  it('removing an older handler of a prefix leaves the newer one there', () => {
    const { transport, request } = standIn();
    const router = createRequestRouter(transport, 'control');
    const removeOlder = router.handle('foundation/', () => 'older');
    const removeNewer = router.handle('foundation/', () => 'newer');
    removeOlder();
    expect(request('foundation/status')).toBe('newer');
    removeNewer();
    expect(() => request('foundation/status')).toThrow(NoResponderError);
  });

  it('so does removing an older registration of the same handler', () => {
    const { transport, request } = standIn();
    const router = createRequestRouter(transport, 'control');
    const handler = (): string => 'handled';
    const removeOlder = router.handle('foundation/', handler);
    router.handle('foundation/', handler);
    removeOlder();
    expect(request('foundation/status')).toBe('handled');
  });
});
