// The Broadcast port, tested the way the composition will use it: a broadcast over testkit's
// simulated network (each node floods to every peer, as a one-hop stand-in for Plumtree), and on
// top of it `emitDistributed` / `subscribeClusterWide` built by composition only, as the
// `foundation` meta-package will build them.
import { describe, expect, it } from '@jest/globals';
import { FoundationError } from '@foundation/core';
import { createSimulation } from '@foundation/testkit';
import type { Simulation, SimTransport } from '@foundation/testkit';
import type { FoundationEvent, NewEventOptions } from '../event';
import { createEventStore } from '../event-store';
import type { EventStore } from '../event-store';
import type { EventFilter } from '../filter';
import { eventMatches } from '../filter';
import type { Broadcast, BroadcastMessage } from './broadcast';
import { EVENTS_TOPIC } from './broadcast';

/** A broadcast that sends every publication to every other node over the simulated transport. */
function createFloodBroadcast(transport: SimTransport, members: readonly string[]): Broadcast {
  return {
    nodeId: transport.nodeId,
    publish(topic, payload) {
      for (const peer of members) if (peer !== transport.nodeId) transport.send(peer, `broadcast:${topic}`, payload);
      return true;
    },
    subscribe(topic, handler) {
      return transport.onMessage(`broadcast:${topic}`, (message) => handler({ from: message.from, payload: message.payload }));
    },
  };
}

/** What the meta-package adds, by composition over the unchanged EventStore and the port. */
function createClusterEvents(store: EventStore, broadcast: Broadcast, report: (error: FoundationError, message: BroadcastMessage) => void) {
  return {
    emitDistributed<Data>(type: string, data: Data, options?: NewEventOptions): FoundationEvent<Data> {
      const event = store.emit(type, data, options);
      broadcast.publish(EVENTS_TOPIC, store.serialize(event));
      return event;
    },
    subscribeClusterWide(filter: EventFilter, handler: (event: FoundationEvent) => void): () => void {
      const local = store.subscribe(filter, handler);
      const seen = new Set<string>();
      const remote = broadcast.subscribe(EVENTS_TOPIC, (message) => {
        let event: FoundationEvent;
        try {
          if (!(message.payload instanceof Uint8Array)) throw new FoundationError({ type: 'invalid_input', message: 'payload is not bytes' });
          event = store.deserialize(message.payload);
        } catch (error) {
          report(FoundationError.from(error), message);
          return;
        }
        const identity = `${event.node}/${event.id}`;
        if (event.node === store.node || seen.has(identity) || !eventMatches(filter, event)) return;
        seen.add(identity);
        handler(event);
      });
      return () => {
        local();
        remote();
      };
    },
  };
}

function cluster(simulation: Simulation, names: readonly string[]) {
  const nodes = new Map<string, { store: EventStore; events: ReturnType<typeof createClusterEvents>; received: FoundationEvent[]; reported: FoundationError[] }>();
  for (const name of names) {
    simulation.addNode(name, {
      start: ({ transport, clock, random }) => {
        const store = createEventStore({ node: name, clock, random });
        const reported: FoundationError[] = [];
        const events = createClusterEvents(store, createFloodBroadcast(transport, names), (error) => reported.push(error));
        const received: FoundationEvent[] = [];
        events.subscribeClusterWide({ types: ['order-placed', 'order-shipped'] }, (event) => received.push(event));
        nodes.set(name, { store, events, received, reported });
      },
    });
  }
  return nodes;
}

describe('Broadcast: emitDistributed and subscribeClusterWide by composition', () => {
  it('delivers an event to matching subscribers on every node, once, with its origin (seed=21)', () => {
    const simulation = createSimulation({ seed: 21, network: { latency: { min: 1, max: 20 }, duplicateRate: 0.2 } });
    const nodes = cluster(simulation, ['a', 'b', 'c']);
    const placed = nodes.get('a')!.events.emitDistributed('order-placed', { order: 1 });
    nodes.get('b')!.events.emitDistributed('payment-taken', { order: 1 }, { correlationId: placed.correlationId });
    nodes.get('c')!.events.emitDistributed('order-shipped', { order: 1 }, { correlationId: placed.correlationId, parentId: placed.id });
    simulation.run();
    const summary = (name: string) => nodes.get(name)!.received.map((event) => `${event.node}:${event.type}`);
    expect(summary('a')).toEqual(['a:order-placed', 'c:order-shipped']);
    // Remote events arrive in latency order, which a best-effort broadcast does not fix.
    expect(summary('b').sort()).toEqual(['a:order-placed', 'c:order-shipped']);
    expect(summary('c').sort()).toEqual(['a:order-placed', 'c:order-shipped']);
    expect(nodes.get('b')!.received.find((event) => event.type === 'order-placed')).toEqual(placed);
    // Each node stored only its own events; remote ones were delivered, not stored.
    expect(nodes.get('b')!.store.stats().currentCount).toBe(1);
  });

  it('loses what a partition drops (best effort), and keeps working after it heals (seed=22)', () => {
    const simulation = createSimulation({ seed: 22 });
    const nodes = cluster(simulation, ['a', 'b', 'c']);
    simulation.network.partition([['a'], ['b', 'c']]);
    nodes.get('a')!.events.emitDistributed('order-placed', { order: 1 });
    simulation.run();
    expect(nodes.get('b')!.received).toEqual([]);
    simulation.network.heal();
    nodes.get('a')!.events.emitDistributed('order-placed', { order: 2 });
    simulation.run();
    expect(nodes.get('b')!.received.map((event) => event.data)).toEqual([{ order: 2 }]);
  });

  it('treats what arrives as hostile: garbage and prototype-reaching payloads are reported, never delivered (seed=23)', () => {
    const simulation = createSimulation({ seed: 23 });
    const nodes = cluster(simulation, ['a', 'b']);
    const transport = simulation.node('a').transport;
    const valid = Buffer.from(nodes.get('a')!.store.serialize(nodes.get('a')!.store.newEvent('order-placed', null))).toString('hex');
    const poisoned = Uint8Array.from(Buffer.from(`${valid.slice(0, -2)}a169${Buffer.from('__proto__').toString('hex')}a0`, 'hex'));
    // A big integer of 160 KB: cbor-x took 14.6 s to decode it (quadratic in its length).
    const bigInteger = Uint8Array.from(Buffer.from(`${valid.slice(0, -2)}c25a00027100${'ff'.repeat(160_000)}`, 'hex'));
    for (const payload of [new Uint8Array([0x9a, 0xff, 0xff, 0xff, 0xff]), 'not bytes', poisoned, new Uint8Array(0), bigInteger]) {
      transport.send('b', `broadcast:${EVENTS_TOPIC}`, payload);
    }
    simulation.run();
    const b = nodes.get('b')!;
    expect(b.received).toEqual([]);
    expect(b.reported.map((error) => error.code)).toEqual([3102, 3204, 5501, 3102, 3102]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
