// A small push-gossip broadcast over testkit's SimTransport, satisfying the registry's
// Broadcast port the way Plumtree will: a publication is pushed to `fanout` random members,
// and every node that hears it for the first time pushes it on once (infect-and-die, Demers et
// al. 1987). Best effort: with fanout f a node misses a publication with probability about
// e^-f, which is what the registry's anti-entropy is there to repair.
import type { Random } from '@foundation/core';
import type { SimTransport } from '@foundation/testkit';
import type { Broadcast, BroadcastMessage } from '../../src/ports/broadcast';

const CHANNEL = 'test-gossip';
const SEEN_KEPT = 200_000;

interface Rumor {
  readonly id: string;
  readonly origin: string;
  readonly topic: string;
  readonly hops: number;
  readonly payload: Uint8Array;
}

export interface GossipBroadcast extends Broadcast {
  readonly stats: { published: number; forwarded: number; delivered: number };
}

export function createGossipBroadcast(
  transport: SimTransport,
  members: () => readonly string[],
  random: Random,
  options: { readonly fanout?: number; readonly maxHops?: number } = {},
): GossipBroadcast {
  const fanout = options.fanout ?? 6;
  const maxHops = options.maxHops ?? 30;
  const subscribers = new Map<string, Set<(message: BroadcastMessage) => void>>();
  const seen = new Set<string>();
  const stats = { published: 0, forwarded: 0, delivered: 0 };
  let sequence = 0;

  const push = (rumor: Rumor, except: string | undefined): void => {
    const candidates = members();
    // Distinct random members by rejection: cheap when fanout is small beside the membership.
    const chosen = new Set<string>();
    let attempts = 0;
    while (chosen.size < fanout && attempts < fanout * 4 && candidates.length > 0) {
      attempts += 1;
      const peer = candidates[random.int(0, candidates.length)]!;
      if (peer !== transport.nodeId && peer !== except && peer !== rumor.origin) chosen.add(peer);
    }
    for (const peer of chosen) {
      transport.send(peer, CHANNEL, rumor);
      stats.forwarded += 1;
    }
  };

  const remember = (id: string): void => {
    seen.add(id);
    if (seen.size > SEEN_KEPT) seen.delete(seen.values().next().value!);
  };

  transport.onMessage(CHANNEL, (message) => {
    const rumor = message.payload as Rumor;
    if (seen.has(rumor.id)) return;
    remember(rumor.id);
    for (const handler of subscribers.get(rumor.topic) ?? []) {
      stats.delivered += 1;
      handler({ from: rumor.origin, payload: rumor.payload });
    }
    if (rumor.hops < maxHops) push({ ...rumor, hops: rumor.hops + 1 }, message.from);
  });

  return {
    stats,
    publish(topic, payload) {
      sequence += 1;
      const rumor: Rumor = { id: `${transport.nodeId}:${sequence}`, origin: transport.nodeId, topic, hops: 0, payload };
      remember(rumor.id);
      stats.published += 1;
      push(rumor, undefined);
      return true;
    },
    subscribe(topic, handler) {
      let set = subscribers.get(topic);
      if (set === undefined) {
        set = new Set();
        subscribers.set(topic, set);
      }
      set.add(handler);
      return () => set.delete(handler);
    },
  };
}
