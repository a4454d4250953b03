// Membership over testkit's SimTransport, satisfying the registry's MembershipEvents port: each
// node keeps connections to the next few nodes on a ring (and accepts those of the nodes before
// it); the simulated network's
// failure detection turns a crash, a cut or a partition into `peer-down` on both ends, which
// this reports as `member-leave`, and a reconnection that succeeds as `member-join`. Like a
// real failure detector it is local: only a node's neighbours notice that it left, which is
// why the registry spreads departure records itself.
import type { Random, Scheduler } from '@foundation/core';
import type { SimTransport } from '@foundation/testkit';
import type { LeaveReason, MembershipEvent, MembershipEvents } from '../../src/ports/membership-events';

export interface SimMembership extends MembershipEvents {
  /** Peers this node believes are down. */
  readonly down: ReadonlySet<string>;
}

export function createSimMembership(
  transport: SimTransport,
  clock: Scheduler,
  random: Random,
  everyone: readonly string[],
  options: {
    readonly neighbours?: number;
    readonly reconnectMs?: number;
    /** Which nodes have joined (a node is a member once started); default all. Its count versions the cache. */
    readonly joined?: { has(id: string): boolean; readonly size: number };
  } = {},
): SimMembership {
  const self = transport.nodeId;
  const others = everyone.filter((id) => id !== self);
  // Successors on a ring, fewer than half of the nodes: two nodes never connect to each other at
  // once (testkit keeps two connection objects then, and one side never hears peer-down).
  const position = everyone.indexOf(self);
  const count = Math.min(options.neighbours ?? 3, Math.floor((everyone.length - 1) / 2));
  const watched = new Set(Array.from({ length: count }, (_, offset) => everyone[(position + offset + 1) % everyone.length]!));
  void random;
  const down = new Set<string>();
  const up = new Set<string>();
  let members: readonly string[] | undefined; // cached until `down` or the joined set changes
  let joinedSize = -1;
  const handlers: Record<MembershipEvent, Set<(node: string, reason?: LeaveReason) => void>> = { 'member-join': new Set(), 'member-leave': new Set() };
  const emit = (event: MembershipEvent, node: string, reason?: LeaveReason): void => {
    for (const handler of [...handlers[event]]) handler(node, reason);
  };
  transport.on('peer-down', (peer) => {
    if (down.has(peer)) {
      // A reconnection to a watched peer believed down failed: reported again, as a detector
      // that keeps probing reports each failed probe. The peer may have come back since the
      // first report without this node reconnecting yet (after a partition heals), refuted its
      // departure under a newer incarnation, and died again inside that window; without this
      // second report nobody would declare the newer incarnation departed.
      if (watched.has(peer)) emit('member-leave', peer, 'failed');
      return;
    }
    down.add(peer);
    up.delete(peer);
    members = undefined;
    emit('member-leave', peer, 'failed');
  });
  transport.on('peer-up', (peer) => {
    // A neighbour connecting for the first time, or again after it was declared gone, joined.
    if (up.has(peer)) return;
    up.add(peer);
    down.delete(peer);
    members = undefined;
    emit('member-join', peer);
  });
  for (const peer of watched) transport.connect(peer);
  clock.setRepeatingTimer(options.reconnectMs ?? 1000, () => {
    for (const peer of down) if (watched.has(peer)) transport.connect(peer);
  });
  return {
    down,
    members: () => {
      const joined = options.joined;
      if (joined !== undefined && joined.size !== joinedSize) {
        joinedSize = joined.size;
        members = undefined;
      }
      return (members ??= others.filter((id) => !down.has(id) && (joined === undefined || joined.has(id))));
    },
    on(event, handler) {
      handlers[event].add(handler);
      return () => handlers[event].delete(handler);
    },
  };
}
