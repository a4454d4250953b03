// Cluster-wide events over a small in-process broadcast between two stores.
import { describe, expect, it } from '@jest/globals';
import type { FoundationError } from '@foundation/core';
import { createEventStore } from '@foundation/events';
import type { Broadcast } from '@foundation/events';
import { createClusterEvents } from './cluster-events';

/** Every node's subscribers hear every publish (the sender's included, as a broadcast does). */
function hub(): (nodeId: string) => Broadcast {
  const subscribers = new Set<{ topic: string; handler: (message: { from: string; payload: unknown }) => void }>();
  return (nodeId) => ({
    nodeId,
    publish(topic, payload) {
      for (const subscriber of subscribers) if (subscriber.topic === topic) subscriber.handler({ from: nodeId, payload });
      return true;
    },
    subscribe(topic, handler) {
      const entry = { topic, handler: handler };
      subscribers.add(entry);
      return () => subscribers.delete(entry);
    },
  });
}

describe('cluster-wide events', () => {
  it('reports a handler that throws or rejects on a remote event, as on a local one (review finding)', async () => {
    // The remote path dropped the handler's result: a rejection became an unhandled rejection,
    // which ends a Node process by default, and a throw went unreported.
    const endpoint = hub();
    const reports: FoundationError[] = [];
    const a = createClusterEvents(createEventStore({ node: 'a' }), endpoint('a'), (error) => reports.push(error));
    const b = createClusterEvents(createEventStore({ node: 'b' }), endpoint('b'), (error) => reports.push(error));
    // An async handler where a void one is declared: the misuse TypeScript lets through, under test.
    // eslint-disable-next-line @typescript-eslint/no-misused-promises
    b.subscribeClusterWide({ type: 'rejects' }, async () => {
      await Promise.resolve();
      throw new Error('async handler failed');
    });
    b.subscribeClusterWide({ type: 'throws' }, () => {
      throw new Error('handler failed');
    });
    a.emitDistributed('rejects', {});
    a.emitDistributed('throws', {});
    await new Promise((resolve) => setImmediate(resolve));
    expect(reports.map((error) => error.message).sort()).toEqual(['async handler failed', 'handler failed']);
  });
});
