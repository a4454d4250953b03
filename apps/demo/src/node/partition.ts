// The demo's partition, on loopback and without network namespaces or firewall rules: every
// node refuses the cluster links that cross the cut. The partitioned node closes its links to
// every other node, and every other node closes its links to it; a link that comes up again
// across the cut (a reconnection by either side) is closed as soon as it reports up. When the
// cut ends, each side asks its transport for the links again and membership, Raft and the
// registry heal by themselves.
//
// What it is not: packets are not dropped by the kernel. A message queued in the instant a
// reconnection comes up, before it is closed again, can cross; the HTTP API of the partitioned
// node keeps answering (only the cluster's transport is cut), which is how its own dashboard
// shows it alone.
import type { FoundationNode } from 'foundation';
import type { Lifecycle, RosterEntry } from '../protocol';

export interface PartitionGuard {
  /** Applies the partitions the orchestrator announced (each node's `partitionedUntil`). */
  update(nodes: readonly Lifecycle[]): void;
  /** Node ids this node refuses links with now. */
  cutOff(): string[];
  close(): void;
}

type Transport = Pick<FoundationNode['transport'], 'connect' | 'disconnect' | 'peers' | 'on'>;

export function createPartitionGuard(transport: Transport, self: RosterEntry, roster: readonly RosterEntry[], now: () => number = Date.now): PartitionGuard {
  const others = roster.filter((entry) => entry.id !== self.id);
  /** Peer id → wall-clock ms until which links with it are refused. */
  const cuts = new Map<string, number>();
  let healTimer: NodeJS.Timeout | null = null;

  const blocked = (peer: string): boolean => (cuts.get(peer) ?? 0) > now();
  const offPeerUp = transport.on('peer-up', (peer: string) => {
    if (blocked(peer)) transport.disconnect(peer);
  });

  function heal(): void {
    healTimer = null;
    const at = now();
    for (const [peer, until] of cuts) {
      if (until > at) continue;
      cuts.delete(peer);
      transport.connect(peer);
    }
    schedule();
  }

  function schedule(): void {
    if (healTimer !== null) clearTimeout(healTimer);
    healTimer = null;
    if (cuts.size === 0) return;
    const next = Math.min(...cuts.values());
    healTimer = setTimeout(heal, Math.max(0, next - now()));
    healTimer.unref();
  }

  return {
    update(nodes) {
      const at = now();
      const wanted = new Map<string, number>();
      const mine = nodes.find((node) => node.name === self.name)?.partitionedUntil ?? null;
      for (const entry of others) {
        const theirs = nodes.find((node) => node.name === entry.name)?.partitionedUntil ?? null;
        const until = Math.max(mine ?? 0, theirs ?? 0);
        if (until > at) wanted.set(entry.id, until);
      }
      for (const [peer, until] of wanted) {
        const known = cuts.get(peer);
        cuts.set(peer, until);
        if (known === undefined || known <= at) transport.disconnect(peer);
      }
      schedule();
    },
    cutOff: () => [...cuts.keys()].filter(blocked),
    close() {
      offPeerUp();
      if (healTimer !== null) clearTimeout(healTimer);
      healTimer = null;
    },
  };
}
